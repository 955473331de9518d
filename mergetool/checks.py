"""Comparability checks: every way a cross-year comparison on the new basis can mislead.

Each check has a name, a one-line description (:data:`CHECKS`) and yields rows
``check, years, indicator, unit, verdict, details`` with verdict ``pass``,
``fail``, ``warn`` (comparable with a caveat) or ``cannot-check`` (the data
cannot support the check; the details say what is missing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import polars as pl

from mergetool.mapping import MappingSet
from mergetool.rebase import RebaseResult
from mergetool.record import index_definitions, published_aggregates
from mergetool.verify import TOLERANCE

SOURCE_BASIS, TARGET_BASIS = "vn-province-2024", "vn-province-2025"

CHECKS: dict[str, str] = {
    "same-unit-set": "the two years rank the same set of units (all 34 with a value)",
    "complete-coverage": "every unit of the year has a value (published, or all predecessors known)",
    "one-aggregation-method": "merged values of both years come from the same aggregation method",
    "value-range": "every value lies in [0, 1], the index's one scale",
    "methodology-change": "the index had the same structure (indicators, sub-indicators) in both years",
    "rank-rounding": "no rank depends on rounding (ties at 4 decimals, or values closer than 0.0001)",
    "aggregate-comparability": "a published average is a mean over 63 units or over 34 merged units",
    "published-vs-recomputed": "a published merged value equals the mean of its predecessors' values",
    "published-ranks": "ranks recomputed from a full set of values equal the published ranks",
    "rank-order-consistency": "where value and published rank are both known, higher values rank higher",
}

CHECK_SCHEMA = {"check": pl.String, "years": pl.String, "indicator": pl.String, "unit": pl.String,
                "verdict": pl.String, "details": pl.String}

Row = tuple[str, str, str, str, str, str]


def run_checks(comparable: pl.DataFrame, scores: pl.DataFrame, rebased: RebaseResult,
               mappings: MappingSet, methods: dict[str, str]) -> pl.DataFrame:
    """Every check's rows, in the order of :data:`CHECKS`."""
    ctx = Context(comparable, scores, rebased, mappings, methods)
    rows: list[Row] = []
    for fn in CHECK_FUNCTIONS:
        rows.extend(fn(ctx))
    return pl.DataFrame(rows, schema=CHECK_SCHEMA, orient="row")


class Context:
    def __init__(self, comparable: pl.DataFrame, scores: pl.DataFrame, rebased: RebaseResult,
                 mappings: MappingSet, methods: dict[str, str]) -> None:
        self.comparable = comparable
        self.scores = scores
        self.rebased = rebased
        self.mappings = mappings
        self.methods = methods
        self.defs = index_definitions()
        self.years = sorted(set(self.defs["year"]))
        self.n_units = len(mappings.bases[TARGET_BASIS])

    def indicators(self, year: int) -> list[str]:
        return self.defs.filter(pl.col("year") == year)["indicator"].to_list()

    def cells(self, year: int, indicator: str) -> pl.DataFrame:
        return self.comparable.filter((pl.col("year") == year) & (pl.col("indicator") == indicator))

    def pairs(self) -> Iterator[tuple[int, int]]:
        yield from zip(self.years, self.years[1:], strict=False)


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def same_unit_set(ctx: Context) -> Iterator[Row]:
    for y0, y1 in ctx.pairs():
        for ind in ctx.indicators(y1):
            if ind not in ctx.indicators(y0):
                continue
            a = set(ctx.cells(y0, ind).filter(pl.col("value").is_not_null())["code"])
            b = set(ctx.cells(y1, ind).filter(pl.col("value").is_not_null())["code"])
            years = f"{y0}-{y1}"
            if len(a) == len(b) == ctx.n_units:
                yield ("same-unit-set", years, ind, "", "pass", f"all {ctx.n_units} units in both years")
            elif a == b:
                yield ("same-unit-set", years, ind, "", "fail",
                       f"the same {len(a)} of {ctx.n_units} units in both years: ranks of a subset")
            else:
                detail = f"{y0}: {len(a)} units with a value, {y1}: {len(b)}; in both: {len(a & b)}"
                yield ("same-unit-set", years, ind, "", "fail", detail)


