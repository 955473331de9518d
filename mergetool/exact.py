"""Exact sums and quotients on scaled integers, vectorised: the arithmetic of the rebase engine.

A value ``v`` (float64) is read as the decimal ``X / 10**d`` it was written as: ``d`` is the
smallest scale (0-18) at which every value of the input is the float nearest such a decimal
(0.8335 -> 8335 / 10**4). Sums of those integers are exact and do not depend on the order of the
rows. A quotient ``N / D`` of exact integers is rounded half-up (away from zero on a tie) once, at
the 18th decimal, and kept as an integer part ``A`` and an 18-digit fraction ``C``; the float
``value`` is that decimal converted with correct rounding.

Limits (checked; beyond them the caller refuses the input, it never rounds silently):

* a value needs at most 18 decimal places, and |value| * 10**d < 2**127 / (number of terms);
* a result must satisfy |result| < 2**63 / 10**18, about 9.2e18 (the integer part is an int64).

Fast path (the mean of index-like data): |X| < 2**51 per value and every cell's sum of |X| below
2**53, so a float64 ``np.bincount`` adds integers exactly. Otherwise sums are 128-bit integer
sums (polars group-by on an integer key).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

MAX_SCALE = 18
#: |X| below this: X / 10**d is read back from the float uniquely and rint(v * 10**d) is exact.
READ_LIMIT = 2**51
#: Integer-valued float64 partial sums below this are exact.
FLOAT_EXACT = 2**53
INT64_MAX = 2**63 - 1
RESULT_LIMIT = INT64_MAX  # bound of the integer part of a result
DEC = pl.Decimal(38, MAX_SCALE)
_ONE_E_MINUS_18 = pl.lit(Decimal("1e-18"), DEC)


def _readable(v: np.ndarray, d: int) -> bool:
    p = 10.0 ** d
    x = np.rint(v * p)
    return bool((np.abs(x) < READ_LIMIT).all() and (x / p == v).all())


def decimal_scale(v: np.ndarray) -> int | None:
    """The smallest scale ``d`` <= 18 at which every value is exactly ``X / 10**d`` with
    |X| < 2**51; None when there is none (the caller then reads the shortest repr instead).

    Depends on the set of values only, never on their order.
    """
    if v.size == 0:
        return 0
    # A deterministic sample guides the search; the full check decides.
    sample = v[:: max(1, v.size // 997)]
    d = next((k for k in range(MAX_SCALE + 1) if _readable(sample, k)), None)
    if d is None:
        return None
    for k in range(d, MAX_SCALE + 1):
        if _readable(v, k):
            return k
    return None


def read_decimal(v: np.ndarray) -> tuple[np.ndarray | pl.Series, int, np.ndarray]:
    """``(X, d, inexact)``: the values as integers at scale ``d``.

    X is an int64 array on the fast path, else an Int128 polars Series read from each value's
    shortest repr (what a CSV holding it would say). ``inexact`` marks values needing more than
    18 decimal places: they are rounded half-up at 18 and the caller may use them only alone.
    """
    d = decimal_scale(v)
    if d is not None:
        return np.rint(v * 10.0 ** d).astype(np.int64), d, np.zeros(v.size, dtype=bool)
    uniq = np.unique(v)
    scales = {}
    for x in uniq.tolist():
        exp = Decimal(repr(x)).as_tuple().exponent
        scales[x] = -exp if isinstance(exp, int) and exp < 0 else 0
    d = min(MAX_SCALE, max(scales.values(), default=0))
    inexact_vals = np.array([x for x, s in scales.items() if s > MAX_SCALE], dtype=np.float64)
    inexact = np.isin(v, inexact_vals) if inexact_vals.size else np.zeros(v.size, dtype=bool)
    x = pl.DataFrame({"v": v}).select(
        (pl.col("v").cast(pl.String).cast(pl.Decimal(38, d))
         * pl.lit(Decimal(10) ** d, pl.Decimal(38, 0))).cast(pl.Int128))["v"]
    return x, d, inexact


def round_quotient(num: pl.Series, den: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """``round_half_up(num / den)`` at 18 decimals as (integer part, 18-digit fraction), both
    int64 carrying the sign of the result; ``num`` and ``den`` (> 0) are Int128 series.

    Long division in 128-bit integers, a few digits at a time, so nothing overflows while
    ``den`` < 2**122. Raises OverflowError when a result's integer part exceeds an int64.
    """
    frame = pl.DataFrame({"n": num.cast(pl.Int128), "d": den.cast(pl.Int128)})
    top = int(frame["d"].max() or 1)
    step = len(str(2**126 // max(top, 1))) - 2
    if step < 1:
        raise OverflowError("a denominator exceeds 2**122")
    frame = frame.with_columns(s=pl.col("n").sign().cast(pl.Int64), m=pl.col("n").abs())
    frame = frame.with_columns(a=pl.col("m") // pl.col("d"), r=pl.col("m") % pl.col("d"),
                               c=pl.lit(0, pl.Int128))
    digits = MAX_SCALE
    while digits:
        k = min(step, digits)
        frame = frame.with_columns(r=pl.col("r") * pl.lit(10 ** k, pl.Int128)).with_columns(
            c=pl.col("c") * pl.lit(10 ** k, pl.Int128) + pl.col("r") // pl.col("d"),
            r=pl.col("r") % pl.col("d"))
        digits -= k
    frame = frame.with_columns(c=pl.col("c") + (pl.col("r") * 2 >= pl.col("d")).cast(pl.Int128))
    carry = pl.col("c") >= pl.lit(10 ** MAX_SCALE, pl.Int128)
    frame = frame.with_columns(a=pl.col("a") + carry.cast(pl.Int128),
                               c=pl.when(carry).then(pl.lit(0, pl.Int128)).otherwise(pl.col("c")))
    if frame.height and int(frame["a"].max() or 0) > RESULT_LIMIT:
        raise OverflowError("a result exceeds 9.2e18")
    sign = frame["s"].to_numpy()
    return frame["a"].cast(pl.Int64).to_numpy() * sign, frame["c"].cast(pl.Int64).to_numpy() * sign


def mean_quotient(s: np.ndarray, n: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean ``s / (n * 10**d)`` of int64 sums, for ``|s| < 2**53`` and ``n * 10**d < 2**53``:
    (integer part, fraction, float value) like :func:`round_quotient`, all in numpy.

    The float is ``s / (n * 10**d)`` (one correctly rounded division of exact floats), except
    where rounding at 18 decimals first could change it: those entries are NaN and the caller
    converts the decimal itself (about 1 in 250 for values near 1).
    """
    den = n.astype(np.int64) * 10 ** d
    sign = np.where(s < 0, -1, 1)
    mag = np.abs(s)
    a = mag // den
    cur = mag - a * den
    c = np.zeros_like(mag)
    digits = MAX_SCALE
    top = int(den.max()) if den.size else 1
    step = max(1, min(digits, len(str(INT64_MAX // max(top, 1))) - 1))
    while digits:
        k = min(step, digits)
        cur = cur * 10 ** k
        c = c * 10 ** k + cur // den
        cur = cur % den
        digits -= k
    c += (2 * cur >= den)
    carry = c >= 10 ** MAX_SCALE
    a = a + carry
    c = np.where(carry, 0, c)
    value = _checked_division(s.astype(np.float64), den.astype(np.float64))
    return a * sign, c * sign, value


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's error-free product: a * b == p + e exactly."""
    p = a * b
    split = 134217729.0  # 2**27 + 1
    ta = split * a
    ah = ta - (ta - a)
    al = a - ah
    tb = split * b
    bh = tb - (tb - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _checked_division(s: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``s / den`` where that equals the correctly rounded float of the 18-decimal rounding of
    the exact quotient; NaN where the exact quotient lies within 2e-18 of a rounding boundary
    between two floats (there the two roundings might disagree)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = s / den
        p, e = _two_product(f, den)
        res = (s - p) - e  # the exact residual s - f * den (representable for a rounded quotient)
        offset = res / den  # exact quotient minus f, to ~1e-16 relative
        up = np.nextafter(f, np.inf) - f
        down = f - np.nextafter(f, -np.inf)
        half = np.where(offset >= 0, up, down) / 2
        # 5e-19 is the most rounding at 18 decimals can move; the rest covers the error of offset.
        risky = (half - np.abs(offset)) < 2e-18 + half * 2.0**-40
    return np.where(risky, np.nan, f)


def to_decimal(a: np.ndarray, c: np.ndarray) -> pl.Series:
    """Decimal(38, 18) from integer parts and 18-digit fractions (same sign)."""
    frame = pl.DataFrame({"a": a, "c": c})
    return frame.select(
        v=pl.col("a").cast(DEC) + pl.col("c").cast(pl.Decimal(38, 0)) * _ONE_E_MINUS_18)["v"]


def exact_series(values: pl.Series) -> pl.Series:
    """Each float value as the exact decimal it reads as (Decimal(38, 18), nulls kept)."""
    present = values.is_not_null()
    v = values.filter(present).cast(pl.Float64).to_numpy()
    x, d, _inexact = read_decimal(v)
    num = pl.Series(x) if isinstance(x, np.ndarray) else x
    a, c = round_quotient(num, pl.Series([10 ** d] * v.size, dtype=pl.Int128))
    exact = to_decimal(a, c)
    if present.all():
        return exact
    out = pl.Series([None] * values.len(), dtype=DEC)
    return out.scatter(present.arg_true(), exact)
