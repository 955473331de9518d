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
A chain of transitions is applied one step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mergetool.errors import InputError, Problem, UsageError
from mergetool.mapping import MappingSet, Transition
from mergetool.scores import SCORES_SCHEMA

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
RESULT_COLUMNS = ("year", "basis", "code", "indicator", "value", "method", "n_expected", "n_used",
                  "missing", "status")


@dataclass
class RebaseResult:
    """Rebased values (one row per successor, year, indicator) and the audit of contributions."""

    values: pl.DataFrame
    audit: pl.DataFrame
    from_basis: str
    to_basis: str
    methods: dict[str, str] = field(default_factory=dict)
    policy: str = "strict"

    @property
    def incomplete(self) -> pl.DataFrame:
        return self.values.filter(pl.col("status") != "ok")


def parse_methods(specs: tuple[str, ...] | list[str], default: str = "mean") -> dict[str, str]:
    """``["mean", "population=sum"]`` -> ``{"*": "mean", "population": "sum"}``."""
    methods = {"*": default}
    for spec in specs:
        ind, _, method = spec.rpartition("=")
        if method not in METHODS:
            raise UsageError(f"unknown method {method!r} in {spec!r}", [Problem(
                "bad-option", f"unknown method {method!r}", column="--method",
                expected=" or ".join(METHODS), found=spec)])
        methods[ind or "*"] = method
    return methods


def rebase(scores: pl.DataFrame, mappings: MappingSet, to_basis: str, *,
           methods: dict[str, str] | None = None, policy: str = "strict",
           weights: pl.DataFrame | None = None) -> RebaseResult:
    """Rebase a long score frame (one basis) to ``to_basis``."""
    if policy not in POLICIES:
        raise UsageError(f"unknown coverage policy {policy!r}", [Problem(
            "bad-option", f"unknown policy {policy!r}", column="--policy",
            expected=" or ".join(POLICIES), found=policy)])
    methods = methods or {"*": "mean"}
    bases = scores["basis"].unique().to_list()
    if len(bases) != 1:
        raise InputError.single(Problem("mixed-basis", f"scores on several bases: {bases}",
                                        hint="rebase one basis at a time"))
    from_basis = bases[0]
    if "weighted" in methods.values() and weights is None:
        raise UsageError("method 'weighted' needs a weight table (--weights FILE)")
    current = scores.select("year", "basis", "code", "indicator", "value").with_columns(
        partial=pl.lit(False))
    audits = []
    values = None
    for step in mappings.path(from_basis, to_basis):
        values, audit = rebase_step(current, step, methods, policy, weights)
        audits.append(audit)
        current = values.select("year", "basis", "code", "indicator", "value",
                                partial=pl.col("status") == "partial")
        if weights is not None:
            weights = _carry_weights(weights, step)
    if values is None:  # same basis: identity
        values = current.with_columns(
            method=pl.lit("identity"), n_expected=pl.lit(1, pl.UInt32), n_used=pl.lit(1, pl.UInt32),
            missing=pl.lit(""), status=pl.lit("ok")).select(RESULT_COLUMNS)
    audit = pl.concat(audits) if audits else pl.DataFrame(schema=AUDIT_SCHEMA)
    return RebaseResult(values.sort("year", "indicator", "code"), audit, from_basis, to_basis,
                        methods, policy)


def method_for(indicator: str, methods: dict[str, str]) -> str:
    return methods.get(indicator, methods.get("*", "mean"))


