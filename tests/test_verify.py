import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from test_rebase import random_mapping

from mergetool.cli import cli
from mergetool.core.mapping import MappingSet
from mergetool.core.rebase import rebase
from mergetool.core.units import UnitRef
from mergetool.dti.record import read_record
from mergetool.dti.verify import TOLERANCE, recompute_published, verify_files, verify_shipped
from mergetool.io.scores import scores_from_rows

PUB = "year,unit,dti\n2024,TP. Đà Nẵng,{dn}\n2024,Hà Nội,0.8241\n2024,Cần Thơ,0.7000\n"
PRE = ("year,unit,dti\n2024,TP. Đà Nẵng,0.8335\n2024,Quảng Nam,0.5803\n2024,TP. Hà Nội,0.8241\n"
       "2024,Hậu Giang,0.6\n")


def _files(tmp_path, dn="0.7069"):
    pub, pre = tmp_path / "published.csv", tmp_path / "predecessors.csv"
    pub.write_text(PUB.format(dn=dn), encoding="utf-8")
    pre.write_text(PRE, encoding="utf-8")
    return pub, pre


def _row(result, code: str) -> dict:
    return result.rows.filter((pl.col("code") == code) & (pl.col("indicator") == "dti")).row(0, named=True)


def test_tolerance_is_one_unit_in_the_fourth_decimal() -> None:
    assert 0.0001 <= TOLERANCE < 0.000101


def test_verify_matches_and_names_missing(tmp_path, shipped: MappingSet) -> None:
    pub, pre = _files(tmp_path)
    result = verify_files(pub, pre, shipped, published_basis="vn-province-2025",
                          predecessors_basis="vn-province-2024")
    assert result.valid
    assert _row(result, "48")["verdict"] == "match"
    ct = _row(result, "92")
    assert (ct["verdict"], ct["missing"]) == ("not-computable", "92 94")
    assert "92 Cần Thơ, 94 Sóc Trăng" in ct["details"]


def test_altered_value_is_a_mismatch(tmp_path, shipped: MappingSet) -> None:
    pub, pre = _files(tmp_path, dn="0.7071")  # +0.0002
    result = verify_files(pub, pre, shipped, published_basis="vn-province-2025",
                          predecessors_basis="vn-province-2024")
    assert not result.valid
    dn = _row(result, "48")
    assert dn["verdict"] == "mismatch"
    assert dn["difference"] == pytest.approx(0.0002)


def _verify_args(pub, pre, out) -> list[str]:
    return ["verify", "--published", str(pub), "--predecessors", str(pre),
            "--published-basis", "vn-province-2025", "--predecessors-basis", "vn-province-2024",
            "-o", str(out)]


def test_cli_verify_exits_1_on_mismatch(tmp_path) -> None:
    pub, pre = _files(tmp_path, dn="0.7071")
    r = CliRunner().invoke(cli, _verify_args(pub, pre, tmp_path / "v.csv"))
    assert r.exit_code == 1, r.output
    report = pl.read_csv(tmp_path / "v.csv", schema_overrides={"code": pl.String})
    bad = report.filter(pl.col("verdict") == "mismatch")
    assert bad.select("year", "code", "indicator").rows() == [(2024, "48", "dti")]
    assert (tmp_path / "v.csv.manifest.json").is_file()


def test_cli_verify_exits_0_when_all_match(tmp_path) -> None:
    pub, pre = _files(tmp_path)
    r = CliRunner().invoke(cli, _verify_args(pub, pre, tmp_path / "v.csv"))
    assert r.exit_code == 0, r.output
    assert "mismatch" not in r.output


def test_tolerance_option_overrides(tmp_path, shipped: MappingSet) -> None:
    pub, pre = _files(tmp_path, dn="0.7071")
    result = verify_files(pub, pre, shipped, published_basis="vn-province-2025",
                          predecessors_basis="vn-province-2024", tolerance=0.0005)
    assert result.valid


def test_shipped_record_confirms_da_nang(shipped: MappingSet) -> None:
    result = verify_shipped(shipped)
    assert result.valid
    assert _row(result, "48")["verdict"] == "match"
    merged = [c for c in shipped.bases["vn-province-2025"].codes
              if c != "48" and len(shipped.predecessors_of(UnitRef("vn-province-2025", c))) > 1]
    rows = result.rows.filter(pl.col("code").is_in(merged) & (pl.col("indicator") == "dti"))
    # One row per published value (a merged unit with no published value has nothing to verify).
    rec = read_record().filter((pl.col("basis") == "vn-province-2025") & pl.col("code").is_in(merged)
                               & (pl.col("indicator") == "dti") & pl.col("value").is_not_null())
    assert rows.height == rec.height > 0
    assert sorted(rows.select("year", "code").rows()) == sorted(rec.select("year", "code").rows())
    assert set(rows["verdict"]) == {"not-computable"}
    assert rows["missing"].str.len_chars().min() > 0
    assert "circular" in _row(result, "01")["details"]


