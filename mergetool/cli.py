"""The ``mergetool`` command: thin wrappers over the library.

Exit codes: 0 ok; 1 checks or verification found problems; 2 bad input or usage.
Domain errors (:class:`MergetoolError`) are translated here, once, and so are I/O
errors (a closed pipe, a failing disk) as one line with exit 2; anything else is a
bug and keeps its traceback.

Each command imports the library it calls inside its body, on purpose: ``mergetool --help``
and a usage error then load click only (about 0.06 s, against 0.3 s with polars and the DTI
application). These are the only imports kept out of the module top.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from mergetool import __version__
from mergetool.errors import EXIT_FINDINGS, EXIT_INPUT, MergetoolError


class Group(click.Group):
    """A click group that turns domain errors into a table on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MergetoolError as exc:
            if ctx.find_root().params.get("debug"):
                raise
            from mergetool.outputs import terminal as render

            try:
                if exc.problems:
                    render.problems(exc.problems, str(exc).splitlines()[0])
                else:
                    render.message(f"error: {exc}", "bold red")
            except OSError as closed:  # the reader stopped early: the input's exit code stands
                if closed.errno != errno.EPIPE:
                    raise
                _closed_pipe(closed)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            if ctx.find_root().params.get("debug"):
                raise
            if exc.errno == errno.EPIPE:
                ctx.exit(_closed_pipe(exc))
            # an I/O failure no check foresaw: one line, not a traceback
            from mergetool.outputs import terminal as render

            where = f"{str(exc.filename)[:200]}: " if exc.filename else ""
            render.message(f"error: {where}{exc.strerror or exc}", "bold red")
            ctx.exit(EXIT_INPUT)


