import polars as pl

from mergetool.mapping import MappingSet
from mergetool.record import (
    RECORD_FILE,
    index_definitions,
    ministry_template,
    read_record,
    research_files,
    tidy_research,
)
from mergetool.scores import read_scores


def test_shipped_record_is_generated_from_the_research_files(tmp_path, shipped: MappingSet) -> None:
    out = tmp_path / "r.csv"
    tidy_research(research_files(), shipped).write_csv(out)
    assert out.read_bytes() == RECORD_FILE.read_bytes()


def test_record_keeps_values_ranks_and_how_they_were_known() -> None:
    rec = read_record()
    tie = rec.filter((pl.col("year") == 2021) & (pl.col("indicator") == "dti") & (pl.col("rank") == 12))
    assert sorted(tie["unit_name"]) == ["Thanh Hóa", "Vĩnh Phúc"]
    assert set(tie["value"]) == {0.488}
    kt = rec.filter((pl.col("year") == 2022) & (pl.col("code") == "62") & (pl.col("indicator") == "dti"))
    assert kt.select("value", "decimals", "value_origin").row(0) == (0.54, 2, "printed-rounded")
    hn = rec.filter((pl.col("year") == 2024) & (pl.col("basis") == "vn-province-2024")
                    & (pl.col("code") == "01") & (pl.col("indicator") == "dti"))
    assert hn["value_origin"][0] == "carried-from-34-basis"
    assert set(rec["rank_basis"].drop_nulls()) == {"published", "list_order", "derived_change",
                                                   "bottom3_unordered", "published_basis_unstated"}
    dn = rec.filter((pl.col("year") == 2024) & (pl.col("code") == "48") & (pl.col("indicator") == "dti"))
    assert dict(dn.select("basis", "value").iter_rows()) == {"vn-province-2024": 0.8335,
                                                             "vn-province-2025": 0.7069}


def test_index_definitions_make_methodology_breaks_data() -> None:
    d = index_definitions()
    per_year = dict(d.group_by("year").len().sort("year").iter_rows())
    assert per_year == {2020: 4, 2021: 12, 2022: 12, 2023: 12, 2024: 12}
    subs = dict(d.filter(pl.col("indicator") == "dti").select("year", "sub_indicators").iter_rows())
    assert subs == {2020: 108, 2021: 98, 2022: 98, 2023: 98, 2024: 47}


def test_ministry_template_round_trips(tmp_path, shipped: MappingSet) -> None:
    frame = ministry_template(shipped, "vn-province-2025")
    assert frame.height == 34
    assert frame.columns[0] == "Xếp hạng"
    assert frame.columns[-1] == "CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)"
    filled = frame.with_columns(pl.lit("0,5000").alias(c) for c in frame.columns[2:])
    path = tmp_path / "dti_2024_34.csv"
    filled.write_csv(path, separator=";")
    scores = read_scores(path, shipped, year=2024)
    assert scores["basis"].unique().to_list() == ["vn-province-2025"]
    assert scores.height == 34 * 9
    assert set(scores["value"]) == {0.5}


def test_ministry_table_as_copied_from_the_web(tmp_path, shipped: MappingSet) -> None:
    path = tmp_path / "xep-hang-2022.csv"
    path.write_text(
        "Xếp hạng;Tỉnh, thành phố;Chỉ số Nhận thức số;CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)\n"
        "1;TP. Đà Nẵng;1,0000;0,8002\n4;Thừa Thiên - Huế;0,9500;0,6975\n", encoding="utf-8")
    s = read_scores(path, shipped, basis="vn-province-2024", year=2022)
    dti = s.filter(pl.col("indicator") == "dti").select("code", "value", "rank").rows()
    assert dti == [("48", 0.8002, 1), ("46", 0.6975, 4)]
