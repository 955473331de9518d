"""Hierarchical units (province > district > commune): names that only resolve in context.

Commune-level names repeat across Vietnam (``Phường 1`` in 33 old districts, ``Xã Tân Thành``
in 27), so a commune name alone is not an identifier. A basis declares its hierarchy in
mapping.toml (``levels = "province district"``, ``parent_basis = "vn-province-2024"``) and
carries the parents' codes and names as columns (``province_code``, ``district_name``, ...).
A name then resolves within its province (and district): a table with ``province``,
``district`` and ``ward`` columns resolves row by row; a bare name resolves only when it is
unique on the basis, and an ambiguous one is an error listing every candidate with its
province and district. Never the first match.

Resolution works per distinct value (a 10,000-row table with 3,000 distinct communes costs
3,000 look-ups) and through dictionaries built once per basis.

The module also checks **nesting**: a fine mapping (communes) must agree with the coarse one
(provinces) it refines: every commune edge must lie inside a province edge.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

import polars as pl

from mergetool.core.names import _OLD_STYLE, _OLD_TO_NEW, clean, normalise_code
from mergetool.errors import InFile, InputError, Problem, ProblemLog
from mergetool.io.tables import ROW

if TYPE_CHECKING:
    from mergetool.core.mapping import MappingSet, Transition
    from mergetool.core.units import Basis

#: Separator of the parts of a combined ``province / district / ward`` unit cell.
SEP = "\x1f"
_TYPE_PREFIX = re.compile(r"^(thị trấn|đặc khu|phường|xã|thị xã|quận|huyện|thành phố)\s+")
#: Headings of the columns a commune table may use, by level (compared casefolded).
HEADINGS = {
    "ward": ("ward", "commune", "ward_name", "commune_name", "xã", "phường", "xã/phường",
             "phường/xã", "xã, phường", "tên xã", "đơn vị hành chính cấp xã"),
    "district": ("district", "district_name", "huyện", "quận/huyện", "huyện/quận", "tên huyện"),
    "province": ("province", "province_name", "tỉnh", "tỉnh/thành phố", "tỉnh/thành",
                 "tỉnh, thành phố", "tên tỉnh"),
    "code": ("ward_code", "commune_code", "mã xã", "mã phường/xã", "mã xã/phường", "ma_xa"),
}


_ABBREVIATIONS = {"tp": "thành phố", "tx": "thị xã", "tt": "thị trấn", "q": "quận", "h": "huyện",
                  "p": "phường", "x": "xã"}
_ABBREVIATED = re.compile(r"^(tp|tx|tt|q|h|p|x)(\s*\.\s*|\s+)(?=\S)")
_PUNCT = re.compile(r"[-.,]+")
_SPACES = re.compile(r"\s+")
_COMBINING = re.compile("[\u0300-\u036f]")


@lru_cache(maxsize=1 << 16)
def full_key(text: str) -> str:
    """Comparison key that keeps the unit-type word (``Thành phố Cao Lãnh`` and ``Huyện Cao
    Lãnh`` are two districts): case-, tone-placement- and punctuation-insensitive, with
    ``TP.``, ``TX.``, ``Q.``, ``P.`` ... spelled out."""
    key = clean(text).casefold()
    key = _OLD_STYLE.sub(lambda m: _OLD_TO_NEW[m.group(1)], key)
    key = _ABBREVIATED.sub(lambda m: _ABBREVIATIONS[m.group(1)] + " ", key, count=1)
    return _SPACES.sub(" ", _PUNCT.sub(" ", key)).strip()


@lru_cache(maxsize=1 << 16)
def _strip_type(key: str) -> str:
    stripped = _TYPE_PREFIX.sub("", key, count=1).strip()
    return stripped or key


def short_key(text: str) -> str:
    """:func:`full_key` without a leading unit-type word (``Phường``, ``Xã``, ``Huyện``, ...)."""
    return _strip_type(full_key(text))


@lru_cache(maxsize=1 << 16)
def ascii_key(text: str) -> str:
    """A key without diacritics (``đ`` -> ``d``): the loosest, used only where unambiguous."""
    return _COMBINING.sub("", unicodedata.normalize("NFD", text.replace("đ", "d")))


def levels(basis: Basis) -> list[str]:
    """The parent levels a basis declares (``["province", "district"]``); [] if flat."""
    return basis.meta.get("levels", "").split()


def is_hierarchical(ms: MappingSet) -> bool:
    return any(levels(b) for b in ms.bases.values())


@dataclass
class Index:
    """Look-up tables of one hierarchical basis, built once."""

    basis: str
    units: pl.DataFrame
    stages: list[dict[str, list[int]]] = field(default_factory=list)  # key -> unit positions
    codes: list[str] = field(default_factory=list)
    code_set: set[str] = field(default_factory=set)
    parents: dict[str, list[str | None]] = field(default_factory=dict)  # level -> code per unit
    parent_keys: dict[str, dict[tuple[str | None, str], list[str]]] = field(default_factory=dict)

    def describe(self, i: int) -> str:
        row = self.units.row(i, named=True)
        where = [row[f"{lv}_name"] for lv in ("district", "province") if row.get(f"{lv}_name")]
        return f"{row['code']} {row['name']} ({', '.join(where)})" if where else \
            f"{row['code']} {row['name']}"


def add_aliases(basis: Basis, pairs: list[tuple[str, str]]) -> None:
    """Register ``(code, alias)`` pairs for a hierarchical basis (from a code-keyed aliases.csv)."""
    basis.__dict__.setdefault("_code_aliases", []).extend(pairs)
    basis.__dict__.pop("_hierarchy_index", None)


def index(basis: Basis) -> Index:
    """The basis's look-up tables (cached on the basis)."""
    cached = basis.__dict__.get("_hierarchy_index")
    if cached is not None:
        return cached
    units = basis.units
    codes = units["code"].to_list()
    names = units["name"].to_list()
    pos = {c: i for i, c in enumerate(codes)}
    extra: list[tuple[int, str]] = [(pos[c], a) for c, a in basis.__dict__.get("_code_aliases", [])
                                    if c in pos]
    stages: list[dict[str, list[int]]] = [{}, {}, {}, {}]
    own = [full_key(n) for n in names]
    for i, key in enumerate(own):
        stages[0].setdefault(key, []).append(i)
        stages[2].setdefault(ascii_key(key), []).append(i)
    for i, name in [*enumerate(names), *extra]:
        fk = own[i] if name is names[i] else full_key(name)
        sk = _strip_type(fk)
        for key in {fk, sk} - {own[i]}:
            stages[1].setdefault(key, []).append(i)
        stages[3].setdefault(ascii_key(sk), []).append(i)
    idx = Index(basis.id, units, stages, codes, set(codes))
    for lv in levels(basis):
        col = f"{lv}_code"
        idx.parents[lv] = units[col].to_list() if col in units.columns else [None] * len(codes)
        if lv == "district" and "district_name" in units.columns:
            table: dict[tuple[str | None, str], list[str]] = {}
            pairs = units.select("province_code", "district_code", "district_name").unique()
            for prov, dcode, dname in pairs.iter_rows():
                for stage, key in enumerate((full_key(dname), short_key(dname),
                                             ascii_key(full_key(dname)), ascii_key(short_key(dname)))):
                    table.setdefault((prov, f"{stage}:{key}"), []).append(dcode)
            idx.parent_keys[lv] = table
    basis.__dict__["_hierarchy_index"] = idx
    return idx


