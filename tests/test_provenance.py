import json
import re
import time
from pathlib import Path

from click.testing import CliRunner

from mergetool.cli import cli
from mergetool.outputs.files import BUILD_OUTPUTS


def _build(out: Path, *extra: str):
    """A build of the shipped record; its checks fail (the record is partial), so exit 1 is expected
    by default: these tests are about the outputs and ask for exit 0 regardless."""
    return CliRunner().invoke(cli, ["build", "--out", str(out), "--fail-on", "never", *extra])


def test_build_exits_1_when_checks_fail_and_still_writes_outputs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("exit 1:")
    assert "same-unit-set" in last
    assert "complete-coverage" in last
    assert all((tmp_path / name).exists() for name in BUILD_OUTPUTS)


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    assert _build(tmp_path / "a").exit_code == 0
    assert _build(tmp_path / "b").exit_code == 0
    for name in BUILD_OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_manifest_names_inputs_mapping_and_outputs(tmp_path: Path) -> None:
    assert _build(tmp_path).exit_code == 0
    m = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert m["mappings"]["version"] == "2025.2"
    assert "transitions/vn-merger-2025.csv" in m["mappings"]["files"]
    assert {i["path"] for i in m["inputs"]} >= {"shipped:dti_record.csv"}
    assert m["options"]["methods"] == {"*": "mean"}
    assert [o["path"] for o in m["outputs"]] == [
        "comparable.csv", "comparable.xlsx", "checks.csv", "audit.csv", "report.html"]
    # No clock reading anywhere (outputs must be byte-identical for identical inputs): the manifest
    # holds only these keys, no value looks like a date, a time of day or epoch seconds, and a
    # build made later writes the very same manifest bytes.
    assert list(m) == ["tool", "tool_version", "command", "mappings", "inputs", "options", "outputs"]
    leaves = list(_leaves(m))
    assert [v for v in leaves if isinstance(v, str)
            and re.search(r"\d{4}-\d{2}-\d{2}|\d{8}T|\b\d{1,2}:\d{2}\b|seconds", v)] == []
    assert [v for v in leaves if isinstance(v, int | float) and not isinstance(v, bool)
            and v > 10**8] == []
    assert time.strftime("%Y-%m-%d") not in json.dumps(m)
    assert _build(tmp_path / "later").exit_code == 0
    assert (tmp_path / "later" / "manifest.json").read_bytes() == \
        (tmp_path / "manifest.json").read_bytes()


def _leaves(value: object):
    """Every scalar of a JSON value, keys included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_manifest_check_detects_a_changed_output(tmp_path: Path) -> None:
    assert _build(tmp_path).exit_code == 0
    ok = CliRunner().invoke(cli, ["manifest", "check", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    with open(tmp_path / "comparable.csv", "a", encoding="utf-8") as fh:
        fh.write("tampered\n")
    bad = CliRunner().invoke(cli, ["manifest", "check", str(tmp_path)])
    assert bad.exit_code == 1
    assert "changed" in bad.output


def test_build_twice_rebuilds_its_own_directory_in_place(tmp_path: Path) -> None:
    """Issue 11 daily loop: the README's main command run twice works (it used to refuse)."""
    assert _build(tmp_path).exit_code == 0
    before = {n: (tmp_path / n).read_bytes() for n in BUILD_OUTPUTS}
    again = _build(tmp_path)
    assert again.exit_code == 0, again.output
    assert {n: (tmp_path / n).read_bytes() for n in BUILD_OUTPUTS} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BUILD_OUTPUTS)


def test_build_refuses_to_overwrite_a_file_mergetool_did_not_write(tmp_path: Path) -> None:
    assert _build(tmp_path).exit_code == 0
    (tmp_path / "comparable.csv").write_text("my own edits\n", encoding="utf-8")
    again = _build(tmp_path)
    assert again.exit_code == 2
    assert "output-exists" in again.output
    assert "changed since mergetool wrote it" in again.output
    assert (tmp_path / "comparable.csv").read_text(encoding="utf-8") == "my own edits\n"
    assert _build(tmp_path, "--force").exit_code == 0
    assert (tmp_path / "comparable.csv").read_text(encoding="utf-8") != "my own edits\n"


def test_interrupted_write_keeps_the_old_output(tmp_path: Path, monkeypatch) -> None:
    import polars as pl

    from mergetool.io.tables import write_csv_atomic

    target = tmp_path / "x.csv"
    target.write_text("old\n", encoding="utf-8")

    def boom(self, path, *a, **k):
        Path(path).write_text("partial", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", boom)
    try:
        write_csv_atomic(target, pl.DataFrame({"a": [1]}))
    except RuntimeError:
        pass
    else:
        raise AssertionError("the writer did not fail")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_input_labels_do_not_depend_on_where_the_files_lie(tmp_path: Path) -> None:
    from mergetool.core.provenance import input_labels

    for root in (tmp_path / "a", tmp_path / "b" / "deeper"):
        one, two = str(root / "2023" / "scores.csv"), str(root / "2024" / "scores.csv")
        labels = input_labels([one, two, "shipped:dti_record.csv", "<memory>"])
        assert labels == {one: "2023/scores.csv", two: "2024/scores.csv",  # distinct, as placed
                          "shipped:dti_record.csv": "shipped:dti_record.csv", "<memory>": "<memory>"}
        assert input_labels([one]) == {one: "scores.csv"}
    assert input_labels([]) == {}
