import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from mergetool.cli import cli
from mergetool.core.mapping import load_mappings
from mergetool.core.rebase import rebase
from mergetool.dti.spec import read_scores

DTI_2024_63 = "year,unit,dti\n2024,TP. Đà Nẵng,0.8335\n2024,Quảng Nam,0.5803\n2024,Hà Nội,0.8241\n"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_mappings_check_passes_on_shipped() -> None:
    r = run("mappings", "check")
    assert r.exit_code == 0, r.output
    assert "no problems" in r.output


def test_mappings_check_exits_1_naming_the_split_row(tmp_path: Path) -> None:
    root = Path(load_mappings().root)
    for f in root.rglob("*"):
        if f.is_file():
            dest = tmp_path / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
    t = tmp_path / "transitions" / "vn-merger-2025.csv"
    lines = t.read_text(encoding="utf-8").splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith("49,"))
    lines[idx] = "49,Quảng Nam,48,Đà Nẵng,0.6"
    lines.insert(idx + 1, "49,Quảng Nam,51,Quảng Ngãi,0.3")
    t.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run("--mappings", str(tmp_path), "mappings", "check")
    assert r.exit_code == 1
    assert "share-sum" in r.output
    assert f"row {idx + 1}" in r.output


def test_rebase_cli_equals_library(tmp_path: Path) -> None:
    src = tmp_path / "dti.csv"
    src.write_text(DTI_2024_63, encoding="utf-8")
    out, audit = tmp_path / "out.csv", tmp_path / "audit.csv"
    r = run("rebase", str(src), "--to", "vn-province-2025", "-o", str(out), "--audit", str(audit))
    assert r.exit_code == 0, r.output
    written = pl.read_csv(out, schema_overrides={"code": pl.String, "year": pl.Int32,
                                                 "n_expected": pl.UInt32, "n_used": pl.UInt32,
                                                 "missing": pl.String})
    ms = load_mappings()
    lib = rebase(read_scores(src, ms), ms, "vn-province-2025").values
    assert_frame_equal(written, lib.with_columns(pl.col("missing").fill_null("")),
                       check_dtypes=False)
    dn = written.filter(pl.col("code") == "48")
    assert round(dn["value"][0], 4) == 0.7069
    manifest = json.loads((tmp_path / "out.csv.manifest.json").read_text())
    assert manifest["inputs"][0]["path"] == "dti.csv"
    assert manifest["mappings"]["version"] == "2025.2"


def test_rebase_refuses_to_overwrite(tmp_path: Path) -> None:
    src = tmp_path / "dti.csv"
    src.write_text(DTI_2024_63, encoding="utf-8")
    r = run("rebase", str(src), "--to", "vn-province-2025", "-o", str(src))
    assert r.exit_code == 2
    assert "output-is-input" in r.output
    assert src.read_text(encoding="utf-8") == DTI_2024_63


def test_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    src = tmp_path / "dti.csv"
    src.write_text("year,unit,dti\n2024,Da Nag,0.5\n", encoding="utf-8")
    r = run("rebase", str(src), "--to", "vn-province-2025", "--from", "vn-province-2024",
            "-o", str(tmp_path / "o.csv"))
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert "unknown-unit" in r.output
    assert "Đà Nẵng" in r.output
    assert not (tmp_path / "o.csv").exists()


def test_explain_json_shows_the_da_nang_derivation() -> None:
    r = CliRunner().invoke(cli, ["explain", "Đà Nẵng", "--year", "2024", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    (y,) = data["years"]
    assert [p["ref"] for p in y["predecessors"]] == ["48@vn-province-2024", "49@vn-province-2024"]
    assert [p["value"] for p in y["predecessors"]] == [0.8335, 0.5803]
    assert (y["published"], y["verdict"], y["formula"]) == (0.7069, "match", "mean(0.8335, 0.5803)")
    assert y["predecessors"][1]["source"].startswith("https://")


def test_explain_tree_and_unknown_unit() -> None:
    assert "formula mean(0.8335, 0.5803)" in run("explain", "48", "--year", "2024").output
    bad = run("explain", "Da Nag")
    assert bad.exit_code == 2
    assert "Đà Nẵng" in bad.output


def test_template_writes_the_ministry_layout(tmp_path: Path) -> None:
    out = tmp_path / "dti_2023_63.csv"
    r = run("template", "--units", "63", "-o", str(out))
    assert r.exit_code == 0, r.output
    frame = pl.read_csv(out)
    assert frame.height == 63
    assert frame.columns[1] == "Tỉnh, thành phố"


def test_every_command_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    names = []
    for name, cmd in cli.commands.items():
        if hasattr(cmd, "commands"):
            names += [f"{name} {sub}" for sub in cmd.commands]
        else:
            names.append(name)
        assert cmd.help, name
    for name in names:
        assert f"mergetool {name}" in readme, name


def test_cli_choices_are_the_library_s() -> None:
    """The CLI spells some choices out (importing the library would slow --help); they must not drift."""
    from mergetool.core.rebase import POLICIES
    from mergetool.dti.checks import FAIL_ON

    def choices(command: str, option: str) -> list[str]:
        (param,) = [p for p in cli.commands[command].params if p.name == option]
        return list(param.type.choices)

    assert choices("build", "fail_on") == list(FAIL_ON)
    assert choices("rebase", "policy") == list(POLICIES)


def test_an_os_error_no_check_foresaw_is_one_line_and_exit_2(monkeypatch) -> None:
    import errno

    import mergetool.core.mapping as mapping

    def unreadable(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/mappings")

    monkeypatch.setattr(mapping, "load_mappings", unreadable)
    r = run("mappings", "check")
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "error: /srv/mappings: Permission denied" in r.output
    assert "Traceback" not in r.output
