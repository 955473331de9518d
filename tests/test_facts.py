"""Published facts are checked, never erased: a complete synthetic panel that agrees with the
public record passes every rank check on both bases; each contradiction makes build exit 1."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from panel import complete_panel, with_record

from mergetool.cli import cli
from mergetool.core.mapping import MappingSet
from mergetool.core.oracle import round_half_up, simple_rebase
from mergetool.dti.pipeline import build

OLD, NEW = "vn-province-2024", "vn-province-2025"
FACT_CHECKS = ("published-ranks", "published-vs-recomputed", "rank-order-consistency",
               "rank-change-claims", "aggregate-comparability")


@pytest.fixture(scope="module")
def panel(shipped: MappingSet) -> pl.DataFrame:
    return complete_panel(shipped)


@pytest.fixture(scope="module")
def panel_build(panel: pl.DataFrame, shipped: MappingSet):
    return build(with_record(panel), shipped)


def rows(result, check: str, years: str | None = None, unit: str | None = None) -> pl.DataFrame:
    out = result.checks.filter((pl.col("check") == check) & (pl.col("indicator") == "dti"))
    if years is not None:
        out = out.filter(pl.col("years") == years)
    if unit is not None:
        out = out.filter(pl.col("unit") == unit)
    return out


def test_panel_values_equal_the_independent_oracle(panel, panel_build, shipped) -> None:
    (t,) = shipped.transitions
    values = {(y, i, c): v for y, i, c, v in panel.select("year", "indicator", "code", "value").iter_rows()}
    expected = simple_rebase(values, t.edges.select("from_code", "to_code", "share").rows())
    comp = panel_build.comparable.filter(pl.col("indicator") == "dti")
    assert comp["value"].null_count() == 0
    for year, code, value, value_exact, basis in comp.select(
            "year", "code", "value", "value_exact", "value_basis").iter_rows():
        want = expected[(year, "dti", code)]
        if basis == "published-34":  # the published 34-unit value, which the mean reproduces
            assert round_half_up(want) == Fraction(str(value))
        else:
            assert abs(Fraction(value_exact) - want) <= Fraction(1, 10**18)
            assert Fraction(str(value)) == round_half_up(want)


def test_panel_satisfies_every_published_fact(panel_build) -> None:
    checks = panel_build.checks
    facts = checks.filter(pl.col("check").is_in(FACT_CHECKS))
    assert facts.filter(pl.col("verdict") == "fail").is_empty(), facts.filter(pl.col("verdict") == "fail")
    assert checks.filter(pl.col("verdict") == "fail").is_empty()  # no check fails at all
    # Every published rank is checked, none left open: on 63 units each year, on 34 in 2024.
    ranks = rows(panel_build, "published-ranks").filter(pl.col("unit") == "")
    assert set(ranks["verdict"]) == {"pass"}
    r34 = ranks.filter(pl.col("years") == f"2024 ({NEW})").row(0, named=True)
    assert r34["details"].startswith("15 of 15 published ranks confirmed by 34 of 34 values")
    # The only warning: Kiên Giang 2020, where two sources print 8th (tie) and 9th.
    assert rows(panel_build, "published-ranks").filter(pl.col("verdict") == "warn")["unit"].to_list() \
        == ["91 Kiên Giang"]
    claims = panel_build.checks.filter(pl.col("check") == "rank-change-claims")
    assert set(claims["verdict"]) == {"pass"}
    assert claims.height == 23  # every claim in claims.csv, confirmed


def _write(panel: pl.DataFrame, path: Path) -> Path:
    panel.select("year", unit="code", indicator="indicator", value="value").write_csv(path)
    return path


def _build_cli(tmp_path: Path, panel: pl.DataFrame) -> tuple[int, pl.DataFrame, str]:
    scores = _write(panel, tmp_path / "panel.csv")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["build", "--scores", str(scores), "--basis", OLD, "--out", str(out)])
    checks = pl.read_csv(out / "checks.csv") if (out / "checks.csv").exists() else pl.DataFrame()
    return r.exit_code, checks, r.output


def _set(panel: pl.DataFrame, year: int, values: dict[str, float]) -> pl.DataFrame:
    """The panel with some units' DTI values of one year changed."""
    expr = pl.col("value")
    for code, v in values.items():
        expr = pl.when((pl.col("year") == year) & (pl.col("code") == code)
                       & (pl.col("indicator") == "dti")).then(v).otherwise(expr)
    return panel.with_columns(value=expr)


