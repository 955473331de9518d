"""What statistics a table may hold: a catalogue of indicators with their ids, labels and the
column headings seen in real tables, so a reader recognises a heading however it is spelt.

Generic: an application (the DTI in :mod:`mergetool.dti.indicators`) supplies its catalogue; with
none, long-table labels are kept as written and a wide table has no indicator columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mergetool.core.names import name_key


@dataclass(frozen=True)
class Indicator:
    """One statistic: its id (used in every file written), labels and known headings."""

    id: str
    label_vi: str
    label_en: str
    kind: str  # e.g. "index", "pillar" or "indicator"
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """An application's indicators, looked up by any heading that denotes one.

    ``name`` is what messages call the set ("the DTI's"); ``value_range`` bounds every value
    (None: unbounded); ``abbreviation`` is a trailing parenthesised abbreviation a heading may
    carry or omit.
    """

    name: str
    indicators: tuple[Indicator, ...]
    value_range: tuple[float, float] | None = None
    abbreviation: re.Pattern[str] | None = None
    #: Headings to show as examples of a wide table's indicator columns (in messages).
    examples: str = ""
    by_id: dict[str, Indicator] = field(init=False, repr=False, compare=False)
    _by_key: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {i.id: i for i in self.indicators})
        object.__setattr__(self, "_by_key", {k: i.id for i in self.indicators for k in _keys(i)})

    @property
    def ids(self) -> tuple[str, ...]:
        """The indicator ids in the catalogue's order (the order tables are written in)."""
        return tuple(self.by_id)

    @property
    def headline(self) -> str | None:
        """The first indicator (the DTI's overall index): what a bare ``rank`` column ranks."""
        return self.indicators[0].id if self.indicators else None

    def id_of(self, heading: str) -> str | None:
        """The indicator id a column heading or long-table label denotes, or None."""
        hit = self._by_key.get(name_key(heading))
        if hit is None and self.abbreviation is not None and self.abbreviation.search(heading):
            hit = self._by_key.get(name_key(self.abbreviation.sub("", heading)))
        return hit


def _keys(ind: Indicator) -> set[str]:
    labels = (ind.id, ind.label_vi, ind.label_en, f"Chỉ số {ind.label_vi}", *ind.aliases)
    return {name_key(x) for x in labels} | {name_key(x.replace("_", " ")) for x in labels}


#: No known indicators: long-table labels are kept as written.
NO_CATALOGUE = Catalogue("known", ())
