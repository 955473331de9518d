"""Rebasing: values on one basis -> values on another, with an audit row per contribution.

Methods (per indicator):

* ``mean`` — the DTI rule: the unweighted arithmetic mean of the predecessors'
  values. A predecessor split between successors counts once in each.
* ``weighted`` — ``sum(w * share * v) / sum(w * share)`` with ``w`` from a user
  weight table (e.g. population), optionally per year.
* ``sum`` — ``sum(share * v)``, for counts; totals are preserved when every
  predecessor's shares sum to 1.

Coverage policy: ``strict`` (default) leaves a successor empty unless every
predecessor has a value; ``partial`` computes over those present and flags it.
A chain of transitions is applied one step at a time. Every result depends on one year only, so
a large step's years run in groups side by side (threads; the output bytes do not depend on the
grouping), and a frame rebased often can carry its units as dense ids (:func:`encode_codes`).

Arithmetic (:mod:`mergetool.core.exact`): values are read as the decimals they were written as and
summed as integers, so the result is exact and independent of the order of the input rows.
``value_exact`` (Decimal(38, 18)) is the exact mean, weighted mean or sum rounded half-up once,
at the 18th decimal; ``value`` is that decimal as the nearest float. For ``weighted`` and
``sum`` the factors ``w * share`` (one float64 product per edge, or per row for yearly weights)
are taken as the exact binary numbers they are; everything after that is exact. Inputs beyond
what the integers hold are refused (``number-not-exact``), never rounded silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np
import polars as pl

from mergetool.core.exact import (
    DEC,
    FLOAT_EXACT,
    MAX_SCALE,
    exact_series,
    int_quotients,
    mean_exact,
    nearest_float,
    quotient_tables,
    read_decimal,
    round_quotient,
    scaled_decimal,
    scaled_quotient,
    table_quotient,
)
from mergetool.core.mapping import MappingSet, Transition
from mergetool.core.names import clean
from mergetool.core.provenance import build_manifest, preflight, sibling_manifest, write_set
from mergetool.errors import InputError, Problem, ProblemLog, UsageError
from mergetool.io.catalogue import NO_CATALOGUE, Catalogue
from mergetool.io.schema import DESCRIPTIVE_COLUMNS, SCORES_SCHEMA, YEAR_RANGE, Options
from mergetool.io.tables import ROW, parse_numbers, read_table, require_columns, write_frame

METHODS = ("mean", "weighted", "sum")
POLICIES = ("strict", "partial")

AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "transition": pl.String(), "year": pl.Int32(), "indicator": pl.String(),
    "successor_basis": pl.String(), "successor_code": pl.String(),
    "predecessor_basis": pl.String(), "predecessor_code": pl.String(),
    "predecessor_value": pl.Float64(), "share": pl.Float64(), "weight": pl.Float64(),
    "contribution": pl.Float64(), "n_used": pl.UInt32(), "n_expected": pl.UInt32(),
    "method": pl.String(),
}
RESULT_COLUMNS = ("year", "basis", "code", "indicator", "value", "value_exact", "method",
                  "n_expected", "n_used", "missing", "status")
#: ``value_exact``: the exact mean / weighted mean / sum as a decimal, rounded (half-up) only at
#: the 18th place; ``value`` is the nearest Float64. Display and ranks round ``value_exact``
#: half-up to 4 places (:mod:`mergetool.core.ranking`).


@dataclass
class RebaseResult:
    """Rebased values (one row per successor, year, indicator) and the audit of contributions."""

    values: pl.DataFrame
    audit: pl.DataFrame
    from_basis: str
    to_basis: str
    methods: dict[str, str] = field(default_factory=dict)
    policy: str = "strict"


def parse_methods(specs: tuple[str, ...] | list[str], default: str = "mean", *,
                  free: bool = False, catalogue: Catalogue = NO_CATALOGUE) -> dict[str, str]:
    """``["mean", "awareness=sum"]`` -> ``{"*": "mean", "awareness": "sum"}``.

    An indicator is named by id or label, any case (``DTI=sum`` is ``dti``); an unknown name, an
    unknown method, or one indicator given twice is a usage error, never silently ignored.
    Names are looked up in ``catalogue`` (an application's indicators).
    ``free``: a name that is not in the catalogue is kept as written (``population=sum`` for a table
    of any statistic); the caller must then refuse a name its input does not hold.
    """

    indicator_id, BY_ID = catalogue.id_of, catalogue.by_id
    methods = {"*": default}
    problems = []
    given: dict[str, str] = {}
    for spec in specs:
        ind, _, method = spec.rpartition("=")
        if method not in METHODS:
            problems.append(Problem("bad-option", f"unknown method {method!r}", column="--method",
                                    expected=" or ".join(METHODS), found=spec))
            continue
        key = "*"
        if ind:
            key = indicator_id(ind) or (clean(ind) if free else "")
            if not key:
                problems.append(Problem("bad-option", f"unknown indicator {ind!r} in {spec!r}",
                                        column="--method", expected=", ".join(BY_ID), found=spec,
                                        hint="name an indicator by its id, e.g. dti=mean"))
                continue
        if key in given and given[key] != spec:
            problems.append(Problem("bad-option", f"{spec!r} contradicts {given[key]!r}",
                                    column="--method", found=spec,
                                    hint="give each indicator one method"))
            continue
        given[key] = spec
        methods[key] = method
    if problems:
        raise UsageError(f"bad --method: {problems[0].message}", problems)
    return methods


def rebase(scores: pl.DataFrame, mappings: MappingSet, to_basis: str, *,
           methods: dict[str, str] | None = None, policy: str = "strict",
           weights: pl.DataFrame | None = None, audit: bool = True,
           shares: pl.DataFrame | None = None, from_basis: str | None = None) -> RebaseResult:
    """Rebase a long score frame (one basis) to ``to_basis``.

    ``from_basis`` declares the scores' basis (every row must be on it; a frame with no rows then
    rebases to no values; a frame without a ``basis`` column is on it); without it the one basis
    of the rows is used. ``code`` is text, or the dense ids of :func:`encode_codes` (encoded once
    at load time, for large frames rebased often).

    ``audit=False`` skips the per-contribution audit frame (for large batch runs).
    ``shares`` (``from_code, to_code, share``) fills a transition's unknown shares (divided
    units); without it, ``sum`` and ``weighted`` refuse such units (:mod:`mergetool.core.shares`).
    """

    if policy not in POLICIES:
        raise UsageError(f"unknown coverage policy {policy!r}", [Problem(
            "bad-option", f"unknown policy {policy!r}", column="--policy",
            expected=" or ".join(POLICIES), found=policy)])
    methods = methods or {"*": "mean"}
    if "basis" not in scores.columns:  # a frame of one declared basis may leave the column out
        if from_basis is None:
            raise UsageError("scores without a basis column need from_basis", [Problem(
                "missing-column", "the score frame has no basis column", column="basis",
                hint="add a basis column, or declare the basis with from_basis")])
        scores = scores.with_columns(basis=pl.lit(from_basis, pl.String))
        bases = [from_basis]  # declared: the column just added is not read back
    else:
        bases = _bases_of(scores["basis"])
    if len(bases) > 1 or (from_basis is None and not bases) or (from_basis and bases != [from_basis]
                                                                   and bases) or \
            "(no basis)" in bases:
        raise InputError.single(Problem(
            "mixed-basis", f"scores on {', '.join(bases) or 'no basis'}"
            + (f", not only {from_basis}" if from_basis else ""), hint="rebase one basis at a time"))
    from_basis = from_basis or bases[0]
    if scores.is_empty():  # nothing to rebase on a declared basis: no values, no contributions
        mappings.path(from_basis, to_basis)  # still a path that exists
        return RebaseResult(pl.DataFrame(schema={**dict.fromkeys(RESULT_COLUMNS, pl.String),
                                                 "year": pl.Int32, "value": pl.Float64,
                                                 "value_exact": DEC,
                                                 "n_expected": pl.UInt32, "n_used": pl.UInt32}
                                         ).select(RESULT_COLUMNS),
                            pl.DataFrame(schema=AUDIT_SCHEMA), from_basis, to_basis, methods, policy)
    if "weighted" in methods.values() and weights is None:
        raise UsageError("method 'weighted' needs a weight table (--weights FILE)", [Problem(
            "bad-option", "method 'weighted' needs a weight table", column="--method",
            found="weighted", hint="pass --weights FILE (unit, weight), or choose mean or sum")])
    if weights is not None and "weighted" not in methods.values():
        raise UsageError("--weights is used only by --method weighted", [Problem(
            "bad-option", "a weight table is given but no indicator uses method 'weighted'",
            column="--weights", hint="add --method weighted (or NAME=weighted), or drop --weights")])
    current = scores.select("year", "basis", "code", "indicator", "value").with_columns(
        partial=pl.lit(False))
    audits = []
    values = None
    steps = mappings.path(from_basis, to_basis)
    if shares is not None and not any(step.edges["share"].null_count() for step in steps):
        raise UsageError("--shares fills unknown shares, and no transition here has any", [Problem(
            "bad-option", "every share of the mapping is known: the shares table would do nothing",
            column="--shares", hint="drop --shares (it is for divided units whose shares the "
            "mapping leaves blank, as in vn-2025-wards)")])
    for k, step in enumerate(steps):
        if step.edges["share"].null_count():  # divided units with unknown shares (communes)
            from mergetool.core.shares import require_shares  # here: provinces have every share

            indicators = current["indicator"].cast(pl.String).unique().to_list()
            step = require_shares(step, methods, indicators, shares, mappings, present=current.filter(
                pl.col("value").is_not_null())["code"].unique())
        if weights is not None:
            _require_weights(weights, step)
        # checks over the whole step, so no problem depends on how its years are grouped
        current = _step_input(current, step, weights)
        if current["year"].is_sorted():  # flagged: the groups below then slice without a scan
            current = current.with_columns(pl.col("year").set_sorted())
        if weights is not None:  # the weights on the step's unit ids, once for all groups
            _weight_ids(weights, transition_index(step), step)
        groups = _year_groups(current)
        run = partial(_step_of_group, current=current, step=step, methods=methods, policy=policy,
                      weights=weights, audit=audit)
        if len(groups) > 1:  # years are independent: they run side by side, results in order
            with ThreadPoolExecutor(min(THREADS, len(groups))) as pool:
                parts = list(pool.map(run, groups))
        else:
            parts = [run(group) for group in groups]
        values = pl.concat([v for v, _ in parts])
        step_audit = pl.concat([a for _, a in parts])
        audits.append(step_audit)
        if k + 1 < len(steps):  # the next step's input
            current = values.select("year", "basis", "code", "indicator", "value", "value_exact",
                                    partial=pl.col("status") == "partial")
        if weights is not None and k + 1 < len(steps):  # the next step's weights
            weights = _carry_weights(weights, step)
    if len(steps) > 1 and values is not None:  # counted on the scores' own basis
        values = _chain_coverage(values, scores, mappings.composed(from_basis, to_basis))
    if values is None:  # same basis: identity
        values = current.with_columns(
            code=pl.col("code").cast(pl.String), indicator=pl.col("indicator").cast(pl.String),
            method=pl.lit("identity"), n_expected=pl.lit(1, pl.UInt32), n_used=pl.lit(1, pl.UInt32),
            missing=pl.lit(""), status=pl.lit("ok"), value_exact=exact_series(current["value"])
        ).select(RESULT_COLUMNS)
    audit_frame = pl.concat(audits) if audits else pl.DataFrame(schema=AUDIT_SCHEMA)
    if not audits:  # identity: the input order; a rebased step is already in key order
        values = values.sort("year", "indicator", "code")
    return RebaseResult(values, audit_frame, from_basis, to_basis, methods, policy)


def _step_input(current: pl.DataFrame, step: Transition, weights: pl.DataFrame | None
                ) -> pl.DataFrame:
    """``current`` with its codes as the step's unit ids, after the checks that look at every row
    of the step at once: a blank year, a value that is not a finite number, a code that is not a
    unit of the step's basis, a unit without a weight for a year it has a value in."""
    if current["year"].null_count():
        raise InputError.single(Problem(
            "bad-year", f"{current['year'].null_count()} row(s) have no year",
            expected="a year on every row", hint="give each row its year"))
    values = current["value"].cast(pl.Float64)
    # blank cells are not counted (numpy's test is the quicker where there are none)
    finite = (bool(np.isfinite(values.to_numpy()).all()) if values.null_count() == 0
              else bool(values.is_finite().all()))
    if not finite:
        bad = values.filter(values.is_not_null() & ~values.is_finite()).unique().sort().to_list()
        raise InputError.single(Problem(
            "bad-number", f"{len(bad)} value(s) are not finite numbers: "
            + ", ".join(map(str, bad[:5])), expected="a finite number or an empty cell",
            found=str(bad[0])))
    idx = transition_index(step)
    if current["code"].dtype != idx.from_enum:
        coded = current["code"].cast(pl.String).cast(idx.from_enum, strict=False)
        _refuse_unknown_units(current["code"], coded, step.from_basis)
        current = current.with_columns(code=coded)
    if weights is not None and "year" in weights.columns:
        used = current.filter(pl.col("value").is_not_null()).select(
            "year", pl.col("code").cast(pl.String)).unique()
        lacking = used.join(weights.select(pl.col("year").cast(used["year"].dtype), "code"),
                            on=["year", "code"], how="anti")
        if lacking.height:
            codes = sorted(set(lacking["code"].to_list()))
            raise InputError.single(Problem(
                "missing-weight", f"{len(codes)} unit(s) of {step.from_basis} have no weight for "
                "a year they are used in: " + ", ".join(codes[:10])
                + (" ..." if len(codes) > 10 else ""),
                hint="the weight table must list every predecessor (in every year, if it has "
                "years)"))
    return current


