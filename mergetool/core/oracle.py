"""A deliberately simple second implementation of rebasing, in plain Python loops.

It shares no code with :mod:`mergetool.core.rebase` (no polars, no joins, no window
expressions): auditors use it through ``mergetool verify`` to recompute merged
values independently, and the tests check that the fast path agrees with it on
random mappings. Arithmetic is exact: every input becomes a :class:`fractions.Fraction`
(a float through its shortest decimal repr, so 0.6647 is 6647/10000), and results are
Fractions, so 0.66475 is exactly 0.66475 and rounds half-up to 0.6648.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import networkx as nx


def exact(v: float | int | str | Decimal | Fraction) -> Fraction:
    """An input value as an exact fraction (floats through their shortest repr)."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, float):
        return Fraction(Decimal(repr(v)))
    return Fraction(Decimal(str(v)) if not isinstance(v, Decimal) else v)


def round_half_up(v: Fraction, decimals: int = 4) -> Fraction:
    """``v`` rounded half-up (away from zero) to ``decimals`` places, exactly (as Excel's ROUND)."""
    scale = 10 ** decimals
    scaled = abs(v) * scale
    q = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return Fraction(q if v >= 0 else -q, scale)

Key = tuple[int, str, str]  # (year, indicator, code)


def simple_rebase(values: dict, edges: Iterable[tuple[str, str, float | None]],
                  method: str = "mean", policy: str = "strict",
                  weights: dict[str, float] | None = None) -> dict[Key, Fraction | None]:
    """Successor values from predecessor ``values`` through ``edges`` (from, to, share).

    Returns one entry per (year, indicator) seen in ``values`` and successor in ``edges``;
    None where the policy leaves the successor uncomputed.
    """
    preds: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
    for a, b, share in edges:
        if share is None or share > 0:  # None: a divided unit's part, share unknown (mean only)
            preds[b].append((a, share))
    combos = sorted({(y, i) for (y, i, _c) in values})
    out: dict[Key, Fraction | None] = {}
    for year, ind in combos:
        for succ, plist in preds.items():
            present = [(a, None if s is None else exact(s), exact(values[(year, ind, a)]))
                       for a, s in plist
                       if (year, ind, a) in values and values[(year, ind, a)] is not None]
            if not present or (policy == "strict" and len(present) < len(plist)) or (
                    method != "mean" and any(s is None for _a, s, _v in present)):
                # None also where a share is unknown (a divided unit): only a mean needs none
                out[(year, ind, succ)] = None
                continue
            if method == "mean":
                total = Fraction(0)
                for _a, _s, v in present:
                    total += v
                out[(year, ind, succ)] = total / len(present)
            elif method == "sum":
                total = Fraction(0)
                for _a, s, v in present:
                    total += _known(s) * v
                out[(year, ind, succ)] = total
            elif method == "weighted" and weights is None:  # no weights given: not computed
                out[(year, ind, succ)] = None
            elif method == "weighted" and weights is not None:  # None: the branch above
                num = den = Fraction(0)
                for a, s, v in present:
                    num += exact(weights[a]) * _known(s) * v
                    den += exact(weights[a]) * _known(s)
                out[(year, ind, succ)] = num / den
            else:
                raise ValueError(method)
    return out


Edge = tuple[str, str, "float | None"]  # (from_code, to_code, share)


def _method(indicator: str, methods: dict[str, str]) -> str:
    return methods.get(indicator, methods.get("*", "mean"))


def chain_rebase(values: dict, steps: Sequence[Iterable[Edge]], methods: dict[str, str],
                 policy: str = "strict", weights: dict[str, float] | None = None
                 ) -> list[dict[Key, Fraction | None]]:
    """Every basis's values along a chain of transitions, exactly: ``[inputs, after step 1,
    after step 2, ...]``, each step by :func:`simple_rebase` with each indicator's method
    (``methods``: indicator -> method, ``"*"`` for the rest, default mean).

    A step works on the previous step's values (a mean of means, as the engine does), never on
    the first basis's values directly.
    """
    layers: list[dict[Key, Fraction | None]] = [
        {k: exact(v) for k, v in values.items() if v is not None}]
    for step in steps:
        edges = list(step)
        current = {k: v for k, v in layers[-1].items() if v is not None}
        by_ind: dict[str, dict[Key, Fraction]] = defaultdict(dict)
        for k, v in current.items():
            by_ind[k[1]][k] = v
        out: dict[Key, Fraction | None] = {}
        for ind in sorted(by_ind):
            out.update(simple_rebase(by_ind[ind], edges, _method(ind, methods), policy, weights))
        layers.append(out)
    return layers


