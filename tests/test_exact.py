"""The engine's exact arithmetic: value_exact is the exact result rounded half-up at 18 decimals,
value is that decimal as a float, and no bit of the output depends on the order of the rows."""

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from helpers import mapping_set, two_into_one
from hypothesis import given, settings
from hypothesis import strategies as st

from mergetool.core.exact import (
    DEC,
    exact_series,
    int_quotients,
    mean_exact,
    nearest_float,
    quotient_tables,
    read_decimal,
    round_quotient,
    scaled_decimal,
    scaled_quotient,
    table_quotient,
    to_decimal,
)
from mergetool.core.rebase import RESULT_COLUMNS, rebase
from mergetool.core.synth import synth_mapping
from mergetool.errors import InputError
from mergetool.io.scores import scores_from_rows


def _half_up(q: Fraction) -> Decimal:
    """The exact rational rounded half-up (away from zero) at 18 decimals."""
    sign = -1 if q < 0 else 1
    scaled = abs(q) * 10**18
    whole = scaled.numerator // scaled.denominator
    if (scaled - whole) * 2 >= 1:
        whole += 1
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(sign * whole).scaleb(-18)


def _dec(v: float) -> Fraction:
    return Fraction(Decimal(repr(v)))


def test_value_exact_is_the_decimal_mean_rounded_half_up_at_18() -> None:
    scores = scores_from_rows([(2024, "01", "dti", 0.8335), (2024, "02", "dti", 0.5804),
                               (2024, "03", "dti", 0.5)], "old")
    row = rebase(scores, two_into_one(), "new").values.filter(pl.col("code") == "01").row(0, named=True)
    assert row["value_exact"] == Decimal("0.706950000000000000")  # exactly, not 0.70694999...
    assert row["value"] == 0.70695
    # 4-decimal half-up from the exact value is 0.7070; from the float it could be either
    assert row["value_exact"].quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) == Decimal("0.7070")


def test_result_columns_keep_their_order_and_gain_value_exact() -> None:
    scores = scores_from_rows([(2024, "01", "dti", 0.8), (2024, "02", "dti", 0.6),
                               (2024, "03", "dti", 0.5)], "old")
    values = rebase(scores, two_into_one(), "new").values
    assert tuple(values.columns) == RESULT_COLUMNS
    # the exact value stands beside the float; every earlier column keeps its order
    assert RESULT_COLUMNS[RESULT_COLUMNS.index("value") + 1] == "value_exact"
    assert tuple(c for c in RESULT_COLUMNS if c != "value_exact") == (
        "year", "basis", "code", "indicator", "value", "method", "n_expected", "n_used", "missing",
        "status")
    assert values.schema["value_exact"] == DEC
    assert values.schema["value"] == pl.Float64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**6, 10**6), st.integers(1, 40)), min_size=1, max_size=30),
       st.integers(0, 8))
def test_mean_quotient_is_exact_and_its_float_is_the_decimal_as_float(cases, d) -> None:
    """The engine's mean: :func:`mean_exact` (int64 at 10**18 and its float), or where a mean is
    9 or more the 128-bit :func:`round_quotient` (no float: the caller converts the decimal)."""
    s = np.array([a * n for a, n in cases], dtype=np.int64) + np.array([n // 3 for _a, n in cases])
    n = np.array([n for _a, n in cases], dtype=np.int64)
    fast = mean_exact(s, n, d)
    if fast is None:
        a, c = round_quotient(pl.Series(s).cast(pl.Int128), pl.Series(n * 10**d).cast(pl.Int128))
        f = np.full(s.size, np.nan)
        dec = to_decimal(a, c)
    else:
        q, f = fast
        dec = scaled_decimal(pl.Series(q))
    for i in range(s.size):
        assert dec[i] == _half_up(Fraction(int(s[i]), int(n[i]) * 10**d))
    as_float = dec.cast(pl.Float64).to_numpy()
    known = ~np.isnan(f)
    assert (f[known] == as_float[known]).all()
    assert (as_float == np.array([float(x) for x in dec.to_list()])).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**100), 2**100), st.integers(1, 2**80)), min_size=1,
                max_size=20))
