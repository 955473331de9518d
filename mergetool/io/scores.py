"""Score tables in: any layout people use, out as one tidy long frame on a known basis.

Accepted layouts (CSV, Parquet or XLSX):

* long: ``year, unit, indicator, value`` (``unit`` may be headed code, unit_code,
  province, name, ...);
* wide: ``year, unit`` and one column per indicator;
* the ministry's ranking table (``Xếp hạng``, province, ``Chỉ số Nhận thức số`` ...
  ``CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)``), which has no year column: pass ``year``.

Units may be codes or names; names resolve through the basis's aliases. The
basis is declared (argument or a ``basis`` column) or detected from the units.
Every problem found is reported together, with file, row and column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.names import clean, heading_key, name_key, nearest
from mergetool.errors import Problem, ProblemLog
from mergetool.io.catalogue import NO_CATALOGUE, Catalogue
from mergetool.io.schema import DESCRIPTIVE_COLUMNS, SCORES_SCHEMA, YEAR_RANGE, Options
from mergetool.io.tables import ROW, parse_numbers, read_table_at

#: A table covering at least 90 % of one basis, plus at most 10 % of its size in units that only
#: another basis has, is ambiguous between the two (see :func:`_detect_per_year`).
STRAY_SHARE = (0.9, 0.1)

_CODE_HEADINGS = ("code", "unit_code", "province_code", "ma", "mã", "mã tỉnh", "mã đơn vị")
_GENERIC_HEADINGS = ("unit",)
_NAME_HEADINGS = ("unit_name", "name", "province", "province_name", "province_name_vi", "name_vi",
                  "tỉnh/thành phố", "tỉnh, thành phố", "tỉnh thành phố", "tỉnh/thành", "địa phương",
                  "tên tỉnh", "tên đơn vị", "đơn vị", "tỉnh")
_UNIT_HEADINGS = _CODE_HEADINGS + _GENERIC_HEADINGS + _NAME_HEADINGS
_RANK_HEADINGS = ("rank", "xếp hạng", "thứ hạng", "hạng")
#: A rank column of one indicator: a rank word and the indicator (``Xếp hạng CQS``, ``dti rank``),
#: matched on the folded heading; ``_RANK_WORD`` strips the word as written, so the indicator's
#: label keeps its diacritics (``Xếp hạng Chính quyền số``).
_FOLDED_RANK = "|".join(heading_key(h) for h in _RANK_HEADINGS)
_RANK_OF = re.compile(f"^(?:{_FOLDED_RANK}) (.+)$|^(.+) (?:{_FOLDED_RANK})$")
_RANK_WORDS = "|".join(map(re.escape, _RANK_HEADINGS))
_RANK_WORD = re.compile(rf"^(?:{_RANK_WORDS})\s+|\s+(?:{_RANK_WORDS})$", re.IGNORECASE)
#: The two columns of a long table (one row per unit and indicator).
_INDICATOR_HEADINGS, _VALUE_HEADINGS = ("indicator", "chỉ tiêu"), ("value", "giá trị")
@dataclass(frozen=True)
class Layout:
    """What the loader recognised in a table's header."""
    kind: str  # "long" or "wide"
    unit: str
    year: str | None
    basis: str | None
    rank: str | None
    indicators: dict[str, str]  # column -> indicator id (wide) / {} (long)
    check: str | None = None  # a name column checked against the code column
    ranks: dict[str, str] = field(default_factory=dict)  # "<indicator>_rank" column -> indicator
    indicator: str | None = None  # a long table's indicator column ("indicator", "Chỉ tiêu")
    value: str | None = None  # ... and its value column ("value", "Giá trị")


def _find(columns: list[str], headings: Iterable[str]) -> str | None:
    """The first column (by the headings' order) a heading names: as written, by
    :func:`name_key`, then by :func:`heading_key` (no diacritics: ``TINH/THANH PHO``)."""
    headings = list(headings)
    lower = {c.casefold(): c for c in columns}
    by_key = {name_key(c): c for c in columns}
    for h in headings:
        if h in lower:
            return lower[h]
        if name_key(h) in by_key:
            return by_key[name_key(h)]
    folded: dict[str, str] = {}
    for c in columns:
        folded.setdefault(heading_key(c), c)
    return next((folded[heading_key(h)] for h in headings if heading_key(h) in folded), None)


def weights_layout(frame: pl.DataFrame, unit: str) -> Layout:
    """The unit column of a weight table, with a name column beside a code column to check."""
    columns = [c for c in frame.columns if c != ROW]
    name = _find(columns, _NAME_HEADINGS)
    return Layout("wide", unit, None, None, None, {}, name if name and name != unit else None)


def looks_like_header(cells: list[str]) -> bool:
    """A header row names a unit column (a title row above it does not)."""
    keys = {name_key(h) for h in _UNIT_HEADINGS}
    folded = {heading_key(h) for h in _UNIT_HEADINGS}
    return any(c and (c.casefold() in _UNIT_HEADINGS or name_key(c) in keys
                      or heading_key(c) in folded) for c in cells)


def known_headings(catalogue: Catalogue = NO_CATALOGUE) -> str:
    """The indicator headings and descriptive columns a wide table may carry (for messages)."""
    return ", ".join(catalogue.by_id) + "; descriptive: " + ", ".join(DESCRIPTIVE_COLUMNS)


