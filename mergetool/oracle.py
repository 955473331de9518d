"""A deliberately simple second implementation of rebasing, in plain Python loops.

It shares no code with :mod:`mergetool.rebase` (no polars, no joins, no window
expressions): auditors use it through ``mergetool verify`` to recompute merged
values independently, and the tests check that the fast path agrees with it on
random mappings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

Key = tuple[int, str, str]  # (year, indicator, code)


def simple_rebase(values: dict[Key, float], edges: Iterable[tuple[str, str, float]],
                  method: str = "mean", policy: str = "strict",
                  weights: dict[str, float] | None = None) -> dict[Key, float | None]:
    """Successor values from predecessor ``values`` through ``edges`` (from, to, share).

    Returns one entry per (year, indicator) seen in ``values`` and successor in ``edges``;
    None where the policy leaves the successor uncomputed.
    """
    preds: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for a, b, share in edges:
        if share is None or share > 0:  # None: a divided unit's part, share unknown (mean only)
            preds[b].append((a, share))
    combos = sorted({(y, i) for (y, i, _c) in values})
    out: dict[Key, float | None] = {}
    for year, ind in combos:
        for succ, plist in preds.items():
            present = [(a, s, values[(year, ind, a)]) for a, s in plist
                       if (year, ind, a) in values and values[(year, ind, a)] is not None]
            if not present or (policy == "strict" and len(present) < len(plist)):
                out[(year, ind, succ)] = None
                continue
            if method == "mean":
                total = 0.0
                for _a, _s, v in present:
                    total += v
                out[(year, ind, succ)] = total / len(present)
            elif method == "sum":
                total = 0.0
                for _a, s, v in present:
                    total += s * v
                out[(year, ind, succ)] = total
            elif method == "weighted":
                assert weights is not None
                num = den = 0.0
                for a, s, v in present:
                    num += weights[a] * s * v
                    den += weights[a] * s
                out[(year, ind, succ)] = num / den
            else:
                raise ValueError(method)
    return out
