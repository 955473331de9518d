"""The type checker's escape hatch stays narrow: every ``type: ignore`` names its error code and
says why (mypy itself, run by the README test command, fails on one that is no longer needed)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = re.compile(r"#\s*type:\s*ignore")
WITH_REASON = re.compile(r"# type: ignore\[[a-z-]+(?:, [a-z-]+)*\]  # \S")


def test_every_type_ignore_names_its_code_and_a_reason() -> None:
    bare = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in sorted((ROOT / "mergetool").rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if IGNORE.search(line) and not WITH_REASON.search(line)]
    assert bare == []


def test_the_check_tells_a_bare_ignore_from_a_reasoned_one() -> None:
    assert not WITH_REASON.search("x = f()  # type: ignore")
    assert not WITH_REASON.search("x = f()  # type: ignore[arg-type]")
    assert WITH_REASON.search("x = f()  # type: ignore[arg-type]  # stubs: win32 only")