@dataclass
class Outcome:
    """What one look-up found: a code, or why not (with candidates when ambiguous)."""

    code: str | None = None
    problem: str | None = None  # "unknown", "ambiguous" or "mismatch" (code vs name)
    message: str = ""
    candidates: list[str] = field(default_factory=list)


def _resolve_parent(ms: MappingSet | None, basis: Basis, level: str, text: str,
                    province: str | None) -> Outcome:
    """A province or district cell -> its code on the basis's parent level."""
    code = normalise_code(text)
    if level == "province":
        parent_id = basis.meta.get("parent_basis")
        parent = _parent_basis(ms, parent_id)
        if code is not None:
            return Outcome(code)
        hit = parent.resolver.resolve(text) if parent is not None else None
        if hit is None and "province_name" in basis.units.columns:
            names = basis.units.select("province_code", "province_name").unique()
            hits = {c for c, n in names.iter_rows() if short_key(n) == short_key(text)}
            hit = next(iter(hits)) if len(hits) == 1 else None
        if hit is None:
            return Outcome(problem="unknown", message=f"province {text!r} is not a province of "
                           f"{parent_id or basis.id}")
        return Outcome(hit)
    table = index(basis).parent_keys.get(level, {})
    if code is not None and len(text.strip()) >= 3:  # "760" is a district code, "3" is Quận 3
        return Outcome(text.strip().zfill(3))
    for key in (f"0:{full_key(text)}", f"1:{short_key(text)}", f"1:{full_key(text)}",
                f"2:{ascii_key(full_key(text))}", f"3:{ascii_key(short_key(text))}"):
        if province is None:
            found = sorted({c for (_p, k), cs in table.items() if k == key for c in cs})
        else:
            found = sorted(set(table.get((province, key), [])))
        if len(found) == 1:
            return Outcome(found[0])
        if len(found) > 1:
            named = dict(basis.units.select("district_code", "district_name").unique().iter_rows())
            return Outcome(problem="ambiguous", message=f"district {text!r} is ambiguous",
                           candidates=[f"{c} {named.get(c, '?')}" for c in found])
    return Outcome(problem="unknown", message=f"district {text!r} is not a district "
                   + (f"of province {province}" if province else f"of {basis.id}"))