def rebase_step(current: pl.DataFrame, step: Transition, methods: dict[str, str], policy: str,
                weights: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One transition: the fast polars path."""
    edges = step.edges.filter(pl.col("share") > 0).select("from_code", "to_code", "share")
    expected = edges.group_by("to_code").agg(n_expected=pl.len().cast(pl.UInt32))
    keys = current.select("year", "indicator").unique()
    method = pl.col("indicator").replace_strict(
        {k: v for k, v in methods.items() if k != "*"}, default=methods.get("*", "mean"),
        return_dtype=pl.String)
    frame = (keys.join(edges, how="cross")
             .join(current.select("year", "indicator", from_code="code", v="value", p="partial"),
                   on=["year", "indicator", "from_code"], how="left")
             .with_columns(method=method))
    if weights is not None:
        frame = _attach_weights(frame, weights)
    else:
        frame = frame.with_columns(w=pl.lit(None, pl.Float64))
    present = pl.col("v").is_not_null()
    frame = frame.with_columns(
        n_used=present.sum().over("year", "indicator", "to_code").cast(pl.UInt32),
        raw_w=pl.when(pl.col("method") == "mean").then(pl.lit(1.0))
        .when(pl.col("method") == "sum").then(pl.col("share"))
        .otherwise(pl.col("w") * pl.col("share")),
    ).with_columns(
        wsum=pl.when(present).then(pl.col("raw_w")).otherwise(0.0).sum()
        .over("year", "indicator", "to_code"),
    ).with_columns(
        weight=pl.when(~present).then(None)
        .when(pl.col("method") == "sum").then(pl.col("raw_w"))
        .otherwise(pl.col("raw_w") / pl.col("wsum")),
    ).with_columns(contribution=pl.col("weight") * pl.col("v"))
    frame = frame.join(expected, on="to_code")
    weighted_sum = pl.when(present).then(pl.col("raw_w") * pl.col("v")).otherwise(0.0).sum()
    grouped = frame.group_by("year", "indicator", "to_code").agg(
        # sum(w*v)/sum(w) rather than sum(contribution): one division, no accumulated rounding.
        value=pl.when(pl.col("method").first() == "sum").then(weighted_sum)
        .otherwise(weighted_sum / pl.col("wsum").first()),
        method=pl.col("method").first(),
        n_expected=pl.col("n_expected").first(),
        n_used=pl.col("n_used").first(),
        missing=pl.col("from_code").filter(pl.col("v").is_null()).sort().str.join(" "),
        any_partial=pl.col("p").fill_null(False).any(),
    )
    complete = pl.col("n_used") == pl.col("n_expected")
    status = (pl.when(pl.col("n_used") == 0).then(pl.lit("no-data"))
              .when(complete & ~pl.col("any_partial")).then(pl.lit("ok"))
              .when(pl.lit(policy == "partial")).then(pl.lit("partial"))
              .otherwise(pl.lit("incomplete")))
    values = grouped.with_columns(status=status).with_columns(
        value=pl.when(pl.col("status").is_in(["ok", "partial"])).then(pl.col("value")),
        basis=pl.lit(step.to_basis), code=pl.col("to_code"),
    ).select(RESULT_COLUMNS)
    audit = frame.select(
        transition=pl.lit(step.id), year="year", indicator="indicator",
        successor_basis=pl.lit(step.to_basis), successor_code="to_code",
        predecessor_basis=pl.lit(step.from_basis), predecessor_code="from_code",
        predecessor_value="v", share="share", weight="weight", contribution="contribution",
        n_used="n_used", n_expected="n_expected", method="method",
    ).sort("year", "indicator", "successor_code", "predecessor_code")
    return values, audit


def _attach_weights(frame: pl.DataFrame, weights: pl.DataFrame) -> pl.DataFrame:
    if "year" in weights.columns:
        return frame.join(weights.select("year", from_code="code", w="weight"),
                          on=["year", "from_code"], how="left")
    return frame.join(weights.select(from_code="code", w="weight"), on="from_code", how="left")


def _carry_weights(weights: pl.DataFrame, step: Transition) -> pl.DataFrame:
    """Weights of the next basis: the share-weighted sums of the predecessors' weights."""
    keys = ["year"] if "year" in weights.columns else []
    return (weights.join(step.edges.select(code="from_code", to="to_code", share="share"), on="code")
            .group_by(*keys, "to").agg(weight=(pl.col("weight") * pl.col("share")).sum())
            .rename({"to": "code"}))


def read_weights(path: str, mappings: MappingSet, basis: str) -> pl.DataFrame:
    """A weight table (unit, weight[, year]) on ``basis``: positive numbers, every unit once."""
    from mergetool.errors import ProblemLog
    from mergetool.scores import resolve_units
    from mergetool.tables import ROW, parse_numbers, read_table, require_columns

    frame, delimiter = read_table(path)
    cols = require_columns(frame, path, {"unit": ("unit", "code", "name", "province"),
                                         "weight": ("weight", "population")})
    log = ProblemLog()
    w = parse_numbers(frame, cols["weight"], path, delimiter, log, allow_null=False)
    for i in (w <= 0).arg_true():
        log.add("value-out-of-range", "a weight must be positive", file=str(path),
                row=int(frame[ROW][i]), column=cols["weight"], found=str(w[i]))
    log.raise_if_any(f"{path}: bad weights")
    long = pl.DataFrame({"unit": frame[cols["unit"]], "weight": w, "row": frame[ROW].cast(pl.Int32),
                         "year": pl.Series([0] * frame.height, dtype=pl.Int32)})
    long = resolve_units(long, mappings, path, cols["unit"], basis)
    dup = long.filter(pl.col("code").is_duplicated())
    if dup.height:
        raise InputError(f"{path}: duplicate units", [Problem(
            "duplicate-row", f"unit {code} has more than one weight", file=str(path), row=int(row),
            column=cols["unit"], found=unit) for code, row, unit in dup.select("code", "row", "unit")
            .iter_rows()])
    return long.select("code", "weight")


__all__ = [
    "AUDIT_SCHEMA",
    "METHODS",
    "POLICIES",
    "SCORES_SCHEMA",
    "RebaseResult",
    "parse_methods",
    "read_weights",
    "rebase",
]


def rebase_file(scores_path: Path, mappings: MappingSet, to_basis: str, *,
                from_basis: str | None = None, methods: tuple[str, ...] = (),
                policy: str = "strict", weights: Path | None = None, year: int | None = None,
                sheet: str | None = None, output: Path, audit: Path | None = None,
                force: bool = False) -> RebaseResult:
    """Read, rebase and write: the ``mergetool rebase`` command as a function.

    Writes ``output`` (CSV or Parquet), the optional ``audit`` CSV and
    ``<output>.manifest.json``; all or nothing, never over an input.
    """
    from mergetool.provenance import build_manifest, write_manifest
    from mergetool.scores import read_scores
    from mergetool.tables import check_outputs, write_atomic, write_csv_atomic

    mappings.require_valid()
    manifest_path = output.with_name(output.name + ".manifest.json")
    outputs = [output, *([audit] if audit else []), manifest_path]
    inputs = [scores_path, *([weights] if weights else [])]
    check_outputs(outputs, [p for p in inputs if p.exists()], force)
    method_map = parse_methods(methods)
    scores = read_scores(scores_path, mappings, basis=from_basis, year=year, sheet=sheet)
    weight_frame = (read_weights(str(weights), mappings, scores["basis"][0])
                    if weights is not None else None)
    result = rebase(scores, mappings, to_basis, methods=method_map, policy=policy,
                    weights=weight_frame)
    if output.suffix.lower() in {".parquet", ".pq"}:
        write_atomic(output, lambda p: result.values.write_parquet(p))
    else:
        write_csv_atomic(output, result.values)
    if audit is not None:
        write_csv_atomic(audit, result.audit)
    write_manifest(manifest_path, build_manifest(
        command="rebase", mappings=mappings, inputs=inputs, outputs=outputs[:-1],
        base=output.parent,
        options={"from_basis": result.from_basis, "to_basis": to_basis, "methods": method_map,
                 "policy": policy, "year": year, "sheet": sheet}))
    return result
