# ruff: noqa: E501  (the generated Markdown and TOML templates keep their lines whole)
"""Regenerate mappings/vn-2025-wards/ from the data of the PyPI package ``vietnamadminunits``.

    pip install -e ".[mappings-build]"
    python mappings/build_vn_wards.py            # rewrites the files; prints the counts
    python mappings/build_vn_wards.py --check    # exit 1 if the committed files differ

A build-time tool only: the mergetool package never imports ``vietnamadminunits``. The
package's data files are read directly (``data/dataset.db``, ``data/converter_2025.json``),
without importing the package, so its runtime dependencies are not exercised. Output is
deterministic: rows sorted, ``\\n`` line endings, no timestamps.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

PACKAGE = "vietnamadminunits"
HERE = Path(__file__).resolve().parent
OUT = HERE / "vn-2025-wards"
PROVINCES = HERE / "vn-2025"
FIXTURE = HERE.parent / "tests" / "data" / "vn_wards_sample.csv"
#: Provinces (new codes) whose new wards are copied into the test fixture, with the predecessor
#: lists as the package's converter gives them: a capital, a three-way merger with divided
#: communes, an unchanged mountain province, and the province of the 2024 Huế reform.
SAMPLE_PROVINCES = ("01", "12", "46", "92")
WARD_PREFIXES = ("Thị trấn", "Đặc khu", "Phường", "Xã")


def data_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{PACKAGE} is not installed: pip install -e '.[mappings-build]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def short_name(name: str) -> str:
    """The name without its leading unit-type word (``Phường Phúc Xá`` -> ``Phúc Xá``)."""
    for prefix in WARD_PREFIXES:
        if name.startswith(prefix + " "):
            return name[len(prefix) + 1:]
    return name


def read_province_names(file: str) -> dict[str, str]:
    with open(PROVINCES / "bases" / file, encoding="utf-8", newline="") as f:
        return {r["code"]: r["name_vi"] for r in csv.DictReader(f)}


def province_edges() -> set[tuple[str, str]]:
    with open(PROVINCES / "transitions" / "vn-merger-2025.csv", encoding="utf-8", newline="") as f:
        return {(r["predecessor_code"], r["successor_code"]) for r in csv.DictReader(f)}


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def fmt_area(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def build() -> dict[str, str]:
    """Every generated file: relative path -> text."""
    data = data_dir()
    version = importlib.metadata.version(PACKAGE)
    db = sqlite3.connect(data / "dataset.db")
    conv = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))
    old_prov = read_province_names("vn-province-2024.csv")
    new_prov = read_province_names("vn-province-2025.csv")
    merger = province_edges()

    # --- old units: 10,035 communes + 5 island districts that had no commune level -----------
    old: dict[str, dict] = {}
    old_by_key: dict[str, str] = {}
    for (pk, dk, wk, pcode, dcode, dist, ward, wtype, wcode) in db.execute(
            "SELECT provinceKey, districtKey, wardKey, provinceCode, districtCode, district, ward, "
            "wardType, wardCode FROM admin_units_legacy"):
        if pcode not in old_prov:
            raise SystemExit(f"legacy province code {pcode} is not in vn-province-2024")
        if wcode:
            code, name, kind, level = wcode, ward, wtype, "commune"
        else:  # a district without communes (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo)
            code, name, kind, level = dcode, dist, dist.split(" ")[0], "district"
        if code in old:
            raise SystemExit(f"duplicate legacy code {code}")
        old[code] = {"code": code, "name": name, "type": kind, "level": level,
                     "province_code": pcode, "province_name": old_prov[pcode],
                     "district_code": dcode, "district_name": dist}
        old_by_key[f"{pk}_{dk}_{wk or ''}"] = code

    # --- new units: 3,321 communes, wards and special zones ----------------------------------
    new: dict[str, dict] = {}
    new_by_key: dict[tuple[str, str], str] = {}
    for pk, wk, pcode, ward, wtype, wcode, area in db.execute(
            "SELECT provinceKey, wardKey, provinceCode, ward, wardType, wardCode, wardAreaKm2 "
            "FROM admin_units"):
        if pcode not in new_prov:
            raise SystemExit(f"new province code {pcode} is not in vn-province-2025")
        new[wcode] = {"code": wcode, "name": ward, "type": wtype, "province_code": pcode,
                      "province_name": new_prov[pcode], "area_km2": area}
        new_by_key[(pk, wk)] = wcode

    # --- the conversion: undivided (one successor) and divided (several) old units ----------
    edges: list[dict] = []
    for npk, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for nwk, olds in wards.items():
            for ok in olds:
                edges.append({"from": old_by_key[ok], "to": new_by_key[(npk, nwk)],
                              "divided": False, "default": True})
    for npk, divided in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for ok, parts in divided.items():
            for part in parts:
                edges.append({"from": old_by_key[ok], "to": new_by_key[(npk, part["newWardKey"])],
                              "divided": True, "default": bool(part["isDefaultNewWard"])})
    edges.sort(key=lambda e: (e["from"], e["to"]))
    pairs = Counter((e["from"], e["to"]) for e in edges)
    if max(pairs.values()) > 1:
        raise SystemExit("duplicate edges in the converter")
    for e in edges:
        pair = (old[e["from"]]["province_code"], new[e["to"]]["province_code"])
        if pair not in merger:
            raise SystemExit(f"edge {e['from']} -> {e['to']} crosses provinces {pair}")
    missing_old = set(old) - {e["from"] for e in edges}
    missing_new = set(new) - {e["to"] for e in edges}
    if missing_old or missing_new:
        raise SystemExit(f"unmapped units: {sorted(missing_old)[:5]} {sorted(missing_new)[:5]}")
    divided_codes = sorted({e["from"] for e in edges if e["divided"]})
    n_succ = Counter(e["from"] for e in edges)
    if any(n_succ[c] < 2 for c in divided_codes):
        raise SystemExit("a divided unit with a single successor")

    files: dict[str, str] = {}
    old_rows = sorted(old.values(), key=lambda u: (u["province_code"], u["district_code"], u["code"]))
    files["bases/vn-ward-2024.csv"] = csv_text(
        ["code", "name", "type", "level", "province_code", "province_name", "district_code",
         "district_name"],
        [[u[k] for k in ("code", "name", "type", "level", "province_code", "province_name",
                         "district_code", "district_name")] for u in old_rows])
    new_rows = sorted(new.values(), key=lambda u: (u["province_code"], u["code"]))
    files["bases/vn-ward-2025.csv"] = csv_text(
        ["code", "name", "type", "province_code", "province_name", "area_km2"],
        [[u["code"], u["name"], u["type"], u["province_code"], u["province_name"],
          fmt_area(u["area_km2"])] for u in new_rows])
    files["transitions/vn-ward-2025.csv"] = csv_text(
        ["predecessor_code", "predecessor_name", "successor_code", "successor_name", "share",
         "divided", "default_successor"],
        [[e["from"], old[e["from"]]["name"], e["to"], new[e["to"]]["name"],
          "" if e["divided"] else "1", "yes" if e["divided"] else "no",
          "yes" if e["default"] else "no"] for e in edges])

    alias_rows = []
    skipped_numeric = 0
    for basis, units in (("vn-ward-2024", old_rows), ("vn-ward-2025", new_rows)):
        for u in units:
            short = short_name(u["name"])
            if short == u["name"]:
                continue
            if short.isdigit():  # "Phường 1" -> "1" would read as a unit code
                skipped_numeric += 1
                continue
            alias_rows.append([basis, u["code"], short])
    files["aliases.csv"] = csv_text(["basis", "code", "alias"], alias_rows)

    # The test fixture: every new ward of the sample provinces with its predecessors.
    fixture = []
    for e in edges:
        if new[e["to"]]["province_code"] in SAMPLE_PROVINCES:
            fixture.append([new[e["to"]]["province_code"], e["to"], new[e["to"]]["name"], e["from"],
                            old[e["from"]]["name"], old[e["from"]]["district_name"],
                            "yes" if e["divided"] else "no"])
    fixture.sort()
    fixture_text = csv_text(["province_code", "successor_code", "successor_name",
                             "predecessor_code", "predecessor_name", "predecessor_district",
                             "divided"], fixture)

    counts = {
        "old units": len(old), "old communes": sum(u["level"] == "commune" for u in old.values()),
        "old districts without communes": sum(u["level"] == "district" for u in old.values()),
        "new units": len(new), "edges": len(edges), "divided old units": len(divided_codes),
        "edges of divided units": sum(e["divided"] for e in edges),
        "undivided old units": len(old) - len(divided_codes),
        "new units with more than one predecessor": sum(
            1 for c in Counter(e["to"] for e in edges).values() if c > 1),
        "aliases": len(alias_rows), "numeric short names skipped": skipped_numeric,
        "new units without area": sum(u["area_km2"] is None for u in new.values()),
    }
    types_old = Counter(u["type"] for u in old.values())
    types_new = Counter(u["type"] for u in new.values())
    prefix_mismatch = sorted(u["code"] for u in new.values()
                             if not u["name"].startswith(u["type"] + " "))
    by_name = Counter(u["name"] for u in old.values())
    in_prov = Counter((u["province_code"], u["name"]) for u in old.values())
    in_dist = Counter((u["district_code"], u["name"]) for u in old.values())
    in_new = Counter((u["province_code"], u["name"]) for u in new.values())
    names = {"p1": by_name["Phường 1"], "tt": by_name["Xã Tân Thành"],
             "old_repeated": sum(1 for v in by_name.values() if v > 1),
             "new_repeated": sum(1 for v in Counter(u["name"] for u in new.values()).values() if v > 1),
             "in_prov": sum(1 for v in in_prov.values() if v > 1),
             "in_dist": sum(1 for v in in_dist.values() if v > 1),
             "in_new": sum(1 for v in in_new.values() if v > 1)}
    sources = {p.name: sha256(p) for p in (data / "dataset.db", data / "converter_2025.json")}
    files["mapping.toml"] = mapping_toml(version)
    files["SOURCES.md"] = sources_md(version, counts, types_old, types_new, prefix_mismatch, new,
                                     sources, names)
    files["../../tests/data/vn_wards_sample.csv"] = fixture_text
    return files


def mapping_toml(version: str) -> str:
    return f'''# Vietnam's commune-level units before and after the 2025 reform (wards, communes, towns).
# GENERATED by mappings/build_vn_wards.py from {PACKAGE} {version}; do not edit by hand.
id = "vn-ward"
version = "2025.1+{PACKAGE}-{version}"
description = "Vietnam commune-level units: 10,040 (to 30 June 2025) -> 3,321 (from 1 July 2025)"
aliases = "aliases.csv"

[[basis]]
id = "vn-ward-2024"
file = "bases/vn-ward-2024.csv"
description = "10,035 communes, wards and townships (and 5 island districts without communes) before 1 July 2025"
valid_to = "2025-06-30"
levels = "province district"
parent_basis = "vn-province-2024"
legal_basis = "codes: Decision 124/2004/QD-TTg as amended (GSO list of administrative units)"

[[basis]]
id = "vn-ward-2025"
file = "bases/vn-ward-2025.csv"
description = "3,321 communes, wards and special zones from 1 July 2025 (districts abolished)"
valid_from = "2025-07-01"
levels = "province"
parent_basis = "vn-province-2025"
legal_basis = "codes: Decision 19/2025/QD-TTg of 30 June 2025"

[[transition]]
id = "vn-ward-2025"
file = "transitions/vn-ward-2025.csv"
from_basis = "vn-ward-2024"
to_basis = "vn-ward-2025"
effective = "2025-07-01"
legal_basis = "Resolutions of the National Assembly Standing Committee (2025) on arranging the commune-level units of each province; the source package does not give their numbers (see SOURCES.md)"
# Blank shares are unknown shares: the source lists the new units a divided commune went to, not
# how much of it went to each. mean uses every such edge; sum and weighted need real shares.
unknown_shares = "blank"

# Every ward edge must lie inside the province edge that contains it.
[[nesting]]
transition = "vn-ward-2025"
parent = "../vn-2025"
parent_transition = "vn-merger-2025"
from_column = "province_code"
to_column = "province_code"
'''


def sources_md(version: str, counts: dict, types_old: Counter, types_new: Counter,
               prefix_mismatch: list[str], new: dict, sources: dict[str, str], names: dict) -> str:
    count_rows = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    mism = ", ".join(f"{c} {new[c]['name']} (type {new[c]['type']})" for c in prefix_mismatch)
    sha = "\n".join(f"  - `data/{k}`: sha256 `{v}`" for k, v in sorted(sources.items()))
    return f"""# Vietnam 2025 commune-level reform: sources

