import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.dti.record import (
    RANK_BASES,
    RECORD_FILE,
    index_definitions,
    ministry_template,
    read_claims,
    read_record,
    research_files,
    tidy_research,
)
from mergetool.dti.spec import read_scores


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
    assert set(rec["rank_basis"].drop_nulls()) == set(RANK_BASES)
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


def _dti(rec: pl.DataFrame, year: int, code: str, basis: str = "vn-province-2024") -> dict:
    return rec.filter((pl.col("year") == year) & (pl.col("basis") == basis) & (pl.col("code") == code)
                      & (pl.col("indicator") == "dti")).row(0, named=True)


def test_record_has_the_second_research_pass_with_conflicts_kept() -> None:
    rec = read_record()
    tq = _dti(rec, 2023, "08")  # Tuyên Quang 38/63, 0,6735 (doingoai.tuyenquang.gov.vn)
    assert (tq["value"], tq["rank"], tq["rank_basis"]) == (0.6735, 38, "published")
    bg = _dti(rec, 2020, "24")  # Bắc Giang: list position 10 is now printed, with its value
    assert (bg["value"], bg["rank"], bg["rank_basis"]) == (0.3615, 10, "published")
    assert (_dti(rec, 2020, "58")["value"], _dti(rec, 2020, "58")["rank"]) == (0.2108, 63)
    assert {_dti(rec, 2020, c)["rank"] for c in ("54", "04")} == {62, 61}  # Phú Yên, Cao Bằng
    # Kiên Giang 2020: a tie at 8th (viet-jo) against 9th (sggpnews list order): kept as a range.
    kg = _dti(rec, 2020, "91")
    assert (kg["rank_basis"], kg["rank_low"], kg["rank_high"]) == ("conflict", 8, 9)
    values_2022 = {c: _dti(rec, 2022, c)["value"] for c in ("20", "27", "19", "24", "36", "01")}
    assert values_2022 == {"20": 0.6837, "27": 0.6736, "19": 0.6469, "24": 0.644, "36": 0.639,
                           "01": 0.6098}
    # Hà Tĩnh 25/63 in 2024 comes from a pre-release report: provisional, indicator ranks too.
    ht = rec.filter((pl.col("year") == 2024) & (pl.col("code") == "42")
                    & (pl.col("basis") == "vn-province-2024") & pl.col("rank").is_not_null())
    assert set(ht["rank_basis"]) == {"provisional"}
    assert ht.height == 9
    # Bắc Ninh "7th in 2023" (vietnam.vn) is rejected: 7th in 2023 is Bình Dương.
    assert _dti(rec, 2023, "74")["rank"] == 7
    assert rec.filter((pl.col("year") == 2023) & (pl.col("code") == "27")).is_empty()


def test_claims_are_recorded_with_wording_source_and_basis(shipped: MappingSet) -> None:
    claims = read_claims()
    assert claims["claim_id"].is_unique().all()
    hn = claims.filter(pl.col("claim_id") == "hn-2024").row(0, named=True)
    assert "rose four ranks from fifth place" in hn["wording"]
    assert (hn["rank_from"], hn["rank_to"], hn["change"]) == (5, 1, 4)
    assert {"hp-2024", "hue-2024", "tg-2022-dti-2021", "bg-2022-dti-2021"} <= set(claims["claim_id"])
    assert claims.filter(pl.col("claim_id").str.starts_with("ht-2024"))["provisional"].all()
    for row in claims.iter_rows(named=True):
        assert row["source_url"].startswith("http")
        assert row["wording"]
        assert shipped.resolve(row["unit_name"], row["basis_to"]) == row["code"], row["claim_id"]
        assert row["basis_from"] in (None, "vn-province-2024", "vn-province-2025")
