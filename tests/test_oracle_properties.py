"""The engine against the independent oracle, exactly, on random mappings and chains of them.

Every comparison is exact: the engine's ``value_exact`` (Decimal) must equal the oracle's Fraction
rounded half-up at 18 decimals, ``value`` must be that decimal's nearest float, and the coverage
columns (status, n_used, n_expected, missing) must be the oracle's. Shares are dyadic (1, 1/2,
1/4, 3/4) and weights integers, so every float factor ``w x share`` is the exact rational the
oracle uses; values have at most 4 decimals and lie in [0.1, 10], so every step of a chain reads
its predecessors' results back exactly (:func:`mergetool.core.oracle.carried`).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from helpers import mapping_set
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.core.mapping import MappingSet
from mergetool.core.oracle import Cell, chain_cells, exact, round_half_up, simple_rebase
from mergetool.core.rebase import rebase
from mergetool.io.scores import scores_from_rows

YEARS = (2023, 2024)
SPLITS = {1: [(1.0,)], 2: [(0.5, 0.5), (0.25, 0.75), (0.75, 0.25)],
          3: [(0.5, 0.25, 0.25), (0.25, 0.5, 0.25), (0.25, 0.25, 0.5)]}


def codes(n: int) -> list[str]:
    return [f"{i:02d}" for i in range(1, n + 1)]


@st.composite
def layer(draw, olds: list[str], n_new: int, blank: bool) -> list[tuple[str, str, float | None]]:
    """Edges from ``olds`` to ``n_new`` successors: merges, and splits with dyadic shares (or,
    with ``blank``, divided units whose shares are unknown). Successor i gets old unit i."""
    new = codes(n_new)
    pairs: list[tuple[str, str, float | None]] = []
    for i, code in enumerate(olds):
        first = [new[i]] if i < n_new else []
        extra = draw(st.lists(st.sampled_from(new), min_size=0 if first else 1,
                              max_size=min(3, n_new) - len(first), unique=True))
        targets = first + [t for t in extra if t not in first]
        shares = draw(st.sampled_from(SPLITS[len(targets)]))
        if len(targets) > 1 and blank and draw(st.booleans()):
            shares = (None,) * len(targets)
        pairs += [(code, t, s) for t, s in zip(targets, shares, strict=True)]
    return pairs


@st.composite
def chain(draw, steps: int, blank: bool = False, max_units: int = 7):
    """A valid mapping set b0 -> b1 (-> b2), each basis no larger than the one before."""
    sizes = [draw(st.integers(1, max_units))]
    for _ in range(steps):
        sizes.append(draw(st.integers(1, sizes[-1])))
    bases = [f"b{k}" for k in range(steps + 1)]
    transitions = []
    for k in range(steps):
        pairs = draw(layer(codes(sizes[k]), sizes[k + 1], blank))
        transitions.append((f"t{k}", bases[k], bases[k + 1], pairs))
    ms = mapping_set({b: [(c, f"{b} unit {c}") for c in codes(n)] for b, n in zip(bases, sizes,
                                                                                    strict=True)},
                     transitions)
    assert ms.valid, ms.problems
    return ms, bases, transitions


#: values with at most 4 decimals in [0.1, 10], or absent
VALUE = st.integers(1_000, 100_000).map(lambda k: k / 10_000)


@st.composite
def panel(draw, ms: MappingSet, basis: str, indicators: tuple[str, ...], complete: bool = False):
    """(year, indicator, code) -> value on ``basis``; a None is a row that is not there."""
    value = VALUE if complete else st.one_of(st.none(), VALUE, VALUE)
    values = {(y, i, c): draw(value) for y in YEARS for i in indicators
              for c in sorted(ms.bases[basis].codes)}
    # a (year, indicator) without any row is not in the input at all, for engine and oracle alike
    seen = {(y, i) for (y, i, _c), v in values.items() if v is not None}
    return {k: v for k, v in values.items() if k[:2] in seen}


def engine(ms: MappingSet, bases: list[str], values: dict, methods: dict[str, str], policy: str,
           weights: dict[str, float] | None = None) -> dict:
    rows = [(y, c, i, v) for (y, i, c), v in sorted(values.items()) if v is not None]
    table = None if weights is None else pl.DataFrame({"code": list(weights),
                                                       "weight": list(weights.values())})
    result = rebase(scores_from_rows(rows, bases[0]), ms, bases[-1], methods=methods, policy=policy,
                    weights=table, from_basis=bases[0])
    assert set(result.values["basis"]) <= {bases[-1]}
    return {(r["year"], r["indicator"], r["code"]): r for r in result.values.iter_rows(named=True)}


def assert_cells_equal(got: dict, want: dict[tuple, Cell], methods: dict[str, str]) -> None:
    """Every cell of the engine is the oracle's, exactly, and no cell is extra or lacking."""
    assert set(got) == set(want)
    for key, cell in want.items():
        row = got[key]
        assert (row["status"], row["n_used"], row["n_expected"], row["missing"]) == (
            cell.status, cell.n_used, cell.n_expected, " ".join(cell.missing)), key
        assert row["method"] == methods.get(key[1], methods["*"])
        if cell.value is None:
            assert (row["value"], row["value_exact"]) == (None, None), key
        else:
            rounded = round_half_up(cell.value, 18)
            assert isinstance(row["value_exact"], Decimal)
            assert Fraction(row["value_exact"]) == rounded, (key, row["value_exact"], cell.value)
            assert row["value"] == float(rounded), key