def detect_layout(frame: pl.DataFrame, path: str | Path,
                  log: ProblemLog | None = None, *, header: int = 1,
                  catalogue: Catalogue = NO_CATALOGUE) -> Layout:
    """Recognise the columns of a score table, or say which are missing or unknown.

    Unknown headings go to ``log`` (raised at once without it); a missing unit or indicator
    column raises with everything logged so far. ``header`` is the header's row number;
    indicator headings are those of ``catalogue``.
    """
    indicator_id = catalogue.id_of
    own = log is None
    log = ProblemLog() if log is None else log
    columns = [c for c in frame.columns if c != ROW]
    code = _find(columns, _CODE_HEADINGS)
    generic = _find(columns, _GENERIC_HEADINGS)
    name = _find(columns, _NAME_HEADINGS)
    unit = code or generic or name
    check = name if unit is not None and unit != name else None
    if check is None and code is not None and generic is not None:
        check = generic  # "code" and "unit": the unit column must agree with the code
    year = _find(columns, ("year", "năm"))
    basis = _find(columns, ("basis",))
    rank = _find(columns, _RANK_HEADINGS)
    found = ", ".join(columns)
    fatal = ProblemLog()
    if unit is None:
        fatal.add("missing-column", "no unit column", file=str(path), row=header,
                  expected="a column headed unit, code, province or name", found=found,
                  hint="head the unit column 'unit'")
    descriptive = {name_key(d) for d in DESCRIPTIVE_COLUMNS}
    descriptive_folded = {heading_key(d) for d in DESCRIPTIVE_COLUMNS} - {""}  # GHI CHU, Vung
    taken = {unit, check, year, basis, rank}
    ind_col, val_col = _find(columns, _INDICATOR_HEADINGS), _find(columns, _VALUE_HEADINGS)
    long = ind_col is not None and val_col is not None
    if long:
        taken |= {ind_col, val_col}
    indicators: dict[str, str] = {}
    ranks: dict[str, str] = {}
    for col in columns:
        if col in taken or name_key(col) in descriptive or col.casefold() in DESCRIPTIVE_COLUMNS \
                or heading_key(col) in descriptive_folded:
            continue
        if (rank_of := _rank_of(col, indicator_id)) is not None:
            twin = next((c for c, i in ranks.items() if i == rank_of), None)
            if twin is None and rank is not None and rank_of == catalogue.headline:
                twin = rank  # the table's rank column is the headline indicator's rank
            if twin is not None:
                log.add("bad-file", f"columns {twin!r} and {col!r} both hold the rank of "
                        f"{rank_of}", file=str(path), row=header, column=col,
                        found=f"{twin}, {col}", hint="keep one rank column per indicator")
            ranks[col] = rank_of
            continue
        ind = None if long else indicator_id(col)
        if ind is not None:
            twin = next((c for c, i in indicators.items() if i == ind), None)
            if twin is not None:
                log.add("bad-file", f"columns {twin!r} and {col!r} both hold {ind}", file=str(path),
                        row=header, column=col, found=f"{twin}, {col}",
                        hint="keep one column per indicator")
            indicators[col] = ind
            continue
        log.add("unknown-column", f"heading {col!r} is not a known column", file=str(path), row=header,
                column=col, found=col,
                expected=("year, unit, indicator, value, basis, rank, a name column or a "
                          "descriptive column" if long else "an indicator heading"),
                hint=_nearest_heading(col, catalogue) + "known: " + known_headings(catalogue))
    if not long and not indicators:
        fatal.add("missing-column", "no indicator columns", file=str(path), row=header,
                  expected="indicator and value columns (long), or one column per indicator "
                  f"(wide) such as {catalogue.examples or 'the indicators ids'}", found=found)
    if fatal:
        log.extend(fatal.problems)
        log.raise_if_any(f"{path}: missing columns")
    if own:
        log.raise_if_any(f"{path}: unknown columns")
    unit = cast(str, unit)  # no unit column is fatal: raised above
    if long:
        return Layout("long", unit, year, basis, rank, {}, check, ranks,
                      indicator=ind_col, value=val_col)
    return Layout("wide", unit, year, basis, rank, indicators, check, ranks)


def _rank_of(col: str, indicator_id: Callable[[str], str | None]) -> str | None:
    """The indicator whose rank a heading holds (``dti_rank``, ``Xếp hạng CQS``, ``KTS rank``,
    ``Xếp hạng Chính quyền số``), or None."""
    if col.casefold().endswith("_rank") and (hit := indicator_id(col[:-5])) is not None:
        return hit
    named = _RANK_OF.match(heading_key(col))
    if named is None:
        return None
    return indicator_id(_RANK_WORD.sub("", clean(col))) or indicator_id(named.group(1) or
                                                                      named.group(2))


def _nearest_heading(col: str, catalogue: Catalogue) -> str:
    labels = {i.label_vi: i.id for i in catalogue.indicators} | {i: i for i in catalogue.by_id}
    near = nearest(col, list(labels), 1)
    return f"did you mean {near[0]!r} ({labels[near[0]]})? " if near else ""


