"""The public DTI record 2020–2024, shipped as one tidy long table, and the index definitions.

The ministry's full tables are not public in machine-readable form: the record
holds only what press and provincial portals printed, gathered in
``data/dti/research/`` (one CSV per year and basis, with ``SOURCES.md``).
:func:`tidy_research` turns those files into ``data/dti/dti_record.csv`` — one row
per year, basis, unit and indicator — keeping values as printed (4 decimals,
ties as printed) and saying how each rank was known. A test regenerates the
shipped table from the research files and compares bytes.

``data/dti/index_definitions.csv`` records which indicators each year's index
had, so methodology breaks are data, not folklore; ``published_aggregates.csv``
holds the published averages used by the aggregate-comparability check.
"""

from __future__ import annotations

import re
from functools import cache, partial
from importlib import resources
from pathlib import Path

import polars as pl

from mergetool.core.mapping import MappingSet, load_mappings
from mergetool.dti.indicators import INDICATOR_IDS, INDICATORS
from mergetool.dti.spec import BASIS_BY_SIZE
from mergetool.io.schema import SCORES_SCHEMA
from mergetool.io.tables import sha256_file

DATA = Path(str(resources.files("mergetool") / "data" / "dti"))
RESEARCH = DATA / "research"
RECORD_FILE = DATA / "dti_record.csv"
INDEX_FILE = DATA / "index_definitions.csv"
AGGREGATES_FILE = DATA / "published_aggregates.csv"
CLAIMS_FILE = DATA / "claims.csv"
#: The ``file`` of a score row taken from the shipped record (a user's rows name their file).
SHIPPED_FILE = "shipped:dti_record.csv"

#: Published rank-change claims (``claims.csv``): a unit "rose N places" from ``year_from`` on
#: ``basis_from`` (empty: the source does not say; the check tries both) to ``year_to`` on
#: ``basis_to``; ``change`` is places gained (positive = up); ``rank_from``/``rank_to`` as printed.
CLAIMS_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "year_from": pl.Int32(), "year_to": pl.Int32(),
    "basis_from": pl.String(), "basis_to": pl.String(), "code": pl.String(),
    "unit_name": pl.String(), "indicator": pl.String(), "rank_from": pl.Int32(),
    "rank_to": pl.Int32(), "change": pl.Int32(), "provisional": pl.Boolean(),
    "wording": pl.String(), "source_url": pl.String(), "notes": pl.String(),
}


RECORD_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(), "basis": pl.String(), "code": pl.String(), "unit_name": pl.String(),
    "indicator": pl.String(), "value": pl.Float64(), "decimals": pl.Int32(),
    "value_origin": pl.String(), "rank": pl.Int32(), "rank_basis": pl.String(),
    "rank_low": pl.Int32(), "rank_high": pl.Int32(),
    "source_url": pl.String(), "notes": pl.String(),
}

#: How a rank was known (``rank_basis``). A ``provisional`` or ``conflict`` rank is still a fact
#: to check against, but a contradiction of it is a warning, not a failure.
RANK_BASES = ("published", "list_order", "derived_change", "bottom3_unordered",
              "published_basis_unstated", "provisional", "conflict")
WEAK_RANK_BASES = ("provisional", "conflict")


def research_files() -> list[Path]:
    return sorted(RESEARCH.glob("dti_*_*.csv"))


