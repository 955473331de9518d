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
import datetime as dt
import errno
import hashlib
import io
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
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


def write_frame(target: Path, frame: pl.DataFrame) -> None:
    """Write ``frame`` to ``target`` in the format its suffix names (see :func:`output_format`).

    Deterministic: an XLSX gets fixed document properties (no creation time).
    """
    suffix = output_format(target)
    if suffix == ".parquet":
        frame.write_parquet(target)
    elif suffix == ".xlsx":
        import xlsxwriter

        buffer = io.BytesIO()  # built in memory: a failing disk then fails one plain write
        wb = xlsxwriter.Workbook(buffer)
        wb.set_properties({"created": FIXED_DATE, "comments": "mergetool"})
        frame.write_excel(wb, autofit=True)
        wb.close()
        target.write_bytes(buffer.getvalue())
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
        import time

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
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
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
    import re

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

    def __exit__(self, kind, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        try:
            if kind is None:
                self._commit()
            elif (io := io_failure(exc)) is not None:
                raise self._error(io, self._current or self.targets[0]) from None
        finally:
            self._abort(keep_dirs=kind is None)
        return False

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


def write_atomic(target: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``target``."""
    with _atomic_path(Path(target)) as tmp:
        write(tmp)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_atomic(target, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))


def write_csv_atomic(target: str | Path, frame: pl.DataFrame) -> None:
    write_atomic(target, lambda p: frame.write_csv(p))
