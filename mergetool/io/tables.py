"""Reading tables as people save them, and writing outputs so nothing is ever lost.

:func:`read_table` turns a CSV (any common encoding and delimiter), Parquet or
XLSX file into a frame of *strings* plus a ``_row`` column holding the row
number a spreadsheet would show (header = 1). Parsing numbers is left to
:func:`parse_numbers`, which knows the row of every bad cell.

:func:`write_atomic` writes to a temporary file beside the target and renames it
into place: a failed run leaves the old output intact and no partial file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import errno
import hashlib
import io
import math
import os
import re
import shutil
import struct
import tempfile
import time
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import polars as pl

from mergetool.core.names import clean
from mergetool.errors import Detail, InputError, Problem, ProblemLog

ROW = "_row"
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problem(path: Path, code: str, message: str, **kw: Unpack[Detail]) -> InputError:
    return InputError.single(Problem(code, message, file=str(path), **kw))


def decode_text(raw: bytes, path: Path) -> str:
    """Text of a CSV export: UTF-8 (with or without BOM) or UTF-16 with BOM."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _problem(path, "bad-file", f"broken UTF-16 text at byte {exc.start}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _problem(
            path, "bad-file", f"not UTF-8 text (byte {exc.start}, line {line})",
            row=line, hint="save the file as 'CSV UTF-8' (or 'Unicode text') and try again",
        ) from None


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: tab, ``;`` or ``,`` (whichever splits it most)."""
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


#: A predicate telling a header row from a title row above it (cells as written).
HeaderTest = Callable[[list[str]], bool]
#: How many non-empty rows from the top are searched for the header.
HEADER_SEARCH_ROWS = 10


def _split_line(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _reserved(path: Path, headings: list[str]) -> None:
    if ROW in (clean(str(h)) for h in headings):
        raise _problem(path, "bad-file", f"the heading {ROW!r} is reserved", column=ROW,
                       hint="rename that column")


def _pick_header(rows: list[tuple[int, list[str]]], header_row: int | None,
                 header_test: HeaderTest | None, path: Path, option: str | None) -> int:
    """Index into ``rows`` (row number, cells) of the header: the given row, else the first of
    the top rows that passes ``header_test``, else the first non-empty row."""
    if not rows:
        raise _problem(path, "empty-file", "the table is empty (no cell holds a value)",
                       hint="export the table with its header row")
    if header_row is not None:
        for i, (n, _cells) in enumerate(rows):
            if n == header_row:
                return i
        raise _problem(path, "bad-option", f"row {header_row} is empty or outside the table",
                       column=option or "--header-row", found=str(header_row),
                       expected=f"a row from {rows[0][0]} to {rows[-1][0]}" if rows else None)
    if header_test is not None:
        for i, (_n, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
            if header_test(cells):
                return i
    return 0


def _csv_header(lines: pl.Series, path: Path, header_row: int | None,
                header_test: HeaderTest | None, header_option: str | None
                ) -> tuple[int, list[str], str]:
    """The header of a CSV (its line number, cleaned headings, delimiter) from its lines (all
    of them, or the first ones: the header is searched among the top non-blank lines)."""
    nonblank = (lines.str.strip_chars().str.len_chars() > 0).arg_true()
    top = [(int(i) + 1, lines[int(i)]) for i in nonblank[: max(HEADER_SEARCH_ROWS, 1)]]
    if header_row is not None and not any(n == header_row for n, _ in top):
        idx = header_row - 1
        if 0 <= idx < len(lines) and lines[idx].strip():
            top = [(header_row, lines[idx])]
    delimiters = [sniff_delimiter(line) for _, line in top]
    rows = [(n, _split_line(line, d)) for (n, line), d in zip(top, delimiters, strict=True)]
    pick = _pick_header(rows, header_row, header_test, path, header_option)
    header_line, headings = rows[pick]
    delimiter = delimiters[pick]
    headings = [clean(h) for h in headings]
    _reserved(path, headings)
    dup = sorted({h for h in headings if headings.count(h) > 1})
    if dup:
        raise _problem(path, "bad-file", "duplicate column headings", row=header_line,
                       found=", ".join(dup), hint="give every column a distinct heading")
    return header_line, headings, delimiter


#: Bytes of a CSV searched for its header by the fast path (a file whose top non-blank lines do
#: not fit takes the general path).
_HEAD_BYTES = 1 << 16


def _read_csv_fast(raw: bytes, path: Path, header_row: int | None,
                   header_test: HeaderTest | None, header_option: str | None
                   ) -> tuple[pl.DataFrame, str, int, bool] | None:
    """:func:`_read_csv` for the common well-formed file, or None (then the general path reads
    it and reports whatever is wrong): UTF-8 without carriage returns, every line below the
    header empty or holding exactly the header's number of fields, every quoted field closed on
    its line (:func:`_well_quoted`). Fields are counted over the bytes (in total, or per line
    with numpy; per line in polars where there are quotes) and split by polars' CSV reader: no
    per-line Python. The
    frame may keep empty rows (:func:`read_table_at` drops them, as the general path does); the
    last item says whether a cell may need stripping."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\r" in raw:
        return None
    quoted = b'"' in raw
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    head_bytes = raw[bom:bom + _HEAD_BYTES]
    complete = len(raw) - bom <= _HEAD_BYTES
    cut = len(head_bytes) if complete else head_bytes.rfind(b"\n")
    if cut <= 0:
        return None
    try:  # the rest is checked by polars, which refuses any byte that is not UTF-8
        head = head_bytes[:cut].decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if not "".join(head).strip():
        return None
    head_lines = pl.Series("line", head, dtype=pl.String)
    if not complete:
        filled = int((head_lines.str.strip_chars().str.len_chars() > 0).sum())
        if filled <= HEADER_SEARCH_ROWS or (header_row is not None and header_row >= len(head)):
            return None
    header_line, headings, delimiter = _csv_header(head_lines, path, header_row, header_test,
                                                   header_option)
    if len(delimiter) != 1 or not delimiter.isascii():
        return None
    start = 0
    for _ in range(header_line):  # the offset of the line below the header
        start = raw.find(b"\n", start) + 1
        if start == 0:
            return None  # no line below the header
    if start >= len(raw):
        return None
    width = len(headings)
    n_lines = raw.count(b"\n", start) + (raw[-1:] != b"\n")
    sep = delimiter.encode("ascii")
    if quoted:
        if not _well_quoted(raw[start:], delimiter, width):
            return None
    elif raw.find(b"\n\n", start - 1) != -1 or raw.count(sep, start) != (width - 1) * n_lines:
        # Empty lines, or lines with too few fields: count the fields of every line.
        buf = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        ends = newlines[header_line:]
        if raw[-1:] != b"\n":
            ends = np.append(ends, len(raw))
        starts = np.concatenate(([start], ends[:-1] + 1))
        delims = np.flatnonzero(buf == ord(delimiter))
        # Delimiters before each line's end, less those before its start (the previous end).
        counts = np.diff(np.searchsorted(delims, np.concatenate(([start], ends))))
        if not bool(np.all((counts == width - 1) | (ends == starts))):
            return None
    # Else every line holds width - 1 delimiters: a line holding more makes polars raise (then
    # the general path reports it), so none can hold fewer with the total right.
    columns = [f"\x00{i}" for i in range(width)]
    try:
        frame = pl.read_csv(raw, has_header=False, skip_lines=header_line, separator=delimiter,
                            quote_char='"' if quoted else None,
                            schema=dict.fromkeys(columns, pl.String),
                            empty_string_is_null=False, raise_if_empty=False, row_index_name=ROW,
                            row_index_offset=header_line + 1)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != n_lines:
        return None
    if any(frame[c].null_count() for c in columns):
        frame = frame.with_columns(pl.col(columns).fill_null(""))
    frame = frame.rename(dict(zip(columns, headings, strict=True))).with_columns(
        pl.col(ROW).cast(pl.Int64))
    # A single byte is found fastest: the two- and three-byte sequences are sought only when
    # their last byte occurs at all.
    padded = (raw.find(b" ", start) != -1 or (delimiter != "\t" and raw.find(b"\t", start) != -1)
              or (raw.find(b"\xa0", start) != -1 and raw.find(b"\xc2\xa0", start) != -1)
              or (raw.find(b"\xbf", start) != -1 and raw.find(codecs.BOM_UTF8, start) != -1))
    # Without any space, tab, NBSP or BOM in the body no cell needs stripping.
    return frame, delimiter, header_line, padded


