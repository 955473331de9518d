"""Independent verification of published merged values.

For every successor × year × indicator, the predecessors' values are averaged
again by :mod:`mergetool.core.oracle` (plain Python loops over the transitions'
edges; no code shared with the polars rebasing path) and compared with the
published value.

Default tolerance, from rounding. Inputs and outputs are published to 4 decimals:

* each predecessor value ``r_i`` is its true value ``x_i`` rounded, so
  ``|r_i - x_i| <= 0.00005`` and hence ``|mean(r) - mean(x)| <= 0.00005``;
* the published value ``p`` is ``mean(x)`` rounded, so ``|p - mean(x)| <= 0.00005``.

Together ``|p - mean(r)| <= 0.0001``: a recomputation from published inputs can
miss the published output by up to one unit in the last place without any error.
:data:`TOLERANCE` is that bound plus 1e-9 for binary floating point. A difference
of 0.0002 or more cannot come from rounding. Inputs printed with fewer decimals
(e.g. "0,54") carry more rounding error; pass ``tolerance`` to widen the bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.oracle import Key, chain_rebase, exact, origins, round_half_up, trace
from mergetool.core.provenance import build_manifest, preflight, sibling_manifest, write_set
from mergetool.core.ranking import plain
from mergetool.dti.comparable import SOURCE_BASIS, TARGET_BASIS, carried_keys
from mergetool.dti.record import read_record, record_as_scores
from mergetool.dti.spec import TOLERANCE, VERIFY_OPTIONS, spec_for
from mergetool.errors import InputError, Problem, UsageError
from mergetool.io.tables import write_frame

VERIFY_SCHEMA = {
    "year": pl.Int32, "code": pl.String, "unit_name": pl.String, "indicator": pl.String,
    "recomputed": pl.Float64, "published": pl.Float64, "difference": pl.Float64,
    "tolerance": pl.Float64, "verdict": pl.String, "missing": pl.String, "inputs": pl.String,
    "details": pl.String, "circular": pl.Boolean,
}


def _show(v, places: int = 4) -> str:
    """An exact value rounded half-up for display (``0.66475`` -> ``0.6648`` at 4 places)."""
    return f"{float(round_half_up(exact(v), places)):.{places}f}"


#: A value shown by the DTI's rule: rounded half-up to 4 decimals, exactly.
show4 = _show


def _as_published(v: float) -> str:
    """A published value as it was published, and its 4-decimal rounding when that differs
    (``0.70695`` -> ``0.70695 (rounded half-up 0.7070)``; ``0.7069`` -> ``0.7069``)."""

    shown, rounded = plain(v), _show(v)
    return shown if exact(shown) == exact(rounded) and len(shown) <= len(rounded) else \
        f"{shown} (rounded half-up {rounded})"


@dataclass
class VerifyResult:
    """``rows``: one per published successor value (year × indicator × unit); ``valid`` is
    False if any mismatch."""

    rows: pl.DataFrame
    tolerance: float
    from_basis: str
    to_basis: str
    options: dict[str, object] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not (self.rows["verdict"] == "mismatch").any()

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.rows.group_by("verdict").len().sort("verdict").iter_rows())

    @property
    def matches(self) -> tuple[int, int]:
        """(independent, circular) matches: a circular one rests on a value carried from the
        published table itself, so it is no evidence."""
        m = self.rows.filter(pl.col("verdict") == "match")
        circular = int(m["circular"].sum())
        return m.height - circular, circular


@dataclass
class Recomputation:
    """The independent recomputation (:mod:`mergetool.core.oracle`) of a chain of transitions:
    ``layers[0]`` the predecessors' values, ``layers[i]`` the values after step ``i`` (exact
    fractions keyed ``(year, indicator, code)``), by each indicator's method."""

    steps: list  # list[Transition], first step first
    edges: list[list[tuple[str, str, float | None]]]
    layers: list[dict[Key, Fraction | None]]
    methods: dict[str, str]

    def value(self, year: int, indicator: str, code: str) -> Fraction | None:
        """The recomputed value of a unit of the last basis (None: not computable)."""
        return self.layers[-1].get((year, indicator, code))

    def method(self, indicator: str) -> str:
        return self.methods.get(indicator, self.methods.get("*", "mean"))

    def trace(self, year: int, indicator: str, code: str) -> list[list[dict]]:
        """Every step that made the unit's value (:func:`mergetool.core.oracle.trace`)."""
        return trace(self.layers, self.edges, (year, indicator, code))