def complete_coverage(ctx: Context) -> Iterator[Row]:
    for year in ctx.years:
        for ind in ctx.indicators(year):
            cells = ctx.cells(year, ind)
            gaps = cells.filter(pl.col("value").is_null())
            if gaps.is_empty():
                yield ("complete-coverage", str(year), ind, "", "pass", f"{cells.height} of {cells.height}")
                continue
            partial = gaps.filter(pl.col("predecessors_with_value") > 0)
            examples = "; ".join(f"{c} {n}: {r}" for c, n, r in partial.select(
                "code", "unit_name", "reason").head(3).iter_rows())
            detail = (f"{gaps.height} of {cells.height} units have no value; {partial.height} of them "
                      "have some but not all predecessors' values")
            yield ("complete-coverage", str(year), ind, "", "fail",
                   detail + (f" (e.g. {examples})" if examples else ""))


def one_aggregation_method(ctx: Context) -> Iterator[Row]:
    def method(year: int, ind: str) -> set[str]:
        cells = ctx.cells(year, ind).filter(pl.col("value").is_not_null())
        used = set()
        if (cells["value_basis"] == "published-34").any():
            used.add("mean (ministry rule for the 34-unit publication)")
        if (cells["value_basis"] == "rebased-from-63").any():
            m = ctx.methods.get(ind, ctx.methods.get("*", "mean"))
            used.add("mean (ministry rule for the 34-unit publication)" if m == "mean" else m)
        return used

    for y0, y1 in ctx.pairs():
        for ind in ctx.indicators(y1):
            if ind not in ctx.indicators(y0):
                continue
            m0, m1 = method(y0, ind), method(y1, ind)
            years = f"{y0}-{y1}"
            if not m0 or not m1:
                yield ("one-aggregation-method", years, ind, "", "cannot-check", "no values in one year")
            elif m0 == m1 and len(m0) == 1:
                yield ("one-aggregation-method", years, ind, "", "pass", next(iter(m0)))
            else:
                yield ("one-aggregation-method", years, ind, "", "fail",
                       f"{y0}: {', '.join(sorted(m0))}; {y1}: {', '.join(sorted(m1))}")


def value_range(ctx: Context) -> Iterator[Row]:
    for year in ctx.years:
        for ind in ctx.indicators(year):
            vals = ctx.cells(year, ind).filter(pl.col("value").is_not_null())
            if vals.is_empty():
                yield ("value-range", str(year), ind, "", "cannot-check", "no values")
                continue
            bad = vals.filter((pl.col("value") < 0) | (pl.col("value") > 1))
            if bad.is_empty():
                yield ("value-range", str(year), ind, "", "pass",
                       f"{vals.height} values in [{_fmt(vals['value'].min())}, {_fmt(vals['value'].max())}]")
            else:
                yield ("value-range", str(year), ind, "", "fail", "; ".join(
                    f"{c} {n} = {v:g}" for c, n, v in bad.select("code", "unit_name", "value").iter_rows()))


def methodology_change(ctx: Context) -> Iterator[Row]:
    d = ctx.defs.filter(pl.col("indicator") == "dti")
    info = {y: (m, n, note) for y, m, n, note in d.select(
        "year", "methodology", "sub_indicators", "note").iter_rows()}
    for y0, y1 in ctx.pairs():
        i0 = set(ctx.indicators(y0))
        i1 = set(ctx.indicators(y1))
        (m0, n0, _), (m1, n1, note1) = info[y0], info[y1]
        years = f"{y0}-{y1}"
        if m0 == m1 and i0 == i1:
            yield ("methodology-change", years, "", "", "pass", f"both {m0} ({n0} sub-indicators)")
        else:
            added = ", ".join(sorted(i1 - i0)) or "none"
            removed = ", ".join(sorted(i0 - i1)) or "none"
            yield ("methodology-change", years, "", "", "warn",
                   f"{m0} ({n0} sub-indicators) -> {m1} ({n1} sub-indicators): indicators added: "
                   f"{added}; removed: {removed}. {note1 or ''}".strip())


