"""The shipped commune-level mapping (vn-2025-wards): counts, predecessors, names, rebasing."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.cli import cli
from mergetool.core.hierarchy import resolve
from mergetool.core.mapping import MappingSet, load_mappings, shipped_mapping_names, shipped_mappings_dir
from mergetool.core.rebase import rebase
from mergetool.core.shares import read_shares
from mergetool.dti.rebased_explain import explain_file
from mergetool.dti.spec import read_scores
from mergetool.errors import InputError, UsageError
from mergetool.io.scores import SCORES_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
WARDS = ROOT / "mappings" / "vn-2025-wards"
FIXTURE = Path(__file__).parent / "data" / "vn_wards_sample.csv"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def wards() -> MappingSet:
    return load_mappings("vn-2025-wards")


def run(*args: str):
    return CliRunner().invoke(cli, ["--mappings", "vn-2025-wards", *args])


# --- the data ------------------------------------------------------------------------------------

def test_counts_equal_the_source_s(wards: MappingSet) -> None:
    """Counts recomputed from the committed CSVs equal the literal figures found in the package
    (vietnamadminunits 1.0.4: 10,040 legacy rows, 3,321 new units, 471 divided) and SOURCES.md."""
    old = rows(WARDS / "bases" / "vn-ward-2024.csv")
    new = rows(WARDS / "bases" / "vn-ward-2025.csv")
    edges = rows(WARDS / "transitions" / "vn-ward-2025.csv")
    successors = defaultdict(set)
    for e in edges:
        successors[e["predecessor_code"]].add(e["successor_code"])
    divided = {c for c, s in successors.items() if len(s) > 1}
    flagged = {e["predecessor_code"] for e in edges if e["divided"] == "yes"}
    counts = {"old units": len(old), "old communes": sum(u["level"] == "commune" for u in old),
              "old districts without communes": sum(u["level"] == "district" for u in old),
              "new units": len(new), "edges": len(edges), "divided old units": len(divided),
              "edges of divided units": sum(e["divided"] == "yes" for e in edges)}
    assert counts == {"old units": 10_040, "old communes": 10_035,
                      "old districts without communes": 5, "new units": 3_321, "edges": 10_602,
                      "divided old units": 471, "edges of divided units": 1_033}
    assert divided == flagged
    text = (WARDS / "SOURCES.md").read_text(encoding="utf-8")
    for what, n in counts.items():
        assert f"| {what} | {n:,} |" in text
    # The loaded mapping is the same, and valid (including nesting inside the province mapping).
    assert wards.problems == []
    assert len(wards.bases["vn-ward-2024"]) == 10_040
    assert len(wards.bases["vn-ward-2025"]) == 3_321
    assert wards.transitions[0].edges.height == 10_602
    # Unknown shares exactly where a unit was divided; share 1 elsewhere.
    t = wards.transitions[0].edges
    assert set(t.filter(pl.col("share").is_null())["from_code"]) == divided
    assert t.filter(pl.col("share").is_not_null())["share"].unique().to_list() == [1.0]


def test_sample_provinces_have_the_predecessors_the_source_lists(wards: MappingSet) -> None:
    fixture = rows(FIXTURE)
    expected: dict[str, set[str]] = defaultdict(set)
    for r in fixture:
        expected[r["successor_code"]].add(r["predecessor_code"])
    provinces = {r["province_code"] for r in fixture}
    assert provinces == {"01", "12", "46", "92"}
    new = wards.bases["vn-ward-2025"].units
    in_sample = set(new.filter(pl.col("province_code").is_in(list(provinces)))["code"])
    assert set(expected) == in_sample  # every new unit of those provinces is in the fixture
    got = wards.transitions[0].predecessors().filter(pl.col("to_code").is_in(list(in_sample)))
    assert {c: set(p) for c, p in got.iter_rows()} == expected
    # Hà Nội's Phường Ba Đình: ten predecessors, eight of them divided communes.
    assert len(expected["00004"]) == 10


def test_ward_edges_stay_inside_their_province_edge(wards: MappingSet) -> None:
    parent = load_mappings()
    allowed = set(parent.transitions[0].edges.select("from_code", "to_code").iter_rows())
    old = dict(wards.bases["vn-ward-2024"].units.select("code", "province_code").iter_rows())
    new = dict(wards.bases["vn-ward-2025"].units.select("code", "province_code").iter_rows())
    for a, b in wards.transitions[0].edges.select("from_code", "to_code").iter_rows():
        assert (old[a], new[b]) in allowed


def test_nesting_violation_is_a_problem_per_edge(tmp_path: Path) -> None:
    for name in ("vn-2025", "vn-2025-wards"):
        shutil.copytree(ROOT / "mappings" / name, tmp_path / name)
    path = tmp_path / "vn-2025-wards" / "transitions" / "vn-ward-2025.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[1].startswith("00001,Phường Phúc Xá,00097,Phường Hồng Hà,1,")
    lines[1] = lines[1].replace("00097,Phường Hồng Hà", "31120,Phường Cái Khế")  # Hà Nội -> Cần Thơ
    path.write_text("".join(lines), encoding="utf-8")
    ms = load_mappings(tmp_path / "vn-2025-wards")
    nesting = [p for p in ms.problems if p.code == "nesting"]
    assert len(nesting) == 1
    assert nesting[0].row == 2
    assert nesting[0].found == "92"
    assert nesting[0].expected == "01"
    r = CliRunner().invoke(cli, ["--mappings", str(tmp_path / "vn-2025-wards"), "mappings", "check"])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "[nesting]" in r.output


def test_mixed_blank_and_known_shares_are_a_problem(tmp_path: Path) -> None:
    for name in ("vn-2025", "vn-2025-wards"):
        shutil.copytree(ROOT / "mappings" / name, tmp_path / name)
    path = tmp_path / "vn-2025-wards" / "transitions" / "vn-ward-2025.csv"
    text = path.read_text(encoding="utf-8")
    edge = "00007,Phường Cống Vị,00008,Phường Ngọc Hà,"
    text = text.replace(edge + ",", edge + "0.5,")
    path.write_text(text, encoding="utf-8")
    ms = load_mappings(tmp_path / "vn-2025-wards")
    assert [(p.code, p.row) for p in ms.problems] == [("share-sum", 5)]


def test_shipped_mapping_by_name_and_the_wheel_path() -> None:
    assert "vn-2025-wards" in shipped_mapping_names()
    assert (shipped_mappings_dir("vn-2025-wards") / "mapping.toml").is_file()
    r = CliRunner().invoke(cli, ["--mappings", "no-such-mapping", "mappings", "check"])
    assert r.exit_code == 2
    assert "vn-2025-wards" in r.output


def test_mappings_check_cli_is_ok() -> None:
    r = run("mappings", "check")
    assert r.exit_code == 0, r.output
    local = CliRunner().invoke(cli, ["mappings", "check", "--mappings", "vn-2025-wards"])
    assert local.exit_code == 0, local.output
    assert "vn-ward" in local.output
    assert "10040" in r.output
    assert "3321" in r.output


@pytest.mark.skipif(importlib.util.find_spec("vietnamadminunits") is None,
                    reason="the build-time package is not installed (pip install '.[mappings-build]')")
def test_build_script_reproduces_the_committed_files() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "mappings" / "build_vn_wards.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_package_never_imports_the_build_tool() -> None:
    for path in (ROOT / "mergetool").rglob("*.py"):
        assert "vietnamadminunits" not in path.read_text(encoding="utf-8"), path


# --- names ---------------------------------------------------------------------------------------

def test_bare_ambiguous_name_is_an_error_listing_candidates(wards: MappingSet) -> None:
    with pytest.raises(InputError) as err:
        wards.resolve("Phường 1", "vn-ward-2024")
    (p,) = err.value.problems
    assert p.code == "ambiguous-unit"
    assert "33 units" in p.message
    assert "27160 Phường 1 (Quận 3, Hồ Chí Minh)" in p.expected
    got = resolve(wards.bases["vn-ward-2025"], "Tân Thành", ms=wards)
    assert got.problem == "ambiguous"
    assert len(got.candidates) == 9


def test_names_resolve_in_context(wards: MappingSet) -> None:
    old, new = wards.bases["vn-ward-2024"], wards.bases["vn-ward-2025"]
    assert resolve(old, "Phường 1", province="Hồ Chí Minh", district="Quận 3", ms=wards).code == "27160"
    assert resolve(old, "Phường 1", province="TP. HCM", district="3", ms=wards).code == "27160"
    assert resolve(old, "Phúc Xá", province="Hà Nội", district="Ba Đình", ms=wards).code == "00001"
    assert resolve(old, "Phuong Phuc Xa", province="Ha Noi", ms=wards).code == "00001"
    assert resolve(new, "Xã Tân Thành", province="Thái Nguyên", ms=wards).code == "05923"
    assert resolve(new, "Tân Thành", province="Hồ Chí Minh", ms=wards).code == "26725"
    # A town and a commune of one name in one district: the short name is ambiguous, the full one not.
    assert resolve(old, "Yên Viên", province="Hà Nội", ms=wards).problem == "ambiguous"
    # ... to the commune itself, not to the town of the same short name (00526)
    assert resolve(old, "Xã Yên Viên", province="Hà Nội", ms=wards).code == "00532"
    assert resolve(old, "Thị trấn Yên Viên", province="Hà Nội", ms=wards).code == "00526"
    assert resolve(old, "Phường 1", province="Hồ Chí Minh", ms=wards).problem == "ambiguous"
    assert resolve(new, "Phường 1", province="Hà Nội", ms=wards).problem == "unknown"


def test_show_prints_a_new_ward_s_predecessors() -> None:
    r = run("mappings", "show", "Phường Ba Đình, Hà Nội", "--basis", "vn-ward-2025")
    assert r.exit_code == 0, r.output
    assert "predecessors (10)" in r.output
    assert "Phường Trúc Bạch 00004@vn-ward-2024" in r.output
    assert "share unknown" in r.output
    r = run("mappings", "show", "Phường 1")
    assert r.exit_code == 2
    assert "ambiguous-unit" in r.output
    assert "Traceback" not in r.output


# --- commune tables ------------------------------------------------------------------------------

def commune_table(wards: MappingSet, tmp_path: Path, provinces: list[str] | None = None,
                  seed: int = 0, bare: bool = False) -> tuple[Path, dict[str, float]]:
    """A long table (year, province, district, ward, indicator, value) of synthetic values."""
    units = wards.bases["vn-ward-2024"].units
    if provinces is not None:
        units = units.filter(pl.col("province_code").is_in(provinces))
    values = np.round(np.random.default_rng(seed).uniform(0, 1, units.height), 4)
    frame = units.select(year=pl.lit(2024), province="province_name", district="district_name",
                         ward="name", indicator=pl.lit("poverty_rate"),
                         value=pl.Series(values))
    if bare:
        frame = frame.drop("province", "district")
    path = tmp_path / "communes.csv"
    frame.write_csv(path)
    return path, dict(zip(units["code"].to_list(), values.tolist(), strict=True))


def test_a_commune_table_resolves_by_province_district_and_ward(wards: MappingSet,
                                                                tmp_path: Path) -> None:
    path, values = commune_table(wards, tmp_path)
    scores = read_scores(path, wards)
    assert scores["basis"].unique().to_list() == ["vn-ward-2024"]
    assert dict(scores.select("code", "value").iter_rows()) == values


def test_bare_names_in_a_table_are_errors_with_candidates(wards: MappingSet, tmp_path: Path) -> None:
    path, _ = commune_table(wards, tmp_path, provinces=["79"], bare=True)
    with pytest.raises(InputError) as err:
        read_scores(path, wards, basis="vn-ward-2024")
    ambiguous = [p for p in err.value.problems if p.code == "ambiguous-unit"]
    assert ambiguous
    assert all(p.row is not None and p.expected for p in ambiguous)
    assert any(p.found == "Phường 1" and "Quận 3, Hồ Chí Minh" in p.expected for p in ambiguous)
    r = run("rebase", str(path), "--to", "vn-ward-2025", "--from", "vn-ward-2024",
            "-o", str(tmp_path / "out.csv"))
    assert r.exit_code == 2
    assert "ambiguous-unit" in r.output
    assert "Traceback" not in r.output


def independent_mean(values: dict[str, float]) -> dict[str, float]:
    """The mean rebase as a plain loop over the committed transition CSV."""
    preds: dict[str, list[str]] = defaultdict(list)
    for e in rows(WARDS / "transitions" / "vn-ward-2025.csv"):
        preds[e["successor_code"]].append(e["predecessor_code"])
    return {new: sum(values[p] for p in ps) / len(ps) for new, ps in preds.items()
            if all(p in values for p in ps)}


def test_random_commune_table_mean_equals_an_independent_loop(wards: MappingSet,
                                                              tmp_path: Path) -> None:
    path, values = commune_table(wards, tmp_path, seed=7)
    out = tmp_path / "out.csv"
    r = run("rebase", str(path), "--to", "vn-ward-2025", "-o", str(out))
    assert r.exit_code == 0, r.output
    got = pl.read_csv(out, schema_overrides={"code": pl.String})
    assert got.height == 3_321
    assert set(got["status"]) == {"ok"}
    expected = independent_mean(values)
    assert len(expected) == 3_321
    for code, value in got.select("code", "value").iter_rows():
        assert value == pytest.approx(expected[code], abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fraction=st.floats(0.05, 1.0))
def test_mean_on_random_subsets_equals_the_loop(wards: MappingSet, seed: int, fraction: float) -> None:
    rng = np.random.default_rng(seed)
    codes = sorted(wards.bases["vn-ward-2024"].codes)
    keep = [c for c in codes if rng.random() < fraction]
    values = {c: round(float(rng.uniform(0, 1)), 4) for c in keep}
    scores = pl.DataFrame({"year": [2024] * len(keep), "code": keep, "indicator": ["x"] * len(keep),
                           "value": [values[c] for c in keep]},
                          schema={"year": pl.Int32, "code": pl.String, "indicator": pl.String,
                                  "value": pl.Float64}).with_columns(
        basis=pl.lit("vn-ward-2024"), rank=pl.lit(None, pl.Int32), file=pl.lit("<t>"),
        row=pl.lit(2, pl.Int32)).select(SCORES_SCHEMA.keys())
    result = rebase(scores, wards, "vn-ward-2025", audit=False)
    ok = result.values.filter(pl.col("status") == "ok")
    expected = independent_mean(values)
    assert set(ok["code"]) == set(expected)
    for code, value in ok.select("code", "value").iter_rows():
        assert value == pytest.approx(expected[code], abs=1e-12)


def test_sum_refuses_divided_units_without_shares(wards: MappingSet, tmp_path: Path) -> None:
    path, _ = commune_table(wards, tmp_path, provinces=["01"])
    r = run("rebase", str(path), "--to", "vn-ward-2025", "--method", "sum", "-o",
            str(tmp_path / "out.csv"))
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert "missing-share" in r.output
    assert "--shares" in r.output
    assert "00007 Phường Cống Vị" in r.output  # names the divided units
    assert not (tmp_path / "out.csv").exists()
    scores = read_scores(path, wards)
    with pytest.raises(UsageError):
        rebase(scores, wards, "vn-ward-2025", methods={"*": "weighted"},
               weights=scores.select("code", weight=pl.lit(1.0)))


def test_sum_works_where_no_unit_was_divided(wards: MappingSet, tmp_path: Path) -> None:
    path, values = commune_table(wards, tmp_path, provinces=["11"])  # Điện Biên: none divided
    scores = read_scores(path, wards)
    result = rebase(scores, wards, "vn-ward-2025", methods={"*": "sum"})
    ok = result.values.filter(pl.col("status") == "ok")
    assert ok.height == wards.bases["vn-ward-2025"].units.filter(pl.col("province_code") == "11").height
    assert ok["value"].sum() == pytest.approx(sum(values.values()), abs=1e-9)


def test_sum_with_real_shares_preserves_totals(wards: MappingSet, tmp_path: Path) -> None:
    path, values = commune_table(wards, tmp_path, provinces=["01"])
    edges = wards.transitions[0].edges.filter(pl.col("share").is_null())
    hanoi = set(wards.bases["vn-ward-2024"].units.filter(pl.col("province_code") == "01")["code"])
    edges = edges.filter(pl.col("from_code").is_in(list(hanoi)))
    # User-supplied shares (here: first part 0.6, the rest sharing 0.4).
    parts = edges.sort("from_code", "to_code").with_columns(
        n=pl.len().over("from_code"), i=pl.int_range(pl.len()).over("from_code"))
    parts = parts.with_columns(share=pl.when(pl.col("i") == 0).then(0.6)
                               .otherwise(0.4 / (pl.col("n") - 1)))
    share_file = tmp_path / "shares.csv"
    parts.select(predecessor_code="from_code", successor_code="to_code", share="share").write_csv(share_file)
    out = tmp_path / "out.csv"
    r = run("rebase", str(path), "--to", "vn-ward-2025", "--method", "sum", "--shares",
            str(share_file), "-o", str(out))
    assert r.exit_code == 0, r.output
    got = pl.read_csv(out).filter(pl.col("status") == "ok")
    assert got["value"].sum() == pytest.approx(sum(values.values()), abs=1e-6)
    # Shares that do not sum to 1 are refused.
    bad = read_shares(share_file).with_columns(share=pl.lit(0.3))
    with pytest.raises(InputError) as err:
        rebase(read_scores(path, wards), wards, "vn-ward-2025", methods={"*": "sum"}, shares=bad)
    sums = [p for p in err.value.problems if p.code == "share-sum"]
    assert sums
    assert all(p.file == str(share_file) and p.row is not None for p in sums)  # names the file


def test_explain_a_rebased_ward(wards: MappingSet, tmp_path: Path) -> None:
    path, values = commune_table(wards, tmp_path, provinces=["01"])
    data = explain_file(wards, path, "Phường Ba Đình, Hà Nội")
    (year,) = data["years"]
    assert data["unit"]["code"] == "00004"
    assert year["verdict"] == "match"
    preds = {p["ref"].split("@")[0] for p in year["predecessors"]}
    assert len(preds) == 10
    assert year["value"] == pytest.approx(sum(values[p] for p in preds) / 10, abs=1e-12)
    r = run("explain", "Phường Ba Đình, Hà Nội", "--scores", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    assert re.search(r'"verdict": "match"', r.output)


def test_readme_commune_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```bash\n(.+?)\n```", text, flags=re.S) if "vn-2025-wards" in b]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    r = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "predecessors (10)" in r.stderr
    out = pl.read_csv(tmp_path / "communes-2025.csv", schema_overrides={"code": pl.String})
    row = out.filter(pl.col("code") == "00004").row(0, named=True)
    assert row["status"] == "partial"
    assert row["value"] == pytest.approx((0.012 + 0.009) / 2)
    assert len(row["missing"].split()) == 8
    assert "verdict" in r.stderr
    manifest = json.loads((tmp_path / "communes-2025.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["mappings"]["root"] == "shipped:vn-2025-wards"  # portable, not a site-packages path
    check = CliRunner().invoke(cli, ["manifest", "check", str(tmp_path / "communes-2025.csv.manifest.json")])
    assert check.exit_code == 0, check.output


def test_every_mapping_directory_ships_in_the_wheel() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    dirs = {p.parent.name for p in (ROOT / "mappings").glob("*/mapping.toml")}
    assert {f"mappings/{d}": f"mergetool/_mappings/{d}" for d in dirs}.items() <= shipped.items()
    assert dirs == {"vn-2025", "vn-2025-wards"}
    assert "vietnamadminunits==1.0.4" in config["project"]["optional-dependencies"]["mappings-build"]
    assert not any("vietnamadminunits" in d for d in config["project"]["dependencies"])


def test_every_unit_resolves_from_its_own_province_district_and_name(wards: MappingSet) -> None:
    """No unit is unreachable or reached by another's name: (province, district, name) on the old
    basis and (province, name) on the new one give back each unit's own code."""
    old, new = wards.bases["vn-ward-2024"], wards.bases["vn-ward-2025"]
    for code, name, prov, dist in old.units.select("code", "name", "province_name",
                                                   "district_name").iter_rows():
        assert resolve(old, name, province=prov, district=dist, ms=wards).code == code
    for code, name, prov in new.units.select("code", "name", "province_name").iter_rows():
        assert resolve(new, name, province=prov, ms=wards).code == code


