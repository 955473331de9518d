"""What the public record holds, unit by unit and year by year: the coverage map.

One row per successor (the 34-unit basis: the comparable table's value and rank) followed by
its predecessors (the 63-unit basis: the values and ranks the build read), every year of the
index. Each cell is one of :data:`STATES`, so a reader sees at once which comparisons the
data can support. The report draws it; the workbook carries it as the ``coverage`` sheet.
"""

from __future__ import annotations

import polars as pl

from mergetool.core.ranking import rounded
from mergetool.dti.comparable import BuildResult, carried_keys
from mergetool.dti.record import SHIPPED_FILE, read_record

#: Cell states, most informative first.
STATES = ("value+rank", "rank only", "value only", "none")

COVERAGE_SCHEMA: dict[str, pl.DataType] = {
    "successor_code": pl.String(), "successor_name": pl.String(), "role": pl.String(),
    "basis": pl.String(), "code": pl.String(), "unit_name": pl.String(), "year": pl.Int32(),
    "value": pl.Float64(), "rank": pl.Int32(), "state": pl.String(), "value_basis": pl.String(),
    "rank_basis": pl.String(),
}

#: How the shipped record knew a rank other than as a printed number (``rank_basis``).
RANK_NOTES = ("list_order", "derived_change", "published_basis_unstated", "bottom3_unordered",
              "provisional", "conflict")


def _state() -> pl.Expr:
    v = pl.col("value").is_not_null()
    r = pl.col("rank").is_not_null() | (pl.col("rank_basis") == "bottom3_unordered")
    return (pl.when(v & r).then(pl.lit(STATES[0])).when(r).then(pl.lit(STATES[1]))
            .when(v).then(pl.lit(STATES[2])).otherwise(pl.lit(STATES[3])))


def coverage_frame(result: BuildResult, indicator: str = "dti") -> pl.DataFrame:
    """Long coverage table: successors (34-unit basis) each followed by their predecessors.

    ``value_basis`` says where a 34-unit value comes from (``published-34`` or
    ``rebased-from-63``); on the 63-unit basis it is ``published-63``, or ``carried-from-34``
    where the record copied the value from the 34-unit table (not independent of it).
    """
    ms = result.mappings
    spec = result.spec
    comp = result.comparable.filter(pl.col("indicator") == indicator)
    years = pl.DataFrame({"year": sorted(comp["year"].unique().to_list())}, schema={"year": pl.Int32})
    transition = ms.composed(spec.source, spec.target)
    new_names = dict(ms.bases[spec.target].units.select("code", "name").iter_rows())
    old_names = ms.bases[spec.source].units.select(code="code", unit_name="name")
    succ = comp.select(
        successor_code="code", successor_name="unit_name", role=pl.lit("successor"),
        basis=pl.lit(spec.target), code="code", unit_name="unit_name", year="year", value="value",
        rank="rank", value_basis="value_basis")
    links = transition.edges.select(code="from_code", successor_code="to_code").with_columns(
        successor_name=pl.col("successor_code").replace_strict(new_names, default=None))
    old = result.scores.filter((pl.col("basis") == spec.source) & (pl.col("indicator") == indicator)
                               ).select("year", "code", "value", "rank")
    pred = (links.join(old_names, on="code", how="left").join(years, how="cross")
            .join(old, on=["year", "code"], how="left")
            .select(
                "successor_code", "successor_name", role=pl.lit("predecessor"),
                basis=pl.lit(spec.source), code="code", unit_name="unit_name", year="year",
                value="value", rank="rank",
                value_basis=pl.when(pl.col("value").is_not_null()).then(pl.lit(spec.published_source))))

    carried = [(y, c) for y, b, c, i in carried_keys(result.scores) if b == spec.source and i == indicator]
    if carried:
        ys, cs = zip(*carried, strict=True)
        key = pl.DataFrame({"year": ys, "code": cs, "_carried": [True] * len(ys)},
                           schema={"year": pl.Int32, "code": pl.String, "_carried": pl.Boolean})
        pred = pred.join(key, on=["year", "code"], how="left").with_columns(
            value_basis=pl.when(pl.col("_carried")).then(pl.lit(spec.carried))
            .otherwise(pl.col("value_basis"))).drop("_carried")
    cast = pl.Schema({k: v for k, v in COVERAGE_SCHEMA.items() if k not in ("state", "rank_basis")})
    frame = pl.concat([succ.cast(cast).with_columns(_r=pl.lit(0)),
                       pred.cast(cast).with_columns(_r=pl.lit(1))])
    frame = frame.join(_rank_bases(result, indicator), on=["year", "basis", "code"], how="left")
    return (frame.with_columns(state=_state()).sort("successor_code", "_r", "code", "year")
            .select(COVERAGE_SCHEMA.keys()))


