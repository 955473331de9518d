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
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from mergetool.errors import InputError, Problem, ProblemLog
from mergetool.names import clean

ROW = "_row"
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problem(path: Path, code: str, message: str, **kw: object) -> InputError:
    return InputError.single(Problem(code, message, file=str(path), **kw))  # type: ignore[arg-type]


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


def _read_csv(path: Path) -> tuple[pl.DataFrame, str]:
    text = decode_text(path.read_bytes(), path).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not text.strip():
        raise _problem(path, "empty-file", "the file is empty", hint="export the table with its header row")
    delimiter = sniff_delimiter(lines[0])
    _check_shape(path, text, delimiter)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")), separator=delimiter, infer_schema=False,
            truncate_ragged_lines=False, raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        raise _problem(path, "bad-file", "the file cannot be parsed as a delimited table") from None
    # Polars counts a quoted multi-line record as one row; row numbers here assume one line per row,
    # which holds for every table this tool reads (names and numbers carry no line breaks).
    return frame, delimiter


def _check_shape(path: Path, text: str, delimiter: str) -> None:
    """Every row has as many fields as the header, and the headings are distinct."""
    import csv

    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise _problem(path, "bad-file", f"not a delimited table ({exc})") from None
    if not rows:
        raise _problem(path, "empty-file", "the file is empty")
    headings = [clean(h) for h in rows[0]]
    dup = sorted({h for h in headings if headings.count(h) > 1})
    if dup:
        raise _problem(path, "bad-file", "duplicate column headings", row=1, found=", ".join(dup),
                       hint="give every column a distinct heading")
    width = len(rows[0])
    log = ProblemLog()
    for n, row in enumerate(rows[1:], start=2):
        if row and len(row) != width and any(cell.strip() for cell in row):
            hint = None
            if delimiter == "," and len(row) > width:
                hint = ("values look like comma decimals in a comma-delimited file: save with ';' "
                        "as delimiter, or quote the values, or use dot decimals")
            log.add("ambiguous-delimiter" if hint else "bad-file",
                    f"row has {len(row)} fields but the header has {width}", file=str(path),
                    row=n, expected=f"{width} fields", found=delimiter.join(row)[:60], hint=hint)
    log.raise_if_any(f"{path}: cannot read the table")


def _read_excel(path: Path, sheet: str | None) -> pl.DataFrame:
    try:
        import fastexcel

        reader = fastexcel.read_excel(str(path))
        sheets = list(reader.sheet_names)
    except Exception as exc:
        raise _problem(path, "bad-file", f"not a readable Excel workbook ({type(exc).__name__})",
                       hint="open it in Excel and save as .xlsx") from None
    if sheet is None:
        if len(sheets) > 1:
            raise _problem(path, "ambiguous-sheet", f"the workbook has {len(sheets)} sheets",
                           expected="one sheet, or --sheet NAME", found=", ".join(sheets),
                           hint=f"choose one, e.g. --sheet {sheets[0]!r}")
        sheet = sheets[0]
    elif sheet not in sheets:
        raise _problem(path, "unknown-sheet", f"no sheet named {sheet!r}",
                       found=", ".join(sheets), hint="choose one of the sheets listed")
    try:
        return pl.read_excel(path, sheet_name=sheet, infer_schema_length=0, drop_empty_rows=False,
                             raise_if_empty=False)
    except Exception as exc:
        raise _problem(path, "bad-file", f"sheet {sheet!r} cannot be read ({type(exc).__name__})") from None


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise _problem(path, "bad-file", f"not a readable Parquet file ({type(exc).__name__})") from None
    return frame.with_columns(pl.all().cast(pl.String))


def read_table(path: str | Path, sheet: str | None = None) -> tuple[pl.DataFrame, str]:
    """A table as strings with cleaned headers and a ``_row`` column; also its delimiter.

    The delimiter is ``""`` for Excel and Parquet files (their numbers are typed cells).
    """
    path = Path(path)
    if not path.is_file():
        raise _problem(path, "missing-file", "no such file", hint="check the path")
    suffix = path.suffix.lower()
    delimiter = ""
    if suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, sheet)
    elif suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        frame, delimiter = _read_csv(path)
    names = [clean(str(c)) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _problem(path, "bad-file", "duplicate column headings", row=1, found=", ".join(dup),
                       hint="give every column a distinct heading")
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    frame = frame.with_columns(pl.col(pl.String).str.strip_chars(" \t\u00a0\ufeff"))
    # Rows with every cell empty are layout, not data.
    frame = frame.with_row_index(ROW, offset=2).filter(
        ~pl.all_horizontal(pl.exclude(ROW).is_null() | (pl.exclude(ROW) == ""))
    )
    if frame.height == 0:
        raise _problem(path, "empty-file", "the table has a header but no data rows", row=1,
                       hint="add data rows under the header")
    return frame, delimiter


def require_columns(frame: pl.DataFrame, path: str | Path, required: dict[str, tuple[str, ...]],
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


def parse_numbers(frame: pl.DataFrame, column: str, path: str | Path, delimiter: str,
                  log: ProblemLog, *, allow_null: bool = True) -> pl.Series:
    """A string column as Float64; every unparsable, NaN or infinite cell is logged with its row.

    Comma decimals (``0,8241``) are accepted when the file's delimiter is not a comma.
    """
    raw = frame[column].str.replace_all("\u00a0", "").str.strip_chars()
    text = raw.str.replace(",", ".", literal=True) if delimiter != "," else raw
    values = text.cast(pl.Float64, strict=False)
    rows = frame[ROW]
    for i in (values.is_null() & raw.is_not_null() & (raw != "")).arg_true():
        found = raw[i]
        hint = None
        if delimiter == "," and found.count(",") == 1 and found.replace(",", "").isdigit():
            hint = "comma decimal in a comma-delimited file: use dot decimals or ';' as delimiter"
        log.add("bad-number", "not a number", file=str(path), row=int(rows[i]), column=column,
                expected="a decimal number such as 0.8241", found=found, hint=hint)
    for i in values.is_not_null().arg_true():
        v = values[i]
        if math.isnan(v) or math.isinf(v):
            log.add("not-a-number", "NaN or infinite value", file=str(path), row=int(rows[i]),
                    column=column, expected="a finite number", found=raw[i])
    if not allow_null:
        for i in (raw.is_null() | (raw == "")).arg_true():
            log.add("bad-number", "empty cell", file=str(path), row=int(rows[i]), column=column,
                    expected="a number")
    return values.fill_nan(None)


# --- writing -------------------------------------------------------------------------------------

def check_outputs(outputs: list[Path], inputs: list[Path], force: bool) -> None:
    """Refuse to overwrite an input, or an existing output without ``force``."""
    log = ProblemLog()
    resolved_inputs = {p.resolve() for p in inputs}
    for out in outputs:
        if out.resolve() in resolved_inputs:
            log.add("output-is-input", "an output would overwrite an input", file=str(out),
                    hint="choose another output path")
        elif out.exists() and not force:
            log.add("output-exists", "output exists", file=str(out),
                    hint="pass --force to replace it, or choose another path")
    log.raise_if_any("refusing to write outputs")


@contextlib.contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_atomic(target: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``target``."""
    with _atomic_path(Path(target)) as tmp:
        write(tmp)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_atomic(target, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))


def write_csv_atomic(target: str | Path, frame: pl.DataFrame) -> None:
    write_atomic(target, lambda p: frame.write_csv(p))