def _read_csv(path: Path, header_row: int | None, header_test: HeaderTest | None,
              header_option: str | None) -> tuple[pl.DataFrame, str, int, bool]:
    """Lines are split in polars (no per-row Python); only lines holding a quote go through
    the csv module. ``_row`` is the line number, so rows are numbered as an editor shows them.
    The last item is False when no cell can need stripping."""
    raw = path.read_bytes()
    fast = _read_csv_fast(raw, path, header_row, header_test, header_option)
    if fast is not None:
        return fast
    text = decode_text(raw, path).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise _problem(path, "empty-file", "the file is empty", hint="export the table with its header row")
    lines = pl.Series("line", text.split("\n"), dtype=pl.String)
    header_line, headings, delimiter = _csv_header(lines, path, header_row, header_test,
                                                   header_option)
    width = len(headings)
    body = pl.DataFrame({ROW: pl.int_range(header_line + 1, len(lines) + 1, eager=True,
                                           dtype=pl.Int64),
                         "line": lines[header_line:]})
    quoted = body["line"].str.contains('"', literal=True)
    plain = body.filter(~quoted).select(ROW, fields=pl.col("line").str.split(delimiter))
    parts = [plain]
    log = ProblemLog()
    if quoted.any():
        parts.extend(_quoted_lines(body.filter(quoted), delimiter, width, path, log))
    cells = pl.concat(parts).sort(ROW)
    n = pl.col("fields").list.len()
    filled = pl.col("fields").list.eval(pl.element().str.strip_chars().str.len_chars() > 0).list.any()
    bad = cells.filter((n != width) & filled & ~pl.col(ROW).is_in([p.row for p in log.problems]))
    for row, fields in bad.iter_rows():
        hint = None
        if delimiter == "," and len(fields) > width:
            hint = ("values look like comma decimals in a comma-delimited file: save with ';' "
                    "as delimiter, or use dot decimals")
        log.add("ambiguous-delimiter" if hint else "bad-file",
                f"row has {len(fields)} fields but the header has {width}", file=str(path),
                row=row, expected=f"{width} fields", found=delimiter.join(fields)[:60], hint=hint)
    log.raise_if_any(f"{path}: cannot read the table")
    cells = cells.filter(filled)
    frame = cells.select(
        *[pl.col("fields").list.get(i, null_on_oob=True).alias(f"\x00{i}") for i in range(width)],
        ROW)
    frame = frame.rename({f"\x00{i}": h for i, h in enumerate(headings)})
    return frame, delimiter, header_line, True


#: A quoted CSV field: quotes around anything but a lone quote (``""`` is a quote inside).
_QUOTED_FIELD = r'"(?:[^"]|"")*"'


def _well_quoted_line(line: pl.Expr, delimiter: str, width: int) -> pl.Expr:
    """Whether a line holding a quote is split by polars' CSV reader as the csv module would
    split it: every field is either quoted whole (from delimiter to delimiter, nothing before
    the opening quote or after the closing one) or holds no quote, and there are ``width``
    fields. Anything else (``"a" "b"``, ``"a"b``, ``"a" ,``) polars and the csv module read
    differently, so such lines go to the csv module's strict reading (:func:`_quoted_lines`)."""
    d = r"\t" if delimiter == "\t" else re.escape(delimiter)
    field = f'(?:{_QUOTED_FIELD}|[^"{d}]*)'
    stripped = line.str.replace_all(_QUOTED_FIELD, "")
    return ((stripped.str.count_matches(delimiter, literal=True) + 1 == width)
            & line.str.contains(f"^{field}(?:{d}{field})*$"))


