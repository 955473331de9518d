"""Writing the build's outputs: CSV tables, the publication workbook, the manifest.

Every file is written atomically and deterministically: the workbook's creation
date is fixed, so identical inputs give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import polars as pl

from mergetool.core.provenance import build_manifest, check_manifest, manifest_text, plan_outputs
from mergetool.core.ranking import rounded
from mergetool.dti.comparable import BuildResult
from mergetool.dti.coverage import coverage_frame, coverage_sheet
from mergetool.dti.indicators import BY_ID, INDICATOR_IDS
from mergetool.dti.record import shipped_file_hashes
from mergetool.dti.spec import SOURCE_BASIS, TARGET_BASIS
from mergetool.dti.verify import TOLERANCE
from mergetool.io.tables import FIXED_DATE, OutputSet, table_sheet, write_atomic, xlsx_bytes
from mergetool.outputs.report import render_report

if TYPE_CHECKING:
    import xlsxwriter

BUILD_OUTPUTS = ("comparable.csv", "comparable.xlsx", "checks.csv", "audit.csv", "report.html",
                 "manifest.json")


def year_span(comparable: pl.DataFrame) -> tuple[int, int]:
    """The first and last year with a value in a comparable table (the years its title names;
    all its years when none has a value)."""
    known = comparable.filter(pl.col("value").is_not_null())["year"]
    years = known if known.len() else comparable["year"]
    return (int(cast(int, years.min())), int(cast(int, years.max()))) if years.len() else (0, 0)


def wide_sheets(comparable: pl.DataFrame, indicators: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Each of ``indicators`` as the new basis's units × years (value, rank and status per year): its
    units in table order, then for each of its years (ascending) the 4-decimal value, the rank
    and the value's basis (its status where not ``ok``); empty where a unit has no row that year.

    One pass over the table's rows (a few thousand), not a filter and a join per indicator
    and year."""
    rank_type = comparable.schema["rank"]
    units: dict[str, dict[tuple[str, str], None]] = {}  # indicator -> its (code, name), in order
    years: dict[str, set[int]] = {}
    cells: dict[tuple[str, str, int], tuple] = {}
    for ind, year, code, name, value, rank, basis in comparable.select(
            "indicator", "year", "code", "unit_name", rounded("value"), "rank",
            pl.when(pl.col("status") == "ok").then(pl.col("value_basis"))
            .otherwise(pl.col("status"))).iter_rows():
        units.setdefault(ind, {})[(code, name)] = None
        years.setdefault(ind, set()).add(year)
        cells[(ind, code, year)] = (value, rank, basis)
    out = {}
    for ind in indicators:
        pairs = units.get(ind, {})
        columns: dict[str, list] = {"Mã": [c for c, _n in pairs], "Tỉnh, thành phố": [n for _c, n in pairs]}
        schema: dict[str, pl.DataType | type[pl.DataType]] = {"Mã": pl.String, "Tỉnh, thành phố": pl.String}
        for year in sorted(years.get(ind, ())):
            got = [cells.get((ind, c, year), (None, None, None)) for c, _n in pairs]
            kinds: list[tuple[str, pl.DataType | type[pl.DataType]]] = [
                (f"{year} value", pl.Float64), (f"{year} rank", rank_type),
                (f"{year} basis/status", pl.String)]
            for k, (label, dtype) in enumerate(kinds):
                columns[label] = [g[k] for g in got]
                schema[label] = dtype
        out[ind] = pl.DataFrame(columns, schema=schema)
    return out