def _refuse_unknown_units(codes: pl.Series, ids: pl.Series, basis: str) -> None:
    """Refuse (``unknown-unit``) the codes where ``ids`` (their encoding on the basis) is null,
    all of them named, a blank code as ``(blank)``. The codes are read as text only then."""
    if not ids.null_count():
        return
    bad = sorted({"(blank)" if c is None else str(c)
                  for c in codes.cast(pl.String).filter(ids.is_null()).unique().to_list()})
    raise InputError.single(Problem(
        "unknown-unit", f"{len(bad)} code(s) are not units of {basis}: " + ", ".join(bad[:10]),
        expected=f"codes of {basis}", found=bad[0],
        hint="rebase reads scores on the transition's predecessor basis"))


def _chain_coverage(values: pl.DataFrame, scores: pl.DataFrame, chain: Transition) -> pl.DataFrame:
    """A chain's ``n_expected``, ``n_used`` and ``missing`` counted on the scores' basis: the
    units given (and lacking) a value that the chain composes into each result, not the
    intermediate units of its last step (which the user never gave)."""
    keys = ["year", "indicator", "code"]
    links = chain.edges.filter(pl.col("share").is_null() | (pl.col("share") > 0)).select(
        "from_code", code="to_code").unique()
    given = scores.filter(pl.col("value").is_not_null()).select(
        "year", indicator=pl.col("indicator").cast(pl.String),
        from_code=pl.col("code").cast(pl.String)).unique()
    grid = values.select("year", "indicator", "code").unique().join(links, on="code")
    have = grid.join(given, on=["year", "indicator", "from_code"], how="semi")
    lost = grid.join(given, on=["year", "indicator", "from_code"], how="anti")
    expected = grid.group_by(keys).agg(ne=pl.len().cast(pl.UInt32))
    used = have.group_by(keys).agg(nu=pl.len().cast(pl.UInt32))
    gaps = lost.sort("from_code").group_by(keys).agg(gap=pl.col("from_code").str.join(" "))
    return (values.join(expected, on=keys, how="left").join(used, on=keys, how="left")
            .join(gaps, on=keys, how="left")
            .with_columns(n_expected=pl.col("ne").fill_null(0), n_used=pl.col("nu").fill_null(0),
                          missing=pl.col("gap").fill_null(""))
            .select(values.columns))


#: A step's rows are cut into an even number of groups of consecutive whole years, at most about
#: ``GROUP_ROWS`` rows each (a year larger than that is a group of its own), from
#: ``PARALLEL_ROWS`` rows on; the groups run side by side on ``THREADS`` threads (numpy and polars
#: release the GIL). The groups are cut from the data alone, never from the machine: every result
#: depends on one year only, and what the exactness limits accept (:mod:`mergetool.core.exact`)
#: is decided per group, so the same input gives the same bytes, and the same refusals, on every
#: machine. Peak memory follows the groups in flight, not all years' data.
GROUP_ROWS = 1_000_000
PARALLEL_ROWS = 1_000_000
#: A bound on a group's rows even below ``PARALLEL_ROWS`` (tests lower it to force many groups);
#: a year larger than it is a group of its own.
CHUNK_ROWS = 8_000_000
THREADS = max(1, min(4, os.cpu_count() or 1))