GENERATED by `mappings/build_vn_wards.py`; regenerate with `pip install -e ".[mappings-build]" &&
python mappings/build_vn_wards.py`. Do not edit the generated files by hand.

## Source

- PyPI package **`{PACKAGE}` {version}** (MIT licence, author Tran Ngoc Minh Hieu,
  github.com/tranngocminhhieu/vietnamadminunits), the latest release, installed with pip. Read
  directly (the package is not imported), these data files:
{sha}
- Why this package: `vietnamadminunits-update` 1.0.1 (a fork on PyPI) was also inspected; its
  wheel ships the code only (it adds a reverse 34 -> 63 converter), without the `data/` folder,
  so it holds no data and cannot be used. The original 1.0.4 holds all three things needed: the
  legacy units with official codes, the 3,321 new units with codes and area, and the conversion
  including divided communes.
- The province names and the province merger come from `../vn-2025` (see its SOURCES.md); the
  build checks that every province code of the package is a unit there.

## Files

| file | built from |
|---|---|
| `bases/vn-ward-2024.csv` | table `admin_units_legacy` of `dataset.db`: `wardCode`, `ward`, `wardType`, `districtCode`, `district`, `provinceCode`; 5 island districts that had no commune level (`wardCode` empty) appear with their district code and `level = district` |
| `bases/vn-ward-2025.csv` | table `admin_units`: `wardCode`, `ward`, `wardType`, `provinceCode`, `wardAreaKm2` (km², the new unit's area) |
| `transitions/vn-ward-2025.csv` | `converter_2025.json`: `DICT_PROVINCE_WARD_NO_DIVIDED` (new unit -> the old units it was formed from whole) and `DICT_PROVINCE_WARD_DIVIDED` (divided old unit -> the new units its parts went to, one flagged `isDefaultNewWard`), keys joined to codes through `dataset.db` |
| `aliases.csv` | (`basis, code, alias`) each unit's name without its type prefix (`Xã`, `Phường`, `Thị trấn`, `Đặc khu`); numeric short names (`Phường 1` -> `1`) are not aliases, since `1` reads as a code |
| `../../tests/data/vn_wards_sample.csv` | test fixture: every new unit of provinces {", ".join(SAMPLE_PROVINCES)} with its predecessors as the converter lists them |

Province names are the project's (`../vn-2025/bases`), e.g. 46 is `Thừa Thiên Huế` on the old basis
(the package's legacy table shows its 2025 name `Thành phố Huế`).

## Counts

| what | count |
|---|---|
{count_rows}

Old unit types: {", ".join(f"{k or '(district)'} {v:,}" for k, v in sorted(types_old.items()))}.
New unit types: {", ".join(f"{k} {v:,}" for k, v in sorted(types_new.items()))}.

## Shares

An undivided old unit goes whole to one new unit: share 1. For a **divided** old unit the source
lists the new units its parts went to (and which is the "default" one for address conversion), but
**not how much of the old unit went to each**: it gives the area of each *new* unit (`newWardAreaKm2`),
never the area or population of the *part*. So divided edges have a blank (unknown) share.
`mean` is well defined (the old unit's value counts once in every new unit it touches); `sum` and
`weighted` need real shares and mergetool refuses them for these units (exit 2) unless the user
supplies shares per edge (`--shares FILE`: predecessor_code, successor_code, share). No even split is
ever assumed.

## Names

Names repeat across the country: {names['old_repeated']:,} names are borne by more than one old unit
(`Phường 1` by {names['p1']}, `Xã Tân Thành` by {names['tt']}) and {names['new_repeated']:,} by more than one new unit;
{names['in_prov']} names repeat within one old province, {names['in_dist']} within one old district,
{names['in_new']} within one new province. So a name
resolves with its province (new basis) or its province and district (old basis). Four new units
have a name whose prefix differs from their `wardType`: {mism}; kept as the source gives them.

## Legal basis

Effective 1 July 2025 (the day districts were abolished and the new communes began to operate),
under the National Assembly Standing Committee's resolutions of 2025 arranging the commune-level
units of each province. The package does not record the resolution numbers per province, so none
are given here (a gap to fill from the resolutions themselves; not guessed). Codes of the new units:
Decision 19/2025/QD-TTg (see `../vn-2025/SOURCES.md`).
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = ap.parse_args()
    files = build()
    stale = []
    for rel, text in files.items():
        path = (OUT / rel).resolve()
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            stale.append(rel)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8", newline="\n")
    for rel in files:
        print(f"{'changed' if rel in stale else 'same   '} {rel}")
    if args.check and stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