def year_from_name(path: Path) -> int | None:
    """A year 2000-2099 in a file name (``dti_2022_63.xlsx`` -> 2022), if exactly one."""
    years = set(re.findall(r"(?<!\d)(20\d\d)(?!\d)", path.stem))
    return int(years.pop()) if len(years) == 1 else None


def read_scores(path: str | Path, mappings: MappingSet, *, basis: str | None = None,
                year: int | None = None, default_year: int | None = None,
                sheet: str | None = None, header_row: int | None = None,
                check_range: bool = True, mixed_bases: bool = False,
                options: Options = Options()) -> pl.DataFrame:
    """A score file as a long frame (:data:`SCORES_SCHEMA`), validated, every problem at once.

    ``year`` is the user's option (an error when the file has a year column, which it would
    contradict or duplicate); ``default_year`` (e.g. from the file name) is used only when the
    file has no year column. The basis is ``basis``, a ``basis`` column, or detected per year;
    ``mixed_bases`` allows years on different bases in one file (``build`` reads them so),
    otherwise such a file is refused.
    """
    path = Path(path)

    log = ProblemLog()
    frame, delimiter, header = read_table_at(
        path, sheet, header_row=header_row, header_test=looks_like_header, problems=log,
        options={"sheet": options.sheet, "header_row": options.header_row})
    from mergetool.core import hierarchy  # here: only reading a table needs it, not a build

    frame = hierarchy.combine_columns(frame, mappings)  # province/district/ward -> one unit
    layout = detect_layout(frame, path, log, header=header, catalogue=options.catalogue)
    _refuse_partial_values(frame, path, log)
    years = _years(frame, layout, path, year, default_year, options, log, header)
    long = _to_long(frame, layout, path, delimiter, years, log, free_labels=options.free_labels,
                    catalogue=options.catalogue)
    declared = _declared_bases(frame, layout, path, basis, mappings, options, log)
    if layout.basis is None:  # one basis for every row (or none: detected)
        long = long.with_columns(declared=pl.lit(declared[0] if len(declared) else None, pl.String))
    else:
        long = long.join(pl.DataFrame({"row": frame[ROW].cast(pl.Int32), "declared": declared}),
                         on="row", how="left", maintain_order="left")
    long = resolve_units(long, mappings, path, layout, log, options=options,
                         mixed_bases=mixed_bases)
    ok = long if long["code"].null_count() == 0 else long.filter(pl.col("code").is_not_null())
    log.extend(check_duplicates(ok, layout))
    if check_range:
        log.extend(check_ranges(ok, options.catalogue))
    if not log and not long.select((pl.col("value").is_not_null() | pl.col("rank").is_not_null())
                                   .any()).item():
        log.add("no-values", "the file contributes no values (nor ranks): every cell is empty",
                file=str(path), hint="fill in the values, or check that the columns are the "
                "indicators (" + ", ".join(layout.indicators) + ")" if layout.indicators else None)
    log.raise_if_any(f"{path}: bad input")
    return long.select(SCORES_SCHEMA.keys())


def _refuse_partial_values(frame: pl.DataFrame, path: Path, log: ProblemLog) -> None:
    """A table that ``rebase --policy partial`` wrote marks a mean over only some predecessors
    ``partial`` in its ``status`` column; read back as a value, it would pass for a complete one
    (and be ranked), so such rows are refused, naming what is missing."""
    status = next((c for c in frame.columns if c.strip().casefold() == "status"), None)
    if status is None:
        return
    missing = next((c for c in frame.columns if c.strip().casefold() == "missing"), None)
    for i in (frame[status].str.strip_chars().str.to_lowercase() == "partial").fill_null(False).arg_true():
        gap = frame[missing][i] if missing else None
        log.add("partial-value", "a value computed from only some predecessors (status partial)",
                file=str(path), row=int(frame[ROW][i]), column=status, found="partial",
                expected="complete values (status ok)",
                hint=(f"missing predecessors: {gap}; " if gap else "") + "rebase with --policy strict, "
                "or drop the row: a partial mean is not comparable with complete ones")


def _years(frame: pl.DataFrame, layout: Layout, path: Path, year: int | None,
           default_year: int | None, options: Options, log: ProblemLog,
           header: int = 1) -> pl.Series:
    if layout.year is None:
        chosen = year if year is not None else default_year
        if chosen is None:
            how = (f"add a year column, pass {options.year} or put the year in the file name "
                   "(dti_2024.csv)" if options.year else
                   "add a year column or put the year in the file name (dti_2024.csv)")
            log.add("missing-column", "no year column and no year given", file=str(path), row=header,
                    expected="a column headed year", hint=how)
        elif not YEAR_RANGE[0] <= chosen <= YEAR_RANGE[1]:
            log.add("bad-year", "not a year", file=str(path),
                    column=(options.year or "year") if year is not None else "file name",
                    expected=f"a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}", found=str(chosen))
            chosen = None
        return pl.repeat(chosen, frame.height, dtype=pl.Int32, eager=True).alias("year")
    if year is not None:
        log.add("bad-option", f"the file has a year column ({layout.year!r}): {options.year or 'the year'} "
                f"{year} would be ignored", file=str(path), column=options.year or "year",
                found=str(year), hint=f"drop {options.year or 'the year option'}, or drop the "
                "year column to give the year on the command line")
    raw = frame[layout.year]
    parsed = raw.cast(pl.Int32, strict=False)  # plain whole numbers: the same, in one pass
    if parsed.null_count():
        parsed = raw.str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    for i in (parsed.is_null() | (parsed < YEAR_RANGE[0]) | (parsed > YEAR_RANGE[1])).arg_true():
        log.add("bad-year", "not a year", file=str(path), row=int(frame[ROW][i]),
                column=layout.year, expected=f"a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
                found=raw[i])
    return parsed.alias("year")


