"""How one merged number was made: its predecessors, their values and sources, the formula.

Every value is credited to where it came from: a user's file and row, or the shipped record's
source URL(s); a user's number never gets a news URL. A match that rests on a value the
shipped record carried over from the published 34-unit table is marked circular: it is no
independent evidence. Arithmetic is exact (fractions), shown rounded half-up to 4 decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.ranking import exact_text
from mergetool.core.units import UnitRef
from mergetool.dti.comparable import SOURCE_BASIS, BuildResult
from mergetool.dti.record import SHIPPED_FILE, read_record
from mergetool.dti.spec import TOLERANCE
from mergetool.dti.verify import Recomputation, chain_formula, recompute_chain, show4, within
from mergetool.errors import InputError, Problem
from mergetool.io.scores import fate


def _credit(hit: pl.DataFrame, sources: dict, key: tuple) -> dict[str, Any]:
    """Where a score row came from: the user's file and row, or the shipped source."""
    if hit.is_empty():
        return {"origin": None, "source": None, "file": None, "row": None, "carried": False}
    file, row = hit["file"][0], int(hit["row"][0])
    if file == SHIPPED_FILE:
        url, origin = sources.get(key, (None, None))
        return {"origin": "shipped", "source": url, "file": file, "row": row,
                "carried": origin == "carried-from-34-basis"}
    return {"origin": "user", "source": f"{file} row {row}", "file": file, "row": row,
            "carried": False}


def _became_through_chain(ms: MappingSet, unit: str, bases: list[str], target: str) -> str | None:
    """"Amberdale (01@fict-county-2019) is part of Greater Amberbrin on fict-county-2024": where
    a unit of the oldest or an intermediate basis of a chain ended up (the first step's fate
    would name an intermediate unit, itself not on the target basis)."""
    for b in bases:
        old = ms.resolve(unit, b)
        if old is None:
            continue
        to = sorted(set(ms.composed(b, target).edges.filter(pl.col("from_code") == old)["to_code"]))
        if not to:
            return None
        names = " and ".join(ms.bases[target].name_of(c) for c in to)
        return f"{ms.bases[b].name_of(old)} ({old}@{b}) is part of {names} on {target}"
    return None


def explain(result: BuildResult, unit: str, *, year: int | None = None,
            indicator: str = "dti") -> dict[str, Any]:
    """The derivation of ``unit`` (a name or code on the mapping's newest basis) as plain data.

    The numbers are the verification's own recomputation (:func:`recompute_chain`, the oracle)
    with the method the build used for ``indicator`` (``result.methods``), step by step along
    the chain of transitions from the build's oldest basis (``result.spec``): each year's
    ``steps`` say which units fed which intermediate unit, its value, then the next step.
    """
    ms = result.mappings
    source, target = result.spec.source, result.spec.target
    code = ms.resolve(unit, target)
    if code is None:
        old_code = ms.resolve(unit, source)
        steps = ms.path(source, target)
        became = (fate(ms, source, old_code) if old_code else None) if len(steps) < 2 else \
            _became_through_chain(ms, unit, [s.from_basis for s in steps], target)
        hint = (f"{became}: explain the unit it became part of" if became else
                ms.bases[target].resolver.hint(unit))
        raise InputError.single(Problem(
            "unknown-unit", f"{unit!r} is not a unit of {target}", found=unit, hint=hint))
    cells = result.comparable.filter((pl.col("code") == code) & (pl.col("indicator") == indicator))
    if cells.is_empty():
        raise InputError.single(Problem("unknown-indicator", f"no indicator {indicator!r}",
                                        found=indicator, column="--indicator"))
    cells = of_year(cells, year, result.comparable["year"])
    sources = _sources()
    scores = result.scores.filter(pl.col("indicator") == indicator)
    old = scores.filter((pl.col("basis") == source) & pl.col("value").is_not_null())
    if year is not None:
        old = old.filter(pl.col("year") == year)
    rec = recompute_chain(old, ms, source, target, result.methods)
    method = rec.method(indicator)
    out: dict[str, Any] = {"unit": {"code": code, "basis": target,
                                    "name": ms.bases[target].name_of(code)},
                           "indicator": indicator, "method": method,
                           "bases": {"source": source, "target": target},
                           "transitions": [t.id for t in rec.steps], "years": []}
    for row in cells.iter_rows(named=True):
        y = row["year"]
        traced = rec.trace(y, indicator, code)

        def credit(basis: str, c: str, y: int = y) -> dict[str, Any]:
            hit = scores.filter((pl.col("year") == y) & (pl.col("basis") == basis)
                                & (pl.col("code") == c) & pl.col("value").is_not_null())
            return {"value": hit["value"][0] if hit.height else None,
                    **_credit(hit, sources, (y, basis, c, indicator))}

        first = rec.steps[0].from_basis
        firsts = sorted({a for u in traced[0] for a, _s, _v in u["inputs"]}) if traced else []
        pred_rows = [{"ref": str(UnitRef(first, c)), "name": ms.bases[first].name_of(c),
                      **credit(first, c)} for c in firsts]
        value = rec.value(y, indicator, code)
        recomputed = None if value is None else float(value)
        pub = credit(target, code)
        published = pub["value"]
        circular = any(r["carried"] for r in pred_rows if r["value"] is not None)
        if published is not None and value is not None:
            verdict = "match" if within(published, value, TOLERANCE) else "mismatch"
        elif published is not None:
            verdict = "not-computable"
        elif recomputed is not None:
            verdict = "not-published"
        else:
            verdict = "unknown"
        out["years"].append({
            "year": y, "method": method, "formula": chain_formula(traced, method, show4),
            "recomputed": recomputed,
            "recomputed_exact": None if value is None else exact_text(value),
            "published": published, "published_source": pub["source"],
            "published_origin": pub["origin"],
            "circular": circular and verdict == "match",
            "value": row["value"], "value_basis": row["value_basis"], "rank": row["rank"],
            "rank_source": row["rank_source"], "status": row["status"], "reason": row["reason"],
            "verdict": verdict, "tolerance": TOLERANCE, "predecessors": pred_rows,
            "steps": steps_data(ms, rec, traced, method, show4, exact_text)})
    return out