def rank_rounding(ctx: Context) -> Iterator[Row]:
    for year in ctx.years:
        for ind in ctx.indicators(year):
            vals = ctx.cells(year, ind).filter(pl.col("value").is_not_null()).sort(
                "value", descending=True)
            if vals.height < 2:
                yield ("rank-rounding", str(year), ind, "", "cannot-check", f"{vals.height} value(s)")
                continue
            notes = []
            rows = vals.select("code", "unit_name", "value").rows()
            for (c0, n0, v0), (c1, n1, v1) in itertools.pairwise(rows):
                if round(v0, 4) == round(v1, 4):
                    notes.append(f"tie at {v0:.4f}: {c0} {n0} and {c1} {n1}")
                elif abs(v0 - v1) < TOLERANCE:
                    notes.append(f"{c0} {n0} {v0:.5f} and {c1} {n1} {v1:.5f} differ by less than "
                                 "the rounding error")
            if notes:
                yield ("rank-rounding", str(year), ind, "", "warn", "; ".join(notes))
            else:
                yield ("rank-rounding", str(year), ind, "", "pass",
                       f"{vals.height} values, none tied or within 0.0001")


def aggregate_comparability(ctx: Context) -> Iterator[Row]:
    aggs = published_aggregates()
    for year in ctx.years:
        for ind in ctx.indicators(year):
            pub = aggs.filter((pl.col("year") == year) & (pl.col("indicator") == ind))
            old = ctx.scores.filter((pl.col("year") == year) & (pl.col("indicator") == ind)
                                    & (pl.col("basis") == SOURCE_BASIS) & pl.col("value").is_not_null())
            new = ctx.cells(year, ind).filter(pl.col("value").is_not_null())
            n_old = len(ctx.mappings.bases[SOURCE_BASIS])
            mean63 = old["value"].mean() if old.height == n_old else None
            mean34 = new["value"].mean() if new.height == ctx.n_units else None
            if pub.is_empty() and mean63 is None and mean34 is None:
                continue
            not63 = f"not computable ({old.height} of {n_old} known)"
            not34 = f"not computable ({new.height} of {ctx.n_units} known)"
            parts = [f"mean over {n_old} units: " + (_fmt(mean63) if mean63 is not None else not63),
                     f"mean over {ctx.n_units} units: " + (_fmt(mean34) if mean34 is not None else not34)]
            verdict = "cannot-check"
            if not pub.is_empty():
                pv = pub["value"][0]
                parts.append(f"published {pub['statistic'][0]} {pv:.4f}")
                matches = [name for name, m in ((f"{n_old}-unit", mean63), (f"{ctx.n_units}-unit", mean34))
                           if m is not None and abs(m - pv) <= TOLERANCE]
                if matches:
                    verdict = "pass"
                    parts.append(f"the published average is the {' and '.join(matches)} mean")
                elif mean63 is not None or mean34 is not None:
                    verdict = "fail"
                    parts.append("the published average matches neither mean")
                else:
                    parts.append("which statistic it is cannot be told from the public record"
                                 + (f" ({pub['note'][0]})" if pub["note"][0] else ""))
            parts.append("a mean over 34 merged units weights each former province by 1/(its "
                         "unit's number of predecessors): a different statistic from the 63-unit mean")
            yield ("aggregate-comparability", str(year), ind, "", verdict, "; ".join(parts))


def published_vs_recomputed(ctx: Context) -> Iterator[Row]:
    from mergetool.verify import recompute_published

    pub = ctx.scores.filter((pl.col("basis") == TARGET_BASIS) & pl.col("value").is_not_null())
    if pub.is_empty():
        return
    result = recompute_published(pub, ctx.scores.filter(pl.col("basis") == SOURCE_BASIS),
                                 ctx.mappings, SOURCE_BASIS, TARGET_BASIS, carried=carried_keys(ctx.scores))
    verdicts = {"match": "pass", "mismatch": "fail", "not-computable": "cannot-check"}
    for row in result.rows.filter(pl.col("published").is_not_null()).iter_rows(named=True):
        if row["verdict"] not in verdicts:
            continue
        verdict = verdicts[row["verdict"]]
        if verdict == "pass" and "circular" in row["details"]:
            verdict = "warn"  # a match against a value copied from the published table proves nothing
        yield ("published-vs-recomputed", str(row["year"]), row["indicator"],
               f"{row['code']} {row['unit_name']}", verdict, row["details"])