def pairs_of(ms: MappingSet, a: str, b: str) -> list[tuple[str, str, float | None]]:
    return ms.composed(a, b).edges.select("from_code", "to_code", "share").rows()


# --- weighted ------------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(st.data(), st.integers(1, 2), st.sampled_from(["strict", "partial"]))
def test_weighted_equals_the_oracle_exactly_on_steps_and_chains(data, steps, policy) -> None:
    ms, bases, _t = data.draw(chain(steps))
    values = data.draw(panel(ms, "b0", ("dti",)))
    weights = {c: float(data.draw(st.integers(1, 1000))) for c in sorted(ms.bases["b0"].codes)}
    methods = {"*": "weighted"}
    got = engine(ms, bases, values, methods, policy, weights)
    assert_cells_equal(got, chain_cells(ms.graph, bases, values, methods, policy, weights), methods)


@settings(max_examples=60, deadline=None)
@given(chain(2), st.data())
def test_weighted_chain_of_complete_values_is_the_composed_weighted_mean(case, data) -> None:
    """Weights carried along a chain (share-weighted sums) make the stepwise weighted mean the
    weighted mean over the composed transition, up to the float each step publishes for the next
    (half an ulp, below 1e-15 for values up to 10; a wrongly carried weight is off by far more)."""
    ms, bases, _t = case
    values = data.draw(panel(ms, "b0", ("dti",), complete=True))
    weights = {c: float(data.draw(st.integers(1, 1000))) for c in sorted(ms.bases["b0"].codes)}
    got = engine(ms, bases, values, {"*": "weighted"}, "strict", weights)
    direct = simple_rebase(values, pairs_of(ms, "b0", "b2"), "weighted", "strict", weights)
    assert set(got) == set(direct)
    for key, want in direct.items():
        assert got[key]["status"] == "ok"
        assert abs(Fraction(got[key]["value_exact"]) - want) <= Fraction(1, 10**14)


# --- per-indicator methods -----------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(st.data(), st.integers(1, 2), st.sampled_from(["strict", "partial"]))
def test_per_indicator_methods_equal_the_oracle_exactly(data, steps, policy) -> None:
    ms, bases, _t = data.draw(chain(steps))
    values = data.draw(panel(ms, "b0", ("awareness", "dti", "infrastructure")))
    methods = {"*": "mean", "awareness": "sum"}
    got = engine(ms, bases, values, methods, policy)
    assert_cells_equal(got, chain_cells(ms.graph, bases, values, methods, policy), methods)


@settings(max_examples=60, deadline=None)
@given(chain(2), st.data())
def test_a_sum_along_a_chain_is_the_sum_over_the_composed_transition(case, data) -> None:
    """For ``sum`` the steps compose exactly: the chain's result is the composed transition's,
    to the last of 18 decimals, while the mean indicator next to it keeps the stepwise rule."""
    ms, bases, _t = case
    values = data.draw(panel(ms, "b0", ("awareness", "dti"), complete=True))
    methods = {"*": "mean", "awareness": "sum"}
    got = engine(ms, bases, values, methods, "strict")
    direct = simple_rebase({k: v for k, v in values.items() if k[1] == "awareness"},
                           pairs_of(ms, "b0", "b2"), "sum")
    for key, want in direct.items():
        assert Fraction(got[key]["value_exact"]) == want
    totals = {(y, i): sum(exact(v) for (yy, ii, _c), v in values.items() if (yy, ii) == (y, i))
              for y in YEARS for i in ("awareness",)}
    for (y, i), total in totals.items():  # shares sum to 1: the total is kept, exactly
        assert sum(Fraction(r["value_exact"]) for k, r in got.items() if k[:2] == (y, i)) == total


# --- partial along chains ------------------------------------------------------------------------

@settings(max_examples=120, deadline=None)
@given(chain(2, blank=True), st.data(), st.sampled_from(["strict", "partial"]))
def test_coverage_along_a_chain_equals_the_oracle(case, data, policy) -> None:
    """Which cells are partial, incomplete or without data, what they used and lacked, and their
    values, after two steps (with divided units of unknown shares, for the mean)."""
    ms, bases, _t = case
    values = data.draw(panel(ms, "b0", ("dti",)))
    methods = {"*": "mean"}
    got = engine(ms, bases, values, methods, policy)
    want = chain_cells(ms.graph, bases, values, methods, policy)
    assert_cells_equal(got, want, methods)
    if policy == "strict":
        assert {r["status"] for r in got.values()} <= {"ok", "incomplete", "no-data"}


