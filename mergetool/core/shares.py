"""Unknown shares: divided units whose parts' sizes the mapping does not know.

A transition may leave a divided unit's shares blank (``unknown_shares = "blank"`` in
mapping.toml): the source says which new units the old one went to, not how much went to each.
``mean`` is well defined without shares (the old value counts once in each new unit it
touches). ``sum`` and ``weighted`` multiply by the share, so they refuse such units unless the
user supplies real shares per edge (``--shares FILE``); an even split is never assumed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mergetool.core.mapping import SHARE_TOLERANCE, MappingSet, Transition
from mergetool.core.names import normalise_code
from mergetool.errors import InputError, Problem, ProblemLog, UsageError
from mergetool.io.tables import ROW, parse_numbers, read_table, require_columns

NEEDS_SHARES = ("sum", "weighted")


def unknown_share_units(step: Transition) -> list[str]:
    """Predecessor codes whose shares are unknown (blank)."""
    return sorted(step.edges.filter(pl.col("share").is_null())["from_code"].unique().to_list())


def require_shares(step: Transition, methods: dict[str, str], indicators: list[str],
                   shares: pl.DataFrame | None, mappings: MappingSet | None = None,
                   present: pl.Series | None = None) -> Transition:
    """The step with real shares for every method that needs them, or a refusal (exit 2).

    ``shares`` (``from_code, to_code, share``) fills the unknown shares; the other edges keep
    theirs. Without it, a step whose divided units lack shares is refused for ``sum`` and
    ``weighted``, naming the units and the option. ``present``: the predecessor codes that
    carry values (divided units without data need no shares).
    """
    unknown = unknown_share_units(step)
    if present is not None:
        unknown = sorted(set(unknown) & set(present.to_list()))
    if not unknown:
        return step
    if shares is not None:
        return apply_shares(step, shares, unknown)
    needing = sorted({m for ind in indicators
                      if (m := methods.get(ind, methods.get("*", "mean"))) in NEEDS_SHARES})
    if not needing:
        return step
    basis = mappings.bases.get(step.from_basis) if mappings is not None else None
    named = [f"{c} {basis.name_of(c)}" if basis is not None else c for c in unknown[:10]]
    raise UsageError(
        f"method {' and '.join(needing)} needs the share of each part of a divided unit, and "
        f"transition {step.id} does not give them for {len(unknown)} unit(s) of {step.from_basis}",
        [Problem("missing-share", f"{len(unknown)} divided unit(s) of {step.from_basis} have no "
                 "shares: " + ", ".join(named) + (" ..." if len(unknown) > 10 else ""),
                 column="--method", found=", ".join(needing),
                 expected="shares for every part of a divided unit",
                 hint="pass --shares FILE (predecessor_code, successor_code, share; e.g. from the "
                 "population of each part), or use --method mean, which needs no shares")])


def apply_shares(step: Transition, shares: pl.DataFrame,
                 required: list[str] | None = None) -> Transition:
    """Fill the step's unknown shares from ``shares``; every divided unit in ``required`` (default:
    all) must be covered, each one's shares must sum to 1, and a row must name an edge of the
    step. Divided units outside ``required`` (no data) keep unknown shares."""
    log = ProblemLog()
    where = {"file": shares["file"][0]} if "file" in shares.columns and shares.height else {}
    edges = step.edges
    keyed = shares.select("from_code", "to_code", supplied="share", **(
        {ROW: ROW} if ROW in shares.columns else {}))
    stray = keyed.join(edges.select("from_code", "to_code"), on=["from_code", "to_code"], how="anti")
    for row in stray.iter_rows(named=True):
        log.add("unknown-unit", f"{row['from_code']} -> {row['to_code']} is not an edge of "
                f"transition {step.id}", row=row.get(ROW), column="successor_code",
                found=f"{row['from_code']} -> {row['to_code']}", **where)
    filled = edges.join(keyed.select("from_code", "to_code", "supplied"),
                        on=["from_code", "to_code"], how="left")
    need = (pl.col("from_code").is_in(required) if required is not None else pl.lit(True))
    lacking = filled.filter(pl.col("share").is_null() & pl.col("supplied").is_null() & need)
    for a, b in lacking.select("from_code", "to_code").unique().sort("from_code", "to_code").iter_rows():
        log.add("missing-share", f"no share for the part of {a} that went to {b}",
                column="share", expected="a share for every part of a divided unit",
                found=f"{a} -> {b}", hint=f"add a row {a},{b},SHARE", **where)
    filled = filled.with_columns(share=pl.coalesce("supplied", "share")).drop("supplied")
    sums = filled.filter(pl.col("share").is_not_null()).group_by("from_code").agg(
        pl.col("share").sum())
    first_row = (dict(keyed.group_by("from_code").agg(pl.col(ROW).min()).iter_rows())
                 if ROW in keyed.columns else {})
    for code, total in sums.filter((pl.col("share") - 1).abs() > SHARE_TOLERANCE).sort(
            "from_code").iter_rows():
        log.add("share-sum", f"the shares of {code} sum to {total:.6g}, not 1", column="share",
                expected="1", found=f"{total:.6g}", row=first_row.get(code), **where)
    log.raise_if_any(f"shares for transition {step.id}")
    return Transition(step.id, step.from_basis, step.to_basis, filled, step.meta, step.file)


def read_shares(path: str | Path) -> pl.DataFrame:
    """A share table ``predecessor_code, successor_code, share`` (codes, numbers in (0, 1])."""
    frame, delimiter = read_table(path)
    cols = require_columns(frame, path, {"predecessor": ("predecessor_code", "from_code", "old_code"),
                                         "successor": ("successor_code", "to_code", "new_code"),
                                         "share": ("share",)})
    log = ProblemLog()
    share = parse_numbers(frame, cols["share"], path, delimiter, log, allow_null=False)
    for i in ((share <= 0) | (share > 1)).arg_true():
        log.add("share-sum", "a share must lie in (0, 1]", file=str(path), row=int(frame[ROW][i]),
                column=cols["share"], found=str(share[i]))
    out = {}
    for role in ("predecessor", "successor"):
        codes = [normalise_code(v or "") for v in frame[cols[role]]]
        for row, raw, code in zip(frame[ROW], frame[cols[role]], codes, strict=True):
            if code is None:
                log.add("bad-code", "a unit code must be digits", file=str(path), row=int(row),
                        column=cols[role], found=raw)
        out[role] = pl.Series(codes, dtype=pl.String)
    log.raise_if_any(f"{path}: bad shares")
    result = pl.DataFrame({"from_code": out["predecessor"], "to_code": out["successor"],
                           "share": share, ROW: frame[ROW], "file": str(path)})
    dup = result.filter(pl.struct("from_code", "to_code").is_duplicated())
    if dup.height:
        raise InputError(f"{path}: duplicate shares", [Problem(
            "duplicate-row", f"{a} -> {b} appears more than once", file=str(path), row=int(r),
            column=cols["predecessor"]) for a, b, r in dup.select("from_code", "to_code", ROW).iter_rows()])
    return result
