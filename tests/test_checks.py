"""Each comparability check, once where it passes and once where it fails."""

from collections.abc import Iterator
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.core.mapping import MappingSet
from mergetool.core.ranking import competition_rank
from mergetool.core.synth import synth_panel
from mergetool.dti.checks import CHECKS, RankFact, findings, rank_bounds
from mergetool.dti.pipeline import build

OLD, NEW = "vn-province-2024", "vn-province-2025"


def panel(ms: MappingSet, years=(2023, 2024), basis=OLD, seed=1) -> pl.DataFrame:
    return pl.concat([synth_panel(ms, basis, [y], ["dti"], seed=seed + y) for y in years])


def verdicts(result, check: str, years: str | None = None, indicator: str = "dti") -> set[str]:
    rows = result.checks.filter((pl.col("check") == check)
                                & ((pl.col("indicator") == indicator) | (pl.col("indicator") == "")))
    if years is not None:
        rows = rows.filter(pl.col("years") == years)
    return set(rows["verdict"])


def drop(frame: pl.DataFrame, year: int, code: str) -> pl.DataFrame:
    return frame.filter(~((pl.col("year") == year) & (pl.col("code") == code)))


def test_every_check_is_documented_and_runs(shipped: MappingSet) -> None:
    result = build(panel(shipped), shipped)
    assert set(result.checks["check"]) <= set(CHECKS)
    assert {"same-unit-set", "complete-coverage", "value-range"} <= set(result.checks["check"])


def test_same_unit_set(shipped: MappingSet) -> None:
    p = panel(shipped)
    assert verdicts(build(p, shipped), "same-unit-set", "2023-2024") == {"pass"}
    assert verdicts(build(drop(p, 2024, "49"), shipped), "same-unit-set", "2023-2024") == {"fail"}


def test_complete_coverage(shipped: MappingSet) -> None:
    p = panel(shipped)
    assert verdicts(build(p, shipped), "complete-coverage", "2024") == {"pass"}
    result = build(drop(p, 2024, "49"), shipped)
    assert verdicts(result, "complete-coverage", "2024") == {"fail"}
    details = result.checks.filter((pl.col("check") == "complete-coverage") & (pl.col("years") == "2024")
                                   & (pl.col("indicator") == "dti"))["details"][0]
    assert "48 Đà Nẵng: missing predecessors: 49 Quảng Nam" in details


def test_one_aggregation_method(shipped: MappingSet) -> None:
    p = pl.concat([panel(shipped, years=(2023,)), panel(shipped, years=(2024,), basis=NEW)])
    assert verdicts(build(p, shipped), "one-aggregation-method", "2023-2024") == {"pass"}
    summed = build(p, shipped, methods={"*": "sum"})
    assert verdicts(summed, "one-aggregation-method", "2023-2024") == {"fail"}


def test_value_range(shipped: MappingSet) -> None:
    p = panel(shipped)
    assert verdicts(build(p, shipped), "value-range", "2024") == {"pass"}
    bad = p.with_columns(value=pl.when((pl.col("code") == "01") & (pl.col("year") == 2024))
                         .then(1.5).otherwise(pl.col("value")))
    assert verdicts(build(bad, shipped), "value-range", "2024") == {"fail"}


def test_methodology_change(shipped: MappingSet) -> None:
    result = build(panel(shipped, years=(2021, 2022, 2023, 2024)), shipped)
    assert verdicts(result, "methodology-change", "2021-2022") == {"pass"}
    assert verdicts(result, "methodology-change", "2023-2024") == {"warn"}


