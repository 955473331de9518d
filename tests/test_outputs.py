"""The output side: one run writes one consistent set, portably named, never over an input, another
output or a file mergetool did not write; every way a write can fail is one clear line with exit 2
(or 1 where the verdict is "problems found"), and nothing partial or temporary is left behind."""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.cli import cli
from mergetool.core.mapping import load_mappings
from mergetool.core.rebase import AUDIT_SCHEMA
from mergetool.errors import PROBLEM_CODES
from mergetool.io import tables
from mergetool.outputs.files import BUILD_OUTPUTS

CORPUS = Path(__file__).parent / "bad_inputs"
with (CORPUS / "cases_outputs.csv").open(encoding="utf-8") as _fh:
    CASES = list(csv.DictReader(_fh))

DTI_63 = "year,unit,dti\n2024,TP. Đà Nẵng,0.8335\n2024,Quảng Nam,0.5803\n2024,Hà Nội,0.8241\n"
SCORES = "year,code,dti\n2024,48,0.8335\n2024,49,0.5803\n"
NEW_CODES = ("bad-manifest", "output-clash", "output-format", "output-locked", "output-unwritable")


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def leftovers(root: Path) -> list[str]:
    """Temporary or staging files anywhere under ``root`` (a failed or finished run leaves none)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.name.startswith((".mergetool", ".")) and (p.name.endswith(".tmp")
                                                                 or tables.STAGING_PREFIX in p.name
                                                                 or p.name == tables.LOCK_NAME))


def assert_refused(result, code: str, fragment: str, exit_code: int = 2) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if f"[{code}]" in line]
    assert any(fragment in line for line in lines), result.output


def build(out: Path, *extra: object):
    return run("build", "--out", out, "--fail-on", "never", *extra)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One shipped build, copied by tests that change it."""
    out = tmp_path_factory.mktemp("built") / "out"
    assert build(out).exit_code == 0
    return out


def copy_of(built: Path, dest: Path) -> Path:
    shutil.copytree(built, dest)
    return dest