def test_round_quotient_is_exact_in_128_bits(cases) -> None:
    cases = [(a, b) for a, b in cases if abs(Fraction(a, b)) < 9 * 10**18]
    if not cases:
        return
    a, c = round_quotient(pl.Series([a for a, _ in cases], dtype=pl.Int128),
                          pl.Series([b for _, b in cases], dtype=pl.Int128))
    dec = to_decimal(a, c)
    for i, (num, den) in enumerate(cases):
        assert dec[i] == _half_up(Fraction(num, den))


def _near_boundaries(draw_ints: list[int]) -> list[int]:
    """10**18 x decimals at and around the rounding boundaries between floats (and at powers of
    two, where the gap below halves): where the float of a decimal is hardest to get right."""
    out = []
    for k in draw_ints:
        f = (k % 9_000_000 + 1) / 1_000_000.0  # a float in (0, 9]
        for b in (Fraction(f) + Fraction(float(np.spacing(f))) / 2,
                  Fraction(2) ** (k % 13 - 9)):
            centre = round(b * 10**18)
            out += [centre + j for j in (-2, -1, 0, 1, 2)]
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(9 * 10**18), 9 * 10**18), min_size=1, max_size=40),
       st.lists(st.integers(0, 10**9), min_size=1, max_size=10))
def test_nearest_float_is_the_correctly_rounded_float_of_the_decimal(qs, seeds) -> None:
    q = np.array(qs + _near_boundaries(seeds) + [-x for x in _near_boundaries(seeds)],
                 dtype=np.int64)
    f = nearest_float(q)
    known = ~np.isnan(f)  # NaN: the caller converts the decimal itself
    for qi, fi in zip(q[known].tolist(), f[known].tolist(), strict=True):
        assert fi == float(Fraction(qi, 10**18))  # Python's conversion is correctly rounded
    # ordinary results are decided by the test, not left to the slow conversion
    assert not np.isnan(nearest_float(np.array([706950000000000000, -123456789012345678]))).any()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**90), 2**90), st.integers(1, 2**80)), min_size=1,
                max_size=20), st.integers(0, 8))
def test_scaled_quotient_is_the_quotient_rounded_half_up_at_18(cases, d) -> None:
    num = pl.Series([a for a, _ in cases], dtype=pl.Int128)
    den = pl.Series([b for _, b in cases], dtype=pl.Int128)
    q = scaled_quotient(num, den, d)
    exact = [_half_up(Fraction(a, b * 10**d)) for a, b in cases]
    if q is None:  # only when some |result| is 9 or more
        assert max(abs(e) for e in exact) >= 9 - Decimal("1e-18")
        return
    assert [Decimal(int(x)).scaleb(-18) for x in q] == exact


def test_a_large_value_beside_float_noise_is_read_exactly_or_refused() -> None:
    """12345.6 beside 0.30000000000000004 (17 decimals) is read exactly; 1e25 beside it would need
    more than 38 digits: refused (number-not-exact), never a polars error or a rounded sum."""
    x, d, _inexact = read_decimal(np.array([12345.6, 0.30000000000000004]))
    assert d == 17
    assert [int(i) for i in x] == [1234560 * 10**15, 30000000000000004]
    with pytest.raises(OverflowError):
        read_decimal(np.array([1e25, 0.30000000000000004]))
    rows = [(2024, "01", "dti", 1e25), (2024, "02", "dti", 0.30000000000000004),
            (2024, "03", "dti", 0.5)]
    with pytest.raises(InputError) as err:
        rebase(scores_from_rows(rows, "old"), two_into_one(), "new")
    assert err.value.problems[0].code == "number-not-exact"


def test_values_read_as_the_decimals_they_were_written_as() -> None:
    x, d, inexact = read_decimal(np.array([0.1, 0.25, 0.8335, 1.0]))
    assert d == 4
    assert list(x) == [1000, 2500, 8335, 10000]
    assert not inexact.any()
    assert exact_series(pl.Series([0.1, None, 0.30000000000000004])).to_list() == [
        Decimal("0.1"), None, Decimal("0.30000000000000004")]


def test_a_value_with_more_than_18_decimals_is_refused_when_combined() -> None:
    scores = scores_from_rows([(2024, "01", "x", 1.5e-20), (2024, "02", "x", 0.5),
                               (2024, "03", "x", 0.5)], "old")
    with pytest.raises(InputError) as err:
        rebase(scores, two_into_one(), "new")
    assert err.value.problems[0].code == "number-not-exact"
    # alone it passes through untouched (an identity mapping changes nothing)
    lone = scores_from_rows([(2024, "01", "x", 1.5e-20), (2024, "03", "x", 0.5)], "old")
    alone = rebase(lone, two_into_one(), "new", policy="partial").values
    assert alone["value"].to_list() == [1.5e-20, 0.5]


