"""Rounding and ranks, defined once: half-up to 4 decimals on exact decimals, competition ranks.

The ministry prints values to 4 decimals and ranks on them; Excel's ROUND (and the printed
tables) round a half away from zero, so ``0.66475 -> 0.6648``. Binary floats cannot hold
``0.66475`` (it is stored as ``0.66474999...``), so every value is first made an exact decimal
(:data:`EXACT`, 18 places) and rounded there. Two equal rounded values share a rank and the next
rank is skipped (2021: Thanh Hóa and Vĩnh Phúc both 12th at 0.4880, the next unit 14th), so a
rebased 0.70690000001 ties with a published 0.7069.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import polars as pl

PUBLISHED_DECIMALS = 4
#: The exact representation of a value: 38 digits, 18 after the point.
EXACT = pl.Decimal(38, 18)


def exact(value: str | pl.Expr) -> pl.Expr:
    """A column as an exact decimal: a float through its shortest repr (0.6647 -> 0.6647 exactly;
    a direct float cast can land 1e-17 off). Values too large for 20 integer digits become null."""
    expr = pl.col(value) if isinstance(value, str) else value
    return expr.cast(pl.String).cast(EXACT, strict=False)


def round_half_up(value: str | pl.Expr, decimals: int = PUBLISHED_DECIMALS) -> pl.Expr:
    """``value`` rounded half-up (away from zero, as Excel's ROUND) on its exact decimal."""
    return exact(value).round(decimals, mode="half_away_from_zero")


def rounded(value: str | pl.Expr, decimals: int = PUBLISHED_DECIMALS) -> pl.Expr:
    """:func:`round_half_up` as a Float64 (shortest repr: ``0.6648``, never ``0.66480000001``)."""
    return round_half_up(value, decimals).cast(pl.Float64)


def to_decimal(value: float | str | Decimal) -> Decimal:
    """A Python value as an exact Decimal: a float through its shortest repr (0.6647 -> '0.6647')."""
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float)
                                                            else str(value))


def round4(value: float | str | Decimal, decimals: int = PUBLISHED_DECIMALS) -> Decimal:
    """The Python twin of :func:`round_half_up`."""
    return to_decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def fmt4(value: float | str | Decimal | None, decimals: int = PUBLISHED_DECIMALS) -> str:
    """A value for display: rounded half-up to 4 decimals, always 4 digits (``''`` for None)."""
    if value is None:
        return ""
    shown = round4(value, decimals)
    return f"{shown.copy_abs() if shown.is_zero() else shown:.{decimals}f}"  # never '-0.0000'


def is_half(value: float | str | Decimal, decimals: int = PUBLISHED_DECIMALS) -> bool:
    """True when the exact value lies exactly half-way between two 4-decimal values."""
    d = to_decimal(value).scaleb(decimals)
    return d - d.to_integral_value(rounding="ROUND_FLOOR") == Decimal("0.5")


def competition_rank(value: str | pl.Expr = "value",
                     decimals: int = PUBLISHED_DECIMALS) -> pl.Expr:
    """Rank 1 for the highest value; ties share the best rank; the next rank is skipped.

    Values are compared rounded half-up to ``decimals`` on their exact decimals.
    """
    return round_half_up(value, decimals).rank(method="min", descending=True).cast(pl.Int32)


def rank_change(rank: str = "rank", previous: str = "previous_rank") -> pl.Expr:
    """Places gained since the previous year: positive means the unit moved up."""
    return (pl.col(previous) - pl.col(rank)).cast(pl.Int32)


def exact_text(v: Fraction) -> str:
    """An exact value as a decimal string, to 18 places at most (half-up at the 18th)."""
    d = (Decimal(v.numerator) / Decimal(v.denominator)).quantize(Decimal("1e-18"), ROUND_HALF_UP)
    return format(d.normalize(), "f")


def plain(v: float | Fraction | None) -> str:
    """A value in positional notation with every digit it has: a float through its shortest
    repr (``1e-05`` -> ``0.00001``, ``0.5`` -> ``0.5``), a fraction to 18 places at most."""
    if v is None:
        return ""
    if isinstance(v, Fraction):
        return exact_text(v)
    d = Decimal(repr(float(v))) if not isinstance(v, int) else Decimal(v)
    if d == 0:
        return "0"
    text = format(d.normalize(), "f")
    return text
