"""``explain`` shows the verification's own recomputation: the build's method for the indicator
and every step of a chain of transitions (mapping a -> b -> c built in code)."""

from __future__ import annotations

import json
from fractions import Fraction

import polars as pl
import pytest
from click.testing import CliRunner
from helpers import mapping_set

from mergetool.cli import cli
from mergetool.core.mapping import MappingSet
from mergetool.core.rebase import rebase
from mergetool.dti.comparable import BuildResult
from mergetool.dti.explain import explain, match_counts
from mergetool.dti.rebased_explain import explain_rebased
from mergetool.dti.verify import verify_shipped
from mergetool.outputs import terminal

#: Predecessor values on the oldest basis (exact decimals as written).
A = {"01": "0.8123", "02": "0.6001", "03": "0.5", "04": "0.3"}
AWARE = {"01": "0.41", "02": "0.27", "03": "0.1", "04": "0.2"}


def chain() -> MappingSet:
    """a -> b: Alpha (01) and Beta (02) merge into AB (10); b -> c: AB and Gamma (03) merge into
    All (20). Delta (04) stays through both steps."""
    return mapping_set(
        {"a": [("01", "Alpha"), ("02", "Beta"), ("03", "Gamma"), ("04", "Delta")],
         "b": [("10", "AB"), ("03", "Gamma"), ("04", "Delta")],
         "c": [("20", "All"), ("04", "Delta")]},
        [("t1", "a", "b", [("01", "10", 1.0), ("02", "10", 1.0), ("03", "03", 1.0),
                           ("04", "04", 1.0)]),
         ("t2", "b", "c", [("10", "20", 1.0), ("03", "20", 1.0), ("04", "04", 1.0)])])


def _scores(published: dict[tuple[str, str], str]) -> pl.DataFrame:
    rows = [(2024, "a", c, ind, float(v), "mine.csv", i)
            for ind, vals in (("dti", A), ("awareness", AWARE))
            for i, (c, v) in enumerate(sorted(vals.items()), start=2)]
    rows += [(2024, "c", c, ind, float(Fraction(v)), "pub.csv", 2) for (ind, c), v in published.items()]
    return pl.DataFrame(rows, orient="row", schema={
        "year": pl.Int32, "basis": pl.String, "code": pl.String, "indicator": pl.String,
        "value": pl.Float64, "file": pl.String, "row": pl.Int32})


def _result(ms: MappingSet, methods: dict[str, str], published: dict[tuple[str, str], str]
            ) -> BuildResult:
    """A build's result for the chain, its values rebased by the engine with ``methods``."""
    scores = _scores(published)
    rebased = rebase(scores.filter(pl.col("basis") == "a").drop("file", "row"), ms, "c",
                     methods=methods, from_basis="a")
    comparable = rebased.values.select(
        "year", "code", "indicator", "value", value_basis=pl.lit("rebased-from-4"),
        rank=pl.lit(None, pl.Int64), rank_source=pl.lit(None, pl.String), status="status",
        reason=pl.lit(""))
    return BuildResult(comparable, pl.DataFrame(), pl.DataFrame(), scores, rebased, ms, methods)


def _mean(*vs: Fraction) -> Fraction:
    return sum(vs, Fraction(0)) / len(vs)


# Computed here, independently of the product: mean of the means, step by step.
AB = _mean(Fraction(A["01"]), Fraction(A["02"]))  # 0.7062
ALL = _mean(AB, Fraction(A["03"]))  # 0.6031
AB_SUM = Fraction(AWARE["01"]) + Fraction(AWARE["02"])  # 0.68
ALL_SUM = AB_SUM + Fraction(AWARE["03"])  # 0.78


