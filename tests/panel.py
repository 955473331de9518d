"""A complete synthetic DTI panel (63 units, 2020-2024, every indicator) that agrees with every
published fact.

Generated in code and seeded; never presented as real. It satisfies every published value
(63 and 34 units), every published rank and tie (provisional ones too), the published averages
and every rank-change claim, so a build of it passes every check (the one warning: Kiên Giang
2020, where two sources print 8th and 9th); tests then break one fact at a time and expect the
build to say which.

2020-2023: units with a published rank sit at that rank (ties share a value), units with a value
but no rank where their value puts them, the others in a seeded order (a few placed where a claim
puts them); values are the published ones where printed and otherwise interpolated between them,
bent so that the 63-unit mean is the published average. 2024 DTI is built from the 34-unit table
down: the published 34-unit values and ranks fix the merged units' means, and each merger is split
into predecessor values that also meet the 63-unit ranks (HCM 1 ... Huế 5, Điện Biên 24, Hà Tĩnh
25, Quảng Nam 57). The other 2024 indicators are built on the 34 units (ties at the top as
published) and every predecessor carries its unit's value.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.dti.record import read_record
from mergetool.io.scores import SCORES_SCHEMA

OLD, NEW = "vn-province-2024", "vn-province-2025"
UNIT = 10_000  # values are handled as whole numbers of 0.0001

#: Ranks the published record does not state but a published claim implies (placed there so the
#: claims can be confirmed), and placements that keep the 2023 34-unit ranks the claims need.
EXTRA_RANKS = {
    # Tiền Giang +3 to 20th in 2022; Tuyên Quang 48th in 2022 = +10 (dti) and its pillar claims.
    (2021, "dti"): {"82": 23, "08": 58},
    (2021, "pillar_gov"): {"08": 53}, (2021, "pillar_econ"): {"08": 45},
    (2021, "pillar_society"): {"08": 62},
    (2022, "pillar_gov"): {"08": 47}, (2022, "pillar_econ"): {"08": 54},
    (2022, "pillar_society"): {"08": 19},
    # 2023: Quảng Nam high enough that new Đà Nẵng stays above Hà Nội on 34 units (Hà Nội 5th),
    # Hậu Giang and Sóc Trăng low so that new Cần Thơ falls below it; Hà Tĩnh 37th (+12, 2024).
    (2023, "dti"): {"49": 13, "93": 60, "94": 61, "42": 37},
    # Hà Tĩnh's provisional 2024 indicator ranks and changes imply its 2023 indicator ranks.
    (2023, "awareness"): {"42": 32}, (2023, "human_resources"): {"42": 31},
    (2023, "gov_activity"): {"42": 39}, (2023, "institutions"): {"42": 52},
    (2023, "cybersecurity"): {"42": 35}, (2023, "society_activity"): {"42": 39},
    (2023, "infrastructure"): {"42": 31}, (2023, "econ_activity"): {"42": 32},
}


def _groups(codes: list[str], ranks: dict[str, int], pins: dict[str, int],
            rng: random.Random) -> list[list[str]]:
    """Tie groups in rank order: ranked units at their rank, units with a value but no rank
    where their value puts them (joining a group of equal value: a tie), the rest shuffled."""
    n = len(codes)
    at: dict[int, list[str]] = {}
    for c, r in ranks.items():
        at.setdefault(r, []).append(c)

    def value(r: int) -> int | None:
        vals = {pins[c] for c in at[r] if c in pins}
        assert len(vals) <= 1, (r, at[r])
        return vals.pop() if vals else None

    for c in sorted((c for c in pins if c not in ranks), key=lambda c: (-pins[c], c)):
        v = pins[c]
        same = [r for r in sorted(at) if value(r) == v] or ([1] if v == UNIT and 1 in at else [])
        if same:
            r = same[0]
            assert r + len(at[r]) not in at, (c, r)
            at[r].append(c)
            continue
        taken = {q for r, grp in at.items() for q in range(r, r + len(grp))}
        lo = max((r + len(grp) for r, grp in at.items() if (value(r) or 0) > v), default=1)
        hi = min((r for r in at if value(r) is not None and value(r) < v), default=n + 1)
        free = [q for q in range(lo, hi) if q not in taken]
        assert free, (c, v, lo, hi)
        at[free[0]] = [c]
    rest = sorted(set(codes) - {c for grp in at.values() for c in grp})
    rng.shuffle(rest)
    groups, it, pos = [], iter(rest), 1
    while pos <= n:
        if pos in at:
            groups.append(sorted(at[pos]))
            pos += len(at[pos])
        else:
            groups.append([next(it)])
            pos += 1
    return groups


def _fill(groups: list[list[str]], pins: dict[str, int], target: float | None,
          rng: random.Random) -> dict[str, int]:
    """Values (in 0.0001) for rank-ordered tie groups: pins kept, the rest interpolated
    strictly decreasing between them, bent by an exponent so that the mean is ``target``."""
    g = len(groups)
    fixed = {}
    for i, grp in enumerate(groups):
        vals = {pins[c] for c in grp if c in pins}
        assert len(vals) <= 1, grp  # a tie shares one value
        if vals:
            fixed[i] = vals.pop()
    top = max(fixed.values(), default=8800)
    if 0 not in fixed:
        fixed[0] = min(UNIT, top + 200)
    if g - 1 not in fixed:
        fixed[g - 1] = (5000 if len(fixed) == 1 else
                        max(2000, min(fixed.values()) - 40 * (g - 1 - max(k for k in fixed if k < g - 1))))
    anchors = sorted(fixed)
    sizes = [len(grp) for grp in groups]
    n = sum(sizes)

    def values(k: float) -> list[float]:
        out = [0.0] * g
        for a, b in itertools.pairwise(anchors):
            va, vb = fixed[a], fixed[b]
            for i in range(a, b + 1):
                t = (i - a) / (b - a)
                out[i] = va - (va - vb) * t ** k
        return out

    def mean(k: float) -> float:
        return sum(v * s for v, s in zip(values(k), sizes, strict=True)) / n

    lo, hi = 0.05, 20.0
    want = mean(1.0) if target is None else target * UNIT
    assert mean(lo) <= want <= mean(hi), (mean(lo) / UNIT, mean(hi) / UNIT, target)
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean(mid) < want else (lo, mid)
    if target is None:
        lo = 1.0
    ints = [round(v) for v in values(lo)]
    for i in range(1, g):  # strictly decreasing between groups
        if i not in fixed:
            ints[i] = min(ints[i], ints[i - 1] - 1)
    for i in range(g - 2, -1, -1):
        if i not in fixed:
            ints[i] = max(ints[i], ints[i + 1] + 1)
    assert all(ints[i] > ints[i + 1] for i in range(g - 1)), "pins leave no room"
    # Rounding moved the mean by up to 0.00005: nudge free values back where gaps allow.
    free = [i for i in range(g) if i not in fixed]
    for _ in range(10 * g):
        err = sum(v * s for v, s in zip(ints, sizes, strict=True)) - want * n
        if abs(err) <= n * 0.2:
            break
        step = -1 if err > 0 else 1
        for i in rng.sample(free, len(free)):
            nv = ints[i] + step
            if (i == 0 or nv < ints[i - 1]) and (i == g - 1 or nv > ints[i + 1]):
                ints[i] = nv
                break
    return {c: ints[i] for i, grp in enumerate(groups) for c in grp}


def _place_on_63(groups: list[list[str]], sizes: dict[str, int], code: str, rank63: int,
                 fixed: set[str]) -> list[list[str]]:
    """Swap ``code`` (an unchanged unit) with a free 34-unit so that its rank among the 63
    predecessors, each carrying its unit's value, is ``rank63``."""
    at = next(i for i, g in enumerate(groups) if code in g)
    for s in range(len(groups)):
        if s == at or any(c in fixed for c in groups[s]) or len(groups[s]) != 1:
            continue
        trial = [list(g) for g in groups]
        trial[at], trial[s] = trial[s], trial[at]
        if 1 + sum(sizes[c] for g in trial[:s] for c in g) == rank63:
            return trial
    raise AssertionError(f"no slot gives {code} rank {rank63} of 63")


