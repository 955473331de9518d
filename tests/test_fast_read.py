"""The fast reading paths (CSV split over bytes, plain decimal columns) give exactly what the
general paths give: the same frame, or the same problems."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.errors import InputError, ProblemLog
from mergetool.io import tables


def _read(path: Path, fast: bool) -> object:
    with pytest.MonkeyPatch.context() as m:
        if not fast:
            m.setattr(tables, "_read_csv_fast", lambda *a: None)
            m.setattr(tables, "_plain_numbers", lambda *a: None)
        try:
            frame, delimiter, header = tables.read_table_at(path)
        except InputError as exc:
            return [p.__dict__ for p in exc.problems]
        log = ProblemLog()
        parsed = [tables.parse_numbers(frame, c, path, delimiter, log).to_list()
                  for c in frame.columns if c != tables.ROW]
        return frame.to_dicts(), delimiter, header, parsed, [p.__dict__ for p in log.problems]


_cell = st.sampled_from(["", " ", "1", "0.25", "-3.5", "1,5", "1.051", "x", "Hà Nội", "\u00a0",
                         "12345678901234567890", "1e5", "nan", "7."])


@st.composite
def _tables(draw: st.DrawFn) -> list[list[str]]:
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_cell, min_size=width, max_size=width), min_size=1, max_size=12))
    if draw(st.booleans()) and width > 1:  # sometimes a ragged or blank line
        rows.insert(draw(st.integers(0, len(rows))), draw(st.sampled_from([[], ["1"], [" "]])))
    return rows


@settings(max_examples=200, deadline=None)
@given(rows=_tables(), sep=st.sampled_from([",", ";", "\t"]), trailing=st.booleans(),
       bom=st.booleans())
def test_fast_csv_equals_general(tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]],
                                 sep: str, trailing: bool, bom: bool) -> None:
    width = max(len(r) for r in rows)
    header = sep.join(f"c{i}" for i in range(width))
    text = "\n".join([header, *(sep.join(r) for r in rows)]) + ("\n" if trailing else "")
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert _read(path, True) == _read(path, False)


_quoted_cell = st.sampled_from(['"a,b"', '"x ""y"""', '""', '"Hà Nội, 01"', ' "q"', '"q" ',
                                'ab"c', '"open', 'close"', '"two\nlines"', '"a;b\tc"', '"""',
                                '"Tuyên" "Quang"', '"x"y', '"x"y""'])


@st.composite
def _quoted_tables(draw: st.DrawFn) -> list[list[str]]:
    rows = draw(_tables())
    for _ in range(draw(st.integers(1, 4))):  # a few cells become quoted (or broken) fields
        row = draw(st.sampled_from(rows))
        if row:
            row[draw(st.integers(0, len(row) - 1))] = draw(_quoted_cell)
    return rows


@settings(max_examples=300, deadline=None)
@given(rows=_quoted_tables(), sep=st.sampled_from([",", ";", "\t"]), trailing=st.booleans())
def test_fast_csv_with_quotes_equals_general(tmp_path_factory: pytest.TempPathFactory,
                                             rows: list[list[str]], sep: str,
                                             trailing: bool) -> None:
    """Quoted fields (with delimiters, doubled quotes, line ends inside) and broken quotes: the
    fast path reads what the general one reads, or leaves the file to it."""
    width = max(len(r) for r in rows)
    header = sep.join(f"c{i}" for i in range(width))
    text = "\n".join([header, *(sep.join(r) for r in rows)]) + ("\n" if trailing else "")
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    assert _read(path, True) == _read(path, False)


@settings(max_examples=300, deadline=None)
@given(rows=_quoted_tables(), sep=st.sampled_from([",", ";", "\t"]), extra=_quoted_cell)
def test_a_line_reads_the_same_whatever_the_other_lines(
        tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], sep: str,
        extra: str) -> None:
    """One more line (well or badly quoted) never changes how the other lines read: it is read
    alongside them, or it alone is refused. (Polars' reader and the csv module split malformed
    quoting differently; which one read a line once depended on the rest of the file.)"""
    width = max(len(r) for r in rows)
    header = sep.join(f"c{i}" for i in range(width))
    lines = [header, *(sep.join(r) for r in rows)]
    d = tmp_path_factory.mktemp("csv")
    (d / "a.csv").write_bytes("\n".join(lines).encode("utf-8"))
    (d / "b.csv").write_bytes("\n".join([*lines, sep.join([extra] * width)]).encode("utf-8"))
    a, b = _read(d / "a.csv", True), _read(d / "b.csv", True)
    if isinstance(a, tuple) and isinstance(b, tuple):
        assert b[0][: len(a[0])] == a[0]
    elif isinstance(a, tuple):  # only the new line(s) (the file's last) may be what is wrong
        assert min(p["row"] for p in b) > len(lines), b
    elif isinstance(b, tuple):  # a file of blank rows only gains its first row
        assert {p["code"] for p in a} == {"empty-file"}, a


def test_fast_csv_is_taken_for_the_shipped_quoted_mapping_files() -> None:
    """The shipped unit lists quote a note holding commas: they need not take the general path."""
    from mergetool.core.mapping import shipped_mappings_dir

    root = shipped_mappings_dir()
    quoted = [f for f in sorted(root.rglob("*.csv")) if b'"' in f.read_bytes()]
    assert len(quoted) >= 3
    for path in quoted:
        assert tables._read_csv_fast(path.read_bytes(), path, None, None, None) is not None, path
        assert _read(path, True) == _read(path, False)


def test_fast_csv_is_taken_for_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("year,unit,value\n2020,01,0.5\n\n2021,02,0.25\n", encoding="utf-8")
    fast = tables._read_csv_fast(path.read_bytes(), path, None, None, None)
    assert fast is not None
    frame, delimiter, header, padded = fast
    assert (delimiter, header, padded) == (",", 1, False)
    assert frame.filter(pl.col("unit") != "")[tables.ROW].to_list() == [2, 4]
    path.write_text("year,unit,value\n2020, 01 ,0.5\n", encoding="utf-8")
    frame, _delimiter, _header = tables.read_table_at(path)
    assert frame["unit"].to_list() == ["01"]


@pytest.mark.parametrize("body", [b"5,\xff\n", b"5,\xed\xa0\x80\n", b"5,\xc3"])
def test_fast_csv_refuses_bad_utf8_as_the_general_path(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n" + b"3,4\n" * 20000 + body)
    assert tables._read_csv_fast(path.read_bytes(), path, None, None, None) is None
    with pytest.raises(InputError) as exc:
        tables.read_table_at(path)
    assert exc.value.problems[0].code == "bad-file"
    assert exc.value.problems[0].row == 20002