def _well_quoted(body: bytes, delimiter: str, width: int) -> bool:
    """True when every line of ``body`` (a CSV's lines below its header) is empty, or holds
    ``width`` fields: by its delimiters where it has no quote, else as
    :func:`_well_quoted_line` sees it. A quoted field running over a line end fails this.
    One polars query (on a small file each query's own cost is what counts)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    line = pl.col("line")
    ok = (pl.when(line.str.contains('"', literal=True))
          .then(_well_quoted_line(line, delimiter, width))
          .otherwise((line.str.count_matches(delimiter, literal=True) == width - 1)
                     | (line.str.len_bytes() == 0)))
    return bool(pl.LazyFrame({"line": [text]}).select(line.str.split("\n").explode())
                .select(ok.all()).collect().item())


def _quoted_lines(q: pl.DataFrame, delimiter: str, width: int, path: Path,
                  log: ProblemLog) -> list[pl.DataFrame]:
    """Fields of lines holding quotes (R and many exporters quote every text field): well-formed
    lines (:func:`_well_quoted_line`) are parsed by polars in one go; only the rest go through
    the csv module, strictly: a quote left open at the line's end (a line break inside a quoted
    field, which this reader does not join) or text after a closing quote is a problem in
    ``log``, never a guess at what the cell meant."""
    schema = pl.Schema({ROW: pl.Int64(), "fields": pl.List(pl.String)})
    ok = q.select(_well_quoted_line(pl.col("line"), delimiter, width)).to_series()
    good, bad = q.filter(ok), q.filter(~ok)
    parts = []
    if good.height:
        try:
            parsed = pl.read_csv(io.BytesIO("\n".join(good["line"]).encode("utf-8")),
                                 has_header=False, separator=delimiter, infer_schema=False,
                                 new_columns=[f"f{i}" for i in range(width)])
            if parsed.height != good.height or parsed.width != width:
                raise ValueError("line count changed")
            parts.append(pl.DataFrame({ROW: good[ROW]}).with_columns(
                fields=parsed.select(pl.concat_list(pl.all().fill_null(""))).to_series()))
        except (pl.exceptions.PolarsError, ValueError):
            bad = q
            parts = []
    if bad.height:
        fields = []
        for row, line in bad.select(ROW, "line").iter_rows():
            try:
                fields.append(next(csv.reader([line], delimiter=delimiter, strict=True), []))
            except csv.Error as exc:
                open_ = "end of data" in str(exc)
                log.add("bad-file", "a quoted field is not closed on its line" if open_ else
                        f"text after a closing quote ({exc})", file=str(path), row=row,
                        found=line[:60], expected="each field either quoted whole "
                        '("a, b", with "" for a quote inside) or without quotes',
                        hint="remove the line break inside the quotes (this reader does not "
                        "join lines)" if open_ else "quote the whole field, or remove the quotes")
                fields.append([])
        parts.append(pl.DataFrame({ROW: bad[ROW], "fields": fields}, schema=schema))
    return [p.cast(schema) for p in parts]


#: How a workbook column without a heading is named (``(no heading, column E)``).
_NO_HEADING = "(no heading, column "


def _col_letters(index: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_ROW_XML = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_ROW_NUMBER = re.compile(rb'\br="(\d+)"')
_VALUE = re.compile(rb"<v>(.*?)</v>|<is>.*?<t[^>]*>(.*?)</t>", re.S)


def _xlsx_sheet_xml(path: Path, sheet: str) -> tuple[bytes, bool] | None:
    """The XML of one worksheet and whether the workbook asks for recalculation on load."""
    from xml.etree import ElementTree as ET  # lazy: only a workbook input needs it

    try:
        with zipfile.ZipFile(path) as zf:
            ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                  "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
            book = zf.read("xl/workbook.xml")
            rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target") for r in rels}
            root = ET.fromstring(book)
            for s in root.iter(f"{{{ns['m']}}}sheet"):
                if s.get("name") == sheet:
                    target = targets[s.get(f"{{{ns['r']}}}id")]
                    if target is None:  # a relationship without a target: no cell scan
                        return None
                    member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                    return zf.read(member), b'fullCalcOnLoad="1"' in book
    # not an OOXML package (.xls) or an unusual layout: no cell scan
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, UnicodeDecodeError):
        return None
    return None


def _xlsx_cells(path: Path, sheet: str
                ) -> tuple[int, int, list[tuple[int, int, str]], list[tuple[int, int, str]]] | None:
    """First used row and column of a sheet (1-based, as calamine trims), its problem cells
    ``(row, column, what)`` (error values, formulas without a usable cached value), and its
    numeric cells ``(row, column, text)`` exactly as stored (calamine's text of a number keeps
    only 9 decimals: 1e-25 would read as 0)."""
    got = _xlsx_sheet_xml(path, sheet)
    if got is None:
        return None
    xml, recalc = got
    r0 = c0 = None
    bad = []
    numbers = []
    row = 0
    for rm in _ROW_XML.finditer(xml):
        # Row and cell references are optional in OOXML: a missing one is the previous + 1.
        hit = _ROW_NUMBER.search(rm.group(1))
        row = int(hit.group(1)) if hit else row + 1
        c = 0
        for m in _CELL.finditer(rm.group(2) or b""):
            attrs, body = m.group(1), m.group(2) or b""
            ref = _REF.search(attrs)
            c = _col_index(ref.group(1).decode()) if ref else c + 1
            v = _VALUE.search(body)
            has_value = v is not None and bool(v.group(1) or v.group(2))
            if has_value:
                r0 = row if r0 is None else min(r0, row)
                c0 = c if c0 is None else min(c0, c)
            if b't="e"' in attrs:
                bad.append((row, c, f"an error value {(v.group(1) or b'').decode() if v else ''}".strip()))
            elif b"<f" in body and (not has_value or recalc):
                bad.append((row, c, "a formula without a calculated value"))
            elif has_value and v is not None and v.group(1) and (b" t=" not in b" " + attrs
                                                                 or b't="n"' in attrs):
                numbers.append((row, c, v.group(1).decode()))
    return r0 or 1, c0 or 1, bad, numbers


def _read_excel(path: Path, sheet: str | None, header_row: int | None,
                header_test: HeaderTest | None, log: ProblemLog,
                options: dict[str, str | None]) -> tuple[pl.DataFrame, int]:
    import fastexcel  # lazy: only XLSX input needs it

    try:
        reader = fastexcel.read_excel(str(path))
        sheets = list(reader.sheet_names)
    except (fastexcel.FastExcelError, OSError) as exc:
        raise _problem(path, "bad-file", f"not a readable Excel workbook ({type(exc).__name__})",
                       hint="open it in Excel and save as .xlsx") from None
    sheet_option = options.get("sheet")
    if sheet is None:
        if len(sheets) > 1:
            hint = (f"choose one, e.g. {sheet_option} {sheets[0]!r}" if sheet_option
                    else "keep one sheet in the workbook, or save the sheet you mean as its own file")
            raise _problem(path, "ambiguous-sheet", f"the workbook has {len(sheets)} sheets",
                           expected=f"one sheet{', or ' + sheet_option + ' NAME' if sheet_option else ''}",
                           found=", ".join(sheets), hint=hint)
        sheet = sheets[0]
    elif sheet not in sheets:
        raise _problem(path, "unknown-sheet", f"no sheet named {sheet!r}",
                       found=", ".join(sheets), hint="choose one of the sheets listed")
    try:
        grid = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError, OSError) as exc:
        raise _problem(path, "bad-file", f"sheet {sheet!r} cannot be read ({type(exc).__name__})") from None
    scan = _xlsx_cells(path, sheet)
    r0, c0, bad, numbers = scan if scan is not None else (1, 1, [], [])
    if grid.width == 0 or grid.height == 0:
        raise _problem(path, "empty-file", f"sheet {sheet!r} is empty",
                       hint="export the table with its header row")
    grid = grid.rename({c: f"\x00{j}" for j, c in enumerate(grid.columns)})
    if numbers:  # numbers exactly as stored, in place of calamine's rounded text
        exact = pl.DataFrame(numbers, schema={"r": pl.Int64, "c": pl.Int64, "t": pl.String},
                             orient="row").with_columns(r=pl.col("r") - r0, c=pl.col("c") - c0)
        exact = exact.filter((pl.col("r") >= 0) & (pl.col("r") < grid.height) & (pl.col("c") >= 0)
                             & (pl.col("c") < grid.width))
        for (j,), part in exact.group_by("c"):
            name = f"\x00{j}"
            grid = grid.with_columns(grid[name].cast(pl.String).scatter(part["r"], part["t"]))
    grid = grid.with_columns(pl.all().cast(pl.String).str.strip_chars(" \t\u00a0\ufeff")
                             ).with_row_index(ROW, offset=r0)
    filled = ~pl.all_horizontal(pl.exclude(ROW).is_null() | (pl.exclude(ROW) == ""))
    top = grid.filter(filled).head(HEADER_SEARCH_ROWS)
    rows = [(int(r[0]), ["" if v is None else v for v in r[1:]]) for r in top.iter_rows()]
    if header_row is not None and not any(n == header_row for n, _ in rows):
        hit = grid.filter(pl.col(ROW) == header_row)
        if hit.height:
            rows = [(header_row, ["" if v is None else v for v in hit.row(0)[1:]])]
    pick = _pick_header(rows, header_row, header_test, path, options.get("header_row"))
    header_at, headings = rows[pick]
    # an empty heading is named by its column letter, so a message can say where it is
    headings = [clean(h) if h else f"{_NO_HEADING}{_col_letters(c0 + j)})"
                for j, h in enumerate(headings)]
    _reserved(path, headings)
    dup = sorted({h for h in headings if headings.count(h) > 1})
    if dup:
        raise _problem(path, "bad-file", "duplicate column headings", row=header_at,
                       found=", ".join(dup), hint="give every column a distinct heading")
    data = grid.filter(pl.col(ROW) > header_at)
    keep = [j for j, h in enumerate(headings)
            if not h.startswith(_NO_HEADING) or data[f"\x00{j}"].drop_nulls().str.len_chars().sum()]
    for row, col, what in bad:
        j = col - c0
        if row < header_at or not 0 <= j < len(headings):
            continue
        address = f"{sheet}!{_col_letters(col)}{row}"
        log.add("bad-cell", f"cell {address} holds {what}", file=str(path), row=row,
                column=headings[j], expected="a value (open the file in Excel, let it calculate, "
                "and save; or paste the values)", found=address)
    frame = data.select(*[pl.col(f"\x00{j}").alias(headings[j]) for j in keep], ROW)
    return frame, header_at


_UNSUPPORTED = (pl.List, pl.Array, pl.Struct, pl.Binary, pl.Object, pl.Duration, pl.Time)


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _problem(path, "bad-file", f"not a readable Parquet file ({type(exc).__name__})") from None
    _reserved(path, frame.columns)
    log = ProblemLog()
    for name, dtype in frame.schema.items():
        if isinstance(dtype, _UNSUPPORTED) or dtype in _UNSUPPORTED:
            log.add("bad-file", f"column of type {dtype} cannot hold a code, name, year or value",
                    file=str(path), row=1, column=name, found=str(dtype),
                    expected="text, integer or decimal columns",
                    hint="store one value per cell (flatten lists and structs, cast durations)")
    log.raise_if_any(f"{path}: unsupported column types")
    try:
        frame = frame.with_columns(pl.all().cast(pl.String))
    except pl.exceptions.PolarsError as exc:
        raise _problem(path, "bad-file", f"a column cannot be read as text ({type(exc).__name__})") from None
    return frame.with_row_index(ROW, offset=2)


def read_table(path: str | Path, sheet: str | None = None, *, header_row: int | None = None,
               header_test: HeaderTest | None = None, problems: ProblemLog | None = None,
               options: dict[str, str | None] | None = None) -> tuple[pl.DataFrame, str]:
    """:func:`read_table_at` without the header's row number."""
    frame, delimiter, _header = read_table_at(path, sheet, header_row=header_row,
                                              header_test=header_test, problems=problems,
                                              options=options)
    return frame, delimiter


