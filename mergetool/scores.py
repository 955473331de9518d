"""Score tables in: any layout people use, out as one tidy long frame on a known basis.

Accepted layouts (CSV, Parquet or XLSX):

* long: ``year, unit, indicator, value`` (``unit`` may be headed code, unit_code,
  province, name, ...);
* wide: ``year, unit`` and one column per indicator;
* the ministry's ranking table (``Xếp hạng``, province, ``Chỉ số Nhận thức số`` ...
  ``CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)``), which has no year column: pass ``year``.

Units may be codes or names; names resolve through the basis's aliases. The
basis is declared (argument or a ``basis`` column) or detected from the units.
Every problem found is reported together, with file, row and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mergetool import hierarchy
from mergetool.errors import InputError, Problem, ProblemLog
from mergetool.indicators import BY_ID, indicator_id
from mergetool.mapping import MappingSet
from mergetool.names import name_key, normalise_code
from mergetool.tables import ROW, parse_numbers, read_table

#: The long frame every loader returns.
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(), "basis": pl.String(), "code": pl.String(), "indicator": pl.String(),
    "value": pl.Float64(), "rank": pl.Int32(), "file": pl.String(), "row": pl.Int32(),
}
YEAR_RANGE = (1900, 2100)

_UNIT_HEADINGS = ("unit", "unit_code", "code", "province_code", "ma", "mã", "unit_name", "name",
                  "province", "province_name", "province_name_vi", "name_vi", "tỉnh/thành phố",
                  "tỉnh, thành phố", "tỉnh thành phố", "tỉnh/thành", "địa phương", "tên tỉnh",
                  "tên đơn vị", "đơn vị")
_RANK_HEADINGS = ("rank", "xếp hạng", "thứ hạng", "hạng")
_RESERVED = {"year", "năm", "basis", "indicator", "value", "rank_basis", "source_url", "notes",
             "stt", "source"}


@dataclass(frozen=True)
class Layout:
    """What the loader recognised in a table's header."""

    kind: str  # "long" or "wide"
    unit: str
    year: str | None
    basis: str | None
    rank: str | None
    indicators: dict[str, str]  # column -> indicator id (wide) / {} (long)


def empty_scores() -> pl.DataFrame:
    return pl.DataFrame(schema=SCORES_SCHEMA)


def detect_layout(frame: pl.DataFrame, path: str | Path) -> Layout:
    """Recognise the columns of a score table, or say which are missing."""
    by_key = {name_key(c): c for c in frame.columns if c != ROW}
    lower = {c.casefold(): c for c in frame.columns if c != ROW}

    def first(headings: Iterable[str]) -> str | None:
        for h in headings:
            if h in lower:
                return lower[h]
            if name_key(h) in by_key:
                return by_key[name_key(h)]
        return None

    unit = first(_UNIT_HEADINGS)
    year = first(("year", "năm"))
    basis = first(("basis",))
    log = ProblemLog()
    found = ", ".join(c for c in frame.columns if c != ROW)
    if unit is None:
        log.add("missing-column", "no unit column", file=str(path), row=1,
                expected="a column headed unit, code, province or name", found=found,
                hint="head the unit column 'unit'")
    if "indicator" in lower and "value" in lower:
        log.raise_if_any(f"{path}: missing columns")
        return Layout("long", unit, year, basis, first(_RANK_HEADINGS), {})  # type: ignore[arg-type]
    rank = first(_RANK_HEADINGS)
    taken = {unit, year, basis, rank}
    indicators = {}
    for col in frame.columns:
        if col == ROW or col in taken or col.casefold() in _RESERVED or col.endswith("_rank"):
            continue
        ind = indicator_id(col)
        if ind is not None:
            indicators[col] = ind
    if not indicators:
        log.add("missing-column", "no indicator columns", file=str(path), row=1,
                expected="indicator and value columns (long), or one column per indicator "
                "(wide) such as dti, awareness or 'Chỉ số Nhận thức số'", found=found)
    log.raise_if_any(f"{path}: missing columns")
    return Layout("wide", unit, year, basis, rank, indicators)  # type: ignore[arg-type]