def test_rank_rounding(shipped: MappingSet) -> None:
    p = panel(shipped, years=(2024,))
    p = p.with_columns(value=0.95 * 0.97 ** pl.int_range(pl.len()).cast(pl.Float64))  # no near-ties
    assert verdicts(build(p, shipped), "rank-rounding", "2024") == {"pass"}
    tie = p.with_columns(value=pl.when(pl.col("code") == "01").then(0.9)
                         .when(pl.col("code") == "04").then(0.9).otherwise(pl.col("value")))
    result = build(tie, shipped)
    assert verdicts(result, "rank-rounding", "2024") == {"warn"}
    assert "tie at 0.9000: 01 Hà Nội and 04 Cao Bằng" in result.checks.filter(
        (pl.col("check") == "rank-rounding") & (pl.col("indicator") == "dti")
        & (pl.col("years") == "2024"))["details"][0]


def test_aggregate_comparability(shipped: MappingSet) -> None:
    p = panel(shipped, years=(2023,))
    shifted = p.with_columns(value=pl.col("value") - pl.col("value").mean() + 0.6783)  # published 2023
    assert verdicts(build(shifted, shipped), "aggregate-comparability", "2023") == {"pass"}
    off = p.with_columns(value=pl.col("value") - pl.col("value").mean() + 0.5)
    assert verdicts(build(off, shipped), "aggregate-comparability", "2023") == {"fail"}


def _published_dn(value: float) -> pl.DataFrame:
    old = panel(shipped_ms := _ms(), years=(2024,)).with_columns(
        value=pl.when(pl.col("code") == "48").then(0.8335).when(pl.col("code") == "49").then(0.5803)
        .otherwise(pl.col("value")))
    new = synth_panel(shipped_ms, NEW, [2024], ["dti"]).filter(pl.col("code") == "48").with_columns(
        value=pl.lit(value))
    return pl.concat([old, new])


def _ms() -> MappingSet:
    from mergetool.core.mapping import load_mappings

    return load_mappings()


def test_published_vs_recomputed(shipped: MappingSet) -> None:
    assert verdicts(build(_published_dn(0.7069), shipped), "published-vs-recomputed", "2024") == {"pass"}
    assert verdicts(build(_published_dn(0.7071), shipped), "published-vs-recomputed", "2024") == {"fail"}


def test_published_ranks(shipped: MappingSet) -> None:
    p = panel(shipped, years=(2024,))
    ranked = p.with_columns(rank=competition_rank("value"))
    assert verdicts(build(ranked, shipped), "published-ranks") == {"pass"}
    wrong = ranked.with_columns(rank=pl.when(pl.col("rank") == 1).then(2).otherwise(pl.col("rank")))
    assert verdicts(build(wrong, shipped), "published-ranks") == {"fail"}


def test_rank_order_consistency(shipped: MappingSet) -> None:
    p = panel(shipped, years=(2024,)).head(3).with_columns(
        value=pl.Series([0.9, 0.8, 0.7]), rank=pl.Series([1, 2, 3], dtype=pl.Int32))
    assert verdicts(build(p, shipped), "rank-order-consistency") == {"pass"}
    swapped = p.with_columns(rank=pl.Series([2, 1, 3], dtype=pl.Int32))
    assert verdicts(build(swapped, shipped), "rank-order-consistency") == {"fail"}


def test_rank_order_consistency_ties(shipped: MappingSet) -> None:
    # Two units sharing a rank must share their 4-decimal value; 0.90001 shows as 0.9000.
    p = panel(shipped, years=(2024,)).head(3).with_columns(
        value=pl.Series([0.9, 0.90001, 0.7]), rank=pl.Series([1, 1, 3], dtype=pl.Int32))
    assert verdicts(build(p, shipped), "rank-order-consistency") == {"pass"}
    split = p.with_columns(value=pl.Series([0.9, 0.8, 0.7]))
    result = build(split, shipped)
    assert verdicts(result, "rank-order-consistency") == {"fail"}
    (detail,) = result.checks.filter(pl.col("check") == "rank-order-consistency")["details"]
    assert "(rank 1, 0.9000) vs" in detail
    assert "(rank 1, 0.8000)" in detail