def _shuffled_bytes(method: str, seed: int) -> tuple[bytes, bytes]:
    ms = synth_mapping(400, 120, split_fraction=0.3, identity_fraction=0.1, seed=3)
    codes = sorted(ms.bases["old"].codes)
    rng = np.random.default_rng(7)
    n = len(codes) * 3 * 2
    frame = pl.DataFrame({
        "year": np.repeat(np.array([2022, 2023, 2024], dtype=np.int32), len(codes) * 2),
        "code": np.tile(np.array(codes), 6),
        "indicator": np.tile(np.repeat(np.array(["a", "b"]), len(codes)), 3),
        # 6 decimals, some missing, so that sums, means and gaps all occur
        "value": np.where(rng.random(n) < 0.05, np.nan, np.round(rng.uniform(-5, 5, n), 6)),
    }).with_columns(pl.col("value").fill_nan(None), basis=pl.lit("old"))
    weights = pl.DataFrame({"code": codes, "weight": rng.uniform(1, 1e6, len(codes))})
    perm = np.random.default_rng(seed).permutation(frame.height)
    frame = frame[perm]
    w = weights[np.random.default_rng(seed + 1).permutation(weights.height)]
    result = rebase(frame, ms, "new", methods={"*": method}, policy="partial",
                    weights=w if method == "weighted" else None)
    return result.values.write_csv().encode(), result.audit.write_csv().encode()


@pytest.mark.parametrize("method", ["mean", "weighted", "sum"])
def test_shuffled_input_rows_give_byte_identical_csv(method) -> None:
    first = _shuffled_bytes(method, 0)
    for seed in (1, 2):
        assert _shuffled_bytes(method, seed) == first


def test_weighted_mean_is_exact_for_the_float_weights() -> None:
    """weighted = sum(a * v) / sum(a) with a = w * share as float64, then exact arithmetic."""
    ms = mapping_set({"old": [("01", "A"), ("02", "B"), ("03", "C")], "new": [("01", "N"), ("02", "M")]},
                     [("m", "old", "new", [("01", "01", 1.0), ("02", "01", 0.7), ("02", "02", 0.3),
                                           ("03", "02", 1.0)])])
    vals = {"01": 0.1234, "02": 0.9876, "03": 0.5}
    w = {"01": 123457.0, "02": 0.3333, "03": 77.0}
    scores = scores_from_rows([(2024, c, "x", v) for c, v in vals.items()], "old")
    weights = pl.DataFrame({"code": list(w), "weight": list(w.values())})
    got = rebase(scores, ms, "new", methods={"*": "weighted"}, weights=weights).values
    for succ, preds in (("01", [("01", 1.0), ("02", 0.7)]), ("02", [("02", 0.3), ("03", 1.0)])):
        a = [Fraction(w[p] * s) for p, s in preds]
        exact = sum(ai * _dec(vals[p]) for ai, (p, _s) in zip(a, preds, strict=True)) / sum(a)
        row = got.filter(pl.col("code") == succ).row(0, named=True)
        assert row["value_exact"] == _half_up(exact)
        assert row["value"] == float(row["value_exact"])


def test_rebase_file_writes_identical_bytes_for_shuffled_input_rows(tmp_path) -> None:
    from mergetool.core.mapping import load_mappings
    from mergetool.core.rebase import rebase_file

    ms = load_mappings()
    codes = sorted(ms.bases["vn-province-2024"].codes)
    rng = np.random.default_rng(11)
    rows = pl.DataFrame({
        "year": np.repeat(np.array([2021, 2022]), len(codes) * 2),
        "unit": np.tile(np.array(codes), 4),
        "indicator": np.tile(np.repeat(np.array(["dti", "awareness"]), len(codes)), 2),
        "value": np.round(rng.uniform(0, 1, len(codes) * 4), 4),
    })
    outputs = []
    for seed in (0, 1):
        src = tmp_path / f"scores{seed}.csv"
        rows[np.random.default_rng(seed).permutation(rows.height)].write_csv(src)
        out = tmp_path / f"out{seed}.csv"
        rebase_file(src, ms, "vn-province-2025", output=out, audit=tmp_path / f"audit{seed}.csv")
        outputs.append((out.read_bytes(), (tmp_path / f"audit{seed}.csv").read_bytes()))
    assert outputs[0] == outputs[1]
    assert b"value_exact" in outputs[0][0].splitlines()[0]