def _step_of_group(group: tuple[int, int] | None, current: pl.DataFrame, *, step: Transition,
                   methods: dict[str, str], policy: str, weights: pl.DataFrame | None,
                   audit: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One group of years (``(first, last)``, None: every row), cut from ``current`` in the worker
    that rebases it, so only the groups in flight are held."""
    return rebase_step(_group_rows(current, group), step, methods, policy, weights, audit=audit)


def _group_rows(current: pl.DataFrame, group: tuple[int, int] | None) -> pl.DataFrame:
    """The rows of the years ``first..last`` (every row for None)."""
    if group is None:
        return current
    lo, hi = group
    years = current["year"]
    if years.is_sorted():  # a zero-copy slice
        start = int(years.search_sorted(lo, side="left"))
        return current.slice(start, int(years.search_sorted(hi, side="right")) - start)
    return current.filter(pl.col("year").is_between(lo, hi))


def _bases_of(basis: pl.Series) -> list[str]:
    """The sorted distinct bases of a column, ``(no basis)`` for blank cells (a one-basis column
    is told by its min and max)."""
    if basis.dtype == pl.String and not basis.null_count() and basis.len() and \
            basis.min() == basis.max():
        return [cast(str, basis[0])]
    found = basis.cast(pl.String).unique().to_list()
    return sorted(b for b in found if b is not None) + (["(no basis)"] if None in found else [])


def _year_groups(current: pl.DataFrame) -> list[tuple[int, int] | None]:
    """Groups of consecutive whole years as ``(first year, last year)``, in year order: ``[None]``
    (every row, one group) for a small frame. Depends on the rows' years only."""
    if current.height < PARALLEL_ROWS and current.height <= CHUNK_ROWS:
        return [None]
    size = min(GROUP_ROWS, CHUNK_ROWS)
    wanted = max(2, -(-current.height // max(1, size)))
    wanted += wanted % 2  # an even number: two or four threads share the groups evenly
    years = current["year"]
    first_year, last_year = int(cast(int, years[0])), int(cast(int, years[-1]))
    if years.is_sorted() and last_year - first_year < 10_000:
        # sorted: each year's rows found by binary search, not a scan
        span = pl.Series(range(first_year, last_year + 2), dtype=years.dtype)
        bounds = years.search_sorted(span, side="left").to_numpy()
        counts = pl.DataFrame({"year": span[:-1], "count": np.diff(bounds)}).filter(
            pl.col("count") > 0)
    else:
        counts = (years.rle().struct.unnest().select("value", count="len")
                  .rename({"value": "year"}) if years.is_sorted()
                  else years.value_counts(sort=False).sort("year"))
    cum = counts["count"].cum_sum().to_numpy()
    # group k ends with the year at which the running count first reaches k / wanted of the rows
    ends = np.unique(np.minimum(np.searchsorted(
        cum, current.height * np.arange(1, wanted + 1) / wanted), cum.size - 1))
    if ends.size == 1:
        return [None]
    first = counts["year"].to_list()
    starts = [0, *(ends[:-1] + 1).tolist()]
    return [(first[lo], first[hi]) for lo, hi in zip(starts, ends.tolist(), strict=True)]


def _year_chunks(current: pl.DataFrame) -> list[pl.DataFrame]:
    """The rows of each group of :func:`_year_groups` (for tests and callers that want frames)."""
    return [_group_rows(current, g) for g in _year_groups(current)]


def encode_codes(scores: pl.DataFrame | pl.LazyFrame, mappings: MappingSet, to_basis: str,
                 from_basis: str | None = None) -> pl.DataFrame:
    """``scores`` with ``code`` as the dense unit ids the engine works on (a ``pl.Enum`` of the
    first transition's predecessor codes, in code order) and ``indicator`` categorical.

    Encoding once at load time spares every :func:`rebase` of the frame the string work; the
    results are the same. A ``LazyFrame`` (``pl.scan_parquet(...)``) is encoded as it is read, so
    the text codes are never held whole. A code that is not a unit of the basis is refused
    (``unknown-unit``), as is a frame on no or several bases.
    """
    lazy = scores.lazy()
    names = lazy.collect_schema().names()
    bases: list[str | None] = [from_basis]
    if "basis" in names:
        bases = [*_bases_of(lazy.select(pl.col("basis").unique()).collect()["basis"])] or [
            from_basis]  # no rows: on the declared basis
    if len(bases) != 1 or bases[0] in (None, "(no basis)") or (from_basis and bases != [from_basis]):
        raise UsageError("encode_codes needs scores on one declared basis", [Problem(
            "mixed-basis", f"scores on {', '.join(b for b in bases if b) or 'no basis'}"
            + (f", not only {from_basis}" if from_basis else ""),
            hint="encode one basis at a time, naming it with from_basis")])
    from_basis = bases[0]
    steps = mappings.path(from_basis, to_basis)
    enum = transition_index(steps[0]).from_enum if steps else None
    schema = lazy.collect_schema()
    if enum is None or (schema["code"] == enum and schema["indicator"] == pl.Categorical):
        return scores.collect() if isinstance(scores, pl.LazyFrame) else scores
    coded = lazy.with_columns(code=pl.col("code").cast(pl.String).cast(enum, strict=False),
                              indicator=pl.col("indicator").cast(pl.Categorical))
    frame = coded.collect()
    if frame["code"].null_count():  # a code outside the basis (or blank): which?
        _refuse_unknown_units(lazy.select(pl.col("code").cast(pl.String)).collect()["code"],
                              frame["code"], from_basis)
    return frame.rechunk()  # contiguous columns: a step's year groups are plain slices


def _require_weights(weights: pl.DataFrame, step: Transition) -> None:
    """Every predecessor needs a weight: a missing one would silently drop out of the mean."""
    lacking = step.edges.select("from_code").unique().join(
        weights.select(from_code="code").unique(), on="from_code", how="anti")
    if lacking.height:
        codes = sorted(lacking["from_code"].to_list())
        raise InputError.single(Problem(
            "missing-weight", f"{len(codes)} unit(s) of {step.from_basis} have no weight: "
            + ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else ""),
            hint="the weight table must list every predecessor"))


def method_for(indicator: str, methods: dict[str, str]) -> str:
    return methods.get(indicator, methods.get("*", "mean"))


_METHOD_CODE = {"mean": 0, "sum": 1, "weighted": 2}
_METHOD_NAMES = tuple(sorted(_METHOD_CODE, key=_METHOD_CODE.__getitem__))


@dataclass(frozen=True)
class TransitionIndex:
    """A transition's edges as dense integer ids: computed once per transition (at load time for
    a batch run), so the engine joins and groups on integers, never on strings.

    Ids are positions in the sorted code lists, so id order is code order.
    """

    from_codes: pl.Series   # sorted codes of the predecessor basis (String)
    to_codes: pl.Series     # sorted codes of successors with a positive share (String)
    from_enum: pl.Enum
    e_from: np.ndarray      # positive-share edges sorted by (from, to): ids and shares
    e_to: np.ndarray
    share: np.ndarray
    start: np.ndarray       # e_from CSR: edges of predecessor f are start[f]:start[f + 1]
    degree: np.ndarray
    expected: np.ndarray    # n_expected of each successor
    t_start: np.ndarray     # edges ordered by (to, from): t_edge[t_start[t]:t_start[t + 1]]
    t_edge: np.ndarray
    first_to: np.ndarray    # the first successor of each predecessor
    max_degree: int
    has_isolated: bool      # a predecessor without any positive share
    share_known: np.ndarray  # False where the share is blank: a divided unit's part (mean only)


def transition_index(step: Transition) -> TransitionIndex:
    """The integer index of ``step``, cached on the transition (rebuilt if its edges change)."""
    cached = step.__dict__.get("_mergetool_index")
    if cached is not None and cached[0] is step.edges:
        return cached[1]
    from_codes = step.edges["from_code"].unique().sort()
    # A blank (unknown) share is a divided unit's part: mean counts it; sum and weighted refuse it.
    edges = step.edges.filter(pl.col("share").is_null() | (pl.col("share") > 0))
    to_codes = edges["to_code"].unique().sort()
    from_enum = pl.Enum(from_codes.to_list())
    ids = edges.select(f=pl.col("from_code").cast(from_enum).to_physical().cast(pl.Int64),
                       t=pl.col("to_code").cast(pl.Enum(to_codes.to_list())).to_physical()
                       .cast(pl.Int64), s=pl.col("share")).sort("f", "t")
    e_from, e_to = (ids[c].to_numpy() for c in ("f", "t"))
    share_known = ids["s"].is_not_null().to_numpy()
    share = ids["s"].fill_null(0.0).to_numpy()
    degree = np.bincount(e_from, minlength=from_codes.len())
    start = np.concatenate([[0], np.cumsum(degree)])
    expected = np.bincount(e_to, minlength=to_codes.len())
    t_edge = np.lexsort((e_from, e_to))
    t_start = np.concatenate([[0], np.cumsum(expected)])
    first_to = np.where(degree > 0, e_to[np.minimum(start[:-1], max(e_to.size - 1, 0))]
                        if e_to.size else 0, 0)
    index = TransitionIndex(from_codes, to_codes, from_enum, e_from, e_to, share, start, degree,
                            expected, t_start, t_edge, first_to, int(degree.max(initial=0)),
                            bool((degree == 0).any()), share_known)
    step.__dict__["_mergetool_index"] = (step.edges, index)
    return index


def _not_exact(message: str, hint: str) -> InputError:
    return InputError.single(Problem("number-not-exact", message, hint=hint))


def rebase_step(current: pl.DataFrame, step: Transition, methods: dict[str, str], policy: str,
                weights: pl.DataFrame | None, *, audit: bool = True
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One transition, on dense integer ids and exact scaled-integer sums.

    Units are the transition's ids, (year, indicator) a dense slot, and a result cell
    ``slot * n_successors + successor``: the join is an index gather over the edge arrays and the
    group-by a scatter-add. Values are read as exact decimals (:mod:`mergetool.core.exact`), summed as
    integers and divided once, so no result depends on the order of the input rows. Status and
    missing predecessors are worked out only for the cells short of predecessors.
    """
    idx = transition_index(step)
    nt, nfrom = idx.to_codes.len(), idx.from_codes.len()
    indicators, ii_all, enc = _encode(current, idx)
    ni = max(indicators.len(), 1)
    _refuse_unknown_units(current["code"], enc["fid"], step.from_basis)
    y0 = int(cast(int, current["year"].min())) if current.height else 0
    ny = (int(cast(int, current["year"].max())) - y0 + 1) if current.height else 1
    fid_all = enc["fid"].to_numpy().astype(np.int64)
    slot_all = _row_slots(current["year"], ii_all, y0, ni)
    del ii_all, enc  # peak memory follows the arrays still needed
    nslot = ny * ni
    # (year, indicator) slots present; each run's slot once where the rows came in runs
    slots = (np.unique(slot_all.value) if isinstance(slot_all, _Runs) else
             np.flatnonzero(np.bincount(slot_all, minlength=nslot)))
    runs = None  # each run's slot and length, where the rows came in a few long runs
    if isinstance(slot_all, _Runs):
        if slot_all.value.size <= MAX_RUNS:
            runs = slot_all
        slot_all = np.repeat(slot_all.value, slot_all.length)
    values_in = current["value"].cast(pl.Float64)
    partial_in = current["partial"] if current["partial"].any() else None
    # A step after the first reads the previous step's exact decimals (10**18 x value_exact),
    # not their floats: a chain's result is then the exact chain of exact means.
    exact_in = (current["value_exact"].to_physical() if "value_exact" in current.columns
                else None)
    if values_in.null_count():
        has_value = values_in.is_not_null().to_numpy()
        fid, slot = fid_all[has_value], slot_all[has_value]
        del fid_all, slot_all
        runs = None  # blank values leave the runs
        v = values_in.drop_nulls().to_numpy()
        exact_in = exact_in.filter(pl.Series(has_value)) if exact_in is not None else None
        part = (partial_in.filter(pl.Series(has_value)).to_numpy() if partial_in is not None
                else None)
    else:
        fid, slot, v = fid_all, slot_all, values_in.to_numpy()
        part = partial_in.to_numpy() if partial_in is not None else None
    method_of = np.array([_METHOD_CODE[method_for(i, methods)] for i in indicators.to_list()]
                         or [0], dtype=np.int8)

    # --- the join: each present value goes to each successor of its unit (an index gather);
    # the first successor of every unit at once, then the second of the split units, ...
    # parts[j - 1]: the rows of units with more than j successors, split_edges[j - 1] the edge
    # of their (j + 1)-th (each part a subset of the one before, found among its rows)
    parts: list[np.ndarray] = []
    split_edges: list[np.ndarray] = []
    if idx.max_degree > 1:
        r = np.flatnonzero((idx.degree > 1)[fid])
        fr = fid[r]
        for j in range(1, idx.max_degree):
            if j > 1:
                keep = idx.degree[fr] > j
                r, fr = r[keep], fr[keep]
            parts.append(r)
            split_edges.append(idx.start[fr] + j)
    jk = np.empty(fid.size + sum(r.size for r in parts), dtype=np.int64)
    if runs is not None:  # run by run: a slot's rows take their first successor in place
        first = 0
        for run_slot, length in zip(runs.value.tolist(), runs.length.tolist(), strict=True):
            out = jk[first:first + length]
            np.take(idx.first_to, fid[first:first + length], out=out, mode="clip")  # ids in range
            out += run_slot * nt
            first += length
    else:
        np.multiply(slot, nt, out=jk[:fid.size])
        jk[:fid.size] += idx.first_to[fid]
    at = fid.size
    for r, ej in zip(parts, split_edges, strict=True):
        jk[at:at + r.size] = slot[r] * nt + idx.e_to[ej]
        at += r.size
    if idx.has_isolated:  # a unit without a positive share contributes nothing
        parts.insert(0, np.flatnonzero(idx.degree[fid] > 0))
        jk = jk[np.concatenate([parts[0], fid.size + np.arange(jk.size - fid.size)])]
    else:
        parts.insert(0, None)  # type: ignore[arg-type]  # None: every row, ungathered (see joined)

    def joined() -> tuple[np.ndarray, np.ndarray]:
        """(input row, edge) of each joined row, built only when needed."""
        jr = np.concatenate([np.arange(fid.size) if r is None else r for r in parts])
        offs = np.concatenate([np.full(fid.size if r is None else r.size, j)
                               for j, r in enumerate(parts)])
        return jr, idx.start[fid[jr]] + offs

    def gather_rows(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a if r is None else a[r] for r in parts])
    ncell = nslot * nt
    n_used = np.bincount(jk, minlength=ncell)
    expected = np.tile(idx.expected, nslot)
    if (n_used > expected).any() or (not _distinct_in_runs(fid, runs) and
                                     _has_duplicates(slot, fid, nfrom, nslot)):
        # a repeated unit must not stand in for a missing one (n_used would still look complete)
        raise InputError.single(Problem(
            "duplicate-row", "a unit appears more than once for one year and indicator",
            hint="keep one row per unit, year and indicator"))
    # each cell's result: 10**18 x the decimal (int64 where it fits, from the mean's fast path)
    # and the float; cells of the 128-bit paths keep (integer part, fraction) in ``wide``
    scaled = np.zeros(ncell, dtype=np.int64)
    wide: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    value = np.full(ncell, np.nan)
    wsum = n_used.astype(np.float64) if audit else None  # the audit's denominators
    raw = np.ones(jk.size) if audit else None  # the audit's raw weight of each contribution

    try:
        x, d, inexact = read_decimal(v)  # ``inexact``: a value that passed alone with > 18 places
    except OverflowError as err:
        raise _not_exact(f"{err}: large and many-decimal values cannot be summed exactly together",
                         "round the values to the decimals they really have (the published "
                         "indices have 4)") from None
    if exact_in is not None and exact_in.null_count() == 0:
        x, d = exact_in, MAX_SCALE
    if inexact.any():
        cells = np.flatnonzero(np.bincount(jk[gather_rows(inexact)], minlength=ncell))
        if (n_used[cells] > 1).any() or (method_of[cells // nt % ni] == 1).any():
            raise _not_exact(
                "a value needs more than 18 decimal places and is combined with others",
                "round the values to at most 18 decimals (the published indices have 4)")
    methods_used = sorted(set(method_of[np.unique(slots % ni)].tolist())) if slots.size else [0]
    x_range = _min_max(x) if isinstance(x, np.ndarray) else (0.0, 0.0)  # bounds of the sums
    cell_method = method_of[jk // nt % ni] if len(methods_used) > 1 else None
    jr = je = None
    if cell_method is not None or audit:
        jr, je = joined()
    for m in methods_used:
        sel = np.flatnonzero(cell_method == m) if cell_method is not None else None
        k_ = jk if sel is None else jk[sel]
        used = n_used if sel is None else np.bincount(k_, minlength=ncell)
        # the cells with a value (every cell, as an arange, when none is empty)
        cells = np.arange(ncell) if np.count_nonzero(used) == ncell else np.flatnonzero(used)
        if _METHOD_NAMES[m] == "mean" and isinstance(x, np.ndarray):
            top = max(x_range[1], -x_range[0])
            at = None if cells.size == ncell else cells  # None: every cell, no gathers
            nmax = int(_pick(n_used, at).max()) if cells.size else 1
            if top * nmax < FLOAT_EXACT and nmax * 10 ** d < FLOAT_EXACT:
                # exact: every partial sum is an integer below 2**53
                # a selection (several methods) exists only with jr, joined above
                s = _pick(_scatter_rows(x, fid.size, parts, jk, ncell) if sel is None
                          else np.bincount(k_, weights=x[cast(np.ndarray, jr)[sel]], minlength=ncell),
                          at)
                fast = mean_exact(s.astype(np.int64), _pick(n_used, at), d)
                if fast is not None:
                    if at is None:
                        scaled, value = fast
                    else:
                        scaled[cells], value[cells] = fast
                    continue
                a_, c_ = round_quotient(pl.Series(s.astype(np.int64)).cast(pl.Int128),
                                        pl.Series(n_used[cells] * 10 ** d).cast(pl.Int128))
                wide.append((cells, a_, c_))
                continue
        def rows(sel: np.ndarray | None = sel) -> tuple[np.ndarray, np.ndarray]:
            nonlocal jr, je
            if jr is None or je is None:
                jr, je = joined()
            return (jr, je) if sel is None else (jr[sel], je[sel])

        at_c = None if cells.size == ncell else cells  # None: every cell, no gathers
        complete = _pick(n_used, at_c) == _pick(expected, at_c)  # each cell short of none

        def edge_scatter(per_edge: np.ndarray, xw: np.ndarray,
                         every: bool = bool(complete.all())
                         ) -> tuple[np.ndarray, np.ndarray | None]:
            """Per cell: sums of ``per_edge[edge] * x[row]`` and of ``per_edge[edge]`` over the
            joined rows, part by part (no joined arrays built; only where every unit has an
            edge, so a unit's first edge is ``start[unit]``)."""
            # a complete cell holds one row per edge of its successor (no unit twice: checked
            # above), so its sum of factors is the successor's, from the edges alone (None:
            # the caller reads it per successor)
            first = per_edge[idx.start[:-1]]  # each unit's first edge: a table gathered by unit
            nz = first != 0
            if nz.mean() < 0.5:  # a lower limb, zero but for split units: their rows alone
                if len(parts) > 1 and not (nz & (idx.degree < 2)).any():  # among the split rows
                    some = parts[1][nz[fid[parts[1]]]]
                else:
                    some = np.flatnonzero(nz[fid])
                k0, w0, x0 = jk[some], first[fid[some]], xw[some]
            else:
                k0, w0, x0 = jk[:fid.size], first[fid], xw
            # (float sums even over no rows: np.bincount of nothing is int64)
            den_ = None if every else np.bincount(k0, weights=w0, minlength=ncell).astype(
                np.float64, copy=False)
            w0 *= x0
            num_ = np.bincount(k0, weights=w0, minlength=ncell).astype(np.float64, copy=False)
            del w0, k0, x0
            at = fid.size
            for r, ej in zip(parts[1:], split_edges, strict=True):
                wj = per_edge[ej]
                if den_ is not None:
                    den_ += np.bincount(jk[at:at + r.size], weights=wj, minlength=ncell)
                wj *= xw[r]
                num_ += np.bincount(jk[at:at + r.size], weights=wj, minlength=ncell)
                at += r.size
            return num_, den_
        simple = sel is None and parts[0] is None and jr is None  # every row joined, in parts
        (q_, a_, c_), ws, a_rows = _general_sums(m, x, d, rows, edge_scatter if simple else None,
                                                 k_, cells, n_used, idx, weights, slot, ni, y0,
                                                 step, complete, x_range, audit=audit)
        if q_ is not None and cells.size == ncell:  # every cell: no scatter
            scaled, value = q_, nearest_float(q_)
        elif q_ is not None:
            scaled[cells], value[cells] = q_, nearest_float(q_)
        else:
            wide.append((cells, a_, c_))
        if wsum is not None:
            wsum[cells] = ws
        if raw is not None and a_rows is not None:
            raw[slice(None) if sel is None else sel] = a_rows
    if inexact.any():  # a lone value with more than 18 decimals is passed on untouched
        lone = np.flatnonzero(gather_rows(inexact))
        value[jk[lone]] = gather_rows(v)[lone]
    any_partial = ((np.bincount(jk[gather_rows(part)], minlength=ncell) > 0)
                   if part is not None and part.any() else None)

    # --- the output grid: present (year, indicator) slots x successors, in key order
    out_cells = (slots[:, None] * nt + np.arange(nt)[None, :]).ravel()
    out_at = None if slots.size == nslot else out_cells  # None: every cell, in order
    nu = _pick(n_used, out_at)
    ne = _pick(expected, out_at)
    ok = (nu == ne) if any_partial is None else (nu == ne) & ~_pick(any_partial, out_at)
    # status codes: 0 ok, 1 partial, 2 incomplete, 3 no-data
    status = np.where(ok, 0, 1 if policy == "partial" else 2).astype(np.int8)
    status[nu == 0] = 3
    computed = status <= 1
    exact = _exact_column(_pick(scaled, out_at), wide, out_cells)
    val = _pick(value, out_at)  # written below: a copy, or ``value`` itself (not read again)
    need = np.flatnonzero(computed & np.isnan(val))
    if need.size:  # the float of the decimal, where the quick division might differ from it
        val[need] = exact.gather(need).cast(pl.Float64).to_numpy()
    gaps = np.flatnonzero(nu < ne)
    absent = _absent(gaps, out_cells, nt, nfrom, idx, fid, slot) if gaps.size else None
    missing = pl.lit("", pl.String)
    if absent is not None and absent[0].size:
        miss = (pl.DataFrame({"r": absent[0], "c": idx.from_codes.gather(absent[1])})
                .group_by("r", maintain_order=True).agg(pl.col("c").str.join(" ")))
        missing = pl.lit(pl.repeat("", out_cells.size, dtype=pl.String, eager=True).scatter(
            miss["r"], miss["c"]))
    if not audit:  # the input-sized arrays are done with: the output is built without them
        del fid, slot, jk, x, v, parts, jr, je, split_edges
    out_slot = np.repeat(slots, nt)
    ind_ids = out_slot % ni
    # a column of one value (one method, every cell ok) is a literal, not a gather
    one = bool(status.size) and bool((status == status[0]).all())
    status_names = pl.Series(["ok", "partial", "incomplete", "no-data"])
    every_kept = one and status[0] <= 1  # every cell computed

    def kept(column: str) -> pl.Expr:
        return pl.col(column) if every_kept else pl.when(pl.col("computed")).then(pl.col(column))
    # one select: polars builds the columns in parallel
    frame = pl.DataFrame({
        "y": (out_slot // ni + y0).astype(np.int32), "i": ind_ids, "m": method_of[ind_ids],
        "st": status, "val": val, "x": exact, "ne": ne.astype(np.uint32),
        "nu": nu.astype(np.uint32), "computed": computed,
        # the output grid is every successor of each present slot, in code order
        "code": pl.concat([idx.to_codes] * slots.size, rechunk=True) if slots.size
        else idx.to_codes.clear(),
    }).select(
        year="y", basis=pl.lit(step.to_basis, pl.String), code="code",
        indicator=pl.lit(indicators).gather(pl.col("i")),
        value=kept("val"),
        method=pl.lit(_METHOD_NAMES[methods_used[0]], pl.String) if len(methods_used) == 1
        else pl.lit(pl.Series(_METHOD_NAMES)).gather(pl.col("m")),
        n_expected="ne", n_used="nu", missing=missing,
        status=pl.lit(status_names[int(status[0])], pl.String) if one
        else pl.lit(status_names).gather(pl.col("st")),
        value_exact=kept("x"))
    values = frame.select(RESULT_COLUMNS)
    if not audit:
        return values, pl.DataFrame(schema=AUDIT_SCHEMA)
    if jr is None or je is None or raw is None or wsum is None:  # all built when audit is set
        raise RuntimeError("the audit's joined rows, weights and denominators were not built")
    return values, _audit(step, idx, values, out_cells, jr, je, jk, v, raw, wsum, absent)


def _min_max(x: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of the values (0, 0 for none)."""
    return (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)


def _pick(a: np.ndarray, at: np.ndarray | None) -> np.ndarray:
    """``a[at]``, or ``a`` itself where ``at`` is None (every element, in order)."""
    return a if at is None else a[at]


#: Rows in at most this many runs of one slot are joined and checked run by run.
MAX_RUNS = 4096


def _distinct_in_runs(fid: np.ndarray, runs: _Runs | None) -> bool:
    """True when the rows are known to hold each (slot, unit) once: every slot in one run and
    each run's units strictly increasing (a sorted table). False: not known, check otherwise."""
    if runs is None or np.unique(runs.value).size != runs.value.size:
        return False
    at = 0
    for length in runs.length.tolist():
        part = fid[at:at + length]
        if not (part[1:] > part[:-1]).all():
            return False
        at += length
    return True


def _has_duplicates(slot: np.ndarray, fid: np.ndarray, nfrom: int, nslot: int) -> bool:
    """Whether a (year-indicator slot, unit) pair holds more than one value."""
    key = np.multiply(slot, nfrom)
    key += fid
    if nslot * nfrom <= 2**28:
        seen = np.zeros(nslot * nfrom, dtype=bool)
        seen[key] = True
        return int(np.count_nonzero(seen)) != key.size
    return bool(pl.Series(key).is_duplicated().any())


def _scatter_rows(x: np.ndarray, nrows: int, parts: list, jk: np.ndarray, ncell: int
                  ) -> np.ndarray:
    """``np.bincount(jk, weights=gather_rows(x))`` without gathering: the first successor of
    every row, then each further part. Float sums of integers below 2**53 are exact, so the
    order of the additions does not matter."""
    if parts[0] is not None:  # isolated units: the rows are a subset
        return np.bincount(jk, weights=np.concatenate([x[r] for r in parts]), minlength=ncell)
    out = np.bincount(jk[:nrows], weights=x, minlength=ncell)
    at = nrows
    for r in parts[1:]:
        out += np.bincount(jk[at:at + r.size], weights=x[r], minlength=ncell)
        at += r.size
    return out


def _exact_column(scaled: np.ndarray, wide: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                  out_cells: np.ndarray) -> pl.Series:
    """``value_exact`` (Decimal(38, 18)) of the output cells: ``scaled`` is 10**18 x the decimal;
    the cells in ``wide`` hold (integer part, fraction) instead."""
    q = pl.Series(scaled)
    if wide:
        q = q.cast(pl.Int128)
        for cells, a, c in wide:
            pos = np.searchsorted(out_cells, cells)  # out_cells is sorted
            inside = (pos < out_cells.size) & (out_cells[np.minimum(pos, out_cells.size - 1)]
                                               == cells)
            big = pl.DataFrame({"a": a[inside], "c": c[inside]}).select(
                pl.col("a").cast(pl.Int128) * pl.lit(10 ** 18, pl.Int128) + pl.col("c"))["a"]
            q = q.scatter(pos[inside], big)
    return scaled_decimal(q)


class _Runs(NamedTuple):
    """A per-row column held as runs: each run's value and length."""

    value: np.ndarray
    length: np.ndarray


def _row_slots(years: pl.Series, ii: np.ndarray | _Runs, y0: int, ni: int) -> np.ndarray | _Runs:
    """Each row's (year, indicator) slot ``(year - y0) * ni + indicator``: as runs where the
    indicators are and the (sorted) year is one within each run, else per row."""
    yn = years.to_numpy()
    if isinstance(ii, _Runs):
        ends = np.cumsum(ii.length)
        starts = ends - ii.length
        if years.is_sorted() and (yn[starts] == yn[ends - 1]).all():
            return _Runs((yn[starts].astype(np.int64) - y0) * ni + ii.value, ii.length)
        ii = np.repeat(ii.value, ii.length)
    slot = yn.astype(np.int64)
    slot -= y0
    slot *= ni
    slot += ii
    return slot


def _encode(current: pl.DataFrame, idx: TransitionIndex
            ) -> tuple[pl.Series, np.ndarray | _Runs, pl.DataFrame]:
    """Sorted indicators, each row's indicator id, and each row's unit id (``fid``).

    Long tables hold an indicator in long runs: they are encoded run by run (and the ids given
    as runs).
    """
    if current["code"].dtype == idx.from_enum:  # encoded at load time (encode_codes)
        enc = current.select(fid=pl.col("code").to_physical())
        runs = current["indicator"].rle().struct.unnest()
    else:
        with ThreadPoolExecutor(1) as pool:  # polars releases the GIL: the two run side by side
            later = pool.submit(lambda: current["indicator"].rle().struct.unnest())  # eager: the
            enc = current.select(                                           # lazy rle panics on chunks
                fid=pl.col("code").cast(pl.String).cast(idx.from_enum, strict=False).to_physical())
            runs = later.result()
    if current["indicator"].null_count():
        raise InputError.single(Problem("unknown-indicator", "empty indicator",
                                        hint="every row needs an indicator"))
    # indicators as text in text order, whether the column is text or categorical
    if runs.height <= max(1, current.height // 8):
        labels = runs["value"].cast(pl.String)
        indicators = labels.unique().sort()
        run_ids = labels.cast(pl.Enum(indicators.to_list())).to_physical().to_numpy()
        return indicators, _Runs(run_ids.astype(np.int64), runs["len"].to_numpy()), enc
    labels = current["indicator"].cast(pl.String)
    indicators = labels.unique().sort()
    ii = labels.cast(pl.Enum(indicators.to_list())).to_physical().to_numpy().astype(np.int64)
    return indicators, ii, enc


def _general_sums(m: int, x: np.ndarray | pl.Series, d: int, rows, edge_scatter, k_: np.ndarray,
                  cells: np.ndarray, n_used: np.ndarray, idx: TransitionIndex,
                  weights: pl.DataFrame | None, slot: np.ndarray, ni: int, y0: int,
                  step: Transition, complete: np.ndarray, x_range: tuple[float, float], *,
                  audit: bool = True
                  ) -> tuple[tuple, np.ndarray | None, np.ndarray | None]:
    """128-bit integer sums of ``A * X`` per cell and their exact quotient, with each cell's
    sum of factors as a float (for the audit; None without it, where a quicker path skips it).

    ``A`` is 1 (mean), the share (sum) or weight x share (weighted), each a float64 made an
    exact integer by one power of two ``2**K`` common to the step: no bit of a weight is lost.
    ``rows()`` gives each joined row's (input row, edge); ``edge_scatter`` (or None) sums
    per-edge factors over the joined rows without building them; ``complete`` marks the
    ``cells`` that have every predecessor; ``x_range`` is the (min, max) of ``x`` (an array).
    """
    name = _METHOD_NAMES[m]
    if name == "mean" or (weights is not None and "year" in weights.columns) or \
            edge_scatter is None or not isinstance(x, np.ndarray) or not idx.share_known.all():
        r_, e_ = rows()
    else:
        r_ = e_ = None

    def xs() -> pl.Series:
        return (pl.Series(x[r_].astype(np.int64)) if isinstance(x, np.ndarray) else x.gather(r_)
                ).cast(pl.Int128)
    if name == "mean":
        sums = pl.DataFrame({"k": k_, "t": xs()}).group_by("k").agg(pl.col("t").sum())
        sums = pl.DataFrame({"k": cells}).join(sums, on="k", how="left")
        return (_quotient(sums["t"], pl.Series(n_used[cells]).cast(pl.Int128), d, "mean"),
                n_used[cells].astype(np.float64), None)
    if e_ is not None and not idx.share_known[e_].all():  # rebase() refuses these first
        units = sorted(set(idx.from_codes.gather(idx.e_from[e_[~idx.share_known[e_]]]).to_list()))
        raise InputError.single(Problem(
            "missing-share", f"method {name} needs the shares of divided units, unknown for "
            + ", ".join(units[:10]) + (" ..." if len(units) > 10 else ""),
            hint="give real shares with --shares FILE, or use --method mean"))
    # a = w * share: per edge when weights do not vary by year, else per joined row
    per_edge = name == "sum" or (weights is not None and "year" not in weights.columns)
    if name == "sum":
        a_src = idx.share
    elif per_edge:
        a_src = _edge_weights(weights, idx, step) * idx.share
    else:
        a_src = _row_weights(weights, idx, r_, e_, slot, ni, y0, step) * idx.share[e_]
    ncell = n_used.size
    if not isinstance(x, np.ndarray):
        limbed = None
    elif e_ is None:  # per edge, every row joined: summed part by part
        limbed = _limb_sums(a_src, lambda limb: edge_scatter(limb, x), max(x_range[1], -x_range[0]),
                            cells, n_used, idx.e_to, idx.to_codes.len())
    else:
        xr = x[r_]
        where = e_ if per_edge else None

        def scatter(limb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if where is not None:
                limb = limb[where]
            return (np.bincount(k_, weights=limb * xr, minlength=ncell),
                    np.bincount(k_, weights=limb, minlength=ncell))
        xr_lo, xr_hi = _min_max(xr)
        limbed = _limb_sums(a_src, scatter, max(xr_hi, -xr_lo), cells, n_used,
                            idx.e_to if per_edge else None, idx.to_codes.len())
    if limbed is None and e_ is None:
        r_, e_ = rows()  # only now: the limbs could not hold these values
    a = None if e_ is None else a_src[e_] if per_edge else a_src  # each contribution's factor
    if limbed is not None:
        k2 = limbed.k2
        fast = None
        if name == "weighted" and isinstance(x, np.ndarray):
            fast = _table_weighted(limbed, x_range, d, complete,
                                   step.__dict__.setdefault("_mergetool_tables", {}))
        if fast is not None:  # the complete cells by table, the rest (and the unsure) divided
            q_t, den_t, sure = fast
            every = bool(complete.all())
            at = None if every else np.flatnonzero(complete)
            rest = np.flatnonzero(~complete)
            if not sure.all():
                unsure = np.flatnonzero(~sure) if at is None else at[~sure]
                rest = np.sort(np.concatenate([rest, unsure]))
            q_all = q_t if every else np.empty(cells.size, np.int64)
            ws = None
            if audit:
                ws = np.empty(cells.size)
                ws[slice(None) if at is None else at] = den_t() * 2.0 ** -k2
            if not every:
                q_all[at] = q_t
            if rest.size:
                if rest.size <= FEW_CELLS:  # a few: exact in Python integers, no 128-bit frames
                    num_i, den_i = limbed.exact_ints(rest)
                    den_a = pl.Series(den_i, dtype=pl.Int128)
                    _refuse_zero_weights(den_a, cells[rest], idx, step)
                    q_r = int_quotients(num_i, den_i, d)
                else:
                    num, den_a = limbed.exact(rest)
                    _refuse_zero_weights(den_a, cells[rest], idx, step)
                    q_r, _a, _c = _quotient(num, den_a, d, name)
                if q_r is None:  # cannot happen: every mean lies below 9 (checked)
                    raise RuntimeError("internal: a weighted mean of values below 9 reached 9")
                q_all[rest] = q_r
                if ws is not None:
                    ws[rest] = _factor_sums(den_a, k2)
            return (q_all, None, None), ws, a
        num, den_a = limbed.exact()
        if name == "weighted":
            _refuse_zero_weights(den_a, cells, idx, step)
        den = pl.Series([2 ** k2] * cells.size, dtype=pl.Int128) if name == "sum" else den_a
        ws = np.ones(cells.size) if name == "sum" else _factor_sums(den_a, k2)
        return _quotient(num, den, d, name), ws, a
    if a is None:  # cannot happen: e_ was joined above when the limbs could not hold the values
        raise RuntimeError("internal: the contributions' factors were not gathered")
    big_a, k2 = _exact_integers(a)
    top = int(cast(int, big_a.abs().max()) or 0) * (int(np.abs(x).max(initial=0))
                                                    if isinstance(x, np.ndarray)
                                                    else int(cast(int, x.abs().max()) or 0))
    if top * max(int(n_used[cells].max()) if cells.size else 1, 1) >= 2**126:
        raise _not_exact(f"weights x values too large to sum exactly (method {name})",
                         "rescale the weights or the values")
    frame = pl.DataFrame({"k": k_, "t": big_a * xs(), "a": big_a})
    sums = frame.group_by("k").agg(pl.col("t").sum(), pl.col("a").sum())
    sums = pl.DataFrame({"k": cells}).join(sums, on="k", how="left")
    if name == "sum":
        den = pl.Series([2 ** k2] * cells.size, dtype=pl.Int128)
        ws = np.ones(cells.size)
    else:
        den = sums["a"]
        _refuse_zero_weights(den, cells, idx, step)
        ws = _factor_sums(sums["a"], k2)
    return _quotient(sums["t"], den, d, name), ws, a


def _factor_sums(den: pl.Series, k2: int) -> np.ndarray:
    """Each cell's sum of factors ``a`` as a float (the audit's denominator), from the exact
    ``sum(A)`` with ``A = a * 2**k2``."""
    return (den.cast(pl.Float64) * 2.0 ** -k2).to_numpy()


def _refuse_zero_weights(den: pl.Series, cells: np.ndarray, idx: TransitionIndex,
                         step: Transition) -> None:
    """Refuse (``zero-weight``) cells whose weights x shares sum to 0 or less: their weighted
    mean is undefined, and a quotient by it would be a number made up."""
    bad = (den <= 0).fill_null(True).to_numpy()
    if not bad.any():
        return
    codes = sorted(set(idx.to_codes.gather(cells[bad] % idx.to_codes.len()).to_list()))
    raise InputError.single(Problem(
        "zero-weight", f"{len(codes)} unit(s) of {step.to_basis} get predecessors whose weight x "
        "share sums to 0 or less (a weighted mean of nothing): " + ", ".join(codes[:10])
        + (" ..." if len(codes) > 10 else ""), expected="weights above 0",
        hint="give every predecessor a positive weight (a weight x share that underflows to 0, "
        "such as 5e-324 x 0.25, counts as 0), or use --method mean"))


def _quotient(num: pl.Series, den: pl.Series, d: int, name: str
              ) -> tuple[np.ndarray, None, None] | tuple[None, np.ndarray, np.ndarray]:
    """``num / (den * 10**d)`` rounded half-up at 18 decimals: ``(q, None, None)`` with ``q``
    = 10**18 x the result (int64) where every result fits, else ``(None, integer part,
    fraction)``."""
    q = scaled_quotient(num, den, d)
    if q is not None:
        return q, None, None
    try:
        a_, c_ = round_quotient(num, den * pl.Series([10 ** d], dtype=pl.Int128))
    except OverflowError:
        what = "a mean" if name == "mean" else f"a result of method {name}"
        raise _not_exact(f"{what} exceeds 9.2e18", "rescale the values") from None
    return None, a_, c_


#: At most this many cells left to exact division are divided in Python integers
#: (:func:`mergetool.core.exact.int_quotients`): quicker for a few than building 128-bit frames.
FEW_CELLS = 4096


def _mantissas(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(m, shift, K)`` with ``a * 2**K == m * 2**shift`` exactly: m an odd int64 (or 0) below
    2**53, shift >= 0, K >= 0 the smallest power of two making every ``a`` an integer."""
    if a.size and not np.isfinite(a).all():
        raise _not_exact("a weight is not a finite number", "check the weight table")
    mant, exp = np.frexp(a)
    m = (mant * 2.0**53).astype(np.int64)  # exact: |mant| in [0.5, 1)
    nz = m != 0
    low = np.zeros(a.size, dtype=np.int64)
    low[nz] = np.log2((m[nz] & -m[nz]).astype(np.float64)).astype(np.int64)
    lsb = exp.astype(np.int64) - 53 + low  # exponent of the lowest set bit
    k = max(0, int(-lsb[nz].min())) if nz.any() else 0
    return m >> low, np.where(nz, lsb + k, 0), k


@dataclass
class _Limbs:
    """Exact per-cell sums as limbs: ``sum(A * X) = sum_l parts[l] * 2**los[l]`` and ``sum(A) =
    sum_l dparts[l] * 2**los[l]`` (int64 each, below 2**52), ``A = a * 2**k2``. Where ``a`` is per
    edge, ``succ[t, l]`` holds the limb-l sum over successor t's edges: a complete cell's
    ``dparts`` (None) are read from it through ``to`` (each cell's successor)."""

    k2: int
    los: list[int]
    parts: list[np.ndarray]
    dparts: list[np.ndarray | None]
    succ: np.ndarray | None
    to: np.ndarray | None

    def exact(self, at: np.ndarray | None = None) -> tuple[pl.Series, pl.Series]:
        """``(sum(A * X), sum(A))`` as Int128, for the cells ``at`` (positions; None: all)."""
        n = self.to.size if self.to is not None else (self.parts[0].size if self.parts else 0)
        size = n if at is None else at.size
        num = pl.Series(np.zeros(size, dtype=np.int64)).cast(pl.Int128)
        den = num.clone()
        for col, (lo, part, dpart) in enumerate(zip(self.los, self.parts, self.dparts, strict=True)):
            if dpart is None:
                dpart = cast(np.ndarray, self.succ)[cast(np.ndarray, self.to), col]
            scale = pl.lit(2 ** lo, pl.Int128)
            step = pl.DataFrame({"n": num, "d": den, "p": _pick(part, at),
                                 "q": _pick(dpart, at)}).select(
                n=pl.col("n") + pl.col("p").cast(pl.Int128) * scale,
                d=pl.col("d") + pl.col("q").cast(pl.Int128) * scale)
            num, den = step["n"], step["d"]
        return num, den

    def exact_ints(self, at: np.ndarray) -> tuple[list[int], list[int]]:
        """``(sum(A * X), sum(A))`` as Python integers, for the few cells ``at``."""
        num = [0] * at.size
        den = [0] * at.size
        for col, (lo, part, dpart) in enumerate(zip(self.los, self.parts, self.dparts, strict=True)):
            dsel = (cast(np.ndarray, self.succ)[cast(np.ndarray, self.to)[at], col] if dpart is None
                    else dpart[at])
            num = [n + (p << lo) for n, p in zip(num, part[at].tolist(), strict=True)]
            den = [n + (p << lo) for n, p in zip(den, dsel.tolist(), strict=True)]
        return num, den

    def successor_den(self) -> pl.Series:
        """Each successor's exact ``sum(A)`` over its edges (Int128)."""
        succ = cast(np.ndarray, self.succ)
        terms = [pl.lit(pl.Series(succ[:, col])).cast(pl.Int128) * pl.lit(2 ** lo, pl.Int128)
                 for col, lo in enumerate(self.los)]
        return pl.select(den=pl.sum_horizontal(terms) if terms else pl.lit(
            pl.Series(np.zeros(succ.shape[0], dtype=np.int64))).cast(pl.Int128))["den"]


def _limb_sums(a: np.ndarray, scatter, xmax: float, cells: np.ndarray, n_used: np.ndarray,
               edge_to: np.ndarray | None = None, nt: int = 0) -> _Limbs | None:
    """Exact ``sum(A * X)`` and ``sum(A)`` per cell with ``A = a * 2**K``, by float
    ``np.bincount`` over limbs of A: each limb is small enough that every partial sum of
    ``limb * X`` stays an integer below 2**52, so float addition is exact and order-free.
    ``a`` is per joined row or per edge (then ``edge_to`` gives each edge's successor, of
    ``nt``); ``scatter(limb)`` gives, per cell, the sums of ``limb * X`` and of ``limb`` over
    the joined rows (the latter None where every cell is complete and ``a`` per edge: each is
    then its successor's sum); ``xmax`` bounds |X|.

    None when the values are too wide for limbs (the caller sums in 128-bit integers).
    """
    m, shift, k2 = _mantissas(a)
    if (m < 0).any():
        return None
    nmax = int(_pick(n_used, None if cells.size == n_used.size else cells).max()) if cells.size \
        else 1
    bits = 52 - int(xmax).bit_length() - nmax.bit_length()
    if bits < 8:
        return None
    width = int((np.frexp(m.astype(np.float64))[1] + shift).max(initial=0))  # bits of each A
    if width + 52 - bits >= 126:  # sums below 2**126: A < 2**width, |X| * n < 2**(52 - bits)
        return None
    um = m.astype(np.uint64)
    los: list[int] = []
    parts: list[np.ndarray] = []
    dparts: list[np.ndarray | None] = []
    succ: list[np.ndarray] = []
    # limbs from the top: bits [lo, hi) of A. Factors of few bits (a whole weight times a share
    # of 1) then sit in the top limb alone, and the lower limbs are zero but for split units
    hi = max(width, 1)
    while hi > 0:
        lo = max(0, hi - bits)
        mask = np.uint64((1 << (hi - lo)) - 1)
        r = lo - shift
        right = um >> np.clip(r, 0, 63).astype(np.uint64)
        left = um << np.clip(-r, 0, bits).astype(np.uint64)
        limb = (np.where(r >= 0, right, left) & mask).astype(np.float64)
        hi = lo
        if not limb.any():
            continue
        psum, dsum = scatter(limb)
        los.append(lo)
        at = None if cells.size == psum.size else cells  # None: every cell, no gathers
        parts.append(_pick(psum, at).astype(np.int64))
        dparts.append(None if dsum is None else _pick(dsum, at).astype(np.int64))
        if edge_to is not None:  # exact: a successor has at most nmax edges of limbs < 2**bits
            succ.append(np.bincount(edge_to, weights=limb, minlength=nt).astype(np.int64))
        del psum, dsum
    if edge_to is None and any(dp is None for dp in dparts):
        raise RuntimeError("internal: limb sums of A were left to edges that were not given")
    table = np.stack(succ, axis=1) if succ else (np.zeros((nt, 0), np.int64)
                                                 if edge_to is not None else None)
    return _Limbs(k2, los, parts, dparts, table, cells % nt if edge_to is not None else None)


def _table_weighted(limbed: _Limbs, x_range: tuple[float, float], d: int, complete: np.ndarray,
                    cache: dict
                    ) -> tuple[np.ndarray, Callable[[], np.ndarray], np.ndarray] | None:
    """A weighted mean's complete cells by their successors' quotient tables
    (:func:`mergetool.core.exact.table_quotient`): ``(q, den, sure)`` for those cells, ``den()``
    their exact ``sum(A)`` as floats, ``q`` exact where ``sure``. None where the tables do
    not apply: a negative value (the limbs then hold signed sums), a mean that could reach 9
    (q would not fit an int64), or denominators too wide. ``cache`` keeps the tables of a step
    for its other groups of years."""
    if limbed.succ is None or limbed.to is None or not complete.any() or not limbed.to.size:
        return None
    if x_range[0] < 0 or x_range[1] >= 9 * 10 ** d:  # a mean lies within its values
        return None
    # the successors' denominators and tables depend on the edges' limbs only: the same for
    # every group of years of a step (kept on the step, a few weight tables at most)
    key = (tuple(limbed.los), d, limbed.succ.shape, limbed.succ.tobytes())
    found = cache.get(key)
    if found is None:
        den = limbed.successor_den()
        # den <= 0: a weighted mean without weights, refused by the long division's path
        found = (den, None if (den <= 0).any() else quotient_tables(den, limbed.succ, limbed.los, d))
        if len(cache) >= 8:
            cache.clear()
        cache[key] = found
    den, tables = found
    if tables is None:
        return None
    every = bool(complete.all())
    to = limbed.to if every else limbed.to[complete]
    q, sure = table_quotient(limbed.parts if every else [p[complete] for p in limbed.parts], to,
                             *tables)
    return q, lambda: den.cast(pl.Float64).to_numpy()[to], sure


def _exact_integers(a: np.ndarray) -> tuple[pl.Series, int]:
    """``(A, K)`` with ``A = a * 2**K`` exactly, as Int128, for the smallest K >= 0."""
    odd, shift, k = _mantissas(a)  # a * 2**K == odd * 2**shift
    if int(shift.max(initial=0)) + 53 >= 126:
        raise _not_exact("the weights span too many orders of magnitude to sum exactly",
                         "rescale the weights")
    pow2 = pl.Series([2 ** i for i in range(int(shift.max(initial=0)) + 1)], dtype=pl.Int128)
    return pl.Series(odd).cast(pl.Int128) * pow2.gather(shift), k


def _weight_ids(weights: pl.DataFrame, idx: TransitionIndex, step: Transition
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The weight table's rows as (unit id, weight, year or None) on the step's ids, for units of
    the step's basis: worked out once per step and weight table (cached on the step), not once
    per group of years."""
    cached = step.__dict__.get("_mergetool_weight_ids")
    if cached is not None and cached[0] is weights and cached[1] is idx:
        return cached[2]
    fids = weights.select(pl.col("code").cast(pl.String).cast(idx.from_enum, strict=False)
                          .to_physical().cast(pl.Int64))["code"]
    keep = fids.is_not_null()
    found = (fids.filter(keep).to_numpy(), weights["weight"].filter(keep).cast(pl.Float64).to_numpy(),
             weights["year"].filter(keep).to_numpy().astype(np.int64)
             if "year" in weights.columns else None)
    step.__dict__["_mergetool_weight_ids"] = (weights, idx, found)
    return found


def _edge_weights(weights: pl.DataFrame | None, idx: TransitionIndex, step: Transition
                  ) -> np.ndarray:
    """Each edge's predecessor weight (a table without years)."""
    if weights is None:
        raise UsageError("method 'weighted' needs a weight table (--weights FILE)")
    f, w, _years = _weight_ids(weights, idx, step)
    table = np.full(idx.from_codes.len(), np.nan)
    table[f] = w
    got = table[idx.e_from]
    if np.isnan(got).any():
        codes = idx.from_codes.gather(np.unique(idx.e_from[np.isnan(got)])).to_list()
        raise InputError.single(Problem(
            "missing-weight", f"{len(codes)} unit(s) of {step.from_basis} have no weight: "
            + ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else ""),
            hint="the weight table must list every predecessor"))
    return got


def _row_weights(weights: pl.DataFrame | None, idx: TransitionIndex, r_: np.ndarray,
                 e_: np.ndarray, slot: np.ndarray, ni: int, y0: int, step: Transition) -> np.ndarray:
    """Each joined row's predecessor weight (by year when the table has years)."""
    if weights is None:
        raise UsageError("method 'weighted' needs a weight table (--weights FILE)")
    f, w, wyears = _weight_ids(weights, idx, step)
    nfrom = idx.from_codes.len()
    if wyears is not None:
        years = wyears - y0
        ny = int(slot.max() // ni + 1) if slot.size else 1
        inside = (years >= 0) & (years < ny)
        table = np.full(ny * nfrom, np.nan)
        table[years[inside] * nfrom + f[inside]] = w[inside]
        got = table[(slot[r_] // ni) * nfrom + idx.e_from[e_]]
    else:
        table = np.full(nfrom, np.nan)
        table[f] = w
        got = table[idx.e_from[e_]]
    if np.isnan(got).any():
        lacking = np.unique(idx.e_from[e_][np.isnan(got)])
        codes = idx.from_codes.gather(lacking).to_list()
        raise InputError.single(Problem(
            "missing-weight", f"{len(codes)} unit(s) of {step.from_basis} have no weight for a "
            "year they are used in: " + ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else ""),
            hint="the weight table must list every predecessor (in every year, if it has years)"))
    return got


def _absent(gaps: np.ndarray, out_cells: np.ndarray, nt: int, nfrom: int, idx: TransitionIndex,
            fid: np.ndarray, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For output rows short of predecessors: (output row, predecessor id, edge) of each
    predecessor without a value, in row then code order."""
    cell = out_cells[gaps]
    to = cell % nt
    cnt = idx.expected[to]
    row_rep = np.repeat(gaps, cnt)
    pos = np.repeat(idx.t_start[to], cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    edges = idx.t_edge[pos]
    pred = idx.e_from[edges]
    key = np.repeat(cell // nt, cnt) * nfrom + pred
    present_key = slot * nfrom + fid
    if (out_cells.max() // nt + 1) * nfrom <= 2**27:
        seen = np.zeros(int((out_cells.max() // nt + 1) * nfrom), dtype=bool)
        seen[present_key] = True
        missing = ~seen[key]
    else:
        missing = ~pl.Series(key).is_in(pl.Series(present_key)).to_numpy()
    return row_rep[missing], pred[missing], edges[missing]


def _audit(step: Transition, idx: TransitionIndex, values: pl.DataFrame, out_cells: np.ndarray,
           jr: np.ndarray, je: np.ndarray, jk: np.ndarray, v: np.ndarray, raw: np.ndarray,
           wsum: np.ndarray, absent: tuple[np.ndarray, np.ndarray, np.ndarray] | None
           ) -> pl.DataFrame:
    """One row per contribution (and per missing predecessor), sorted by key and codes.

    ``weight`` is the contribution's share of the result: raw weight / sum of raw weights (1 for
    the mean, w x share for weighted), the share itself for a sum.
    """
    row_of_cell = np.full(int(out_cells.max()) + 1 if out_cells.size else 0, -1, dtype=np.int64)
    row_of_cell[out_cells] = np.arange(out_cells.size)
    used_rows = row_of_cell[jk]
    is_sum = (values["method"] == "sum").to_numpy()[used_rows]
    denom = wsum[jk]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(is_sum, raw, raw / denom)
    empty = np.zeros(0, np.int64)
    a_rows, _a_pred, u_edges = absent if absent is not None else (empty, empty, empty)
    out_row = np.concatenate([used_rows, a_rows])
    edge = np.concatenate([je, u_edges])
    pv = np.concatenate([v[jr], np.full(a_rows.size, np.nan)])
    weight = np.concatenate([weight, np.full(a_rows.size, np.nan)])
    order = np.lexsort((idx.e_from[edge], out_row))
    out_row, edge, pv, weight = out_row[order], edge[order], pv[order], weight[order]
    sub = values.select("year", "indicator", "code", "n_used", "n_expected", "method")[out_row]
    n = out_row.size
    frame = pl.DataFrame({
        "transition": pl.repeat(step.id, n, dtype=pl.String, eager=True),
        "year": sub["year"], "indicator": sub["indicator"],
        "successor_basis": pl.repeat(step.to_basis, n, dtype=pl.String, eager=True),
        "successor_code": sub["code"],
        "predecessor_basis": pl.repeat(step.from_basis, n, dtype=pl.String, eager=True),
        "predecessor_code": idx.from_codes.gather(idx.e_from[edge]),
        "predecessor_value": pv,
        "share": np.where(idx.share_known[edge], idx.share[edge], np.nan), "weight": weight,
        "n_used": sub["n_used"], "n_expected": sub["n_expected"], "method": sub["method"],
    }).with_columns(pl.col("predecessor_value", "weight", "share").fill_nan(None))
    return frame.with_columns(contribution=pl.col("weight") * pl.col("predecessor_value")
                              ).select(AUDIT_SCHEMA.keys())


def _carry_weights(weights: pl.DataFrame, step: Transition) -> pl.DataFrame:
    """Weights of the next basis: the share-weighted sums of the predecessors' weights."""
    keys = ["year"] if "year" in weights.columns else []
    return (weights.join(step.edges.select(code="from_code", to="to_code", share="share"), on="code")
            .group_by(*keys, "to").agg(weight=(pl.col("weight") * pl.col("share")).sum())
            .rename({"to": "code"}))


def read_weights(path: str, mappings: MappingSet, basis: str) -> pl.DataFrame:
    """A weight table (unit, weight[, year]) on ``basis``: positive numbers, every unit once (once
    per year when the table has a year column: yearly weights apply to their own year only)."""

    from mergetool.io.scores import resolve_units, weights_layout  # a file to read: load its reader

    frame, delimiter = read_table(path)
    cols = require_columns(frame, path, {"unit": ("unit", "code", "name", "province"),
                                         "weight": ("weight", "population")})
    log = ProblemLog()
    layout = weights_layout(frame, cols["unit"])
    year_col = next((c for c in frame.columns if c.strip().casefold() == "year"), None)
    known = {cols["unit"], cols["weight"], year_col, layout.check, ROW}
    for col in frame.columns:  # a column read past silently could be the weights the user meant
        if col not in known and col.strip().casefold() not in DESCRIPTIVE_COLUMNS:
            log.add("unknown-column", f"heading {col!r} is not a column of a weight table",
                    file=str(path), row=1, column=col,
                    expected="unit (code or name), weight, and optionally year", found=col,
                    hint="drop the column, or rename it to one of those")
    w = parse_numbers(frame, cols["weight"], path, delimiter, log, allow_null=False)
    for i in (w <= 0).arg_true():
        log.add("value-out-of-range", "a weight must be positive", file=str(path),
                row=int(frame[ROW][i]), column=cols["weight"],
                found=str(frame[cols["weight"]][i]))
    years = pl.Series("year", [0] * frame.height, dtype=pl.Int32)
    if year_col is not None:
        years = frame[year_col].str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
        for i in (years.is_null() | (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])).arg_true():
            log.add("bad-year", "not a year", file=str(path), row=int(frame[ROW][i]), column=year_col,
                    expected=f"a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
                    found=frame[year_col][i])
    log.raise_if_any(f"{path}: bad weights")
    long = pl.DataFrame({"unit": frame[cols["unit"]], "weight": w, "row": frame[ROW].cast(pl.Int32),
                         "year": years.cast(pl.Int32)})
    if layout.check:  # a name beside the code must name the same unit
        long = long.with_columns(check=frame[layout.check])
    long = resolve_units(long, mappings, path, layout, declared=basis)
    dup = long.filter(pl.struct("year", "code").is_duplicated())
    if dup.height:
        per = " in its year" if year_col is not None else ""
        raise InputError(f"{path}: duplicate units", [Problem(
            "duplicate-row", f"unit {code} has more than one weight{per}", file=str(path),
            row=int(row), column=cols["unit"], found=unit)
            for code, row, unit in dup.select("code", "row", "unit").iter_rows()])
    return long.select("year", "code", "weight") if year_col is not None else long.select("code", "weight")


__all__ = [
    "AUDIT_SCHEMA",
    "METHODS",
    "POLICIES",
    "SCORES_SCHEMA",
    "RebaseResult",
    "encode_codes",
    "parse_methods",
    "read_weights",
    "rebase",
]


def rebase_file(scores_path: Path, mappings: MappingSet, to_basis: str, *,
                from_basis: str | None = None, methods: tuple[str, ...] = (),
                policy: str = "strict", weights: Path | None = None, year: int | None = None,
                sheet: str | None = None, header_row: int | None = None, output: Path,
                audit: Path | None = None, force: bool = False,
                shares: Path | None = None, options: Options | None = None) -> RebaseResult:
    """Read, rebase and write: the ``mergetool rebase`` command as a function.

    ``options``: how the score table is read (an application's indicator catalogue and its
    option names; default: any statistic, labels kept as written).

    Writes ``output`` and the optional ``audit`` (CSV, XLSX or Parquet by suffix) and
    ``<output>.manifest.json`` as one set; all or nothing, never over an input or each other.
    The returned result's ``audit`` frame is built only when ``audit`` is given (it is what that
    file holds); call :func:`rebase` for the audit in memory.
    """

    mappings.require_valid()
    manifest_path = sibling_manifest(output)
    outputs = [output, *([audit] if audit else [])]
    inputs = [scores_path, *([weights] if weights else []), *([shares] if shares else [])]
    mapping_files = [Path(mappings.root) / f for f in mappings.files] if mappings.root else []
    stale = preflight([(output, "-o"), *([(audit, "--audit")] if audit else [])], manifest_path,
                      [*inputs, *mapping_files], force)
    options = options or Options(basis="--from")
    # names the input lacks are refused below
    method_map = parse_methods(methods, free=True, catalogue=options.catalogue)
    if weights is not None and "weighted" not in method_map.values():
        raise UsageError("--weights is used only by --method weighted", [Problem(
            "bad-option", "a weight table is given but no indicator uses method 'weighted'",
            column="--weights", hint="add --method weighted (or NAME=weighted), or drop --weights")])
    from mergetool.io.scores import read_scores, year_from_name  # a file to read: its reader

    scores = read_scores(scores_path, mappings, basis=from_basis, year=year,
                         default_year=year_from_name(scores_path), sheet=sheet,
                         header_row=header_row, options=options)
    absent = sorted(set(method_map) - {"*"} - set(scores["indicator"].unique()))
    if absent:
        raise UsageError(f"--method names indicators {scores_path} does not hold", [Problem(
            "bad-option", f"no {', '.join(absent)} values in the input: the method would do nothing",
            column="--method", found=", ".join(absent),
            expected=", ".join(sorted(scores["indicator"].unique())))])
    from mergetool.core.shares import read_shares

    weight_frame = (read_weights(str(weights), mappings, scores["basis"][0])
                    if weights is not None else None)
    result = rebase(scores, mappings, to_basis, methods=method_map, policy=policy,
                    weights=weight_frame, shares=read_shares(shares) if shares else None,
                    audit=audit is not None)  # the audit frame is built only to be written
    frames = {output: result.values, **({audit: result.audit} if audit is not None else {})}
    recorded = {"from_basis": result.from_basis, "to_basis": to_basis, "methods": method_map,
                "policy": policy, "year": year, "sheet": sheet}
    if header_row is not None:
        recorded["header_row"] = header_row
    write_set({p: partial(write_frame, frame=f) for p, f in frames.items()},
              manifest_path, lambda staged: build_manifest(
                  command="rebase", mappings=mappings, inputs=inputs, outputs=outputs,
                  base=output.parent, staged=staged, options=recorded),
              stale=stale)
    return result
