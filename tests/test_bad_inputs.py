"""The bad-input corpus: every case gets its documented exit code, problem code, location and
message, never a traceback; a case that must succeed writes exactly the expected value.

Cases are listed in ``bad_inputs/cases*.csv`` (``case, args, code, row, column, fragment`` and,
optionally, ``exit`` (default 2) and ``class``, the issue-11 class it belongs to). ``{d}`` is
the committed corpus directory, ``{g}`` the files :mod:`bad_inputs.generate` writes, ``{out}`` an
output file and ``{outdir}`` an output directory. ``code`` ``usage`` is a command-line usage error
(click's own message, no problem record).
"""

import csv
import shlex
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from mergetool.cli import cli

CORPUS = Path(__file__).parent / "bad_inputs"
sys.path.insert(0, str(CORPUS))
from generate import write_corpus  # noqa: E402

CASES = []
for _path in sorted(CORPUS.glob("cases*.csv")):
    with _path.open(encoding="utf-8") as _fh:
        CASES += [c | {"exit": c.get("exit") or "2", "class": c.get("class") or "base",
                       "listing": _path.name} for c in csv.DictReader(_fh)]


class _Fields(dict):
    """Placeholders of a case's args; an unknown one is a path in the case's temporary dir."""

    def __init__(self, tmp: Path, **known: object) -> None:
        super().__init__(known)
        self.tmp = tmp

    def __missing__(self, key: str) -> str:
        return str(self.tmp / key)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("generated"))


def test_corpus_is_large_distinct_and_covers_every_class() -> None:
    assert len(CASES) >= 150
    for listing in {c["listing"] for c in CASES}:
        names = [c["case"] for c in CASES if c["listing"] == listing]
        assert len(set(names)) == len(names), listing
    per_class = Counter(c["class"] for c in CASES)
    for cls in ("1", "2", "3", "4", "6", "7", "8", "9", "10"):
        assert per_class[cls] >= 3, (cls, per_class)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bad_input_is_refused_clearly(case: dict, tmp_path: Path, generated: Path) -> None:
    out = tmp_path / "out.csv"
    args = shlex.split(case["args"].format_map(_Fields(tmp_path, d=CORPUS, g=generated, out=out,
                                                       outdir=tmp_path / "build")))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == int(case["exit"]), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if case["exit"] == "0":
        if case["fragment"]:
            table = tmp_path / "build" / "comparable.csv"
            written = (out.read_text(encoding="utf-8") if out.exists() else
                       table.read_text(encoding="utf-8") if table.exists() else result.output)
            assert case["fragment"] in written, written[:2000]
        return
    if case["code"] == "usage":
        assert case["fragment"] in result.output, result.output
        assert not out.exists()
        return
    lines = [line for line in result.output.splitlines() if f"[{case['code']}]" in line]
    assert lines, result.output
    if case["row"]:
        lines = [line for line in lines if f"row {case['row']}," in line or
                 line.rstrip().endswith(f"row {case['row']}") or f"row {case['row']}:" in line]
    if case["column"]:
        lines = [line for line in lines if f"column '{case['column']}'" in line]
    assert any(case["fragment"] in line for line in lines), result.output
    if case["exit"] == "2":
        assert not out.exists()


def test_four_faults_are_reported_in_one_run(generated: Path, tmp_path: Path) -> None:
    """Fixing a file takes one pass: every fault is listed, a duplicate once."""
    result = CliRunner().invoke(cli, ["rebase", str(generated / "c10_four_faults.csv"), "--from",
                                      "vn-province-2025", "--to", "vn-province-2025", "-o",
                                      str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    codes = sorted(code for code in ("bad-year", "bad-number", "unknown-unit", "duplicate-row")
                   for line in result.output.splitlines() if f"[{code}]" in line)
    assert codes == ["bad-number", "bad-year", "duplicate-row", "unknown-unit"]


def test_debug_shows_the_traceback() -> None:
    result = CliRunner().invoke(cli, ["--debug", "rebase", str(CORPUS / "empty.csv"), "--to",
                                      "vn-province-2025", "-o", "/dev/null"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "InputError"


def test_brackets_in_messages_print_as_written() -> None:
    """Messages are data: "[[transition]]" must not be swallowed as terminal markup."""
    result = CliRunner().invoke(cli, ["--mappings", str(CORPUS / "mapping_missing_transition_file"),
                                      "mappings", "check"])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "[[transition]] file names a file that does not exist"


def test_every_problem_code_is_documented() -> None:
    from mergetool.errors import PROBLEM_CODES

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert [c for c in PROBLEM_CODES if f"`{c}`" not in readme] == []


def test_a_chain_of_transitions_builds_the_same_tables(generated: Path, shipped) -> None:
    """build composes 2024 -> 2024b -> 2025 into one step: the same numbers as the direct step."""
    from polars.testing import assert_frame_equal

    from mergetool.core.mapping import load_mappings
    from mergetool.dti.comparable import gather_scores
    from mergetool.dti.pipeline import build

    chain = load_mappings(generated / "c8_multi_step")
    assert chain.valid
    direct = build(gather_scores(shipped), shipped).comparable
    assert_frame_equal(build(gather_scores(chain), chain).comparable, direct)