def test_new_problem_codes_are_registered_and_explained_in_the_readme() -> None:
    """A user who sees one of these codes finds its meaning in the README's table, worded as the
    registry words it (not merely a code that exists somewhere)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for code in (*NEW_CODES, "output-is-input"):
        assert PROBLEM_CODES.get(code), code
        assert f"| `{code}` | {PROBLEM_CODES[code]} |" in readme, code


# --- the corpus rows (CLI cases) --------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_output_case_is_refused_clearly(case: dict, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in CORPUS.rglob("*") if p.is_file()}
    args = shlex.split(case["args"].format(d=CORPUS, out=tmp_path / "out.csv"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if f"[{case['code']}]" in line]
    assert lines, result.output
    if case["row"]:
        lines = [line for line in lines if f"row {case['row']}" in line]
    if case["column"]:
        lines = [line for line in lines if f"column '{case['column']}'" in line]
    assert any(case["fragment"] in line for line in lines), result.output
    assert list(tmp_path.iterdir()) == []
    assert {p: p.read_bytes() for p in CORPUS.rglob("*") if p.is_file()} == before


def test_corpus_rows_cover_every_output_class() -> None:
    codes = [c["code"] for c in CASES]
    for code in ("output-format", "output-clash", "output-is-input", "output-unwritable"):
        assert codes.count(code) >= 3, code


# --- A. one build is one consistent set ---------------------------------------------------------

def test_same_inputs_in_two_places_give_byte_identical_outputs(tmp_path: Path) -> None:
    shipped = Path(load_mappings().root)
    for place in ("a", "b/deeper/still"):
        root = tmp_path / place
        root.mkdir(parents=True)
        # a rank of the user's and a value published otherwise: both are cited in the checks
        (root / "dti_2024_63.csv").write_text("year,code,dti,rank\n2024,48,0.8335,\n"
                                              "2024,49,0.5803,5\n2022,84,0.6100,\n", encoding="utf-8")
        shutil.copytree(shipped, root / "maps")
        r = run("--mappings", root / "maps", "build", "--scores", root / "dti_2024_63.csv",
                "--basis", "vn-province-2024", "--out", root / "out", "--fail-on", "never")
        assert r.exit_code == 0, r.output
    a, b = tmp_path / "a" / "out", tmp_path / "b/deeper/still" / "out"
    for name in BUILD_OUTPUTS:
        data = (a / name).read_bytes()
        assert data == (b / name).read_bytes(), name
        assert str(tmp_path).encode() not in data, name  # no absolute machine path anywhere
    checks = (a / "checks.csv").read_text(encoding="utf-8")
    assert "dti_2024_63.csv row 3" in checks
    assert "(dti_2024_63.csv row 4)" in checks
    m = json.loads((a / "manifest.json").read_text(encoding="utf-8"))
    assert m["inputs"][0]["path"] == "../dti_2024_63.csv"
    assert m["mappings"]["root"] == "../maps"
    assert run("manifest", "check", b).exit_code == 0


LAYOUTS = {
    "rebase": (["rebase", "data/dti.csv", "--to", "vn-province-2025", "-o", "results/x.parquet",
                "--audit", "results/a.xlsx"],
               ["results/x.parquet", "results/a.xlsx", "results/x.parquet.manifest.json"]),
    "verify": (["verify", "--published", "data/pub.csv", "--predecessors", "data/dti.csv",
                "--published-basis", "vn-province-2025", "--predecessors-basis", "vn-province-2024",
                "-o", "results/deeper/v.csv"],
               ["results/deeper/v.csv", "results/deeper/v.csv.manifest.json"]),
    "template": (["template", "--units", "34", "-o", "results/t.xlsx"], ["results/t.xlsx"]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_single_file_outputs_are_byte_identical_in_two_places(tmp_path: Path, layout: str,
                                                             monkeypatch) -> None:
    command, outputs = LAYOUTS[layout]
    for place in ("one", "two/levels"):
        root = tmp_path / place
        (root / "data").mkdir(parents=True)
        (root / "data" / "dti.csv").write_text(DTI_63, encoding="utf-8")
        (root / "data" / "pub.csv").write_text("year,code,dti\n2024,48,0.7069\n", encoding="utf-8")
        monkeypatch.chdir(root)
        r = run(*command)
        assert r.exit_code == 0, r.output
    for name in outputs:
        data = (tmp_path / "one" / name).read_bytes()
        assert data == (tmp_path / "two/levels" / name).read_bytes(), name
        assert str(tmp_path).encode() not in data, name
    if layout != "template":
        m = json.loads((tmp_path / "one" / outputs[-1]).read_text(encoding="utf-8"))
        assert all(e["path"].startswith("../") for e in m["inputs"])
        assert run("manifest", "check", tmp_path / "two/levels" / outputs[-1]).exit_code == 0


def test_shipped_build_names_the_shipped_mappings_portably(built: Path) -> None:
    m = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert m["mappings"]["root"] == "shipped:vn-2025"
    assert all(not Path(e["path"]).is_absolute() for e in m["inputs"] + m["outputs"])


def test_manifest_check_rehashes_the_mapping_files(tmp_path: Path) -> None:
    maps = shutil.copytree(Path(load_mappings().root), tmp_path / "maps")
    assert run("--mappings", maps, "build", "--out", tmp_path / "out", "--fail-on", "never").exit_code == 0
    ok = run("manifest", "check", tmp_path / "out")
    assert ok.exit_code == 0, ok.output
    assert "maps/transitions/vn-merger-2025.csv" in ok.output
    with open(maps / "aliases.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    bad = run("manifest", "check", tmp_path / "out")
    assert bad.exit_code == 1
    assert any("aliases.csv" in line and "changed" in line for line in bad.output.splitlines())
    (maps / "renames.csv").unlink()
    gone = run("manifest", "check", tmp_path / "out")
    assert any("renames.csv" in line and "missing" in line for line in gone.output.splitlines())


def test_manifest_check_fails_on_a_mixed_set(built: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (tmp_path / "dti_2023_63.csv").write_text("year,code,dti\n2023,48,0.7\n2023,49,0.6\n",
                                              encoding="utf-8")
    r = build(other, "--scores", tmp_path / "dti_2023_63.csv", "--basis", "vn-province-2024")
    assert r.exit_code == 0, r.output
    for name in ("comparable.csv", "report.html", "checks.csv"):
        mixed = copy_of(built, tmp_path / f"mixed-{name}")
        assert (other / name).read_bytes() != (mixed / name).read_bytes(), name
        shutil.copy(other / name, mixed / name)
        result = run("manifest", "check", mixed)
        assert result.exit_code == 1, name
        assert "mixed set: 1 of 5 outputs" in result.output
        assert any(name in line and "changed" in line for line in result.output.splitlines())


def test_manifest_check_fails_on_a_build_output_the_manifest_does_not_list(built: Path,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "report-only"
    assert run("report", "--out", out).exit_code == 0
    assert run("manifest", "check", out).exit_code == 0
    shutil.copy(built / "comparable.csv", out / "comparable.csv")
    result = run("manifest", "check", out)
    assert result.exit_code == 1
    assert any("comparable.csv" in line and "unlisted" in line for line in result.output.splitlines())


def test_report_into_a_build_directory_leaves_one_set(built: Path, tmp_path: Path) -> None:
    out = copy_of(built, tmp_path / "out")
    assert run("report", "--out", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "report.html"]
    assert run("manifest", "check", out).exit_code == 0


def test_a_second_build_waits_for_the_first_and_never_interleaves(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mergetool", "build", "--out", str(out), "--fail-on", "never"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(p.communicate(timeout=120)[1], p.returncode) for p in procs]
    assert all(rc == 0 for _, rc in results), results
    assert run("manifest", "check", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(BUILD_OUTPUTS)


def test_a_build_refuses_when_another_holds_the_lock_too_long(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tables, "LOCK_TIMEOUT", 0.3)
    lock = tables._DirLock(out.absolute(), 0)
    lock.acquire()
    try:
        started = time.monotonic()
        result = build(out)
        assert time.monotonic() - started >= 0.3
    finally:
        lock.release()
    assert_refused(result, "output-locked", "another mergetool run is writing to")
    assert list(out.iterdir()) == []
    assert build(out).exit_code == 0  # released: the next run goes ahead


def test_a_lock_released_while_waiting_lets_the_waiter_in(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    lock = tables._DirLock(out.absolute(), 0)
    lock.acquire()
    seen_while_locked: list[list[str]] = []

    def release() -> None:  # what the waiting build had written while another run held the lock
        seen_while_locked.append(sorted(p.name for p in out.iterdir()))
        lock.release()

    threading.Timer(1.0, release).start()
    result = build(out)
    assert result.exit_code == 0, result.output
    assert seen_while_locked == [[tables.LOCK_NAME]]
    assert sorted(p.name for p in out.iterdir()) == sorted(BUILD_OUTPUTS)
    assert leftovers(tmp_path) == []


def test_a_failed_build_keeps_the_previous_set(built: Path, tmp_path: Path, monkeypatch) -> None:
    out = copy_of(built, tmp_path / "out")
    before = {n: (out / n).read_bytes() for n in BUILD_OUTPUTS}

    import mergetool.outputs.files

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mergetool.outputs.files, "render_report", boom)  # after the tables are staged
    result = build(out)
    assert_refused(result, "output-unwritable", "No space left on device")
    assert {n: (out / n).read_bytes() for n in BUILD_OUTPUTS} == before
    assert leftovers(tmp_path) == []


def test_a_run_killed_during_the_swap_is_rolled_forward(built: Path, tmp_path: Path) -> None:
    """kill -9 between the renames leaves part of the new set in place and the new manifest staged
    (it is renamed last): manifest check says mixed set; the next run recognises both sets' files
    as mergetool's and rebuilds in place without --force."""
    scores = tmp_path / "dti_2023_63.csv"
    scores.write_text("year,code,dti\n2023,48,0.7\n2023,49,0.6\n", encoding="utf-8")
    args = ("--scores", scores, "--basis", "vn-province-2024")
    assert build(tmp_path / "new", *args).exit_code == 0
    out = copy_of(built, tmp_path / "out")
    staging = out / f"{tables.STAGING_PREFIX}killed"
    staging.mkdir()
    for name in BUILD_OUTPUTS:
        dest = out if name in ("comparable.csv", "checks.csv") else staging
        shutil.copy(tmp_path / "new" / name, dest / name)
    mixed = run("manifest", "check", out)
    assert mixed.exit_code == 1
    assert "mixed set: 2 of 5 outputs" in mixed.output
    again = build(out, *args)
    assert again.exit_code == 0, again.output
    assert run("manifest", "check", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(BUILD_OUTPUTS)
    for name in BUILD_OUTPUTS:
        assert (out / name).read_bytes() == (tmp_path / "new" / name).read_bytes(), name


def test_leftover_staging_from_a_killed_run_is_cleared(built: Path, tmp_path: Path) -> None:
    out = copy_of(built, tmp_path / "out")
    (out / f"{tables.STAGING_PREFIX}dead").mkdir()
    (out / f"{tables.STAGING_PREFIX}dead" / "comparable.csv").write_text("half", encoding="utf-8")
    assert build(out).exit_code == 0
    assert leftovers(tmp_path) == []


# --- B. outputs that would overwrite each other, or an input ---------------------------------------

@pytest.fixture
def scores(tmp_path: Path) -> Path:
    src = tmp_path / "dti.csv"
    src.write_text(DTI_63, encoding="utf-8")
    return src


def rebase(src: Path, *args: object):
    return run("rebase", src, "--to", "vn-province-2025", *args)


@pytest.mark.parametrize("audit", ["{o}", "./{o}", "sub/../{o}", "{o}.manifest.json", "link.csv"])
def test_audit_that_is_the_output_or_its_manifest_is_refused(scores: Path, audit: str) -> None:
    d = scores.parent
    (d / "sub").mkdir()
    (d / "link.csv").symlink_to(d / "x.csv")
    result = rebase(scores, "-o", d / "x.csv", "--audit", d / audit.format(o="x.csv"))
    assert_refused(result, "output-clash", "would overwrite each other")
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv", "link.csv", "sub"]


@pytest.mark.parametrize("target", ["dti.csv", "./dti.csv", "alias.csv", "hard.csv"])
def test_an_output_that_is_an_input_is_refused(scores: Path, target: str) -> None:
    d = scores.parent
    (d / "alias.csv").symlink_to(scores)
    os.link(scores, d / "hard.csv")
    for flag in ("-o", "--audit"):
        args = ["-o", d / "x.csv", "--audit", d / target] if flag == "--audit" else ["-o", d / target]
        assert_refused(rebase(scores, *args), "output-is-input", "would overwrite an input")
    assert scores.read_text(encoding="utf-8") == DTI_63


def test_weights_file_is_an_input_too(scores: Path) -> None:
    w = scores.parent / "w.csv"
    w.write_text("unit,weight\nTP. Đà Nẵng,1\nQuảng Nam,2\nHà Nội,3\n", encoding="utf-8")
    result = rebase(scores, "--method", "weighted", "--weights", w, "-o", scores.parent / "x.csv",
                    "--audit", w)
    assert_refused(result, "output-is-input", "would overwrite an input")


@pytest.mark.parametrize(("suffix", "reader"), [(".csv", pl.read_csv), (".xlsx", pl.read_excel),
                                                (".parquet", pl.read_parquet), (".CSV", pl.read_csv)])
def test_the_suffix_decides_the_format(scores: Path, suffix: str, reader) -> None:
    out, audit = scores.parent / f"x{suffix}", scores.parent / f"a{suffix}"
    assert rebase(scores, "-o", out, "--audit", audit).exit_code == 0
    assert reader(out).height == 34
    # the audit reads back in its format: one row per predecessor of the 2024 basis (63, none
    # divided), the three given values on their own units and no value invented for the others
    got = reader(audit)
    assert got.columns == list(AUDIT_SCHEMA)
    assert got.height == 63
    assert got["predecessor_code"].cast(pl.String).str.zfill(2).n_unique() == 63
    given = got.filter(pl.col("predecessor_value").is_not_null()).sort("predecessor_value")
    assert list(zip(given["predecessor_code"].cast(pl.String).str.zfill(2), given["predecessor_value"],
                    strict=True)) == [("49", 0.5803), ("01", 0.8241), ("48", 0.8335)]
    if suffix == ".parquet":
        assert out.read_bytes()[:4] == b"PAR1"
    if suffix == ".xlsx":
        assert zipfile.is_zipfile(out)
    manifest = json.loads((scores.parent / f"x{suffix}.manifest.json").read_text(encoding="utf-8"))
    assert [o["path"] for o in manifest["outputs"]] == [out.name, audit.name]


@pytest.mark.parametrize("command", [
    ["rebase", "{src}", "--to", "vn-province-2025", "-o", "{d}/x.txt"],
    ["rebase", "{src}", "--to", "vn-province-2025", "-o", "{d}/x.csv", "--audit", "{d}/a.json"],
    ["verify", "-o", "{d}/v.tsv"],
    ["template", "-o", "{d}/t.parquet"],
    ["template", "-o", "{d}/t"],
])
def test_an_unknown_output_suffix_is_refused_naming_the_accepted(scores: Path, command) -> None:
    d = scores.parent
    result = run(*[c.format(src=scores, d=d) for c in command])
    assert_refused(result, "output-format", "the suffix decides the format")
    assert ".csv (CSV)" in result.output
    assert ".xlsx (XLSX)" in result.output
    assert (".parquet (Parquet)" in result.output) == (command[0] != "template")
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv"]


# --- C. output-side failures: one line, exit 2, nothing left behind ------------------------------

def commands_writing(d: Path, src: Path, target: str) -> list[list[object]]:
    return [["rebase", src, "--to", "vn-province-2025", "-o", d / target],
            ["verify", "-o", d / target],
            ["template", "-o", d / target]]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_output_path_that_is_a_directory(scores: Path, which: int) -> None:
    d = scores.parent
    (d / "dir.csv").mkdir()
    result = run(*commands_writing(d, scores, "dir.csv")[which])
    assert_refused(result, "output-unwritable", "directory")
    assert sorted(p.name for p in d.iterdir()) == ["dir.csv", "dti.csv"]
    assert list((d / "dir.csv").iterdir()) == []


@pytest.mark.parametrize("which", [0, 1, 2])
def test_output_under_a_regular_file(scores: Path, which: int) -> None:
    d = scores.parent
    result = run(*commands_writing(d, scores, "dti.csv/deeper/x.csv")[which])
    assert_refused(result, "output-unwritable", "which is a file, not a directory")
    assert scores.read_text(encoding="utf-8") == DTI_63


def test_build_out_under_a_regular_file(scores: Path) -> None:
    assert_refused(build(scores / "out"), "output-unwritable", "which is a file, not a directory")


@pytest.mark.parametrize("command", ["build", "report"])
def test_build_checks_its_out_dir_before_any_work(scores: Path, command: str, monkeypatch) -> None:
    import mergetool.dti.pipeline

    def no_work(*a, **k):
        raise AssertionError("the build ran although its outputs cannot be written")

    monkeypatch.setattr(mergetool.dti.pipeline, "build", no_work)
    assert_refused(run(command, "--out", scores / "out"), "output-unwritable", "which is a file")
    out = scores.parent / "foreign"
    out.mkdir()
    (out / "report.html").write_text("x", encoding="utf-8")
    assert_refused(run(command, "--out", out), "output-exists", "no manifest beside it")


@pytest.mark.parametrize("which", [0, 1, 2])
def test_read_only_directory(scores: Path, which: int, monkeypatch) -> None:
    """Simulated (tests may run as root, who may write anywhere): the staging directory cannot be
    made, as in a read-only directory."""
    d = scores.parent

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tables.tempfile, "mkdtemp", denied)
    result = run(*commands_writing(d, scores, "x.csv")[which])
    assert_refused(result, "output-unwritable", "Permission denied")
    assert "not writable" in result.output
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_real_read_only_directory(scores: Path) -> None:  # pragma: no cover - not as root
    ro = scores.parent / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_refused(rebase(scores, "-o", ro / "x.csv"), "output-unwritable", "not writable")
    finally:
        ro.chmod(0o755)