@settings(max_examples=80, deadline=None)
@given(random_mapping())
def test_independent_path_agrees_with_rebase(case) -> None:
    ms, _pairs, rows = case
    if not rows:
        return
    scores = scores_from_rows(rows, "old")
    fast = rebase(scores, ms, "new").values.filter(pl.col("value").is_not_null())
    published = fast.select("year", "basis", "code", "indicator", "value")
    result = recompute_published(published, scores, ms, "old", "new", tolerance=1e-12)
    assert result.valid
    assert set(result.rows.filter(pl.col("verdict") == "match")["code"]) == set(published["code"])


def test_rows_and_counts_cover_only_the_published_values(tmp_path) -> None:
    pub, pre = tmp_path / "vpubn.csv", tmp_path / "vpre23.csv"
    pub.write_text("year,code,dti\n2024,48,0.7069\n", encoding="utf-8")
    pre.write_text("year,code,dti\n2023,48,0.8335\n2023,49,0.5804\n", encoding="utf-8")
    out = tmp_path / "v.csv"
    r = CliRunner().invoke(cli, _verify_args(pub, pre, out))
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())
    assert "34 not-computable" not in said
    assert "of the 34" not in said
    assert "1 not-computable" in said
    assert "none of the 1 published" in said
    assert "predecessors are given for 2023, not 2024" in said
    report = pl.read_csv(out, schema_overrides={"code": pl.String})
    assert report.select("year", "code", "verdict").rows() == [(2024, "48", "not-computable")]
    assert "predecessors are given for 2023, not 2024" in report["details"][0]


def test_the_years_named_are_those_of_the_missing_predecessors(tmp_path) -> None:
    """'given for ...' lists the years these predecessors have, never other units' years (it
    once said 'given for 2023, 2024, not 2024' because another unit had a 2024 value)."""
    pub, pre = tmp_path / "vpubn.csv", tmp_path / "vpre.csv"
    pub.write_text("year,code,dti\n2024,48,0.7069\n2024,01,0.8241\n", encoding="utf-8")
    pre.write_text("year,code,dti\n2023,48,0.8335\n2023,49,0.5804\n2024,01,0.8241\n",
                   encoding="utf-8")
    out = tmp_path / "v.csv"
    r = CliRunner().invoke(cli, _verify_args(pub, pre, out))
    assert r.exit_code == 0, r.output  # one match; a value that cannot be recomputed is no mismatch
    report = pl.read_csv(out, schema_overrides={"code": pl.String})
    details = dict(report.select("code", "details").rows())
    assert "these predecessors are given for 2023, not 2024" in details["48"]
    pre.write_text("year,code,dti\n2024,01,0.8241\n", encoding="utf-8")
    r = CliRunner().invoke(cli, [*_verify_args(pub, pre, out), "--force"])
    details = dict(pl.read_csv(out, schema_overrides={"code": pl.String}).select("code", "details").rows())
    assert "these predecessors have no dti value in any year" in details["48"]


def test_details_show_the_published_value_as_published(tmp_path, shipped: MappingSet) -> None:
    pub, pre = _files(tmp_path, dn="0.70695")
    result = verify_files(pub, pre, shipped, published_basis="vn-province-2025",
                          predecessors_basis="vn-province-2024")
    details = _row(result, "48")["details"]
    assert "published 0.70695 (rounded half-up 0.7070)" in details
    pub, pre = _files(tmp_path, dn="0.7069")
    result = verify_files(pub, pre, shipped, published_basis="vn-province-2025",
                          predecessors_basis="vn-province-2024")
    assert "published 0.7069;" in _row(result, "48")["details"]


def test_verification_recomputes_a_chain_step_by_step_with_each_indicators_method() -> None:
    """The recomputation explain shows: a mean of means along a -> b -> c, and a sum where the
    build summed (a published sum is a mismatch for a mean, and a match for a sum)."""
    from fractions import Fraction

    from test_explain import ALL, ALL_SUM, _scores, chain

    ms = chain()
    scores = _scores({("dti", "20"): str(ALL), ("awareness", "20"): str(ALL_SUM)})
    pub, pre = scores.filter(pl.col("basis") == "c"), scores.filter(pl.col("basis") == "a")
    summed = recompute_published(pub, pre, ms, "a", "c", methods={"*": "mean", "awareness": "sum"})
    dti, aware = _row(summed, "20"), summed.rows.filter(pl.col("indicator") == "awareness").row(
        0, named=True)
    assert (dti["verdict"], Fraction(str(dti["recomputed"]))) == ("match", ALL)
    assert dti["details"].startswith("mean(0.5000, mean(0.8123, 0.6001)) = ")
    assert (aware["verdict"], Fraction(str(aware["recomputed"]))) == ("match", ALL_SUM)
    assert aware["details"].startswith("sum(0.1000, sum(0.4100, 0.2700)) = ")
    meaned = recompute_published(pub, pre, ms, "a", "c")  # the default: mean for every indicator
    assert meaned.rows.filter(pl.col("indicator") == "awareness")["verdict"].to_list() == ["mismatch"]