def _rank_bases(result: BuildResult, indicator: str) -> pl.DataFrame:
    """year, basis, code, rank_basis of the shipped record's ranks known other than as a printed
    number (:data:`RANK_NOTES`), for the cells where the build used the shipped record."""

    schema = pl.Schema({"year": pl.Int32, "basis": pl.String, "code": pl.String, "rank_basis": pl.String})
    keys = ["year", "basis", "code", "indicator"]
    shipped = result.scores.filter(pl.col("file") == SHIPPED_FILE)
    if shipped.is_empty():
        return pl.DataFrame(schema=schema)
    rec = read_record().filter((pl.col("indicator") == indicator)
                               & pl.col("rank_basis").is_in(list(RANK_NOTES)))
    ranked = rec.join(shipped.select(keys).unique(), on=keys, how="semi")
    # a bottom-3 row has neither value nor rank, so no score frame holds it: kept unless the
    # user's files give that cell
    theirs = result.scores.filter(pl.col("file") != SHIPPED_FILE).select(keys).unique()
    bottom = rec.filter(pl.col("rank_basis") == "bottom3_unordered").join(theirs, on=keys, how="anti")
    return pl.concat([ranked, bottom]).unique(["year", "basis", "code"], keep="first",
                                               maintain_order=True).select(schema.keys()).cast(schema)


def coverage_sheet(frame: pl.DataFrame, target_size: int = 34) -> pl.DataFrame:
    """The coverage map as a sheet: one row per unit, per year the state, value and rank
    (``target_size``: the number of units of the new basis, shown in the headings).

    One pass over the map's rows; a unit with a blank key (no name) gets no year's cells, as a
    join on the keys would give it."""
    keys = ["successor_code", "successor_name", "role", "basis", "code", "unit_name"]
    units: dict[tuple, None] = {}
    cells: dict[tuple, tuple] = {}
    for row in frame.select(*keys, "year", "state", rounded("value"), "rank", "rank_basis"
                            ).iter_rows():
        key = row[:6]
        units[key] = None
        if None not in key:
            cells[(key, row[6])] = row[7:]
    headings = [f"Mã ({target_size})", f"Đơn vị ({target_size})", "role", "basis", "Mã",
                "Tỉnh, thành phố"]
    columns: dict[str, list] = {h: [k[i] for k in units] for i, h in enumerate(headings)}
    schema: dict[str, pl.DataType | type[pl.DataType]] = dict.fromkeys(headings, pl.String)
    blank = (None, None, None, None)
    for year in sorted(frame["year"].unique().to_list()):
        got = [cells.get((k, year), blank) for k in units]
        kinds: list[tuple[str, pl.DataType | type[pl.DataType]]] = [
            (f"{year}", pl.String), (f"{year} value", pl.Float64),
            (f"{year} rank", frame.schema["rank"]), (f"{year} rank note", pl.String)]
        for i, (label, dtype) in enumerate(kinds):
            columns[label] = [g[i] for g in got]
            schema[label] = dtype
    return pl.DataFrame(columns, schema=schema)


def coverage_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Cells per year, basis and state (for the report's summary of the map)."""
    return frame.group_by("year", "basis", "state").len().sort("year", "basis", "state")