def _parent_basis(ms: MappingSet | None, parent_id: str | None) -> Basis | None:
    if ms is None or parent_id is None:
        return None
    parent = ms.__dict__.get("_parent_mappings")
    for candidate in ([parent] if parent is not None else []) + [ms]:
        if parent_id in candidate.bases:
            return candidate.bases[parent_id]
    return None


def resolve(basis: Basis, ward: str, *, province: str | None = None, district: str | None = None,
            ms: MappingSet | None = None) -> Outcome:
    """One commune-level name (with optional province and district cells) -> its code."""
    idx = index(basis)
    scope: dict[str, str] = {}
    for level, text in (("province", province), ("district", district)):
        if text:
            if level not in levels(basis):
                return Outcome(problem="unknown", message=f"{basis.id} has no {level} level "
                               f"(found {level} {text!r})")
            got = _resolve_parent(ms, basis, level, text, scope.get("province"))
            if got.code is None:
                return got
            scope[level] = got.code
    code = normalise_code(ward)
    if code is not None:
        if code not in idx.code_set:
            return Outcome(problem="unknown", message=f"code {code} is not a unit of {basis.id}")
        return Outcome(code)
    keys = ((full_key(ward),), (full_key(ward), short_key(ward)), (ascii_key(full_key(ward)),),
            (ascii_key(short_key(ward)),))
    for stage, stage_keys in zip(idx.stages, keys, strict=True):
        hits = sorted({i for key in stage_keys for i in stage.get(key, [])
                       if all(idx.parents[lv][i] == c for lv, c in scope.items())})
        if len(hits) == 1:
            return Outcome(idx.codes[hits[0]])
        if len(hits) > 1:
            where = " in " + ", ".join(f"{lv} {c}" for lv, c in scope.items()) if scope else ""
            need = [lv for lv in levels(basis) if lv not in scope]
            return Outcome(problem="ambiguous",
                           message=f"{ward!r} names {len(hits)} units of {basis.id}{where}"
                           + (f"; give its {' and '.join(need)}" if need else ""),
                           candidates=[idx.describe(i) for i in hits])
    where = " in " + ", ".join(f"{lv} {c}" for lv, c in scope.items()) if scope else ""
    return Outcome(problem="unknown", message=f"{ward!r} is not a unit of {basis.id}{where}")


