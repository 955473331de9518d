import polars as pl
import pytest
from helpers import mapping_set, two_into_one
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.core.mapping import compose
from mergetool.core.oracle import simple_rebase
from mergetool.core.rebase import rebase
from mergetool.io.scores import scores_from_rows


def _values(result) -> dict:
    return {(y, i, c): v for y, i, c, v in
            result.values.select("year", "indicator", "code", "value").iter_rows()}


def test_mean_of_two_into_one() -> None:
    scores = scores_from_rows([(2024, "01", "dti", 0.8335), (2024, "02", "dti", 0.5803),
                               (2024, "03", "dti", 0.5)], "old")
    result = rebase(scores, two_into_one(), "new")
    assert _values(result)[(2024, "dti", "01")] == pytest.approx(0.7069)
    audit = result.audit.filter(pl.col("successor_code") == "01")
    assert audit["contribution"].sum() == pytest.approx(0.7069)
    assert audit["weight"].to_list() == [0.5, 0.5]


def test_strict_leaves_incomplete_successor_empty_and_names_the_missing() -> None:
    scores = scores_from_rows([(2021, "01", "dti", 0.6), (2021, "03", "dti", 0.4)], "old")
    result = rebase(scores, two_into_one(), "new")
    row = result.values.filter(pl.col("code") == "01").row(0, named=True)
    assert (row["value"], row["status"], row["missing"], row["n_used"], row["n_expected"]) == (
        None, "incomplete", "02", 1, 2)


def test_partial_computes_over_present_and_flags() -> None:
    scores = scores_from_rows([(2021, "01", "dti", 0.6), (2021, "03", "dti", 0.4)], "old")
    result = rebase(scores, two_into_one(), "new", policy="partial")
    row = result.values.filter(pl.col("code") == "01").row(0, named=True)
    assert (row["value"], row["status"]) == (0.6, "partial")


def test_weighted_and_sum() -> None:
    scores = scores_from_rows([(2024, "01", "x", 1.0), (2024, "02", "x", 0.0),
                               (2024, "03", "x", 0.5)], "old")
    weights = pl.DataFrame({"code": ["01", "02", "03"], "weight": [3.0, 1.0, 1.0]})
    w = rebase(scores, two_into_one(), "new", methods={"*": "weighted"}, weights=weights)
    assert _values(w)[(2024, "x", "01")] == pytest.approx(0.75)
    s = rebase(scores, two_into_one(), "new", methods={"*": "sum"})
    assert _values(s)[(2024, "x", "01")] == pytest.approx(1.0)


# --- properties ----------------------------------------------------------------------------------

@st.composite
def random_mapping(draw, max_old: int = 8, max_new: int = 5):
    """A valid mapping with merges and splits, and a random score frame on the old basis."""
    n_old = draw(st.integers(1, max_old))
    n_new = draw(st.integers(1, min(max_new, n_old)))
    old = [f"{i:02d}" for i in range(1, n_old + 1)]
    new = [f"{i:02d}" for i in range(1, n_new + 1)]
    pairs = []
    # every new unit gets at least one predecessor: the first n_new old units go one each
    for i, code in enumerate(old):
        if i < n_new:
            targets = [new[i]]
        else:
            targets = draw(st.lists(st.sampled_from(new), min_size=1, max_size=2, unique=True))
        if len(targets) == 1:
            pairs.append((code, targets[0], 1.0))
        else:
            q = draw(st.sampled_from([0.25, 0.5, 0.75]))
            pairs += [(code, targets[0], q), (code, targets[1], 1.0 - q)]
    ms = mapping_set({"old": [(c, f"U{c}") for c in old], "new": [(c, f"N{c}") for c in new]},
                     [("m", "old", "new", pairs)])
    value = st.one_of(st.none(), st.floats(0, 1, allow_nan=False).map(lambda v: round(v, 4)))
    rows = [(y, c, "dti", draw(value)) for y in (2023, 2024) for c in old]
    rows = [r for r in rows if r[3] is not None]
    return ms, pairs, rows