def trace(layers: list[dict[Key, Fraction | None]], steps: Sequence[Iterable[Edge]],
          key: Key) -> list[list[dict]]:
    """How ``layers[-1][key]`` was made, step by step (first step first).

    Each step is a list, by code, of the units of that step's successor basis that feed ``key``
    (the last step: ``key``'s unit alone): ``{"code", "value", "inputs": [(code, share,
    value), ...]}`` with exact values (None: no value). Edges of share 0 feed nothing.
    """
    year, ind, code = key
    frontier = {code}
    out: list[list[dict]] = []
    for i in range(len(steps) - 1, -1, -1):
        preds: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
        for a, b, s in steps[i]:
            if b in frontier and (s is None or s > 0):
                preds[b].append((a, s))
        out.append([{"code": b, "value": layers[i + 1].get((year, ind, b)),
                     "inputs": [(a, s, layers[i].get((year, ind, a))) for a, s in sorted(preds[b])]}
                    for b in sorted(frontier)])
        frontier = {a for plist in preds.values() for a, _s in plist}
    return out[::-1]


def origins(steps: Sequence[Iterable[Edge]], codes: Iterable[str]) -> dict[str, list[str]]:
    """Each of ``codes`` (units of a chain's last basis) -> the units of its first basis that the
    chain's ``steps`` (each step's edges, first step first) lead into it, walking back one step
    at a time (edges of share 0 feed nothing)."""
    preds: list[dict[str, list[str]]] = []
    for step in steps:
        back: dict[str, list[str]] = defaultdict(list)
        for a, b, share in step:
            if share is None or share > 0:
                back[b].append(a)
        preds.append(back)
    out: dict[str, list[str]] = {}
    for code in codes:
        frontier = {code}
        for back in reversed(preds):
            frontier = {a for f in frontier for a in back.get(f, ())}
        out[code] = sorted(frontier)
    return out


def graph_steps(graph: nx.DiGraph, bases: Sequence[str]) -> list[list[Edge]]:
    """The edges ``(from_code, to_code, share)`` of each step of a chain through ``bases``, read
    off the networkx mapping graph (nodes ``UnitRef``, edges ``share``)."""
    steps: list[list[Edge]] = [[] for _ in bases[1:]]
    at = {(a, b): i for i, (a, b) in enumerate(itertools.pairwise(bases))}
    for u, v, data in graph.edges(data=True):
        i = at.get((u.basis, v.basis))
        if i is not None:
            steps[i].append((u.code, v.code, data["share"]))
    return steps


# --- cells with their coverage, step by step along a chain (tests and audits) -------------------


class Cell(NamedTuple):
    """One successor cell as the oracle sees it: value (None when not computed), status (ok,
    partial, incomplete, no-data), predecessors used and expected, and the missing ones' codes."""

    value: Fraction | None
    status: str
    n_used: int
    n_expected: int
    missing: tuple[str, ...]


def _known(share: Fraction | None) -> Fraction:
    """A share a sum or weighted step multiplies by: known (rebase refuses unknown ones first)."""
    if share is None:
        raise ValueError("an unknown share reached a sum or weighted step")
    return share


def carried(v: Fraction) -> Fraction:
    """A step's result as the next step of a chain reads it: its exact decimal, rounded half-up
    at 18 decimals (``value_exact``), not the float beside it."""
    return round_half_up(v, 18)


