from pathlib import Path

import polars as pl
import pytest
from helpers import mapping_set

from mergetool.core.mapping import MappingSet
from mergetool.dti.spec import read_scores
from mergetool.errors import InputError


def _write(tmp_path: Path, text: str, name: str = "s.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_long_table_by_name_detects_the_old_basis(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,indicator,value\n2024,TP. Đà Nẵng,dti,0.8335\n"
                         "2024,Quảng Nam,dti,0.5803\n")
    s = read_scores(p, shipped)
    assert s.select("basis", "code", "value").rows() == [
        ("vn-province-2024", "48", 0.8335), ("vn-province-2024", "49", 0.5803)]


def test_wide_semicolon_comma_decimal_utf16(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "\ufeffyear;province;Chỉ số Nhận thức số;PDTI\n2022;TP. Đà Nẵng;1,0000;0,8002\n",
               encoding="utf-16")
    s = read_scores(p, shipped, basis="vn-province-2024")
    assert sorted(s.select("indicator", "value").rows()) == [("awareness", 1.0), ("dti", 0.8002)]


def test_codes_written_as_numbers(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,code,dti\n2024,1,0.8241\n")
    assert read_scores(p, shipped, basis="vn-province-2025")["code"].to_list() == ["01"]


def test_unknown_name_suggests_nearest(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,dti\n2024,Quang Nam,0.5\n2024,Da Nag,0.8\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped, basis="vn-province-2024")
    (prob,) = exc.value.problems
    assert (prob.code, prob.row, prob.column, prob.found) == ("unknown-unit", 3, "unit", "Da Nag")
    assert "Đà Nẵng" in prob.hint


def test_mixed_basis_is_refused_naming_rows(tmp_path) -> None:
    # Every Vietnamese 2025 name is also a pre-2025 name, so mixing is shown on a small mapping.
    ms = mapping_set({"old": [("01", "Alpha"), ("02", "Beta")], "new": [("01", "Gamma")]},
                     [("m", "old", "new", [("01", "01", 1.0), ("02", "01", 1.0)])])
    p = _write(tmp_path, "year,unit,dti\n2024,Alpha,0.5\n2024,Gamma,0.8\n2024,Beta,0.1\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, ms)
    (prob,) = exc.value.problems
    assert (prob.code, prob.row) == ("mixed-basis", 2)
    assert "rows 2, 4 exist only on old; rows 3 exist only on new" in prob.message


def test_basis_column_with_two_bases_is_refused(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,basis,dti\n2024,Hà Nội,vn-province-2024,0.8\n"
                         "2024,Huế,vn-province-2025,0.8\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped)
    assert [(x.code, x.row, x.column) for x in exc.value.problems] == [("mixed-basis", 3, "basis")]


def test_ambiguous_basis_needs_a_declaration(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,dti\n2024,Hà Nội,0.8241\n")
    with pytest.raises(InputError, match="cannot be told"):
        read_scores(p, shipped)


def test_complete_34_table_is_detected_as_new_basis(tmp_path, shipped: MappingSet) -> None:
    names = shipped.bases["vn-province-2025"].units["name"].to_list()
    p = _write(tmp_path, "year,unit,dti\n" + "".join(f"2024,{n},0.5\n" for n in names))
    assert read_scores(p, shipped)["basis"].unique().to_list() == ["vn-province-2025"]


def test_duplicates_and_range_are_all_reported(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,dti\n2024,Hà Nội,824.1\n2024,TP Hà Nội,0.8\n2024,Huế,795.1\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped, basis="vn-province-2025")
    codes = [(x.code, x.row) for x in exc.value.problems]
    assert codes == [("value-out-of-range", 2), ("duplicate-row", 3), ("value-out-of-range", 4)]
    assert "1000" in exc.value.problems[0].hint


def test_bad_number_names_row_and_column(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,unit,dti\n2024,Hà Nội,abc\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped, basis="vn-province-2025")
    (prob,) = exc.value.problems
    assert (prob.code, prob.row, prob.column, prob.found) == ("bad-number", 2, "dti", "abc")


def test_parquet_and_xlsx_read_like_csv(tmp_path, shipped: MappingSet) -> None:
    frame = pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [0.8241]})
    frame.write_parquet(tmp_path / "s.parquet")
    frame.write_excel(tmp_path / "s.xlsx")
    for name in ("s.parquet", "s.xlsx"):
        s = read_scores(tmp_path / name, shipped, basis="vn-province-2025")
        assert s.select("code", "value").rows() == [("01", 0.8241)]


def test_workbook_with_several_sheets(tmp_path, shipped: MappingSet) -> None:
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    pl.DataFrame({"year": [2024], "unit": ["Hà Nội"], "dti": [0.8241]}).write_excel(wb, "DTI 2024")
    pl.DataFrame({"note": ["source: press"]}).write_excel(wb, "Notes")
    wb.close()
    with pytest.raises(InputError) as exc:
        read_scores(path, shipped, basis="vn-province-2025")
    (p,) = exc.value.problems
    assert (p.code, p.found) == ("ambiguous-sheet", "DTI 2024, Notes")
    s = read_scores(path, shipped, basis="vn-province-2025", sheet="DTI 2024")
    assert s.select("code", "value").rows() == [("01", 0.8241)]
    with pytest.raises(InputError, match="no sheet named"):
        read_scores(path, shipped, basis="vn-province-2025", sheet="2024")


def test_messy_real_world_cells(tmp_path, shipped: MappingSet) -> None:
    nfd = "\u0110a\u0300 N\u0103\u0303ng"  # decomposed Unicode
    p = _write(tmp_path, f"year;unit;dti\n2024;{nfd} \u00a0;0,7069\n2024.0;Quảng  Nam ;0,5803\n",
               encoding="utf-8-sig")
    s = read_scores(p, shipped, basis="vn-province-2024")
    assert s.select("year", "code", "value").rows() == [(2024, "48", 0.7069), (2024, "49", 0.5803)]


def test_rebase_and_build_outputs_read_back_unchanged(tmp_path, shipped: MappingSet) -> None:
    """The daily loop: a rebased table (and the comparable table) are score tables themselves."""
    from mergetool.core.rebase import rebase
    from mergetool.core.synth import synth_panel
    from mergetool.dti.comparable import gather_scores
    from mergetool.dti.pipeline import build

    panel = synth_panel(shipped, "vn-province-2024", [2022, 2023], ["dti", "awareness"], seed=3,
                        decimals=6)
    values = rebase(panel, shipped, "vn-province-2025").values
    path = tmp_path / "rebased.csv"
    values.write_csv(path)
    back = read_scores(path, shipped)
    assert sorted(back.select("year", "basis", "code", "indicator", "value").rows()) == sorted(
        values.select("year", "basis", "code", "indicator", "value").rows())
    comparable = build(gather_scores(shipped), shipped).comparable
    path = tmp_path / "comparable.csv"
    comparable.write_csv(path)
    again = read_scores(path, shipped, basis="vn-province-2025")
    expected = comparable.filter(pl.col("value").is_not_null() | pl.col("rank").is_not_null())
    assert again.height == expected.height


def test_stray_rule_needs_a_nearly_complete_other_basis(tmp_path, shipped: MappingSet) -> None:
    """A partial 63-unit table holding the 34 new names and six more is read on the 63 basis;
    the 34 names plus one pre-merger name is ambiguous (one stray among a complete 34)."""
    new = shipped.bases["vn-province-2025"].units["name"].to_list()
    old_only = [n for n in shipped.bases["vn-province-2024"].units["name"]
                if shipped.resolve(n, "vn-province-2025") is None]
    p = _write(tmp_path, "year,unit,dti\n" + "".join(f"2024,{n},0.5\n" for n in new + old_only[:6]))
    assert read_scores(p, shipped)["basis"].unique().to_list() == ["vn-province-2024"]
    p = _write(tmp_path, "year,unit,dti\n" + "".join(f"2024,{n},0.5\n" for n in new + old_only[:1]))
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped)
    assert [x.code for x in exc.value.problems] == ["ambiguous-basis"]


def test_code_and_name_must_agree(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "year,code,name,dti\n2024,48,Quảng Nam,0.58\n2024,49,Đà Nẵng,0.83\n")
    with pytest.raises(InputError) as exc:
        read_scores(p, shipped, basis="vn-province-2024")
    assert [(x.code, x.row, x.column) for x in exc.value.problems] == [
        ("unit-mismatch", 2, "name"), ("unit-mismatch", 3, "name")]


def test_years_on_two_bases_read_per_year_when_allowed(tmp_path, shipped: MappingSet) -> None:
    old = shipped.bases["vn-province-2024"].units["name"].to_list()
    new = shipped.bases["vn-province-2025"].units["name"].to_list()
    p = _write(tmp_path, "year,unit,dti\n" + "".join(f"2023,{n},0.5\n" for n in old)
               + "".join(f"2024,{n},0.6\n" for n in new))
    s = read_scores(p, shipped, mixed_bases=True)
    assert dict(s.group_by("year").agg(pl.col("basis").first()).iter_rows()) == {
        2023: "vn-province-2024", 2024: "vn-province-2025"}
    with pytest.raises(InputError, match="the years are on different bases"):
        read_scores(p, shipped)


def test_no_rank_is_dropped(tmp_path, shipped: MappingSet) -> None:
    """The DTI's rank without a DTI column, and an indicator's own rank, are both read."""
    p = _write(tmp_path, "year,unit,rank,awareness,awareness_rank\n2024,Hà Nội,1,0.9,2\n")
    s = read_scores(p, shipped, basis="vn-province-2025")
    assert sorted(s.select("indicator", "value", "rank").rows()) == [
        ("awareness", 0.9, 2), ("dti", None, 1)]


def test_long_labels_are_the_statistic_for_the_library_and_refused_by_the_dti(tmp_path: Path,
                                                                                shipped) -> None:
    from mergetool.dti.spec import BUILD_OPTIONS

    path = tmp_path / "own.csv"
    path.write_text("year,unit,indicator,value\n2024,Hà Nội,poverty_rate,0.012\n"
                    "2024,Huế,Chỉ số Nhận thức số,0.5\n", encoding="utf-8")
    got = read_scores(path, shipped, basis="vn-province-2025")
    assert sorted(got["indicator"].to_list()) == ["awareness", "poverty_rate"]  # DTI labels folded
    with pytest.raises(InputError) as err:
        read_scores(path, shipped, basis="vn-province-2025", options=BUILD_OPTIONS)
    assert [p.code for p in err.value.problems] == ["unknown-indicator"]
    assert "poverty_rate" in str(err.value.problems[0])


def test_a_column_is_read_with_one_number_convention() -> None:
    """'1.051' beside '1.051,5' (dot groups thousands) is 1051, not 1.051 in one row and
    1051.5 in the next; a leading-zero group ('0,051') never groups thousands."""
    import polars as pl

    from mergetool.errors import ProblemLog
    from mergetool.io.tables import ROW, parse_numbers

    def parse(cells: list[str], delimiter: str) -> tuple[list, list]:
        frame = pl.DataFrame({"value": cells, ROW: list(range(2, 2 + len(cells)))})
        log = ProblemLog()
        return parse_numbers(frame, "value", "t.csv", delimiter, log).to_list(), \
            [(p.code, p.row, p.found) for p in log.problems]

    assert parse(["1.051", "1.051,5", "0,25"], ";") == ([1051.0, 1051.5, 0.25], [])
    assert parse(["1.051", "0.25"], ";") == ([1.051, 0.25], [])
    assert parse(["1,051", "0.25"], ";") == ([1051.0, 0.25], [])
    values, problems = parse(["0,051", "0.25"], ",")
    assert problems == [("ambiguous-number", 2, "0,051")]
    assert values[0] is None
    values, problems = parse(["0,8", "0.5", "0,7"], ";")
    assert problems == [("ambiguous-number", 3, "0.5")]
    # Two or more groups can only be thousands (a population column from a spreadsheet), read
    # cell by cell: they say nothing of another cell (a long table's value column holds many
    # statistics), so beside them an undecided 1.051 or 1,010 is refused, not guessed.
    assert parse(["5,542,047", "12"], ",") == ([5542047.0, 12.0], [])
    assert parse(["5.542.047", "951.000", "1.051,5"], ";") == ([5542047.0, 951000.0, 1051.5], [])
    assert parse(["-1,234,567.5"], ",") == ([-1234567.5], [])
    assert parse(["1.000.000", "1.010"], ";")[1] == [("ambiguous-number", 3, "1.010")]
    assert parse(["1,000,000", "1,010"], ";")[1] == [("ambiguous-number", 3, "1,010")]
    # ... and grouped with the mark the column's decimals use they contradict it: refused
    assert parse(["5.542.047", "0.5"], ";")[1] == [("ambiguous-number", 2, "5.542.047")]
    assert parse(["5,542,047", "0,5"], ";")[1] == [("ambiguous-number", 2, "5,542,047")]
    assert parse(["5,542,04"], ",")[1] == [("bad-number", 2, "5,542,04")]


def test_a_partial_mean_read_back_is_refused(tmp_path, shipped) -> None:
    from click.testing import CliRunner

    from mergetool.cli import cli

    codes = [c for c in sorted(shipped.bases["vn-province-2024"].codes) if c != "49"]  # no Quảng Nam
    (tmp_path / "dti_2023_63.csv").write_text(
        "code,dti\n" + "".join(f"{c},0.{5000 + i}\n" for i, c in enumerate(codes)), encoding="utf-8")
    out = tmp_path / "dti_2023_34.csv"
    r = CliRunner().invoke(cli, ["rebase", str(tmp_path / "dti_2023_63.csv"), "--to", "vn-province-2025",
                                 "--policy", "partial", "-o", str(out)])
    assert r.exit_code == 0, r.output
    with pytest.raises(InputError) as err:  # Đà Nẵng is the mean of 48 alone: not comparable
        read_scores(out, shipped)
    (p,) = err.value.problems
    assert (p.code, p.column) == ("partial-value", "status")
    assert "missing predecessors: 49" in str(p)


def test_a_duplicate_quotes_the_row_it_names(tmp_path, shipped: MappingSet) -> None:
    """The row reported and the text quoted are the same row's (they once mixed two rows)."""
    p = tmp_path / "dup.csv"
    p.write_text("year,unit,dti\n2023,TP. Hồ Chí Minh,0.5\n2023,Hà Nội,0.6\n"
                 "2023,Thành phố Hồ Chí Minh,0.5\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_scores(p, shipped, basis="vn-province-2024")
    (dup,) = [q for q in err.value.problems if q.code == "duplicate-row"]
    assert (dup.row, dup.found) == (4, "Thành phố Hồ Chí Minh")


def test_a_workbook_column_without_a_heading_is_named_by_its_letter(tmp_path,
                                                                     shipped: MappingSet) -> None:
    """A note typed in an unheaded column is refused, saying which column it is (it was
    reported as '__UNNAMED__4', a name the user never sees)."""
    import xlsxwriter

    path = tmp_path / "dti_2023.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["year", "unit", "dti"])
    sheet.write_row(1, 0, [2023, "Hà Nội", 0.8, None, "ghi chú lạ"])
    book.close()
    with pytest.raises(InputError) as err:
        read_scores(path, shipped, basis="vn-province-2024")
    (p,) = err.value.problems
    assert (p.code, p.column) == ("unknown-column", "(no heading, column E)")


def test_vietnamese_and_unaccented_headings_are_read(tmp_path, shipped: MappingSet) -> None:
    # A long table headed in Vietnamese, a unit column without diacritics, and per-pillar rank
    # columns written "Xếp hạng CQS" (the ministry's abbreviation) and "KTS rank".
    p = _write(tmp_path, "Năm,TINH/THANH PHO,Chỉ tiêu,Giá trị\n2022,Đà Nẵng,Chỉ số DTI,0.6412\n"
                         "2022,Đà Nẵng,CQS,0.7\n")
    s = read_scores(p, shipped, basis="vn-province-2024").sort("indicator")
    assert s.select("year", "code", "indicator", "value").rows() == [
        (2022, "48", "dti", 0.6412), (2022, "48", "pillar_gov", 0.7)]
    p = _write(tmp_path, "Tỉnh,dti,Xếp hạng,CQS,Xếp hạng CQS,KTS,KTS rank\n"
                         "Đà Nẵng,0.6412,1,0.7,2,0.6,3\n", name="w.csv")
    s = read_scores(p, shipped, basis="vn-province-2024", year=2022).sort("indicator")
    assert s.select("indicator", "value", "rank").rows() == [
        ("dti", 0.6412, 1), ("pillar_econ", 0.6, 3), ("pillar_gov", 0.7, 2)]


def test_two_rank_columns_of_one_indicator_are_refused(tmp_path, shipped: MappingSet) -> None:
    # never one of them silently: "Xếp hạng" is the DTI's rank, and so is "Xếp hạng DTI"
    for heading in ("Xếp hạng DTI", "dti_rank"):
        p = _write(tmp_path, f"Tỉnh,dti,Xếp hạng,{heading}\nĐà Nẵng,0.6412,1,2\n")
        with pytest.raises(InputError) as err:
            read_scores(p, shipped, basis="vn-province-2024", year=2022)
        (problem,) = err.value.problems
        assert (problem.code, problem.column) == ("bad-file", heading)
        assert "both hold the rank of dti" in problem.message
    p = _write(tmp_path, "Tỉnh,CQS,pillar_gov_rank,Xếp hạng CQS\nĐà Nẵng,0.7,1,2\n")
    with pytest.raises(InputError, match="both hold the rank of pillar_gov"):
        read_scores(p, shipped, basis="vn-province-2024", year=2022)


def test_rank_headings_name_the_indicator_in_any_spelling(tmp_path, shipped: MappingSet) -> None:
    p = _write(tmp_path, "TINH,dti,Xếp hạng Chính quyền số,Chỉ số Nhận thức số xếp hạng,XẾP HẠNG KTS,"
                         "GHI CHU,Vung\nĐà Nẵng,0.6412,2,3,4,x,y\n")
    s = read_scores(p, shipped, basis="vn-province-2024", year=2022).sort("indicator")
    assert s.select("indicator", "value", "rank").rows() == [
        ("awareness", None, 3), ("dti", 0.6412, None), ("pillar_econ", None, 4),
        ("pillar_gov", None, 2)]


def test_a_long_tables_rank_of_another_indicator_is_refused(tmp_path, shipped: MappingSet) -> None:
    # a "Xếp hạng CQS" cell on a row of dti would be read past: it is refused, naming the row
    p = _write(tmp_path, "Tỉnh,Năm,Chỉ tiêu,Giá trị,Xếp hạng CQS\nĐà Nẵng,2022,dti,0.6412,\n"
                         "Đà Nẵng,2022,CQS,0.7,2\nHà Nội,2022,dti,0.6,5\n")
    with pytest.raises(InputError) as err:
        read_scores(p, shipped, basis="vn-province-2024")
    (problem,) = err.value.problems
    assert (problem.code, problem.row, problem.column) == ("bad-file", 4, "Xếp hạng CQS")
    assert "a rank of pillar_gov on a row of dti" in problem.message