def _to_long(frame: pl.DataFrame, layout: Layout, path: Path, delimiter: str,
             years: pl.Series, log: ProblemLog, *, free_labels: bool = False,
             catalogue: Catalogue = NO_CATALOGUE) -> pl.DataFrame:
    indicator_id, BY_ID = catalogue.id_of, catalogue.by_id
    base = pl.DataFrame({"year": years, "unit": frame[layout.unit],
                         "check": frame[layout.check] if layout.check else
                         pl.repeat(None, frame.height, dtype=pl.String, eager=True),
                         "row": frame[ROW].cast(pl.Int32)})
    ranks = (_ranks(frame, layout.rank, path, log) if layout.rank
             else pl.repeat(None, frame.height, dtype=pl.Int32, eager=True).alias("rank"))
    own_ranks = {ind: _ranks(frame, col, path, log) for col, ind in layout.ranks.items()}
    rank_cols = {ind: col for col, ind in layout.ranks.items()}
    if layout.kind == "long":
        ind_raw, val_raw = cast(str, layout.indicator), cast(str, layout.value)
        labels = frame[ind_raw]
        distinct = labels.drop_nulls().unique()
        ids = {lab: indicator_id(lab) for lab in distinct.to_list()}  # once per distinct label
        if free_labels:  # any statistic, kept as written (catalogue labels still canonicalised)
            ids = {lab: v if v is not None else (clean(lab) or None) for lab, v in ids.items()}
        for lab in sorted(k for k, v in ids.items() if v is None and k != ""):
            rows = frame.filter(pl.col(ind_raw) == lab)[ROW]
            near = nearest(lab, list(BY_ID), 1)
            log.add("unknown-indicator", f"indicator {lab!r} is not known (rows "
                    f"{', '.join(map(str, rows.head(8).to_list()))}{' ...' if rows.len() > 8 else ''})",
                    file=str(path), row=int(rows[0]), column=ind_raw, found=lab,
                    expected=", ".join(BY_ID),
                    hint=(f"did you mean {near[0]!r}? " if near else "") + f"the indicators are the "
                    f"{catalogue.name}'s: " + ", ".join(BY_ID))
        for i in (labels.is_null() | (labels == "")).arg_true():
            log.add("unknown-indicator", "empty indicator", file=str(path),
                    row=int(frame[ROW][i]), column=ind_raw, expected=", ".join(BY_ID))
        indicator = (labels if labels.null_count() == 0 and all(k == v for k, v in ids.items())
                     else labels.replace_strict(ids, default=None, return_dtype=pl.String))
        values = parse_numbers(frame, val_raw, path, delimiter, log)
        rank: pl.Series | None = ranks
        for ind, r in own_ranks.items():
            # A rank of one indicator on a row of another would be read past: refused.
            stray = r.is_not_null() & (indicator != ind).fill_null(True)
            for i in stray.arg_true():
                log.add("bad-file", f"a rank of {ind} on a row of {indicator[i] or 'no indicator'}",
                        file=str(path), row=int(frame[ROW][i]), column=rank_cols[ind],
                        found=frame[rank_cols[ind]][i], expected=f"the rank on a row of {ind}",
                        hint=f"move the rank to the row whose indicator is {ind}, or use the "
                             "rank column (the rank of each row's own indicator)")
            rank = pl.select(pl.when(indicator == ind).then(r).otherwise(rank)).to_series()
        out = base.with_columns(indicator=indicator, value=values, rank=rank,
                                column=pl.lit(val_raw))
        # An empty cell is no value (as in a wide table): it must not replace a shipped one.
        keep = out.select(pl.col("value").is_not_null() | pl.col("rank").is_not_null()
                          | pl.col("indicator").is_null()).to_series()
        return out if keep.all() else out.filter(keep)
    parts = []
    for col, ind in layout.indicators.items():
        values = parse_numbers(frame, col, path, delimiter, log)
        rank = own_ranks.get(ind, ranks if ind == catalogue.headline else None)
        parts.append(base.with_columns(indicator=pl.lit(ind), value=values,
                                       rank=rank if rank is not None else pl.lit(None, pl.Int32),
                                       column=pl.lit(col)))
    if layout.rank and catalogue.headline and catalogue.headline not in layout.indicators.values():
        own_ranks = {catalogue.headline: ranks, **own_ranks}  # the headline rank, without its value
    for ind, r in own_ranks.items():  # a rank without a value column of its own
        if ind not in layout.indicators.values():
            parts.append(base.with_columns(
                indicator=pl.lit(ind), value=pl.lit(None, pl.Float64), rank=r,
                column=pl.lit(layout.rank if r is ranks else rank_cols[ind])))
    out = pl.concat(parts)
    return out.filter(pl.col("value").is_not_null() | pl.col("rank").is_not_null())