def _disk_full(monkeypatch) -> None:
    def full(self, path, *a, **k):
        Path(path).write_text("partial", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv", full)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_disk_full_leaves_no_partial_file(scores: Path, which: int, monkeypatch) -> None:
    d = scores.parent
    (d / "x.csv").write_text("old\n", encoding="utf-8")
    _disk_full(monkeypatch)
    result = run(*commands_writing(d, scores, "x.csv")[which], "--force")
    assert_refused(result, "output-unwritable", "No space left on device")
    assert "the disk is full" in result.output
    assert (d / "x.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv", "x.csv"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_a_real_disk_full_in_every_writer(scores: Path, suffix: str, monkeypatch) -> None:
    """The staged file is a link to /dev/full, where every write fails with ENOSPC, as on a full
    disk: each writer reports it its own way (OSError without errno, polars ComputeError,
    xlsxwriter FileCreateError), and each is one line."""
    d = scores.parent
    stage = tables.OutputSet.stage

    def full(self, target):  # type: ignore[no-untyped-def]
        staged = stage(self, target)
        if target.name == f"x{suffix}" and not staged.is_symlink():
            staged.symlink_to("/dev/full")
        return staged

    monkeypatch.setattr(tables.OutputSet, "stage", full)
    result = rebase(scores, "-o", d / f"x{suffix}")
    assert_refused(result, "output-unwritable", "No space left on device")
    assert "the disk is full" in result.output
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv"]


def test_disk_full_during_a_build(built: Path, tmp_path: Path, monkeypatch) -> None:
    out = copy_of(built, tmp_path / "out")
    before = {n: (out / n).read_bytes() for n in BUILD_OUTPUTS}
    _disk_full(monkeypatch)
    assert_refused(build(out), "output-unwritable", "No space left on device")
    assert {n: (out / n).read_bytes() for n in BUILD_OUTPUTS} == before
    assert leftovers(tmp_path) == []


def test_a_missing_parent_directory_is_created_and_removed_again_on_failure(
        scores: Path, monkeypatch) -> None:
    d = scores.parent
    assert rebase(scores, "-o", d / "new" / "deep" / "x.csv").exit_code == 0
    assert (d / "new" / "deep" / "x.csv").is_file()
    _disk_full(monkeypatch)
    assert_refused(rebase(scores, "-o", d / "other" / "deep" / "x.csv"), "output-unwritable",
                   "No space")
    assert not (d / "other").exists()


def test_output_name_without_a_directory_part(scores: Path, monkeypatch) -> None:
    monkeypatch.chdir(scores.parent)
    r = run("rebase", "dti.csv", "--to", "vn-province-2025", "-o", "x.csv")
    assert r.exit_code == 0, r.output
    m = json.loads(Path("x.csv.manifest.json").read_text(encoding="utf-8"))
    assert m["inputs"][0]["path"] == "dti.csv"
    assert_refused(run("rebase", "dti.csv", "--to", "vn-province-2025", "-o", "."),
                   "output-unwritable", "names a directory")


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_output_name_too_long(scores: Path, which: int) -> None:
    d = scores.parent
    name = "a" * 300
    command = [*commands_writing(d, scores, f"{name}.csv"), ["build", "--out", d / name]][which]
    result = run(*command)
    assert_refused(result, "output-unwritable", "File name too long")
    assert sorted(p.name for p in d.iterdir()) == ["dti.csv"]


MALFORMED = [
    ("empty list", b"[]", "a manifest is a JSON object"),
    ("empty object", b"{}", "not a mergetool manifest"),
    ("no outputs", b'{"tool": "mergetool"}', "'outputs' must be a list"),
    ("outputs empty", b'{"tool": "mergetool", "outputs": []}', "names no outputs"),
    ("entry without path", b'{"tool": "mergetool", "outputs": [{"sha256": "00"}]}', 'has no "path"'),
    ("entry not an object", b'{"tool": "mergetool", "outputs": ["a.csv"]}', 'has no "path"'),
    ("bad sha", b'{"tool": "mergetool", "outputs": [{"path": "a.csv", "sha256": "xyz"}]}',
     'no valid "sha256"'),
    ("inputs not a list", b'{"tool": "mergetool", "outputs": [], "inputs": 3}', "'inputs' must be"),
    ("invalid JSON", b'{"tool": "mergetool",', "not valid JSON"),
    ("not UTF-8", b'{"tool": "merget\xff\xfeool"}', "not UTF-8"),
    ("empty file", b"", "not valid JSON"),
    ("nested too deeply", b"[" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("case", "data", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_manifest_is_refused(tmp_path: Path, case: str, data: bytes, fragment: str) -> None:
    (tmp_path / "manifest.json").write_bytes(data)
    for target in (tmp_path, tmp_path / "manifest.json"):
        result = run("manifest", "check", target)
        assert_refused(result, "bad-manifest", fragment)
        assert "ok" not in result.output.split()


def test_manifest_naming_odd_paths_reports_them_missing(tmp_path: Path) -> None:
    zero = "0" * 64
    for path in ("a\u0000b.csv", "/nonexistent/x.csv", "sub/", "a" * 400):
        (tmp_path / "manifest.json").write_text(json.dumps(
            {"tool": "mergetool", "outputs": [{"path": path, "sha256": zero}]}), encoding="utf-8")
        result = run("manifest", "check", tmp_path)
        assert result.exit_code == 1, (path, result.output)
        assert "Traceback" not in result.output
        assert "missing" in result.output


def test_a_manifest_never_makes_a_build_delete_files_outside_its_set(built: Path,
                                                                    tmp_path: Path) -> None:
    """A crafted manifest listing a file beside the directory (with its true hash) does not make
    the next run remove it as a stale output, nor any file whose name a build does not write."""
    out = copy_of(built, tmp_path / "out")
    victim, notes = tmp_path / "thesis.csv", out / "notes.csv"
    victim.write_text("years of work\n", encoding="utf-8")
    notes.write_text("mine\n", encoding="utf-8")
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    m["outputs"] += [{"path": "../thesis.csv", "sha256": tables.sha256_file(victim)},
                     {"path": "notes.csv", "sha256": tables.sha256_file(notes)}]
    (out / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    assert run("report", "--out", out).exit_code == 0
    assert victim.read_text(encoding="utf-8") == "years of work\n"
    assert notes.read_text(encoding="utf-8") == "mine\n"
    assert not (out / "comparable.csv").exists()  # the build's own stale table is removed


def test_no_manifest_in_the_directory(tmp_path: Path) -> None:
    assert_refused(run("manifest", "check", tmp_path), "missing-file", "no manifest here")


def _closed(cmd: list[str], close_stderr: bool = False) -> tuple[int, str]:
    """Run ``mergetool cmd`` with its stdout (and stderr) read by nobody: a closed pipe."""
    with subprocess.Popen([sys.executable, "-m", "mergetool", *cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # type: ignore[union-attr]
        if close_stderr:
            proc.stderr.close()  # type: ignore[union-attr]
            return proc.wait(timeout=60), ""
        err = proc.stderr.read().decode("utf-8")  # type: ignore[union-attr]
        return proc.wait(timeout=60), err


@pytest.mark.parametrize("cmd", [["explain", "48", "--format", "json"],
                                 ["explain", "Hà Nội", "--format", "json"]])
def test_broken_pipe_on_stdout(cmd: list[str]) -> None:
    rc, err = _closed(cmd)
    assert rc == 2
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert err.strip().splitlines() == [
        "mergetool: the output pipe was closed before all output was written (Broken pipe)"]


@pytest.mark.parametrize("cmd", [["mappings", "show"], ["explain", "48"], ["mappings", "check"],
                                 ["rebase", "no-such-file.csv", "--to", "vn-province-2025",
                                  "-o", "never-written.csv"]])
def test_broken_pipe_on_stderr(cmd: list[str]) -> None:
    """``mergetool mappings show 2>&1 | head -1``: the terminal output goes to a closed pipe.
    Bad input whose problems cannot be printed still exits 2 (not 1, "checks found problems")."""
    rc, _ = _closed(cmd, close_stderr=True)
    assert rc == 2


def test_head_on_the_json_ends_cleanly() -> None:
    proc = subprocess.run(f"{shlex.quote(sys.executable)} -m mergetool explain 48 --format json "
                          "| head -c 10", shell=True, capture_output=True, text=True, timeout=60)
    assert proc.stdout == '{\n  "unit"'
    assert "Traceback" not in proc.stderr


# --- verify writes only when asked, and never says ok about nothing -----------------------------

def test_verify_writes_no_file_unless_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = run("verify")
    assert r.exit_code == 0, r.output
    assert list(tmp_path.iterdir()) == []
    assert "wrote" not in r.output
    r = run("verify", "-o", "v.parquet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.parquet", "v.parquet.manifest.json"]
    assert run("verify", "-o", "v.parquet").exit_code == 0  # its own file: rebuilt in place


@pytest.mark.parametrize("predecessors", [
    "year,code,dti\n2024,01,0.8241\n",                       # Hà Nội only: no merged unit complete
    "year,code,dti\n2024,48,0.8335\n",                       # Đà Nẵng without Quảng Nam
    "year,code,dti\n2023,48,0.8335\n2023,49,0.5803\n",       # another year than the published one
])
def test_verify_where_nothing_could_be_verified_exits_1(tmp_path: Path, predecessors: str) -> None:
    pub = tmp_path / "pub.csv"
    pub.write_text("year,code,dti\n2024,48,0.7069\n", encoding="utf-8")
    pre = tmp_path / "pre.csv"
    pre.write_text(predecessors, encoding="utf-8")
    r = run("verify", "--published", pub, "--predecessors", pre, "--published-basis",
            "vn-province-2025", "--predecessors-basis", "vn-province-2024")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert "nothing could be verified" in r.output


# --- D. the daily loop ----------------------------------------------------------------------------

def test_build_into_a_foreign_directory_is_refused_and_says_so(tmp_path: Path) -> None:
    for name in ("comparable.csv", "report.html", "manifest.json"):
        out = tmp_path / name.replace(".", "_")
        out.mkdir()
        (out / name).write_text("not mergetool's\n", encoding="utf-8")
        (out / "notes.txt").write_text("mine\n", encoding="utf-8")
        result = build(out)
        assert_refused(result, "output-exists", "no manifest beside it says mergetool wrote it")
        assert "--force" in result.output
        assert sorted(p.name for p in out.iterdir()) == sorted([name, "notes.txt"])
        assert (out / name).read_text(encoding="utf-8") == "not mergetool's\n"


def test_build_with_force_replaces_foreign_files_but_keeps_unrelated_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "checks.csv").write_text("x\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert build(out, "--force").exit_code == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert run("manifest", "check", out).exit_code == 0


def test_template_twice_needs_force(tmp_path: Path) -> None:
    """A template has no manifest: nothing says the file is mergetool's, so it is kept."""
    out = tmp_path / "t.csv"
    assert run("template", "-o", out).exit_code == 0
    out.write_text("filled in\n", encoding="utf-8")
    assert_refused(run("template", "-o", out), "output-exists", "it is not replaced")
    assert out.read_text(encoding="utf-8") == "filled in\n"
    assert run("template", "-o", out, "--force").exit_code == 0


def test_rebase_twice_rebuilds_its_own_output(scores: Path) -> None:
    out = scores.parent / "x.csv"
    assert rebase(scores, "-o", out, "--audit", scores.parent / "a.csv").exit_code == 0
    first = out.read_bytes()
    assert rebase(scores, "-o", out, "--audit", scores.parent / "a.csv").exit_code == 0
    assert out.read_bytes() == first
    out.write_text("edited\n", encoding="utf-8")
    assert_refused(rebase(scores, "-o", out), "output-exists", "changed since mergetool wrote it")


@pytest.mark.parametrize("extra", [[], ["--basis", "vn-province-2024"], ["--lang", "en"]])
@pytest.mark.parametrize("command", ["build", "report"])
def test_replace_without_scores_is_a_usage_error(tmp_path: Path, command: str, extra) -> None:
    result = run(command, "--replace", "--out", tmp_path / "out", *extra)
    assert result.exit_code == 2
    assert "--replace uses only the --scores files" in result.output
    assert not (tmp_path / "out").exists()


def _core_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("docProps/core.xml").decode("utf-8")


@pytest.mark.parametrize("units", ["63", "34"])
def test_template_xlsx_is_byte_identical_across_runs(tmp_path: Path, units: str) -> None:
    for name in ("a.xlsx", "b.xlsx"):
        assert run("template", "--units", units, "-o", tmp_path / name).exit_code == 0
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    core = _core_xml(tmp_path / "a.xlsx")
    assert "2025-07-01T00:00:00Z" in core
    assert time.strftime("%Y-%m-%d") not in core
    assert pl.read_excel(tmp_path / "a.xlsx").height == int(units)


def test_comparable_xlsx_has_a_fixed_creation_date(built: Path) -> None:
    core = _core_xml(built / "comparable.xlsx")
    assert "2025-07-01T00:00:00Z" in core
    assert time.strftime("%Y-%m-%d") not in core


def test_xlsx_written_as_data_has_a_fixed_creation_date(scores: Path) -> None:
    out = scores.parent / "x.xlsx"
    assert rebase(scores, "-o", out).exit_code == 0
    first = out.read_bytes()
    assert rebase(scores, "-o", out).exit_code == 0
    assert out.read_bytes() == first
    assert "2025-07-01T00:00:00Z" in _core_xml(out)


def test_xlsx_assembled_in_memory_has_the_bytes_of_xlsxwriter_s_file_assembly(tmp_path: Path) -> None:
    """``io.tables.xlsx_bytes`` skips xlsxwriter's temporary file per part; its parts carry the
    date and mode those files gave them, so the workbook is byte for byte the same."""
    import xlsxwriter

    frame = pl.DataFrame({"Mã": ["01", "02", None], "value": [0.61234, None, 1.0],
                          "note": ["a", "Tỉnh, thành phố", ""]})

    def fill(wb) -> None:
        wb.set_properties({"created": tables.FIXED_DATE, "comments": "mergetool"})
        frame.write_excel(wb, worksheet="one", autofit=True, freeze_panes=(1, 1),
                          table_style="Table Style Light 9")
        frame.write_excel(wb, worksheet="two", header_format={"bold": True})

    on_disk = tmp_path / "disk.xlsx"
    wb = xlsxwriter.Workbook(str(on_disk))
    fill(wb)
    wb.close()
    assert tables.xlsx_bytes(fill) == on_disk.read_bytes()


# --- the publication workbook's sheets (io.tables.table_sheet) ----------------------------------


def _sheet_frames(tmp_path: Path, shipped) -> tuple[Path, dict[str, pl.DataFrame]]:
    """The shipped build's workbook and, by sheet, the frame each sheet was written from."""
    from mergetool.dti.comparable import gather_scores
    from mergetool.dti.coverage import coverage_frame, coverage_sheet
    from mergetool.dti.indicators import INDICATOR_IDS
    from mergetool.dti.pipeline import build as build_result
    from mergetool.outputs.files import wide_sheets, write_workbook

    result = build_result(gather_scores(shipped), shipped)
    book = tmp_path / "comparable.xlsx"
    write_workbook(book, result)
    frames = {ind[:31]: f for ind, f in wide_sheets(result.comparable, INDICATOR_IDS).items()}
    frames["checks"] = result.checks
    frames["coverage"] = coverage_sheet(coverage_frame(result), result.spec.target_size)
    return book, frames


def test_every_workbook_sheet_reads_back_as_the_frame_it_was_written_from(tmp_path: Path,
                                                                          shipped) -> None:
    """Each cell of the publication workbook holds its frame's value: nothing dropped, moved or
    retyped; an empty string is an empty cell, as in the CSV."""
    import fastexcel

    book, frames = _sheet_frames(tmp_path, shipped)
    assert fastexcel.read_excel(book).sheet_names == ["README", *frames]
    for name, frame in frames.items():
        back = pl.read_excel(book, sheet_name=name, schema_overrides=frame.schema)
        want = frame.with_columns(pl.col(pl.String).replace("", None))
        assert back.columns == frame.columns, name
        assert back.equals(want), name


def _widths(ws) -> dict[int, float]:
    return {c: info.width for c, info in ws.col_info.items()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=12)),
                          st.one_of(st.none(), st.integers(-10**6, 10**6)),
                          st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False).map(
                              lambda v: float(f"{v:.16G}")).filter(math.isfinite)),  # 16 digits
                          st.one_of(st.none(), st.booleans())), max_size=8))
def test_sheet_columns_are_as_wide_as_xlsxwriter_autofit_makes_them(rows: list[tuple]) -> None:
    """Widths measured once per distinct value equal ``Worksheet.autofit`` over every cell."""
    import io

    import xlsxwriter

    # one-letter headings: a heading (with its filter button) is not the widest cell
    frame = pl.DataFrame(rows, schema={"n": pl.String, "r": pl.Int64, "v": pl.Float64,
                                       "f": pl.Boolean}, orient="row")
    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    ws = tables.table_sheet(wb, "s", frame, number_formats={"v": "0.0000"})
    fitted = _widths(ws)
    for col_info in ws.col_info.values():
        col_info.width = None  # what autofit alone makes of the same cells
    ws.autofit()
    assert fitted == _widths(ws)


def test_sheet_cells_null_empty_and_formatted(tmp_path: Path) -> None:
    """Nulls and empty strings write no cell; integers show plainly, values with their format."""
    import io

    import xlsxwriter

    frame = pl.DataFrame({"code": ["01", None, ""], "rank": [1, None, 1234],
                          "2024 value": [0.5803, None, 1.0]})
    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    ws = tables.table_sheet(wb, "s", frame, number_formats={"2024 value": "0.0000"})
    assert sorted((r, c) for r, cells in ws.table.items() for c in cells) == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (3, 1), (3, 2)]
    assert ws.table[3][1].format.num_format == "0"
    assert ws.table[1][2].format.num_format == "0.0000"


@pytest.mark.parametrize(("frame", "says"), [
    (pl.DataFrame({"v": [0.5, float("nan")]}), "row 3, column 'v': nan is not finite"),
    (pl.DataFrame({"v": [1.0, None, float("-inf")]}), "row 4, column 'v': -inf is not finite"),
    (pl.DataFrame({"d": [None]}, schema={"d": pl.Date}), "Date is not written"),
    (pl.DataFrame({"s": ["x" * 40_000]}), "row 2, column 's'"),
    (pl.DataFrame({"n": [1, 2**53 + 1]}), "row 3, column 'n': 9007199254740993 is beyond"),
    (pl.DataFrame({"n": [-(2**60)]}, schema={"n": pl.Int128}), "row 2, column 'n'"),
    # xlsxwriter writes a float with 16 significant digits: these would read back changed
    (pl.DataFrame({"v": [0.5, 0.30000000000000004]}), "row 3, column 'v': 0.30000000000000004 "
                                                      "needs 17 significant digits"),
    (pl.DataFrame({"v": [1.7976931348623157e308]}), "row 2, column 'v'"),  # would read as inf
    # xlsxwriter would drop the table (and its header row) with only a warning
    (pl.DataFrame({"Hà Nội": [1], "HÀ NỘI": [2]}), "differ only in case"),
    (pl.DataFrame({"": [1]}), "cannot head an Excel table column"),
    (pl.DataFrame({"a": [None] * 1_048_576}, schema={"a": pl.Int8}), "do not fit a worksheet"),
])
def test_sheet_refuses_what_a_cell_cannot_hold_whole(frame: pl.DataFrame, says: str) -> None:
    import io

    import xlsxwriter

    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    with pytest.raises(ValueError, match=re.escape(says)):
        tables.table_sheet(wb, "s", frame)


@pytest.mark.parametrize("name", ["a/b", "[x]", "a:b", "x" * 32])
def test_sheet_refuses_a_name_excel_refuses(name: str) -> None:
    import io

    import xlsxwriter

    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    with pytest.raises(ValueError, match="not a usable worksheet name"):
        tables.table_sheet(wb, name, pl.DataFrame({"a": [1]}))


def test_sheet_writes_floats_that_16_digits_hold(tmp_path: Path) -> None:
    import xlsxwriter

    frame = pl.DataFrame({"v": [0.1, 0.7069, 1 / 3, 2.5e-300, -0.0, 1e16, 123.456]})
    path = tmp_path / "f.xlsx"
    with xlsxwriter.Workbook(path) as wb:
        tables.table_sheet(wb, "s", frame)
    assert pl.read_excel(path, sheet_name="s")["v"].to_list() == frame["v"].to_list()


def test_an_xlsx_export_keeps_the_exact_decimal_digit_for_digit(tmp_path: Path) -> None:
    # a cell's number would hold 0.1234567890123457: the exact mean is written as its digits
    from decimal import Decimal

    exact = pl.Series("value_exact", [Decimal("0.123456789012345678"), None],
                      dtype=pl.Decimal(38, 18))
    frame = pl.DataFrame({"code": ["01", "02"], "value": [0.12345678901234568, None]}).with_columns(exact)
    tables.write_frame(tmp_path / "x.xlsx", frame)
    back = pl.read_excel(tmp_path / "x.xlsx")
    assert back["value_exact"].to_list() == ["0.123456789012345678", None]
    assert back["value"][0] == pytest.approx(0.12345678901234568, rel=1e-15)