def read_scores(path: str | Path, mappings: MappingSet, *, basis: str | None = None,
                year: int | None = None, sheet: str | None = None,
                check_range: bool = True) -> pl.DataFrame:
    """A score file as a long frame (:data:`SCORES_SCHEMA`) on one basis, validated."""
    path = Path(path)
    frame, delimiter = read_table(path, sheet)
    frame = hierarchy.combine_columns(frame, mappings)  # province/district/ward -> one unit
    layout = detect_layout(frame, path)
    log = ProblemLog()
    years = _years(frame, layout, path, year, log)
    long = _to_long(frame, layout, path, delimiter, years, log)
    log.raise_if_any(f"{path}: bad values")
    declared = basis
    if layout.basis is not None:
        declared = _basis_column(frame, layout.basis, path, basis)
    long = resolve_units(long, mappings, path, layout.unit, declared)
    problems = [*check_duplicates(long, layout), *(check_ranges(long) if check_range else [])]
    if problems:
        raise InputError(f"{path}: bad values", problems)
    return long.select(SCORES_SCHEMA.keys())


def _years(frame: pl.DataFrame, layout: Layout, path: Path, year: int | None,
           log: ProblemLog) -> pl.Series:
    if layout.year is None:
        if year is None:
            log.add("missing-column", "no year column and no year given", file=str(path), row=1,
                    expected="a column headed year", hint="add a year column or pass --year")
            return pl.Series("year", [None] * frame.height, dtype=pl.Int32)
        return pl.Series("year", [year] * frame.height, dtype=pl.Int32)
    raw = frame[layout.year]
    parsed = raw.str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    for i in (parsed.is_null() | (parsed < YEAR_RANGE[0]) | (parsed > YEAR_RANGE[1])).arg_true():
        log.add("bad-year", "not a year", file=str(path), row=int(frame[ROW][i]),
                column=layout.year, expected=f"a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
                found=raw[i])
    return parsed.alias("year")


def _to_long(frame: pl.DataFrame, layout: Layout, path: Path, delimiter: str,
             years: pl.Series, log: ProblemLog) -> pl.DataFrame:
    base = pl.DataFrame({"year": years, "unit": frame[layout.unit], "row": frame[ROW].cast(pl.Int32)})
    ranks = (_ranks(frame, layout.rank, path, log) if layout.rank
             else pl.Series("rank", [None] * frame.height, dtype=pl.Int32))
    if layout.kind == "long":
        ind_raw = frame.columns[[c.casefold() for c in frame.columns].index("indicator")]
        val_raw = frame.columns[[c.casefold() for c in frame.columns].index("value")]
        names = frame[ind_raw]
        ids = [indicator_id(n) if n else None for n in names]
        for i, (n, ind) in enumerate(zip(names, ids, strict=True)):
            if not n:
                log.add("unknown-indicator", "empty indicator", file=str(path),
                        row=int(frame[ROW][i]), column=ind_raw)
            elif ind is None:
                ids[i] = n  # a user's own indicator: kept as written
        values = parse_numbers(frame, val_raw, path, delimiter, log)
        return base.with_columns(indicator=pl.Series(ids, dtype=pl.String), value=values,
                                 rank=ranks, column=pl.lit(val_raw))
    parts = []
    for col, ind in layout.indicators.items():
        values = parse_numbers(frame, col, path, delimiter, log)
        parts.append(base.with_columns(indicator=pl.lit(ind), value=values,
                                       rank=ranks if ind == "dti" else pl.lit(None, pl.Int32),
                                       column=pl.lit(col)))
    out = pl.concat(parts)
    return out.filter(pl.col("value").is_not_null() | pl.col("rank").is_not_null())