def read_table_at(path: str | Path, sheet: str | None = None, *, header_row: int | None = None,
                  header_test: HeaderTest | None = None, problems: ProblemLog | None = None,
                  options: dict[str, str | None] | None = None) -> tuple[pl.DataFrame, str, int]:
    """A table as strings with cleaned headers and a ``_row`` column; also its delimiter.

    ``_row`` is the row number the sheet or editor shows (line number for CSV, sheet row for
    XLSX even below a title row; header + 1 for Parquet). The header is ``header_row``, else the
    first of the top rows that passes ``header_test`` (title rows above it are skipped), else
    the first non-empty row. Spreadsheet cells holding errors or uncalculated formulas are
    added to ``problems`` (raised at once without it). ``options`` names the calling command's
    options (``sheet``, ``header_row``) so hints name options that exist. The delimiter is
    ``""`` for Excel and Parquet files (their numbers are typed cells). The last item is the
    header's row number (the sheet's own, or the CSV line), for problems about headings.
    """
    path = Path(path)
    options = options or {}
    if not path.is_file():
        raise _problem(path, "missing-file", "no such file", hint="check the path")
    suffix = path.suffix.lower()
    delimiter = ""
    padded = True
    log = problems if problems is not None else ProblemLog()
    if suffix in EXCEL_SUFFIXES:
        frame, header_at = _read_excel(path, sheet, header_row, header_test, log, options)
    elif suffix in PARQUET_SUFFIXES:
        frame, header_at = _read_parquet(path), 1
    else:
        frame, delimiter, header_at, padded = _read_csv(path, header_row, header_test,
                                                        options.get("header_row"))
    if problems is None:
        log.raise_if_any(f"{path}: unreadable cells")
    names = [c if c == ROW else clean(str(c)) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _problem(path, "bad-file", "duplicate column headings", row=header_at,
                       found=", ".join(dup),
                       hint="give every column a distinct heading")
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    if padded:
        frame = frame.with_columns(pl.col(pl.String).str.strip_chars(" \t\u00a0\ufeff"))
    frame = frame.with_columns(pl.col(ROW).cast(pl.Int64))
    # Rows with every cell empty are layout, not data.
    keep = frame.select(~pl.all_horizontal(pl.exclude(ROW).is_null() | (pl.exclude(ROW) == ""))
                        ).to_series()
    if not keep.all():
        frame = frame.filter(keep)
    if frame.height == 0:
        raise _problem(path, "empty-file", "the table has a header but no data rows", row=header_at,
                       hint="add data rows under the header")
    return frame, delimiter, header_at


def require_columns(frame: pl.DataFrame, path: str | Path, required: Mapping[str, tuple[str, ...]],
                    ) -> dict[str, str]:
    """Map each required role to the first present column among its accepted headings.

    Headings are compared case-insensitively. Raises with the columns found when one is missing.
    """
    lower = {c.casefold(): c for c in frame.columns if c != ROW}
    found: dict[str, str] = {}
    log = ProblemLog()
    for role, accepted in required.items():
        hit = next((lower[a.casefold()] for a in accepted if a.casefold() in lower), None)
        if hit is None:
            log.add("missing-column", f"no {role} column", file=str(path), row=1,
                    expected=" or ".join(accepted),
                    found=", ".join(c for c in frame.columns if c != ROW),
                    hint=f"add a column headed {accepted[0]!r}")
        else:
            found[role] = hit
    log.raise_if_any(f"{path}: missing columns")
    return found


#: Limits within which a number is held as written (in Float64 and the exact 38-digit sums of
#: rebasing): at most 17 significant digits (what any binary64 value needs, so the tool's own
#: outputs read back unchanged), 18 decimal places (1e-30 would sum as 0), and below 10^15.
MAX_SIGNIFICANT, MAX_PLACES, MAX_MAGNITUDE = 17, 18, 1e15

# A group before a thousands separator is 1-999 (never "0,051" or "00,051").
_GROUPED_COMMA = r"^[+-]?[1-9]\d{0,2}(,\d{3})+$"            # 1,051
_GROUPED_COMMA_DOT = r"^[+-]?[1-9]\d{0,2}(,\d{3})+\.\d+$"   # 1,051.5 (dot decimals)
_GROUPED_DOT_ONLY = r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$"         # 1.051 (1.051, or 1051 grouped)
_GROUPED_DOT = r"^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$"          # 1.051,5 (comma decimals)
# Two or more groups: a decimal has one mark, so only thousands can be meant (5,542,047).
_MULTI_COMMA = r"^[+-]?[1-9]\d{0,2}(,\d{3}){2,}$"
_MULTI_DOT = r"^[+-]?[1-9]\d{0,2}(\.\d{3}){2,}$"
_DOT_DECIMAL = r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$"
_COMMA_DECIMAL = r"^[+-]?\d*,\d+$"


#: A cell :func:`parse_numbers` reads the same under every convention: digits with at most one
#: dot, at most 15 before it (below 10^15); with at most 18 characters, at most 17 digits.
_PLAIN_NUMBER = r"^[+-]?[0-9]{1,15}(\.[0-9]+)?$"


def _plain_numbers(column: pl.Series, allow_null: bool) -> pl.Series | None:
    """:func:`parse_numbers` of a column whose every cell is empty or a plain decimal (nothing
    to report, one convention), in two vectorised passes; None for any other column."""
    if column.dtype != pl.String:
        return None
    empty = column.is_null() | (column == "")
    plain = column.str.contains(_PLAIN_NUMBER) & (column.str.len_bytes() <= 18)
    if not bool((plain.fill_null(False) | empty).all()) or (not allow_null and bool(empty.any())):
        return None
    return column.cast(pl.Float64, strict=False)


def parse_numbers(frame: pl.DataFrame, column: str, path: str | Path, delimiter: str,
                  log: ProblemLog, *, allow_null: bool = True) -> pl.Series:
    """A string column as Float64; every unparsable, ambiguous, inexact, NaN or infinite cell is
    logged with its row (vectorised: Python runs only for the bad cells).

    One column is read with ONE convention. Its dot-decimal cells (``0.25``, ``1,051.5``) and
    comma-decimal cells (``0,25``, ``1.051,5``) decide it; a column holding both is refused
    (``ambiguous-number`` on the cells of the rarer kind). With dot decimals, ``1,051`` is 1051;
    with comma decimals (accepted only when the delimiter is not a comma) ``.`` groups
    thousands, so ``1.051`` is 1051; with neither, ``1.051`` is 1.051 and ``1,051`` is an
    ``ambiguous-number``. ``1,051`` is never read as 1.051, and a group starting ``0``
    (``0,051``) never groups thousands. Two or more groups (``5,542,047``, ``5.542.047``) can
    only be thousands: read so, cell by cell (they decide nothing for other cells), and refused
    in a column whose decimals use the same mark.
    """
    plain = _plain_numbers(frame[column], allow_null)
    if plain is not None:
        return plain
    raw = frame[column].str.replace_all("\u00a0", "").str.strip_chars()

    def has(pattern: str) -> pl.Series:
        return raw.str.contains(pattern).fill_null(False)

    grouped, grouped_cd = has(_GROUPED_COMMA), has(_GROUPED_COMMA_DOT)
    multi_comma, multi_dot = has(_MULTI_COMMA), has(_MULTI_DOT)
    dot_only, grouped_dot = has(_GROUPED_DOT_ONLY), has(_GROUPED_DOT)
    dot_cells = (has(_DOT_DECIMAL) & ~dot_only) | grouped_cd
    comma_cells = (has(_COMMA_DECIMAL) & ~grouped) | grouped_dot
    n_dot, n_comma = int(dot_cells.sum()), int(comma_cells.sum())
    convention = "comma" if n_comma > n_dot else "dot" if n_dot else None
    rows = frame[ROW]
    mixed = pl.Series([False] * len(raw), dtype=pl.Boolean)
    if n_dot and n_comma:
        mixed, other = (comma_cells, dot_cells) if convention == "dot" else (dot_cells, comma_cells)
        first = int(other.arg_true()[0])
        example = f"row {int(rows[first])}: {raw[first]!r}"
        kind = "dot" if convention == "dot" else "comma"
        for i in mixed.arg_true():
            found = raw[i]
            log.add("ambiguous-number", f"the column mixes dot and comma decimals (most cells use "
                    f"{kind} decimals, e.g. {example})", file=str(path), row=int(rows[i]),
                    column=column, expected=f"{kind} decimals, as in the rest of the column",
                    found=found, hint="write every number of the column with one decimal mark "
                    "(and no thousands separators)")
    thousands = convention == "dot"
    comma_ok = convention == "comma" and delimiter != ","
    r = pl.col("r")
    # Two or more groups are thousands, cell by cell: they decide nothing for the other cells (a
    # long table's one value column holds many statistics: 1.000.000 says nothing of 1.010).
    # Grouped with the mark the column's decimals use, they contradict it: refused.
    clash = (multi_comma & (convention == "comma")) | (multi_dot & (convention == "dot"))
    for i in clash.arg_true():
        mark = "comma" if convention == "comma" else "dot"
        log.add("ambiguous-number", f"thousands grouped with a {mark}, in a column whose decimals "
                f"are {mark}s", file=str(path), row=int(rows[i]), column=column, found=raw[i],
                expected=f"{mark} decimals, as in the rest of the column",
                hint="write the number without a thousands separator")
    # Beside dot-grouped thousands and with no decimal to decide, 1.051 may be either.
    dot_ambiguous = dot_only & ~multi_dot & (convention is None and bool(multi_dot.any()))
    if dot_ambiguous.any():
        first = int(multi_dot.arg_true()[0])
        for i in dot_ambiguous.arg_true():
            found = raw[i]
            log.add("ambiguous-number", "a dot that may group thousands or mark decimals (the "
                    f"column groups thousands with dots, e.g. row {int(rows[first])}: "
                    f"{raw[first]!r})", file=str(path), row=int(rows[i]), column=column,
                    found=found, expected="1051 or 1.051 written without ambiguity",
                    hint=f"{found!r} could be {found.replace('.', '')} or {found}: write the "
                    "numbers without thousands separators")
        clash = clash | dot_ambiguous
    grouped = grouped & ~multi_comma
    text = (pl.DataFrame({"r": raw, "g": grouped, "gcd": grouped_cd, "gd": grouped_dot,
                          "do": dot_only, "m": mixed | clash, "mc": multi_comma,
                          "md": multi_dot}).select(
        pl.when(pl.col("m")).then(pl.lit(None, pl.String))
        .when(pl.col("mc")).then(r.str.replace_all(",", "", literal=True))
        .when(pl.col("md")).then(r.str.replace_all(".", "", literal=True))
        .when(pl.col("g") & pl.lit(thousands)).then(r.str.replace_all(",", "", literal=True))
        .when(pl.col("g")).then(pl.lit(None, pl.String))
        .when(pl.col("gcd")).then(r.str.replace_all(",", "", literal=True))
        .when((pl.col("gd") | pl.col("do")) & pl.lit(comma_ok))
        .then(r.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(pl.lit(comma_ok)).then(r.str.replace(",", ".", literal=True))
        .otherwise(r))).to_series()
    values = text.cast(pl.Float64, strict=False)
    empty = raw.is_null() | (raw == "")
    for i in (grouped & ~mixed if not thousands else grouped & False).arg_true():
        found = raw[i]
        log.add("ambiguous-number", "a comma that may group thousands or mark decimals",
                file=str(path), row=int(rows[i]), column=column,
                expected="1051 or 1.051 written without ambiguity", found=found,
                hint=f"{found!r} could be {found.replace(',', '')} or {found.replace(',', '.')}: "
                "write the number without a thousands separator")
    for i in (values.is_null() & ~empty & ~grouped & ~mixed & ~clash).arg_true():
        found = raw[i]
        hint = None
        if delimiter == "," and found.count(",") == 1 and found.replace(",", "").isdigit():
            hint = "comma decimal in a comma-delimited file: use dot decimals or ';' as delimiter"
        log.add("bad-number", "not a number", file=str(path), row=int(rows[i]), column=column,
                expected="a decimal number such as 0.8241", found=found, hint=hint)
    for i in (values.is_nan() | values.is_infinite()).fill_null(False).arg_true():
        log.add("not-a-number", "NaN or infinite value", file=str(path), row=int(rows[i]),
                column=column, expected="a finite number", found=raw[i])
    finite = values.is_not_null() & ~values.is_nan() & ~values.is_infinite()
    mantissa = text.str.replace(r"[eE].*$", "").str.replace_all(r"[^0-9.]", "")
    digits = mantissa.str.replace_all(".", "", literal=True).str.strip_chars_start("0") \
        .str.strip_chars_end("0").str.len_chars()
    frac = mantissa.str.extract(r"\.(\d*)$").fill_null("").str.strip_chars_end("0").str.len_chars()
    exp = text.str.extract(r"[eE]([+-]?\d+)$").cast(pl.Int64, strict=False).fill_null(0)
    places = frac.cast(pl.Int64) - exp
    too_big = finite & (values.abs() >= MAX_MAGNITUDE)
    inexact = places > MAX_PLACES
    if delimiter != "":  # typed cells (XLSX, Parquet) are binary already: only the scale counts
        inexact = inexact | (digits > MAX_SIGNIFICANT)
    inexact = finite & ~too_big & inexact
    for i in too_big.fill_null(False).arg_true():
        log.add("number-not-exact", f"too large to be held exactly (limit {MAX_MAGNITUDE:.0e})",
                file=str(path), row=int(rows[i]), column=column, found=raw[i],
                hint="rescale the indicator (e.g. thousands or millions)")
    for i in inexact.fill_null(False).arg_true():
        log.add("number-not-exact", f"more than {MAX_SIGNIFICANT} significant digits or "
                f"{MAX_PLACES} decimal places: cannot be held exactly", file=str(path),
                row=int(rows[i]), column=column, found=raw[i],
                hint="round the value, or rescale the indicator")
    if not allow_null:
        for i in empty.arg_true():
            log.add("bad-number", "empty cell", file=str(path), row=int(rows[i]), column=column,
                    expected="a number")
    return values.fill_nan(None).alias(column)


# --- writing -------------------------------------------------------------------------------------
#
# Outputs are written as a *set*: every file of a run is staged in a hidden directory beside its
# target, and only when all are complete are they renamed into place (the manifest last). A lock
# per output directory keeps two runs from interleaving their renames. A failure anywhere leaves
# the previous outputs untouched and removes the staging directory: no partial file, no temp file.

#: Output formats by suffix (the suffix alone decides; anything else is refused).
OUTPUT_SUFFIXES: dict[str, str] = {".csv": "CSV", ".xlsx": "XLSX", ".parquet": "Parquet"}
LOCK_NAME = ".mergetool.lock"
STAGING_PREFIX = ".mergetool-staging-"
#: How long a run waits for another run writing into the same directory before refusing.
LOCK_TIMEOUT = 10.0
FIXED_DATE = dt.datetime(2025, 7, 1)  # workbook creation date: the merger's, never the run's


def output_format(path: Path, option: str = "-o",
                  accepted: tuple[str, ...] = tuple(OUTPUT_SUFFIXES)) -> str:
    """The format an output's suffix selects (``.csv``, ``.xlsx``, ``.parquet``); refuses others."""
    suffix = path.suffix.lower()
    if suffix not in accepted:
        names = ", ".join(f"{s} ({OUTPUT_SUFFIXES[s]})" for s in accepted)
        raise InputError.single(Problem(
            "output-format", "the suffix decides the format, and this one names none",
            file=str(path), column=option, expected=names, found=suffix or "no suffix",
            hint=f"name the output e.g. {path.stem or 'out'}{accepted[0]}"))
    return suffix


#: How xlsxwriter's default (temporary-file) assembly stamps each part of an XLSX: modified
#: 1980-01-31 00:00 (DOS date and time) and mode -rw------- (the temporary file's), which
#: :func:`xlsx_bytes` gives the parts it assembles in memory, so the bytes stay the same.
_XLSX_PART_DATE, _XLSX_PART_TIME, _XLSX_PART_ATTR = (1 << 5) | 31, 0, 0o100600 << 16


def xlsx_bytes(fill: Callable[[Any], object]) -> bytes:
    """An XLSX as bytes: ``fill(workbook)`` adds its sheets to an ``xlsxwriter.Workbook``.

    The parts are assembled in memory (no temporary file per part, about 0.03 s on a 15-sheet
    workbook), then stamped as xlsxwriter stamps the parts it assembles on disk (see
    ``_XLSX_PART_DATE``): the same bytes as ``Workbook(path)`` writes, for the same input."""
    import xlsxwriter  # lazy: only XLSX output needs it

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    fill(wb)
    wb.close()
    data = bytearray(buffer.getvalue())
    end = data.rfind(b"PK\x05\x06")  # the end of the central directory (no archive comment)
    if end < 0:
        raise ValueError("xlsxwriter wrote no zip archive")
    count, _size, at = struct.unpack_from("<HII", data, end + 10)
    for _ in range(count):
        if data[at:at + 4] != b"PK\x01\x02":
            raise ValueError("unexpected zip central directory")
        struct.pack_into("<HH", data, at + 12, _XLSX_PART_TIME, _XLSX_PART_DATE)
        struct.pack_into("<I", data, at + 38, _XLSX_PART_ATTR)
        local = struct.unpack_from("<I", data, at + 42)[0]
        if data[local:local + 4] != b"PK\x03\x04":
            raise ValueError("unexpected zip entry")
        struct.pack_into("<HH", data, local + 10, _XLSX_PART_TIME, _XLSX_PART_DATE)
        at += 46 + sum(struct.unpack_from("<HHH", data, at + 28))
    return bytes(data)


def table_sheet(wb: Any, name: str, frame: pl.DataFrame, *, header_format: dict | None = None,
                number_formats: dict[str, str] | None = None, freeze_panes: tuple[int, int] = (1, 0),
                table_style: str = "Table Style Light 9") -> Any:
    """``frame`` as an Excel table on a new worksheet ``name`` of ``wb`` (an ``xlsxwriter.Workbook``);
    returns the worksheet.

    A null or an empty string is an empty cell (nothing is written for it). Integers show as
    plain integers (``0``, never a thousands separator); ``number_formats`` gives a column's
    format by name. Each column is as wide as its widest cell, measured as xlsxwriter's
    ``autofit`` measures one (:func:`_fit_width`). Only string, integer, float and boolean
    columns are written: any other type is refused rather than shown as some text, and so is a
    value a cell cannot hold whole (xlsxwriter would truncate a long string, and refuses NaN;
    Excel would round an integer beyond 2**53, and xlsxwriter writes a float with 16
    significant digits), and a frame a sheet cannot hold as one table: over 1,048,575 rows or
    16,384 columns, a heading empty, over 32,767 characters or equal to another but for case.
    Every refusal is a ``ValueError`` naming the sheet, and the row and column where it can."""
    from xlsxwriter.exceptions import XlsxWriterException
    from xlsxwriter.utility import xl_pixel_width

    where = f"sheet {name!r}"
    if frame.height + 1 > _XLSX_ROWS or frame.width > _XLSX_COLUMNS:
        raise ValueError(f"{where}: {frame.height:,} rows x {frame.width:,} columns do not fit a "
                         f"worksheet (at most {_XLSX_ROWS - 1:,} rows below the header and "
                         f"{_XLSX_COLUMNS:,} columns)")
    seen: dict[str, str] = {}
    for heading in frame.columns:
        if not heading or len(heading) > 32_767:
            raise ValueError(f"{where}: the heading {heading[:40]!r} cannot head an Excel table "
                             "column whole (1 to 32,767 characters)")
        twin = seen.setdefault(heading.casefold(), heading)
        if twin != heading:
            raise ValueError(f"{where}: headings {twin!r} and {heading!r} differ only in case, "
                             "which an Excel table does not allow")
    try:
        ws = wb.add_worksheet(name)
    except XlsxWriterException as exc:  # a name Excel refuses ([]:*?/\, over 31 characters)
        raise ValueError(f"{where}: not a usable worksheet name ({exc})") from None
    header = wb.add_format(header_format) if header_format else None
    formats: dict[str, Any] = {}  # one format per number format string

    def number_format(code: str) -> Any:
        if code not in formats:
            formats[code] = wb.add_format({"num_format": code})
        return formats[code]

    columns = []
    for col, series in enumerate(frame.iter_columns()):
        dtype = series.dtype
        if dtype == pl.String:
            write, fmt = ws.write_string, None
        elif dtype == pl.Boolean:
            write, fmt = ws.write_boolean, None
        elif dtype.is_integer() or dtype.is_float():
            write = ws.write_number
            code = (number_formats or {}).get(series.name, "0" if dtype.is_integer() else None)
            fmt = number_format(code) if code else None
        else:
            raise ValueError(f"sheet {name!r}, column {series.name!r}: {dtype} is not written "
                             "to a workbook (string, integer, float or boolean expected)")
        values = series.to_list()
        exact = 2**53 if dtype.is_integer() else None  # a cell's number is a float64
        distinct = set(values)
        if dtype.is_float():  # xlsxwriter writes "%.16G": a float needing 17 digits would change
            lossy = {v for v in distinct if v is not None and math.isfinite(v)
                     and float(f"{v:.16G}") != v}
            if lossy:
                row = next(i for i, v in enumerate(values, start=2) if v in lossy)
                raise ValueError(f"{where}, row {row}, column {series.name!r}: "
                                 f"{values[row - 2]!r} needs 17 significant digits, and an XLSX "
                                 "cell is written with 16 (round it, or write a CSV)")
        for row, value in enumerate(values, start=1):
            if value is None or value == "":
                continue
            if exact is not None and not -exact <= value <= exact:
                raise ValueError(f"{where}, row {row + 1}, column {series.name!r}: "
                                 f"{value} is beyond 2**53, which an XLSX cell cannot hold "
                                 "exactly")
            try:
                truncated = write(row, col, value, fmt)
            except TypeError:  # xlsxwriter's refusal of NaN and infinities
                raise ValueError(f"{where}, row {row + 1}, column {series.name!r}: "
                                 f"{value} is not finite, which an XLSX cell cannot hold") from None
            if truncated:
                raise ValueError(f"{where}, row {row + 1}, column {series.name!r}: the "
                                 "value does not fit an XLSX cell (over 32,767 characters)")
        columns.append({"header": series.name, "header_format": header, "format": fmt})
        width = max(_fit_width(distinct), xl_pixel_width(series.name) + _FILTER_BUTTON)
        ws.set_column_pixels(col, col, min(width + _CELL_PADDING, ws.max_col_width))
    ws.add_table(0, 0, max(frame.height, 1), max(frame.width - 1, 0),
                 {"columns": columns, "style": table_style, "autofilter": True})
    ws.freeze_panes(*freeze_panes)
    return ws


#: xlsxwriter's ``autofit`` pixels: a header's filter button, and the padding of every column.
_FILTER_BUTTON, _CELL_PADDING = 16, 7
#: A worksheet's rows and columns (Excel's limits, the header row included).
_XLSX_ROWS, _XLSX_COLUMNS = 1_048_576, 16_384


def _fit_width(values: set) -> int:
    """The widest of ``values`` in pixels as xlsxwriter's ``Worksheet.autofit`` measures a cell:
    a string by its characters (its widest line), a number at 7 pixels a character of its
    ``str``, a boolean as TRUE or FALSE. Measured once per distinct value: ``autofit`` measures
    every cell, which was a third of the time of the build's workbook."""
    from xlsxwriter.utility import xl_pixel_width

    widest = 0
    for v in values:
        if isinstance(v, str):
            width = max(map(xl_pixel_width, v.split("\n"))) if v else 0
        elif isinstance(v, bool):
            width = 31 if v else 36
        elif v is None:
            continue
        else:
            width = 7 * len(str(v))
        widest = max(widest, width)
    return widest


def write_frame(target: Path, frame: pl.DataFrame) -> None:
    """Write ``frame`` to ``target`` in the format its suffix names (see :func:`output_format`).

    Deterministic: an XLSX gets fixed document properties (no creation time). In an XLSX a
    decimal column (``value_exact``) is written as text, digit for digit: a cell's number is a
    float64, written with 16 significant digits, which would not hold it exactly.
    """
    suffix = output_format(target)
    if suffix == ".parquet":
        frame.write_parquet(target)
    elif suffix == ".xlsx":
        frame = frame.with_columns(pl.col(pl.Decimal).cast(pl.String))

        def fill(wb) -> None:
            wb.set_properties({"created": FIXED_DATE, "comments": "mergetool"})
            frame.write_excel(wb, autofit=True)

        # built in memory: a failing disk then fails one plain write
        target.write_bytes(xlsx_bytes(fill))
    else:
        frame.write_csv(target)


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _same_file(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _unwritable(path: Path, message: str, hint: str) -> Problem:
    return Problem("output-unwritable", message, file=str(path), hint=hint)


def _placement_problem(out: Path) -> Problem | None:
    """Why ``out`` cannot be created where it is named, if it cannot (checked before any work)."""
    if out.is_dir():
        return _unwritable(out, "the output path is a directory",
                           "name a file inside it, e.g. " + str(out / f"out{out.suffix or '.csv'}"))
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return _unwritable(out, f"the output would be under {parent}, which is a file, "
                                   "not a directory", "choose an output path in a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                return _unwritable(out, f"the directory {parent} is not writable",
                                   "choose an output path in a writable directory")
            break
    return None


def _check_one(out: Path, inputs: list[Path], force: bool, recorded: Collection[str] | None,
               log: ProblemLog) -> None:
    hit = next((p for p in inputs if p.exists() and _same_file(out, p)), None)
    if hit is not None:
        log.add("output-is-input", f"the output would overwrite an input ({hit})", file=str(out),
                hint="choose another output path")
        return
    problem = _placement_problem(out)
    if problem is not None:
        log.extend([problem])
    elif out.exists() and not force:
        if recorded is None:
            log.add("output-exists", "the file exists and no manifest beside it says mergetool "
                    "wrote it: it is not replaced", file=str(out),
                    hint="pass --force to replace it, or choose another path")
        elif not out.is_file() or sha256_file(out) not in recorded:
            log.add("output-exists", "the file was changed since mergetool wrote it "
                    "(its hash differs from the manifest's)", file=str(out),
                    hint="pass --force to replace it, or choose another path")


def check_outputs(outputs: list[Path], inputs: list[Path], force: bool,
                  owned: Mapping[str, Collection[str]] | None = None,
                  labels: list[str] | None = None) -> None:
    """Refuse outputs that cannot be written, that overwrite each other or an input, or that
    would replace an existing file mergetool did not write (without ``force``).

    ``owned`` maps real paths to the SHA-256s manifests recorded for them: such a file, if it
    still has that hash, is a previous run's output and may be rebuilt in place. ``labels`` names
    outputs in messages (``-o``, ``--audit``, ``the manifest``).
    """
    log = ProblemLog()
    names = labels or [str(p) for p in outputs]
    seen: dict[str, str] = {}
    for out, label in zip(outputs, names, strict=True):
        real = _real(out)
        if real in seen:
            first, second = seen[real], label
            log.add("output-clash", f"two outputs would overwrite each other: {first} and {second} "
                    f"are the same file", file=str(out), hint="give every output its own path")
            continue
        seen[real] = label
        try:
            _check_one(out, inputs, force, (owned or {}).get(real), log)
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a dead NFS mount...
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            log.add("output-unwritable", f"the output path cannot be used: {reason}",
                    file=str(out)[:200], hint="choose a shorter or simpler output path")
    log.raise_if_any("refusing to write outputs")


class _DirLock:
    """An exclusive lock on one output directory (``.mergetool.lock``), removed on release.

    POSIX ``flock``: the kernel releases it when the process dies, so a killed run never leaves
    a stale lock. After locking, the file must still be the one at the path (a releasing run
    unlinks it), otherwise the lock is taken again.
    """

    def __init__(self, directory: Path, timeout: float) -> None:
        self.path = directory / LOCK_NAME
        self.timeout = timeout
        self.fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if _try_lock(fd):
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                    self.fd = fd
                    return
            os.close(fd)
            if time.monotonic() >= deadline:
                raise InputError.single(Problem(
                    "output-locked", f"another mergetool run is writing to {self.path.parent} "
                    f"(waited {self.timeout:g} s for {self.path})", file=str(self.path.parent),
                    hint="wait for it to finish and run again, or choose another output directory"))
            time.sleep(0.05)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self.fd)
            self.fd = None


def _try_lock(fd: int) -> bool:
    try:
        import fcntl  # POSIX; Windows has msvcrt below
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # stubs: win32 only
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:  # a file system without locks (some network mounts): write unlocked
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return True
        raise


_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
    errno.EACCES: "the directory is not writable: choose another output path",
    errno.EPERM: "the directory is not writable: choose another output path",
    errno.EROFS: "the file system is read-only: choose another output path",
    errno.EISDIR: "the output path is a directory: name a file",
    errno.ENOTDIR: "a parent of the output path is a file: choose a path in a directory",
}


def io_failure(exc: BaseException | None) -> OSError | None:
    """The operating-system error behind a failed write, if that is what it was.

    Writers report it in their own ways: ``OSError`` (with or without ``errno``), xlsxwriter's
    ``FileCreateError`` wrapping one, polars' ``ComputeError`` saying ``(os error 28)``.
    """

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno:
            return exc
        match = re.search(r"\(os error (\d+)\)", str(exc))
        if match and isinstance(exc, (OSError, pl.exceptions.PolarsError)):
            code = int(match.group(1))
            return OSError(code, os.strerror(code))
        if isinstance(exc, OSError):
            return exc
        wrapped = next((a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)), None)
        exc = exc.__cause__ or wrapped or exc.__context__
    return None


