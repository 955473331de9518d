"""Everything the tool shows in a terminal. Library modules never print; this one does, to stderr."""

from __future__ import annotations

import errno
from collections.abc import Iterable
from decimal import Decimal

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mergetool.core.mapping import MappingSet
from mergetool.core.ranking import fmt4, plain
from mergetool.core.units import UnitRef
from mergetool.errors import Problem


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich would exit 1 ("problems found"); let the CLI turn a closed pipe into exit 2."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


# Markup off: unit names, file names and messages are data, and "[...]" in them must print as is.
console = _Console(stderr=True, highlight=False, markup=False)


def problems(items: Iterable[Problem], title: str) -> None:
    """A table on a terminal; one self-contained line per problem when piped or captured."""
    items = list(items)
    if not console.is_terminal:
        console.print(title, style="bold red", soft_wrap=True)
        for p in items:
            console.print(f"  {p}", soft_wrap=True)
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in ("where", "code", "problem", "expected", "found", "hint"):
        table.add_column(col, overflow="fold")
    for p in items:
        table.add_row(p.location, p.code, p.message, p.expected or "", p.found or "", p.hint or "")
    console.print(table)


def message(text: str, style: str = "") -> None:
    console.print(text, style=style or None)


def mapping_summary(ms: MappingSet) -> None:
    table = Table(title=f"mappings {ms.id} {ms.version} ({ms.root})", title_justify="left")
    for col in ("transition", "from", "to", "units before", "units after", "unchanged",
                "merged", "split"):
        table.add_column(col)
    for t in ms.transitions:
        out_deg = t.edges.group_by("from_code").len()
        in_deg = t.edges.group_by("to_code").len()
        merged = in_deg.filter(pl.col("len") > 1).height
        split = out_deg.filter(pl.col("len") > 1).height
        size = {b: str(len(ms.bases[b])) if b in ms.bases else "? (undefined)"
                for b in (t.from_basis, t.to_basis)}
        table.add_row(t.id, t.from_basis, t.to_basis, size[t.from_basis], size[t.to_basis],
                      str(in_deg.height - merged), str(merged), str(split))
    console.print(table)


def unit_tree(ms: MappingSet, refs: list[UnitRef]) -> None:
    for ref in refs:
        name = ms.graph.nodes[ref]["name"]
        tree = Tree(Text.assemble((name, "bold"), f" {ref}"))
        preds = ms.predecessors_of(ref)
        succs = ms.successors_of(ref)
        if preds:
            branch = tree.add(f"predecessors ({len(preds)})")
            for p, share in preds:
                branch.add(f"{ms.graph.nodes[p]['name']} {p}" + _share(share))
        if succs:
            branch = tree.add(f"successors ({len(succs)})")
            for s, share in succs:
                branch.add(f"{ms.graph.nodes[s]['name']} {s}" + _share(share))
        if not preds and not succs:
            tree.add("no transition touches this unit")
        console.print(tree)


def _share(share: float | None) -> str:
    """A share beside a unit: nothing for a whole unit, "unknown" for a divided unit's part."""
    if share is None:
        return "  divided unit, share unknown"
    return f"  share {share:g}" if share != 1 else ""


def frame_table(frame: pl.DataFrame, title: str, limit: int = 40) -> None:
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        table.add_column(col, justify="right" if frame[col].dtype.is_numeric() else "left")
    for row in frame.head(limit).iter_rows():
        table.add_row(*("" if v is None else fmt4(v) if isinstance(v, float) else str(v)
                        for v in row))
    console.print(table)
    if frame.height > limit:
        console.print(f"... {frame.height - limit} more rows")


def counts(frame: pl.DataFrame, by: str, title: str) -> None:
    frame_table(frame.group_by(by).len().sort(by), title)