def test_year_chunks_of_shuffled_rows_give_the_same_bytes(monkeypatch) -> None:
    import mergetool.core.rebase as rebase_module

    whole = _shuffled_bytes("mean", 4)
    monkeypatch.setattr(rebase_module, "CHUNK_ROWS", 50)  # rows not in year order: filtered by year
    assert _shuffled_bytes("mean", 4) == whole


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 1).map(lambda v: round(v, 4)),
                          st.floats(0.001, 1e7)), min_size=1, max_size=12),
       st.sampled_from(["strict", "partial"]))
def test_weighted_agrees_with_the_oracle(units, policy) -> None:
    from mergetool.core.oracle import simple_rebase

    codes = [f"{i:02d}" for i in range(1, len(units) + 1)]
    pairs = []
    for code, (target, _v, _w) in zip(codes, units, strict=True):
        t = f"{min(target, len(codes) - 1) + 1:02d}"
        if target % 2 and t != "01":  # a split between t and 01
            pairs += [(code, t, 0.7), (code, "01", 0.30000000000000004)]
        else:
            pairs.append((code, t, 1.0))
    new = sorted({b for _a, b, _s in pairs} | {"01"})
    pairs += [(c, c, 1.0) for c in new if c not in {a for a, _b, _s in pairs}]
    olds = sorted({a for a, _b, _s in pairs})
    ms = mapping_set({"old": [(c, c) for c in olds], "new": [(c, c) for c in new]},
                     [("m", "old", "new", pairs)])
    if not ms.valid:
        return
    vals = {c: u[1] for c, u in zip(codes, units, strict=True)}
    w = {c: (units[i][2] if i < len(units) else 1.0) for i, c in enumerate(olds)}
    rows = [(2024, c, "x", vals[c]) for c in olds if c in vals]
    result = rebase(scores_from_rows(rows, "old"), ms, "new", methods={"*": "weighted"},
                    policy=policy, weights=pl.DataFrame({"code": list(w), "weight": list(w.values())}))
    expected = simple_rebase({(2024, "x", c): v for c, v in vals.items() if c in olds}, pairs,
                             "weighted", policy, w)
    got = {(y, i, c): v for y, i, c, v in result.values.select("year", "indicator", "code", "value")
           .iter_rows()}
    assert set(got) == set(expected)
    for key, v in expected.items():
        assert got[key] == (pytest.approx(v, rel=1e-12, abs=1e-12) if v is not None else None)


def test_engine_counts_unknown_shares_for_mean_and_refuses_them_for_sum() -> None:
    from mergetool.core.rebase import rebase_step

    ms = two_into_one()
    (step,) = ms.transitions
    divided = step.edges.with_columns(  # 02 Beta divided between 01 and 03, shares unknown
        share=pl.when(pl.col("from_code") == "02").then(None).otherwise(pl.col("share")))
    divided = pl.concat([divided, pl.DataFrame({"from_code": ["02"], "to_code": ["03"],
                                                "share": [None]}, schema=divided.schema)])
    step = replace(step, edges=divided)
    current = scores_from_rows([(2024, "01", "dti", 0.8), (2024, "02", "dti", 0.6),
                                (2024, "03", "dti", 0.5)], "old").select(
        "year", "basis", "code", "indicator", "value").with_columns(partial=pl.lit(False))
    values, audit = rebase_step(current, step, {"*": "mean"}, "strict", None)
    got = dict(values.select("code", "value_exact").iter_rows())
    assert got == {"01": Decimal("0.7"), "03": Decimal("0.55")}  # Beta counts in both
    assert audit.filter(pl.col("predecessor_code") == "02")["share"].is_null().all()
    with pytest.raises(InputError) as err:
        rebase_step(current, step, {"*": "sum"}, "strict", None)
    assert err.value.problems[0].code == "missing-share"