@settings(max_examples=150, deadline=None)
@given(random_mapping(), st.sampled_from(["mean", "sum"]), st.sampled_from(["strict", "partial"]))
def test_fast_path_agrees_with_simple_oracle(case, method, policy) -> None:
    ms, pairs, rows = case
    assert ms.valid
    if not rows:
        return
    result = rebase(scores_from_rows(rows, "old"), ms, "new", methods={"*": method}, policy=policy)
    expected = simple_rebase({(y, i, c): v for y, c, i, v in rows}, pairs, method, policy)
    got = _values(result)
    assert set(got) == set(expected)
    for key, v in expected.items():
        assert got[key] == (pytest.approx(v, abs=1e-12) if v is not None else None)


@settings(max_examples=100, deadline=None)
@given(random_mapping())
def test_mean_lies_between_predecessor_min_and_max(case) -> None:
    ms, _pairs, rows = case
    if not rows:
        return
    result = rebase(scores_from_rows(rows, "old"), ms, "new", policy="partial")
    audit = result.audit.filter(pl.col("predecessor_value").is_not_null())
    bounds = audit.group_by("year", "indicator", "successor_code").agg(
        lo=pl.col("predecessor_value").min(), hi=pl.col("predecessor_value").max())
    joined = result.values.join(bounds, left_on=["year", "indicator", "code"],
                                right_on=["year", "indicator", "successor_code"])
    assert joined.filter((pl.col("value") < pl.col("lo") - 1e-12) |
                         (pl.col("value") > pl.col("hi") + 1e-12)).is_empty()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=10))
def test_identity_mapping_changes_nothing(vals) -> None:
    codes = [f"{i:02d}" for i in range(1, len(vals) + 1)]
    ms = mapping_set({"a": [(c, c) for c in codes], "b": [(c, c) for c in codes]},
                     [("id", "a", "b", [(c, c, 1.0) for c in codes])])
    rows = [(2024, c, "dti", v) for c, v in zip(codes, vals, strict=True)]
    got = _values(rebase(scores_from_rows(rows, "a"), ms, "b"))
    assert got == {(2024, "dti", c): v for c, v in zip(codes, vals, strict=True)}


@settings(max_examples=60, deadline=None)
@given(random_mapping(), st.randoms(use_true_random=False))
def test_row_order_never_changes_the_result(case, rnd) -> None:
    ms, _pairs, rows = case
    if not rows:
        return
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a = rebase(scores_from_rows(rows, "old"), ms, "new")
    b = rebase(scores_from_rows(shuffled, "old"), ms, "new")
    assert a.values.equals(b.values)
    assert a.audit.equals(b.audit)


@settings(max_examples=60, deadline=None)
@given(random_mapping())
def test_sum_through_shares_preserves_the_total(case) -> None:
    ms, _pairs, rows = case
    complete = [(y, c, "n", 1.0 + i) for i, (y, c, _ind, _v) in enumerate(rows)]
    if not complete:
        return
    result = rebase(scores_from_rows(complete, "old"), ms, "new", methods={"*": "sum"},
                    policy="partial")
    for year in {r[0] for r in complete}:
        before = sum(v for y, _c, _i, v in complete if y == year)
        after = result.values.filter(pl.col("year") == year)["value"].sum()
        assert after == pytest.approx(before)


@settings(max_examples=60, deadline=None)
@given(random_mapping(max_old=6, max_new=4), st.data())
def test_composing_two_mappings_equals_the_composed_mapping(case, data) -> None:
    ms1, pairs1, _rows = case
    new = sorted(ms1.bases["new"].codes)
    last = data.draw(st.lists(st.sampled_from(["01", "02"]), min_size=len(new), max_size=len(new)))
    last[0] = "01"
    if "02" not in last:
        last = ["01"] * len(new)
    final = sorted(set(last))
    pairs2 = [(c, t, 1.0) for c, t in zip(new, last, strict=True)]
    ms = mapping_set({"old": [(c, c) for c in ms1.bases["old"].codes],
                      "new": [(c, c) for c in new], "final": [(c, c) for c in final]},
                     [("m1", "old", "new", pairs1), ("m2", "new", "final", pairs2)])
    assert ms.valid
    composed = compose(*ms.path("old", "final"))
    complete = [(2024, c, "n", float(i + 1)) for i, c in enumerate(sorted(ms1.bases["old"].codes))]
    stepwise = _values(rebase(scores_from_rows(complete, "old"), ms, "final", methods={"*": "sum"}))
    direct = simple_rebase({(y, i, c): v for y, c, i, v in complete},
                           composed.edges.select("from_code", "to_code", "share").rows(), "sum")
    assert set(stepwise) == set(direct)
    for k, v in direct.items():
        assert stepwise[k] == pytest.approx(v)