def build_summary(result, paths) -> None:
    """Coverage per year, the checks' verdicts, and where the outputs are."""
    comp = result.comparable
    dti = comp.filter(pl.col("indicator") == "dti")
    spec = result.spec
    record = "public record, partial" if result.record_used else "shipped public record not used"
    table = Table(title=f"DTI on the {spec.target_size}-unit basis ({record})", title_justify="left")
    for col in ("year", "units with a value", spec.published_target, spec.rebased, "incomplete",
                "ranked"):
        table.add_column(col, justify="right")
    per_year = dti.group_by("year").agg(
        pl.col("value").is_not_null().sum(), pl.len(),
        (pl.col("value_basis") == spec.published_target).sum(),
        (pl.col("value_basis") == spec.rebased).sum().alias("rebased"),
        (pl.col("status") == "incomplete").sum(), pl.col("rank").is_not_null().sum()).sort("year")
    for year, valued, n, published, rebased, incomplete, ranked in per_year.iter_rows():
        table.add_row(str(year), f"{valued} / {n}", str(published), str(rebased), str(incomplete),
                      str(ranked))
    console.print(table)
    verdicts = result.checks.group_by("check", "verdict").len().pivot(
        on="verdict", index="check", values="len").fill_null(0)
    cols = [c for c in ("pass", "warn", "fail", "cannot-check") if c in verdicts.columns]
    order = pl.DataFrame({"check": list(dict.fromkeys(result.checks["check"]))})
    frame_table(order.join(verdicts.select("check", *cols), on="check", how="left"),
                "comparability checks (details in checks.csv)")
    facts_contradicted(result.checks)
    console.print("wrote " + ", ".join(str(p) for p in paths))


def facts_contradicted(checks: pl.DataFrame, limit: int = 10) -> None:
    """The published facts the data contradict, one line each, naming the unit."""
    bad = checks.filter(pl.col("check").is_in(["published-ranks", "published-vs-recomputed",
                                               "rank-change-claims"])
                        & (pl.col("verdict") == "fail") & (pl.col("unit") != ""))
    if bad.is_empty():
        return
    console.print(f"{bad.height} published fact(s) contradicted:", style="bold red")
    for check, years, ind, unit, _v, details in bad.head(limit).iter_rows():
        console.print(f"  {check} {years} {ind} {unit}: {details}", soft_wrap=True)
    if bad.height > limit:
        console.print(f"  ... {bad.height - limit} more in checks.csv")


def findings_summary(found: pl.DataFrame, fail_on: str) -> None:
    """Why ``build`` exits 1: which checks count as problems, and how many rows of each."""
    per_check = found.group_by("check", maintain_order=True).len()
    listed = ", ".join(f"{c} ({n})" for c, n in per_check.iter_rows())
    console.print(f"exit 1: {found.height} check row(s) with verdict "
                  f"{' or '.join(sorted(set(found['verdict'])))}: {listed}. The outputs are written; "
                  f"checks.csv says why each comparison can mislead (--fail-on never to exit 0).",
                  style="bold yellow", soft_wrap=True)


def verify_summary(result, output) -> None:
    counts = result.counts
    style = "green" if result.valid else "bold red"
    console.print(f"verification {result.from_basis} -> {result.to_basis}, tolerance "
                  f"{result.tolerance:.5f}: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
                  style=style)
    independent, circular = result.matches
    if independent or circular:
        console.print(f"{independent} independent match(es); {circular} circular (a predecessor value "
                      "was carried from the published table itself, so the match proves nothing)",
                      style="green" if independent else "yellow", soft_wrap=True)
    for code, name, year, ind in result.rows.filter(pl.col("circular") & (pl.col("verdict") == "match")
                                                    ).select("code", "unit_name", "year",
                                                             "indicator").iter_rows():
        console.print(f"  circular: {year} {ind} {code} {name}", style="yellow", soft_wrap=True)
    lost = result.rows.filter(pl.col("verdict") == "not-computable")
    for year, code, name, ind, details in lost.head(10).select(
            "year", "code", "unit_name", "indicator", "details").iter_rows():
        console.print(f"  not computable: {year} {ind} {code} {name}: {details}", soft_wrap=True)
    if lost.height > 10:
        console.print(f"  ... {lost.height - 10} more not computable (write them with -o)")
    shown = result.rows.filter(pl.col("verdict").is_in(["mismatch", "match"]))
    if shown.height:
        frame_table(shown.select("year", "code", "unit_name", "indicator", "recomputed", "published",
                                 "difference", "verdict"), "recomputed vs published")
    if output is not None:
        console.print(f"wrote {output}")