def split_address(text: str, basis: Basis) -> tuple[str, str | None, str | None]:
    """``"Phường 1, Quận 3, Hồ Chí Minh"`` (address order) -> (ward, district, province)."""
    if SEP in text:
        parts = text.split(SEP)
        province, district, ward = [*parts, "", "", ""][:3]  # a 4th part is a code
        return ward, district or None, province or None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        return text, None, None
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], parts[1], parts[-1]


def resolve_text(ms: MappingSet, basis: Basis, text: str) -> str | None:
    """A code, bare name or ``ward, [district,] province`` text -> code, None if unknown;
    an ambiguous name raises with the candidates (never the first match)."""
    ward, district, province = split_address(text, basis)
    got = resolve(basis, ward, province=province, district=district, ms=ms)
    if got.problem == "ambiguous":
        raise InputError.single(Problem(
            "ambiguous-unit", got.message, found=text, expected="one of: " + "; ".join(got.candidates),
            hint="write it as 'ward, district, province' or use its code"))
    return got.code


# --- score tables -------------------------------------------------------------------------------

def _find(frame: pl.DataFrame, level: str) -> str | None:
    lower = {c.casefold(): c for c in frame.columns if c != ROW}
    return next((lower[h] for h in HEADINGS[level] if h in lower), None)


def combine_columns(frame: pl.DataFrame, ms: MappingSet) -> pl.DataFrame:
    """A commune table's ``province``/``district``/``ward`` columns as one ``unit`` column.

    Only for hierarchical mappings and tables with a ward column; the parts travel together,
    separated by :data:`SEP`, and are resolved per distinct combination by :func:`resolve_units`.
    """
    if not is_hierarchical(ms):
        return frame
    ward, code = _find(frame, "ward"), _find(frame, "code")
    if ward is None and code is None:
        return frame
    if "unit" in {c.casefold() for c in frame.columns}:
        raise InputError.single(Problem(
            "ambiguous-unit", "the table has both a 'unit' and a ward column", row=1,
            found=f"unit, {ward or code}", hint="keep one of them"))
    cols = {lv: _find(frame, lv) for lv in ("province", "district")}
    if ward is None and not any(cols.values()):  # a ward_code column alone: codes, as 'code'
        return frame.rename({cast(str, code): "unit"})  # both None returned above
    parts = [pl.col(c).fill_null("") if c else pl.lit("")
             for c in (cols["province"], cols["district"], ward, code)]
    unit = pl.concat_str(parts, separator=SEP)
    drop = [c for c in (ward, code, cols["province"], cols["district"]) if c]
    empty = pl.lit(True)
    for c in (ward, code):
        if c:
            empty = empty & (pl.col(c).is_null() | (pl.col(c) == ""))
    unit = pl.when(empty).then(pl.lit(None)).otherwise(unit)
    return frame.with_columns(unit.alias("unit")).drop(drop)


def _code_part(unit: str) -> str:
    parts = unit.split(SEP)
    return parts[3] if len(parts) > 3 else ""


def _resolve_cell(basis: Basis, unit: str, combined: bool, ms: MappingSet) -> Outcome:
    """One distinct unit cell; with a code and names, the names must name that code."""
    if not combined:
        return resolve(basis, unit, ms=ms)
    ward, district, province = split_address(unit, basis)
    code = _code_part(unit)
    if not code:
        return resolve(basis, ward, province=province, district=district, ms=ms)
    by_code = resolve(basis, code, ms=ms)
    if by_code.code is None or not (ward or province or district):
        return by_code
    by_name = resolve(basis, ward or code, province=province, district=district, ms=ms)
    if by_name.code == by_code.code or (by_name.problem == "ambiguous" and any(
            c.startswith(by_code.code + " ") for c in by_name.candidates)):
        return by_code
    named = (f"{by_name.code} {basis.name_of(by_name.code)}" if by_name.code
             else by_name.message)
    return Outcome(problem="mismatch", message=f"code {code} is {basis.name_of(by_code.code)} on "
                   f"{basis.id}, but the names say otherwise: {named}")


