"""Case files of the bad-input corpus that are clearer as code than as committed bytes.

``write_corpus(dir)`` writes every file that ``cases*.csv`` names as ``{g}/...``: workbooks with
error cells and uncalculated formulas (built with xlsxwriter), Parquet files with nested or binary
columns, mapping directories that are wrong in one way each, and small CSV tables derived from the
shipped unit lists. Everything is synthetic test data, generated, never shipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings" / "vn-2025"


def _units(basis: str) -> list[tuple[str, str]]:
    with (MAPPINGS / "bases" / f"{basis}.csv").open(encoding="utf-8") as fh:
        return [(r["code"], r["name_vi"]) for r in csv.DictReader(fh)]


OLD, NEW = _units("vn-province-2024"), _units("vn-province-2025")


def _value(i: int) -> str:
    return f"0.{5000 + 37 * i:04d}"


def _table(header: str, rows: list[str]) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


def _wide(units: list[tuple[str, str]], *, year: int | None = 2024, cols: str = "code,name",
          sep: str = ",") -> list[str]:
    out = []
    for i, (code, name) in enumerate(units):
        cells = {"code": code, "name": name, "unit": name}
        row = ([str(year)] if year is not None else []) + [cells[c] for c in cols.split(",")]
        out.append(sep.join([*row, _value(i)]))
    return out


TEXT: dict[str, str] = {}
BUILDERS: dict[str, Callable[[Path], None]] = {}


def text(name: str, content: str) -> None:
    TEXT[name] = content


def builder(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        BUILDERS[name] = fn
        return fn
    return register


# --- 1. code and name disagree -----------------------------------------------------------------
_swap = [(c, n) for c, n in OLD]
_i, _j = [c for c, _ in OLD].index("48"), [c for c, _ in OLD].index("49")
_swap[_i], _swap[_j] = ("48", "Quảng Nam"), ("49", "Đà Nẵng")
text("c1_swapped_codes_63.csv", _table("year,code,name,dti", _wide(_swap)))
text("c1_swapped_codes_small.csv", "year,code,name,dti\n2024,48,Quảng Nam,0.5803\n"
     "2024,49,Đà Nẵng,0.8335\n")
_trap = [(c, "Lào Cai" if c == "15" else n) for c, n in OLD]
text("c1_trap_lao_cai_63.csv", _table("year,code,name,dti", _wide(_trap)))
text("c1_trap_small.csv", "year,code,name,dti\n2024,15,Lào Cai,0.61\n2024,01,Hà Nội,0.8\n"
     "2024,02,Hà Giang,0.5\n")
_new_names = dict(NEW)
_all_traps = [(c, _new_names.get(c, n)) for c, n in OLD]
text("c1_all_traps_63.csv", _table("year,code,name,dti", _wide(_all_traps)))
text("c1_long_mismatch.csv", "year,code,province,indicator,value\n2024,01,Hà Nội,dti,0.8\n"
     "2024,20,Sơn La,dti,0.6\n2024,14,Sơn La,dti,0.5\n")
text("c1_name_unknown_code_known.csv", "year,code,name,dti\n2024,01,Hà Nội,0.8\n"
     "2024,02,Hà Giag Xyz,0.5\n2024,44,Quảng Trị,0.6\n")
text("c1_mismatch_34.csv", _table("year,code,name,dti",
                                  _wide([(c, "Quảng Ngãi" if c == "48" else n) for c, n in NEW])))
text("c1_weights_mismatch.csv", "code,name,weight\n" + "".join(
    f"{c},{'Quảng Nam' if c == '48' else 'Đà Nẵng' if c == '49' else n},{100 + i}\n"
    for i, (c, n) in enumerate(OLD)))
text("c1_valid_63.csv", _table("year,code,name,dti", _wide(OLD)))
text("c1_pub_34_trap.csv", _table("year,code,name,dti", _wide(
    [(c, "Yên Bái" if c == "15" else n) for c, n in NEW])))


@builder("c1_mismatch.parquet")
def _c1_parquet(p: Path) -> None:
    pl.DataFrame({"year": [2024, 2024], "code": ["48", "49"], "name": ["Quảng Nam", "Đà Nẵng"],
                  "dti": [0.58, 0.83]}).write_parquet(p)


@builder("c1_mismatch.xlsx")
def _c1_xlsx(p: Path) -> None:
    pl.DataFrame({"year": [2024, 2024], "code": ["48", "49"], "name": ["Quảng Nam", "Đà Nẵng"],
                  "dti": [0.58, 0.83]}).write_excel(p)


# --- 2. basis guessed wrong --------------------------------------------------------------------
_old_names = {n for _, n in OLD}
text("c2_years_on_two_bases.csv", _table("year,unit,dti", _wide(OLD, year=2023, cols="unit")
                                         + _wide(NEW, year=2024, cols="unit")))
_stray = [(c, "Quảng Nam" if c == "48" else n) for c, n in NEW]
text("c2_34_with_stray_old_name.csv", _table("year,unit,dti", _wide(_stray, cols="unit")))
text("c2_34_plus_stray_old_name.csv", _table("year,unit,dti", _wide(
    [*NEW, ("49", "Quảng Nam")], cols="unit")))
text("c2_codes_34_complete.csv", _table("year,code,dti", _wide(NEW, cols="code")))
text("c2_codes_subset.csv", "year,code,dti\n2024,01,0.8\n2024,48,0.7\n2024,79,0.75\n")
text("c2_codes_retired_on_34.csv", "year,code,dti\n2024,01,0.8\n2024,10,0.6\n2024,49,0.5\n")
text("c2_old_name_on_34.csv", "year,unit,dti\n2024,Hà Nội,0.8\n2024,Quảng Nam,0.5\n")
text("c2_basis_column_per_year.csv", "year,unit,basis,dti\n2023,Hà Nội,vn-province-2024,0.7\n"
     "2024,Hà Nội,vn-province-2025,0.8\n")
text("c2_basis_column_unknown.csv", "year,unit,basis,dti\n2024,Hà Nội,vn-2030,0.8\n")
text("c2_predecessors_codes.csv", _table("year,code,dti", _wide(NEW, cols="code")))
text("dti_2024_34.csv", _table("unit,dti", _wide(NEW, year=None, cols="unit")))

# --- 3. columns dropped ------------------------------------------------------------------------
text("c3_total_without_pdti.csv", _table("year,unit,CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH",
                                         _wide(NEW, cols="unit")))
text("c3_total_with_chi_so.csv", _table("year,unit,Chỉ số Chuyển đổi số cấp tỉnh (PDTI)",
                                        _wide(NEW, cols="unit")))
text("c3_unknown_heading.csv", "year,unit,dti,Chỉ số ABC\n2024,Hà Nội,0.8,0.5\n")
text("c3_typo_heading.csv", "year,unit,dti,Nhan thuc soo\n2024,Hà Nội,0.8,0.5\n")
text("c3_unknown_label.csv", "year,unit,indicator,value\n2024,Hà Nội,dti,0.8\n"
     "2024,Hà Nội,dtii,0.5\n2024,Huế,dtii,0.4\n")
text("c3_own_statistic.csv", "year,unit,indicator,value\n2024,Hà Nội,poverty_rate,0.012\n"
     "2024,Huế,poverty_rate,0.02\n")
text("c3_long_extra_column.csv", "year,unit,indicator,value,weight\n2024,Hà Nội,dti,0.8,3\n")
text("c3_all_empty_values.csv", "year,unit,dti,awareness\n2024,Hà Nội,,\n2024,Huế,,\n")
text("c3_descriptive_columns.csv", _table("stt,year,code,name,name_en,dti,notes,source_url",
                                          [f"{i + 1},2024,{c},{n},x,{_value(i)},,https://x"
                                           for i, (c, n) in enumerate(NEW)]))
text("c3_indicator_rank_column.csv", "year,unit,awareness,awareness_rank\n2024,Hà Nội,0.9,1\n"
     "2024,Huế,0.8,2\n")
text("c3_rank_column_unknown.csv", "year,unit,dti,foo_rank\n2024,Hà Nội,0.8,1\n")
text("c3_two_unknown_headings.csv", "year,unit,score,points\n2024,Hà Nội,0.8,80\n")
text("c3_long_label_vietnamese.csv", "year,unit,indicator,value\n2024,Hà Nội,Nhận thức số,0.9\n")
text("c3_long_empty_values.csv", "year,unit,indicator,value\n2024,Hà Nội,dti,\n")

# --- 4. options that do nothing ----------------------------------------------------------------
text("c4_valid_34.csv", _table("year,unit,dti,awareness", [
    f"2024,{n},{_value(i)},{_value(i + 1)}" for i, (_c, n) in enumerate(NEW)]))
text("c4_weights_63.csv", "code,weight\n" + "".join(f"{c},{100 + i}\n" for i, (c, _n) in
                                                     enumerate(OLD)))
text("c4_valid_63_two.csv", _table("year,code,dti,awareness", [
    f"2024,{c},{_value(i)},{_value(i + 2)}" for i, (c, _n) in enumerate(OLD)]))

# --- 6. spreadsheets as ministries send them ---------------------------------------------------


def _sheet(p: Path, fill: Callable[[object], None], name: str = "Sheet1") -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(p))
    ws = wb.add_worksheet(name)
    fill(ws)
    wb.close()


def _rows(ws: object, first: int, col: int, header: list[str], rows: list[list[object]]) -> None:
    ws.write_row(first, col, header)  # type: ignore[attr-defined]
    for k, r in enumerate(rows, start=1):
        ws.write_row(first + k, col, r)  # type: ignore[attr-defined]


@builder("c6_formula_no_cache.xlsx")
def _c6_formula(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241], [2024, "Huế", None]])
        ws.write_formula(2, 2, "=C2*0.9", None, "")
    _sheet(p, fill)


@builder("c6_formula_placeholder.xlsx")
def _c6_placeholder(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241], [2024, "Huế", None]])
        ws.write_formula(2, 2, "=C2*0.9")  # xlsxwriter writes 0 and asks Excel to recalculate
    _sheet(p, fill)


@builder("c6_wrong_header_row.xlsx")
def _wrong_header_row(p: Path) -> None:
    def fill(ws: object) -> None:
        ws.write(0, 0, "Title")  # type: ignore[attr-defined]
        _rows(ws, 2, 0, ["code", "dti"], [["48", 0.5], ["4x", 0.5]])

    _sheet(p, fill)


text("c6_wrong_header_row.csv", "Title\n\ncode,dti\n48,0.5\n4x,0.5\n")


@builder("c6_na_error.xlsx")
def _c6_na(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241], [2024, "Huế", None],
                                                  [2024, "Cao Bằng", 0.5], [2024, "Sơn La", None]])
        ws.write_formula(2, 2, "=NA()", None, "#N/A")
        ws.write_formula(4, 2, "=1/0", None, "#DIV/0!")
    _sheet(p, fill)


@builder("c6_div0_error.xlsx")
def _c6_div0(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241], [2024, "Huế", None]])
        ws.write_formula(2, 2, "=1/0", None, "#DIV/0!")
    _sheet(p, fill, "DTI")


@builder("c6_title_row.xlsx")
def _c6_title(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        ws.write(0, 0, "BẢNG XẾP HẠNG CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH NĂM 2024")
        _rows(ws, 2, 0, ["year", "unit", "dti"], [[2024, n, float(_value(i))]
                                                  for i, (_c, n) in enumerate(NEW)])
    _sheet(p, fill)


@builder("c6_title_row_bad_value.xlsx")
def _c6_title_bad(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        ws.write(0, 0, "BẢNG XẾP HẠNG 2024")
        ws.write(1, 0, "Nguồn: Bộ KH&CN")
        _rows(ws, 3, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8], [2024, "Huế", "n/a"]])
    _sheet(p, fill)


@builder("c6_offset_table.xlsx")
def _c6_offset(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 4, 2, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8], [2024, "Huế", 1.7]])
    _sheet(p, fill)


@builder("c6_offset_error.xlsx")
def _c6_offset_err(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 4, 2, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8], [2024, "Huế", None]])
        ws.write_formula(6, 4, "=NA()", None, "#N/A")
    _sheet(p, fill)


@builder("c6_header_row_3.xlsx")
def _c6_header3(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        ws.write_row(0, 0, ["Tỉnh", "ghi chú"])  # looks like a header, is not
        _rows(ws, 2, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241]])
    _sheet(p, fill)


@builder("c6_two_sheets.xlsx")
def _c6_two(p: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(p))
    for name in ("DTI 2024", "Ghi chú"):
        ws = wb.add_worksheet(name)
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", 0.8241]])
    wb.close()


@builder("c6_ministry_layout.xlsx")
def _c6_ministry(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        ws.write(0, 0, "KẾT QUẢ ĐÁNH GIÁ CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH NĂM 2024")
        _rows(ws, 2, 0, ["Xếp hạng", "Tỉnh, thành phố", "Chỉ số Nhận thức số",
                         "CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH"],
              [[i + 1, n, 0.9, float(_value(i))] for i, (_c, n) in enumerate(NEW)])
        ws.write_formula(4, 3, "=D4", None, "")
    _sheet(p, fill)


text("c6_csv_title_row.csv", "BẢNG XẾP HẠNG DTI NĂM 2024\n\n" + _table(
    "year,unit,dti", _wide(NEW, cols="unit")))
text("c6_csv_title_bad.csv", "Bảng 1. DTI 2024\nyear;unit;dti\n2024;Hà Nội;0,8\n2024;Huế;x\n")
text("c6_csv_blank_lines.csv", "year,unit,dti\n2024,Hà Nội,0.8\n\n\n2024,Huế,abc\n")

# --- 7. numbers --------------------------------------------------------------------------------
text("c7_thousands_semicolon.csv", "year;unit;dti\n2024;Hà Nội;0,8241\n2024;Huế;1,051\n")
text("c7_thousands_alone.csv", "year;unit;dti\n2024;Huế;1,051\n")
text("c7_thousands_tab_dot.tsv", "year\tunit\tdti\n2024\tHà Nội\t0.8241\n2024\tHuế\t1,051\n")
text("c7_thousands_quoted_comma.csv", 'year,unit,dti\n2024,Hà Nội,0.8\n2024,Huế,"1,051"\n')
text("c7_european_grouping.csv", "year;unit;dti\n2024;Hà Nội;0,8\n2024;Huế;1.051,5\n")
# One convention per column (a leading-zero group never groups thousands; "1.051" beside
# "1.051,5" is 1051, not 1.051).
text("c7_leading_zero_group.csv", 'year,code,indicator,value\n2023,48,pop,"0,051"\n2023,49,pop,0.25\n')
text("c7_double_zero_group.csv", 'year,code,indicator,value\n2023,48,pop,"00,051"\n2023,49,pop,0.25\n')
text("c7_one_convention.csv",
     "year;code;indicator;value\n2023;48;pop;1.051\n2023;49;pop;1.051,5\n2023;01;pop;0,25\n")
text("c7_dot_groups_beside_comma_decimals.csv",
     "year;code;indicator;value\n2023;48;pop;1.051\n2023;49;pop;2.000\n2023;01;pop;0,25\n")
text("c7_mixed_decimals_semicolon.csv",
     "year;unit;dti\n2024;Hà Nội;0,8\n2024;Huế;0.5\n2024;Đà Nẵng;0,7\n")
text("c4_no_year_column.csv", "code,indicator,value\n48,pop,1\n49,pop,3\n")
text("c7_almost_one.csv", "year,unit,dti\n2024,Hà Nội,1.0000006\n")
text("c7_too_precise.csv", "year,unit,dti\n2024,Hà Nội,0.82410000000000000001\n")
text("c7_too_small.csv", "year,unit,dti\n2024,Hà Nội,1e-30\n")
text("c7_too_large.csv", "year,unit,dti\n2024,Hà Nội,1e300\n")
text("c7_space_grouping.csv", "year;unit;dti\n2024;Hà Nội;1 051\n")
text("c7_two_commas.csv", "year;unit;dti\n2024;Hà Nội;0,8,2\n")
text("c7_exponent_ok.csv", "year,unit,dti\n2024,Hà Nội,8.241e-1\n")


@builder("c7_tiny.xlsx")
def _c7_tiny(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [1e-25]}).write_excel(p)


@builder("c7_tiny.parquet")
def _c7_tiny_pq(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [1e-25]}).write_parquet(p)


# --- 9. tracebacks -----------------------------------------------------------------------------


@builder("c9_list_column.parquet")
def _c9_list(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [[0.8, 0.7]]}).write_parquet(p)


@builder("c9_binary_column.parquet")
def _c9_bin(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": [b"Ha Noi"], "dti": [0.8]}).write_parquet(p)


@builder("c9_duration_column.parquet")
def _c9_dur(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [dt.timedelta(days=1)]}).write_parquet(p)


@builder("c9_struct_column.parquet")
def _c9_struct(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"],
                  "dti": [{"v": 0.8, "r": 1}]}).write_parquet(p)


@builder("c9_empty.parquet")
def _c9_empty(p: Path) -> None:
    pl.DataFrame(schema={"year": pl.Int32, "unit": pl.String, "dti": pl.Float64}).write_parquet(p)


@builder("c9_null_notes.parquet")
def _c9_null(p: Path) -> None:
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": ["x"],
                  "notes": [None]}).write_parquet(p)


@builder("c9_date_year.parquet")
def _c9_date(p: Path) -> None:
    pl.DataFrame({"year": [dt.date(2024, 1, 1)], "unit": ["Hà Nội"], "dti": [0.8]}).write_parquet(p)


@builder("c9_empty_sheet.xlsx")
def _c9_empty_sheet(p: Path) -> None:
    _sheet(p, lambda ws: None)


@builder("c9_nul_bytes.csv")
def _c9_nul(p: Path) -> None:
    p.write_bytes(b"year,unit,dti\n2024,H\x00a Noi,0.8\n")


@builder("c9_utf16_odd.csv")
def _c9_utf16(p: Path) -> None:
    p.write_bytes(b"\xff\xfey\x00e\x00a\x00r\x00\n")


@builder("c9_directory.csv")
def _c9_dir(p: Path) -> None:
    p.mkdir()


text("c9_unclosed_quote.csv", 'year,unit,dti\n2024,"Hà Nội,0.8\n')
text("c9_header_only_bom.csv", "\ufeffyear,unit,dti\n")
text("c9_only_commas.csv", "year,unit,dti\n,,\n,,\n")
text("c9_weights_garbage.csv", "code,weight\n01,abc\n")
text("c9_int_overflow_year.csv", "year,unit,dti\n99999999999999999999,Hà Nội,0.8\n")
text("c9_rank_overflow.csv", "year,unit,rank,dti\n2024,Hà Nội,99999999999,0.8\n")

text("c9_reserved_heading.csv", "year,unit,_row,dti\n2024,Hà Nội,1,0.8\n")
text("c9_two_columns_one_indicator.csv", "year,unit,dti,value\n2024,Hà Nội,0.8,0.7\n")


@builder("c9_duplicate_headings.xlsx")
def _c9_dup_headings(p: Path) -> None:
    _sheet(p, lambda ws: _rows(ws, 0, 0, ["year", "unit", "dti", "dti"], [[2024, "Hà Nội", 0.8, 0.7]]))


@builder("c9_only_formulas.xlsx")
def _c9_only_formulas(p: Path) -> None:
    _sheet(p, lambda ws: ws.write_formula(0, 0, "=B1", None, ""))


@builder("c6_no_cell_references.xlsx")
def _c6_no_refs(p: Path) -> None:
    """OOXML allows cells without an ``r`` reference (some writers omit them): positions are
    implicit, and the error cell must still be found at its place."""
    import re
    import zipfile

    tmp = p.with_suffix(".tmp.xlsx")
    _c6_na(tmp)
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'(<c) r="[A-Z]+\d+"', rb"\1", data)
            dst.writestr(item, data)
    tmp.unlink()


# --- 10. every problem in one run --------------------------------------------------------------
text("c10_four_faults.csv", "year,unit,dti\n2024,Hà Nội,0.8\n20x4,Huế,0.7\n2024,Cao Bằng,abc\n"
     "2024,Atlantis,0.5\n2024,Hà Nội,0.6\n")
text("c10_duplicate_wide.csv", "year,unit,dti,awareness,institutions\n2024,Hà Nội,0.8,0.7,0.6\n"
     "2024,Huế,0.7,0.6,0.5\n2024,TP. Hà Nội,0.8,0.7,0.6\n")
text("c10_many_faults_long.csv", "year,unit,indicator,value\n2024,Hà Nội,dti,0.8\n"
     "2024,Huế,nosuch,0.7\n2024,Cao Bằng,dti,1.7\n2024,Sơn Laa,dti,0.5\n")
text("c10_columns_and_cells.csv", "year,unit,dti,score\n2024,Hà Nội,abc,1\n2024,Atlantis,0.5,2\n")


@builder("c10_cells_and_units.xlsx")
def _c10_xlsx(p: Path) -> None:
    def fill(ws):  # type: ignore[no-untyped-def]
        _rows(ws, 0, 0, ["year", "unit", "dti"], [[2024, "Hà Nội", None], [2024, "Atlantis", 0.5],
                                                  [2024, "Huế", "abc"]])
        ws.write_formula(1, 2, "=NA()", None, "#N/A")
    _sheet(p, fill)


# --- 8. mappings that pass `mappings check` but are wrong --------------------------------------
SMALL = {
    "old.csv": "code,name\n01,Alpha\n02,Beta\n03,Gamma\n",
    "new.csv": "code,name\n01,Alpha\n03,Gamma\n",
    "m.csv": "predecessor_code,successor_code,share\n01,01,1\n02,01,1\n03,03,1\n",
}
TOML_HEAD = 'id = "t"\nversion = "1"\n'
BASES = ('[[basis]]\nid = "old"\nfile = "old.csv"\n[[basis]]\nid = "new"\nfile = "new.csv"\n')
TRANSITION = '[[transition]]\nid = "m"\nfile = "m.csv"\nfrom_basis = "old"\nto_basis = "new"\n'
MAPPING_DIRS: dict[str, dict[str, str]] = {
    "c8_duplicate_basis_id": {"mapping.toml": TOML_HEAD + BASES + '[[basis]]\nid = "old"\nfile = '
                              '"new.csv"\n' + TRANSITION},
    "c8_duplicate_transition_id": {"mapping.toml": TOML_HEAD + BASES + TRANSITION + TRANSITION},
    "c8_duplicate_transition_pair": {
        "mapping.toml": TOML_HEAD + BASES + TRANSITION + TRANSITION.replace('id = "m"', 'id = "m2"')},
    "c8_two_units_one_name": {"old.csv": "code,name\n01,Alpha\n02,Alpha\n03,Gamma\n",
                              "mapping.toml": TOML_HEAD + BASES + TRANSITION},
    "c8_two_units_one_name_by_design": {
        "old.csv": "code,name\n01,Alpha\n02,Alpha\n03,Gamma\n",
        "mapping.toml": TOML_HEAD + BASES.replace('file = "old.csv"\n', 'file = "old.csv"\n'
                                                  "unique_names = false\n") + TRANSITION},
    "c8_alias_names_another_unit": {
        "mapping.toml": TOML_HEAD + 'aliases = "aliases.csv"\n' + BASES + TRANSITION,
        "aliases.csv": "canonical_name,alias,basis\nAlpha,Gamma,old\n"},
    "c8_basis_id_not_text": {"mapping.toml": TOML_HEAD + BASES.replace('id = "old"', "id = 5")
                             + TRANSITION},
    "c8_from_basis_not_text": {"mapping.toml": TOML_HEAD + BASES
                               + TRANSITION.replace('from_basis = "old"', "from_basis = 1")},
    "c8_version_list": {"mapping.toml": 'id = "t"\nversion = [1]\n' + BASES + TRANSITION},
    "c8_aliases_not_text": {"mapping.toml": TOML_HEAD + 'aliases = ["a.csv"]\n' + BASES + TRANSITION},
    "c8_undefined_basis": {"mapping.toml": TOML_HEAD + BASES
                           + TRANSITION.replace('to_basis = "new"', 'to_basis = "newer"')},
    "c8_alias_undefined_basis": {"mapping.toml": TOML_HEAD + 'aliases = "aliases.csv"\n' + BASES
                                 + TRANSITION,
                                 "aliases.csv": "canonical_name,alias,basis\nAlpha,A.,nowhere\n"},
    "c8_basis_file_number": {"mapping.toml": TOML_HEAD + BASES.replace('file = "old.csv"', "file = 3")
                             + TRANSITION},
    "c8_transition_not_table": {"mapping.toml": TOML_HEAD + "transition = [1, 2]\n" + BASES},
    "c8_share_text": {"m.csv": "predecessor_code,successor_code,share\n01,01,1\n02,01,half\n03,03,1\n",
                      "mapping.toml": TOML_HEAD + BASES + TRANSITION},
}
text("c8_scores_alpha.csv", "year,unit,dti\n2024,Alpha,0.5\n2024,Gamma,0.6\n")
text("c8_scores_codes.csv", "year,code,dti\n2024,01,0.5\n2024,02,0.7\n2024,03,0.6\n")


def _mapping_dir(target: Path, files: dict[str, str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name, content in {**SMALL, **files}.items():
        (target / name).write_text(content, encoding="utf-8")


def _multi_step(target: Path) -> None:
    """The shipped mapping with an identity step in between: 2024 -> 2024b -> 2025."""
    shutil.copytree(MAPPINGS, target)
    toml = (target / "mapping.toml").read_text(encoding="utf-8")
    toml = toml.replace('from_basis = "vn-province-2024"', 'from_basis = "vn-province-2024b"')
    toml += ('\n[[basis]]\nid = "vn-province-2024b"\nfile = "bases/vn-province-2024.csv"\n'
             '\n[[transition]]\nid = "identity"\nfile = "transitions/identity.csv"\n'
             'from_basis = "vn-province-2024"\nto_basis = "vn-province-2024b"\n')
    (target / "transitions" / "identity.csv").write_text(
        "predecessor_code,successor_code,share\n" + "".join(f"{c},{c},1\n" for c, _ in OLD),
        encoding="utf-8")
    (target / "mapping.toml").write_text(toml, encoding="utf-8")


def write_corpus(target: Path) -> Path:
    """Write every generated case file under ``target``; returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name, content in TEXT.items():
        (target / name).write_text(content, encoding="utf-8")
    for name, build in BUILDERS.items():
        build(target / name)
    for name, files in MAPPING_DIRS.items():
        _mapping_dir(target / name, files)
    _multi_step(target / "c8_multi_step")
    return target