def recompute_chain(predecessors: pl.DataFrame, mappings: MappingSet, from_basis: str,
                    to_basis: str, methods: dict[str, str] | None = None,
                    policy: str = "strict") -> Recomputation:
    """Recompute, step by step over the chain's transitions' edges, every successor value from the
    predecessors' values (a long score frame on ``from_basis``), each indicator by its method
    (``{"*": "mean"}`` unless given, as a build's ``methods``). Verification and ``explain``
    both use this one recomputation. ``policy`` as the engine's (``strict``: a unit short of a
    predecessor's value gets none).

    The edges are the transitions' own rows (what the mapping graph is built from), so a build
    does not build the networkx graph nor import networkx (0.05 s) for this walk."""
    methods = dict(methods or {"*": "mean"})
    steps = mappings.path(from_basis, to_basis)
    values = {(y, i, c): v for y, i, c, v in predecessors.filter(
        pl.col("value").is_not_null()).select("year", "indicator", "code", "value").iter_rows()}
    edges = [sorted(t.edges.select("from_code", "to_code", "share").iter_rows()) for t in steps]
    return Recomputation(steps, edges, chain_rebase(values, edges, methods, policy), methods)


def chain_formula(steps: list[list[dict]], method: str, show: Callable[[Fraction], str]) -> str:
    """A traced value as one formula, the earlier steps nested in the later ones
    (``mean(mean(0.8000, 0.6000), 0.5000)``); ``?`` for a missing value, ``x share`` where a
    sum or weighted mean takes a part of a unit."""

    by_code = [{u["code"]: u for u in units} for units in steps]

    def expand(level: int, unit: dict) -> str:
        parts = []
        for code, share, value in unit["inputs"]:
            lv = level
            inner = by_code[lv - 1].get(code) if lv else None
            while inner is not None and len(inner["inputs"]) == 1 and \
                    inner["inputs"][0][1] in (1, None):  # a unit carried over unchanged
                lv -= 1
                code, _s, value = inner["inputs"][0]
                inner = by_code[lv - 1].get(code) if lv else None
            term = ("?" if value is None else show(value)) if inner is None else \
                expand(lv - 1, inner)
            if method != "mean" and share not in (1, None):
                term += f" x {plain(share)}"
            parts.append(term)
        return f"{method}({', '.join(parts)})"

    return expand(len(steps) - 1, steps[-1][0]) if steps and steps[-1] else f"{method}()"


def within(published: float, recomputed: Fraction, tolerance: float) -> bool:
    """The verdict rule: |published - recomputed| <= tolerance, exactly."""
    return abs(exact(published) - recomputed) <= exact(tolerance)


def recompute_published(published: pl.DataFrame, predecessors: pl.DataFrame,
                        mappings: MappingSet, from_basis: str, to_basis: str, *,
                        tolerance: float = TOLERANCE,
                        carried: set[tuple[int, str, str, str]] | None = None,
                        methods: dict[str, str] | None = None) -> VerifyResult:
    """Recompute every published successor value from the predecessors' values, each indicator
    by its method (``methods`` as a build's; mean unless given), through
    :func:`recompute_chain`.

    One row per published value: units the published table gives no value for have nothing
    to verify and get no row (they would inflate the counts).

    ``published`` and ``predecessors`` are long score frames; ``carried`` holds
    ``(year, basis, code, indicator)`` keys of inputs that were copied from the
    published table itself (a match on them proves nothing, and the details say so).
    """
    carried = carried or set()
    rec = recompute_chain(predecessors, mappings, from_basis, to_basis, methods)
    pred_values = rec.layers[0]  # the predecessors' given values, as the recomputation read them
    current = {k: v for k, v in rec.layers[-1].items() if v is not None}
    # Ultimate predecessors of each successor, for naming what is missing.
    ultimate = origins(rec.edges, mappings.bases[to_basis].units["code"].to_list())
    src_names = dict(mappings.bases[from_basis].units.select("code", "name").iter_rows())
    dst_names = dict(mappings.bases[to_basis].units.select("code", "name").iter_rows())
    pub = {(y, i, c): v for y, i, c, v in published.filter(pl.col("value").is_not_null()).select(
        "year", "indicator", "code", "value").iter_rows()}
    # One row per published value: a unit without one has nothing to verify.
    pred_years: dict[tuple[str, str], set[int]] = {}  # (indicator, predecessor) -> its years
    for y, i, c in pred_values:
        pred_years.setdefault((i, c), set()).add(y)
    rows = []
    for key in sorted(pub):
        year, ind, code = key
        preds = ultimate.get(code, [])
        have = [p for p in preds if (year, ind, p) in pred_values]
        p_val = pub[key]
        r_val = current.get(key)
        inputs = "; ".join(f"{p} {src_names.get(p, '?')} = {_show(pred_values[(year, ind, p)])}"
                           for p in have)
        missing = " ".join(p for p in preds if p not in have)
        # Exact: the published value and the oracle's exact mean as fractions.
        diff_exact = None if p_val is None or r_val is None else exact(p_val) - r_val
        diff = None if diff_exact is None else float(diff_exact)
        circular = False
        if r_val is None:
            verdict = "not-computable"
            details = "missing predecessors: " + ", ".join(
                f"{p} {src_names.get(p, '?')}" for p in missing.split())
            given = sorted(set().union(*(pred_years.get((ind, p), set()) for p in preds)))
            if not have and given:
                details += (f" (these predecessors are given for {', '.join(map(str, given))}, "
                            f"not {year}: a value is recomputed only from the same year's)")
            elif not given:
                details += f" (these predecessors have no {ind} value in any year)"
        else:
            ok = within(p_val, r_val, tolerance)
            verdict = "match" if ok else "mismatch"
            formula = chain_formula(rec.trace(year, ind, code), rec.method(ind), _show)
            details = (f"{formula} = {_show(r_val, 5)} (rounded half-up {_show(r_val)}); "
                       f"published {_as_published(p_val)}; difference {diff:+.5f} "
                       f"{'within' if ok else 'beyond'} tolerance {tolerance:.5f}")
            if any((year, from_basis, p, ind) in carried for p in have):
                circular = True
                details += ("; circular: a predecessor value was carried from the published "
                            "table, so this match is not independent evidence")
        rows.append((year, code, dst_names.get(code, "?"), ind,
                     None if r_val is None else float(r_val), p_val, diff, tolerance,
                     verdict, missing, inputs, details, circular))
    frame = pl.DataFrame(rows, schema=VERIFY_SCHEMA, orient="row")
    return VerifyResult(frame, tolerance, from_basis, to_basis)