def test_a_value_built_from_a_partial_value_is_partial() -> None:
    """01, 02 -> X; X, 03 -> Z. With 02 missing, X is partial (1 of 2); Z has both its
    predecessors yet is built on a partial value, so it must be partial too, never ok. Its
    coverage is counted on the scores' basis: 2 of the 3 units it is made of, 02 missing (not
    the intermediate X, which the user never gave)."""
    ms = mapping_set({"b0": [("01", "a"), ("02", "b"), ("03", "c")],
                      "b1": [("01", "X"), ("03", "Y")], "b2": [("01", "Z")]},
                     [("t0", "b0", "b1", [("01", "01", 1.0), ("02", "01", 1.0), ("03", "03", 1.0)]),
                      ("t1", "b1", "b2", [("01", "01", 1.0), ("03", "01", 1.0)])])
    values = {(2024, "dti", "01"): 0.6, (2024, "dti", "02"): None, (2024, "dti", "03"): 0.2}
    got = engine(ms, ["b0", "b1", "b2"], values, {"*": "mean"}, "partial")
    z = got[(2024, "dti", "01")]
    assert (z["status"], z["n_used"], z["n_expected"], z["missing"]) == ("partial", 2, 3, "02")
    assert z["value_exact"] == Decimal("0.4")
    strict = engine(ms, ["b0", "b1", "b2"], values, {"*": "mean"}, "strict")[(2024, "dti", "01")]
    assert (strict["status"], strict["value"], strict["missing"]) == ("incomplete", None, "02")


@pytest.mark.parametrize("method", ["mean", "sum", "weighted"])
def test_partial_flag_survives_every_method_of_a_chain(method) -> None:
    """The partial marking is carried through a step for every method, not only the mean."""
    ms = mapping_set({"b0": [("01", "a"), ("02", "b"), ("03", "c")],
                      "b1": [("01", "X"), ("03", "Y")], "b2": [("01", "Z")]},
                     [("t0", "b0", "b1", [("01", "01", 1.0), ("02", "01", 1.0), ("03", "03", 1.0)]),
                      ("t1", "b1", "b2", [("01", "01", 1.0), ("03", "01", 1.0)])])
    values = {(2024, "n", "01"): 0.5, (2024, "n", "02"): None, (2024, "n", "03"): 0.25}
    weights = {"01": 1.0, "02": 3.0, "03": 2.0} if method == "weighted" else None
    methods = {"*": method}
    got = engine(ms, ["b0", "b1", "b2"], values, methods, "partial", weights)
    want = chain_cells(ms.graph, ["b0", "b1", "b2"], values, methods, "partial", weights)
    assert want[(2024, "n", "01")].status == "partial"
    assert_cells_equal(got, want, methods)


# --- divided units whose shares the mapping leaves blank, filled by a shares table ---------------

@settings(max_examples=80, deadline=None)
@given(chain(1, blank=True), st.data(), st.sampled_from(["strict", "partial"]))
def test_a_shares_table_fills_blank_shares_for_sum_and_weighted(case, data, policy) -> None:
    """Blank shares filled by ``shares=``: the engine's cells equal the oracle's on the mapping
    with those shares written in, for sum, weighted and mean side by side."""
    ms, bases, ((tid, a, b, pairs),) = case
    blank = sorted({f for f, _t, s in pairs if s is None})
    filled, table = [], []
    for code in sorted({f for f, _t, _s in pairs}):
        edges = [(f, t, s) for f, t, s in pairs if f == code]
        if code in blank:
            shares = data.draw(st.sampled_from(SPLITS[len(edges)]))
            edges = [(f, t, s) for (f, t, _s), s in zip(edges, shares, strict=True)]
            table += edges
        filled += edges
    written = mapping_set({k: [(c, f"{k} unit {c}") for c in sorted(ms.bases[k].codes)] for k in bases},
                          [(tid, a, b, filled)])
    values = data.draw(panel(ms, "b0", ("awareness", "dti", "income")))
    weights = {c: float(data.draw(st.integers(1, 1000))) for c in sorted(ms.bases["b0"].codes)}
    methods = {"*": "mean", "awareness": "sum", "income": "weighted"}
    rows = [(y, c, i, v) for (y, i, c), v in sorted(values.items()) if v is not None]
    result = rebase(scores_from_rows(rows, "b0"), ms, "b1", methods=methods, policy=policy,
                    weights=pl.DataFrame({"code": list(weights), "weight": list(weights.values())}),
                    shares=pl.DataFrame(table, schema={"from_code": pl.String, "to_code": pl.String,
                                                       "share": pl.Float64}, orient="row")
                    if table else None, from_basis="b0")
    got = {(r["year"], r["indicator"], r["code"]): r for r in result.values.iter_rows(named=True)}
    assert_cells_equal(got, chain_cells(written.graph, bases, values, methods, policy, weights), methods)
