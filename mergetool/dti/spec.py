"""The DTI application's facts, in one place: which two bases a build compares and the labels
that say where a value came from (:class:`Spec`, from the mapping: :func:`spec_for`; the shipped
mapping's is :data:`SHIPPED_SPEC`), the verification tolerance, and how each DTI command reads a
score table (its option names and the DTI's indicator catalogue)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import polars as pl

from mergetool.core.mapping import MappingSet, load_mappings, shipped_mappings_dir
from mergetool.dti.indicators import CATALOGUE
from mergetool.errors import InputError, MergetoolError, Problem, UsageError
from mergetool.io.schema import Options

#: The pre-merger (63 units) and post-merger (34 units) bases of the shipped mapping (the bases
#: of the shipped DTI record; any other mapping's come from :func:`spec_for`).
SOURCE_BASIS, TARGET_BASIS = "vn-province-2024", "vn-province-2025"

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
    from mergetool.io import scores as _scores  # a file to read: load the readers

    return _scores.read_scores(path, mappings, options=options, **kw)


@dataclass(frozen=True)
class Spec:
    """Which bases a DTI build compares, for one mapping: the old basis the earlier years were
    published on (``source``) and the new one everything is rebased to (``target``), with the
    labels that say where a value came from (named by the bases' sizes: ``published-34``).

    ``record``: the shipped public DTI record applies (the mapping's two bases and the way one
    became the other are the shipped Vietnamese ones); on any other mapping the record's values,
    ranks, claims and averages are facts about other units and are never used.
    """

    source: str
    target: str
    source_size: int
    target_size: int
    record: bool = False

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
        """The two bases named by their unit counts (``{"63": source, "34": target}``); one
        entry when both have the same count (name them by id then)."""
        return {str(self.source_size): self.source, str(self.target_size): self.target}

    def basis_for_units(self, units: str | None) -> str:
        """The basis ``units`` names: its unit count or its id (default: the old basis).
        Anything else is refused (exit 2), naming the choices."""
        if units is None:
            return self.source
        by_name = {**self.basis_by_size, self.source: self.source, self.target: self.target}
        if units in by_name and not (units in self.basis_by_size and self.source_size ==
                                     self.target_size):
            return by_name[units]
        sizes = [] if self.source_size == self.target_size else list(self.basis_by_size)
        choices = " or ".join(dict.fromkeys([*sizes, self.source, self.target]))
        raise UsageError(f"--units {units!r} names neither basis of the mapping", [Problem(
            "bad-option", "--units names a basis by its number of units (or its id)",
            column="--units", found=units, expected=choices)])


def spec_for(mappings: MappingSet) -> Spec:
    """The spec of a mapping.

    mapping.toml may say which bases the application compares (``[application]`` with
    ``source_basis`` and ``target_basis``); otherwise they are its one basis no transition
    leads to (the oldest) and its one basis no transition leaves (the newest), a chain of
    reforms between them.

    A mapping with several of either is ambiguous (which basis is the DTI's?), and an
    ``[application]`` table naming no basis of the mapping is wrong: both refused, naming what
    would settle it (exit 2).
    """
    app = mappings.application
    where = str((mappings.root / "mapping.toml") if mappings.root else "<memory>")
    if not isinstance(app, dict):
        raise UsageError("mapping.toml's application is not a table", [Problem(
            "bad-mapping", "application must be a table written [application]", file=where,
            found=repr(app), expected='[application] source_basis = "..." target_basis = "..."')])
    unknown = sorted(set(app) - {"source_basis", "target_basis"})
    if unknown:  # a misspelt key would leave the bases to detection, silently
        raise UsageError("mapping.toml's [application] has keys it does not know", [Problem(
            "bad-mapping", f"[application] {k} is not a key of the table", file=where, column=k,
            found=repr(app[k]), expected="source_basis and target_basis") for k in unknown])
    declared = [app.get(k) for k in ("source_basis", "target_basis")]
    if any(v is not None for v in declared):
        bad = [Problem("bad-mapping", f"[application] {k} must name a basis of the mapping",
                       file=where, column=k, found=repr(v), expected=" or ".join(mappings.bases))
               for k, v in zip(("source_basis", "target_basis"), declared, strict=True)
               if not isinstance(v, str) or v not in mappings.bases]
        if not bad and declared[0] == declared[1]:
            bad = [Problem("bad-mapping", "[application] source_basis and target_basis are the "
                           "same basis", file=where, column="target_basis", found=declared[1],
                           expected="the newer basis the values are rebased to")]
        if bad:
            raise UsageError("mapping.toml's [application] does not name two bases", bad)
        # both name a basis of the mapping (refused above otherwise), so both are text
        source, target = cast(str, declared[0]), cast(str, declared[1])
        if not _linked(mappings, source, target):
            backwards = _linked(mappings, target, source)
            raise UsageError("mapping.toml's [application] names two bases no chain of "
                             "transitions leads between", [Problem(
                                 "no-path", f"no transition leads from source_basis {source} to "
                                 f"target_basis {target}", file=where, column="source_basis",
                                 found=f"{source} -> {target}", expected=f"{target} -> {source}"
                                 if backwards else "two bases linked by transitions",
                                 hint="swap source_basis and target_basis: the values are rebased "
                                 "from the older basis to the newer" if backwards else
                                 "add the transition files linking them, or name other bases")])
    else:
        sources = sorted(set(mappings.bases) - {t.to_basis for t in mappings.transitions})
        targets = sorted(set(mappings.bases) - {t.from_basis for t in mappings.transitions})
        if len(sources) != 1 or len(targets) != 1 or sources == targets:
            raise UsageError("the mapping does not say which bases a DTI build compares", [Problem(
                "bad-mapping", "a DTI build needs one oldest and one newest basis", file=where,
                expected="one basis no transition leads to and one no transition leaves, or "
                "[application] source_basis and target_basis in mapping.toml",
                found=f"oldest: {', '.join(sources) or 'none'}; "
                f"newest: {', '.join(targets) or 'none'}")])
        source, target = sources[0], targets[0]
    return Spec(source, target, mappings.bases[source].units.height,
                mappings.bases[target].units.height, record=_is_shipped(mappings, source, target))


def _linked(mappings: MappingSet, source: str, target: str) -> bool:
    """A chain of transitions leads from ``source`` to ``target``."""
    try:
        mappings.path(source, target)
    except InputError:
        return False
    return True


def _is_shipped(mappings: MappingSet, source: str, target: str) -> bool:
    """The shipped record applies: the two bases are the shipped ones (ids, codes and names)
    and the old units went where the shipped mapping says."""
    if (source, target) != (SOURCE_BASIS, TARGET_BASIS):
        return False

    if mappings.root is not None and Path(mappings.root).resolve() == \
            shipped_mappings_dir().resolve():
        return True
    shipped = _shipped_mappings()
    for b in (source, target):
        if not mappings.bases[b].units.select("code", "name").equals(
                shipped.bases[b].units.select("code", "name")):
            return False

    def edges(ms: MappingSet) -> pl.DataFrame:
        return ms.composed(source, target).edges.select("from_code", "to_code").sort(
            "from_code", "to_code")

    try:
        return edges(mappings).equals(edges(shipped))
    except MergetoolError:
        return False


@cache
def _shipped_mappings() -> MappingSet:
    return load_mappings()


#: The spec of the shipped mapping (``vn-2025``: 63 -> 34 provinces), the one place its sizes
#: and labels are written.
SHIPPED_SPEC = Spec(SOURCE_BASIS, TARGET_BASIS, 63, 34, record=True)
#: The shipped bases named by their unit counts, as the record's research files are
#: (``dti_2024_63.csv``).
BASIS_BY_SIZE = SHIPPED_SPEC.basis_by_size
