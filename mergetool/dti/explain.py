"""How one merged number was made: its predecessors, their values and sources, the formula.

Every value is credited to where it came from: a user's file and row, or the shipped record's
source URL(s); a user's number never gets a news URL. A match that rests on a value the
shipped record carried over from the published 34-unit table is marked circular: it is no
independent evidence. Arithmetic is exact (fractions), shown rounded half-up to 4 decimals.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import polars as pl

from mergetool.core.oracle import exact
from mergetool.core.ranking import exact_text, fmt4
from mergetool.core.units import UnitRef
from mergetool.dti.comparable import SHIPPED_FILE, SOURCE_BASIS, TARGET_BASIS, BuildResult
from mergetool.dti.record import read_record
from mergetool.dti.spec import TOLERANCE
from mergetool.errors import InputError, Problem


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


def explain(result: BuildResult, unit: str, *, year: int | None = None,
            indicator: str = "dti") -> dict[str, Any]:
    """The derivation of ``unit`` (a name or code on the 34-unit basis) as plain data."""
    ms = result.mappings
    code = ms.resolve(unit, TARGET_BASIS)
    if code is None:
        from mergetool.io.scores import fate

        near = ms.bases[TARGET_BASIS].resolver.suggest(unit)
        old = ms.resolve(unit, SOURCE_BASIS) if SOURCE_BASIS in ms.bases else None
        became = fate(ms, SOURCE_BASIS, old) if old else None
        hint = (f"{became}: explain the unit it became part of" if became else
                ("did you mean " + " or ".join(repr(n) for n in near) + "?") if near else None)
        raise InputError.single(Problem(
            "unknown-unit", f"{unit!r} is not a unit of {TARGET_BASIS}", found=unit, hint=hint))
    cells = result.comparable.filter((pl.col("code") == code) & (pl.col("indicator") == indicator))
    if cells.is_empty():
        raise InputError.single(Problem("unknown-indicator", f"no indicator {indicator!r}",
                                        found=indicator, column="--indicator"))
    if year is not None:
        cells = cells.filter(pl.col("year") == year)
        if cells.is_empty():
            years = sorted(set(result.comparable["year"]))
            raise InputError.single(Problem("year-out-of-range", f"no year {year}", column="--year",
                                            expected=f"{years[0]}-{years[-1]}", found=str(year)))
    ref = UnitRef(TARGET_BASIS, code)
    preds = [p for p, _share in ms.predecessors_of(ref)]
    sources = _sources()
    scores = result.scores
    out: dict[str, Any] = {"unit": {"code": code, "basis": TARGET_BASIS,
                                    "name": ms.bases[TARGET_BASIS].name_of(code)},
                           "indicator": indicator, "years": []}
    for row in cells.iter_rows(named=True):
        y = row["year"]
        pred_rows = []
        for p in preds:
            hit = scores.filter((pl.col("year") == y) & (pl.col("indicator") == indicator)
                                & (pl.col("basis") == p.basis) & (pl.col("code") == p.code))
            hit = hit.filter(pl.col("value").is_not_null())
            value = hit["value"][0] if hit.height else None
            pred_rows.append({
                "ref": str(p), "name": ms.bases[p.basis].name_of(p.code), "value": value,
                **_credit(hit, sources, (y, p.basis, p.code, indicator))})
        known = [exact(r["value"]) for r in pred_rows if r["value"] is not None]
        mean = sum(known, Fraction(0)) / len(known) if known and len(known) == len(preds) else None
        recomputed = None if mean is None else float(mean)
        pub = scores.filter((pl.col("year") == y) & (pl.col("indicator") == indicator)
                            & (pl.col("basis") == TARGET_BASIS) & (pl.col("code") == code)
                            & pl.col("value").is_not_null())
        published = pub["value"][0] if pub.height else None
        pub_credit = _credit(pub, sources, (y, TARGET_BASIS, code, indicator))
        circular = any(r["carried"] for r in pred_rows if r["value"] is not None)
        if published is not None and mean is not None:
            ok = abs(exact(published) - mean) <= exact(TOLERANCE)
            verdict = "match" if ok else "mismatch"
        elif published is not None:
            verdict = "not-computable"
        elif recomputed is not None:
            verdict = "not-published"
        else:
            verdict = "unknown"
        formula = ("mean(" + ", ".join(fmt4(v) if v is not None else "?" for v in
                                        (r["value"] for r in pred_rows)) + ")")
        out["years"].append({
            "year": y, "method": result.methods.get(indicator, result.methods.get("*", "mean")),
            "formula": formula, "recomputed": recomputed,
            "recomputed_exact": None if mean is None else exact_text(mean),
            "published": published, "published_source": pub_credit["source"],
            "published_origin": pub_credit["origin"],
            "circular": circular and verdict == "match",
            "value": row["value"], "value_basis": row["value_basis"], "rank": row["rank"],
            "rank_source": row["rank_source"], "status": row["status"], "reason": row["reason"],
            "verdict": verdict, "tolerance": TOLERANCE, "predecessors": pred_rows})
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


__all__ = ["SOURCE_BASIS", "explain"]