def _ranks(frame: pl.DataFrame, column: str, path: Path, log: ProblemLog) -> pl.Series:
    raw = frame[column]
    parsed = raw.str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    for i in (parsed.is_null() & raw.is_not_null() & (raw != "")).arg_true():
        log.add("bad-number", "a rank must be a whole number", file=str(path),
                row=int(frame[ROW][i]), column=column, found=raw[i])
    for i in (parsed < 1).fill_null(False).arg_true():
        log.add("bad-number", "a rank must be 1 or more", file=str(path),
                row=int(frame[ROW][i]), column=column, found=raw[i])
    return parsed.alias("rank")


def _declared_bases(frame: pl.DataFrame, layout: Layout, path: Path, declared: str | None,
                    mappings: MappingSet, options: Options, log: ProblemLog) -> pl.Series:
    """Per row: the basis the option or a ``basis`` column declares, or null (detect)."""
    if declared is not None:
        mappings.basis(declared)
    if layout.basis is None:
        return pl.repeat(declared, frame.height, dtype=pl.String, eager=True).alias("declared")
    col = frame[layout.basis].replace("", None)
    values = sorted(col.drop_nulls().unique().to_list())
    unknown = [v for v in values if v not in mappings.bases]
    for v in unknown:
        rows = frame.filter(pl.col(layout.basis) == v)[ROW]
        log.add("unknown-basis", f"basis {v!r} is not defined", file=str(path), row=int(rows[0]),
                column=layout.basis, found=v, expected=" or ".join(mappings.bases))
    if declared is not None:
        for v in values:
            if v != declared:
                rows = frame.filter(pl.col(layout.basis) == v)[ROW]
                log.add("mixed-basis", f"the table says basis {v} but {declared} was declared",
                        file=str(path), row=int(rows[0]), column=layout.basis, found=v,
                        expected=declared, hint=f"drop {options.basis} or fix the basis column")
        return pl.repeat(declared, frame.height, dtype=pl.String, eager=True).alias("declared")
    per_year = (layout.year is not None and pl.DataFrame({"y": frame[layout.year], "b": col})
                .drop_nulls().group_by("y").agg(pl.col("b").n_unique())["b"].max() == 1)
    if len(values) > 1 and not per_year:
        stray = frame.filter(pl.col(layout.basis) != values[0])[ROW].to_list()[:10]
        log.add("mixed-basis", f"the basis column holds several bases: {', '.join(values)}",
                file=str(path), row=stray[0], column=layout.basis, found=", ".join(values),
                hint="split the table into one file per basis")
    return col.alias("declared")


def fate(mappings: MappingSet, basis: str, code: str) -> str | None:
    """"Quảng Nam merged into Đà Nẵng on 1 July 2025": what a transition did to a unit."""
    for t in mappings.transitions:
        if t.from_basis != basis or t.to_basis not in mappings.bases:
            continue
        succ = t.edges.filter(pl.col("from_code") == code)["to_code"].to_list()
        if not succ:
            continue
        old = mappings.bases[basis].name_of(code)
        new = [mappings.bases[t.to_basis].name_of(c) for c in succ]
        when = _date_text(t.meta.get("effective") or t.meta.get("in_force") or "")
        verb = "merged into " + new[0] if len(new) == 1 else "was split among " + ", ".join(new)
        return f"{old} {verb}{' on ' + when if when else ''}"
    return None


def _date_text(iso: str) -> str:
    try:
        d = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{d.day} {d.strftime('%B')} {d.year}"


