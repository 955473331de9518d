"""The ``mergetool`` command: thin wrappers over the library.

Exit codes: 0 ok; 1 checks or verification found problems; 2 bad input or usage.
Domain errors (:class:`MergetoolError`) are translated here, once; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mergetool import __version__
from mergetool.errors import MergetoolError

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


class Group(click.Group):
    """A click group that turns domain errors into a table on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except MergetoolError as exc:
            if ctx.find_root().params.get("debug"):
                raise
            from mergetool import render

            if exc.problems:
                render.problems(exc.problems, str(exc).splitlines()[0])
            else:
                render.message(f"error: {exc}", "bold red")
            ctx.exit(exc.exit_code)


def _mappings(ctx: click.Context):  # type: ignore[no-untyped-def]
    from mergetool.mapping import load_mappings

    root = ctx.find_root().params.get("mappings")
    ms = load_mappings(root)
    return ms


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mergetool")
@click.option("--mappings", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Mapping directory (default: the shipped Vietnam 2025 mapping).")
@click.option("--debug", is_flag=True, help="Show tracebacks for input errors too.")
def cli(mappings: Path | None, debug: bool) -> None:
    """Reconcile statistics across administrative mergers (Vietnam 2025: 63 -> 34 provinces)."""


# --- mappings ------------------------------------------------------------------------------------

@cli.group(cls=Group)
def mappings() -> None:
    """Inspect and validate mapping files."""


@mappings.command("check")
@click.pass_context
def mappings_check(ctx: click.Context) -> None:
    """Validate the mappings; list every problem with file, row and column (exit 1 if any)."""
    from mergetool import render

    ms = _mappings(ctx)
    render.mapping_summary(ms)
    if ms.problems:
        render.problems(ms.problems, f"{len(ms.problems)} problem(s) in {ms.root}")
        ctx.exit(EXIT_FINDINGS)
    render.message(f"ok: {ms.id} {ms.version}, {len(ms.bases)} bases, "
                   f"{len(ms.transitions)} transition(s), no problems", "green")


@mappings.command("show")
@click.argument("unit", required=False)
@click.option("--basis", help="Basis of UNIT (default: every basis where it resolves).")
@click.pass_context
def mappings_show(ctx: click.Context, unit: str | None, basis: str | None) -> None:
    """Show a unit's predecessors or successors as a tree (all merged units without UNIT)."""
    from mergetool import render
    from mergetool.mapping import find_units

    ms = _mappings(ctx)
    render.unit_tree(ms, find_units(ms, unit, basis))


# --- rebase --------------------------------------------------------------------------------------

@cli.command()
@click.argument("scores", type=click.Path(path_type=Path))
@click.option("--to", "to_basis", required=True, help="Target basis, e.g. vn-province-2025.")
@click.option("--from", "from_basis", default=None, help="Basis of SCORES (default: detected).")
@click.option("--method", "methods", multiple=True, default=(),
              help="mean (default), weighted or sum; per indicator as NAME=METHOD. Repeatable.")
@click.option("--policy", type=click.Choice(["strict", "partial"]), default="strict",
              show_default=True, help="strict: skip successors with missing predecessors.")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="Weight table (unit, weight) on the source basis, for --method weighted.")
@click.option("--year", type=int, default=None, help="Year of a table without a year column.")
@click.option("--sheet", default=None, help="Sheet of an Excel workbook.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Rebased values (CSV, or Parquet by suffix).")
@click.option("--audit", type=click.Path(path_type=Path), default=None,
              help="Audit of every contribution (CSV).")
@click.option("--force", is_flag=True, help="Replace existing outputs.")
@click.pass_context
def rebase(ctx: click.Context, scores: Path, to_basis: str, from_basis: str | None,
           methods: tuple[str, ...], policy: str, weights: Path | None, year: int | None,
           sheet: str | None, output: Path, audit: Path | None, force: bool) -> None:
    """Rebase SCORES to another basis (e.g. the 63-unit DTI onto the 34 units)."""
    from mergetool import render
    from mergetool.rebase import rebase_file

    ms = _mappings(ctx)
    result = rebase_file(scores, ms, to_basis, from_basis=from_basis, methods=methods,
                         policy=policy, weights=weights, year=year, sheet=sheet, output=output,
                         audit=audit, force=force)
    render.counts(result.values, "status", f"{result.from_basis} -> {result.to_basis}: "
                  f"{result.values.height} values")
    render.message(f"wrote {output}" + (f" and {audit}" if audit else ""))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mergetool")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