def _mappings(ctx: click.Context):
    from mergetool.core.mapping import load_mappings

    root = ctx.params.get("local_mappings") or ctx.find_root().params.get("mappings")
    ms = load_mappings(root)
    return ms


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mergetool")
@click.option("--mappings", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Mapping directory, or a shipped mapping by name: vn-2025 (provinces, the "
                   "default) or vn-2025-wards (communes).")
@click.option("--debug", is_flag=True, help="Show tracebacks for input errors too.")
def cli(mappings: Path | None, debug: bool) -> None:
    """Reconcile statistics across administrative mergers (Vietnam 2025: 63 -> 34 provinces)."""


# --- mappings ------------------------------------------------------------------------------------

@cli.group(cls=Group)
def mappings() -> None:
    """Inspect and validate mapping files."""


_local_mappings = click.option(
    "--mappings", "local_mappings", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Mapping directory or shipped name (same as the global option).")


@mappings.command("check")
@_local_mappings
@click.pass_context
def mappings_check(ctx: click.Context, local_mappings: Path | None) -> None:
    """Validate the mappings; list every problem with file, row and column (exit 1 if any)."""
    from mergetool.outputs import terminal as render

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
@_local_mappings
@click.pass_context
def mappings_show(ctx: click.Context, unit: str | None, basis: str | None,
                  local_mappings: Path | None) -> None:
    """Show a unit's predecessors or successors as a tree (all merged units without UNIT)."""
    from mergetool.core.mapping import find_units
    from mergetool.outputs import terminal as render

    ms = _mappings(ctx)
    ms.require_valid()  # the tree of an invalid mapping could show units that do not exist
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
@click.option("--shares", type=click.Path(path_type=Path), default=None,
              help="Shares of divided units (predecessor_code, successor_code, share), for sum "
                   "or weighted where the mapping leaves them blank.")
@click.option("--year", type=int, default=None, help="Year of a table without a year column.")
@click.option("--sheet", default=None, help="Sheet of an Excel workbook.")
@click.option("--header-row", type=click.IntRange(min=1), default=None,
              help="Row of the header (default: found below any title rows).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Rebased values; the suffix decides: .csv, .xlsx or .parquet.")
@click.option("--audit", type=click.Path(path_type=Path), default=None,
              help="Audit of every contribution (.csv, .xlsx or .parquet).")
@click.option("--force", is_flag=True,
              help="Replace existing files mergetool did not write (its own are rebuilt in place).")
@click.pass_context
def rebase(ctx: click.Context, scores: Path, to_basis: str, from_basis: str | None,
           methods: tuple[str, ...], policy: str, weights: Path | None, shares: Path | None,
           year: int | None, sheet: str | None, header_row: int | None, output: Path,
           audit: Path | None,
           force: bool) -> None:
    """Rebase SCORES to another basis (e.g. the 63-unit DTI onto the 34 units)."""
    from mergetool.core.rebase import rebase_file
    from mergetool.dti.spec import REBASE_OPTIONS
    from mergetool.outputs import terminal as render

    _check_sheet(sheet, [scores])
    ms = _mappings(ctx)
    result = rebase_file(scores, ms, to_basis, from_basis=from_basis, methods=methods,
                         policy=policy, weights=weights, year=year, sheet=sheet,
                         header_row=header_row, output=output,
                         audit=audit, force=force, shares=shares, options=REBASE_OPTIONS)
    render.counts(result.values, "status", f"{result.from_basis} -> {result.to_basis}: "
                  f"{result.values.height} values")
    render.message(f"wrote {output}" + (f" and {audit}" if audit else ""))


# --- build and the auditor's commands ----------------------------------------------------------

_scores_option = click.option(
    "--scores", "scores_files", multiple=True, type=click.Path(path_type=Path),
    help="Score file (any layout); repeatable. Values replace the shipped record's for the same "
         "year, basis, unit and indicator; its published values and ranks stay facts the checks test. "
         "A table without a year column takes it from its file name.")


def _check_sheet(sheet: str | None, files: list[Path]) -> None:
    """``--sheet`` names a sheet of a workbook: with no workbook among ``files`` it would do
    nothing, which is an error (not silently ignored)."""
    from mergetool.errors import InputError, Problem
    from mergetool.io.tables import EXCEL_SUFFIXES

    if sheet is None or any(Path(f).suffix.lower() in EXCEL_SUFFIXES for f in files):
        return
    raise InputError.single(Problem(
        "bad-option", "--sheet would do nothing: no input is an Excel workbook",
        file=", ".join(map(str, files)), column="--sheet", found=sheet,
        expected="an .xlsx, .xlsm or .xls input", hint="drop --sheet (a CSV or Parquet file "
        "has one table)"))


def _build(ctx: click.Context, scores_files: tuple[Path, ...], replace: bool,
           basis: str | None, methods: tuple[str, ...] = (), sheet: str | None = None,
           header_row: int | None = None, options=None):
    from mergetool.core.rebase import parse_methods
    from mergetool.dti.comparable import gather_facts, gather_scores
    from mergetool.dti.indicators import CATALOGUE
    from mergetool.dti.pipeline import build
    from mergetool.errors import UsageError

    if replace and not scores_files:
        raise UsageError("--replace uses only the --scores files, and none was given: "
                         "add --scores FILE, or drop --replace to build from the shipped record")
    given = [n for n, v in (("--basis", basis), ("--sheet", sheet), ("--header-row", header_row)) if v]
    if not scores_files and given:
        raise UsageError(f"{' and '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to "
                         "--scores files, and none was given")
    _check_sheet(sheet, list(scores_files))
    method_map = parse_methods(methods, catalogue=CATALOGUE)
    if "weighted" in method_map.values():
        from mergetool.errors import Problem

        raise UsageError("build has no weight table", [Problem(
            "bad-option", "method 'weighted' needs weights, which build does not take",
            column="--method", found="weighted",
            hint="use mean (the DTI rule) or sum here; rebase --method weighted --weights FILE "
                 "rebases with weights")])
    from mergetool.dti.spec import spec_for

    ms = _mappings(ctx)
    ms.require_valid()  # the spec of an invalid mapping could name bases that do not hold
    spec = spec_for(ms)
    scores = gather_scores(ms, scores_files, replace=replace, basis=basis, sheet=sheet,
                           header_row=header_row, spec=spec,
                           **({"options": options} if options else {}))
    return build(scores, ms, methods=method_map, facts=gather_facts(scores, replace=replace, spec=spec),
                 spec=spec)


def _build_inputs(fn):
    """The options that choose what a build reads and where its outputs go (build, report)."""
    for option in reversed([
        _scores_option,
        click.option("--replace", is_flag=True,
                     help="Take values only from the --scores files, none from the shipped record; "
                          "the record's published values, ranks and claims are still checked."),
        click.option("--basis", default=None, help="Basis of the --scores files (default: detected)."),
        click.option("--sheet", default=None, help="Sheet of --scores workbooks."),
        click.option("--header-row", type=click.IntRange(min=1), default=None,
                     help="Row of the header in --scores files (default: found below title rows)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("out"), show_default=True, help="Output directory."),
        click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
                     help="Language of report.html: Vietnamese or English."),
        click.option("--force", is_flag=True,
                     help="Replace existing files mergetool did not write (its own are rebuilt in place)."),
    ]):
        fn = option(fn)
    return fn


@cli.command("build")
@_build_inputs
@click.option("--method", "methods", multiple=True, default=(),
              help="Aggregation for rebased values (default mean, the DTI rule); NAME=METHOD per indicator.")
@click.option("--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail",
              show_default=True,
              help="Exit 1 when a comparability check fails (or also warns); outputs are written either way.")
@click.pass_context
def build_cmd(ctx: click.Context, scores_files: tuple[Path, ...], replace: bool, basis: str | None,
              sheet: str | None, header_row: int | None, out_dir: Path, lang: str, force: bool,
              methods: tuple[str, ...], fail_on: str) -> None:
    """Build the comparable tables (2020-2024 on the 34-unit basis; with --mappings DIR that
    mapping's newest basis) with checks and manifest.

    Exit 1 when checks find comparisons that can mislead (on the partial public record they do).
    """
    with _settled_imports():
        from mergetool.dti.checks import findings
        from mergetool.outputs import terminal as render
        from mergetool.outputs.files import check_out_dir, write_build
    check_out_dir(out_dir, list(scores_files), force)
    result = _build(ctx, scores_files, replace, basis, methods, sheet, header_row)
    paths = write_build(result, out_dir, force=force, inputs=list(scores_files),
                        shipped_record=result.spec.record, lang=lang)
    render.build_summary(result, paths)
    found = findings(result.checks, fail_on)
    if found.height:
        render.findings_summary(found, fail_on)
        ctx.exit(EXIT_FINDINGS)


@contextlib.contextmanager
def _settled_imports() -> Iterator[None]:
    """Import a command's modules with the cyclic garbage collector paused, then take what they
    made (modules, classes, functions: alive as long as the process anyway) out of its way
    (``gc.freeze``): collections during the run then traverse only the run's own objects. A
    build on the shipped record spends about a quarter less time (`benchmarks/run.py
    --startup`); nothing is left uncollected that the run makes."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


@cli.command()
@_build_inputs
@click.pass_context
def report(ctx: click.Context, scores_files: tuple[Path, ...], replace: bool, basis: str | None,
           sheet: str | None, header_row: int | None, out_dir: Path, lang: str, force: bool) -> None:
    """Write report.html (charts, tables, checks and provenance in one offline page) and its manifest."""
    with _settled_imports():
        from mergetool.outputs import terminal as render
        from mergetool.outputs.files import check_out_dir, write_report
    check_out_dir(out_dir, list(scores_files), force, report_only=True)
    result = _build(ctx, scores_files, replace, basis, (), sheet, header_row)
    path = write_report(result, out_dir, force=force, inputs=list(scores_files),
                        shipped_record=result.spec.record, lang=lang)
    render.message(f"wrote {path}")


@cli.command()
@click.option("--units", default=None, metavar="N",
              help="The basis by its number of units (or its id): 63 pre-merger units (the default: "
                   "the older basis) or the 34 units from July 2025 on the shipped mapping; with "
                   "--mappings DIR the sizes of that mapping's two bases.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The suffix decides: .csv or .xlsx.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def template(units: str | None, output: Path, force: bool) -> None:
    """Write an empty table in the ministry's layout to fill in (name it with the year)."""
    from mergetool.core.mapping import load_mappings
    from mergetool.core.provenance import preflight
    from mergetool.dti.record import ministry_template
    from mergetool.dti.spec import spec_for
    from mergetool.io.tables import write_atomic, write_frame
    from mergetool.outputs import terminal as render

    preflight([(output, "-o")], None, [], force, accepted=(".csv", ".xlsx"))
    ms = load_mappings(click.get_current_context().find_root().params.get("mappings"))
    ms.require_valid()
    frame = ministry_template(ms, spec_for(ms).basis_for_units(units))
    write_atomic(output, lambda p: write_frame(p, frame))
    render.message(f"wrote {output}: {frame.height} units x {frame.width - 2} indicators")


def _tolerance(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A tolerance is a finite number >= 0: NaN would make every comparison false (nothing
    matches, nothing mismatches), infinity would accept anything."""
    import math

    if value is not None and (math.isnan(value) or math.isinf(value) or value < 0):
        raise click.BadParameter(f"{value} is not a finite number >= 0")
    return value


@cli.command()
@click.option("--published", type=click.Path(path_type=Path), default=None,
              help="The merged table as published (new basis). Default: the shipped record.")
@click.option("--predecessors", type=click.Path(path_type=Path), default=None,
              help="The predecessors' values (old basis). Default: the shipped record.")
@click.option("--published-basis", default=None, help="Basis of --published (default: detected).")
@click.option("--predecessors-basis", default=None, help="Basis of --predecessors (default: detected).")
@click.option("--year", type=int, default=None, help="Year of tables without a year column.")
@click.option("--tolerance", type=float, default=None, callback=_tolerance,
              help="Largest difference counted as a match (default 0.0001, from 4-decimal rounding).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the rows to this file (.csv, .xlsx or .parquet) and a manifest beside it. "
                   "Default: no file.")
@click.option("--force", is_flag=True,
              help="Replace existing files mergetool did not write (its own are rebuilt in place).")
@click.pass_context
def verify(ctx: click.Context, published: Path, predecessors: Path, published_basis: str | None,
           predecessors_basis: str | None, year: int | None, tolerance: float | None,
           output: Path | None, force: bool) -> None:
    """Recompute every published merged value independently; exit 1 on any mismatch, or if
    nothing could be verified."""
    from mergetool.core.provenance import preflight, sibling_manifest
    from mergetool.dti.verify import verify_files, verify_shipped, write_verify
    from mergetool.errors import UsageError
    from mergetool.outputs import terminal as render

    if output is not None:  # the output's problems before any work (again when writing)
        preflight([(output, "-o")], sibling_manifest(output),
                  [p for p in (published, predecessors) if p is not None], force)
    ms = _mappings(ctx)
    if (published is None) != (predecessors is None):
        raise UsageError("give both --published and --predecessors, or neither (shipped record)")
    if published is None or predecessors is None:
        result = verify_shipped(ms, tolerance=tolerance)
        inputs: list[Path] = []
    else:
        result = verify_files(published, predecessors, ms, published_basis=published_basis,
                              predecessors_basis=predecessors_basis, tolerance=tolerance, year=year)
        inputs = [published, predecessors]
    if output is not None:
        write_verify(result, ms, output, inputs=inputs, force=force)
    render.verify_summary(result, output)
    if not result.valid:
        ctx.exit(EXIT_FINDINGS)
    checked = result.rows.filter(result.rows["verdict"].is_in(["match", "mismatch"])).height
    if checked == 0:
        render.message(f"exit 1: nothing could be verified: none of the {result.rows.height} "
                       "published merged value(s) could be recomputed from the predecessors given "
                       "(see the verdicts above)", "bold red")
        ctx.exit(EXIT_FINDINGS)


@cli.command()
@click.argument("unit")
@click.option("--year", type=int, default=None, help="One year (default: all).")
@click.option("--indicator", default="dti", show_default=True, help="Indicator id.")
@click.option("--format", "fmt", type=click.Choice(["tree", "json"]), default="tree", show_default=True)
@_scores_option
@click.option("--basis", default=None, help="Basis of the --scores files (default: detected).")
@click.option("--method", "methods", multiple=True, default=(),
              help="The build's aggregation (default mean); NAME=METHOD per indicator, as build's.")
@click.pass_context
def explain(ctx: click.Context, unit: str, year: int | None, indicator: str, fmt: str,
            scores_files: tuple[Path, ...], basis: str | None, methods: tuple[str, ...]) -> None:
    """Show how UNIT's merged value was derived: predecessors, values, sources, the method, every
    step of a chain of transitions, the formula and the verdict.

    With a commune mapping (--mappings vn-2025-wards), explains the mean rebase of one --scores
    table onto the newest basis instead of the DTI build.
    """
    import json

    from mergetool.core.hierarchy import is_hierarchical
    from mergetool.dti.explain import explain as explain_unit
    from mergetool.dti.spec import EXPLAIN_OPTIONS
    from mergetool.outputs import terminal as render

    ms = _mappings(ctx)
    if is_hierarchical(ms):
        from mergetool.dti.rebased_explain import explain_file
        from mergetool.errors import UsageError

        if len(scores_files) != 1:
            raise UsageError("explain on a commune mapping needs one --scores table to rebase")
        default = ctx.get_parameter_source("indicator") == click.core.ParameterSource.DEFAULT
        from mergetool.core.rebase import parse_methods

        data = explain_file(ms, scores_files[0], unit, year=year,
                            indicator=None if default else indicator,
                            methods=parse_methods(methods, free=True))
    else:
        from mergetool.dti.spec import spec_for
        from mergetool.errors import UsageError

        ms.require_valid()
        spec = spec_for(ms)
        if not spec.record and not scores_files:
            raise UsageError(f"explain on this mapping ({spec.source} -> {spec.target}) needs "
                             "--scores FILE: the shipped DTI record is of the shipped mapping only")
        # on another mapping the values come from the --scores files only (build's --replace)
        data = explain_unit(_build(ctx, scores_files, not spec.record, basis, methods,
                                   options=EXPLAIN_OPTIONS), unit, year=year, indicator=indicator)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render.explain_tree(data)


@cli.group(cls=Group)
def manifest() -> None:
    """Provenance manifests."""


@manifest.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_context
def manifest_check(ctx: click.Context, path: Path) -> None:
    """Re-hash the outputs, inputs and mapping files a manifest names (PATH: the manifest or its
    directory); exit 1 if any changed, is missing, or the directory holds a mixed set."""
    from mergetool.core.provenance import mixed_set_summary
    from mergetool.outputs import terminal as render
    from mergetool.outputs.files import check_build_manifest

    rows = check_build_manifest(path)
    render.frame_table(rows.select("role", "path", "verdict"), f"manifest {path}", limit=200)
    bad = rows.filter(rows["verdict"] != "ok")
    if bad.height:
        mixed = mixed_set_summary(rows)
        render.message(f"exit 1: {bad.height} of {rows.height} file(s) are not as recorded"
                       + (f"; {mixed}" if mixed else ""), "bold red")
        ctx.exit(EXIT_FINDINGS)
    render.message(f"ok: all {rows.height} file(s) as recorded, one consistent set", "green")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mergetool")


def _closed_pipe(exc: OSError) -> int:
    """A reader stopped early (``mergetool explain 48 --format json | head -c 10``): exit 2 with
    one line on stderr (when stderr is still open), never a traceback or a second error at exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, stream.fileno())
    try:
        sys.stderr.write("mergetool: the output pipe was closed before all output was written "
                         f"({exc.strerror or 'broken pipe'})\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, sys.stderr.fileno())
    return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    main()  # click's standalone mode exits with the command's code
