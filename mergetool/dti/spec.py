"""The DTI application's fixed facts, in one place: its two bases, the labels that say where a
value on the new basis came from, the verification tolerance, and how each DTI command reads a
score table (its option names and the DTI's indicator catalogue)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.dti.indicators import CATALOGUE
from mergetool.errors import Problem, UsageError
from mergetool.io import scores as _scores
from mergetool.io.scores import Options

#: The pre-merger (63 units) and post-merger (34 units) bases of the shipped mapping.
SOURCE_BASIS, TARGET_BASIS = "vn-province-2024", "vn-province-2025"
#: A basis named by its unit count, as the ministry's tables and the ``template`` command do.
BASIS_BY_SIZE = {"63": SOURCE_BASIS, "34": TARGET_BASIS}

#: Where a value on the comparable table came from (``value_basis``).
PUBLISHED_TARGET = "published-34"
REBASED = "rebased-from-63"
#: On the old basis: printed, or carried over from the new basis's table (coverage map).
PUBLISHED_SOURCE = "published-63"
CARRIED = "carried-from-34"

#: Default tolerance of the verification: inputs and outputs are published to 4 decimals, so a
#: recomputation can miss the published value by one unit in the last place (see
#: :mod:`mergetool.dti.verify`); plus 1e-9 for binary floating point.
TOLERANCE = 0.0001 + 1e-9

#: The option names of each reading command, with the DTI's indicators. ``rebase`` and the
#: library keep labels outside the DTI's as written (any statistic); the DTI commands refuse them.
LIBRARY_OPTIONS = Options(catalogue=CATALOGUE)
REBASE_OPTIONS = Options(basis="--from", catalogue=CATALOGUE)
BUILD_OPTIONS = Options(basis="--basis", year=None, free_labels=False, catalogue=CATALOGUE)
EXPLAIN_OPTIONS = Options(basis="--basis", year=None, sheet=None, header_row=None, free_labels=False,
                          catalogue=CATALOGUE)
VERIFY_OPTIONS = {"published": Options(basis="--published-basis", sheet=None, header_row=None,
                                       free_labels=False, catalogue=CATALOGUE),
                  "predecessors": Options(basis="--predecessors-basis", sheet=None, header_row=None,
                                          free_labels=False, catalogue=CATALOGUE)}


def read_scores(path: str | Path, mappings: MappingSet, *, options: Options = LIBRARY_OPTIONS,
                **kw: Any) -> pl.DataFrame:
    """:func:`mergetool.io.scores.read_scores` knowing the DTI's indicators (headings such as
    ``Chỉ số Nhận thức số`` or ``PDTI``, values on [0, 1])."""
    return _scores.read_scores(path, mappings, options=options, **kw)


@dataclass(frozen=True)
class Spec:
    """Which bases a DTI build compares, for one mapping: the old basis the earlier years were
    published on (``source``) and the new one everything is rebased to (``target``), with the
    labels that say where a value came from (named by the bases' sizes: ``published-34``)."""

    source: str
    target: str
    source_size: int
    target_size: int

    @property
    def published_target(self) -> str:
        return f"published-{self.target_size}"

    @property
    def rebased(self) -> str:
        return f"rebased-from-{self.source_size}"

    @property
    def published_source(self) -> str:
        return f"published-{self.source_size}"

    @property
    def carried(self) -> str:
        return f"carried-from-{self.target_size}"

    @property
    def basis_by_size(self) -> dict[str, str]:
        return {str(self.source_size): self.source, str(self.target_size): self.target}


def spec_for(mappings: MappingSet) -> Spec:
    """The spec of a mapping: its one basis no transition leads to (the oldest) and its one
    basis no transition leaves (the newest), a chain of reforms between them.

    A mapping with several of either is ambiguous (which basis is the DTI's?): refused, naming
    them (exit 2).
    """
    sources = sorted(set(mappings.bases) - {t.to_basis for t in mappings.transitions})
    targets = sorted(set(mappings.bases) - {t.from_basis for t in mappings.transitions})
    if len(sources) != 1 or len(targets) != 1 or sources == targets:
        raise UsageError("the mapping does not say which bases a DTI build compares", [Problem(
            "bad-mapping", "a DTI build needs one oldest and one newest basis",
            file=str(mappings.root or "<memory>"), expected="one basis no transition leads to "
            "and one no transition leaves", found=f"oldest: {', '.join(sources) or 'none'}; "
            f"newest: {', '.join(targets) or 'none'}")])
    source, target = sources[0], targets[0]
    return Spec(source, target, mappings.bases[source].units.height,
                mappings.bases[target].units.height)
