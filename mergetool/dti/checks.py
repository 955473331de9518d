"""Comparability checks: every way a cross-year comparison on the new basis can mislead.

A check is one function registered with ``@check(name, description)``: it takes the
:class:`Context` and yields :class:`CheckRow` ``(years, indicator, unit, verdict, details)``
with verdict ``pass``, ``fail``, ``warn`` (comparable with a caveat) or ``cannot-check`` (the
data cannot support the check; the details say what is missing). :func:`run_checks` runs the
registered checks in registration order and adds each row's check name; :data:`CHECKS` (name ->
description) is a view of the registry.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.ranking import fmt4, is_half, round4, to_decimal
from mergetool.core.rebase import RebaseResult
from mergetool.dti.comparable import FACTS_SCHEMA, carried_keys, file_labels
from mergetool.dti.record import (
    SHIPPED_FILE,
    WEAK_RANK_BASES,
    index_definitions,
    published_aggregates,
    read_claims,
)
from mergetool.dti.spec import TOLERANCE, Spec, spec_for
from mergetool.dti.verify import recompute_published

CHECK_SCHEMA = {"check": pl.String, "years": pl.String, "indicator": pl.String, "unit": pl.String,
                "verdict": pl.String, "details": pl.String}

#: A check row's verdicts (``cannot-check``: the data cannot support the check; the details say
#: what is missing).
VERDICTS = ("pass", "fail", "warn", "cannot-check")


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One finding of a check (the registry adds the check's name as column ``check``).

    ``years`` is a year, a pair (``2023-2024``) or a year and basis; ``unit`` is empty for a
    row about the whole year and indicator.
    """

    years: str
    indicator: str
    unit: str
    verdict: str
    details: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:  # a misspelt verdict would never count as a finding
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")


CheckFunction = Callable[["Context"], Iterable[CheckRow]]


@dataclass(frozen=True)
class Check:
    """A registered check: its name (column ``check``), one-line description and function."""
    name: str
    description: str
    run: CheckFunction


_REGISTRY: dict[str, Check] = {}


