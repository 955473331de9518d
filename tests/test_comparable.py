"""The comparable tables: the shipped record end to end, and complete synthetic panels."""

from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from mergetool.core.mapping import MappingSet
from mergetool.core.oracle import round_half_up, simple_rebase
from mergetool.core.synth import synth_panel
from mergetool.dti.comparable import gather_scores
from mergetool.dti.indicators import INDICATOR_IDS
from mergetool.dti.pipeline import build
from mergetool.errors import InputError
from mergetool.io.scores import year_from_name

OLD, NEW = "vn-province-2024", "vn-province-2025"
YEARS = [2020, 2021, 2022, 2023, 2024]


@pytest.fixture(scope="module")
def shipped_build(shipped: MappingSet):
    return build(gather_scores(shipped), shipped)


def cell(result, year: int, code: str, indicator: str = "dti") -> dict:
    return result.comparable.filter((pl.col("year") == year) & (pl.col("code") == code)
                                    & (pl.col("indicator") == indicator)).row(0, named=True)


def test_every_cell_is_present_once(shipped_build) -> None:
    comp = shipped_build.comparable
    assert comp.height == 5 * 12 * 34
    assert comp.select("year", "code", "indicator").is_unique().all()


def test_published_merged_value_is_used_and_verified(shipped_build) -> None:
    dn = cell(shipped_build, 2024, "48")
    assert (dn["value"], dn["value_basis"], dn["rank"], dn["status"]) == (0.7069, "published-34", 17, "ok")
    check = shipped_build.checks.filter((pl.col("check") == "published-vs-recomputed")
                                        & (pl.col("unit") == "48 Đà Nẵng")).row(0, named=True)
    assert check["verdict"] == "pass"
    assert "mean(0.8335, 0.5803)" in check["details"]


def test_incomplete_successors_are_reported_not_invented(shipped_build) -> None:
    dn = cell(shipped_build, 2021, "48")  # Đà Nẵng 0.6419 known, Quảng Nam 2021 not public
    assert dn["value"] is None
    assert dn["status"] == "incomplete"
    assert dn["reason"] == "missing predecessors: 49 Quảng Nam"
    assert (dn["predecessors_expected"], dn["predecessors_with_value"]) == (2, 1)


def test_complete_merges_are_rebased(shipped_build) -> None:
    hp = cell(shipped_build, 2021, "31")  # Hải Phòng 0.4675 + Hải Dương 0.4843
    assert hp["value"] == pytest.approx((0.4675 + 0.4843) / 2)
    assert hp["value_basis"] == "rebased-from-63"
    hue = cell(shipped_build, 2021, "46")  # unchanged unit: its own value
    assert hue["value"] == 0.5872


def test_methodology_gaps_are_marked(shipped_build) -> None:
    c = cell(shipped_build, 2020, "48", "awareness")
    assert (c["status"], c["reason"]) == ("not-comparable", "indicator not in the 2020 index")


def test_partial_years_get_no_computed_ranks(shipped_build) -> None:
    comp = shipped_build.comparable
    assert comp.filter(pl.col("rank_source") == "computed").is_empty()
    th = cell(shipped_build, 2024, "38")  # Thanh Hóa 5th/34, value not public
    assert (th["value"], th["rank"], th["rank_source"]) == (None, 5, "published")


def test_checks_are_honest_about_the_public_record(shipped_build) -> None:
    checks = shipped_build.checks
    cov = checks.filter((pl.col("check") == "complete-coverage") & (pl.col("years") == "2024")
                        & (pl.col("indicator") == "dti")).row(0, named=True)
    assert cov["verdict"] == "fail"
    agg = checks.filter((pl.col("check") == "aggregate-comparability") & (pl.col("years") == "2024")
                        & (pl.col("indicator") == "dti")).row(0, named=True)
    assert agg["verdict"] == "cannot-check"
    assert "0.6961" in agg["details"]
    ranks = checks.filter(pl.col("check") == "published-ranks")
    assert set(ranks["verdict"]) == {"cannot-check"}


# --- complete synthetic panels --------------------------------------------------------------------

@pytest.fixture(scope="module")
def panel_build(shipped: MappingSet):
    panel = pl.concat([synth_panel(shipped, OLD, [y], ["dti", "pillar_gov"], seed=y) for y in YEARS])
    return panel, build(panel, shipped)


def test_complete_panel_computes_and_ranks_every_unit(panel_build) -> None:
    _panel, result = panel_build
    dti = result.comparable.filter(pl.col("indicator") == "dti")
    assert dti["value"].null_count() == 0
    assert dti["rank"].null_count() == 0
    assert set(dti["rank_source"]) == {"computed"}
    assert dti.filter(pl.col("year") > 2020)["rank_change"].null_count() == 0