def _table_case(dens: list[int], los: list[int], cells: list[tuple[int, list[int]]], d: int
                ) -> tuple[np.ndarray, np.ndarray, list[Fraction]]:
    """q and sure of :func:`table_quotient` for cells ``(group, parts)``, and each exact Y."""
    limb_den = np.array([[1 if any(p[col] for g, p in cells if g == k) else 0
                          for col in range(len(los))] for k in range(len(dens))], dtype=np.int64)
    tables = quotient_tables(pl.Series(dens, dtype=pl.Int128), limb_den, los, d)
    assert tables is not None
    parts = [np.array([p[col] for _g, p in cells], dtype=np.int64) for col in range(len(los))]
    q, sure = table_quotient(parts, np.array([g for g, _p in cells], dtype=np.int64), *tables)
    exact = [Fraction(sum(p * 2**lo for p, lo in zip(ps, los, strict=True)) * 10 ** (18 - d), dens[g])
             for g, ps in cells]
    return q, sure, exact


def _round_half_up(y: Fraction) -> int:
    return (2 * y.numerator + y.denominator) // (2 * y.denominator)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 18), st.lists(st.integers(0, 64), min_size=1, max_size=3,
                                                unique=True))
def test_table_quotient_is_the_exact_quotient_rounded_half_up(data, d, los) -> None:
    """Where it says sure, q is Y = sum_l P_l 2**lo_l 10**(18-d) / D rounded half-up, exactly."""
    top = max(los)
    dens = data.draw(st.lists(st.integers(2**top, 2**94), min_size=1, max_size=4))
    e = 10 ** (18 - d)
    cells = []
    for _ in range(data.draw(st.integers(1, 30))):
        g = data.draw(st.integers(0, len(dens) - 1))
        # parts small enough that Y < 2**63 (as a mean below 9 guarantees in the engine)
        room = [max(0, min(2**53 - 1, (2**62 * dens[g]) // (len(los) * 2**lo * e))) for lo in los]
        cells.append((g, [data.draw(st.integers(0, r)) for r in room]))
    q, sure, exact = _table_case(dens, los, cells, d)
    for qi, si, y in zip(q.tolist(), sure.tolist(), exact, strict=True):
        if si:
            assert qi == _round_half_up(y)
    assert sure.mean() > 0.5 or len(cells) < 8  # the fallback is for the rare boundary cells


def test_table_quotient_never_guesses_a_tie() -> None:
    """Y = 10**14 / 2**15 = 3051757812.5 exactly: a tie is either rounded up, or left unsure."""
    q, sure, exact = _table_case([2**15, 3, 2**15 * 5**3], [0],
                                 [(0, [1]), (1, [1]), (1, [2]), (2, [7])], 4)
    for qi, si, y in zip(q.tolist(), sure.tolist(), exact, strict=True):
        assert not si or qi == _round_half_up(y)
    assert q[0] == 3051757813 or not sure[0]
    assert sure[1]
    assert q[1] == _round_half_up(Fraction(10**14, 3))
    # ties whose fraction is not a binary one: 3/6, 15/6, 7/14, 5/10 (at d = 18, Y = N / D)
    q, sure, exact = _table_case([6, 14, 10], [0], [(0, [3]), (0, [15]), (1, [7]), (2, [5])], 18)
    assert [y - int(y) for y in exact] == [Fraction(1, 2)] * 4
    for qi, si, y in zip(q.tolist(), sure.tolist(), exact, strict=True):
        assert not si or qi == _round_half_up(y)


def test_table_quotient_agrees_with_the_long_division_on_many_cells() -> None:
    """A million cells of two limbs against :func:`round_quotient` in 128-bit integers."""
    rng = np.random.default_rng(12)
    dens = [int(x) for x in rng.integers(2**40, 2**62, 500)] + [2**70 + 12345, 3 * 2**60]
    los = [0, 34]
    n = 1_000_000
    g = rng.integers(0, len(dens), n)
    # P_1 * 2**34 + P_0 < 8 * den: means below 8 at d = 4
    room = np.array([(x * 8 >> 34) - 1 for x in dens], dtype=np.int64)
    p1 = (rng.random(n) * room[g]).astype(np.int64)
    p0 = rng.integers(0, 2**34, n)
    limb_den = np.ones((len(dens), 2), dtype=np.int64)
    tables = quotient_tables(pl.Series(dens, dtype=pl.Int128), limb_den, los, 4)
    assert tables is not None
    q, sure = table_quotient([p0, p1], g, *tables)
    num = pl.Series(p1).cast(pl.Int128) * pl.Series([2**34], dtype=pl.Int128) + pl.Series(p0).cast(pl.Int128)
    expected = scaled_quotient(num, pl.Series(dens, dtype=pl.Int128).gather(g), 4)
    assert expected is not None
    assert np.array_equal(q[sure], expected[sure])
    assert sure.sum() > n * 0.99


@pytest.mark.parametrize("policy", ["strict", "partial"])
def test_weighted_by_quotient_tables_gives_the_bytes_of_the_long_division(monkeypatch, policy) -> None:
    """The complete cells of a weighted mean, divided by their successors' tables, give the same
    values, decimals and audit as 128-bit long division; cells with gaps are divided as before."""
    import mergetool.core.rebase as rebase_module

    ms = synth_mapping(600, 200, split_fraction=0.3, identity_fraction=0.1, seed=8)
    codes = sorted(ms.bases["old"].codes)
    rng = np.random.default_rng(9)
    n = len(codes) * 4
    frame = pl.DataFrame({
        "year": np.repeat(np.array([2021, 2022], dtype=np.int32), len(codes) * 2),
        "code": np.tile(np.array(codes), 4),
        "indicator": np.tile(np.repeat(np.array(["a", "b"]), len(codes)), 2),
        # 4 decimals, a few ties (equal weights, values an odd step apart) and gaps
        "value": np.where(rng.random(n) < 0.03, np.nan, np.round(rng.uniform(0, 1, n), 4)),
    }).with_columns(pl.col("value").fill_nan(None), basis=pl.lit("old"))
    w = rng.uniform(1, 1e6, len(codes))
    w[::7] = 1.0
    weights = pl.DataFrame({"code": codes, "weight": w})
    used = []
    real = rebase_module._table_weighted

    def spy(*args):
        got = real(*args)
        used.append(got is not None)
        return got

    monkeypatch.setattr(rebase_module, "_table_weighted", spy)
    fast = rebase(frame, ms, "new", methods={"*": "weighted"}, policy=policy, weights=weights)
    assert used
    assert all(used)
    monkeypatch.setattr(rebase_module, "_table_weighted", lambda *args: None)
    slow = rebase(frame, ms, "new", methods={"*": "weighted"}, policy=policy, weights=weights)
    assert fast.values.equals(slow.values)
    assert fast.audit.equals(slow.audit)
    assert (fast.values["status"] == "ok").sum() > 0.5 * fast.values.height


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**90), 2**90), st.integers(1, 2**80)), min_size=1,
                max_size=20), st.integers(0, 8))