def test_district_abbreviations_and_types(wards: MappingSet) -> None:
    old = wards.bases["vn-ward-2024"]
    city = resolve(old, "Phường 1", province="Đồng Tháp", district="TP. Cao Lãnh", ms=wards)
    assert city.code == resolve(old, "Phường 1", province="Đồng Tháp",
                                district="Thành phố Cao Lãnh", ms=wards).code
    assert city.code == "29869"  # Phường 1 of Thành phố Cao Lãnh, not of Thành phố Sa Đéc (29905)
    got = resolve(old, "Phường 1", province="Đồng Tháp", district="Cao Lãnh", ms=wards)
    assert got.problem == "ambiguous"  # Thành phố Cao Lãnh or Huyện Cao Lãnh


def test_ward_code_column_with_names_is_cross_checked(wards: MappingSet, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("year,province,ward_code,ward,indicator,value\n"
                    "2024,Hà Nội,00004,Phường Ba Đình,x,1\n2024,Hà Nội,00008,Ngọc Hà,x,2\n",
                    encoding="utf-8")
    scores = read_scores(good, wards)
    # 00004 and 00008 are codes on both bases (reused); the names say which: the 2025 one.
    assert scores["basis"].unique().to_list() == ["vn-ward-2025"]
    assert scores["code"].to_list() == ["00004", "00008"]
    bad = tmp_path / "bad.csv"
    bad.write_text("year,province,ward_code,ward,indicator,value\n"
                   "2024,Hà Nội,00004,Phường Kim Mã,x,1\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_scores(bad, wards, basis="vn-ward-2024")
    (p,) = err.value.problems
    assert p.code == "unit-mismatch"
    assert p.row == 2
    assert "00004 is Phường Trúc Bạch" in p.message
    assert "Kim Mã" in p.message


HONG_HA = ["00001", "00037", "00067", "00091", "00094", "00097", "00100", "00106", "00118",
           "00139", "00244", "00268"]  # every predecessor of the new Phường Hồng Hà


def _unwrapped(output: str) -> str:
    """A printed tree as one line: rich wraps at the terminal width and draws the branches."""
    return re.sub(r"[\s│├└─]+", " ", output)


def _long_table(path: Path, values: dict[str, str], indicator: str = "rate") -> Path:
    path.write_text("year,code,indicator,value\n" + "".join(
        f"2024,{c},{indicator},{v}\n" for c, v in values.items()), encoding="utf-8")
    return path


def test_explain_tree_prints_the_recomputation_of_a_fully_computable_ward(tmp_path: Path) -> None:
    path = _long_table(tmp_path / "c4.csv", dict.fromkeys(HONG_HA, "0.5"))
    r = run("explain", "Phường Hồng Hà, Hà Nội", "--scores", str(path))
    assert r.exit_code == 0, r.output
    said = _unwrapped(r.output)
    assert "Traceback" not in said
    assert "value 0.5 (rebased from vn-ward-2024)" in said
    assert "predecessors (12)" in said
    assert "00268@vn-ward-2024 Phường Thanh Lương: 0.5" in said
    assert "formula mean(" + ", ".join(["0.5"] * 12) + ") = 0.5 " in said
    assert "verdict match (tolerance 0.000000001)" in said


def test_explain_tree_of_a_partly_computable_ward(tmp_path: Path) -> None:
    path = _long_table(tmp_path / "c3.csv", dict.fromkeys(HONG_HA[:-1], "0.5"))
    r = run("explain", "Phường Hồng Hà, Hà Nội", "--scores", str(path))
    assert r.exit_code == 0, r.output
    said = _unwrapped(r.output)
    assert "value no value" in said
    assert "formula mean(" + ", ".join(["0.5"] * 11) + ", ?) = not computable" in said
    assert "00268@vn-ward-2024 Phường Thanh Lương: no value" in said
    assert "verdict not-computable" in said
    assert "missing 00268" in said


def test_explain_shows_small_commune_values_with_their_digits(tmp_path: Path) -> None:
    values = {c: ("0.00001" if i % 2 else "0.00002") for i, c in enumerate(HONG_HA)}
    path = _long_table(tmp_path / "small.csv", values)
    r = run("explain", "Phường Hồng Hà, Hà Nội", "--scores", str(path))
    assert r.exit_code == 0, r.output
    said = _unwrapped(r.output)
    assert "0.0000," not in said
    assert "e-0" not in said
    assert "mean(0.00002, 0.00001," in said
    assert ") = 0.000015 " in said
    assert "value 0.000015 " in said
    assert "Phường Phúc Tân: 0.00001 " in said
    j = run("explain", "Phường Hồng Hà, Hà Nội", "--scores", str(path), "--format", "json")
    assert j.exit_code == 0, j.output
    (year,) = json.loads(j.output)["years"]
    assert year["formula"].startswith("mean(0.00002, 0.00001,")
    assert year["recomputed_exact"] == "0.000015"


def test_a_ward_code_column_alone_resolves_by_code(wards: MappingSet, tmp_path: Path) -> None:
    path = tmp_path / "w5.csv"
    path.write_text("year,ward_code,indicator,value\n2024,00007,pop,1000\n", encoding="utf-8")
    scores = read_scores(path, wards, basis="vn-ward-2024")
    assert scores["code"].to_list() == ["00007"]  # Phường Cống Vị
    r = run("rebase", str(path), "--to", "vn-ward-2025", "--policy", "partial",
            "-o", str(tmp_path / "o.csv"))
    assert r.exit_code == 0, r.output


def test_commune_messages_never_show_the_internal_separator(wards: MappingSet,
                                                            tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    dup.write_text("year,province,district,ward,indicator,value\n"
                   "2024,Hà Nội,Ba Đình,Phúc Xá,x,1\n2024,Hà Nội,Ba Đình,Phúc Xá,x,2\n",
                   encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_scores(dup, wards)
    (p,) = err.value.problems
    assert p.code == "duplicate-row"
    assert p.found == "Phúc Xá, Ba Đình, Hà Nội"
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("year,province,district,ward,indicator,value\n"
                       "2024,Hà Nội,Ba Đình,Phúc Xáx,x,1\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_scores(unknown, wards, basis="vn-ward-2024")
    for p in err.value.problems:
        assert "\x1f" not in str(p)
        assert "/" not in (p.found or "")
    r = run("rebase", str(dup), "--to", "vn-ward-2025", "-o", str(tmp_path / "o.csv"))
    assert r.exit_code == 2
    assert "\x1f" not in r.output
    assert "Phúc Xá, Ba Đình, Hà Nội" in r.output
