"""Ranks as the ministry ranks: competition ranking on the published 4-decimal values.

Two equal values share a rank and the next rank is skipped (2021: Thanh Hóa and
Vĩnh Phúc both 12th at 0.4880, the next unit 14th). Values are compared after
rounding to the published precision, so a rebased 0.70690000001 ties with a
published 0.7069.
"""

from __future__ import annotations

import polars as pl

PUBLISHED_DECIMALS = 4


def competition_rank(value: str | pl.Expr = "value",
                     decimals: int = PUBLISHED_DECIMALS) -> pl.Expr:
    """Rank 1 for the highest value; ties share the best rank; the next rank is skipped."""
    expr = pl.col(value) if isinstance(value, str) else value
    return expr.round(decimals).rank(method="min", descending=True).cast(pl.Int32)


def rank_change(rank: str = "rank", previous: str = "previous_rank") -> pl.Expr:
    """Places gained since the previous year: positive means the unit moved up."""
    return (pl.col(previous) - pl.col(rank)).cast(pl.Int32)
