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
RESULT_COLUMNS = ("year", "basis", "code", "indicator", "value", "value_exact", "method",
                  "n_expected", "n_used", "missing", "status")
#: ``value_exact``: the exact mean / weighted mean / sum as a decimal, rounded (half-up) only at
#: the 18th place; ``value`` is its Float64. Display and ranks round ``value_exact`` half-up to
#: 4 places (:mod:`mergetool.ranking`).
EXACT = pl.Decimal(38, 18)


def _exact(expr: pl.Expr) -> pl.Expr:
    """A float as an exact decimal via its shortest repr (a direct cast can land 1e-17 off)."""
    return expr.cast(pl.String).cast(EXACT, strict=False)


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


def parse_methods(specs: tuple[str, ...] | list[str], default: str = "mean", *,
                  free: bool = False) -> dict[str, str]:
    """``["mean", "awareness=sum"]`` -> ``{"*": "mean", "awareness": "sum"}``.

    An indicator is named by id or label, any case (``DTI=sum`` is ``dti``); an unknown name, an
    unknown method, or one indicator given twice is a usage error, never silently ignored.
    ``free``: a name that is no DTI indicator is kept as written (``population=sum`` for a table
    of any statistic); the caller must then refuse a name its input does not hold.
    """
    from mergetool.indicators import BY_ID, indicator_id
    from mergetool.names import clean

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
           shares: pl.DataFrame | None = None) -> RebaseResult:
    """Rebase a long score frame (one basis) to ``to_basis``.

    ``audit=False`` skips the per-contribution audit frame (for large batch runs).
    ``shares`` (``from_code, to_code, share``) fills a transition's unknown shares (divided
    units); without it, ``sum`` and ``weighted`` refuse such units (:mod:`mergetool.shares`).
    """
    from mergetool.shares import require_shares

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
    indicators = scores["indicator"].unique().to_list()
    for step in mappings.path(from_basis, to_basis):
        step = require_shares(step, methods, indicators, shares, mappings,
                              present=current.filter(pl.col("value").is_not_null())["code"].unique())
        if weights is not None:
            _require_weights(weights, step)
        parts = [rebase_step(chunk, step, methods, policy, weights, audit=audit)
                 for chunk in _year_chunks(current)]
        values = pl.concat([v for v, _ in parts])
        step_audit = pl.concat([a for _, a in parts])
        audits.append(step_audit)
        current = values.select("year", "basis", "code", "indicator", "value",
                                partial=pl.col("status") == "partial")
        if weights is not None:
            weights = _carry_weights(weights, step)
    if values is None:  # same basis: identity
        values = current.with_columns(
            value_exact=_exact(pl.col("value")),
            method=pl.lit("identity"), n_expected=pl.lit(1, pl.UInt32), n_used=pl.lit(1, pl.UInt32),
            missing=pl.lit(""), status=pl.lit("ok")).select(RESULT_COLUMNS)
    audit_frame = pl.concat(audits) if audits else pl.DataFrame(schema=AUDIT_SCHEMA)
    if not audits:  # identity: the input order; a rebased step is already in key order
        values = values.sort("year", "indicator", "code")
    return RebaseResult(values, audit_frame, from_basis, to_basis, methods, policy)


#: Above this many input rows a step runs one year at a time: every result depends on one
#: year only, so the output is the same, and peak memory follows a year's data, not all years'.
CHUNK_ROWS = 2_000_000


def _year_chunks(current: pl.DataFrame) -> list[pl.DataFrame]:
    if current.height <= CHUNK_ROWS:
        return [current]
    return [current.filter(pl.col("year") == y) for y in sorted(current["year"].unique())]


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


def _decimal_scale(current: pl.DataFrame, weights: pl.DataFrame | None, n_edges: int) -> int:
    """Decimal places for exact sums: 18, fewer only when terms are so large that 38 digits
    would not hold their sum (shares are <= 1, so a term is at most |value| x weight)."""
    top_v = current["value"].abs().max() or 0.0
    top_w = (weights["weight"].abs().max() or 0.0) if weights is not None else 0.0
    biggest = float(top_v) * max(1.0, float(top_w)) + max(1.0, float(top_w))
    digits = len(str(int(biggest))) + len(str(max(current.height, n_edges, 1))) + 1
    return max(0, min(18, 38 - digits))


