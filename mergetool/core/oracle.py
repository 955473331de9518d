"""A deliberately simple second implementation of rebasing, in plain Python loops.

It shares no code with :mod:`mergetool.core.rebase` (no polars, no joins, no window
expressions): auditors use it through ``mergetool verify`` to recompute merged
values independently, and the tests check that the fast path agrees with it on
random mappings. Arithmetic is exact: every input becomes a :class:`fractions.Fraction`
(a float through its shortest decimal repr, so 0.6647 is 6647/10000), and results are
Fractions, so 0.66475 is exactly 0.66475 and rounds half-up to 0.6648.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction


def exact(v: float | int | str | Decimal | Fraction) -> Fraction:
    """An input value as an exact fraction (floats through their shortest repr)."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, float):
        return Fraction(Decimal(repr(v)))
    return Fraction(Decimal(str(v)) if not isinstance(v, Decimal) else v)


def round_half_up(v: Fraction, decimals: int = 4) -> Fraction:
    """``v`` rounded half-up (away from zero) to ``decimals`` places, exactly (as Excel's ROUND)."""
    scale = 10 ** decimals
    scaled = abs(v) * scale
    q = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return Fraction(q if v >= 0 else -q, scale)

Key = tuple[int, str, str]  # (year, indicator, code)


def simple_rebase(values: dict, edges: Iterable[tuple[str, str, float]],
                  method: str = "mean", policy: str = "strict",
                  weights: dict[str, float] | None = None) -> dict[Key, Fraction | None]:
    """Successor values from predecessor ``values`` through ``edges`` (from, to, share).

    Returns one entry per (year, indicator) seen in ``values`` and successor in ``edges``;
    None where the policy leaves the successor uncomputed.
    """
    preds: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for a, b, share in edges:
        if share is None or share > 0:  # None: a divided unit's part, share unknown (mean only)
            preds[b].append((a, share))
    combos = sorted({(y, i) for (y, i, _c) in values})
    out: dict[Key, Fraction | None] = {}
    for year, ind in combos:
        for succ, plist in preds.items():
            present = [(a, exact(s), exact(values[(year, ind, a)])) for a, s in plist
                       if (year, ind, a) in values and values[(year, ind, a)] is not None]
            if not present or (policy == "strict" and len(present) < len(plist)):
                out[(year, ind, succ)] = None
                continue
            if method == "mean":
                total = Fraction(0)
                for _a, _s, v in present:
                    total += v
                out[(year, ind, succ)] = total / len(present)
            elif method == "sum":
                total = Fraction(0)
                for _a, s, v in present:
                    total += s * v
                out[(year, ind, succ)] = total
            elif method == "weighted":
                assert weights is not None
                num = den = Fraction(0)
                for a, s, v in present:
                    num += exact(weights[a]) * s * v
                    den += exact(weights[a]) * s
                out[(year, ind, succ)] = num / den
            else:
                raise ValueError(method)
    return out