def _ranks(frame: pl.DataFrame, column: str, path: Path, log: ProblemLog) -> pl.Series:
    raw = frame[column]
    parsed = raw.str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    for i in (parsed.is_null() & raw.is_not_null() & (raw != "")).arg_true():
        log.add("bad-number", "a rank must be a whole number", file=str(path),
                row=int(frame[ROW][i]), column=column, found=raw[i])
    return parsed.alias("rank")


def _basis_column(frame: pl.DataFrame, column: str, path: Path, declared: str | None) -> str:
    values = sorted({v for v in frame[column].drop_nulls() if v})
    if len(values) > 1:
        rows = frame.filter(pl.col(column) != values[0])[ROW].to_list()[:10]
        raise InputError.single(Problem(
            "mixed-basis", f"the basis column holds several bases: {', '.join(values)}",
            file=str(path), row=rows[0], column=column, found=", ".join(values),
            hint="split the table into one file per basis"))
    if declared is not None and values and values[0] != declared:
        raise InputError.single(Problem(
            "mixed-basis", f"the table says basis {values[0]} but {declared} was declared",
            file=str(path), column=column, found=values[0], expected=declared))
    return values[0] if values else declared  # type: ignore[return-value]


def resolve_units(long: pl.DataFrame, mappings: MappingSet, path: str | Path, column: str,
                  declared: str | None) -> pl.DataFrame:
    """Attach ``basis`` and ``code`` to each row; detect the basis when not declared."""
    empty = long.filter(pl.col("unit").is_null() | (pl.col("unit").str.strip_chars() == ""))
    if empty.height:
        raise InputError(f"{path}: empty units", [Problem(
            "unknown-unit", "empty unit", file=str(path), row=int(r), column=column,
            expected="a unit code or name") for r in empty["row"].unique().sort()])
    nested = hierarchy.resolve_units(long, mappings, path, column, declared)
    if nested is not None:  # commune names resolve within their province and district
        return nested
    units = long["unit"].unique().drop_nulls().to_list()
    is_codes = bool(units) and all(normalise_code(u) is not None for u in units)
    candidates = [declared] if declared else list(mappings.bases)
    resolved = {b: {u: mappings.resolve(u, b) for u in units} for b in candidates}
    fits = [b for b in candidates if all(resolved[b][u] is not None for u in units)]
    if declared is None and len(fits) > 1:
        fits = _prefer_complete(long, resolved, fits, mappings)
    if len(fits) == 1:
        basis = fits[0]
        codes = resolved[basis]
        return long.with_columns(
            basis=pl.lit(basis), code=pl.col("unit").replace_strict(codes, default=None),
            file=pl.lit(str(path)))
    if len(fits) > 1:
        raise InputError.single(Problem(
            "ambiguous-basis", f"every unit exists on {' and '.join(fits)}; the basis cannot be "
            "told from the units", file=str(path), column=column, found=", ".join(fits),
            hint="declare it: --basis " + fits[0] + " (or a 'basis' column)"))
    _raise_unresolved(long, mappings, path, column, candidates, resolved, is_codes)
    raise AssertionError("unreachable")


def _prefer_complete(long: pl.DataFrame, resolved: dict, fits: list[str],
                     mappings: MappingSet) -> list[str]:
    """Among bases on which every unit resolves, those that the table covers completely."""
    per_year = long.group_by("year").agg(pl.col("unit").unique())
    complete = []
    for b in fits:
        codes = mappings.bases[b].codes
        if all({resolved[b][u] for u in us if u} == codes for us in per_year["unit"]):
            complete.append(b)
    return complete if len(complete) == 1 else fits