def tidy_research(paths: list[Path], mappings: MappingSet) -> pl.DataFrame:
    """The research CSVs (one per year and basis) as one tidy long record."""
    parts = []
    for path in paths:
        m = re.fullmatch(r"dti_(\d{4})_(63|34)\.csv", path.name)
        if m is None:
            raise ValueError(f"unexpected research file name {path.name}")
        basis = BASIS_BY_SIZE[m.group(2)]
        n_units = int(m.group(2))
        raw = pl.read_csv(path, infer_schema=False)
        if "rank_alternatives" not in raw.columns:
            raw = raw.with_columns(rank_alternatives=pl.lit(None, pl.String))
        unknown = set(raw["rank_basis"].drop_nulls()) - set(RANK_BASES)
        if unknown:
            raise ValueError(f"{path.name}: unknown rank_basis {sorted(unknown)}")
        raw = raw.with_columns(
            code=pl.col("province_name_vi").map_elements(
                partial(mappings.resolve, basis_id=basis), return_dtype=pl.String))
        if raw["code"].null_count():
            raise ValueError(f"{path.name}: unresolved names {raw.filter(pl.col('code').is_null())}")
        for ind in INDICATOR_IDS:
            rank_col = "rank" if ind == "dti" else f"{ind}_rank"
            text = pl.col(ind) if ind in raw.columns else pl.lit(None, pl.String)
            rank = pl.col(rank_col) if rank_col in raw.columns else pl.lit(None, pl.String)
            carried = pl.col("notes").fill_null("").str.contains("CARRIED")
            alternatives = pl.col("rank_alternatives").str.split("|").list.eval(
                pl.element().cast(pl.Int32))
            is_dti = pl.lit(ind) == "dti"
            rb = pl.col("rank_basis")
            part = raw.select(
                year=pl.lit(int(m.group(1)), pl.Int32), basis=pl.lit(basis), code="code",
                unit_name="province_name_vi", indicator=pl.lit(ind),
                value=text.cast(pl.Float64),
                decimals=text.str.extract(r"\.(\d+)$").str.len_chars().cast(pl.Int32),
                value_origin=pl.when(text.is_null()).then(None)
                .when(carried & (pl.lit(ind) == "dti")).then(pl.lit("carried-from-34-basis"))
                .when(text.str.extract(r"\.(\d+)$").str.len_chars() < 4).then(pl.lit("printed-rounded"))
                .otherwise(pl.lit("printed")),
                rank=rank.cast(pl.Int32),
                # The dti row keeps rank_basis even without a rank (bottom3_unordered says what is known).
                # An indicator rank printed with the dti rank shares its standing (provisional or not).
                rank_basis=pl.when(is_dti).then(rb)
                .when(rank.is_not_null() & (rb == "provisional")).then(pl.lit("provisional"))
                .when(rank.is_not_null()).then(pl.lit("published")),
                # The range of ranks the fact allows: one rank, the last three, or the ranks
                # that conflicting sources print.
                rank_low=pl.when(is_dti & (rb == "conflict")).then(alternatives.list.min())
                .when(is_dti & (rb == "bottom3_unordered")).then(pl.lit(n_units - 2, pl.Int32))
                .otherwise(rank.cast(pl.Int32)),
                rank_high=pl.when(is_dti & (rb == "conflict")).then(alternatives.list.max())
                .when(is_dti & (rb == "bottom3_unordered")).then(pl.lit(n_units, pl.Int32))
                .otherwise(rank.cast(pl.Int32)),
                source_url="source_url",
                notes=pl.when(pl.lit(ind) == "dti").then(pl.col("notes")),
            ).filter(pl.col("value").is_not_null() | pl.col("rank").is_not_null()
                     | ((pl.lit(ind) == "dti") & pl.col("rank_basis").is_not_null()))
            parts.append(part)
    order = {ind: i for i, ind in enumerate(INDICATOR_IDS)}
    return (pl.concat(parts).with_columns(_o=pl.col("indicator").replace_strict(order))
            .sort("year", "basis", "_o", "code").drop("_o").select(RECORD_SCHEMA.keys()))


def read_record(path: Path = RECORD_FILE) -> pl.DataFrame:
    """The shipped tidy record (or another file in its layout)."""
    return pl.read_csv(path, schema=RECORD_SCHEMA)


@cache
def index_definitions() -> pl.DataFrame:
    """year, indicator, methodology, sub_indicators, note: which indicators each year's index has."""
    return pl.read_csv(INDEX_FILE, schema_overrides={"year": pl.Int32, "sub_indicators": pl.Int32})


def published_aggregates() -> pl.DataFrame:
    return pl.read_csv(AGGREGATES_FILE, schema_overrides={"year": pl.Int32, "value": pl.Float64})


def record_as_scores(record: pl.DataFrame) -> pl.DataFrame:
    """The record's values as a score frame (see :data:`mergetool.io.scores.SCORES_SCHEMA`)."""
    return (record.with_columns(file=pl.lit(SHIPPED_FILE),
                                row=pl.int_range(2, pl.len() + 2, dtype=pl.Int32))
            .filter(pl.col("value").is_not_null() | pl.col("rank").is_not_null())
            .select(SCORES_SCHEMA.keys()))


def read_claims(path: Path = CLAIMS_FILE) -> pl.DataFrame:
    """The published rank-change claims (see :data:`CLAIMS_SCHEMA`)."""
    return pl.read_csv(path, schema=CLAIMS_SCHEMA)


def shipped_file_hashes() -> dict[str, str]:
    """SHA-256 of every shipped DTI data file, keyed by its name under ``data/dti``."""
    files = [RECORD_FILE, INDEX_FILE, AGGREGATES_FILE, CLAIMS_FILE]
    return {f.relative_to(DATA).as_posix(): sha256_file(f) for f in files}


if __name__ == "__main__":  # regenerate the shipped record from the research files

    tidy_research(research_files(), load_mappings()).write_csv(RECORD_FILE)
    print(f"wrote {RECORD_FILE}")


#: Column headings of the ministry's ranking table (dti.gov.vn), in its order.
MINISTRY_RANK = "Xếp hạng"
MINISTRY_UNIT = "Tỉnh, thành phố"


def ministry_headings() -> list[tuple[str, str]]:
    """(heading, indicator id) for the value columns of the ministry's table."""
    cols = [(f"Chỉ số {i.label_vi}", i.id) for i in INDICATORS if i.kind == "indicator"]
    return [*cols, ("CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)", "dti")]


def ministry_template(mappings: MappingSet, basis: str) -> pl.DataFrame:
    """An empty fill-in table in the ministry's layout, one row per unit of ``basis``."""
    units = mappings.basis(basis).units
    kind = pl.col("kind") if "kind" in units.columns else pl.lit("")
    names = units.select(pl.when(kind == "thanh_pho_truc_thuoc_tw")
                         .then(pl.lit("TP. ") + pl.col("name")).otherwise(pl.col("name")))
    frame = pl.DataFrame({MINISTRY_RANK: pl.Series([None] * units.height, dtype=pl.String),
                          MINISTRY_UNIT: names.to_series()})
    return frame.with_columns(pl.lit(None, pl.String).alias(h) for h, _ in ministry_headings())