def _failing(checks: pl.DataFrame, years: str) -> dict[str, str]:
    bad = checks.filter((pl.col("check") == "published-ranks") & (pl.col("verdict") == "fail")
                        & (pl.col("years") == years) & (pl.col("unit").fill_null("") != ""))
    return dict(bad.select("unit", "details").iter_rows())


def test_panel_build_exits_0(tmp_path, panel) -> None:
    code, checks, out = _build_cli(tmp_path, panel)
    assert code == 0, out
    assert checks.filter(pl.col("verdict") == "fail").is_empty()


def test_swapped_2022_values_are_caught_on_the_63_basis(tmp_path, panel) -> None:
    # Vĩnh Long and Quảng Nam are published 30th and 31st in 2022; swap their values.
    vl, qn = (panel.filter((pl.col("year") == 2022) & (pl.col("code") == c)
                           & (pl.col("indicator") == "dti"))["value"][0] for c in ("86", "49"))
    code, checks, _ = _build_cli(tmp_path, _set(panel, 2022, {"86": qn, "49": vl}))
    assert code == 1
    bad = _failing(checks, f"2022 ({OLD})")
    assert set(bad) == {"86 Vĩnh Long", "49 Quảng Nam"}
    assert "published rank 30" in bad["86 Vĩnh Long"]
    assert "computed rank 31" in bad["86 Vĩnh Long"]
    assert "now at rank 30: 49 Quảng Nam" in bad["86 Vĩnh Long"]
    assert "published rank 31" in bad["49 Quảng Nam"]
    assert "computed rank 30" in bad["49 Quảng Nam"]


def test_lowered_predecessor_is_caught_on_the_34_basis(tmp_path, panel) -> None:
    # Thanh Hóa (unchanged, its own predecessor) is published 5th above Điện Biên 6th (34 units).
    code, checks, _ = _build_cli(tmp_path, _set(panel, 2024, {"38": 0.7690}))
    assert code == 1
    bad = _failing(checks, f"2024 ({NEW})")
    assert set(bad) == {"38 Thanh Hóa", "11 Điện Biên"}
    assert "published rank 5" in bad["38 Thanh Hóa"]
    assert "computed rank 6" in bad["38 Thanh Hóa"]
    assert "now at rank 5: 11 Điện Biên 0.7700" in bad["38 Thanh Hóa"]
    assert "published rank 6" in bad["11 Điện Biên"]


def _partial(tmp_path: Path, text: str) -> tuple[int, pl.DataFrame, str]:
    f = tmp_path / "one.csv"
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["build", "--scores", str(f), "--basis", OLD, "--out", str(out)])
    return r.exit_code, pl.read_csv(out / "checks.csv"), r.output


def test_partial_data_contradicts_a_63_unit_rank(tmp_path) -> None:
    # Long An is published 11th in 2022; 13 published 2022 values lie above 0.6000.
    code, checks, output = _partial(tmp_path, "year,unit,indicator,value\n2022,Long An,dti,0.6000\n")
    assert code == 1
    (detail,) = _failing(checks, f"2022 ({OLD})").values()
    assert detail.startswith("published rank 11 (published, https://dti.gov.vn/xep-hang-2022) "
                             "contradicted: 13 known units are strictly above its 0.6000")
    # The terminal names it too.
    assert "1 published fact(s) contradicted:" in output
    assert "published-ranks 2022 (vn-province-2024) dti 80 Long An" in output
    # ... and the row the contradicted value came from, so the user knows what to look at.
    assert detail.endswith("; given in one.csv row 2 (80 Long An)")  # cited alike wherever it lies