def check(name: str, description: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check ``name``; checks run in registration order.

    The function takes the :class:`Context` and yields :class:`CheckRow` s. A name is registered
    once: a second function under a taken name is refused (compose the two in one function).
    """
    def register(fn: CheckFunction) -> CheckFunction:
        if name in _REGISTRY:
            raise ValueError(f"check {name!r} is already registered "
                             f"({_REGISTRY[name].run.__qualname__})")
        if not description:
            raise ValueError(f"check {name!r} needs a one-line description")
        _REGISTRY[name] = Check(name, description, fn)
        return fn
    return register


def unregister(name: str) -> Check:
    """Remove the check ``name`` from the registry (a test's or plug-in's own); returns it."""
    return _REGISTRY.pop(name)


def registered() -> list[Check]:
    """The registered checks, in the order they run."""
    return list(_REGISTRY.values())


class _Descriptions(Mapping[str, str]):
    """Read-only view of the registry: check name -> one-line description, in run order."""
    def __getitem__(self, name: str) -> str:
        return _REGISTRY[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(list(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Every check's one-line description by name, in run order (a live view of the registry).
CHECKS: Mapping[str, str] = _Descriptions()


def run_checks(comparable: pl.DataFrame, scores: pl.DataFrame, rebased: RebaseResult,
               mappings: MappingSet, methods: dict[str, str],
               facts: pl.DataFrame | None = None, *, spec: Spec | None = None) -> pl.DataFrame:
    """Every registered check's rows, in registration order (:data:`CHECKS`).

    ``facts``: the published facts (:data:`mergetool.dti.comparable.FACTS_SCHEMA`) to check against.
    ``spec``: the two bases (default :func:`~mergetool.dti.spec.spec_for` ``mappings``).
    """
    ctx = Context(comparable, scores, rebased, mappings, methods, facts, spec=spec)
    rows: list[tuple[str, str, str, str, str, str]] = []
    for c in registered():
        for r in c.run(ctx):
            if not isinstance(r, CheckRow):
                raise TypeError(f"check {c.name!r} yielded {type(r).__name__}, not a CheckRow")
            rows.append((c.name, r.years, r.indicator, r.unit, r.verdict, r.details))
    return pl.DataFrame(rows, schema=CHECK_SCHEMA, orient="row")


class Context:
    """What every check reads, split once per (year, indicator) or (year, basis, indicator).

    The checks look at many small groups (a year's indicator on one basis); the frames are
    partitioned and turned into Python rows once here, so a check is a loop over dictionaries
    rather than a polars filter per group.
    """

    def __init__(self, comparable: pl.DataFrame, scores: pl.DataFrame, rebased: RebaseResult,
                 mappings: MappingSet, methods: dict[str, str],
                 facts: pl.DataFrame | None = None, *, spec: Spec | None = None) -> None:
        self.spec = spec_for(mappings) if spec is None else spec
        self.comparable = comparable
        self.facts = pl.DataFrame(schema=FACTS_SCHEMA) if facts is None else facts
        self.scores = scores
        self.rebased = rebased
        self.mappings = mappings
        self.methods = methods
        self.defs = index_definitions()
        self.years = sorted(set(self.defs["year"]))
        self.n_units = len(mappings.bases[self.spec.target])
        self._indicators: dict[int, list[str]] = {}
        for year, ind in self.defs.select("year", "indicator").iter_rows():
            self._indicators.setdefault(year, []).append(ind)
        self._cells: dict[tuple[int, str], pl.DataFrame] | None = None  # split on first use
        self._cell_rows: dict[tuple[int, str], list[dict]] = {}
        for row in comparable.iter_rows(named=True):
            self._cell_rows.setdefault((row["year"], row["indicator"]), []).append(row)
        self._scored: dict[tuple[int, str, str], list[tuple[str, float]]] = {}
        for year, basis, ind, code, value in scores.filter(pl.col("value").is_not_null()).select(
                "year", "basis", "indicator", "code", "value").iter_rows():
            self._scored.setdefault((year, basis, ind), []).append((code, value))
        self.rank_rows = list(self.facts.filter(pl.col("rank_low").is_not_null()).iter_rows(
            named=True))  # the rank facts, in the facts' order
        self._ranked: dict[tuple[int, str, str], list[dict]] = {}
        for row in self.rank_rows:
            self._ranked.setdefault((row["year"], row["basis"], row["indicator"]), []).append(row)
        self._names: dict[str, dict[str, str]] = {}
        self._n: dict[str, int] = {}
        self._mine: set[tuple[int, str, str, str]] | None = None
        self._given_at: dict[tuple[int, str, str, str], str] | None = None
        self._target_preds: dict[str, list[str]] | None = None
        self._labels: dict[str, str] | None = None
        self._known: dict[tuple[int, str, str], dict[str, Decimal]] = {}
        self._rank_facts: dict[tuple[int, str, str], tuple[list[RankFact], list[RankFact]]] = {}

    def indicators(self, year: int) -> list[str]:
        return self._indicators.get(year, [])

    def cells(self, year: int, indicator: str) -> pl.DataFrame:
        """The comparable table's rows of one year and indicator (in table order)."""
        if self._cells is None:
            self._cells = self.comparable.partition_by("year", "indicator", as_dict=True)
        return self._cells.get((year, indicator), self.comparable.clear())

    def cell_rows(self, year: int, indicator: str) -> list[dict]:
        """:meth:`cells` as named rows."""
        return self._cell_rows.get((year, indicator), [])

    def scored(self, year: int, basis: str, indicator: str) -> list[tuple[str, float]]:
        """(code, value) of the scores' non-null values of a year on a basis (in score order)."""
        return self._scored.get((year, basis, indicator), [])

    def ranked(self, year: int, basis: str, indicator: str) -> list[dict]:
        """The rank facts (``rank_low`` known) of a year on a basis, as named rows."""
        return self._ranked.get((year, basis, indicator), [])

    def pairs(self) -> Iterator[tuple[int, int]]:
        yield from zip(self.years, self.years[1:], strict=False)

    def name(self, basis: str, code: str) -> str:
        if basis not in self._names:
            if basis not in self.mappings.bases:
                return "?"
            names: dict[str, str] = {}
            for c, n in self.mappings.bases[basis].units.select("code", "name").iter_rows():
                names.setdefault(c, n)  # the first unit of a code, as Basis.name_of
            self._names[basis] = names
        return self._names[basis].get(code, f"?{code}")

    def known(self, year: int, basis: str, indicator: str) -> dict[str, Decimal]:
        """Values known for a year on a basis, rounded half-up to 4 decimals: on the 34-unit
        basis the comparable table's (published or averaged), on the 63-unit basis the scores'."""
        key = (year, basis, indicator)
        if key not in self._known:
            if basis == self.spec.target:
                rows = [(r["code"], r["value"]) for r in self.cell_rows(year, indicator)
                        if r["value"] is not None]
            else:
                rows = self.scored(year, basis, indicator)
            self._known[key] = {c: round4(v) for c, v in rows}
        return self._known[key]

    def n(self, basis: str) -> int:
        """The number of units of ``basis`` (KeyError for a basis the mappings lack)."""
        if basis not in self._n:
            self._n[basis] = len(self.mappings.bases[basis])
        return self._n[basis]

    def mine(self) -> set[tuple[int, str, str, str]]:
        """(year, basis, code, indicator) of the values the user's files give."""
        if self._mine is None:
            self._mine = set(self.given().keys())
        return self._mine

    def given(self) -> dict[tuple[int, str, str, str], str]:
        """Where a user's file gives a value: (year, basis, code, indicator) -> "FILE row N"."""
        if self._given_at is None:
            mine = self.scores.filter((pl.col("file") != SHIPPED_FILE) & pl.col("value").is_not_null())
            self._given_at = {(y, b, c, i): f"{self.label(f)} row {r}" for y, b, c, i, f, r in mine.select(
                "year", "basis", "code", "indicator", "file", "row").iter_rows()}
        return self._given_at

    def label(self, file: str) -> str:
        """A user's file as outputs cite it (:func:`~mergetool.dti.comparable.file_labels`)."""
        if self._labels is None:
            self._labels = file_labels(self.scores)
        return self._labels.get(file, file)

    def given_in(self, year: int, basis: str, indicator: str, codes: Iterable[str]) -> str:
        """``"; given in FILE row N (code name), ..."`` for the codes' values a user's file gives
        (so a contradiction names the rows to look at), else ''."""
        given = self.given()
        at = [f"{given[k]} ({c} {self.name(basis, c)})" for c in codes
              if (k := (year, basis, c, indicator)) in given]
        return f"; given in {', '.join(at)}" if at else ""

    def value_given_in(self, year: int, basis: str, indicator: str, code: str) -> str:
        """:meth:`given_in` for one unit's value: its own row, or on the target basis the rows
        of the predecessors it was averaged from."""
        if (year, basis, code, indicator) in self.given() or basis != self.spec.target:
            return self.given_in(year, basis, indicator, [code])
        return self.given_in(year, self.spec.source, indicator, self.predecessors(code))

    def predecessors(self, code: str) -> list[str]:
        """The units of the source basis a target unit is made of, across every step."""
        if self._target_preds is None:
            self._target_preds = dict(self.mappings.composed(
                self.spec.source, self.spec.target).predecessors().iter_rows())
        return self._target_preds.get(code, [])

    def rank_facts(self, year: int, basis: str, indicator: str
                   ) -> tuple[list[RankFact], list[RankFact]]:
        """(all, firm) rank facts of units whose value is known, for :func:`rank_bounds`.

        A unit's rank facts are intersected; firm ones exclude provisional and conflicting
        facts, a unit whose facts cannot all hold, and a value known only as printed rounded to
        fewer than 4 decimals: those may tighten a bound into a warning, never a failure. A
        fact the values alone contradict (or two of a unit's that cannot both hold) is left out:
        its own row fails, and it must not spread to the units it would bound.
        """
        key = (year, basis, indicator)
        if key in self._rank_facts:
            return self._rank_facts[key]
        known = self.known(year, basis, indicator)
        by_code: dict[str, list[dict]] = {}
        for row in sorted((r for r in self.ranked(year, basis, indicator) if r["code"] in known),
                          key=lambda r: r["code"]):
            by_code.setdefault(row["code"], []).append(row)
        mine = self.mine()
        all_, firm = [], []
        for code, rows in by_code.items():
            lo = max(r["rank_low"] for r in rows)
            hi = min(r["rank_high"] for r in rows if r["rank_high"] is not None)
            own = rank_bounds(known, self.n(basis), code)
            if lo > hi or own is None or own.lo > hi or own.hi < lo:
                continue  # facts the values already contradict bound nothing (their rows fail)
            first = rows[0]
            verb = "is given rank" if first["origin"] == "user" else "is published rank"
            fact = RankFact(code, known[code], lo, hi,
                            f"{code} {self.name(basis, code)} {_fmt(known[code])} {verb} "
                            f"{_range(lo, hi)} ({_fact_label(first)})")
            all_.append(fact)
            rounded = (any((4 if r["decimals"] is None else r["decimals"]) < 4 for r in rows)
                       and (year, basis, code, indicator) not in mine)
            if not any(r["rank_basis"] in WEAK_RANK_BASES for r in rows) and not rounded:
                firm.append(fact)
        self._rank_facts[key] = (all_, firm)
        return all_, firm

    def bounds(self, year: int, basis: str, indicator: str, code: str, *, firm: bool = True
               ) -> RankBounds | None:
        """:func:`rank_bounds` of ``code`` from the values and the other units' rank facts."""
        all_, strong = self.rank_facts(year, basis, indicator)
        return rank_bounds(self.known(year, basis, indicator), self.n(basis), code,
                           strong if firm else all_)


def _fmt(v: float | Decimal | None) -> str:
    return fmt4(v)


@dataclass(frozen=True)
class RankFact:
    """Another unit's value and rank range as facts: ``lo - 1`` to ``hi - 1`` units lie strictly
    above ``value`` (competition ranking). ``label`` says it in words for the details."""

    code: str
    value: Decimal
    lo: int
    hi: int
    label: str = ""


@dataclass(frozen=True)
class RankBounds:
    """What the values say about one unit's rank: ``lo``..``hi`` (equal when known exactly;
    ``lo > hi`` when no rank fits the value and the facts together)."""

    lo: int
    hi: int
    above: list[tuple[str, Decimal]]  # known units strictly above
    unknown: int                        # units without a value
    value: Decimal
    lo_by: RankFact | None = None       # the fact that raised ``lo`` above the values' bound
    hi_by: RankFact | None = None       # the fact that lowered ``hi`` below it

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    @property
    def complete(self) -> bool:
        """Every unit's value is known: the rank is computed, not bounded."""
        return self.unknown == 0


def rank_bounds(known: dict[str, Decimal], n: int, code: str,
                facts: Iterable[RankFact] = ()) -> RankBounds | None:
    """Competition rank of ``code`` among ``n`` units, given the values ``known`` (4 decimals)
    and other units' (value, rank) ``facts``.

    The rank is ``1 + K + U`` with ``K`` the known units strictly above the value ``w`` and
    ``U`` the unknown ones: ``0 <= U <= unknown``. A fact (value ``v``, rank ``lo..hi``) says
    ``lo - 1 <= G(v) <= hi - 1`` where ``G(t)`` counts all units strictly above ``t``; so the
    unknown units above ``v`` number ``U(v) = G(v) - K(v)`` in ``[lo - 1 - K(v), hi - 1 - K(v)]``.
    ``U(t)`` never increases with ``t``, hence ``U(w) >= lo - 1 - K(v)`` when ``v >= w`` and
    ``U(w) <= hi - 1 - K(v)`` when ``v <= w`` (both when ``v == w``: a tie with a unit of
    known rank fixes the rank). Every bound holds whenever the values and facts are true, so
    the true rank lies in ``lo..hi``; an empty range means they cannot all be true. None when
    the unit's own value is not known.
    """
    if code not in known:
        return None
    v = known[code]
    above = sorted(((c, w) for c, w in known.items() if w > v), key=lambda cw: (-cw[1], cw[0]))
    unknown = n - len(known)
    lo_u, hi_u, lo_by, hi_by = 0, unknown, None, None
    if unknown:  # with every value known the rank is computed; facts add nothing
        ordered = sorted(known.values())
        for f in facts:
            if f.code == code:
                continue
            k = len(ordered) - bisect.bisect_right(ordered, f.value)  # known strictly above v
            if f.value >= v and f.lo - 1 - k > lo_u:
                lo_u, lo_by = f.lo - 1 - k, f
            if f.value <= v and f.hi - 1 - k < hi_u:
                hi_u, hi_by = f.hi - 1 - k, f
    base = 1 + len(above)
    return RankBounds(base + lo_u, base + hi_u, above, unknown, v, lo_by, hi_by)


def _range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


@check("same-unit-set", "the two years rank the same set of units (all 34 with a value)")
def same_unit_set(ctx: Context) -> Iterator[CheckRow]:
    for y0, y1 in ctx.pairs():
        for ind in ctx.indicators(y1):
            if ind not in ctx.indicators(y0):
                continue
            a = {r["code"] for r in ctx.cell_rows(y0, ind) if r["value"] is not None}
            b = {r["code"] for r in ctx.cell_rows(y1, ind) if r["value"] is not None}
            years = f"{y0}-{y1}"
            if len(a) == len(b) == ctx.n_units:
                yield CheckRow(years, ind, "", "pass", f"all {ctx.n_units} units in both years")
            elif a == b:
                yield CheckRow(years, ind, "", "fail", f"the same {len(a)} of {ctx.n_units} units "
                               "in both years: ranks of a subset")
            else:
                detail = f"{y0}: {len(a)} units with a value, {y1}: {len(b)}; in both: {len(a & b)}"
                yield CheckRow(years, ind, "", "fail", detail)


@check("complete-coverage",
       "every unit of the year has a value (published, or all predecessors known)")
def complete_coverage(ctx: Context) -> Iterator[CheckRow]:
    for year in ctx.years:
        for ind in ctx.indicators(year):
            cells = ctx.cell_rows(year, ind)
            gaps = [r for r in cells if r["value"] is None]
            if not gaps:
                yield CheckRow(str(year), ind, "", "pass", f"{len(cells)} of {len(cells)}")
                continue
            partial = [r for r in gaps if r["predecessors_with_value"] is not None
                       and r["predecessors_with_value"] > 0]
            examples = "; ".join(f"{r['code']} {r['unit_name']}: {r['reason']}" for r in partial[:3])
            detail = (f"{len(gaps)} of {len(cells)} units have no value; {len(partial)} of them "
                      "have some but not all predecessors' values")
            yield CheckRow(str(year), ind, "", "fail",
                           detail + (f" (e.g. {examples})" if examples else ""))


@check("one-aggregation-method",
       "merged values of both years come from the same aggregation method")
def one_aggregation_method(ctx: Context) -> Iterator[CheckRow]:
    def method(year: int, ind: str) -> set[str]:
        bases = {r["value_basis"] for r in ctx.cell_rows(year, ind) if r["value"] is not None}
        used = set()
        rule = f"mean (ministry rule for the {ctx.n_units}-unit publication)"
        if ctx.spec.published_target in bases:
            used.add(rule)
        if ctx.spec.rebased in bases:
            m = ctx.methods.get(ind, ctx.methods.get("*", "mean"))
            used.add(rule if m == "mean" else m)
        return used

    for y0, y1 in ctx.pairs():
        for ind in ctx.indicators(y1):
            if ind not in ctx.indicators(y0):
                continue
            m0, m1 = method(y0, ind), method(y1, ind)
            years = f"{y0}-{y1}"
            if not m0 or not m1:
                yield CheckRow(years, ind, "", "cannot-check", "no values in one year")
            elif m0 == m1 and len(m0) == 1:
                yield CheckRow(years, ind, "", "pass", next(iter(m0)))
            else:
                yield CheckRow(years, ind, "", "fail",
                               f"{y0}: {', '.join(sorted(m0))}; {y1}: {', '.join(sorted(m1))}")


@check("value-range", "every value lies in [0, 1], the index's one scale")
def value_range(ctx: Context) -> Iterator[CheckRow]:
    for year in ctx.years:
        for ind in ctx.indicators(year):
            vals = [r for r in ctx.cell_rows(year, ind) if r["value"] is not None]
            if not vals:
                yield CheckRow(str(year), ind, "", "cannot-check", "no values")
                continue
            bad = [r for r in vals if r["value"] < 0 or r["value"] > 1]
            if not bad:
                values = [r["value"] for r in vals]
                yield CheckRow(str(year), ind, "", "pass",
                               f"{len(vals)} values in [{_fmt(min(values))}, {_fmt(max(values))}]")
            else:
                yield CheckRow(str(year), ind, "", "fail", "; ".join(
                    f"{r['code']} {r['unit_name']} = {r['value']:g}" for r in bad))


@check("methodology-change",
       "the index had the same structure (indicators, sub-indicators) in both years")
def methodology_change(ctx: Context) -> Iterator[CheckRow]:
    d = ctx.defs.filter(pl.col("indicator") == "dti")
    info = {y: (m, n, note) for y, m, n, note in d.select(
        "year", "methodology", "sub_indicators", "note").iter_rows()}
    for y0, y1 in ctx.pairs():
        i0 = set(ctx.indicators(y0))
        i1 = set(ctx.indicators(y1))
        (m0, n0, _), (m1, n1, note1) = info[y0], info[y1]
        years = f"{y0}-{y1}"
        if m0 == m1 and i0 == i1:
            yield CheckRow(years, "", "", "pass", f"both {m0} ({n0} sub-indicators)")
        else:
            added = ", ".join(sorted(i1 - i0)) or "none"
            removed = ", ".join(sorted(i0 - i1)) or "none"
            yield CheckRow(years, "", "", "warn",
                           f"{m0} ({n0} sub-indicators) -> {m1} ({n1} sub-indicators): indicators added: "
                           f"{added}; removed: {removed}. {note1 or ''}".strip())


@check("rank-rounding",
       "no rank depends on rounding (ties at 4 decimals, values closer than 0.0001, or "
       "an exact half rounded up)")
def rank_rounding(ctx: Context) -> Iterator[CheckRow]:
    """Ties at 4 decimals, values closer than the rounding error, and ranks that hinge on a half.

    A value exactly half-way between two 4-decimal values (an exact mean such as 0.66475) is
    rounded up; its rank depends on that half when another unit's rounded value is the one it
    would round down to, or the one it rounds up to.
    """
    for year in ctx.years:
        for ind in ctx.indicators(year):
            rows = sorted(((r["code"], r["unit_name"], r["value"], r["value_exact"])
                           for r in ctx.cell_rows(year, ind) if r["value"] is not None),
                          key=lambda r: r[3], reverse=True)  # stable: ties in table order
            if len(rows) < 2:
                yield CheckRow(str(year), ind, "", "cannot-check", f"{len(rows)} value(s)")
                continue
            notes = []
            for (c0, n0, v0, e0), (c1, n1, v1, e1) in itertools.pairwise(rows):
                if v0 == v1:
                    notes.append(f"tie at {_fmt(v0)}: {c0} {n0} and {c1} {n1}")
                elif abs(e0 - e1) < Decimal("0.0001"):
                    notes.append(f"{c0} {n0} {e0.normalize()} and {c1} {n1} {e1.normalize()} differ "
                                 "by less than the rounding error")
            for c, n, _v, e in rows:
                if not is_half(e):
                    continue
                up, down = round4(e), round4(e) - Decimal("0.0001")
                hinge = [f"{o} {on}" for o, on, ov, _ in rows if o != c and round4(ov) in (up, down)]
                if hinge:
                    notes.append(f"{c} {n} {e.normalize()} is a half: rounded up to {_fmt(up)}, its "
                                 f"rank against {', '.join(hinge[:3])} depends on the half")
            if notes:
                yield CheckRow(str(year), ind, "", "warn", "; ".join(notes))
            else:
                yield CheckRow(str(year), ind, "", "pass",
                               f"{len(rows)} values, none tied, within 0.0001 or hinging on a half")


@check("aggregate-comparability",
       "a published average is a mean over 63 units or over 34 merged units")
def aggregate_comparability(ctx: Context) -> Iterator[CheckRow]:
    aggs: dict[tuple[int, str], dict] = {}
    # the shipped averages are of the shipped units only
    for row in (published_aggregates().iter_rows(named=True) if ctx.spec.record else ()):
        aggs.setdefault((row["year"], row["indicator"]), row)  # the first, as before
    n_old = len(ctx.mappings.bases[ctx.spec.source])
    for year in ctx.years:
        for ind in ctx.indicators(year):
            pub = aggs.get((year, ind))
            old = [v for _c, v in ctx.scored(year, ctx.spec.source, ind)]
            new = [r["value"] for r in ctx.cell_rows(year, ind) if r["value"] is not None]
            # Exact means of the values as given (63) and as shown (34, rounded half-up).
            mean63 = (sum(map(to_decimal, old), Decimal(0)) / n_old
                      if len(old) == n_old else None)
            mean34 = (sum(map(to_decimal, new), Decimal(0)) / ctx.n_units
                      if len(new) == ctx.n_units else None)
            if pub is None and mean63 is None and mean34 is None:
                continue
            not63 = f"not computable ({len(old)} of {n_old} known)"
            not34 = f"not computable ({len(new)} of {ctx.n_units} known)"
            parts = [f"mean over {n_old} units: " + (_fmt(mean63) if mean63 is not None else not63),
                     f"mean over {ctx.n_units} units: " + (_fmt(mean34) if mean34 is not None else not34)]
            verdict = "cannot-check"
            if pub is not None:
                pv = to_decimal(pub["value"])
                parts.append(f"published {pub['statistic']} {_fmt(pv)}")
                matches = [name for name, m in ((f"{n_old}-unit", mean63), (f"{ctx.n_units}-unit", mean34))
                           if m is not None and abs(m - pv) <= Decimal(str(TOLERANCE))]
                if matches:
                    verdict = "pass"
                    parts.append(f"the published average is the {' and '.join(matches)} mean")
                elif mean63 is not None or mean34 is not None:
                    verdict = "fail"
                    parts.append("the published average matches neither mean")
                else:
                    parts.append("which statistic it is cannot be told from the public record"
                                 + (f" ({pub['note']})" if pub["note"] else ""))
            parts.append(f"a mean over {ctx.n_units} merged units weights each former province by "
                         f"1/(its unit's number of predecessors): a different statistic from the "
                         f"{n_old}-unit mean")
            yield CheckRow(str(year), ind, "", verdict, "; ".join(parts))


@check("published-vs-recomputed",
       "a published merged value equals the mean of its predecessors' values")
def published_vs_recomputed(ctx: Context) -> Iterator[CheckRow]:
    """Published merged values against their predecessors' mean, then given values against
    published ones (:func:`user_vs_published`): both say whether a value is the published one."""
    yield from recomputed_vs_published(ctx)
    yield from user_vs_published(ctx)


def recomputed_vs_published(ctx: Context) -> Iterator[CheckRow]:
    """Each published merged value against the mean of its predecessors' values."""
    keys = ["year", "basis", "code", "indicator"]
    pub = ctx.scores.filter((pl.col("basis") == ctx.spec.target) & pl.col("value").is_not_null())
    # A published merged value is a fact even where no score row carries it (``--replace``: the
    # values come from the user's files only); the user's own merged values are checked beside.
    shipped = ctx.facts.filter((pl.col("basis") == ctx.spec.target) & pl.col("value").is_not_null()
                               & (pl.col("origin") == "shipped")).select(*keys, "value")
    pub = pl.concat([pub.select(*keys, "value"), shipped.join(pub, on=keys, how="anti")])
    if pub.is_empty():
        return
    result = recompute_published(pub, ctx.scores.filter(pl.col("basis") == ctx.spec.source),
                                 ctx.mappings, ctx.spec.source, ctx.spec.target,
                                 carried=carried_keys(ctx.scores))
    verdicts = {"match": "pass", "mismatch": "fail", "not-computable": "cannot-check"}
    for row in result.rows.filter(pl.col("published").is_not_null()).iter_rows(named=True):
        if row["verdict"] not in verdicts:
            continue
        verdict = verdicts[row["verdict"]]
        if verdict == "pass" and "circular" in row["details"]:
            verdict = "warn"  # a match against a value copied from the published table proves nothing
        given = "" if verdict == "cannot-check" else ctx.given_in(
            row["year"], ctx.spec.source, row["indicator"], ctx.predecessors(row["code"]))
        yield CheckRow(str(row["year"]), row["indicator"],
                       f"{row['code']} {row['unit_name']}", verdict, row["details"] + given)


def user_vs_published(ctx: Context) -> Iterator[CheckRow]:
    """A user's value where a value was published for the same year, basis, unit, indicator.

    Equal when the user's value, rounded half-up to the printed decimals, is the printed value.
    """
    keys = ["year", "basis", "code", "indicator"]
    pub = ctx.facts.filter(pl.col("value").is_not_null() & (pl.col("origin") == "shipped"))
    mine = ctx.scores.filter((pl.col("file") != SHIPPED_FILE) & pl.col("value").is_not_null())
    both = mine.join(pub.select(*keys, pub_value="value", decimals="decimals", source="source",
                                value_origin="value_origin"), on=keys)
    for (year, basis, ind), grp in both.sort(*keys).group_by("year", "basis", "indicator",
                                                          maintain_order=True):
        same = 0
        for r in grp.iter_rows(named=True):
            d = r["decimals"] or 4
            if round4(r["value"], d) == round4(r["pub_value"], d):
                same += 1
                continue
            carried = f" (carried from the {ctx.n_units}-unit table)" if r["value_origin"] == \
                "carried-from-34-basis" else ""
            yield CheckRow(f"{year} ({basis})", ind,
                           f"{r['code']} {ctx.name(basis, r['code'])}", "fail",
                           f"the given value {_fmt(r['value'])} ({ctx.label(r['file'])} row "
                           f"{r['row']}) differs from "
                           f"the published {r['pub_value']:.{d}f}{carried} "
                           f"({(r['source'] or '').split(' | ')[0]})")
        if same:
            yield CheckRow(f"{year} ({basis})", ind, "", "pass",
                           f"{same} given values equal the published ones (rounded half-up to the printed "
                           "decimals)")


def _fact_label(row: dict) -> str:
    src = (row["source"] or "").split(" | ")[0]
    return f"{row['rank_basis']}" + (f", {src}" if src else "")


def _bound_why(b: RankBounds, basis: str, ctx: Context) -> str:
    """The details of a bound that no rank fits, or of a rank fixed by a tie; else ''."""
    v = _fmt(b.value)
    if b.lo > b.hi:
        lo_why = (f"{b.lo_by.label}, so at least {b.lo - 1} units lie strictly above its {v}"
                  if b.lo_by else f"{len(b.above)} known units are strictly above its {v}")
        hi_why = (f"{b.hi_by.label}, so at most {max(b.hi - 1, 0)} units lie strictly above it"
                  if b.hi_by else f"only {len(b.above)} known units are above it and "
                  f"{b.unknown} have no value")
        return (f"no rank fits its {v}: {lo_why} (rank at least {b.lo}); {hi_why} "
                f"(rank at most {b.hi})")
    tie = next((f for f in (b.lo_by, b.hi_by) if f is not None and f.value == b.value), None)
    if b.exact and tie is not None:
        return f"{tie.label}, so exactly {b.lo - 1} units lie strictly above {v}: its rank is {b.lo}"
    return ""


@check("published-ranks",
       "every published rank (63 and 34 units) agrees with the values: exactly where all"
       " values are known, by bounds where only some are")
def published_ranks(ctx: Context) -> Iterator[CheckRow]:
    """Every rank fact against the values, on both bases.

    A published rank r (or range lo..hi) is contradicted as soon as r or more known units are
    strictly above the unit, or fewer than r - 1 could be (known above + units without a
    value); the other units' (value, rank) facts narrow that further (:func:`rank_bounds`: a
    tie with a unit published r-th is rank r). With every value known the rank is computed and
    compared exactly. Two rank facts for one unit that cannot both hold fail too. A
    contradiction of a provisional or conflicting fact, or one that rests on such a fact, is a
    warning; of any other, a failure.
    """
    # One group per basis, year and indicator, units in code order (a stable sort, nulls first).
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in sorted(ctx.rank_rows, key=lambda r: tuple(
            (r[k] is not None, r[k]) for k in ("basis", "year", "indicator", "code"))):
        groups.setdefault((r["basis"], r["year"], r["indicator"]), []).append(r)
    for (basis, year, ind), grp in groups.items():
        if basis not in ctx.mappings.bases or ind not in ctx.indicators(year):
            continue
        n = ctx.n(basis)
        known = ctx.known(year, basis, ind)
        label = f"{year} ({basis})"
        open_units: dict[str, str]
        confirmed, open_units, contradicted, no_value, hard = 0, {}, 0, [], 0
        by_code: dict[str, list[dict]] = {}
        for r in grp:
            by_code.setdefault(r["code"], []).append(r)
        for code, facts in by_code.items():
            if len(facts) > 1 and (max(r["rank_low"] for r in facts)
                                   > min(r["rank_high"] for r in facts if r["rank_high"] is not None)):
                unit = f"{code} {ctx.name(basis, code)}"
                weak = any(r["rank_basis"] in WEAK_RANK_BASES for r in facts)
                contradicted += 1
                hard += not weak
                yield CheckRow(label, ind, unit, "warn" if weak else "fail",
                               f"{len(facts)} rank facts that cannot all hold: " + "; ".join(
                                   f"{_range(r['rank_low'], r['rank_high'])} ({_fact_label(r)})"
                                   for r in facts))
        for row in grp:
            code, lo, hi = row["code"], row["rank_low"], row["rank_high"]
            unit = f"{code} {ctx.name(basis, code)}"
            weak = row["rank_basis"] in WEAK_RANK_BASES
            published = f"published rank {_range(lo, hi)} ({_fact_label(row)})"
            b = rank_bounds(known, n, code)  # the values alone first: the plainest reason
            if b is None:
                if unit not in no_value:
                    no_value.append(unit)
                continue
            resting = ""
            for firm in (True, False):  # then with the other units' facts: firm, then all
                if b.lo > hi or b.hi < lo:
                    break
                b = ctx.bounds(year, basis, ind, code, firm=firm) or b
                resting = "" if firm else (" (the bound rests on a provisional or conflicting "
                                           "fact: a warning, not a failure)")
            if b.lo > hi or b.hi < lo:
                contradicted += 1
                if b.complete:
                    at = [c for c, w in known.items() if c != code and 1 + sum(
                        x > w for x in known.values()) in range(lo, hi + 1)]
                    why = (f"computed rank {b.lo} from all {n} values ({_fmt(b.value)})"
                           + (f"; now at rank {_range(lo, hi)}: " + ", ".join(
                               f"{c} {ctx.name(basis, c)} {_fmt(known[c])}" for c in sorted(at))
                              if at else ""))
                elif special := _bound_why(b, basis, ctx):
                    why = special
                elif b.lo > hi and b.lo_by:
                    why = (f"{b.lo_by.label}, so at least {b.lo - 1} units lie strictly above "
                           f"its {_fmt(b.value)}: its rank is at least {b.lo}")
                elif b.lo > hi:
                    why = (f"{len(b.above)} known units are strictly above its {_fmt(b.value)}, so "
                           f"its rank is at least {b.lo}: " + ", ".join(
                               f"{c} {ctx.name(basis, c)} {_fmt(w)}" for c, w in b.above[:8])
                           + (" ..." if len(b.above) > 8 else ""))
                elif b.hi_by:
                    why = (f"{b.hi_by.label}, so at most {b.hi - 1} units lie strictly above its "
                           f"{_fmt(b.value)}: its rank is at most {b.hi}")
                else:
                    why = (f"only {len(b.above)} known units are above its {_fmt(b.value)} and "
                           f"{b.unknown} have no value, so its rank is at most {b.hi}")
                verdict = "warn" if weak or resting else "fail"
                hard += verdict == "fail"
                note = (" (a provisional fact: a warning, not a failure)" if row["rank_basis"] ==
                        "provisional" else " (sources conflict)" if row["rank_basis"] == "conflict"
                        else resting)
                yield CheckRow(label, ind, unit, verdict,
                               f"{published} contradicted{note}: {why}"
                               + ctx.value_given_in(year, basis, ind, code))
            elif b.lo >= lo and b.hi <= hi:
                if row["rank_basis"] == "conflict":
                    yield CheckRow(label, ind, unit, "warn",
                                   f"{published}: the sources conflict; the values give rank {b.lo}, "
                                   "which only one of them prints")
                else:
                    confirmed += 1
            else:
                open_units.setdefault(unit, f"{unit} could rank {_range(b.lo, b.hi)}")
        open_ = list(open_units.values())
        total = len(grp)
        parts = [f"{confirmed} of {total} published ranks confirmed by {len(known)} of {n} values"]
        if contradicted:
            parts.append(f"{contradicted} contradicted (rows naming the units)")
        if open_:
            parts.append(f"{len(open_)} cannot be told yet ({'; '.join(open_[:5])}"
                         + (" ..." if len(open_) > 5 else "") + ")")
        if no_value:
            parts.append(f"{len(no_value)} ranked units have no value ("
                         + ", ".join(no_value[:6]) + (" ..." if len(no_value) > 6 else "") + ")")
        if open_ or no_value:
            settle = (f"the values of all {ctx.n(ctx.spec.source)} predecessors"
                      if basis == ctx.spec.target
                      else f"the values of all {n} units")
            parts.append(f"{settle} for {year} would settle them")
        # The year's verdict is the worst of its facts'; the rows above name the units.
        verdict = ("fail" if hard else "cannot-check" if (open_ or no_value)
                   else "warn" if contradicted else "pass")
        yield CheckRow(label, ind, "", verdict, "; ".join(parts))


@check("rank-order-consistency",
       "where value and published rank are both known, higher values rank higher")
def rank_order_consistency(ctx: Context) -> Iterator[CheckRow]:
    """Values and ranks given together (the user's, then the published ones the user's rows do
    not replace), per year, indicator and basis: in rank order, no value above a higher-ranked
    one, and a shared rank only for values equal at 4 decimals."""
    cols = ("year", "basis", "code", "indicator", "value", "rank")
    given = ctx.scores.filter(pl.col("value").is_not_null() & pl.col("rank").is_not_null()).select(
        cols).rows()
    published = ctx.facts.filter(pl.col("value").is_not_null() & pl.col("rank").is_not_null()
                                 & (pl.col("origin") == "shipped")).select(cols).rows()
    mine = {r[:4] for r in given if None not in r[:4]}  # a join never matches a null key
    groups: dict[tuple[int, str, str], list[tuple[int, str, float]]] = {}
    for year, basis, code, ind, value, rank in given + [r for r in published if r[:4] not in mine]:
        groups.setdefault((year, ind, basis), []).append((rank, code, value))
    for (year, ind, basis), grp in groups.items():
        if len(grp) < 2:
            continue
        rows = [(c, r, v, round4(v)) for r, c, v in sorted(grp, key=lambda g: g[0])]  # stable
        bad = [f"{c0} (rank {r0}, {_fmt(v0)}) vs {c1} (rank {r1}, {_fmt(v1)})"
               for (c0, r0, v0, w0), (c1, r1, v1, w1) in itertools.pairwise(rows)
               if (r0 < r1 and w0 < w1) or (r0 == r1 and w0 != w1)]
        label = f"{year} ({basis})"
        if bad:
            yield CheckRow(label, ind, "", "fail", "; ".join(bad))
        else:
            yield CheckRow(label, ind, "", "pass",
                           f"{len(grp)} units with value and rank, in consistent order")


def _interval(ctx: Context, year: int, basis: str, ind: str, code: str | None
              ) -> tuple[int, int, str, bool] | None:
    """What is known of a rank: (lo, hi, how, rests on a provisional fact)."""
    if code is None or basis not in ctx.mappings.bases:
        return None
    n = ctx.n(basis)
    b = rank_bounds(ctx.known(year, basis, ind), n, code)
    if b is not None and b.exact:
        return b.lo, b.hi, f"computed from all {n} values", False
    for row in ctx.ranked(year, basis, ind):
        if row["code"] != code or row["origin"] != "shipped":
            continue
        lo, hi = row["rank_low"], row["rank_high"]
        if b is None or (b.lo <= hi and b.hi >= lo):
            lo, hi = (lo, hi) if b is None else (max(lo, b.lo), min(hi, b.hi))
            return lo, hi, f"published rank {_range(row['rank_low'], row['rank_high'])} " \
                f"({_fact_label(row)})", row["rank_basis"] == "provisional"
    if b is not None:
        return b.lo, b.hi, f"between {b.lo} and {b.hi} from {n - b.unknown} of {n} values", False
    return None


def _code_on(ctx: Context, claim: dict, basis: str) -> str | None:
    if basis == claim["basis_to"]:
        return claim["code"]
    code = ctx.mappings.resolve(claim["unit_name"], basis)
    if code is None and claim["code"] in ctx.mappings.bases[basis].codes:
        code = claim["code"]
    return code


@check("rank-change-claims",
       "published claims that a unit rose or fell N places agree with the ranks")
def rank_change_claims(ctx: Context) -> Iterator[CheckRow]:
    """Each published rank-change claim (``data/dti/claims.csv``) against the ranks.

    Ranks come from the data (computed where a year is complete, bounded where partial) or,
    where the data cannot tell, from the published rank facts. A claim whose earlier basis is
    not stated is tried on both bases; it holds if it holds on one.
    """
    if not ctx.spec.record:  # the shipped claims are about the shipped units only
        return
    for claim in read_claims().iter_rows(named=True):
        y0, y1, b1, ind, c = (claim["year_from"], claim["year_to"], claim["basis_to"],
                              claim["indicator"], claim["change"])
        if ind not in ctx.indicators(y0) or ind not in ctx.indicators(y1):
            continue
        candidates = ([claim["basis_from"]] if claim["basis_from"]
                      else [ctx.spec.source, ctx.spec.target])
        shown = claim["basis_from"] or "unstated"
        years = f"{y0}→{y1} ({b1})" if shown == b1 else f"{y0}→{y1} ({shown}→{b1})"
        unit = f"{claim['code']} {ctx.name(b1, claim['code'])}"
        quote = f'"{claim["wording"]}" ({claim["source_url"]})'
        said = f"claimed {c:+d} places" + (f" from rank {claim['rank_from']}" if claim["rank_from"]
                                           else "") + (f" to rank {claim['rank_to']}"
                                                       if claim["rank_to"] else "")
        i1 = _interval(ctx, y1, b1, ind, claim["code"])
        outcomes = []
        for b0 in candidates:
            i0 = _interval(ctx, y0, b0, ind, _code_on(ctx, claim, b0))
            outcomes.append((b0, *_judge(claim, i0, i1, y0, y1, b0, b1, ctx)))
        provisional = claim["provisional"] or any(o[3] for o in outcomes)
        good = [o for o in outcomes if o[1] == "confirmed"]
        bad = [o for o in outcomes if o[1] == "contradicted"]
        text = "; ".join(f"on {b0} in {y0}: {kind}: {why}" if len(outcomes) > 1 else f"{kind}: {why}"
                         for b0, kind, why, _p in outcomes)
        if good:
            verdict = "pass"
        elif len(bad) == len(outcomes):
            verdict = "warn" if provisional else "fail"
        else:
            verdict = "warn" if bad and provisional else "cannot-check"
        extra = "; a provisional fact" if provisional else ""
        yield CheckRow(years, ind, unit, verdict, f"{quote}; {said}; {text}{extra}")


def _judge(claim: dict, i0: tuple | None, i1: tuple | None, y0: int, y1: int, b0: str, b1: str,
           ctx: Context) -> tuple[str, str, bool]:
    """(confirmed | contradicted | unknown, why, rests on a provisional fact)."""
    c, r0, r1 = claim["change"], claim["rank_from"], claim["rank_to"]
    prov = bool((i0 and i0[3]) or (i1 and i1[3]))
    desc = []
    if i0:
        desc.append(f"{y0} rank {_range(i0[0], i0[1])} ({i0[2]})")
    if i1:
        desc.append(f"{y1} rank {_range(i1[0], i1[1])} ({i1[2]})")
    shown = ", ".join(desc)
    if i1 and r1 is not None and not i1[0] <= r1 <= i1[1]:
        return "contradicted", f"{shown}: the {y1} rank is not {r1}", prov
    if i0 and r0 is not None and not i0[0] <= r0 <= i0[1]:
        return "contradicted", f"{shown}: the {y0} rank is not {r0}", prov
    if i0 and i1:
        lo, hi = i0[0] - i1[1], i0[1] - i1[0]
        if not lo <= c <= hi:
            return "contradicted", f"{shown}: a change of {_range(lo, hi)} places, not {c:+d}", prov
        if lo == hi:
            return "confirmed", shown, prov
    need = []
    for y, b, i in ((y0, b0, i0), (y1, b1, i1)):
        if i is None or i[0] != i[1]:
            n = ctx.n(b) if b in ctx.mappings.bases else 0
            n_old = ctx.n(ctx.spec.source)
            need.append(f"the {y} ranks on {b} (" + (f"all {n_old} predecessors' values"
                                                      if b == ctx.spec.target
                                                      else f"all {n} values") + ")")
    return "unknown", (shown + "; " if shown else "") + "would be settled by " + " and ".join(need), prov


#: What ``build --fail-on`` counts as a finding: failures only, warnings too, or nothing.
FAIL_ON: dict[str, tuple[str, ...]] = {"fail": ("fail",), "warn": ("fail", "warn"), "never": ()}


def findings(checks: pl.DataFrame, fail_on: str = "fail") -> pl.DataFrame:
    """Rows of ``checks`` whose verdict counts as a problem under ``fail_on`` (see :data:`FAIL_ON`).

    A comparison that the checks say can mislead is a finding even though every output was
    written: a pipeline must be able to tell "tables built" from "tables comparable".
    """
    return checks.filter(pl.col("verdict").is_in(list(FAIL_ON[fail_on])))