def resolve_units(long: pl.DataFrame, mappings: MappingSet, path: str | Path,
                  layout: Layout | str, log: ProblemLog | None = None,
                  declared: str | None = None, *, options: Options = Options(),
                  mixed_bases: bool = False) -> pl.DataFrame:
    """Attach ``basis`` and ``code`` to each row; detect the basis per year when not declared.

    Units are resolved once per distinct (unit, name) pair, in polars (no per-row Python).
    A row whose code and name denote different units is a ``unit-mismatch``. Rows that
    cannot be placed get ``code`` null and a problem in ``log`` (raised at once without it).
    """
    own = log is None
    log = ProblemLog() if log is None else log
    if isinstance(layout, str):
        layout = Layout("wide", layout, None, None, None, {})
    one_declared = declared
    if one_declared is None and "declared" in long.columns:
        named = long["declared"].drop_nulls().unique().to_list()
        one_declared = named[0] if len(named) == 1 else None
    from mergetool.core import hierarchy

    nested = hierarchy.resolve_units(long, mappings, path, layout.unit, one_declared)
    if nested is not None:  # commune names resolve within their province and district
        return nested
    if "check" not in long.columns:
        long = long.with_columns(check=pl.lit(None, pl.String))
    if "declared" not in long.columns:
        long = long.with_columns(declared=pl.lit(declared, pl.String))
    path = str(path)
    bases = list(mappings.bases)
    # The distinct (year, unit, name) triples of the rows whose basis is to be detected, in the
    # order they first appear; every distinct (unit, name) pair is resolved once.
    all_undeclared = long["declared"].null_count() == long.height
    undeclared = long if all_undeclared else long.filter(pl.col("declared").is_null())
    triples = undeclared.select("year", "unit", "check").unique(maintain_order=True)
    pairs = (triples if all_undeclared else long).select("unit", "check").unique()
    fit = pairs
    for b in bases:
        u = mappings.resolve_many(pairs["unit"], b)
        c = mappings.resolve_many(pairs["check"], b)
        has_check = pairs["check"].is_not_null() & (pairs["check"] != "")
        fit = fit.with_columns(pl.Series(f"u:{b}", u), pl.Series(f"c:{b}", c),
                               (u.is_not_null() & (~has_check | (c == u)).fill_null(False))
                               .alias(f"ok:{b}"))
    fit = fit.with_columns(_is_code=pl.col("unit").str.strip_chars().str.contains(r"^[0-9]+(\.0+)?$")
                           .fill_null(False))  # once per distinct unit, not per row
    # The basis of each row: declared, or detected per year (from its distinct units).
    distinct = triples.join(fit, on=["unit", "check"], how="left", nulls_equal=True,
                            maintain_order="left")
    detected = _detect_per_year(
        distinct, lambda: long.filter(pl.col("declared").is_null()).join(
            fit, on=["unit", "check"], how="left", nulls_equal=True, maintain_order="left"),
        mappings, bases, path, layout, options, log)
    one = _one_basis(long, detected, bases, all_undeclared)
    if one is not None and long["check"].null_count() == long.height:
        # Every row on one basis, no name column: codes looked up per distinct unit, no join.
        fitted = fit.filter(pl.col("unit").is_not_null()).select(
            "unit", code=pl.when(f"ok:{one}").then(f"u:{one}"))
        code = pl.col("unit").replace_strict(fitted["unit"], fitted["code"], default=None,
                                             return_dtype=pl.String)
        rows = long.with_columns(basis=pl.lit(one, pl.String), code=code, file=pl.lit(path))
        _row_problems(rows.filter(pl.col("code").is_null()).join(
            fit, on=["unit", "check"], how="left", nulls_equal=True, maintain_order="left"),
            mappings, bases, path, layout, options, log)
        if own:
            log.raise_if_any(f"{path}: unknown units")
        return rows
    rows = long.join(fit, on=["unit", "check"], how="left", nulls_equal=True)
    rows = rows.join(detected, on="year", how="left", nulls_equal=True) if detected.height else \
        rows.with_columns(detected=pl.lit(None, pl.String))
    basis = pl.coalesce("declared", "detected")
    rows = rows.with_columns(basis=pl.when(basis.is_in(bases)).then(basis))  # unknown: logged
    chosen = sorted(rows["basis"].drop_nulls().unique().to_list())
    if len(chosen) > 1 and not mixed_bases and rows.drop_nulls("basis").group_by("year").agg(
            pl.col("basis").n_unique())["basis"].max() == 1:
        per = rows.group_by("basis").agg(pl.col("year").unique().sort(), pl.col("row").min()) \
            .drop_nulls("basis").sort("row")
        detail = "; ".join(f"{', '.join(map(str, ys))} on {b}" for b, ys, _r in per.iter_rows())
        log.add("mixed-basis", f"the years are on different bases: {detail}", file=path,
                row=int(per["row"][1]), column=layout.year,
                hint="split the file by year (the build command reads such a file per year)")
    code = pl.lit(None, pl.String)
    for b in bases:
        code = pl.when((pl.col("basis") == b) & pl.col(f"ok:{b}")).then(pl.col(f"u:{b}")).otherwise(code)
    rows = rows.with_columns(code=code, file=pl.lit(path))
    _row_problems(rows.filter(pl.col("basis").is_not_null() & pl.col("code").is_null()),
                  mappings, bases, path, layout, options, log)
    if own:
        log.raise_if_any(f"{path}: unknown units")
    return rows.drop([c for c in rows.columns if ":" in c] + ["_is_code", "detected"])


def _one_basis(long: pl.DataFrame, detected: pl.DataFrame, bases: list[str],
               all_undeclared: bool) -> str | None:
    """The basis of every row when it is one and the same (declared for all, or detected the
    same for every year); None otherwise."""
    if all_undeclared:
        found = detected["detected"] if detected.height else pl.Series([None], dtype=pl.String)
    elif long["declared"].null_count() == 0:
        found = long["declared"].unique()
    else:
        return None
    if found.null_count() or found.n_unique() != 1 or found[0] not in bases:
        return None
    return str(found[0])