def test_a_check_is_one_decorated_function(shipped: MappingSet) -> None:
    from mergetool.dti.checks import CheckRow, Context, check, registered, unregister

    before = list(CHECKS)
    assert [c.name for c in registered()] == before

    @check("throwaway", "a check registered by this test and removed after it")
    def throwaway(ctx: Context) -> Iterator[CheckRow]:
        yield CheckRow(str(ctx.years[-1]), "dti", "", "warn", f"{ctx.n_units} units")

    try:
        assert list(CHECKS) == [*before, "throwaway"]
        assert CHECKS["throwaway"] == "a check registered by this test and removed after it"
        checks = build(panel(shipped), shipped).checks
        assert checks.filter(pl.col("check") == "throwaway").rows() == [
            ("throwaway", "2024", "dti", "", "warn", "34 units")]
        assert checks.row(-1)[0] == "throwaway"  # registration order is run order
        assert list(dict.fromkeys(checks["check"])) == [c for c in CHECKS if c in set(checks["check"])]
    finally:
        unregister("throwaway")
    assert list(CHECKS) == before
    assert "throwaway" not in CHECKS


def test_the_registry_refuses_a_taken_name_and_untyped_rows(shipped: MappingSet) -> None:
    from mergetool.dti.checks import CheckRow, Context, check, unregister

    before = list(CHECKS)
    with pytest.raises(ValueError, match="already registered"):
        check("value-range", "a second function under a taken name")(lambda ctx: iter(()))
    assert list(CHECKS) == before
    with pytest.raises(ValueError, match="verdict 'failed'"):
        CheckRow("2024", "dti", "", "failed", "a verdict no finding would count")

    @check("untyped", "a check that yields a bare tuple instead of a CheckRow")
    def untyped(ctx: Context) -> Iterator[tuple]:
        yield ("untyped", "2024", "dti", "", "fail", "a tuple")

    try:
        with pytest.raises(TypeError, match="not a CheckRow"):
            build(panel(shipped, years=(2024,)), shipped)
    finally:
        unregister("untyped")
    assert list(CHECKS) == before


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_has_a_description(name: str) -> None:
    assert len(CHECKS[name]) > 20


def test_findings_follow_fail_on() -> None:
    checks = pl.DataFrame({"check": ["a", "b", "c", "d"],
                           "verdict": ["pass", "warn", "fail", "cannot-check"]})
    assert findings(checks, "fail")["check"].to_list() == ["c"]
    assert findings(checks, "warn")["check"].to_list() == ["b", "c"]
    assert findings(checks, "never").is_empty()
    assert findings(checks.filter(pl.col("verdict") != "fail"), "fail").is_empty()


# --- rank bounds from the values and the other units' published (value, rank) facts -------------

@settings(deadline=None)  # a loaded machine once took 333 ms for an example that takes 13
@given(st.lists(st.integers(0, 40), min_size=2, max_size=30), st.data())
def test_rank_bounds_with_facts_always_hold_the_true_rank(ints, data) -> None:
    # Extends tests/test_ranking.py::test_rank_bounds_always_hold_the_true_rank: some units'
    # true ranks (or ranges around them) are published facts, which only tighten the bounds.
    values = {f"{i:02d}": Decimal(v) / 100 for i, v in enumerate(ints)}
    codes = sorted(values)
    known = {c: values[c] for c in data.draw(st.sets(st.sampled_from(codes), min_size=1))}

    def true(c: str) -> int:
        return 1 + sum(w > values[c] for w in values.values())

    facts = []
    for c in data.draw(st.sets(st.sampled_from(codes))):
        below, above = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
        facts.append(RankFact(c, values[c], max(1, true(c) - below), true(c) + above))
    for code in known:
        simple = rank_bounds(known, len(values), code)
        b = rank_bounds(known, len(values), code, [f for f in facts if f.code != code])
        assert b.lo <= true(code) <= b.hi
        assert simple.lo <= b.lo
        assert b.hi <= simple.hi
        exact_tie = [f for f in facts if f.code != code and f.code in known
                     and f.value == values[code] and f.lo == f.hi]
        if exact_tie:
            assert b.lo == b.hi == true(code)