def step_cells(graph: nx.DiGraph, from_basis: str, to_basis: str,
               values: dict[Key, Fraction | None], flagged: set[Key], methods: dict[str, str],
               policy: str = "strict", weights: dict[str, Fraction] | None = None
               ) -> dict[Key, Cell]:
    """One transition, read off the networkx mapping graph (nodes ``UnitRef``, edges ``share``).

    ``values``: (year, indicator, code) on ``from_basis`` -> exact value or None; ``flagged``: the
    keys whose value is itself partial (a partial result of an earlier step). ``methods``: method
    per indicator, ``"*"`` for the rest. A cell is ``ok`` when every predecessor has a value and
    none is flagged; otherwise ``partial`` (policy partial, value over those present) or
    ``incomplete`` (strict, no value); ``no-data`` when no predecessor has a value.
    """
    preds: dict[str, list[tuple[str, Fraction | None]]] = defaultdict(list)
    for a, b, data in graph.edges(data=True):
        if a.basis == from_basis and b.basis == to_basis:
            share = data["share"]
            if share is None or share > 0:
                preds[b.code].append((a.code, None if share is None else exact(share)))
    out: dict[Key, Cell] = {}
    for year, ind in sorted({(y, i) for (y, i, _c) in values}):
        method = methods.get(ind, methods.get("*", "mean"))
        for succ in sorted(preds):
            plist = sorted(preds[succ])
            present = [(a, s, v) for a, s in plist if (v := values.get((year, ind, a))) is not None]
            missing = tuple(a for a, _s in plist if values.get((year, ind, a)) is None)
            n_used, n_expected = len(present), len(plist)
            if not present:
                out[(year, ind, succ)] = Cell(None, "no-data", 0, n_expected, missing)
                continue
            if n_used == n_expected and not any((year, ind, a) in flagged for a, _s in plist):
                status = "ok"
            else:
                status = "partial" if policy == "partial" else "incomplete"
            value = None
            if status != "incomplete":
                if method == "mean":
                    value = sum((v for _a, _s, v in present), Fraction(0)) / n_used
                elif method == "sum":
                    value = sum((_known(s) * v for _a, s, v in present), Fraction(0))
                elif method == "weighted":
                    if weights is None:
                        raise ValueError("method 'weighted' needs weights")
                    num = sum((weights[a] * _known(s) * v for a, s, v in present), Fraction(0))
                    den = sum((weights[a] * _known(s) for a, s, _v in present), Fraction(0))
                    value = num / den
                else:
                    raise ValueError(method)
            out[(year, ind, succ)] = Cell(value, status, n_used, n_expected, missing)
    return out


def chain_cells(graph: nx.DiGraph, bases: list[str], values: dict[Key, float | None],
                methods: dict[str, str], policy: str = "strict",
                weights: dict[str, float] | None = None) -> dict[Key, Cell]:
    """The cells on ``bases[-1]``, applying the transitions ``bases[0] -> bases[1] -> ...`` one at
    a time: each step reads the previous one's results (:func:`carried`) and flags, and unit
    weights are carried as the share-weighted sums of the predecessors' weights."""
    current = {k: None if v is None else exact(v) for k, v in values.items()}
    w = None if weights is None else {c: exact(x) for c, x in weights.items()}
    flagged: set[Key] = set()
    cells: dict[Key, Cell] = {}
    for a, b in itertools.pairwise(bases):
        cells = step_cells(graph, a, b, current, flagged, methods, policy, w)
        current = {k: None if c.value is None else carried(c.value) for k, c in cells.items()}
        flagged = {k for k, c in cells.items() if c.status == "partial"}
        if w is not None:
            nxt: dict[str, Fraction] = defaultdict(Fraction)
            for u, s, data in graph.edges(data=True):
                if u.basis == a and s.basis == b:
                    nxt[s.code] += w[u.code] * exact(data["share"])
            w = dict(nxt)
    if len(bases) < 3:
        return cells
    # A chain's coverage is counted on the first basis: the units given a value (or not) that
    # the chain leads into each result.
    first = origins(graph_steps(graph, bases), (n.code for n in graph if n.basis == bases[-1]))
    given = {k for k, v in values.items() if v is not None}
    out: dict[Key, Cell] = {}
    for (year, ind, code), cell in cells.items():
        origin = first.get(code, [])
        have = [c for c in origin if (year, ind, c) in given]
        out[(year, ind, code)] = cell._replace(
            n_expected=len(origin), n_used=len(have),
            missing=tuple(c for c in origin if c not in have))
    return out