def _detect_per_year(distinct: pl.DataFrame, undeclared: Callable[[], pl.DataFrame],
                     mappings: MappingSet, bases: list[str], path: str, layout: Layout,
                     options: Options, log: ProblemLog) -> pl.DataFrame:
    """Year -> basis, from the units only where one basis explains them; otherwise a problem.

    ``distinct`` holds the distinct (year, unit, name) triples of the rows whose basis is not
    declared, in the order they first appear, with their fit on each basis; ``undeclared``
    gives those rows themselves (needed only to name the rows of a table mixing bases)."""
    out: list[tuple[int | None, str | None]] = []
    ambiguous: list[tuple[int | None, list[str], str]] = []
    opt = options.basis or "--basis"
    for (year,), units in distinct.group_by("year", maintain_order=True):
        units = units.drop("year").filter(pl.col("unit").is_not_null() & (pl.col("unit") != ""))
        if units.height == 0:
            out.append((year, None))
            continue
        fits = [b for b in bases if units[f"ok:{b}"].all()]
        codes_only = bool(units["_is_code"].all())
        covered = {b: set(units.filter(pl.col(f"ok:{b}"))[f"u:{b}"].to_list()) for b in bases}
        complete = [b for b in bases if covered[b] >= mappings.bases[b].codes]
        if len(fits) == 1:
            b = fits[0]
            # Nearly every unit of another basis, and a few units only this basis has (a 34-unit
            # table with one pre-merger name): which basis is meant is not for the tool to guess.
            strays = [o for o in bases if o != b and b not in complete
                      and len(covered[o]) >= STRAY_SHARE[0] * len(mappings.bases[o])
                      and 0 < units.height - len(covered[o])
                      <= max(1.0, STRAY_SHARE[1] * len(mappings.bases[o]))]
            if strays:
                o = strays[0]
                odd = units.filter(~pl.col(f"ok:{o}"))["unit"].to_list()
                fates = [f for u in odd[:3] if (c := mappings.resolve(u, b))
                         and (f := fate(mappings, b, c))]
                ambiguous.append((year, [b, o], f"{len(covered[o])} of the {units.height} units "
                                  f"are the units of {o}, but {', '.join(map(repr, odd[:5]))} "
                                  f"exist{'s' if len(odd) == 1 else ''} only on {b}"
                                  + (f" ({'; '.join(fates)})" if fates else "")))
                out.append((year, None))
            else:
                out.append((year, b))
        elif len(fits) > 1:
            if not codes_only and len([b for b in fits if b in complete]) == 1:
                out.append((year, next(b for b in fits if b in complete)))
            else:
                why = ("the table has codes only, and every code exists on " + " and ".join(fits)
                       if codes_only else "every unit exists on " + " and ".join(fits))
                ambiguous.append((year, fits, why))
                out.append((year, None))
        else:
            best = max(bases, key=lambda b: (units[f"ok:{b}"].sum(), -bases.index(b)))
            grp = undeclared().filter(pl.col("year").eq_missing(pl.lit(year, pl.Int32)))
            only = {b: grp.filter(pl.col(f"ok:{b}") & ~pl.any_horizontal(
                [pl.col(f"ok:{o}") for o in bases if o != b] or [pl.lit(False)])
                & pl.col("check").is_null())["row"].unique().sort().to_list() for b in bases}
            with_rows = [b for b in bases if only[b]]
            if len(with_rows) > 1:
                detail = "; ".join(f"rows {', '.join(map(str, only[b][:8]))}"
                                   f"{' ...' if len(only[b]) > 8 else ''} exist only on {b}"
                                   for b in with_rows)
                log.add("mixed-basis", f"the table mixes units of different bases: {detail}",
                        file=path, row=min(only[b][0] for b in with_rows), column=layout.unit,
                        hint=f"split the table by basis, or rebase one part first; or declare "
                        f"the basis ({opt} {best}) to see each row that is not on it")
                out.append((year, None))
            else:
                out.append((year, best))
    if ambiguous:
        fits = sorted({b for _, bs, _ in ambiguous for b in bs})
        years = ", ".join(str(y) for y, _, _ in ambiguous if y is not None)
        log.add("ambiguous-basis", "the basis cannot be told from the units"
                + (f" ({years})" if years else "") + ": " + "; ".join(w for _, _, w in ambiguous),
                file=path, column=layout.unit, found=", ".join(fits),
                hint=f"declare it: {opt} {fits[0]} or {opt} {fits[-1]} (or a 'basis' column)")
    return pl.DataFrame(out, schema={"year": pl.Int32, "detected": pl.String}, orient="row")