def _show(unit: str) -> str:
    """A combined cell as a reader writes it: ``Phúc Xá, Ba Đình, Hà Nội`` (address order),
    its code after it (``Phúc Xá, Hà Nội (code 00001)``); never the internal separator."""
    if SEP not in unit:
        return unit
    province, district, ward, code = [*unit.split(SEP), "", "", "", ""][:4]
    names = ", ".join(p for p in (ward, district, province) if p)
    if not code:
        return names
    return f"{names} (code {code})" if names else code


def resolve_units(long: pl.DataFrame, ms: MappingSet, path: str | Path, column: str,
                  declared: str | None) -> pl.DataFrame | None:
    """Attach ``basis`` and ``code`` for a hierarchical mapping; None to use the flat resolver
    (a flat mapping, or a table of codes only)."""
    if not is_hierarchical(ms):
        return None
    units = long["unit"].drop_nulls().unique().sort().to_list()
    if all(normalise_code(u) is not None for u in units):
        return None
    combined = any(SEP in u for u in units)
    with_district = any(SEP in u and u.split(SEP)[1] for u in units)
    candidates = [declared] if declared else [b for b in ms.bases if levels(ms.bases[b])]
    if with_district and not declared:
        candidates = [b for b in candidates if "district" in levels(ms.bases[b])] or candidates
    outcomes: dict[str, dict[str, Outcome]] = {}
    for b in candidates:
        basis = ms.basis(b)
        outcomes[b] = {}
        for u in units:
            outcomes[b][u] = _resolve_cell(basis, u, combined, ms)
    fits = [b for b in candidates if all(o.code is not None for o in outcomes[b].values())]
    if len(fits) > 1:
        complete = [b for b in fits
                    if {o.code for o in outcomes[b].values()} == ms.bases[b].codes]
        fits = complete if len(complete) == 1 else fits
    shown = "province/district/ward" if combined else column
    if len(fits) > 1:
        raise InputError.single(Problem(
            "ambiguous-basis", f"every unit exists on {' and '.join(fits)}; the basis cannot be "
            "told from the units", file=str(path), column=shown, found=", ".join(fits),
            hint="declare it: --basis/--from " + fits[0]))
    if len(fits) == 1:
        codes = {u: o.code for u, o in outcomes[fits[0]].items()}
        # Later messages (duplicate-row, ...) quote the unit: as written, not the combined cell.
        shown_units = {u: _show(u) for u in units}
        return long.with_columns(basis=pl.lit(fits[0]),
                                 code=pl.col("unit").replace_strict(codes, default=None),
                                 file=pl.lit(str(path)),
                                 unit=pl.col("unit").replace_strict(shown_units, default=None))
    best = max(candidates, key=lambda b: sum(o.code is not None for o in outcomes[b].values()))
    first_rows = long.group_by("unit").agg(pl.col("row").min())
    rows = dict(first_rows.iter_rows())
    log = ProblemLog()
    for u, o in outcomes[best].items():
        if o.code is not None:
            continue
        code = {"ambiguous": "ambiguous-unit", "mismatch": "unit-mismatch"}.get(
            o.problem or "", "unknown-unit")
        hint: str | None
        if o.problem == "ambiguous":
            hint = "add province and district columns, or use codes"
        elif o.problem == "mismatch":
            hint = ("codes are reused across bases (a 2025 code can be another 2024 unit's); "
                    "check the code against the name")
        else:
            hint = ms.bases[best].resolver.hint(split_address(u, ms.bases[best])[0])
        log.add(code, o.message, file=str(path), row=int(rows[u]), column=shown, found=_show(u),
                expected=("one of: " + "; ".join(o.candidates[:12])
                          + (" ..." if len(o.candidates) > 12 else "")) if o.candidates else None,
                hint=hint)
    log.raise_if_any(f"{path}: unresolved units on {best}")
    return None


# --- mapping validation -------------------------------------------------------------------------