def verify_shipped(mappings: MappingSet, *, tolerance: float | None = None) -> VerifyResult:
    """Verify the shipped record: values published on the 34-unit basis against the 63-unit ones.

    Only on the shipped mapping (or one with its bases and units): the record names its units.
    """
    if not spec_for(mappings).record:
        raise UsageError("the shipped DTI record is of the shipped mapping only", [Problem(
            "bad-option", f"the shipped record is of {SOURCE_BASIS} -> {TARGET_BASIS}, not of this "
            "mapping", column="--mappings", hint="give --published FILE and --predecessors FILE to "
            "verify tables of this mapping")])
    scores = record_as_scores(read_record())
    result = recompute_published(
        scores.filter(pl.col("basis") == TARGET_BASIS), scores.filter(pl.col("basis") == SOURCE_BASIS),
        mappings, SOURCE_BASIS, TARGET_BASIS, tolerance=TOLERANCE if tolerance is None else tolerance,
        carried=carried_keys(scores))
    result.options = {"published": "shipped record, vn-province-2025 rows",
                      "predecessors": "shipped record, vn-province-2024 rows",
                      "tolerance": result.tolerance, "method": "mean"}
    return result


def verify_files(published: Path, predecessors: Path, mappings: MappingSet, *,
                 published_basis: str | None = None, predecessors_basis: str | None = None,
                 tolerance: float | None = None, year: int | None = None) -> VerifyResult:
    """Read both tables (any supported layout) and recompute the published values."""
    mappings.require_valid()
    from mergetool.io.scores import read_scores, year_from_name  # a file to read: its reader

    pub = read_scores(published, mappings, basis=published_basis, year=year,
                      default_year=year_from_name(published), options=VERIFY_OPTIONS["published"])
    pre = read_scores(predecessors, mappings, basis=predecessors_basis, year=year,
                      default_year=year_from_name(predecessors),
                      options=VERIFY_OPTIONS["predecessors"])
    b_pub, b_pre = pub["basis"][0], pre["basis"][0]
    if b_pub == b_pre:
        raise InputError.single(Problem(
            "mixed-basis", f"both tables are on {b_pub}", file=str(published),
            hint="--published is the merged (new-basis) table, --predecessors the old-basis one; "
                 "declare their bases with --published-basis / --predecessors-basis"))
    if tolerance is not None and not 0 <= tolerance < float("inf"):  # NaN fails too
        raise InputError.single(Problem("bad-option", "tolerance must be >= 0", column="--tolerance",
                                        found=str(tolerance)))
    result = recompute_published(pub, pre, mappings, b_pre, b_pub,
                                 tolerance=TOLERANCE if tolerance is None else tolerance)
    result.options = {"published_basis": b_pub, "predecessors_basis": b_pre,
                      "tolerance": result.tolerance, "method": "mean"}
    return result


def write_verify(result: VerifyResult, mappings: MappingSet, output: Path, *,
                 inputs: list[Path], force: bool = False) -> None:
    """The verification report (CSV, XLSX or Parquet by suffix) and ``<output>.manifest.json``."""
    manifest = sibling_manifest(output)
    stale = preflight([(output, "-o")], manifest, inputs, force)
    write_set({output: lambda p: write_frame(p, result.rows)}, manifest, lambda staged: build_manifest(
        command="verify", mappings=mappings, inputs=inputs, outputs=[output], base=output.parent,
        staged=staged,
        options=result.options | {"implementation": "mergetool.core.oracle (independent of rebase)"}),
        stale=stale)