def test_partial_data_contradicts_a_34_unit_rank(tmp_path) -> None:
    # Cao Bằng (unchanged) is published last of 34 in 2024. At 0.7500 only 4 known units are
    # above it and 25 have no value: it cannot be 34th.
    code, checks, _output = _partial(tmp_path, "year,unit,indicator,value\n2024,Cao Bằng,dti,0.7500\n")
    assert code == 1
    bad = _failing(checks, f"2024 ({NEW})")
    assert "only 4 known units are above its 0.7500 and 25 have no value, so its rank is at most " \
           "30" in bad["04 Cao Bằng"]
    # The 34-unit value was averaged from the user's 63-unit row: that row is named.
    assert bad["04 Cao Bằng"].endswith("; given in one.csv row 2 (04 Cao Bằng)")


def test_a_recomputed_mismatch_names_the_rows_it_was_computed_from(tmp_path) -> None:
    # Hải Phòng 2024 (34 units) is published 0.7857; the user's two predecessors average 0.55.
    code, checks, _ = _partial(tmp_path, "year,province,dti\n2024,Hải Dương,0.5\n"
                                         "2024,Hải Phòng,0.6\n")
    assert code == 1
    bad = checks.filter((pl.col("check") == "published-vs-recomputed") & (pl.col("verdict") == "fail"))
    assert bad.select("years", "unit").rows() == [("2024", "31 Hải Phòng")]
    assert bad["details"][0].startswith("mean(0.5000, 0.6000) = 0.55000")
    assert bad["details"][0].endswith(
        "published 0.7857; difference +0.23570 beyond tolerance 0.00010; given in one.csv row 2 "
        "(30 Hải Dương), one.csv row 3 (31 Hải Phòng)")


def test_user_value_differing_from_a_published_one_is_a_finding(tmp_path) -> None:
    code, checks, _output = _partial(tmp_path, "year,unit,indicator,value\n2022,Trà Vinh,dti,0.6100\n")
    assert code == 1
    bad = checks.filter((pl.col("check") == "published-vs-recomputed") & (pl.col("verdict") == "fail"))
    assert bad.select("years", "unit").rows() == [(f"2022 ({OLD})", "84 Trà Vinh")]
    assert "differs from the published 0.6077" in bad["details"][0]


def test_a_user_value_never_erases_the_published_rank(shipped: MappingSet) -> None:
    user = with_record(pl.DataFrame(
        {"year": [2022], "basis": [OLD], "code": ["86"], "indicator": ["dti"], "value": [0.59],
         "rank": pl.Series([None], dtype=pl.Int32), "file": ["mine.csv"], "row": [2]},
        schema_overrides={"year": pl.Int32, "row": pl.Int32}))
    result = build(user, shipped)
    assert result.facts.filter((pl.col("year") == 2022) & (pl.col("code") == "86")
                               & (pl.col("indicator") == "dti"))["rank"].to_list() == [30]


# --- rank-change claims (item 3) --------------------------------------------------------------

def _claim(result, unit: str, years_prefix: str) -> dict:
    rows_ = rows(result, "rank-change-claims").filter(
        (pl.col("unit") == unit) & pl.col("years").str.starts_with(years_prefix))
    return rows_.row(0, named=True)


def test_claims_on_the_shipped_record_say_what_would_settle_them(shipped: MappingSet) -> None:
    from mergetool.dti.comparable import gather_scores

    result = build(gather_scores(shipped), shipped)
    hn = _claim(result, "01 Hà Nội", "2023→2024")
    assert (hn["years"], hn["verdict"]) == (f"2023→2024 ({NEW})", "cannot-check")
    assert '"Compared to the 2023 DTI, the city rose four ranks from fifth place."' in hn["details"]
    assert "https://hanoitimes.vn/" in hn["details"]
    assert "would be settled by the 2023 ranks on vn-province-2025 (all 63 predecessors' values)" \
        in hn["details"]
    hp = _claim(result, "31 Hải Phòng", "2023→2024")
    assert (hp["years"], hp["verdict"]) == (f"2023→2024 (unstated→{NEW})", "pass")
    assert f"on {OLD} in 2023: confirmed" in hp["details"]
    tq = _claim(result, "08 Tuyên Quang", "2022→2023")
    assert tq["verdict"] == "pass"  # 48th (dti.gov.vn) -> 38th (doingoai.tuyenquang.gov.vn)