def test_a_two_step_chain_shows_both_steps_with_the_intermediate_values() -> None:
    ms = chain()
    data = explain(_result(ms, {"*": "mean"}, {("dti", "20"): str(ALL)}), "All", year=2024)
    assert (data["bases"], data["transitions"]) == ({"source": "a", "target": "c"}, ["t1", "t2"])
    (y,) = data["years"]
    first, second = y["steps"]
    assert (first["transition"], first["from_basis"], first["to_basis"]) == ("t1", "a", "b")
    # Step 1 made AB (from Alpha and Beta) and kept Gamma; step 2 made All from both.
    assert [u["ref"] for u in first["units"]] == ["03@b", "10@b"]
    ab = first["units"][1]
    assert [p["ref"] for p in ab["inputs"]] == ["01@a", "02@a"]
    assert Fraction(ab["value_exact"]) == AB
    assert ab["formula"] == "mean(0.8123, 0.6001)"
    (made,) = second["units"]
    assert made["ref"] == "20@c"
    assert [(p["ref"], Fraction(p["value_exact"])) for p in made["inputs"]] == [
        ("03@b", Fraction(A["03"])), ("10@b", AB)]
    assert Fraction(y["recomputed_exact"]) == ALL
    # A mean of means, not the mean of the three former units (0.6375 rounded).
    assert Fraction(y["recomputed_exact"]) != _mean(*(Fraction(A[c]) for c in ("01", "02", "03")))
    assert y["formula"] == "mean(0.5000, mean(0.8123, 0.6001))"
    assert [p["ref"] for p in y["predecessors"]] == ["01@a", "02@a", "03@a"]
    assert y["predecessors"][0]["origin"] == "user"
    assert (y["verdict"], y["method"]) == ("match", "mean")
    assert y["value"] == pytest.approx(float(ALL), abs=1e-12)  # the engine agrees


def test_the_tree_prints_every_step() -> None:
    ms = chain()
    data = explain(_result(ms, {"*": "mean"}, {("dti", "20"): str(ALL)}), "20", year=2024)
    with terminal.console.capture() as cap:
        terminal.explain_tree(data)
    said = cap.get()
    assert "steps (2), method mean" in said
    assert "step 1: t1 (a -> b), mean" in said
    assert "10@b AB: 0.7062 = mean(0.8123, 0.6001)" in said
    assert "step 2: t2 (b -> c), mean" in said
    assert "20@c All: 0.6031 = mean(0.5000, 0.7062)" in said
    assert "verdict match" in said


def test_the_method_the_build_used_is_shown_and_used() -> None:
    ms = chain()
    methods = {"*": "mean", "awareness": "sum"}
    result = _result(ms, methods, {("awareness", "20"): str(ALL_SUM), ("dti", "20"): str(ALL)})
    data = explain(result, "20", year=2024, indicator="awareness")
    (y,) = data["years"]
    assert data["method"] == y["method"] == "sum"
    assert all(s["method"] == "sum" for s in y["steps"])
    assert y["formula"].startswith("sum(")
    assert Fraction(y["steps"][0]["units"][1]["value_exact"]) == AB_SUM
    assert Fraction(y["recomputed_exact"]) == ALL_SUM
    assert y["verdict"] == "match"
    # The other indicator keeps the default method of the same build.
    (d,) = explain(result, "20", year=2024, indicator="dti")["years"]
    assert (d["method"], Fraction(d["recomputed_exact"]), d["verdict"]) == ("mean", ALL, "match")


def test_a_mean_where_the_build_summed_would_be_caught() -> None:
    """Mutation check: had explain assumed mean, the sum published here would not match."""
    ms = chain()
    methods = {"*": "mean", "awareness": "sum"}
    (y,) = explain(_result(ms, methods, {("awareness", "20"): str(ALL_SUM)}), "20", year=2024,
                   indicator="awareness")["years"]
    mean_chain = _mean(_mean(Fraction(AWARE["01"]), Fraction(AWARE["02"])), Fraction(AWARE["03"]))
    assert Fraction(y["recomputed_exact"]) != mean_chain
    assert y["verdict"] == "match"
    # And the same published sum, explained for a build that used mean, is a mismatch.
    (m,) = explain(_result(ms, {"*": "mean"}, {("awareness", "20"): str(ALL_SUM)}), "20",
                   year=2024, indicator="awareness")["years"]
    assert (m["method"], m["verdict"]) == ("mean", "mismatch")
    assert Fraction(m["recomputed_exact"]) == mean_chain


