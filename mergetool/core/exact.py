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

Quotients by shared denominators (a weighted mean's complete cells, which share their successor's
sum of weights): :func:`quotient_tables` works out ``2**lo * 10**(18 - d) / D`` once per
denominator and limb, and :func:`table_quotient` rounds each cell's quotient with uint64
multiply-adds, exactly; a cell within its error bound of a rounding boundary (every exact tie
among them) is left to the long division of :func:`round_quotient`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

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
BLOCK = 1 << 16  # elements per block of a check over an input-sized array
_ONE_E_MINUS_18 = pl.lit(Decimal("1e-18"), DEC)


def _read_at(v: np.ndarray, d: int) -> np.ndarray | None:
    """``rint(v * 10**d)`` (integer-valued floats) if every value reads exactly at scale d."""
    p = 10.0 ** d
    x = np.multiply(v, p)
    np.rint(x, out=x)
    if not x.size:
        return x
    if max(x.max(), -x.min()) >= READ_LIMIT:
        return None
    back = np.empty(min(x.size, BLOCK))  # read back block by block: no input-sized copy
    for lo in range(0, x.size, BLOCK):
        part = back[:min(BLOCK, x.size - lo)]
        np.divide(x[lo:lo + BLOCK], p, out=part)
        if not np.array_equal(part, v[lo:lo + BLOCK]):
            return None
    return x