def _values_34(rec: pl.DataFrame, year: int, ind: str, target: float | None, sizes: dict[str, int],
               rng: random.Random) -> dict[str, int]:
    """34-unit values agreeing with the 34-unit facts and, once every predecessor carries its
    unit's value, with Hà Tĩnh's (provisional) 63-unit rank."""
    facts = rec.filter((pl.col("year") == year) & (pl.col("basis") == NEW) & (pl.col("indicator") == ind))
    ranks = dict(facts.filter(pl.col("rank").is_not_null()).select("code", "rank").iter_rows())
    pins = {c: round(v * UNIT) for c, v in facts.filter(pl.col("value").is_not_null()).select(
        "code", "value").iter_rows()}
    ht = rec.filter((pl.col("year") == year) & (pl.col("basis") == OLD) & (pl.col("code") == "42")
                    & (pl.col("indicator") == ind))["rank"].drop_nulls().to_list()
    if ht == [1]:
        pins["42"] = UNIT  # first of 63 means tied at the top
    for _attempt in range(500):  # another shuffle of the free units until a slot fits
        groups = _groups(sorted(sizes), ranks, pins, rng)
        if not ht or ht == [1]:
            break
        try:
            groups = _place_on_63(groups, sizes, "42", ht[0], set(ranks) | set(pins))
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"no order gives Hà Tĩnh {ind} rank {ht[0]} of 63")
    return _fill(groups, pins, target, rng)