def test_a_contradicted_claim_fails_and_a_provisional_one_warns(panel, shipped) -> None:
    # Tiền Giang 2021 one place lower (24th, between two unranked units): "+3 to 20th" is wrong.
    # Hà Tĩnh 2023 30th instead of 37th: its provisional "+12 to 25th" is wrong, a warning.
    moved = _set(_set(panel, 2021, {"82": 0.4200}), 2023, {"42": 0.6900})
    result = build(with_record(moved), shipped)
    tg = _claim(result, "82 Tiền Giang", "2021→2022")
    assert tg["verdict"] == "fail"
    assert "2021 rank 24 (computed from all 63 values)" in tg["details"]
    assert "a change of 4 places, not +3" in tg["details"]
    ht = _claim(result, "42 Hà Tĩnh", "2023→2024")
    assert ht["verdict"] == "warn"
    assert "a provisional fact" in ht["details"]
    others = result.checks.filter(pl.col("check").is_in(["published-ranks", "published-vs-recomputed"])
                                  & (pl.col("verdict") == "fail"))
    assert others.is_empty()  # the moves break no published rank


def test_a_contradicted_provisional_rank_is_a_warning(panel, shipped) -> None:
    # Hà Tĩnh 25/63 in 2024 is provisional. Move Đắk Lắk up between Điện Biên (24th) and Hà Tĩnh,
    # keeping its merged unit's mean (Phú Yên takes the difference, falling below Quảng Nam's
    # 57th), and lift Kiên Giang's partner An Giang above Quảng Nam in exchange: nothing else
    # published moves, and Hà Tĩnh is 26th.
    def v(code: str) -> int:
        return round(panel.filter((pl.col("year") == 2024) & (pl.col("code") == code)
                                  & (pl.col("indicator") == "dti"))["value"][0] * 10_000)

    dl, py, kg, ag = v("66"), v("54"), v("91"), v("89")
    d = (kg - ag) // 2 - 1
    moved = _set(panel, 2024, {"66": 0.7675, "54": (dl + py - 7675) / 10_000,
                               "91": (kg - d) / 10_000, "89": (ag + d) / 10_000})
    result = build(with_record(moved), shipped)
    r = rows(result, "published-ranks", f"2024 ({OLD})", "42 Hà Tĩnh").row(0, named=True)
    assert r["verdict"] == "warn"
    assert "(a provisional fact: a warning, not a failure)" in r["details"]
    assert "computed rank 26" in r["details"]
    failed = result.checks.filter(pl.col("check").is_in(FACT_CHECKS) & (pl.col("verdict") == "fail"))
    assert failed.is_empty(), failed


# --- rounding (item 5) and provenance (item 6) -------------------------------------------------