def _row_problems(bad: pl.DataFrame, mappings: MappingSet, bases: list[str], path: str,
                  layout: Layout, options: Options, log: ProblemLog) -> None:
    """One problem per distinct bad row: empty, unknown (with what became of it), or code and
    name that disagree (with the basis on which they agree, if any)."""
    opt = options.basis or "--basis"
    seen: set[int] = set()
    for rec in bad.unique(subset=["row"], keep="first").sort("row").iter_rows(named=True):
        row, unit, check, b = rec["row"], rec["unit"], rec["check"], rec["basis"]
        if row in seen:
            continue
        seen.add(row)
        basis = mappings.bases[b]
        if unit is None or unit.strip() == "":
            log.add("unknown-unit", "empty unit", file=path, row=row, column=layout.unit,
                    expected="a unit code or name")
            continue
        code = rec[f"u:{b}"]
        others = [o for o in bases if o != b]
        if code is None:
            hint = None
            for o in others:
                oc = rec[f"u:{o}"]
                if oc is not None:
                    became = fate(mappings, o, oc)
                    what = became or f"{unit!r} is {oc} {mappings.bases[o].name_of(oc)} on {o}"
                    hint = f"{what} (use {opt} {o})"
                    break
            shared = sorted(basis.resolver.codes_named(unit)) if not rec["_is_code"] else []
            if shared:
                log.add("unknown-unit", f"{unit!r} names {len(shared)} units of {b}: "
                        + ", ".join(f"{c} {basis.name_of(c)}" for c in shared), file=path, row=row,
                        column=layout.unit, found=unit,
                        hint="a name shared by several units cannot say which: use the code")
                continue
            if hint is None:
                if rec["_is_code"]:
                    hint = f"codes of {b} run {min(basis.codes)}-{max(basis.codes)}"
                else:
                    hint = basis.resolver.hint(unit)
            log.add("unknown-unit", f"not a unit of {b}", file=path, row=row, column=layout.unit,
                    found=unit, hint=hint)
            continue
        named = rec[f"c:{b}"]
        what = (f"{check!r} is {named} {basis.name_of(named)} there" if named
                else f"{check!r} is not a unit of {b}")
        agree = [o for o in others if rec[f"ok:{o}"]]
        hint = (f"on {agree[0]}, code {rec[f'u:{agree[0]}']} is "
                f"{mappings.bases[agree[0]].name_of(rec[f'u:{agree[0]}'])} (codes were reused in "
                f"the reform): if the table is on {agree[0]}, use {opt} {agree[0]}"
                if agree else "check the code against the basis list, or fix the name")
        log.add("unit-mismatch", f"code {code} is {basis.name_of(code)} on {b}, but the name "
                f"says otherwise: {what}", file=path, row=row, column=layout.check,
                expected=basis.name_of(code), found=check, hint=hint)


def check_duplicates(long: pl.DataFrame, layout: Layout | None = None) -> list[Problem]:
    """A unit may appear once per year and indicator; a duplicated row is reported once."""
    keys = ["year", "basis", "code", "indicator"]
    if long.is_empty() or long.select(pl.struct(keys).hash().n_unique()).item() == long.height:
        return []  # no two rows share a hash of their keys, so none shares the keys
    dup = long.filter(pl.struct(keys).is_duplicated())
    if dup.is_empty():
        return []
    # the unit as written in the row reported (the second of the duplicates)
    groups = (dup.group_by(keys).agg(pl.col("row").sort(), pl.col("unit").sort_by("row").get(1),
                                     pl.col("file").first())
              .group_by("year", "basis", "code", "row")
              .agg(pl.col("indicator").sort(), pl.col("unit").first(), pl.col("file").first())
              .with_columns(first=pl.col("row").list.get(1)).sort("first"))
    problems = []
    for year, _b, code, rows, inds, unit, file, _f in groups.iter_rows():
        what = inds[0] if len(inds) == 1 else f"{len(inds)} indicators"
        problems.append(Problem(
            "duplicate-row", f"unit {code} appears {len(rows)} times for {year} {what} "
            f"(rows {', '.join(map(str, rows))})", file=file, row=rows[1],
            column=layout.unit if layout else "unit", found=str(unit),
            hint="keep one row per unit and year"))
    return problems


def _shortest(v: float) -> str:
    """The shortest text that reads back as ``v`` (1.0000006 stays 1.0000006; 1051.0 is 1051)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def check_ranges(long: pl.DataFrame, catalogue: Catalogue = NO_CATALOGUE) -> list[Problem]:
    """A catalogue's indicators lie in its value range (the DTI's: indices on [0, 1]); a table
    out of 100 or 1000 gets a rescale hint."""
    if catalogue.value_range is None:
        return []
    lo, hi = catalogue.value_range
    known = long.filter(pl.col("indicator").is_in(list(catalogue.by_id)) & pl.col("value").is_not_null())
    bad = known.filter((pl.col("value") < lo) | (pl.col("value") > hi))
    if bad.is_empty():
        return []
    top = cast("float | None", known["value"].max())
    low = cast(float, known["value"].min())
    hint = None
    if top is not None and 1 < top <= 100 and low >= 0:
        hint = "the values look like percentages: divide by 100"
    elif top is not None and 100 < top <= 1000 and low >= 0:
        hint = "the values look like points out of 1000: divide by 1000"
    return [Problem("value-out-of-range", f"{ind} must lie in [{lo:g}, {hi:g}]", file=f, row=r,
                    column=c, expected=f"{lo:g} <= value <= {hi:g}", found=_shortest(v), hint=hint)
            for f, r, c, ind, v in bad.select("file", "row", "column", "indicator", "value"
                                              ).iter_rows()]


def scores_from_rows(rows: list[tuple[int, str, str, float | None]], basis: str) -> pl.DataFrame:
    """A long score frame built in code from ``(year, code, indicator, value)`` tuples."""
    frame = pl.DataFrame(rows, schema={"year": pl.Int32, "code": pl.String,
                                       "indicator": pl.String, "value": pl.Float64}, orient="row")
    return frame.with_columns(basis=pl.lit(basis), rank=pl.lit(None, pl.Int32),
                              file=pl.lit("<memory>"), row=pl.int_range(2, frame.height + 2,
                                                                        dtype=pl.Int32)
                              ).select(SCORES_SCHEMA.keys())