def _scores(values: dict[str, float], year: int = 2022) -> pl.DataFrame:
    return pl.DataFrame(
        {"year": [year] * len(values), "basis": [OLD] * len(values), "code": list(values),
         "indicator": ["dti"] * len(values), "value": list(values.values()),
         "rank": [None] * len(values), "file": ["mine.csv"] * len(values),
         "row": list(range(2, 2 + len(values)))},
        schema={"year": pl.Int32, "basis": pl.String, "code": pl.String, "indicator": pl.String,
                "value": pl.Float64, "rank": pl.Int32, "file": pl.String, "row": pl.Int32})


def _facts(ranks: dict[str, tuple[int, str]], values: dict[str, float], year: int = 2022
           ) -> pl.DataFrame:
    from mergetool.dti.comparable import FACTS_SCHEMA

    return pl.DataFrame([
        {"year": year, "basis": OLD, "code": c, "indicator": "dti", "value": values.get(c),
         "decimals": 4, "value_origin": "printed", "rank": r, "rank_low": r, "rank_high": r,
         "rank_basis": how, "source": f"https://example.test/{c}", "origin": "shipped"}
        for c, (r, how) in ranks.items()], schema=FACTS_SCHEMA)


def _rank_rows(result) -> dict[str, tuple[str, str]]:
    rows = result.checks.filter((pl.col("check") == "published-ranks") & (pl.col("unit") != ""))
    return {u: (v, d) for u, v, d in rows.select("unit", "verdict", "details").iter_rows()}


def test_a_tie_with_a_firm_fact_fails_and_with_a_provisional_one_warns(shipped: MappingSet) -> None:
    # 01 and 02 share 0.6000; 01 is published 5th, 02 7th: they cannot both hold.
    values = {"01": 0.6, "02": 0.6}
    firm = build(_scores(values), shipped,
                 facts=_facts({"01": (5, "published"), "02": (7, "published")}, values))
    got = _rank_rows(firm)
    assert got["01 Hà Nội"][0] == got["02 Hà Giang"][0] == "fail"
    assert "02 Hà Giang 0.6000 is published rank 7" in got["01 Hà Nội"][1]
    # 01's rank provisional: its own row warns, and it tightens nothing into a failure.
    weak = build(_scores(values), shipped,
                 facts=_facts({"01": (5, "provisional"), "02": (7, "published")}, values))
    got = _rank_rows(weak)
    assert got["01 Hà Nội"][0] == "warn"
    assert got["02 Hà Giang"][0] == "warn"
    assert "provisional" in got["02 Hà Giang"][1]
    assert not (weak.checks.filter(pl.col("check") == "published-ranks")["verdict"] == "fail").any()


def test_two_rank_facts_for_one_unit_that_cannot_both_hold_fail(shipped: MappingSet) -> None:
    from mergetool.dti.comparable import FACTS_SCHEMA

    values = {"01": 0.6}
    facts = pl.concat([_facts({"01": (5, "published")}, values), pl.DataFrame([
        {"year": 2022, "basis": OLD, "code": "01", "indicator": "dti", "value": None,
         "decimals": None, "value_origin": None, "rank": 6, "rank_low": 6, "rank_high": 6,
         "rank_basis": "user-file", "source": "mine.csv row 2", "origin": "user"}],
        schema=FACTS_SCHEMA)])
    result = build(_scores(values), shipped, facts=facts)
    verdict, detail = _rank_rows(result)["01 Hà Nội"]
    assert verdict == "fail"
    assert "5 (published, https://example.test/01)" in detail
    assert "6 (user-file, mine.csv row 2)" in detail