def test_explain_of_a_rebased_chain_uses_the_same_steps() -> None:
    ms = chain()
    scores = _scores({}).filter(pl.col("basis") == "a")
    result = rebase(scores.drop("file", "row"), ms, "c", methods={"*": "mean", "awareness": "sum"},
                    from_basis="a")
    for ind, ab, total in (("dti", AB, ALL), ("awareness", AB_SUM, ALL_SUM)):
        (y,) = explain_rebased(result, ms, "All", indicator=ind, scores=scores)["years"]
        assert [s["transition"] for s in y["steps"]] == ["t1", "t2"]
        assert Fraction(y["steps"][0]["units"][1]["value_exact"]) == ab
        assert Fraction(y["recomputed_exact"]) == total
        assert y["verdict"] == "match"
        assert y["method"] == ("sum" if ind == "awareness" else "mean")


def test_shipped_record_verdicts_agree_with_verify(shipped: MappingSet) -> None:
    """On the shipped record explain gives the verdicts it gave before (Đà Nẵng an independent
    match; Hà Nội and Huế circular) and the same as ``verify`` for every published value."""
    r = CliRunner().invoke(cli, ["explain", "Đà Nẵng", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    by_year = {y["year"]: y for y in data["years"]}
    assert (by_year[2024]["verdict"], by_year[2024]["circular"]) == ("match", False)
    assert by_year[2024]["formula"] == "mean(0.8335, 0.5803)"
    assert [s["transition"] for s in by_year[2024]["steps"]] == ["vn-merger-2025"]
    assert match_counts(data) == (1, 0)
    rows = verify_shipped(shipped).rows
    for row in rows.iter_rows(named=True):
        r = CliRunner().invoke(cli, ["explain", row["code"], "--year", str(row["year"]),
                                     "--indicator", row["indicator"], "--format", "json"])
        (y,) = json.loads(r.stdout)["years"]
        assert (y["verdict"], y["circular"]) == (row["verdict"], row["circular"]), row
        assert y["recomputed"] == row["recomputed"]


def test_cli_explain_uses_the_method_it_is_given() -> None:
    """``explain --method dti=sum`` explains the build that summed: 0.8335 + 0.5803 = 1.4138,
    which does not match the published mean 0.7069."""
    r = CliRunner().invoke(cli, ["explain", "48", "--year", "2024", "--method", "dti=sum",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    (y,) = json.loads(r.stdout)["years"]
    assert (y["method"], y["formula"], y["recomputed_exact"]) == ("sum", "sum(0.8335, 0.5803)", "1.4138")
    assert y["verdict"] == "mismatch"
    tree = CliRunner().invoke(cli, ["explain", "48", "--year", "2024", "--method", "dti=sum"])
    assert "method sum" in tree.output
    assert "formula sum(0.8335, 0.5803) = 1.4138" in tree.output


@pytest.mark.parametrize(("unit", "hint"), [
    ("Amberdale", "Amberdale (01@fict-county-2019) is part of Greater Amberbrin on fict-county-2024"),
    ("11", "Amberbrin (11@fict-county-2021) is part of Greater Amberbrin on fict-county-2024"),
])
def test_an_old_unit_of_a_chain_is_pointed_to_its_unit_on_the_newest_basis(
        unit: str, hint: str, tmp_path) -> None:
    """On a two-step merger the hint named the first step's successor ('Amberdale merged into
    Amberbrin'), itself not a unit of the newest basis; an intermediate unit had no hint."""
    from pathlib import Path
    scores = tmp_path / "s.csv"
    scores.write_text("year,basis,code,indicator,value\n2020,fict-county-2019,01,dti,0.5\n",
                      encoding="utf-8")
    fiction = Path(__file__).parent / "data" / "fictional-merger"
    r = CliRunner().invoke(cli, ["--mappings", str(fiction), "explain", unit, "--scores",
                                 str(scores), "--year", "2020"])
    assert r.exit_code == 2, r.output
    assert hint in " ".join(r.output.split())
