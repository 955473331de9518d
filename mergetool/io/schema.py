"""What a score table becomes and how the reading commands are named: the long frame's schema
(:data:`SCORES_SCHEMA`), the years a table may hold, the columns read past, and :class:`Options`.

Kept apart from :mod:`mergetool.io.scores` (the readers, which re-export these names) so a
command that reads no score file, such as a build on the shipped record, loads none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mergetool.io.catalogue import NO_CATALOGUE, Catalogue

#: The long frame every loader returns.
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(), "basis": pl.String(), "code": pl.String(), "indicator": pl.String(),
    "value": pl.Float64(), "rank": pl.Int32(), "file": pl.String(), "row": pl.Int32(),
}
YEAR_RANGE = (1900, 2100)
#: Columns a score table may carry that hold no values: read past, never silently as data.
DESCRIPTIVE_COLUMNS = ("stt", "no", "#", "name_en", "english name", "kind", "region", "vùng",
                       "iso_3166_2", "rank_basis", "source", "source_url", "nguồn", "notes",
                       "note", "ghi chú",
                       # what rebase and build write beside the values, so outputs read back
                       "method", "n_expected", "n_used", "missing", "status", "reason",
                       "rank_source", "rank_change", "rank_change_basis", "value_basis",
                       "predecessors_expected", "predecessors_with_value",
                       # the exact mean beside ``value``: the value read back is ``value``
                       "value_exact")


@dataclass(frozen=True)
class Options:
    """The names of the reading command's options, so every hint names one that exists there
    (None: the command has no such option)."""

    basis: str | None = "--basis"
    year: str | None = "--year"
    sheet: str | None = "--sheet"
    header_row: str | None = "--header-row"
    #: Long-table indicator labels outside the catalogue's are kept as written (the library and
    #: ``rebase`` rebase any statistic: ``poverty_rate``, ``population``); an application's
    #: commands (the DTI's build, report, explain, verify) refuse them, listing its indicators.
    free_labels: bool = True
    #: The indicators a table may hold (an application's); with none, a wide table has no
    #: indicator columns and long-table labels are kept as written.
    catalogue: Catalogue = NO_CATALOGUE