def test_few_quotients_in_python_integers_round_as_the_long_division(cases, d) -> None:
    """The weighted path divides a few cells in Python integers: the same numbers as
    :func:`scaled_quotient`, ties (half away from zero) and the limit of 9 included."""
    cases = [*cases, (-5 * 10**d, 10**18 * 2), (5 * 10**d, 10**18 * 2)]  # ties at 18 digits
    nums, dens = [a for a, _ in cases], [b for _, b in cases]
    mine = int_quotients(nums, dens, d)
    ref = scaled_quotient(pl.Series(nums, dtype=pl.Int128), pl.Series(dens, dtype=pl.Int128), d)
    assert (mine is None) == (ref is None)
    if ref is not None:
        assert mine is not None
        assert mine.tolist() == ref.tolist()


def test_weighted_cells_left_to_division_are_the_same_few_or_many(monkeypatch) -> None:
    """Incomplete and unsure cells of a weighted rebase: divided in Python integers when few,
    by 128-bit frames when many; the results are byte-identical either way."""
    import mergetool.core.rebase as rebase_module

    ms = synth_mapping(400, 120, split_fraction=0.3, identity_fraction=0.1, seed=3)
    codes = ms.transitions[0].edges["from_code"].unique().sort().to_list()
    rng = np.random.default_rng(3)
    rows = [(2020 + y, c, f"i{k}", round(float(rng.uniform(0, 1)), 4))
            for y in range(2) for k in range(3) for c in codes if rng.uniform() > 0.02]
    scores = scores_from_rows(rows, "old")
    weights = pl.DataFrame({"code": codes, "weight": rng.uniform(1, 1e6, len(codes))})
    out = []
    for few in (10**9, 0):
        monkeypatch.setattr(rebase_module, "FEW_CELLS", few)
        got = rebase(scores, ms, "new", methods={"*": "weighted"}, weights=weights,
                     policy="partial")
        out.append((got.values.write_csv(), got.audit.write_csv()))
    assert out[0] == out[1]
    assert "partial" in out[0][0]  # some cells were short of predecessors