def test_an_exact_half_rounds_up_everywhere_and_is_flagged(tmp_path, panel, shipped) -> None:
    from mergetool.core.rebase import rebase
    from mergetool.dti.verify import recompute_published

    halves = _set(panel, 2023, {"48": 0.6647, "49": 0.6648, "01": 0.6647})
    vals = rebase(halves.filter(pl.col("year") == 2023), shipped, NEW).values
    assert vals.schema["value_exact"] == pl.Decimal(38, 18)
    dn = vals.filter((pl.col("code") == "48") & (pl.col("indicator") == "dti")).row(0, named=True)
    assert str(dn["value_exact"]) == "0.664750000000000000"
    result = build(halves, shipped)
    comp = result.comparable.filter((pl.col("year") == 2023) & (pl.col("indicator") == "dti"))
    dn, hn = (comp.filter(pl.col("code") == c).row(0, named=True) for c in ("48", "01"))
    assert (dn["value"], hn["value"]) == (0.6648, 0.6647)  # half-up; float rounding gives 0.6647
    assert dn["rank"] < hn["rank"]
    rr = rows(result, "rank-rounding", "2023").row(0, named=True)
    assert rr["verdict"] == "warn"
    assert "48 Đà Nẵng 0.66475 is a half: rounded up to 0.6648, its rank against 01 Hà Nội " \
           "depends on the half" in rr["details"]
    pub = pl.DataFrame({"year": [2023], "basis": [NEW], "code": ["48"], "indicator": ["dti"],
                        "value": [0.6648]}, schema_overrides={"year": pl.Int32})
    check = recompute_published(pub, halves, shipped, OLD, NEW)
    assert "= 0.66475 (rounded half-up 0.6648)" in check.rows.filter(
        (pl.col("code") == "48") & (pl.col("indicator") == "dti"))["details"][0]
    # The written tables: 4-decimal values, never a float artefact; the exact mean in its column.
    out = tmp_path / "out"
    CliRunner().invoke(cli, ["build", "--replace", "--scores", str(_write(halves, tmp_path / "h.csv")),
                             "--basis", OLD, "--out", str(out)])
    written = pl.read_csv(out / "comparable.csv", schema_overrides={"code": pl.String},
                          infer_schema=False)
    assert written.filter(pl.col("value").str.contains(r"\.\d{5,}")).is_empty()
    row = written.filter((pl.col("year") == "2023") & (pl.col("code") == "48")
                         & (pl.col("indicator") == "dti")).row(0, named=True)
    assert (row["value"], row["value_exact"]) == ("0.6648", "0.664750000000000000")
    assert row["rank_change_basis"] == f"{NEW} (2022 computed -> 2023 computed)"


def test_explain_credits_user_values_to_their_file_never_a_url(tmp_path) -> None:
    import json

    f = tmp_path / "dti_2024_63.csv"
    f.write_text("unit,dti\nQuảng Nam,0.5803\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["explain", "Đà Nẵng", "--year", "2024", "--format", "json",
                                 "--scores", str(f)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    (year,) = data["years"]
    qn = next(p for p in year["predecessors"] if p["ref"].startswith("49@"))
    assert (qn["origin"], qn["source"]) == ("user", f"{f} row 2")
    dn = next(p for p in year["predecessors"] if p["ref"].startswith("48@"))
    assert dn["origin"] == "shipped"
    assert dn["source"].startswith("https://")
    assert (year["verdict"], year["circular"]) == ("match", False)
    hn = CliRunner().invoke(cli, ["explain", "Hà Nội", "--year", "2024"])
    assert "circular" in hn.output
    assert "0 independent match(es), 1 circular" in hn.output


def test_verify_counts_independent_and_circular_matches_apart(tmp_path) -> None:
    r = CliRunner().invoke(cli, ["verify", "-o", str(tmp_path / "v.csv")])
    assert "1 independent match(es); 2 circular" in r.output
    assert "circular: 2024 dti 01 Hà Nội" in r.output
    report = pl.read_csv(tmp_path / "v.csv", schema_overrides={"code": pl.String})
    assert report.filter(pl.col("circular"))["code"].sort().to_list() == ["01", "46"]


# --- the shipped facts hold under --replace too; a user's rank is a fact beside them -------------

def _cli(tmp_path: Path, name: str, text: str, *args: str) -> tuple[int, pl.DataFrame, pl.DataFrame, str]:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["build", "--scores", str(f), *args, "--out", str(out)])
    assert r.exit_code in (0, 1), r.output
    read = ({"schema_overrides": {"code": pl.String}, "infer_schema_length": None}
            if (out / "comparable.csv").exists() else None)
    return (r.exit_code, pl.read_csv(out / "checks.csv"),
            pl.read_csv(out / "comparable.csv", **read) if read else pl.DataFrame(), r.output)