def write_workbook(path: Path, result: BuildResult, coverage: pl.DataFrame | None = None) -> None:
    """``comparable.xlsx``: a sheet per indicator, plus the checks and a note on the record
    (``coverage``: the build's :func:`~mergetool.dti.coverage.coverage_frame`, if made already)."""
    spec = result.spec
    new, old = spec.target_size, spec.source_size
    y0, y1 = year_span(result.comparable)
    on_target = (pl.col("basis") == spec.target) & pl.col("value").is_not_null()
    pub_years = sorted(set(result.scores.filter(on_target)["year"])
                       | set(result.facts.filter(on_target)["year"]))
    published_in = f" ({', '.join(map(str, pub_years))})" if pub_years else ""
    record = result.record_used

    def fill(wb: xlsxwriter.Workbook) -> None:
        wb.set_properties({"created": FIXED_DATE, "title": f"DTI {y0}-{y1} on the {new}-unit basis",
                           "comments": "mergetool; the public DTI record is partial" if record else
                           "mergetool; the shipped public DTI record was not used"})
        header = {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7"}
        note = wb.add_worksheet("README")
        note.write(0, 0, f"DTI {y0}–{y1} on the {new}-unit basis (mergetool)", wb.add_format({"bold": True}))
        lines = [
            f"Values: published on the {new}-unit basis{published_in} or the mean of all predecessors' "
            f"values (rebased from the {old}-unit basis). Empty cells are not known; the basis/status "
            "column says why.",
            "The public DTI record is partial: the ministry's full tables are not public in "
            "machine-readable form. Nothing was estimated or filled in." if record else
            f"The shipped public DTI record was not used: it is of {SOURCE_BASIS} -> {TARGET_BASIS}, "
            f"this build of {spec.source} -> {spec.target}. Every value and rank is from the input "
            "files. Nothing was estimated or filled in.",
            f"Ranks: competition ranking on 4-decimal values where all {new} units have a value, "
            f"otherwise the published {new}-unit rank where one exists.",
            "See checks.csv / the Checks sheet before comparing years; manifest.json for provenance.",
            f"coverage: what the {'public record holds' if record else 'inputs hold'} for the DTI, per "
            f"unit and year: each {new}-unit successor (its comparable value and rank), then the "
            f"{old}-unit predecessors it was formed from (their published values and ranks); "
            "value+rank, rank only, value only or none.",
        ]
        for i, line in enumerate(lines, start=2):
            note.write(i, 0, line)
        note.set_column(0, 0, 120)
        sheets = wide_sheets(result.comparable, INDICATOR_IDS)
        for ind in INDICATOR_IDS:
            frame = sheets[ind]
            ws = table_sheet(wb, ind[:31], frame, header_format=header,
                             number_formats=_value_formats(frame), freeze_panes=(1, 2))
            ws.set_header(f"&L{BY_ID[ind].label_vi} / {BY_ID[ind].label_en}")
        table_sheet(wb, "checks", result.checks, header_format=header, freeze_panes=(1, 0))
        _coverage_sheet(wb, result, header, coverage_frame(result) if coverage is None else coverage)

    data = xlsx_bytes(fill)
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def _value_formats(frame: pl.DataFrame) -> dict[str, str]:
    """Value columns show the 4 decimals they are ranked on."""
    return {c: "0.0000" for c in frame.columns if c.endswith(" value")}


def _coverage_sheet(wb, result: BuildResult, header: dict, coverage: pl.DataFrame) -> None:
    """The coverage map (mergetool.dti.coverage): each successor, then its predecessors, by year."""
    spec = result.spec
    frame = coverage_sheet(coverage, spec.target_size)
    ws = table_sheet(wb, "coverage", frame, header_format=header,
                     number_formats=_value_formats(frame), freeze_panes=(1, 6))
    ws.set_header("&LDTI coverage: value+rank, rank only, value only, none (successor rows: "
                  f"{spec.target_size}-unit basis; predecessor rows: {spec.source_size}-unit basis)")


def build_options(result: BuildResult) -> dict:
    """What a build was computed with, for manifests and the report."""
    return {"source_basis": result.rebased.from_basis, "target_basis": result.rebased.to_basis,
            "methods": result.methods, "coverage_policy": result.rebased.policy,
            "rank_method": "competition (min) on values rounded to 4 decimals, descending",
            "verify_tolerance": TOLERANCE,
            "record": "partial public record: values not published are left empty"
            if result.record_used else "shipped public record not used (it is of another mapping): "
            "values and ranks from the input files only; values not given are left empty"}


def build_inputs(result: BuildResult, inputs: list[Path]) -> list[Path]:
    """Every file a build read that an output must never replace: scores and mapping files."""
    root = result.mappings.root
    mapping_files = [Path(root) / name for name in result.mappings.files] if root else []
    return [*inputs, *mapping_files]


def check_out_dir(out_dir: Path, inputs: list[Path], force: bool, *, report_only: bool = False
                  ) -> None:
    """Refuse, before any work, a ``--out`` whose outputs could not be written or would replace
    an input or a file mergetool did not write (checked again when writing)."""
    names = ["report.html"] if report_only else list(BUILD_OUTPUTS[:-1])
    plan_outputs([out_dir / n for n in names], out_dir / "manifest.json", inputs, force,
                 set_names=BUILD_OUTPUTS)


def write_build(result: BuildResult, out_dir: Path, *, force: bool = False,
                inputs: list[Path] | None = None, shipped_record: bool = True,
                lang: str = "vi", lock_timeout: float | None = None) -> list[Path]:
    """Write every build output into ``out_dir`` as one set; returns their paths (manifest last).

    The outputs are staged and swapped in together under a lock on ``out_dir``
    (:class:`mergetool.io.tables.OutputSet`). A directory a previous run wrote (its manifest names
    the files, unchanged since) is rebuilt in place; other existing files need ``force``. The
    report embeds the manifest of the tables it shows; ``manifest.json`` then covers the report too.
    """
    inputs = inputs or []
    paths = [out_dir / name for name in BUILD_OUTPUTS]
    comparable, xlsx, checks, audit, report, manifest = paths
    stale = plan_outputs(paths[:-1], manifest, build_inputs(result, inputs), force,
                         set_names=BUILD_OUTPUTS)
    hashes = shipped_file_hashes() if shipped_record else {}
    tables = [comparable, xlsx, checks, audit]
    with OutputSet(paths, stale=stale, lock_timeout=lock_timeout) as out:

        def manifest_of(outputs: list[Path]) -> dict:
            return build_manifest(command="build", mappings=result.mappings, inputs=inputs,
                                  outputs=outputs, base=out_dir, shipped_inputs=hashes,
                                  options=build_options(result), staged=out.stage)

        result.comparable.write_csv(out.stage(comparable))
        result.checks.write_csv(out.stage(checks))
        result.audit.write_csv(out.stage(audit))
        coverage = coverage_frame(result)  # the workbook's sheet and the report's map
        write_workbook(out.stage(xlsx), result, coverage)
        out.stage(report).write_text(render_report(result, manifest_of(tables), lang, coverage),
                                     encoding="utf-8", newline="\n")
        out.stage(manifest).write_text(manifest_text(manifest_of([*tables, report])),
                                       encoding="utf-8", newline="\n")
    return paths


def write_report(result: BuildResult, out_dir: Path, *, force: bool = False,
                 inputs: list[Path] | None = None, shipped_record: bool = True,
                 lang: str = "vi") -> Path:
    """Only ``report.html`` and the ``manifest.json`` that covers it, written as one set.

    Its provenance section records the inputs and options. A previous build's tables in
    ``out_dir`` (unchanged since) are removed: the directory then holds this run's set only.
    """
    inputs = inputs or []
    path, manifest = out_dir / "report.html", out_dir / "manifest.json"
    stale = plan_outputs([path], manifest, build_inputs(result, inputs), force,
                         set_names=BUILD_OUTPUTS)
    hashes = shipped_file_hashes() if shipped_record else {}

    def manifest_of(outputs: list[Path], staged=None) -> dict:
        return build_manifest(command="report", mappings=result.mappings, inputs=inputs,
                              outputs=outputs, base=out_dir, options=build_options(result),
                              shipped_inputs=hashes, staged=staged)

    with OutputSet([path, manifest], stale=stale) as out:
        out.stage(path).write_text(render_report(result, manifest_of([]), lang), encoding="utf-8",
                                   newline="\n")
        out.stage(manifest).write_text(manifest_text(manifest_of([path], out.stage)),
                                       encoding="utf-8", newline="\n")
    return path


def check_build_manifest(path: str | Path) -> pl.DataFrame:
    """:func:`mergetool.core.provenance.check_manifest` for this tool's outputs: a build
    directory's own file names, and the shipped record's current hashes."""
    return check_manifest(path, set_names=BUILD_OUTPUTS, shipped_hashes=shipped_file_hashes)
