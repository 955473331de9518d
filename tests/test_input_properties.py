"""Property: a valid table with one fault is refused with that fault's code, or read exactly
as the table without the fault. Never a third outcome (a different number, a dropped row)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mergetool.core.mapping import MappingSet, load_mappings
from mergetool.dti.indicators import BY_ID
from mergetool.dti.spec import BUILD_OPTIONS, read_scores
from mergetool.errors import InputError

MS = load_mappings()
OLD, NEW = "vn-province-2024", "vn-province-2025"
UNITS = {b: MS.bases[b].units.select("code", "name").rows() for b in (OLD, NEW)}
INDICATORS = list(BY_ID)

#: Faults by class, and the codes that count as refusing them.
FAULTS: dict[str, set[str]] = {
    "swap-codes": {"unit-mismatch"},                       # class 1
    "stray-old-name": {"unknown-unit", "ambiguous-basis", "unit-mismatch"},  # class 2
    "unknown-heading": {"unknown-column", "unknown-indicator"},  # class 3
    "year-option": {"bad-option"},                          # class 4
    "title-row": set(),                                     # class 6: must read the same
    "grouped-number": {"ambiguous-number", "value-out-of-range", "ambiguous-delimiter"},  # 7
    "duplicate-row": {"duplicate-row"},                     # class 10
    "bad-number": {"bad-number"},
    "notes-column": set(),                                  # descriptive: read the same
    "blank-lines": set(),
    "shuffle": set(),
}


@st.composite
def tables(draw: st.DrawFn) -> dict:
    basis = draw(st.sampled_from([OLD, NEW]))
    units = draw(st.lists(st.sampled_from(UNITS[basis]), min_size=2, max_size=12, unique=True))
    inds = draw(st.lists(st.sampled_from(INDICATORS), min_size=1, max_size=3, unique=True))
    values = draw(st.lists(st.lists(st.integers(0, 10_000), min_size=len(inds),
                                    max_size=len(inds)), min_size=len(units), max_size=len(units)))
    return {"basis": basis, "units": units, "inds": inds, "values": values,
            "year": draw(st.integers(2020, 2024)),
            "layout": draw(st.sampled_from(["wide", "long"])),
            "sep": draw(st.sampled_from([",", ";", "\t"])),
            "fault": draw(st.sampled_from(sorted(FAULTS))),
            "pick": draw(st.integers(0, 10_000))}


def _render(t: dict, fault: str | None) -> tuple[str, dict]:
    sep, comma = t["sep"], t["sep"] != ","
    units = list(t["units"])
    kw: dict = {"basis": t["basis"]}
    if fault == "swap-codes":
        (c1, n1), (c2, n2) = units[0], units[1]
        units[0], units[1] = (c2, n1), (c1, n2)
    if fault == "stray-old-name" and t["basis"] == NEW:
        old_only = [u for u in UNITS[OLD] if MS.resolve(u[1], NEW) is None]
        units[0] = (units[0][0], old_only[t["pick"] % len(old_only)][1])
    if fault == "year-option":
        kw["year"] = t["year"]

    def num(v: int, i: int, j: int) -> str:
        text = f"{v / 10_000:.4f}"
        if fault == "grouped-number" and (i, j) == (0, 0):
            text = "1,051"
        if fault == "bad-number" and (i, j) == (0, 0):
            text = "n.a."
        return text.replace(".", ",") if comma and text[0].isdigit() and "," not in text else text

    heads = list(t["inds"])
    if fault == "unknown-heading":
        heads[0] = "Chỉ số không có"
    rows = []
    if t["layout"] == "wide":
        header = ["year", "code", "name", *heads]
        for i, ((code, name), vals) in enumerate(zip(units, t["values"], strict=True)):
            rows.append([str(t["year"]), code, name, *[num(v, i, j) for j, v in enumerate(vals)]])
    else:
        header = ["year", "code", "name", "indicator", "value"]
        for i, ((code, name), vals) in enumerate(zip(units, t["values"], strict=True)):
            for j, v in enumerate(vals):
                rows.append([str(t["year"]), code, name, heads[j], num(v, i, j)])
    if fault == "duplicate-row":
        rows.append(list(rows[t["pick"] % len(rows)]))
    if fault == "notes-column":
        header.append("notes")
        rows = [[*r, "as printed"] for r in rows]
    if fault == "shuffle":
        k = t["pick"] % len(rows)
        rows = rows[k:] + rows[:k]
    lines = [sep.join(header), *[sep.join(r) for r in rows]]
    if fault == "blank-lines":
        lines.insert(2, "")
    if fault == "title-row":
        lines = ["BẢNG CHỈ SỐ CHUYỂN ĐỔI SỐ", "", *lines]
    return "\n".join(lines) + "\n", kw


def _key(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("year", "basis", "code", "indicator", "value", "rank").rows())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_one_fault_is_refused_with_its_code_or_changes_nothing(tmp_path: Path, t: dict) -> None:
    # read as the DTI application reads (build): there an unknown label is a fault; rebase and the
    # library keep it as the name of another statistic (tests/test_scores.py)
    clean_text, clean_kw = _render(t, None)
    clean_path = tmp_path / "clean.csv"
    clean_path.write_text(clean_text, encoding="utf-8")
    expected = read_scores(clean_path, MS, options=BUILD_OPTIONS, **clean_kw)
    assert expected.height == len(t["units"]) * len(t["inds"])
    text, kw = _render(t, t["fault"])
    path = tmp_path / "faulty.csv"
    path.write_text(text, encoding="utf-8")
    got: pl.DataFrame | None = None
    problems: list = []
    try:
        got = read_scores(path, MS, options=BUILD_OPTIONS, **kw)
    except InputError as exc:
        problems = exc.problems
    if got is None:
        codes = {p.code for p in problems}
        assert codes & FAULTS[t["fault"]], (t["fault"], [str(p) for p in problems])
    else:
        assert _key(got) == _key(expected), t["fault"]


def test_shipped_mappings_are_the_fixture(shipped: MappingSet) -> None:
    """The property runs on the shipped unit lists (the module loads them once for speed)."""
    assert UNITS[NEW] == shipped.bases[NEW].units.select("code", "name").rows()