def test_replace_keeps_every_published_fact(tmp_path, panel) -> None:
    # --replace means only the user's files supply values; the record's facts are still checked.
    scores = _write(panel, tmp_path / "panel.csv")
    r = CliRunner().invoke(cli, ["build", "--scores", str(scores), "--basis", OLD, "--replace",
                                 "--out", str(tmp_path / "ok")])
    assert r.exit_code == 0, r.output  # a panel that agrees with every published fact
    ok = pl.read_csv(tmp_path / "ok" / "checks.csv")
    assert {"published-ranks", "published-vs-recomputed", "rank-order-consistency"} <= set(ok["check"])
    manifest = (tmp_path / "ok" / "manifest.json").read_text(encoding="utf-8")
    assert "dti_record.csv" in manifest  # the record the checks used is an input

    vl, qn = (panel.filter((pl.col("year") == 2022) & (pl.col("code") == c)
                           & (pl.col("indicator") == "dti"))["value"][0] for c in ("86", "49"))
    swapped = _write(_set(panel, 2022, {"86": qn, "49": vl}), tmp_path / "swap.csv")
    out = tmp_path / "swap"
    r = CliRunner().invoke(cli, ["build", "--scores", str(swapped), "--basis", OLD, "--replace",
                                 "--out", str(out)])
    assert r.exit_code == 1, r.output
    bad = _failing(pl.read_csv(out / "checks.csv"), f"2022 ({OLD})")
    assert set(bad) == {"86 Vĩnh Long", "49 Quảng Nam"}
    assert "published rank 30" in bad["86 Vĩnh Long"]

    # Yên Bái 0.6600 moves new Lào Cai's mean away from its published 0.7167.
    moved = _write(_set(panel, 2024, {"15": 0.6600}), tmp_path / "moved.csv")
    out = tmp_path / "moved"
    r = CliRunner().invoke(cli, ["build", "--scores", str(moved), "--basis", OLD, "--replace",
                                 "--out", str(out)])
    assert r.exit_code == 1, r.output
    checks = pl.read_csv(out / "checks.csv")
    lc = checks.filter((pl.col("check") == "published-vs-recomputed") & (pl.col("unit") == "15 Lào Cai")
                       & (pl.col("indicator") == "dti") & (pl.col("years") == "2024"))
    assert lc["verdict"].to_list() == ["fail"]
    assert "published 0.7167" in lc["details"][0]


def test_a_user_rank_never_shows_as_the_published_one(tmp_path) -> None:
    # The record publishes Cao Bằng 34th of 34 in 2024; the user's file says 33rd.
    code, checks, comp, _ = _cli(tmp_path, "dti_2024_34.csv", "code,dti,rank\n04,0.55,33\n",
                                 "--basis", NEW)
    assert code == 1
    cb = comp.filter((pl.col("year") == 2024) & (pl.col("code") == "04")
                     & (pl.col("indicator") == "dti")).row(0, named=True)
    assert (cb["rank"], cb["rank_source"]) == (34, "published")
    ranks = rows_of(checks, "published-ranks", f"2024 ({NEW})")
    bad = ranks.filter((pl.col("unit") == "04 Cao Bằng") & (pl.col("verdict") == "fail"))
    assert bad.height == 1, ranks
    detail = bad["details"][0]
    assert "33 (user-file, " in detail
    assert "dti_2024_34.csv row 2" in detail
    assert "34 (published, https://" in detail
    summary = ranks.filter(pl.col("unit").fill_null("") == "").row(0, named=True)
    assert summary["verdict"] == "fail"
    assert summary["details"].count("04 Cao Bằng could rank") <= 1


def test_a_user_rank_where_none_is_published_is_shown_as_given(tmp_path) -> None:
    _code, _checks, comp, _ = _cli(tmp_path, "dti_2024_34.csv", "code,dti,rank\n24,0.7000,9\n",
                                   "--basis", NEW)
    row = comp.filter((pl.col("year") == 2024) & (pl.col("code") == "24")
                      & (pl.col("indicator") == "dti")).row(0, named=True)
    assert (row["rank"], row["rank_source"]) == (9, "given")


def rows_of(checks: pl.DataFrame, check: str, years: str) -> pl.DataFrame:
    return checks.filter((pl.col("check") == check) & (pl.col("years") == years)
                         & (pl.col("indicator") == "dti"))