def check_edge_names(ms: MappingSet, t: Transition, edges: pl.DataFrame) -> list[Problem]:
    """Name columns of a transition must equal the unit's name (vectorised: names repeat, so
    the name cannot be resolved on its own)."""
    problems = []
    for side, name_col, basis_id in (("from_code", "from_name", t.from_basis),
                                     ("to_code", "to_name", t.to_basis)):
        if name_col not in edges.columns or basis_id not in ms.bases:
            continue
        units = ms.bases[basis_id].units.select(pl.col("code").alias(side), unit_name="name")
        bad = (edges.select(ROW, side, name_col).join(units, on=side, how="inner")
               .filter(pl.col(name_col).is_not_null() & (pl.col(name_col) != "")
                       & (pl.col(name_col).map_batches(lambda s: s.str.to_lowercase())
                          != pl.col("unit_name").str.to_lowercase())))
        for row, code, name, unit_name in bad.iter_rows():
            problems.append(Problem(
                "unknown-unit", f"code {code} is {unit_name}, but the name says {name!r}",
                file=t.file, row=row, column=t.meta.get(f"{name_col}_column", name_col),
                expected=unit_name, found=name,
                hint="codes are reused across bases; check the code against the basis list"))
    return problems


def check_nesting(ms: MappingSet, spec: dict, parent: MappingSet, toml_path: Path) -> list[Problem]:
    """Every edge of the fine transition must lie inside an edge of the parent transition."""
    log = ProblemLog()
    where: InFile = {"file": str(toml_path)}
    tid, ptid = spec.get("transition"), spec.get("parent_transition")
    fine = next((t for t in ms.transitions if t.id == tid), None)
    coarse = next((t for t in parent.transitions if t.id == ptid), None)
    if fine is None or coarse is None:
        missing = tid if fine is None else ptid
        log.add("bad-mapping", f"[[nesting]] names transition {missing!r}, which is not defined",
                found=str(missing), **where)
        return log.problems
    fcol, tcol = spec.get("from_column", "province_code"), spec.get("to_column", "province_code")
    fb, tb = ms.bases.get(fine.from_basis), ms.bases.get(fine.to_basis)
    if fb is None or tb is None:
        return log.problems
    for basis, col in ((fb, fcol), (tb, tcol)):
        if col not in basis.units.columns:
            log.add("missing-column", f"[[nesting]] needs column {col!r} in basis {basis.id}",
                    expected=col, found=", ".join(basis.units.columns), **where)
    if log:
        return log.problems
    for basis, col, pid in ((fb, fcol, coarse.from_basis), (tb, tcol, coarse.to_basis)):
        pcodes = list(parent.bases[pid].codes) if pid in parent.bases else []
        for code, pc in basis.units.filter(~pl.col(col).is_in(pcodes)).select("code", col).iter_rows():
            log.add("unknown-unit", f"unit {code} of {basis.id} names parent {pc!r}, not a unit of {pid}",
                    column=col, found=str(pc), **where)
    edges = fine.edges if ROW in fine.edges.columns else fine.edges.with_row_index(ROW, offset=2)
    pairs = (edges.select(ROW, "from_code", "to_code")
             .join(fb.units.select(from_code="code", pf=fcol), on="from_code", how="left")
             .join(tb.units.select(to_code="code", pt=tcol), on="to_code", how="left"))
    allowed = coarse.edges.select(pf="from_code", pt="to_code").unique()
    bad = pairs.filter(pl.col("pf").is_not_null() & pl.col("pt").is_not_null()).join(
        allowed, on=["pf", "pt"], how="anti").sort(ROW)
    for row, a, b, pf, pt in bad.select(ROW, "from_code", "to_code", "pf", "pt").iter_rows():
        inside = sorted(allowed.filter(pl.col("pf") == pf)["pt"].to_list())
        log.add("nesting", f"edge {a} -> {b} goes from province {pf} to {pt}, but the province "
                f"mapping {coarse.id} sends {pf} to {', '.join(inside) or 'nowhere'}",
                file=fine.file, row=row, column=fine.meta.get("to_code_column", "to_code"),
                expected=" or ".join(inside), found=pt,
                hint="a commune stays inside the province its province became")
    return log.problems