def _raise_unresolved(long: pl.DataFrame, mappings: MappingSet, path: str | Path, column: str,
                      candidates: list[str], resolved: dict, is_codes: bool) -> None:
    rows = long.select("row", "unit").unique(maintain_order=True)
    if len(candidates) > 1:
        only = {b: [r for r, u in rows.iter_rows() if resolved[b].get(u) is not None
                    and all(resolved[o].get(u) is None for o in candidates if o != b)]
                for b in candidates}
        with_rows = [b for b in candidates if only[b]]
        if len(with_rows) > 1:
            detail = "; ".join(f"rows {', '.join(map(str, only[b][:8]))}"
                               f"{' ...' if len(only[b]) > 8 else ''} exist only on {b}"
                               for b in with_rows)
            raise InputError.single(Problem(
                "mixed-basis", f"the table mixes units of different bases: {detail}",
                file=str(path), row=min(only[b][0] for b in with_rows), column=column,
                hint="split the table by basis, or rebase one part first"))
    best = max(candidates, key=lambda b: sum(v is not None for v in resolved[b].values()))
    basis = mappings.bases[best]
    log = ProblemLog()
    for row, unit in rows.iter_rows():
        if unit is None or unit == "":
            log.add("unknown-unit", "empty unit", file=str(path), row=row, column=column)
        elif resolved[best].get(unit) is None:
            if is_codes:
                hint = f"codes of {best} run {min(basis.codes)}-{max(basis.codes)}"
            else:
                near = basis.resolver.suggest(unit)
                hint = ("did you mean " + " or ".join(repr(n) for n in near) + "?") if near else None
            log.add("unknown-unit", f"not a unit of {best}", file=str(path), row=row,
                    column=column, found=unit, hint=hint)
    log.raise_if_any(f"{path}: unknown units")


def check_duplicates(long: pl.DataFrame, layout: Layout | None = None) -> list[Problem]:
    """A unit may appear once per year and indicator."""
    dup = long.filter(pl.struct("year", "code", "indicator").is_duplicated())
    problems = []
    for (year, code, ind), grp in dup.group_by("year", "code", "indicator", maintain_order=True):
        rows = sorted(grp["row"].to_list())
        problems.append(Problem(
            "duplicate-row", f"unit {code} appears {len(rows)} times for {year} {ind} "
            f"(rows {', '.join(map(str, rows))})", file=grp["file"][0], row=rows[1],
            column=layout.unit if layout else "unit", found=str(grp["unit"][0]),
            hint="keep one row per unit and year"))
    return problems


def check_ranges(long: pl.DataFrame) -> list[Problem]:
    """DTI indicators are indices on [0, 1]; a table out of 100 or 1000 gets a rescale hint."""
    known = long.filter(pl.col("indicator").is_in(list(BY_ID)) & pl.col("value").is_not_null())
    bad = known.filter((pl.col("value") < 0) | (pl.col("value") > 1))
    if bad.is_empty():
        return []
    top = known["value"].max()
    hint = None
    if top is not None and 1 < top <= 100 and known["value"].min() >= 0:
        hint = "the values look like percentages: divide by 100"
    elif top is not None and 100 < top <= 1000 and known["value"].min() >= 0:
        hint = "the values look like points out of 1000: divide by 1000"
    return [Problem("value-out-of-range", f"{ind} must lie in [0, 1]", file=f, row=r,
                    column=c, expected="0 <= value <= 1", found=f"{v:g}", hint=hint)
            for f, r, c, ind, v in bad.select("file", "row", "column", "indicator", "value"
                                              ).iter_rows()]


def scores_from_rows(rows: list[tuple[int, str, str, float | None]], basis: str) -> pl.DataFrame:
    """A long score frame built in code from ``(year, code, indicator, value)`` tuples."""
    frame = pl.DataFrame(rows, schema={"year": pl.Int32, "code": pl.String,
                                       "indicator": pl.String, "value": pl.Float64}, orient="row")
    return frame.with_columns(basis=pl.lit(basis), rank=pl.lit(None, pl.Int32),
                              file=pl.lit("<memory>"), row=pl.int_range(2, frame.height + 2,
                                                                        dtype=pl.Int32)
                              ).select(SCORES_SCHEMA.keys())