def test_a_tie_with_a_published_unit_fixes_the_rank(tmp_path) -> None:
    # Hồ Chí Minh is published 4th of 34 at 0.7770: exactly 3 units lie above 0.7770, so a
    # Thanh Hóa at 0.7770 ranks 4th, not its published 5th.
    code, checks, _comp, _ = _cli(tmp_path, "t5.csv", "year,code,dti\n2024,38,0.7770\n",
                                  "--basis", NEW)
    assert code == 1
    ranks = rows_of(checks, "published-ranks", f"2024 ({NEW})")
    th = ranks.filter(pl.col("unit") == "38 Thanh Hóa").row(0, named=True)
    assert th["verdict"] == "fail"
    assert th["details"].startswith("published rank 5 (published, ")
    assert "79 Hồ Chí Minh 0.7770 is published rank 4" in th["details"]
    assert "its rank is 4" in th["details"]


@pytest.mark.parametrize(("text", "unit", "expected"), [
    # Ninh Bình is published 21st at 0.6214: 20 units lie above 0.6214 (only 11 values are
    # public), and it is above 0.6200 itself, so a Tiền Giang at 0.6200 is 22nd or lower.
    ("2022,Tiền Giang,dti,0.6200", "82 Tiền Giang",
     ("published rank 20 (", "37 Ninh Bình 0.6214 is published rank 21", "its rank is at least 22")),
    # Ninh Thuận is published 27th at 0.5934: only 26 units lie above 0.5934, Vĩnh Long among
    # them at 0.6000, so it is 26th or better.
    ("2022,Vĩnh Long,dti,0.6000", "86 Vĩnh Long",
     ("published rank 30 (", "58 Ninh Thuận 0.5934 is published rank 27", "its rank is at most 26")),
    # Ninh Bình 21st at 0.6214 and Hà Nội 24th at 0.6098 leave room for two units between them,
    # not three.
    ("2022,Lâm Đồng,dti,0.6180\n2022,Phú Thọ,dti,0.6150\n2022,Quảng Ngãi,dti,0.6120", "68 Lâm Đồng",
     ("published rank 22 (", "no rank fits its 0.6180", "37 Ninh Bình 0.6214 is published rank 21",
      "01 Hà Nội 0.6098 is published rank 24", "(rank at least 22)", "(rank at most 21)")),
])
def test_published_ranks_of_other_units_bound_a_rank(tmp_path, text, unit, expected) -> None:
    code, checks, _comp, _ = _cli(tmp_path, "one.csv", "year,unit,indicator,value\n" + text + "\n",
                                  "--basis", OLD)
    assert code == 1
    row = rows_of(checks, "published-ranks", f"2022 ({OLD})").filter(
        pl.col("unit") == unit).row(0, named=True)
    assert row["verdict"] == "fail", row
    for part in expected:
        assert part in row["details"], row["details"]


def test_a_build_cites_each_file_by_one_label(tmp_path) -> None:
    # The value's file and the rank's file are labelled against all the build's files together:
    # sub/B.csv is "sub/B.csv" wherever it is cited, never "B.csv" in one check and not another.
    (tmp_path / "sub").mkdir()
    (tmp_path / "A.csv").write_text("year,unit,indicator,value\n2022,Trà Vinh,dti,0.6100\n",
                                    encoding="utf-8")
    (tmp_path / "sub" / "B.csv").write_text("year,unit,dti,rank\n2022,Long An,0.6,3\n",
                                            encoding="utf-8")
    r = CliRunner().invoke(cli, ["build", "--scores", str(tmp_path / "A.csv"), "--scores",
                                 str(tmp_path / "sub" / "B.csv"), "--basis", OLD,
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 1, r.output
    details = " ".join(pl.read_csv(tmp_path / "out" / "checks.csv")["details"].to_list())
    assert "(A.csv row 2)" in details
    assert "user-file, sub/B.csv row 2" in details
    assert "user-file, B.csv" not in details