def _credit(p: dict) -> str:
    """Where a value came from: the user's file and row, or the shipped record's source."""
    if p.get("origin") == "user":
        return f"from {p['source']}"
    if p.get("origin") == "shipped":
        carried = "; carried from the published 34-unit table, not printed on this basis" \
            if p.get("carried") else ""
        return f"shipped record: {p['source'] or 'no source URL'}{carried}"
    return ""


def _steps_tree(node: Tree, steps: list[dict], full: bool) -> None:
    """Each step of a chain: the units it made that feed the explained one, from what."""


    def shown(exact: str | None) -> str:
        if exact is None:
            return "no value"
        if full:
            return exact
        rounded = fmt4(exact)
        return rounded if Decimal(rounded) == Decimal(exact) else f"{rounded} (exact {exact})"

    for i, step in enumerate(steps, start=1):
        branch = node.add(f"step {i}: {step['transition']} ({step['from_basis']} -> "
                          f"{step['to_basis']}), {step['method']}")
        for u in step["units"]:
            made = branch.add(f"{u['ref']} {u['name']}: {shown(u['value_exact'])} = {u['formula']}")
            for p in u["inputs"]:
                part = "" if step["method"] == "mean" or p["share"] in (1, None) \
                    else f" x share {plain(p['share'])}"
                made.add(f"{p['ref']} {p['name']}: {shown(p['value_exact'])}{part}")


def explain_tree(data: dict) -> None:
    unit = data["unit"]
    # The DTI is shown by its rule (half-up, 4 decimals); a commune table's statistic with
    # every digit its values have.
    full = data.get("display") == "plain"
    num = plain if full else fmt4
    for y in data["years"]:
        head = Text.assemble(
            (unit["name"], "bold"),
            f" {unit['code']}@{unit['basis']} · {data['indicator']} {y['year']}: value "
            f"{'no value' if y['value'] is None else num(y['value'])} "
            f"({y['value_basis'] or y['status']})")
        tree = Tree(head)
        preds = tree.add(f"predecessors ({len(y['predecessors'])}), method {y['method']}")
        for p in y["predecessors"]:
            v = "no value" if p["value"] is None else num(p["value"])
            src = _credit(p) if p["value"] is not None else ""
            preds.add(Text.assemble(f"{p['ref']} {p['name']}: {v}", (f"  {src}" if src else "", "dim")))
        steps = y.get("steps") or []
        if len(steps) > 1:  # a chain of transitions: every intermediate unit, step by step
            _steps_tree(tree.add(f"steps ({len(steps)}), method {y['method']}"), steps, full)
        exact = y.get("recomputed_exact")
        if y["recomputed"] is None:
            rec = "not computable"
        elif exact is None:  # a caller's data without the exact decimal: the float, not a crash
            rec = num(y["recomputed"])
        else:
            rec = exact if full else f"{exact} (rounded half-up {fmt4(exact)})"
        tree.add(f"formula {y['formula']} = {rec}")
        pub = "not published" if y["published"] is None else num(y["published"])
        source = _credit({"origin": y.get("published_origin"), "source": y["published_source"]}) \
            if y["published"] is not None else ""
        tree.add(Text.assemble(f"published {pub}", (f"  {source}" if source else "", "dim")))
        tol = plain(y["tolerance"]) if full else f"{y['tolerance']:.5f}"
        tree.add(Text.assemble("verdict ", (y["verdict"], "bold"), f" (tolerance {tol})"
                               + (f"; {y['reason']}" if y["reason"] else "")))
        if y.get("circular"):
            tree.add(Text("circular: a predecessor value was carried from the published table, so "
                          "this match is no independent evidence", style="yellow"))
        if y["rank"] is not None:
            tree.add(f"rank {y['rank']} ({y['rank_source']})")
        console.print(tree)
    from mergetool.dti.explain import match_counts  # here: a build's summary does not need it

    independent, circular = match_counts(data)
    if independent or circular:
        console.print(f"{independent} independent match(es), {circular} circular", soft_wrap=True)
