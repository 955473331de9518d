"""Everything the tool shows in a terminal. Library modules never print; this one does, to stderr."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from mergetool.errors import Problem
from mergetool.mapping import MappingSet
from mergetool.units import UnitRef

console = Console(stderr=True, highlight=False)


def problems(items: Iterable[Problem], title: str) -> None:
    """A table on a terminal; one self-contained line per problem when piped or captured."""
    items = list(items)
    if not console.is_terminal:
        console.print(title, style="bold red", soft_wrap=True)
        for p in items:
            console.print(f"  {p}", soft_wrap=True, markup=False)
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
        table.add_row(t.id, t.from_basis, t.to_basis, str(len(ms.bases[t.from_basis])),
                      str(len(ms.bases[t.to_basis])), str(in_deg.height - merged), str(merged),
                      str(split))
    console.print(table)


def unit_tree(ms: MappingSet, refs: list[UnitRef]) -> None:
    for ref in refs:
        name = ms.graph.nodes[ref]["name"]
        tree = Tree(f"[bold]{name}[/] {ref}")
        preds = ms.predecessors_of(ref)
        succs = ms.successors_of(ref)
        if preds:
            branch = tree.add(f"predecessors ({len(preds)})")
            for p, share in preds:
                branch.add(f"{ms.graph.nodes[p]['name']} {p}" + (f"  share {share:g}"
                                                                  if share != 1 else ""))
        if succs:
            branch = tree.add(f"successors ({len(succs)})")
            for s, share in succs:
                branch.add(f"{ms.graph.nodes[s]['name']} {s}" + (f"  share {share:g}"
                                                                  if share != 1 else ""))
        if not preds and not succs:
            tree.add("no transition touches this unit")
        console.print(tree)


def frame_table(frame: pl.DataFrame, title: str, limit: int = 40) -> None:
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        justify = "right" if frame[col].dtype.is_numeric() else "left"
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in frame.head(limit).iter_rows():
        table.add_row(*("" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
                        for v in row))
    console.print(table)
    if frame.height > limit:
        console.print(f"... {frame.height - limit} more rows")


def counts(frame: pl.DataFrame, by: str, title: str) -> None:
    frame_table(frame.group_by(by).len().sort(by), title)