def test_complete_panel_matches_simple_oracle(panel_build, shipped: MappingSet) -> None:
    panel, result = panel_build
    (t,) = shipped.transitions
    edges = t.edges.select("from_code", "to_code", "share").rows()
    values = {(y, i, c): v for y, i, c, v in panel.select("year", "indicator", "code", "value").iter_rows()}
    expected = simple_rebase(values, edges)  # exact fractions
    for year in YEARS:
        rows = [(c, round_half_up(v)) for (y, i, c), v in expected.items() if y == year and i == "dti"]
        ranks = {c: 1 + sum(w > v for _c, w in rows) for c, v in rows}
        got = result.comparable.filter((pl.col("year") == year) & (pl.col("indicator") == "dti"))
        for code, value, value_exact, rank in got.select(
                "code", "value", "value_exact", "rank").iter_rows():
            # The exact mean to 18 places, the shown value its half-up rounding to 4: both exact.
            want = expected[(year, "dti", code)]
            assert abs(Fraction(value_exact) - want) <= Fraction(1, 2 * 10**18)
            assert Fraction(str(value)) == round_half_up(want)
            assert rank == ranks[code]
    prev = result.comparable.filter(pl.col("indicator") == "dti").pivot(
        on="year", index="code", values="rank")
    cur = result.comparable.filter((pl.col("indicator") == "dti") & (pl.col("year") == 2024))
    for code, change in cur.select("code", "rank_change").iter_rows():
        row = prev.filter(pl.col("code") == code).row(0, named=True)
        assert change == row["2023"] - row["2024"]


def test_complete_panel_checks_pass(panel_build) -> None:
    _panel, result = panel_build
    checks = result.checks.filter(pl.col("indicator") == "dti")
    for name in ("same-unit-set", "complete-coverage", "value-range", "one-aggregation-method"):
        assert set(checks.filter(pl.col("check") == name)["verdict"]) == {"pass"}, name


def test_user_scores_replace_the_shipped_record(tmp_path: Path, shipped: MappingSet) -> None:
    f = tmp_path / "dti_2021_63.csv"
    f.write_text("unit,dti\nQuảng Nam,0.4000\n", encoding="utf-8")
    scores = gather_scores(shipped, [f], basis=OLD)
    result = build(scores, shipped)
    dn = cell(result, 2021, "48")
    # The exact mean 0.52095 is kept; the shown and ranked value is it rounded half-up (as
    # Excel's ROUND), 0.5210, where float rounding would give 0.5209.
    assert str(dn["value_exact"].normalize()) == "0.52095"
    assert dn["value"] == 0.521


def test_year_from_file_name() -> None:
    assert year_from_name(Path("dti_2022_63.xlsx")) == 2022
    assert year_from_name(Path("scores.csv")) is None


def test_year_outside_the_index_is_refused(tmp_path: Path, shipped: MappingSet) -> None:
    f = tmp_path / "s.csv"
    f.write_text("year,unit,dti\n2019,Quảng Nam,0.4\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        gather_scores(shipped, [f], basis=OLD)
    (p,) = exc.value.problems
    assert (p.code, p.row, p.column, p.found) == ("year-out-of-range", 2, "year", "2019")


def test_indicator_ids_are_the_ones_in_the_table(shipped_build) -> None:
    assert set(shipped_build.comparable["indicator"]) == set(INDICATOR_IDS)


def test_an_empty_cell_never_erases_a_published_value(tmp_path, shipped) -> None:
    from mergetool.dti.comparable import gather_facts, gather_scores
    from mergetool.dti.pipeline import build

    path = tmp_path / "dti_2024_34.csv"  # the ministry layout, Khánh Hòa's value left blank
    path.write_text('Xếp hạng,"Tỉnh, thành phố",CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)\n16,Khánh Hòa,\n'
                    "1,Hà Nội,0.8241\n", encoding="utf-8")
    scores = gather_scores(shipped, [path], basis="vn-province-2025")
    table = build(scores, shipped, facts=gather_facts(scores)).comparable
    cell = table.filter((pl.col("year") == 2024) & (pl.col("code") == "56")
                        & (pl.col("indicator") == "dti")).row(0, named=True)
    assert (cell["value"], cell["rank"], cell["status"]) == (0.7071, 16, "ok")  # as published


def test_replace_with_only_a_34_unit_table_builds(tmp_path, shipped) -> None:
    from mergetool.dti.comparable import gather_facts, gather_scores
    from mergetool.dti.pipeline import build

    path = tmp_path / "dti_2024_34.csv"
    path.write_text("code,dti\n" + "".join(f"{c},0.{5000 + i}\n" for i, c in
                                          enumerate(sorted(shipped.bases["vn-province-2025"].codes))),
                    encoding="utf-8")
    scores = gather_scores(shipped, [path], replace=True, basis="vn-province-2025")
    result = build(scores, shipped, facts=gather_facts(scores, replace=True))
    dti24 = result.comparable.filter((pl.col("year") == 2024) & (pl.col("indicator") == "dti"))
    assert dti24["value"].is_not_null().sum() == 34
    assert result.rebased.values.is_empty()  # no 63-unit values: nothing rebased, no error
