"""Units and bases: a unit is identified by its basis *and* its code, never by either alone.

A :class:`Basis` is one vintage of a unit list (``vn-province-2024``: 63 units).
Its :class:`NameResolver` turns the names people write into codes, through the
canonical names and the aliases valid on that basis only: the same string can
mean different territory on two bases (``Huế`` is Thừa Thiên Huế on the 2024
basis, the city of Huế on the 2025 one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from mergetool.core.names import ascii_key, bare_ascii_key, name_key, nearest


@dataclass(frozen=True, order=True)
class UnitRef:
    """A unit on a basis: the node type of the mapping graph."""

    basis: str
    code: str

    def __str__(self) -> str:
        return f"{self.code}@{self.basis}"


@dataclass
class NameResolver:
    """Names (canonical or alias) on one basis -> unit codes."""

    basis: str
    exact: dict[str, str] = field(default_factory=dict)
    loose: dict[str, str | None] = field(default_factory=dict)  # None marks an ambiguous key
    names: list[str] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)  # names as written -> their key
    ambiguous: dict[str, set[str]] = field(default_factory=dict)  # key -> the codes it names
    #: names of aggregates of units (``Cả nước``: the whole country), by ASCII key -> what it is
    aggregates: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, code: str) -> None:
        key = name_key(name)
        known = self.exact.get(key)
        if key in self.ambiguous:
            self.ambiguous[key].add(code)
        elif known is not None and known != code:
            # Two units with one name: the name alone cannot say which; only the code can.
            self.ambiguous[key] = {known, code}
            del self.exact[key]
        elif known is None:
            self.exact[key] = code
        self.raw.setdefault(name, key)
        self._fast: dict[str, str] | None = None
        key = ascii_key(name)
        if key in self.loose and self.loose[key] != code:
            self.loose[key] = None
        else:
            self.loose[key] = code
        self.names.append(name)

    def as_written(self) -> dict[str, str]:
        """Names exactly as the basis and aliases write them -> code (the vectorised fast path;
        same answers as :meth:`resolve`), built once per change."""
        fast: dict[str, str] | None = getattr(self, "_fast", None)
        if fast is None:
            fast = self._fast = {n: self.exact[k] for n, k in self.raw.items() if k in self.exact}
        return fast

    def resolve(self, name: str) -> str | None:
        """The code ``name`` denotes on this basis, or None (unknown, or naming several units)."""
        key = name_key(name)
        if key in self.ambiguous:
            return None
        code = self.exact.get(key)
        if code is not None:
            return code
        loose = ascii_key(name)
        if loose in self.loose:
            return self.loose[loose]
        # "Thanh pho Ha Noi": a prefix written without diacritics, tried only after the whole
        # name (the commune "Tinh Nhuệ" keeps its first word).
        bare = bare_ascii_key(name)
        return self.loose.get(bare) if bare is not None else None

    def codes_named(self, name: str) -> set[str]:
        """The codes of the units that share ``name`` (empty unless the name is ambiguous)."""
        return set(self.ambiguous.get(name_key(name), set()))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        return nearest(name, self.names, n)

    def add_aggregate(self, name: str, meaning: str) -> None:
        """Register a name that denotes an aggregate of units (a national total, say), so an
        unknown name is not answered with a unit it merely looks like."""
        self.aggregates[ascii_key(name)] = meaning

    def aggregate(self, name: str) -> str | None:
        """What aggregate ``name`` denotes, by itself or by the words it begins with
        ("Toàn quốc (63 tỉnh)", "Trung bình chung"), longest first; else None."""
        words = ascii_key(name).split(" ")
        return next((m for n in range(len(words), 0, -1)
                     if (m := self.aggregates.get(" ".join(words[:n]))) is not None), None)

    def hint(self, name: str) -> str | None:
        """What to tell a user whose ``name`` is not a unit here: what the aggregate it names is,
        or the closest unit names (never a unit for an aggregate: "Cả nước" is not "Cà Mau")."""
        return aggregate_hint(name, self.aggregate(name)) or did_you_mean(self.suggest(name))


def aggregate_hint(name: str, meaning: str | None) -> str | None:
    """The hint for a name that denotes an aggregate (``meaning``), if it does."""
    if meaning is None:
        return None
    return (f"{name!r} names {meaning}, not a unit: an aggregate is not rebased (remove its row; "
            "rebase the units, then aggregate the result)")


def did_you_mean(near: list[str]) -> str | None:
    """``did you mean 'A' or 'B'?`` for the closest names, if any."""
    return ("did you mean " + " or ".join(repr(n) for n in near) + "?") if near else None


@dataclass
class Basis:
    """One vintage of a unit list, with its metadata (validity, legal basis)."""

    id: str
    units: pl.DataFrame  # columns: code, name, and any descriptive columns
    meta: dict[str, str] = field(default_factory=dict)
    resolver: NameResolver = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = NameResolver(self.id)
        for code, name in self.units.select("code", "name").iter_rows():
            self.resolver.add(name, code)

    @cached_property
    def codes(self) -> frozenset[str]:
        """The basis's codes, built once (resolution asks for them per value)."""
        return frozenset(self.units["code"])

    def name_of(self, code: str) -> str:
        hit = self.units.filter(pl.col("code") == code)
        return hit["name"][0] if hit.height else f"?{code}"

    def add_alias(self, alias: str, canonical: str) -> bool:
        """Register ``alias`` for the unit named ``canonical``; False if no such unit here."""
        code = self.resolver.exact.get(name_key(canonical))
        if code is None:
            return False
        self.resolver.add(alias, code)
        return True

    def __len__(self) -> int:
        return self.units.height