def steps_data(ms: MappingSet, rec: Recomputation, traced: list[list[dict]], method: str,
               show: Callable[[Any], str], show_exact: Callable[[Fraction], str]) -> list[dict]:
    """The traced steps as plain data: per transition, each unit it made that feeds the
    explained one, its inputs (ref, name, share, value) and its value (``show``: as displayed,
    ``value_exact``: every digit), and the formula of that one step."""
    out = []
    for t, units in zip(rec.steps, traced, strict=True):
        rows = []
        for u in units:
            inputs = [{"ref": str(UnitRef(t.from_basis, a)), "name": ms.bases[t.from_basis].name_of(a),
                       "share": s, "value": None if v is None else float(v),
                       "value_exact": None if v is None else show_exact(v)} for a, s, v in u["inputs"]]
            v = u["value"]
            rows.append({"ref": str(UnitRef(t.to_basis, u["code"])),
                         "name": ms.bases[t.to_basis].name_of(u["code"]),
                         "value": None if v is None else float(v),
                         "value_exact": None if v is None else show_exact(v),
                         "formula": chain_formula([[u]], method, show), "inputs": inputs})
        out.append({"transition": t.id, "from_basis": t.from_basis, "to_basis": t.to_basis,
                    "method": method, "units": rows})
    return out


def _sources() -> dict[tuple[int, str, str, str], tuple[str, str]]:
    rec = read_record().filter(pl.col("value").is_not_null())
    return {(y, b, c, i): (u, o) for y, b, c, i, u, o in rec.select(
        "year", "basis", "code", "indicator", "source_url", "value_origin").iter_rows()}


def match_counts(data: dict[str, Any]) -> tuple[int, int]:
    """(independent, circular) matches among the explained years."""
    matches = [y for y in data["years"] if y["verdict"] == "match"]
    circular = sum(1 for y in matches if y.get("circular"))
    return len(matches) - circular, circular



def of_year(frame: pl.DataFrame, year: int | None, years: pl.Series) -> pl.DataFrame:
    """``frame``'s rows of ``year`` (all without one); a year it lacks is refused, naming the
    range ``years`` covers."""
    if year is None:
        return frame
    chosen = frame.filter(pl.col("year") == year)
    if chosen.is_empty():
        known = sorted(set(years))
        raise InputError.single(Problem("year-out-of-range", f"no year {year}", column="--year",
                                        expected=f"{known[0]}-{known[-1]}", found=str(year)))
    return chosen


__all__ = ["SOURCE_BASIS", "explain"]
