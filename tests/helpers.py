"""Small mapping sets and score frames built in code for tests."""

from __future__ import annotations

import polars as pl

from mergetool.core.mapping import MappingSet, transition_from_pairs
from mergetool.core.units import Basis


def basis(bid: str, units: list[tuple[str, str]]) -> Basis:
    return Basis(bid, pl.DataFrame(units, schema={"code": pl.String, "name": pl.String},
                                   orient="row"))


def mapping_set(bases: dict[str, list[tuple[str, str]]],
                transitions: list[tuple[str, str, str, list[tuple[str, str, float]]]]) -> MappingSet:
    """``transitions``: (id, from_basis, to_basis, [(from_code, to_code, share), ...])."""
    return MappingSet({b: basis(b, u) for b, u in bases.items()},
                      [transition_from_pairs(t, a, b, pairs) for t, a, b, pairs in transitions])


def two_into_one() -> MappingSet:
    """A (01) and B (02) merge into C (01); D (03) unchanged."""
    return mapping_set(
        {"old": [("01", "Alpha"), ("02", "Beta"), ("03", "Delta")],
         "new": [("01", "Alpha"), ("03", "Delta")]},
        [("m", "old", "new", [("01", "01", 1.0), ("02", "01", 1.0), ("03", "03", 1.0)])])