def rebase_step(current: pl.DataFrame, step: Transition, methods: dict[str, str], policy: str,
                weights: pl.DataFrame | None, *, audit: bool = True
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One transition: the fast polars path.

    Present values are joined to their successors (an inner join, so work grows with the
    data, not with years x indicators x edges) and aggregated on one integer key that packs
    (year, indicator, successor): hashing one u64 is several times cheaper than hashing two
    strings and an int. The grid of every successor x year x indicator then gets its status,
    and missing predecessors are listed only for the successors that have any.
    """
    # A blank (unknown) share is a divided unit's part: mean uses it; sum/weighted were refused.
    edges = step.edges.filter(pl.col("share").is_null() | (pl.col("share") > 0)).select(
        "from_code", "to_code", "share")
    expected = (edges.group_by("to_code").agg(n_expected=pl.len().cast(pl.UInt32))
                .sort("to_code").with_row_index("ti"))
    indicators = current["indicator"].unique().sort().to_list()
    y0 = int(current["year"].min()) if current.height else 0
    ni, nt = max(len(indicators), 1), max(expected.height, 1)
    ind_enum = pl.Enum(indicators)
    method_of = {ind: _METHOD_CODE[method_for(ind, methods)] for ind in indicators}
    codes = set(method_of.values())
    method_code = (pl.lit(next(iter(codes)), pl.UInt8) if len(codes) == 1 else
                   pl.col("indicator").replace_strict(method_of, return_dtype=pl.UInt8))
    key = (((pl.col("year") - y0).cast(pl.UInt64) * ni + pl.col("ii").cast(pl.UInt64)) * nt
           + pl.col("ti").cast(pl.UInt64))
    has_partial = bool(current["partial"].any())

    present = current.lazy().filter(pl.col("value").is_not_null()).select(
        "year", "indicator", pl.col("indicator").cast(ind_enum).to_physical().alias("ii"),
        from_code="code", v="value", p="partial",
        dv=_exact(pl.col("value")))  # once per input value, before the join fans it out
    joined = (present.join(edges.lazy().join(expected.lazy().select("to_code", "ti"), on="to_code"),
                           on="from_code")
              .with_columns(m=method_code))
    if weights is not None:
        joined = _attach_weights(joined, weights.lazy())
    else:
        joined = joined.with_columns(w=pl.lit(None, pl.Float64))
    joined = joined.with_columns(
        raw_w=pl.when(pl.col("m") == 0).then(pl.lit(1.0))
        .when(pl.col("m") == 1).then(pl.col("share"))
        .otherwise(pl.col("w") * pl.col("share")), k=key)
    # Sums are exact: each term is rounded to a fixed-point decimal (error < 1e-18 of a unit
    # for index values) and added as integers, so a result never depends on the order of the
    # input rows, which float addition (not associative) would; identical data, identical bytes.
    used_methods = set(method_of.values())
    mean_only = used_methods == {_METHOD_CODE["mean"]}
    joined = joined.with_columns(term=pl.col("raw_w") * pl.col("v"))
    if mean_only:  # weights all 1: the exact term is the exact value, the weight sum the count
        joined = joined.with_columns(dterm=pl.col("dv"))
    else:
        joined = joined.with_columns(dw=_exact(pl.col("raw_w"))).with_columns(
            dterm=pl.col("dw") * pl.col("dv"))
    dec = pl.Decimal(38, _decimal_scale(current, weights, edges.height))
    agg = joined.group_by("k").agg(
        n_used=pl.len().cast(pl.UInt32),
        # The mean's weights are all 1, so its weight sum is the count: no second sum needed.
        wsum=(pl.col("raw_w").cast(dec).sum().cast(pl.Float64) if _METHOD_CODE["weighted"] in used_methods
              else pl.len().cast(pl.Float64)),
        wvsum=pl.col("term").cast(dec).sum().cast(pl.Float64),
        only_v=pl.col("v").first(),
        # Exact decimals for value_exact: each input as a decimal, products and sums in decimal.
        dsum=pl.col("dterm").sum(), only_dv=pl.col("dv").first(),
        dwsum=pl.len() if mean_only else pl.col("dw").sum(),
        only_term=(pl.col("term").first() if _METHOD_CODE["sum"] in used_methods
                   else pl.lit(None, pl.Float64)),
        any_partial=pl.col("p").any() if has_partial else pl.lit(False))
    grid = (current.lazy().select("year", "indicator").unique()
            .with_columns(ii=pl.col("indicator").cast(ind_enum).to_physical())
            .join(expected.lazy(), how="cross").with_columns(k=key)
            .join(agg, on="k", how="left")
            .with_columns(m=method_code, n_used=pl.col("n_used").fill_null(0),
                          any_partial=pl.col("any_partial").fill_null(False)))
    complete = pl.col("n_used") == pl.col("n_expected")
    status = (pl.when(pl.col("n_used") == 0).then(pl.lit("no-data"))
              .when(complete & ~pl.col("any_partial")).then(pl.lit("ok"))
              .when(pl.lit(policy == "partial")).then(pl.lit("partial"))
              .otherwise(pl.lit("incomplete")))
    # sum(w*v)/sum(w) rather than a sum of contributions: one division, no accumulated rounding.
    # One contributor: its own value, untouched (an identity mapping changes nothing).
    value = (pl.when((pl.col("n_used") == 1) & (pl.col("m") == 1)).then(pl.col("only_term"))
             .when(pl.col("n_used") == 1).then(pl.col("only_v"))
             .when(pl.col("m") == 1).then(pl.col("wvsum"))
             .otherwise(pl.col("wvsum") / pl.col("wsum")))
    value_exact = (pl.when(pl.col("m") == 1).then(pl.col("dsum"))
                   .when(pl.col("n_used") == 1).then(pl.col("only_dv"))
                   .otherwise(pl.col("dsum") / pl.col("dwsum")))
    names = {v: k for k, v in _METHOD_CODE.items()}
    grid = grid.with_columns(status=status).with_columns(
        value=pl.when(pl.col("status").is_in(["ok", "partial"])).then(value),
        value_exact=pl.when(pl.col("status").is_in(["ok", "partial"])).then(value_exact),
        method=pl.col("m").replace_strict(names, return_dtype=pl.String)).sort("k").collect()
    keys3 = ["year", "indicator", "to_code"]
    gaps = grid.filter(pl.col("n_used") < pl.col("n_expected")).select("k", *keys3)
    absent = (gaps.join(edges, on="to_code")
              .join(current.filter(pl.col("value").is_not_null()).select(
                  "year", "indicator", from_code="code"), on=["year", "indicator", "from_code"],
                  how="anti"))
    values = grid.with_columns(missing=pl.lit(""), basis=pl.lit(step.to_basis),
                               code=pl.col("to_code"))
    if absent.height:
        missing = absent.group_by("k").agg(gap=pl.col("from_code").sort().str.join(" "))
        values = values.join(missing, on="k", how="left", maintain_order="left").with_columns(
            missing=pl.col("gap").fill_null(""))
    values = values.select(RESULT_COLUMNS)
    if not audit:
        return values, pl.DataFrame(schema=AUDIT_SCHEMA)
    counts = grid.select("k", *keys3, "n_used", "n_expected", "wsum", "method")
    absent = absent.drop("k")
    used = joined.collect().drop("to_code").join(counts, on="k").with_columns(
        weight=pl.when(pl.col("m") == 1).then(pl.col("raw_w"))
        .otherwise(pl.col("raw_w") / pl.col("wsum")))
    unused = absent.join(counts, on=keys3).with_columns(
        v=pl.lit(None, pl.Float64), weight=pl.lit(None, pl.Float64))
    columns = {
        "transition": pl.lit(step.id), "year": "year", "indicator": "indicator",
        "successor_basis": pl.lit(step.to_basis), "successor_code": "to_code",
        "predecessor_basis": pl.lit(step.from_basis), "predecessor_code": "from_code",
        "predecessor_value": "v", "share": "share", "weight": "weight",
        "contribution": pl.col("weight") * pl.col("v"), "n_used": "n_used", "n_expected": "n_expected",
        "method": "method"}
    audit_frame = pl.concat([used.select(**columns), unused.select(**columns)]).sort(
        "year", "indicator", "successor_code", "predecessor_code")
    return values, audit_frame


def _attach_weights(frame: pl.LazyFrame, weights: pl.LazyFrame) -> pl.LazyFrame:
    names = weights.collect_schema().names()
    if "year" in names:
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
    from mergetool.scores import resolve_units, weights_layout
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
    layout = weights_layout(frame, cols["unit"])
    if layout.check:  # a name beside the code must name the same unit
        long = long.with_columns(check=frame[layout.check])
    long = resolve_units(long, mappings, path, layout, declared=basis)
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
                sheet: str | None = None, header_row: int | None = None, output: Path,
                audit: Path | None = None, force: bool = False,
                shares: Path | None = None) -> RebaseResult:
    """Read, rebase and write: the ``mergetool rebase`` command as a function.

    Writes ``output`` and the optional ``audit`` (CSV, XLSX or Parquet by suffix) and
    ``<output>.manifest.json`` as one set; all or nothing, never over an input or each other.
    """
    from mergetool.comparable import year_from_name
    from mergetool.provenance import build_manifest, preflight, sibling_manifest, write_set
    from mergetool.scores import REBASE_OPTIONS, read_scores
    from mergetool.shares import read_shares
    from mergetool.tables import write_frame

    mappings.require_valid()
    manifest_path = sibling_manifest(output)
    outputs = [output, *([audit] if audit else [])]
    inputs = [scores_path, *([weights] if weights else []), *([shares] if shares else [])]
    mapping_files = [Path(mappings.root) / f for f in mappings.files] if mappings.root else []
    stale = preflight([(output, "-o"), *([(audit, "--audit")] if audit else [])], manifest_path,
                      [*inputs, *mapping_files], force)
    method_map = parse_methods(methods, free=True)  # names the input lacks are refused below
    if weights is not None and "weighted" not in method_map.values():
        raise UsageError("--weights is used only by --method weighted", [Problem(
            "bad-option", "a weight table is given but no indicator uses method 'weighted'",
            column="--weights", hint="add --method weighted (or NAME=weighted), or drop --weights")])
    scores = read_scores(scores_path, mappings, basis=from_basis, year=year,
                         default_year=year_from_name(scores_path), sheet=sheet,
                         header_row=header_row, options=REBASE_OPTIONS)
    absent = sorted(set(method_map) - {"*"} - set(scores["indicator"].unique()))
    if absent:
        raise UsageError(f"--method names indicators {scores_path} does not hold", [Problem(
            "bad-option", f"no {', '.join(absent)} values in the input: the method would do nothing",
            column="--method", found=", ".join(absent),
            expected=", ".join(sorted(scores["indicator"].unique())))])
    weight_frame = (read_weights(str(weights), mappings, scores["basis"][0])
                    if weights is not None else None)
    result = rebase(scores, mappings, to_basis, methods=method_map, policy=policy,
                    weights=weight_frame, shares=read_shares(shares) if shares else None)
    frames = {output: result.values, **({audit: result.audit} if audit is not None else {})}
    options = {"from_basis": result.from_basis, "to_basis": to_basis, "methods": method_map,
               "policy": policy, "year": year, "sheet": sheet}
    if header_row is not None:
        options["header_row"] = header_row
    write_set({p: (lambda staged, f=f: write_frame(staged, f)) for p, f in frames.items()},
              manifest_path, lambda staged: build_manifest(
                  command="rebase", mappings=mappings, inputs=inputs, outputs=outputs,
                  base=output.parent, staged=staged, options=options),
              stale=stale)
    return result
