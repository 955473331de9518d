"""How one merged number was made: its predecessors, their values and sources, the formula."""

from __future__ import annotations

from typing import Any

import polars as pl

from mergetool.comparable import SOURCE_BASIS, TARGET_BASIS, BuildResult
from mergetool.errors import InputError, Problem
from mergetool.record import read_record
from mergetool.units import UnitRef
from mergetool.verify import TOLERANCE


def explain(result: BuildResult, unit: str, *, year: int | None = None,
            indicator: str = "dti") -> dict[str, Any]:
    """The derivation of ``unit`` (a name or code on the 34-unit basis) as plain data."""
    ms = result.mappings
    code = ms.resolve(unit, TARGET_BASIS)
    if code is None:
        from mergetool.scores import fate

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
            value = hit["value"][0] if hit.height else None
            pred_rows.append({
                "ref": str(p), "name": ms.bases[p.basis].name_of(p.code), "value": value,
                "source": sources.get((y, p.basis, p.code, indicator)) if value is not None else None,
                "file": hit["file"][0] if hit.height else None,
                "row": hit["row"][0] if hit.height else None})
        known = [r["value"] for r in pred_rows if r["value"] is not None]
        recomputed = sum(known) / len(known) if known and len(known) == len(preds) else None
        pub = scores.filter((pl.col("year") == y) & (pl.col("indicator") == indicator)
                            & (pl.col("basis") == TARGET_BASIS) & (pl.col("code") == code)
                            & pl.col("value").is_not_null())
        published = pub["value"][0] if pub.height else None
        if published is not None and recomputed is not None:
            verdict = "match" if abs(published - recomputed) <= TOLERANCE else "mismatch"
        elif published is not None:
            verdict = "not-computable"
        elif recomputed is not None:
            verdict = "not-published"
        else:
            verdict = "unknown"
        formula = ("mean(" + ", ".join(f"{v:.4f}" if v is not None else "?" for v in
                                        (r["value"] for r in pred_rows)) + ")")
        out["years"].append({
            "year": y, "method": result.methods.get(indicator, result.methods.get("*", "mean")),
            "formula": formula, "recomputed": recomputed, "published": published,
            "published_source": sources.get((y, TARGET_BASIS, code, indicator)),
            "value": row["value"], "value_basis": row["value_basis"], "rank": row["rank"],
            "rank_source": row["rank_source"], "status": row["status"], "reason": row["reason"],
            "verdict": verdict, "tolerance": TOLERANCE, "predecessors": pred_rows})
    return out


def _sources() -> dict[tuple[int, str, str, str], str]:
    rec = read_record().filter(pl.col("value").is_not_null())
    return {(y, b, c, i): u for y, b, c, i, u in rec.select(
        "year", "basis", "code", "indicator", "source_url").iter_rows()}


__all__ = ["SOURCE_BASIS", "explain"]