def carried_keys(scores: pl.DataFrame) -> set[tuple[int, str, str, str]]:
    """Keys of shipped values that were carried over from the 34-unit table (not printed)."""
    from mergetool.record import read_record

    rec = read_record().filter(pl.col("value_origin") == "carried-from-34-basis")
    keys = {(y, b, c, i) for y, b, c, i in rec.select("year", "basis", "code", "indicator").iter_rows()}
    shipped = scores.filter(pl.col("file") == "shipped:dti_record.csv")
    return {k for k in shipped.select("year", "basis", "code", "indicator").iter_rows() if k in keys}


def published_ranks(ctx: Context) -> Iterator[Row]:
    from mergetool.ranking import competition_rank

    for basis in (SOURCE_BASIS, TARGET_BASIS):
        n = len(ctx.mappings.bases[basis])
        for year in ctx.years:
            for ind in ctx.indicators(year):
                s = ctx.scores.filter((pl.col("year") == year) & (pl.col("indicator") == ind)
                                      & (pl.col("basis") == basis))
                ranked = s.filter(pl.col("rank").is_not_null())
                if ranked.is_empty():
                    continue
                vals = s.filter(pl.col("value").is_not_null())
                label = f"{year} ({basis})"
                if vals.height < n:
                    yield ("published-ranks", label, ind, "", "cannot-check",
                           f"{vals.height} of {n} values known; {ranked.height} published ranks")
                    continue
                got = vals.with_columns(computed=competition_rank("value"))
                bad = got.filter(pl.col("rank").is_not_null() & (pl.col("rank") != pl.col("computed")))
                if bad.is_empty():
                    yield ("published-ranks", label, ind, "", "pass",
                           f"{ranked.height} published ranks equal the recomputed ones")
                else:
                    yield ("published-ranks", label, ind, "", "fail", "; ".join(
                        f"{c}: published {r}, recomputed {k}" for c, r, k in
                        bad.select("code", "rank", "computed").head(10).iter_rows()))


def rank_order_consistency(ctx: Context) -> Iterator[Row]:
    both = ctx.scores.filter(pl.col("value").is_not_null() & pl.col("rank").is_not_null())
    for (year, ind, basis), grp in both.group_by("year", "indicator", "basis", maintain_order=True):
        if grp.height < 2:
            continue
        rows = grp.sort("rank").select("code", "rank", "value").rows()
        bad = [f"{c0} (rank {r0}, {v0:.4f}) vs {c1} (rank {r1}, {v1:.4f})"
               for (c0, r0, v0), (c1, r1, v1) in itertools.pairwise(rows)
               if (r0 < r1 and round(v0, 4) < round(v1, 4)) or (r0 == r1 and round(v0, 4) != round(v1, 4))]
        label = f"{year} ({basis})"
        if bad:
            yield ("rank-order-consistency", label, ind, "", "fail", "; ".join(bad))
        else:
            yield ("rank-order-consistency", label, ind, "", "pass",
                   f"{grp.height} units with value and rank, in consistent order")


CHECK_FUNCTIONS: list[Callable[[Context], Iterator[Row]]] = [
    same_unit_set, complete_coverage, one_aggregation_method, value_range, methodology_change,
    rank_rounding, aggregate_comparability, published_vs_recomputed, published_ranks,
    rank_order_consistency,
]

#: What ``build --fail-on`` counts as a finding: failures only, warnings too, or nothing.
FAIL_ON: dict[str, tuple[str, ...]] = {"fail": ("fail",), "warn": ("fail", "warn"), "never": ()}


def findings(checks: pl.DataFrame, fail_on: str = "fail") -> pl.DataFrame:
    """Rows of ``checks`` whose verdict counts as a problem under ``fail_on`` (see :data:`FAIL_ON`).

    A comparison that the checks say can mislead is a finding even though every output was
    written: a pipeline must be able to tell "tables built" from "tables comparable".
    """
    return checks.filter(pl.col("verdict").is_in(list(FAIL_ON[fail_on])))