def _values(codes: list[str], rec: pl.DataFrame, year: int, basis: str, ind: str,
            target: float | None, rng: random.Random) -> dict[str, int]:
    """Values of one year and indicator on ``basis`` agreeing with the record's facts."""
    facts = rec.filter((pl.col("year") == year) & (pl.col("basis") == basis)
                       & (pl.col("indicator") == ind))
    ranks = dict(facts.filter(pl.col("rank").is_not_null() & (pl.col("rank_basis") != "provisional")
                              ).select("code", "rank").iter_rows())
    ranks |= EXTRA_RANKS.get((year, ind), {}) if basis == OLD else {}
    pins = {c: round(v * UNIT) for c, v in facts.filter(pl.col("value").is_not_null()).select(
        "code", "value").iter_rows()}
    return _fill(_groups(codes, ranks, pins, rng), pins, target, rng)


def _year_2024() -> dict[str, int]:
    """2024 from the 34-unit table down (see the module docstring); values in 0.0001.

    63-unit ranks 6-23 (18 units in 0.7700-0.7951, above Điện Biên) are each one predecessor of
    a merged unit whose other predecessors pull its mean down; exactly six values lie below
    Quảng Nam's 0.5803 (57th); the 34-unit mean is the published average 0.6961.
    """
    v: dict[str, int] = {"01": 8241, "46": 7951, "31": 8300, "30": 7414,   # Hải Phòng 0.7857
                         "79": 8600, "74": 7740, "77": 6970,              # HCM 0.7770
                         "38": 7750, "11": 7700, "42": 7650,              # 34: 5, 6, 7
                         "19": 7900, "06": 7300,                          # Thái Nguyên 8th, 0.76
                         "10": 7800, "15": 6534,                          # Lào Cai 0.7167
                         "75": 7850, "70": 6478,                          # Đồng Nai 0.7164
                         "56": 7720, "58": 6422,                          # Khánh Hòa 0.7071
                         "48": 8335, "49": 5803,                          # Đà Nẵng 0.7069
                         # 34 ranks 9-13 (means 0.75, 0.745, 0.74, 0.73, 0.725)
                         "27": 7880, "24": 7120,                          # Bắc Ninh
                         "36": 7870, "37": 7810, "35": 6670,              # Ninh Bình
                         "26": 7860, "25": 7830, "17": 6510,              # Phú Thọ
                         "92": 7840, "93": 7820, "94": 6240,              # Cần Thơ
                         "22": 7250,                                      # Quảng Ninh
                         # the last three: Quảng Trị, Hưng Yên, Cao Bằng
                         "44": 6000, "45": 5800, "33": 6000, "34": 5600, "04": 5500}
    # 34 ranks 18-31, means falling from 0.7050; the first five each hold one of the 63-unit
    # ranks 6-23, the others are split evenly (two of them with one value below 0.5803).
    lower = [("68", ["68", "67", "60"], 7795), ("86", ["86", "84", "83"], 7785),
             ("08", ["08", "02"], 7775), ("51", ["51", "62"], 7765), ("52", ["52", "64"], 7755),
             ("66", ["66", "54"], None), ("80", ["80", "72"], None), ("82", ["82", "87"], None),
             ("91", ["91", "89"], -1000), ("96", ["96", "95"], -800),
             ("12", ["12"], None), ("14", ["14"], None), ("20", ["20"], None), ("40", ["40"], None)]
    known = {"01": 8241, "46": 7951, "31": 7857, "79": 7770, "38": 7750, "11": 7700, "42": 7650,
             "19": 7600, "15": 7167, "75": 7164, "56": 7071, "48": 7069, "24": 7500, "37": 7450,
             "25": 7400, "92": 7300, "22": 7250, "44": 5900, "33": 5800, "04": 5500}
    free_total = 34 * 6961 - sum(known.values())
    step = (len(lower) * 7050 - free_total) // sum(range(len(lower)))
    means = [7050 - step * i for i in range(len(lower))]
    means[-1] += free_total - sum(means)
    assert all(a > b for a, b in itertools.pairwise(means)), means
    assert means[-1] > 5900, means
    for (_unit, preds, split), m in zip(lower, means, strict=True):
        total = m * len(preds)
        if split is None or split < 0:
            first = m if split is None else m - split  # split < 0: one value low
            vals = [first] + [(total - first) // (len(preds) - 1)] * (len(preds) - 1) \
                if len(preds) > 1 else [m]
        else:
            rest = total - split
            vals = [split] + [rest // (len(preds) - 1)] * (len(preds) - 1)
        vals[-1] += total - sum(vals)
        v.update(zip(preds, vals, strict=True))
    return v


def complete_panel(ms: MappingSet, seed: int = 7) -> pl.DataFrame:
    """The synthetic panel as a user's score frame: 63 units x 2020-2024 x every indicator of
    each year's index (values of the 2024 indicators other than the DTI are built on the 34 units
    and given to every predecessor)."""
    from mergetool.dti.record import index_definitions, published_aggregates

    rng = random.Random(seed)
    rec = read_record()
    aggs = {(y, i): v for y, i, v in published_aggregates().select(
        "year", "indicator", "value").iter_rows()}
    old = sorted(ms.bases[OLD].codes)
    (t,) = ms.transitions
    preds = t.edges.group_by("to_code").agg("from_code").rows()
    sizes = {to: len(ps) for to, ps in preds}
    rows = []
    for year, ind in index_definitions().select("year", "indicator").iter_rows():
        if year < 2024:
            values = _values(old, rec, year, OLD, ind, aggs.get((year, ind)), rng)
        elif ind == "dti":
            values = _year_2024()
        else:  # the 34-unit mean is the published average (pillars)
            on34 = _values_34(rec, year, ind, aggs.get((year, ind)), sizes, rng)
            values = {p: on34[to] for to, ps in preds for p in ps}
        rows += [(year, ind, c, u) for c, u in values.items()]
    frame = pl.DataFrame(rows, schema={"year": pl.Int32, "indicator": pl.String, "code": pl.String,
                                       "units": pl.Int64}, orient="row").sort("year", "indicator", "code")
    assert set(frame.group_by("year", "indicator").len()["len"]) == {63}
    return frame.with_columns(
        basis=pl.lit(OLD), value=(pl.col("units").cast(pl.Float64) / UNIT).round(4),
        rank=pl.lit(None, pl.Int32), file=pl.lit("<synthetic panel>"),
        row=pl.int_range(2, pl.len() + 2, dtype=pl.Int32),
    ).select(SCORES_SCHEMA.keys())


def mean_units(values: list[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def with_record(panel: pl.DataFrame) -> pl.DataFrame:
    """The shipped record with the panel's values in place of the shipped 63-unit values (as
    ``build --scores`` does): the shipped facts stay facts."""
    from mergetool.dti.record import record_as_scores

    keys = ["year", "basis", "code", "indicator"]
    shipped = record_as_scores(read_record())
    return pl.concat([shipped.join(panel, on=keys, how="anti"), panel])
