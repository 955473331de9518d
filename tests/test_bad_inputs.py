"""The bad-input corpus: every file is refused with exit 2, its code, location and a clear message."""

import csv
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from mergetool.cli import cli

CORPUS = Path(__file__).parent / "bad_inputs"
with (CORPUS / "cases.csv").open(encoding="utf-8") as _fh:
    CASES = list(csv.DictReader(_fh))


def test_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    def bad_file(args: list[str]) -> str:
        for flag in ("--mappings", "--weights"):
            if flag in args:
                return args[args.index(flag) + 1]
        return args[args.index("rebase") + 1]

    files = {bad_file(shlex.split(c["args"])) for c in CASES}
    assert len(files) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bad_input_is_refused_clearly(case: dict, tmp_path: Path) -> None:
    args = shlex.split(case["args"].format(d=CORPUS, out=tmp_path / "out.csv"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if f"[{case['code']}]" in line]
    assert lines, result.output
    if case["row"]:
        lines = [line for line in lines if f"row {case['row']}" in line]
    if case["column"]:
        lines = [line for line in lines if f"column '{case['column']}'" in line]
    assert any(case["fragment"] in line for line in lines), result.output
    assert not (tmp_path / "out.csv").exists()


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
