"""How one rebased value was made, for any mapping (the commune level included).

:mod:`mergetool.dti.explain` explains the DTI build (published values, sources, ranks). A commune
table has none of those: its explanation is the rebase itself — the unit's predecessors, their
values and shares, the formula, and an independent recomputation from the predecessors'
values compared with the engine's result. The output has the shape ``render.explain_tree``
prints, so ``mergetool explain`` shows both the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.oracle import exact
from mergetool.core.ranking import plain
from mergetool.core.rebase import RebaseResult, rebase
from mergetool.core.units import UnitRef
from mergetool.dti.explain import of_year, steps_data
from mergetool.dti.verify import chain_formula, recompute_chain
from mergetool.errors import InputError, Problem
from mergetool.io.scores import read_scores

#: Independent recomputation (the verification's oracle, exact fractions) vs the engine (exact
#: decimals): both work on the same inputs and agree far inside this bound.
RECOMPUTE_TOLERANCE = 1e-9


def final_basis(ms: MappingSet, from_basis: str) -> str:
    """The newest basis reachable from ``from_basis`` (the end of its chain of transitions)."""
    current = from_basis
    while True:
        nxt = [t.to_basis for t in ms.transitions if t.from_basis == current]
        if not nxt:
            return current
        current = nxt[0]


def explain_rebased(result: RebaseResult, ms: MappingSet, unit: str, *, indicator: str | None = None,
                    year: int | None = None, scores: pl.DataFrame | None = None) -> dict[str, Any]:
    """The derivation of ``unit`` (code or name on the result's target basis) as plain data."""
    basis = ms.basis(result.to_basis)
    code = ms.resolve(unit, basis.id)
    if code is None:
        raise InputError.single(Problem(
            "unknown-unit", f"{unit!r} is not a unit of {basis.id}", found=unit,
            hint=basis.resolver.hint(unit)))
    values = result.values.filter(pl.col("code") == code)
    indicators: list[str] = sorted(set(result.values["indicator"]))
    if indicator is None and len(indicators) == 1:
        indicator = indicators[0]
    if indicator not in indicators:
        raise InputError.single(Problem(
            "unknown-indicator", f"no indicator {indicator!r} in the rebased values",
            column="--indicator", found=str(indicator), expected=" or ".join(indicators)))
    values = values.filter(pl.col("indicator") == indicator)
    values = of_year(values, year, result.values["year"])
    src = scores if scores is not None else pl.DataFrame(
        schema={"year": pl.Int32, "code": pl.String, "indicator": pl.String,
                "value": pl.Float64, "file": pl.String, "row": pl.Int32})
    src = src.filter(pl.col("indicator") == indicator)
    if year is not None:
        src = src.filter(pl.col("year") == year)
    # The verification's own recomputation (the oracle), by the method and policy the rebase used.
    rec = recompute_chain(src, ms, result.from_basis, basis.id, result.methods,
                          result.policy)
    method = rec.method(indicator)
    first = rec.steps[0].from_basis if rec.steps else result.from_basis
    composed = ms.composed(result.from_basis, basis.id) if rec.steps else None
    shares = {} if composed is None else {a: s for a, b, s in composed.edges.select(
        "from_code", "to_code", "share").iter_rows() if b == code}
    out: dict[str, Any] = {"unit": {"code": code, "basis": basis.id, "name": basis.name_of(code)},
                           "indicator": indicator, "display": "plain", "method": method,
                           "bases": {"source": result.from_basis, "target": basis.id},
                           "transitions": [t.id for t in rec.steps], "years": []}
    for row in values.sort("year").iter_rows(named=True):
        y = row["year"]
        hits = src.filter(pl.col("year") == y)
        by_code = {c: (v, f, r) for c, v, f, r in hits.select("code", "value", "file", "row").iter_rows()}
        traced = rec.trace(y, indicator, code)
        firsts = sorted({a for u in traced[0] for a, _s, _v in u["inputs"]}) if traced else []
        pred_rows = []
        for p in firsts:
            v, f, r = by_code.get(p, (None, None, None))
            pred_rows.append({"ref": str(UnitRef(first, p)), "name": ms.bases[first].name_of(p),
                              "value": v, "share": shares.get(p), "source": None, "file": f,
                              "row": r})
        exact_value = rec.value(y, indicator, code)
        recomputed = None if exact_value is None else float(exact_value)
        # Any statistic, so every digit the values have (not the DTI's 4 decimals).
        formula = chain_formula(traced, method, plain)
        if exact_value is not None and row["value"] is not None:
            off = abs(exact_value - exact(row["value"]))
            verdict = "match" if off <= exact(RECOMPUTE_TOLERANCE) else "mismatch"
        else:
            verdict = "not-computable" if row["value"] is None else "unknown"
        out["years"].append({
            "year": y, "method": method, "formula": formula, "recomputed": recomputed,
            "recomputed_exact": None if exact_value is None else plain(exact_value),
            "published": None, "published_source": None, "value": row["value"],
            "value_basis": f"rebased from {result.from_basis}", "rank": None, "rank_source": None,
            "status": row["status"], "reason": (f"missing {row['missing']}" if row["missing"] else ""),
            "verdict": verdict, "tolerance": RECOMPUTE_TOLERANCE, "circular": False,
            "predecessors": pred_rows,
            "steps": steps_data(ms, rec, traced, method, plain, plain)})
    return out


def explain_file(ms: MappingSet, scores_path: Path, unit: str, *, indicator: str | None = None,
                 year: int | None = None, basis: str | None = None,
                 methods: dict[str, str] | None = None) -> dict[str, Any]:
    """Read a score table, rebase it (``methods``, mean unless given) to the newest basis,
    explain ``unit`` there."""

    ms.require_valid()
    scores = read_scores(scores_path, ms, basis=basis)
    target = final_basis(ms, scores["basis"][0])
    result = rebase(scores, ms, target, methods=methods)
    return explain_rebased(result, ms, unit, indicator=indicator, year=year, scores=scores)
