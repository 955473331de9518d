"""One engine, many mergers: a build on another mapping (the fictional two-step merger in
``tests/data/fictional-merger``: 6 counties -> 4 -> 3) takes its bases, sizes and labels from
that mapping, never from the shipped DTI record."""

from __future__ import annotations

import csv
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from helpers import mapping_set

from mergetool.cli import cli
from mergetool.core.mapping import MappingSet, load_mappings
from mergetool.dti.record import index_definitions
from mergetool.dti.spec import SHIPPED_SPEC, Spec, spec_for
from mergetool.errors import UsageError

FICTION = Path(__file__).parent / "data" / "fictional-merger"
OLD, MID, NEW = "fict-county-2019", "fict-county-2021", "fict-county-2024"
#: The two reforms as written in the mapping's transition files, read independently here.
STEP1 = {"01": "11", "02": "11", "03": "12", "04": "13", "05": "13", "06": "14"}
STEP2 = {"11": "21", "12": "21", "13": "22", "14": "23"}
OLD_YEARS, NEW_YEAR = (2020, 2021, 2022, 2023), 2024


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _q4(x: Fraction) -> Decimal:
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Seeded synthetic scores: every indicator of the index on the 6-county basis for
    2020-2023, and on the 3-county basis for 2024 (as written to the file, 4 decimals)."""
    rng = random.Random(20250701)
    defs = index_definitions()
    values: dict[tuple[int, str, str, str], Decimal] = {}
    for year in (*OLD_YEARS, NEW_YEAR):
        basis, codes = (OLD, sorted(STEP1)) if year in OLD_YEARS else (NEW, ["21", "22", "23"])
        for ind in defs.filter(pl.col("year") == year)["indicator"]:
            for code in codes:
                values[(year, basis, code, ind)] = Decimal(rng.randint(1000, 9500)) / 10000
    path = tmp_path_factory.mktemp("fiction") / "scores.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "basis", "code", "indicator", "value"])
        for (year, basis, code, ind), v in values.items():
            w.writerow([year, basis, code, ind, f"{v:.4f}"])
    return path, values


@pytest.fixture(scope="module")
def built(scores: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory):
    path, _ = scores
    out = tmp_path_factory.mktemp("fiction-out") / "out"
    r = run("--mappings", str(FICTION), "build", "--scores", str(path), "--replace",
            "--out", str(out), "--lang", "en")
    return r, out


def test_the_fictional_mapping_is_valid_and_declares_its_bases() -> None:
    r = run("--mappings", str(FICTION), "mappings", "check")
    assert r.exit_code == 0, r.output
    spec = spec_for(load_mappings(FICTION))
    assert spec == Spec(OLD, NEW, 6, 3, record=False)
    assert (spec.published_target, spec.rebased, spec.published_source, spec.carried) == (
        "published-3", "rebased-from-6", "published-6", "carried-from-3")


def test_the_shipped_spec_is_the_shipped_mapping_s(shipped: MappingSet) -> None:
    spec = spec_for(shipped)
    assert spec == SHIPPED_SPEC
    assert (spec.published_target, spec.rebased, spec.published_source, spec.carried) == (
        "published-34", "rebased-from-63", "published-63", "carried-from-34")
    assert spec.basis_for_units("63") == "vn-province-2024"
    assert spec.basis_for_units("34") == "vn-province-2025"


def test_a_copy_of_the_shipped_bases_with_another_merger_gets_no_record(shipped: MappingSet) -> None:
    units = {b: shipped.bases[b].units.select("code", "name").rows() for b in shipped.bases}
    edges = shipped.transitions[0].edges.select("from_code", "to_code", "share").rows()
    moved = [(a, "01" if a == "02" else b, s) for a, b, s in edges]  # one province elsewhere
    same = mapping_set(units, [("m", "vn-province-2024", "vn-province-2025", edges)])
    other = mapping_set(units, [("m", "vn-province-2024", "vn-province-2025", moved)])
    assert spec_for(same).record
    assert not spec_for(other).record


def test_application_table_must_name_bases_of_the_mapping() -> None:
    ms = load_mappings(FICTION)
    ms.application = {"source_basis": OLD, "target_basis": "nowhere"}
    with pytest.raises(UsageError) as err:
        spec_for(ms)
    assert err.value.exit_code == 2
    assert "nowhere" in str(err.value.problems[0])
    ms.application = {"source_basis": MID, "target_basis": NEW}  # any chain may be declared
    assert spec_for(ms) == Spec(MID, NEW, 4, 3, record=False)
    ms.application = {}  # detected: the oldest and the newest basis
    assert spec_for(ms) == Spec(OLD, NEW, 6, 3, record=False)
    ms.application = "fict-county-2019"
    with pytest.raises(UsageError):
        spec_for(ms)


def test_two_oldest_bases_are_ambiguous() -> None:
    ms = mapping_set({"a": [("01", "A")], "b": [("01", "B")], "c": [("01", "C")]},
                     [("ac", "a", "c", [("01", "01", 1.0)]), ("bc", "b", "c", [("01", "01", 1.0)])])
    with pytest.raises(UsageError) as err:
        spec_for(ms)
    assert err.value.exit_code == 2
    assert "oldest: a, b" in str(err.value.problems[0])


def test_without_scores_or_replace_the_build_is_refused(scores: tuple[Path, dict], tmp_path: Path) -> None:
    r = run("--mappings", str(FICTION), "build", "--out", str(tmp_path / "a"))
    assert r.exit_code == 2
    assert "--replace" in r.output
    assert "--scores" in r.output
    r = run("--mappings", str(FICTION), "build", "--scores", str(scores[0]), "--out", str(tmp_path / "b"))
    assert r.exit_code == 2
    assert "--replace" in r.output
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


def test_build_exit_code_and_outputs(built) -> None:
    r, out = built
    # Every unit has every indicator in every year: no check fails (methodology changes warn).
    assert r.exit_code == 0, r.output
    assert "not used" in r.output
    assert {p.name for p in out.iterdir()} == {"comparable.csv", "comparable.xlsx", "checks.csv",
                                                "audit.csv", "report.html", "manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["source_basis"] == OLD
    assert manifest["options"]["target_basis"] == NEW
    assert "not used" in manifest["options"]["record"]


def test_comparable_values_are_means_through_both_steps(built, scores: tuple[Path, dict]) -> None:
    """A chain of reforms is applied one step at a time (:mod:`mergetool.core.rebase`): each
    county of 2021 is the mean of its 2019 predecessors, each of 2024 the mean of its 2021 ones
    (21 = mean(mean(01, 02), 03)); computed here from the transition files with fractions."""
    _, out = built
    _, values = scores
    comp = pl.read_csv(out / "comparable.csv", schema_overrides={"code": pl.String, "value": pl.String,
                                                                 "value_exact": pl.String})
    composed: dict[str, list[str]] = {}
    for old, mid in STEP1.items():
        composed.setdefault(STEP2[mid], []).append(old)
    assert composed == {"21": ["01", "02", "03"], "22": ["04", "05"], "23": ["06"]}

    def mean(xs: list[Fraction]) -> Fraction:
        return sum(xs, Fraction(0)) / len(xs)

    checked = 0
    for year, ind in sorted({(y, i) for y, b, _c, i in values if b == OLD}):
        mid = {m: mean([Fraction(values[(year, OLD, o, ind)]) for o, to in STEP1.items() if to == m])
               for m in STEP2}
        for new, preds in composed.items():
            expected = mean([mid[m] for m, to in STEP2.items() if to == new])
            row = comp.filter((pl.col("year") == year) & (pl.col("code") == new)
                              & (pl.col("indicator") == ind)).row(0, named=True)
            assert Decimal(row["value"]) == _q4(expected), (year, new, ind)
            assert Fraction(Decimal(row["value_exact"])) == expected
            assert row["value_basis"] == "rebased-from-6"
            assert row["status"] == "ok"
            # counted on the old basis: every one of the old counties it was formed from
            assert row["predecessors_expected"] == len(preds) == row["predecessors_with_value"]
            checked += 1
    assert checked == 3 * index_definitions().filter(pl.col("year").is_in(OLD_YEARS)).height
    for (year, basis, code, ind), v in values.items():
        if basis == NEW:
            row = comp.filter((pl.col("year") == year) & (pl.col("code") == code)
                              & (pl.col("indicator") == ind)).row(0, named=True)
            assert Decimal(row["value"]) == v
            assert row["value_basis"] == "published-3"
    assert set(comp["value_basis"].drop_nulls()) == {"rebased-from-6", "published-3"}
    assert set(comp["code"]) == {"21", "22", "23"}


def test_a_chain_names_the_old_units_that_are_missing(scores: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = scores
    rows = [r for r in path.read_text(encoding="utf-8").splitlines()
            if not r.startswith("2022,fict-county-2019,02,")]
    short = tmp_path / "short.csv"
    short.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    r = run("--mappings", str(FICTION), "build", "--scores", str(short), "--replace", "--out", str(out))
    assert r.exit_code == 1, r.output  # 2022 is incomplete: complete-coverage fails
    comp = pl.read_csv(out / "comparable.csv", schema_overrides={"code": pl.String})
    row = comp.filter((pl.col("year") == 2022) & (pl.col("code") == "21")
                      & (pl.col("indicator") == "dti")).row(0, named=True)
    assert row["value"] is None
    assert row["status"] == "incomplete"
    assert (row["predecessors_expected"], row["predecessors_with_value"]) == (3, 2)
    assert row["reason"] == "missing predecessors: 02 Brinmoor"


def test_ranks_are_competition_ranks_on_4_decimals(built) -> None:
    _, out = built
    comp = pl.read_csv(out / "comparable.csv", schema_overrides={"code": pl.String, "value": pl.String})
    for (year, ind), grp in comp.filter(pl.col("value").is_not_null()).group_by("year", "indicator"):
        vals = {c: Decimal(v) for c, v in grp.select("code", "value").iter_rows()}
        for code, rank, source in grp.select("code", "rank", "rank_source").iter_rows():
            assert rank == 1 + sum(1 for w in vals.values() if w > vals[code]), (year, ind, code)
            assert source == "computed"
    changes = comp.filter(pl.col("rank_change").is_not_null())["rank_change_basis"]
    assert changes.len()
    assert changes.str.starts_with(NEW).all()


def test_report_has_the_data_s_years_and_the_mapping_s_sizes(built) -> None:
    _, out = built
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "(DTI) 2020–2024 on the 3-unit basis" in html
    assert "DTI value 2023 → 2024 on the 3-unit basis" in html  # the slope chart's two years
    for year in (*OLD_YEARS, NEW_YEAR):
        assert f">{year}<" in html
    assert "The shipped public DTI record was not used" in html
    assert "published (3)" in html
    assert "rebased from 6" in html
    # the report's own words (the checks quote the DTI's index definitions, which name the
    # ministry's real bases, verbatim)
    own = html.split("<section id='checks'>")[0]
    assert "34-unit" not in own
    assert "63-unit" not in own
    assert "1 July 2025" not in own
    assert "vn-province" not in own
    assert "Greater Amberbrin" in html
    assert "Amberdale" in html


def test_no_shipped_fact_is_applied_to_the_fictional_units(built) -> None:
    _, out = built
    checks = pl.read_csv(out / "checks.csv")
    # the shipped claims, ranks and averages are of the Vietnamese provinces
    assert "rank-change-claims" not in set(checks["check"])
    assert "published-ranks" not in set(checks["check"])
    assert set(checks.filter(pl.col("check") == "aggregate-comparability")["verdict"]) == {"cannot-check"}
    text = (out / "checks.csv").read_text(encoding="utf-8")
    assert "vn-province" not in text
    assert "http" not in text  # no source URL of the shipped record
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "dti_record.csv" not in json.dumps(manifest)


def test_template_works_for_both_bases(tmp_path: Path) -> None:
    for units, n in (("6", 6), ("3", 3), (None, 6), (NEW, 3)):
        path = tmp_path / f"t{units}.csv"
        r = run("--mappings", str(FICTION), "template", *(["--units", units] if units else []),
                "-o", str(path))
        assert r.exit_code == 0, r.output
        frame = pl.read_csv(path)
        assert frame.height == n
    names = set(pl.read_csv(tmp_path / "t3.csv")["Tỉnh, thành phố"])
    assert names == {"Greater Amberbrin", "Dunfen Reach", "Fallowmere Coast"}
    r = run("--mappings", str(FICTION), "template", "--units", "4", "-o", str(tmp_path / "t4.csv"))
    assert r.exit_code == 2  # the intermediate basis is not one the application compares
    assert "6" in r.output
    assert "3" in r.output
    assert not (tmp_path / "t4.csv").exists()
    r = run("--mappings", str(FICTION), "template", "--units", "63", "-o", str(tmp_path / "t63.csv"))
    assert r.exit_code == 2


def test_shipped_template_sizes_unchanged(tmp_path: Path) -> None:
    for units, n in (("63", 63), ("34", 34), (None, 63)):
        path = tmp_path / f"t{units}.csv"
        r = run("template", *(["--units", units] if units else []), "-o", str(path))
        assert r.exit_code == 0, r.output
        assert pl.read_csv(path).height == n
    assert run("template", "--units", "6", "-o", str(tmp_path / "x.csv")).exit_code == 2


def test_explain_without_scores_is_refused() -> None:
    r = run("--mappings", str(FICTION), "explain", "21")
    assert r.exit_code == 2
    assert "--scores" in r.output


def test_explain_a_merged_unit(scores: tuple[Path, dict]) -> None:
    path, values = scores
    r = run("--mappings", str(FICTION), "explain", "Greater Amberbrin", "--year", "2023",
            "--scores", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["unit"]["code"] == "21"
    assert data["unit"]["basis"] == NEW
    year = data["years"][0]
    v = {c: Fraction(values[(2023, OLD, c, "dti")]) for c in ("01", "02", "03")}
    expected = ((v["01"] + v["02"]) / 2 + v["03"]) / 2  # through both steps
    assert Decimal(str(year["value"])) == _q4(expected)
    assert year["value_basis"] == "rebased-from-6"
    assert year["recomputed"] is not None  # recomputed through the chain, not "mean(?, ?)"
    assert _q4(Fraction(year["recomputed_exact"])) == _q4(expected)


def test_report_command_on_the_fictional_mapping(scores: tuple[Path, dict], tmp_path: Path) -> None:
    r = run("--mappings", str(FICTION), "report", "--scores", str(scores[0]), "--replace",
            "--out", str(tmp_path / "r"), "--lang", "vi")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "trên cơ sở 3 đơn vị" in html
    assert "Không dùng bộ dữ liệu DTI công khai" in html


def test_values_on_the_middle_basis_are_refused_not_dropped(tmp_path: Path) -> None:
    """Scores on the chain's middle basis are neither rebased nor published by a build of
    2019 -> 2024: refused naming the file and the two bases (they were read and then silently
    left out: every old year 'no published value on either basis', exit 1)."""
    path = tmp_path / "mid.csv"
    path.write_text("year,basis,code,indicator,value\n2020,fict-county-2021,11,dti,0.5\n"
                    "2024,fict-county-2024,21,dti,0.6\n", encoding="utf-8")
    r = run("--mappings", str(FICTION), "build", "--scores", str(path), "--replace",
            "--out", str(tmp_path / "out"), "--lang", "en")
    assert r.exit_code == 2, r.output
    assert "[basis-not-compared]" in r.output
    assert "fict-county-2021" in r.output
    assert f"{OLD} or {NEW}" in r.output
    assert not (tmp_path / "out").exists()


def _application_refusal(application: dict):
    """The one problem (exit 2) of the fictional mapping with this [application] table, which
    must name mapping.toml."""
    ms = load_mappings(FICTION)
    ms.application = application
    with pytest.raises(UsageError) as err:
        spec_for(ms)
    assert err.value.exit_code == 2
    (p,) = err.value.problems
    assert p.file == str(FICTION / "mapping.toml")
    return p


def test_application_bases_the_wrong_way_round_are_refused_in_mapping_toml() -> None:
    """[application] naming the newer basis as the source: refused at mapping.toml, saying to
    swap them (it said '<input>: no transition leads ...; add a transition file')."""
    p = _application_refusal({"source_basis": NEW, "target_basis": OLD})
    assert p.code == "no-path"
    assert p.expected == f"{OLD} -> {NEW}"
    assert "swap source_basis and target_basis" in (p.hint or "")


def test_units_of_two_bases_of_one_size_offer_only_their_ids() -> None:
    """Two bases of the same size cannot be named by it: the refusal lists the ids only (it
    offered the refused size as a choice: "expected 4 or a or b, found '4'")."""
    spec = Spec("a", "b", 4, 4)
    with pytest.raises(UsageError) as err:
        spec.basis_for_units("4")
    assert err.value.problems[0].expected == "a or b"
    assert spec.basis_for_units("b") == "b"
    with pytest.raises(UsageError) as err:
        Spec(OLD, NEW, 6, 3).basis_for_units("4")
    assert err.value.problems[0].expected == f"6 or 3 or {OLD} or {NEW}"


def test_a_misspelt_application_key_is_refused_not_ignored() -> None:
    """[application] source_bases = ... (a typo) was ignored: the build silently compared the
    detected oldest and newest bases instead of the one the table meant."""
    p = _application_refusal({"source_bases": MID, "target_basis": NEW})
    assert (p.code, p.column) == ("bad-mapping", "source_bases")
