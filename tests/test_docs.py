"""README and CI must not drift: the test command is the same in both."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_gives_exactly_two_setup_commands() -> None:
    """"Set up and run" holds exactly two commands, each one line to paste on a fresh machine:
    a new venv, an install from the clone, then the main job (``mergetool build``) or the tests."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Set up and run\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)
    assert len(blocks) == 2, blocks
    assert _readme_commands()[:2] == blocks  # the commands the other tests read are these
    main, tests = (block.split(" && ") for block in blocks)
    for steps in (main, tests):
        assert "\n" not in " && ".join(steps)
        assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert main[2] == "pip install ."
    assert main[-1].split()[:2] == ["mergetool", "build"]
    assert tests[2] == 'pip install ".[test]"'
    assert tests[-1].split()[0] == "pytest"


def test_readme_test_command_type_checks() -> None:
    # mypy, configured in pyproject.toml ([tool.mypy]), runs between the linter and the tests.
    steps = [s.strip() for s in _readme_commands()[1].split("&&")]
    assert steps.index("ruff check .") < steps.index("mypy") < steps.index("pytest -q")


def test_ci_runs_the_readme_test_command() -> None:
    tests = _readme_commands()[1]
    steps = [s.strip() for s in tests.split("&&")]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    # Every step of the README command appears in CI, in order (CI adds a pip upgrade and quiet flags).
    positions = []
    for step in steps:
        words = step.split()
        hit = next(i for i, line in enumerate(ci_lines)
                   if all(w in line.split() for w in words if w not in ("pip",)))
        positions.append(hit)
    assert positions == sorted(positions)


def test_readme_library_example_runs(capsys) -> None:
    """The example runs and shows what its comments promise: Đà Nẵng's row of the comparable table,
    and recomputed values equal to the published ones (Đà Nẵng 2024: the mean of 48 and 49)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.+?)\n```", text, flags=re.S)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    shown = capsys.readouterr().out
    assert "Đà Nẵng" in shown
    assert "0.7069" in shown
    comp = ns["result"].comparable
    assert set(comp["code"]) == set(ns["ms"].bases["vn-province-2025"].codes)
    matches = ns["check"].rows.filter(ns["check"].rows["verdict"] == "match")
    assert (matches["recomputed"] == matches["published"]).all()
    assert ("48", 0.7069) in matches.select("code", "published").rows()