class OutputSet:
    """Stage every output of one run, then rename them into place together (manifest last).

    Use as a context manager; :meth:`stage` gives the temporary path to write a target to.
    Outputs an earlier run's manifest listed (``stale``) that this run does not write, and that
    are unchanged since, are removed on commit, so a directory never holds two runs' files.
    """

    def __init__(self, targets: list[Path], *, stale: list[Path] | None = None,
                 lock_timeout: float | None = None) -> None:
        self.targets = [Path(t) for t in targets]
        if len({_real(t) for t in self.targets}) != len(self.targets):
            raise InputError.single(Problem("output-clash", "two outputs of one run are the same "
                                            "file", found=", ".join(map(str, self.targets)),
                                            hint="give every output its own path"))
        self.stale = stale or []
        self.lock_timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        self._staging: dict[Path, Path] = {}
        self._locks: list[_DirLock] = []
        self._created: list[Path] = []
        self._current: Path | None = None

    def __enter__(self) -> OutputSet:
        try:
            for directory in sorted({self._dir(t) for t in self.targets}):
                self._make_dir(directory)
                lock = _DirLock(directory, self.lock_timeout)
                lock.acquire()
                self._locks.append(lock)
                for leftover in directory.glob(STAGING_PREFIX + "*"):  # from a killed run
                    shutil.rmtree(leftover, ignore_errors=True)
                self._staging[directory] = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
        except OSError as exc:
            self._abort()
            raise self._error(exc, self._current or self.targets[0]) from None
        except BaseException:
            self._abort()
            raise
        return self

    @staticmethod
    def _dir(target: Path) -> Path:
        return Path(os.path.realpath(target.parent))

    def _make_dir(self, directory: Path) -> None:
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        for d in reversed(missing):
            self._current = d
            d.mkdir()
            self._created.append(d)

    def stage(self, target: Path) -> Path:
        """The staging path for ``target`` (one of the set's targets)."""
        target = Path(target)
        self._current = target
        return self._staging[self._dir(target)] / target.name

    def _error(self, exc: OSError, target: Path) -> InputError:
        exc = io_failure(exc) or exc
        reason = exc.strerror or str(exc)
        hint = _ERRNO_HINTS.get(exc.errno or 0, "check the output path and the disk")
        return InputError.single(Problem("output-unwritable", f"cannot write {target}: {reason}",
                                         file=str(target), hint=hint))

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self._commit()
            elif (io := io_failure(exc)) is not None:
                raise self._error(io, self._current or self.targets[0]) from None
        finally:
            self._abort(keep_dirs=kind is None)

    def _commit(self) -> None:
        for target in self.targets:
            staged = self.stage(target)
            if not staged.exists():
                raise RuntimeError(f"output {target} was not written")  # a bug, not an input
        try:
            for target in self.targets:
                staged = self.stage(target)
                os.chmod(staged, 0o644)
                os.replace(staged, target)
            for old in self.stale:
                old.unlink(missing_ok=True)
        except OSError as exc:
            raise self._error(exc, self._current or self.targets[0]) from None

    def _abort(self, keep_dirs: bool = False) -> None:
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()
        if not keep_dirs:
            for d in reversed(self._created):
                with contextlib.suppress(OSError):
                    d.rmdir()
        self._created.clear()


@contextlib.contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    with OutputSet([target]) as outputs:
        yield outputs.stage(target)


def write_atomic(target: str | Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``target``."""
    with _atomic_path(Path(target)) as tmp:
        write(tmp)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_atomic(target, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))


def write_csv_atomic(target: str | Path, frame: pl.DataFrame) -> None:
    write_atomic(target, lambda p: frame.write_csv(p))