def test_year_chunks_give_the_same_result(monkeypatch) -> None:
    import mergetool.core.rebase as rebase_module

    rows = [(y, c, "dti", (int(c) * 7 + y) % 100 / 100) for y in (2021, 2022, 2023)
            for c in ("01", "02", "03")]
    scores = scores_from_rows(rows, "old")
    whole = rebase(scores, two_into_one(), "new")
    monkeypatch.setattr(rebase_module, "CHUNK_ROWS", 2)
    chunked = rebase(scores, two_into_one(), "new")
    assert chunked.values.equals(whole.values)
    assert chunked.audit.equals(whole.audit)


@pytest.mark.parametrize("method", ["mean", "weighted", "sum"])
@pytest.mark.parametrize("in_year_order", [True, False])
def test_years_run_side_by_side_with_the_same_result(monkeypatch, method, in_year_order) -> None:
    """Year groups rebased on parallel threads give the bytes of one sequential pass (values and
    audit), whatever the grouping and the order of the rows."""
    import numpy as np

    import mergetool.core.rebase as rebase_module

    ms = mapping_set({"old": [(c, c) for c in ("01", "02", "03", "04")],
                      "new": [("01", "A"), ("02", "B")]},
                     [("m", "old", "new", [("01", "01", 1.0), ("02", "01", 0.6),
                                           ("02", "02", 0.4), ("03", "02", 1.0),
                                           ("04", "02", 1.0)])])
    rows = [(y, c, i, round(((int(c) * 37 + y * 11 + len(i)) % 997) / 997, 4))
            for y in range(2015, 2025) for c in ("01", "02", "03", "04") for i in ("dti", "x")
            if (y, c) != (2019, "04")]  # one gap: an incomplete cell in one group
    scores = scores_from_rows(rows, "old")
    if not in_year_order:
        scores = scores[np.random.default_rng(3).permutation(scores.height)]
    weights = pl.DataFrame({"code": ["01", "02", "03", "04"], "weight": [3.0, 1e6, 7.5, 0.25]})
    kw = {"methods": {"*": method}, "weights": weights if method == "weighted" else None}
    whole = rebase(scores, ms, "new", **kw)
    monkeypatch.setattr(rebase_module, "PARALLEL_ROWS", 1)
    for threads, group_rows in ((2, 40), (3, 25), (1, 10)):
        monkeypatch.setattr(rebase_module, "THREADS", threads)
        monkeypatch.setattr(rebase_module, "GROUP_ROWS", group_rows)
        wanted = max(2, -(-scores.height // group_rows))
        assert len(rebase_module._year_groups(scores)) == wanted + wanted % 2
        side = rebase(scores, ms, "new", **kw)
        assert side.values.equals(whole.values)
        assert side.audit.equals(whole.audit)


def test_year_groups_depend_on_the_data_not_the_machine(monkeypatch) -> None:
    import mergetool.core.rebase as rebase_module

    frame = pl.DataFrame({"year": [2015 + i // 100 for i in range(1000)]})  # 10 years x 100
    monkeypatch.setattr(rebase_module, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(rebase_module, "GROUP_ROWS", 250)
    groups = rebase_module._year_groups(frame)
    for threads in (1, 2, 4, 64):
        monkeypatch.setattr(rebase_module, "THREADS", threads)
        assert rebase_module._year_groups(frame) == groups
    assert groups == [(2015, 2017), (2018, 2019), (2020, 2022), (2023, 2024)]
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    assert rebase_module._year_groups(shuffled) == groups
    assert [g.height for g in rebase_module._year_chunks(shuffled)] == [300, 200, 300, 200]
    # years with gaps and uneven counts: found by binary search when sorted, the same groups
    gappy = pl.DataFrame({"year": [2001] * 50 + [2004] * 300 + [2005] * 10 + [2011] * 240
                          + [2012] * 400})
    for form in (gappy, gappy.with_columns(pl.col("year").set_sorted()),
                 gappy.sample(fraction=1.0, shuffle=True, seed=2)):
        assert rebase_module._year_groups(form) == [(2001, 2004), (2005, 2011), (2012, 2012)]


def test_whole_step_problems_do_not_depend_on_the_grouping(monkeypatch) -> None:
    """A blank year, a value that is not a number, codes outside the basis and units without a
    yearly weight are refused over the whole step, naming all of them, however years are grouped."""
    import mergetool.core.rebase as rebase_module
    from mergetool.errors import InputError

    ms = two_into_one()
    good = [(y, c, "dti", 0.5) for y in (2020, 2021) for c in ("01", "02", "03")]
    cases = {
        "bad-year": scores_from_rows(good, "old").with_columns(
            year=pl.when(pl.col("code") == "03").then(None).otherwise(pl.col("year"))),
        "bad-number": scores_from_rows([*good[:-1], (2021, "03", "dti", float("nan"))], "old"),
        "unknown-unit": scores_from_rows([*good, (2020, "yy", "dti", 0.5), (2021, "zz", "dti", 0.5)], "old"),
    }
    yearly = pl.DataFrame({"year": [2020, 2020, 2020, 2021], "code": ["01", "02", "03", "01"],
                           "weight": [1.0, 2.0, 3.0, 1.0]})
    for grouped in (False, True):
        if grouped:
            monkeypatch.setattr(rebase_module, "PARALLEL_ROWS", 1)
            monkeypatch.setattr(rebase_module, "GROUP_ROWS", 1)
        for code, frame in cases.items():
            with pytest.raises(InputError) as err:
                rebase(frame, ms, "new")
            assert err.value.problems[0].code == code
        with pytest.raises(InputError) as err:
            rebase(cases["unknown-unit"], ms, "new")
        assert "yy, zz" in err.value.problems[0].message
        with pytest.raises(InputError) as err:
            rebase(scores_from_rows(good, "old"), ms, "new", methods={"*": "weighted"},
                   weights=yearly)
        assert err.value.problems[0].code == "missing-weight"
        assert "02, 03" in err.value.problems[0].message


def test_encoded_codes_give_the_same_result_and_unknown_codes_are_refused() -> None:
    from mergetool.core.rebase import encode_codes
    from mergetool.errors import InputError, UsageError

    ms = two_into_one()
    # "x" first: a categorical's own order is not the text order the output keeps
    scores = scores_from_rows([(2024, c, i, v) for i in ("x", "dti") for c, v in
                               (("01", 0.8335), ("02", 0.5803), ("03", 0.5))], "old")
    import mergetool

    assert mergetool.encode_codes is encode_codes  # public
    encoded = encode_codes(scores, ms, "new")
    assert isinstance(encoded["code"].dtype, pl.Enum)
    assert encoded["indicator"].dtype == pl.Categorical
    assert encoded["code"].cast(pl.String).to_list() == scores["code"].to_list()
    plain = rebase(scores, ms, "new")
    coded = rebase(encoded, ms, "new")
    assert coded.values.equals(plain.values)
    assert coded.audit.equals(plain.audit)
    assert coded.values["code"].dtype == pl.String
    with pytest.raises(UsageError):  # two bases in one frame: which one is meant?
        encode_codes(pl.concat([scores, scores.with_columns(basis=pl.lit("new"))]), ms, "new")
    with pytest.raises(UsageError):  # no basis column and none declared
        encode_codes(scores.drop("basis"), ms, "new")
    assert encode_codes(scores.drop("basis"), ms, "new", from_basis="old")["code"].dtype == (
        encoded["code"].dtype)
    assert encode_codes(scores.lazy(), ms, "new").equals(encoded)  # encoded as it is read
    with pytest.raises(InputError) as err:
        encode_codes(scores_from_rows([(2024, "09", "dti", 0.5)], "old").lazy(), ms, "new")
    assert "09" in err.value.problems[0].message
    with pytest.raises(InputError) as err:
        encode_codes(scores_from_rows([(2024, "09", "dti", 0.5)], "old"), ms, "new")
    assert err.value.problems[0].code == "unknown-unit"
    assert "09" in err.value.problems[0].message


def test_a_frame_without_a_basis_column_is_on_the_declared_basis() -> None:
    from mergetool.errors import InputError, UsageError

    scores = scores_from_rows([(2024, "01", "dti", 0.8335), (2024, "02", "dti", 0.5803),
                               (2024, "03", "dti", 0.5)], "old")
    plain = rebase(scores, two_into_one(), "new")
    bare = rebase(scores.drop("basis"), two_into_one(), "new", from_basis="old")
    assert bare.values.equals(plain.values)
    with pytest.raises(UsageError):
        rebase(scores.drop("basis"), two_into_one(), "new")
    blank = scores.with_columns(basis=pl.when(pl.col("code") == "03").then(None)
                                .otherwise(pl.col("basis")))
    with pytest.raises(InputError) as err:  # a row with no basis is not taken to be on "old"
        rebase(blank, two_into_one(), "new", from_basis="old")
    assert err.value.problems[0].code == "mixed-basis"


@settings(max_examples=100, deadline=None)
@given(random_mapping(), st.sampled_from(["mean", "sum"]))
def test_value_exact_is_the_exact_result(case, method) -> None:
    """``value_exact`` is the oracle's exact fraction to 18 decimal places (i14's engine keeps
    this contract)."""
    from fractions import Fraction

    ms, pairs, rows = case
    if not rows:
        return
    result = rebase(scores_from_rows(rows, "old"), ms, "new", methods={"*": method}, policy="partial")
    assert result.values.schema["value_exact"] == pl.Decimal(38, 18)
    expected = simple_rebase({(y, i, c): v for y, c, i, v in rows}, pairs, method, "partial")
    for y, i, c, exact in result.values.select("year", "indicator", "code", "value_exact").iter_rows():
        want = expected[(y, i, c)]
        if want is None:
            assert exact is None
        else:
            assert abs(Fraction(exact) - want) <= Fraction(len(rows), 10**18)


def test_rebase_cli_applies_yearly_weights_to_their_own_year_only(tmp_path, shipped) -> None:
    from fractions import Fraction

    from click.testing import CliRunner

    from mergetool.cli import cli

    codes = sorted(shipped.bases["vn-province-2024"].codes)
    values = {(y, c): Fraction(1 + (i * 7 + y) % 97, 100) for y in (2022, 2023)
              for i, c in enumerate(codes)}
    weights = {(y, c): 100 + i + (y - 2022) * 50 for y in (2022, 2023) for i, c in enumerate(codes)}
    (tmp_path / "v.csv").write_text("year,code,indicator,value\n" + "".join(
        f"{y},{c},poverty_rate,{float(v)}\n" for (y, c), v in values.items()), encoding="utf-8")
    (tmp_path / "w.csv").write_text("year,code,weight\n" + "".join(
        f"{y},{c},{w}\n" for (y, c), w in weights.items()), encoding="utf-8")
    (tmp_path / "w23.csv").write_text("year,code,weight\n" + "".join(
        f"{y},{c},{w}\n" for (y, c), w in weights.items() if y == 2023), encoding="utf-8")
    (tmp_path / "wx.csv").write_text("code,weight,foo\n01,1,x\n", encoding="utf-8")

    def run(wfile: str, out: str):
        return CliRunner().invoke(cli, ["rebase", str(tmp_path / "v.csv"), "--to", "vn-province-2025",
                                        "--method", "weighted", "--weights", str(tmp_path / wfile),
                                        "-o", str(tmp_path / out)])

    r = run("w.csv", "ok.csv")
    assert r.exit_code == 0, r.output
    got = pl.read_csv(tmp_path / "ok.csv", schema_overrides={"code": pl.String})
    for y in (2022, 2023):  # Đà Nẵng = 48 + 49, each year with that year's weights
        want = ((values[(y, "48")] * weights[(y, "48")] + values[(y, "49")] * weights[(y, "49")])
                / (weights[(y, "48")] + weights[(y, "49")]))
        cell = got.filter((pl.col("year") == y) & (pl.col("code") == "48"))
        assert cell["value"][0] == pytest.approx(float(want), abs=1e-15)
    r = run("w23.csv", "no.csv")  # no 2022 weights: refused, never 2023's weights used for 2022
    assert r.exit_code == 2
    assert "[missing-weight]" in r.output
    assert not (tmp_path / "no.csv").exists()
    r = run("wx.csv", "no2.csv")
    assert r.exit_code == 2
    assert "[unknown-column]" in r.output


def test_a_repeated_unit_never_stands_in_for_a_missing_one() -> None:
    from mergetool.errors import InputError

    # unit 01 twice, unit 02 missing: the count of successor 01 looks complete (2 of 2)
    scores = scores_from_rows([(2024, "01", "dti", 0.8), (2024, "01", "dti", 0.4),
                               (2024, "03", "dti", 0.5)], "old")
    for method in ("mean", "sum"):
        with pytest.raises(InputError) as err:
            rebase(scores, two_into_one(), "new", methods={"*": method})
        assert err.value.problems[0].code == "duplicate-row"


def test_a_chain_carries_exact_decimals_between_steps() -> None:
    """Each step after the first reads the previous step's exact decimal (value_exact), not
    its float: mean(mean(0.1, 0.2, 0.4), 0.5) is 0.366666666666666667, where reading the float
    0.23333333333333334 back gave 0.366666666666666670 (a wrong exact value, exit 0)."""
    from decimal import Decimal
    from fractions import Fraction

    ms = mapping_set(
        {"a": [("1", "P"), ("2", "Q"), ("3", "R"), ("4", "S")], "b": [("10", "PQR"), ("20", "S")],
         "c": [("100", "All")]},
        [("t1", "a", "b", [("1", "10", 1.0), ("2", "10", 1.0), ("3", "10", 1.0), ("4", "20", 1.0)]),
         ("t2", "b", "c", [("10", "100", 1.0), ("20", "100", 1.0)])])
    scores = scores_from_rows([(2020, "1", "x", 0.1), (2020, "2", "x", 0.2),
                               (2020, "3", "x", 0.4), (2020, "4", "x", 0.5)], "a")
    got = rebase(scores, ms, "c").values
    exact = ((Fraction(1, 10) + Fraction(2, 10) + Fraction(4, 10)) / 3 + Fraction(1, 2)) / 2
    want = Decimal(exact.numerator) / Decimal(exact.denominator)
    assert got["value_exact"][0] == want.quantize(Decimal("1e-18"))
    assert got["value"][0] == float(want)


def _weighted_frame(shares, weights, values):
    """A two-successor mapping A..D -> X, Y with the given edges' shares, weights and values."""
    old = sorted(weights)
    ms = mapping_set({"old": [(c, c) for c in old], "new": [("X", "X"), ("Y", "Y")]},
                     [("m", "old", "new", shares)])
    scores = scores_from_rows([(2020, c, "a", v) for c, v in values.items()], "old")
    return ms, scores, pl.DataFrame({"code": old, "weight": [weights[c] for c in old]})


@pytest.mark.parametrize("weights", [
    {"A": -1.0, "B": -3.0, "C": 2.0, "D": 1.0},  # sums to -4: used to give 0.3124999...
    {"A": 0.0, "B": 0.0, "C": 2.0, "D": 1.0},  # sums to 0
    {"A": 5e-324, "B": 5e-324, "C": 2.0, "D": 1.0},  # x 0.25 underflows to 0
])
@pytest.mark.parametrize("audit", [True, False])
def test_weights_summing_to_zero_or_less_are_refused_not_divided(weights, audit) -> None:
    from mergetool.errors import InputError

    share = 0.25 if weights["A"] == 5e-324 else 1.0
    ms, scores, w = _weighted_frame(
        [("A", "X", share), ("B", "X", share), ("C", "Y", 1.0), ("D", "Y", 1.0)], weights,
        {"A": 0.5, "B": 0.25, "C": 0.75, "D": 0.1})
    with pytest.raises(InputError) as err:
        rebase(scores, ms, "new", methods={"*": "weighted"}, weights=w, audit=audit)
    assert err.value.problems[0].code == "zero-weight"
    assert "X" in err.value.problems[0].message


def test_weights_of_mixed_sign_with_a_positive_sum_give_the_exact_mean() -> None:
    ms, scores, w = _weighted_frame(
        [("A", "X", 1.0), ("B", "X", 1.0), ("C", "Y", 1.0), ("D", "Y", 1.0)],
        {"A": -1.0, "B": 3.0, "C": 2.0, "D": -1.0}, {"A": 0.5, "B": 0.25, "C": 0.75, "D": 0.1})
    got = rebase(scores, ms, "new", methods={"*": "weighted"}, weights=w).values
    assert [str(v) for v in got["value_exact"]] == ["0.125000000000000000", "1.400000000000000000"]


def test_a_lower_limb_on_no_first_edge_is_summed_as_floats() -> None:
    """A share of 0.5 - 2**-50 puts a lower limb on a split unit's second edge only: the rows of
    first edges with that limb are none, and their (empty) sum must still be a float sum."""
    ms, scores, w = _weighted_frame(
        [("A", "X", 0.5), ("A", "Y", 0.5 - 2.0**-50), ("B", "X", 1.0), ("C", "Y", 1.0)],
        {"A": 1.0, "B": 1.0, "C": 1.0}, {"A": 0.5, "B": 0.25, "C": 0.75})
    for audit in (True, False):
        got = rebase(scores, ms, "new", methods={"*": "weighted"}, weights=w, audit=audit).values
        assert [str(v) for v in got["value_exact"]] == ["0.333333333333333333",
                                                        "0.666666666666666765"]


def test_an_indicator_run_across_years_is_slotted_by_each_rows_year() -> None:
    """Rows sorted by year whose indicator runs cross a year (one indicator, several years) are
    not read as one slot per run: each row keeps its own year."""
    rows = [(year, code, "dti", v) for year, vals in ((2021, (0.5, 0.25, 0.75)),
                                                      (2022, (0.125, 0.375, 0.625)))
            for code, v in zip(("01", "02", "03"), vals, strict=True)]
    scores = scores_from_rows(rows, "old")
    assert scores["year"].is_sorted()
    assert scores["indicator"].n_unique() == 1
    got = _values(rebase(scores, two_into_one(), "new"))
    assert got == {(2021, "dti", "01"): 0.375, (2021, "dti", "03"): 0.75,
                   (2022, "dti", "01"): 0.25, (2022, "dti", "03"): 0.625}


def _pairs_30():
    """u00 .. u29 merge in pairs: u00 and u01 into P00, ..."""
    old = [(f"u{k:02d}", f"U{k:02d}") for k in range(30)]
    new = [(f"P{k:02d}", f"P{k:02d}") for k in range(15)]
    return mapping_set({"old": old, "new": new},
                       [("m", "old", "new", [(c, f"P{k // 2:02d}", 1.0)
                                             for k, (c, _) in enumerate(old)])])


@pytest.mark.parametrize("rows", [
    # one long run holding u28 twice and lacking u29 (the other half of P14)
    [(2021, f"u{k:02d}", "a", 0.5) for k in range(29)] + [(2021, "u28", "a", 0.5)],
    # the same: u28 again in a later run of the same (year, indicator), each run sorted
    [(2021, f"u{k:02d}", ind, 0.5) for ind in ("a", "b") for k in range(29)]
    + [(2021, "u28", "a", 0.5), (2021, "u29", "b", 0.5)],
])
def test_a_unit_repeated_within_or_across_runs_is_refused(rows) -> None:
    """Long runs of one slot are checked run by run; a repeat inside a run or a slot split over
    two runs falls back to the full check, and is refused."""
    from mergetool.errors import InputError

    with pytest.raises(InputError) as err:
        rebase(scores_from_rows(rows, "old"), _pairs_30(), "new", policy="partial")
    assert err.value.problems[0].code == "duplicate-row"