def _scale_and_integers(v: np.ndarray) -> tuple[np.ndarray, int] | None:
    if v.size == 0:
        return np.zeros(0), 0
    # A deterministic sample guides the search; the full check decides.
    sample = v[:: max(1, v.size // 997)]
    start = next((k for k in range(MAX_SCALE + 1) if _read_at(sample, k) is not None), None)
    if start is None:
        return None
    for k in range(start, MAX_SCALE + 1):
        x = _read_at(v, k)
        if x is not None:
            return x, k
    return None


def decimal_scale(v: np.ndarray) -> int | None:
    """The smallest scale ``d`` <= 18 at which every value is exactly ``X / 10**d`` with
    |X| < 2**51; None when there is none (the caller then reads the shortest repr instead).

    Depends on the set of values only, never on their order.
    """
    found = _scale_and_integers(v)
    return None if found is None else found[1]


def read_decimal(v: np.ndarray) -> tuple[np.ndarray | pl.Series, int, np.ndarray]:
    """``(X, d, inexact)``: the values as integers at scale ``d``.

    X is a float64 array of exact integers below 2**51 on the fast path, else an Int128 polars
    Series read from each value's shortest repr (what a CSV holding it would say). ``inexact``
    marks values needing more than 18 decimal places: they are rounded half-up at 18 and the
    caller may use them only alone. Raises OverflowError when a value does not fit 38 digits at
    the scale the others need (say 1e30 beside 0.30000000000000004).
    """
    found = _scale_and_integers(v)
    if found is not None:
        return found[0], found[1], np.zeros(v.size, dtype=bool)
    uniq = np.unique(v)
    scales = {}
    for x in uniq.tolist():
        exp = Decimal(repr(x)).as_tuple().exponent
        scales[x] = -exp if isinstance(exp, int) and exp < 0 else 0
    d = min(MAX_SCALE, max(scales.values(), default=0))
    inexact_vals = np.array([x for x, s in scales.items() if s > MAX_SCALE], dtype=np.float64)
    inexact = np.isin(v, inexact_vals) if inexact_vals.size else np.zeros(v.size, dtype=bool)
    try:  # a decimal's physical integer is X itself: no multiplication that could overflow
        x = pl.DataFrame({"v": v}).select(
            pl.col("v").cast(pl.String).cast(pl.Decimal(38, d)).to_physical())["v"]
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as err:
        raise OverflowError(f"a value does not fit 38 digits at {d} decimal places") from err
    return x, d, inexact


def round_quotient(num: pl.Series, den: pl.Series, places: int = MAX_SCALE
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``round_half_up(num / den)`` at ``places`` (18) decimals as (integer part, fraction of
    ``places`` digits), both int64 carrying the sign of the result; ``num`` and ``den`` (> 0)
    are Int128 series.

    Long division in 128-bit integers, a few digits at a time, so nothing overflows while
    ``den`` < 2**122. Raises OverflowError when a result's integer part exceeds an int64.
    """
    frame = pl.DataFrame({"n": num.cast(pl.Int128), "d": den.cast(pl.Int128)})
    top = int(cast(int, frame["d"].max()) or 1)
    step = len(str(2**126 // max(top, 1))) - 2
    if step < 1:
        raise OverflowError("a denominator exceeds 2**122")
    frame = frame.with_columns(s=pl.col("n").sign().cast(pl.Int64), m=pl.col("n").abs())
    # one 128-bit division per step; the remainder by multiply and subtract (divisions are slow)
    frame = frame.with_columns(a=pl.col("m") // pl.col("d"), c=pl.lit(0, pl.Int128))
    frame = frame.with_columns(r=pl.col("m") - pl.col("a") * pl.col("d"))
    digits = places
    while digits:
        k = min(step, digits)
        frame = frame.with_columns(r=pl.col("r") * pl.lit(10 ** k, pl.Int128)).with_columns(
            q=pl.col("r") // pl.col("d")).with_columns(
            c=pl.col("c") * pl.lit(10 ** k, pl.Int128) + pl.col("q"),
            r=pl.col("r") - pl.col("q") * pl.col("d"))
        digits -= k
    frame = frame.with_columns(c=pl.col("c") + (pl.col("r") * 2 >= pl.col("d")).cast(pl.Int128))
    carry = pl.col("c") >= pl.lit(10 ** places, pl.Int128)
    frame = frame.with_columns(a=pl.col("a") + carry.cast(pl.Int128),
                               c=pl.when(carry).then(pl.lit(0, pl.Int128)).otherwise(pl.col("c")))
    if frame.height and int(cast(int, frame["a"].max()) or 0) > RESULT_LIMIT:
        raise OverflowError("a result exceeds 9.2e18")
    sign = frame["s"].to_numpy()
    return frame["a"].cast(pl.Int64).to_numpy() * sign, frame["c"].cast(pl.Int64).to_numpy() * sign


def scaled_quotient(num: pl.Series, den: pl.Series, d: int) -> np.ndarray | None:
    """``q = round_half_up(num / (den * 10**d))`` at 18 decimals, times 10**18, as int64 (Int128
    ``num``, ``den`` > 0); None when some |result| is 9 or more (q would not fit an int64).

    The long division runs on ``den`` itself, not ``den * 10**d``: more digits per step.
    """
    try:
        a, c = round_quotient(num, den, MAX_SCALE - d)  # a: the integer part of num / den
    except OverflowError:
        return None
    if a.size and int(np.abs(a).max()) >= 9 * 10 ** d:
        return None
    return a * 10 ** (MAX_SCALE - d) + c


def int_quotients(num: list[int], den: list[int], d: int) -> np.ndarray | None:
    """:func:`scaled_quotient` for a few cells, in Python integers: ``round_half_up(num / (den *
    10**d))`` at 18 decimals (half away from zero), times 10**18, as int64 (``den`` > 0); None
    when some |result| is 9 or more."""
    e = 10 ** (MAX_SCALE - d)
    out = []
    for n, dn in zip(num, den, strict=True):
        q = (2 * abs(n) * e + dn) // (2 * dn)
        if q >= 9 * 10 ** MAX_SCALE:
            return None
        out.append(-q if n < 0 else q)
    return np.array(out, dtype=np.int64)


def nearest_float(q: np.ndarray) -> np.ndarray:
    """The float nearest ``q / 10**18`` for int64 ``q`` (NaN where this test cannot tell:
    |q| below 2**-10 x 10**18, or a candidate crossing a power of two; the caller converts
    those decimals itself).

    ``f = float(q) / 1e18`` is within about an ulp; the exact test of :func:`_mean_block` (in
    integers modulo 2**64) says how many ulps the nearest float lies away, and checks it.
    Block by block: the temporaries stay in cache.
    """
    out = np.empty(q.size)
    for lo in range(0, q.size, CHUNK):
        out[lo:lo + CHUNK] = _nearest_block(q[lo:lo + CHUNK])
    return out


def _nearest_block(q: np.ndarray) -> np.ndarray:
    """One block of :func:`nearest_float`."""
    signed = bool(q.size) and int(q.min()) < 0
    mag = np.abs(q) if signed else q
    f = mag.astype(np.float64) / 1e18  # 1e18 is an exact float: two roundings, within an ulp
    mant, ex = np.frexp(f)
    m = (mant * 2.0**53).astype(np.int64)
    shift = np.minimum(54 - ex, 63).astype(np.uint64)
    two = 2 * 10 ** MAX_SCALE
    delta = (np.left_shift(mag.astype(np.uint64), shift)
             - m.astype(np.uint64) * np.uint64(two)).view(np.int64)  # |delta| < 4e18 here
    k = np.rint(delta / two).astype(np.int64)  # ulps to move (tested below, so any guess is safe)
    m += k
    delta -= k * two
    good = _inside(delta, m)  # else NaN, to the caller
    good &= (m >= 2**52) & (m < 2**53) & (ex >= -9)
    f = np.ldexp(m.astype(np.float64), ex - 53)
    f[~good] = np.nan
    f[mag == 0] = 0.0
    return np.where(q < 0, -f, f) if signed else f


def _inside(delta: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Whether ``y`` lies strictly inside the rounding interval of ``f = M * 2**E``, given
    ``delta`` = 2 * 10**18 x (y - f) in half-ulps of f (see :func:`_mean_block`): then f is the
    float nearest y. A y exactly between two floats is left out (the caller converts it), and
    none occurs here: y = q / 10**18 with |q| < 2**63 would need 5**18 | q, and then y is
    itself a float."""
    half = 10 ** MAX_SCALE
    good = np.abs(delta) < half
    power = m == 2**52  # a power of two: the gap below is half, so is its interval's lower half
    power &= delta < -(half // 2)
    good &= ~power
    return good


CHUNK = 1 << 16  # cells per block: bounds the temporaries of the quotient (and fits a cache)
#: Below this |mean| the scaled mean ``q`` (10**18 x mean) fits an int64 with room to spare.
FAST_MEAN_LIMIT = 9.0


def mean_exact(s: np.ndarray, n: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(q, value)`` for the means ``s / (n * 10**d)`` of int64 sums (``|s| < 2**53``,
    ``1 <= n``, ``n * 10**d < 2**53``): ``q`` (int64) is the mean rounded half-up at 18 decimals,
    times 10**18; ``value`` its nearest float, NaN where the caller must convert the decimal.

    None when some |mean| is 9 or more (``q`` would not fit an int64): the caller then uses
    :func:`round_quotient` (as the rebase engine does). Block by block, so the temporaries stay
    a fraction of the input.
    """
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    top_n = int(n.max())
    if 2 * max(int(s.max()), -int(s.min())) * top_n >= INT64_MAX:
        return None
    den = np.multiply(n, float(10 ** d))  # exact: below 2**53
    value = np.divide(np.abs(s), den, out=den)  # one correctly rounded division of exact floats
    if float(value.max()) >= FAST_MEAN_LIMIT:
        return None
    e = 10 ** (MAX_SCALE - d)
    table = np.arange(top_n + 1, dtype=np.int64)
    table[0] = 1
    p_tab, r_tab = e // table, e % table
    q = np.empty(s.size, np.int64)
    for lo in range(0, s.size, CHUNK):
        part = slice(lo, lo + CHUNK)
        q[part], value[part] = _mean_block(s[part], n[part], value[part], p_tab, r_tab)
    return q, value


def _mean_block(s: np.ndarray, n: np.ndarray, f: np.ndarray, p_tab: np.ndarray, r_tab: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One block of :func:`mean_exact`; ``f`` is ``|s| / (n * 10**d)`` as a float.

    ``|s| * 10**(18 - d) / n = |s| * P + |s| * R / n`` with ``P, R = divmod(10**(18 - d), n)``, so
    only ``|s| * R`` (below ``n * |s|``) needs dividing. ``f`` (the exact quotient ``r`` rounded
    once) is also the float nearest ``y = q / 10**18`` unless a rounding boundary between two
    floats lies between r and y: with ``f = M * 2**E`` (M of 53 bits) the test is exact in
    integers, ``Delta = q * 2**(1 - E) - 2 * M * 10**18`` (2 * 10**18 x (y - f) in half-ulps of
    f) has |Delta| below 2**63 whenever ``1 - E <= 63`` and is computed modulo 2**64; y rounds
    to f iff Delta lies inside f's rounding interval (ties to even).
    """
    mag = np.abs(s)
    p, r = p_tab[n], r_tab[n]
    q = 2 * mag * r
    q += n
    q //= 2 * n
    q += mag * p
    del p, r
    mant, ex = np.frexp(f)
    m = (mant * 2.0**53).astype(np.int64)  # exact: M in [2**52, 2**53), f = M * 2**(ex - 53)
    shift = np.minimum(54 - ex, 63).astype(np.uint64)  # 1 - E (>= 50: |f| < 9)
    delta = (np.left_shift(q.astype(np.uint64), shift)
             - m.astype(np.uint64) * np.uint64(2 * 10 ** MAX_SCALE)).view(np.int64)
    good = _inside(delta, m)
    good &= ex >= -9  # 1 - E <= 63: |f| >= 2**-10
    good |= mag == 0
    f = np.where(good, f, np.nan)
    if s.size and int(s.min()) < 0:
        neg = s < 0
        return np.where(neg, -q, q), np.where(neg, -f, f)
    return q, f


def exact_expr(a: str, c: str) -> pl.Expr:
    """Decimal(38, 18) from an integer-part column and an 18-digit-fraction column."""
    return pl.col(a).cast(DEC) + pl.col(c).cast(pl.Decimal(38, 0)) * _ONE_E_MINUS_18


def scaled_decimal(q: pl.Series) -> pl.Series:
    """Decimal(38, 18) from integers ``q`` = 10**18 x the decimal (no arithmetic beyond a
    multiplication by the unit 1e-18: the decimal's integer is q itself)."""
    return pl.select(pl.lit(q).cast(pl.Decimal(38, 0)) * _ONE_E_MINUS_18).to_series()


def to_decimal(a: np.ndarray, c: np.ndarray) -> pl.Series:
    """Decimal(38, 18) from integer parts and 18-digit fractions (same sign)."""
    return pl.DataFrame({"a": a, "c": c}).select(v=exact_expr("a", "c"))["v"]


def exact_series(values: pl.Series) -> pl.Series:
    """Each float value as the exact decimal it reads as (Decimal(38, 18), nulls kept)."""
    present = values.is_not_null()
    v = values.filter(present).cast(pl.Float64).to_numpy()
    x, d, _inexact = read_decimal(v)
    num = pl.Series(x.astype(np.int64)) if isinstance(x, np.ndarray) else x
    a, c = round_quotient(num, pl.Series([10 ** d] * v.size, dtype=pl.Int128))
    exact = to_decimal(a, c)
    if present.all():
        return exact
    out = pl.Series([None] * values.len(), dtype=DEC)
    return out.scatter(present.arg_true(), exact)


# --- quotients by a few shared denominators ------------------------------------------------------
#
# A weighted mean's complete cells share their denominator with every cell of the same successor
# unit (the sum of its predecessors' weight x share, whatever the year or indicator), and the
# numerator arrives as a few limbs ``N = sum_l P_l * 2**lo_l`` (``0 <= P_l < 2**53``). So
# ``Y = N * 10**(18 - d) / D = sum_l P_l * c_l`` with ``c_l = 2**lo_l * 10**(18 - d) / D`` worked
# out once per denominator, as an integer part ``H_l`` and a 64-bit fraction ``F_l`` (rounded
# down). Per cell that leaves integer multiply-adds in uint64, no division.

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TOP = np.uint64(1 << 63)
#: cells per block of :func:`table_quotient`: its work buffers then fit a core's L2 cache
TABLE_CHUNK = 1 << 14


def quotient_tables(den: pl.Series, limb_den: np.ndarray, los: list[int], d: int
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """Per denominator ``g`` and limb ``l``: ``2**lo_l * 10**(18 - d) / den[g]`` as ``(H, F)``,
    uint64 arrays of shape (groups, limbs) with ``c = H + (F + theta) / 2**64``, 0 <= theta < 1.

    ``den`` (Int128, > 0) is each group's exact denominator and ``limb_den[g, l]`` its limb-l
    part (``den = sum_l limb_den[:, l] * 2**lo_l``). Where a limb's part is 0 no cell of the
    group can have that limb (see :func:`table_quotient`), and ``c`` is set to 0. None when a
    denominator is 2**95 or more, or a limb's numerator 2**126 (the long division would leave
    128 bits).
    """
    e = 10 ** (MAX_SCALE - d)
    if (den.len() and int(cast(int, den.max())) >= 2**95) or 2 ** max(los, default=0) * e >= 2**126:
        return None
    h = np.zeros((den.len(), len(los)), dtype=np.uint64)
    f = np.zeros_like(h)
    for col, lo in enumerate(los):
        frame = pl.DataFrame({"d": den}).select(
            n=pl.lit(2 ** lo * e, pl.Int128), d="d").with_columns(h=pl.col("n") // pl.col("d"))
        # the fraction r / d, r < d < 2**95, as two 32-bit digits of long division
        frame = frame.with_columns(r=(pl.col("n") - pl.col("h") * pl.col("d")) * 2**32)
        frame = frame.with_columns(f1=pl.col("r") // pl.col("d")).with_columns(
            r=(pl.col("r") - pl.col("f1") * pl.col("d")) * 2**32)
        frame = frame.with_columns(f0=pl.col("r") // pl.col("d"))
        used = limb_den[:, col] > 0
        # a used limb has den >= 2**lo, so H <= 10**(18 - d); an unused one is never read
        h[:, col] = np.where(used, frame["h"].clip(0, 2**63).cast(pl.UInt64).to_numpy(), 0)
        f[:, col] = np.where(used, (frame["f1"].cast(pl.UInt64).to_numpy() << _S32)
                             | frame["f0"].cast(pl.UInt64).to_numpy(), 0)
    return h, f


def table_quotient(parts: list[np.ndarray], group: np.ndarray, h: np.ndarray, f: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(q, sure)``: ``q = round_half_up(Y)`` with ``Y = sum_l parts[l] * c[group, l]`` (see
    :func:`quotient_tables`), int64, exact where ``sure``; the caller divides the others itself.

    Preconditions (the caller's): ``0 <= parts[l] < 2**53``, and ``Y < 2**63``, so each
    ``parts[l] * H`` and their sum fit a uint64. ``Y`` is ``S + (G + theta) / 2**64`` with
    ``S = sum P * H`` and ``G = sum P * F`` exact (128 bits as two uint64), ``0 <= theta <
    B = 1 + sum P``; ``q = S + floor((G + 2**63 + theta) / 2**64)`` is ``S + G_hi + carry``
    unless the low word of ``G + 2**63`` lies within B of 2**64: then theta could carry, and the
    cell is not sure. Exact ties are always among those (or have theta = 0, and are right).
    """
    q = np.empty(group.size, np.int64)
    sure = np.empty(group.size, bool)
    # per limb: H, and F's two 32-bit halves, as contiguous tables (gathered by np.take)
    # (H None where it is 0 for every group: a limb below the denominators adds no integer part)
    tabs = [(np.ascontiguousarray(h[:, col]) if h[:, col].any() else None,
             np.ascontiguousarray(f[:, col] >> _S32), np.ascontiguousarray(f[:, col] & _M32))
            for col in range(h.shape[1])]
    size = min(TABLE_CHUNK, group.size)
    work = [np.empty(size, np.uint64) for _ in range(10)]
    for lo in range(0, group.size, TABLE_CHUNK):
        part = slice(lo, lo + TABLE_CHUNK)
        q[part], sure[part] = _table_block([p[part] for p in parts], group[part], tabs,
                                           [w[:min(TABLE_CHUNK, group.size - lo)] for w in work])
    return q, sure


def _table_block(parts: list[np.ndarray], group: np.ndarray,
                 tabs: list[tuple[np.ndarray | None, np.ndarray, np.ndarray]], work: list[np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One block of :func:`table_quotient`, in the buffers ``work``."""
    s, g_hi, g_lo, bound, p0, p1, t, u, f0, f1 = work
    s[:] = 0
    g_hi[:] = 0
    g_lo[:] = 0
    bound[:] = 1
    for p_signed, (hc, f1c, f0c) in zip(parts, tabs, strict=True):
        p = p_signed.view(np.uint64)  # 0 <= p < 2**53: the same bits
        bound += p
        if hc is not None:
            np.take(hc, group, out=t, mode="clip")  # ids in range: clip is the unbuffered take
            t *= p
            s += t
        # p * F in 128 bits by 32-bit halves: p = p1 * 2**32 + p0 (p1 < 2**21), F = f1 * 2**32 + f0
        np.bitwise_and(p, _M32, out=p0)
        np.right_shift(p, _S32, out=p1)
        np.take(f0c, group, out=f0, mode="clip")
        np.take(f1c, group, out=f1, mode="clip")
        ll = p0 * f0  # < 2**64
        lh = p0 * f1
        f0 *= p1  # hl: < 2**53
        f1 *= p1  # hh: < 2**53
        np.right_shift(ll, _S32, out=t)  # mid = (ll >> 32) + (lh & M) + (hl & M) < 3 * 2**32
        t += lh & _M32
        t += f0 & _M32
        ll &= _M32
        low = np.left_shift(t, _S32)
        low |= ll
        f1 += lh >> _S32  # high = hh + (lh >> 32) + (hl >> 32) + (mid >> 32)
        f1 += f0 >> _S32
        f1 += t >> _S32
        g_lo += low
        f1 += g_lo < low  # the carry of the low word
        g_hi += f1
    np.bitwise_xor(g_lo, _TOP, out=u)  # the low word of G + 2**63; its carry: g_lo's top bit
    g_lo >>= np.uint64(63)
    s += g_hi
    s += g_lo
    return s.view(np.int64).copy(), u <= ~bound  # sure: u + bound < 2**64, theta cannot carry
