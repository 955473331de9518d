"""Synthetic data for tests and benchmarks — generated, seeded, never presented as real.

* :func:`synth_panel`: values in [0, 1] for every unit of a basis of a real mapping set.
* :func:`synth_mapping`: N predecessor units into M successors with a chosen mix of
  unchanged units, merges and splits (shares), plus a panel of values on the old basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mergetool.core.mapping import MappingSet, Transition
from mergetool.core.units import Basis
from mergetool.io.scores import SCORES_SCHEMA


def synth_panel(mappings: MappingSet, basis: str, years: list[int], indicators: list[str],
                seed: int = 0, decimals: int = 4) -> pl.DataFrame:
    """A complete long score frame: every unit of ``basis`` × years × indicators."""
    rng = np.random.default_rng(seed)
    codes = sorted(mappings.basis(basis).codes)
    n = len(codes) * len(years) * len(indicators)
    frame = pl.DataFrame({
        "year": np.repeat(np.array(years, dtype=np.int32), len(codes) * len(indicators)),
        "indicator": np.tile(np.repeat(np.array(indicators), len(codes)), len(years)),
        "code": np.tile(np.array(codes), len(years) * len(indicators)),
        "value": np.round(rng.uniform(0.2, 0.95, n), decimals),
    })
    return frame.with_columns(basis=pl.lit(basis), rank=pl.lit(None, pl.Int32),
                              file=pl.lit("<synthetic>"),
                              row=pl.int_range(2, pl.len() + 2, dtype=pl.Int32)
                              ).select(SCORES_SCHEMA.keys())


@dataclass(frozen=True)
class Preset:
    n_old: int
    n_new: int
    years: int
    indicators: int
    split_fraction: float
    identity_fraction: float


PRESETS: dict[str, Preset] = {
    "provinces": Preset(63, 34, 5, 12, 0.0, 11 / 34),
    "communes": Preset(10_035, 3_321, 10, 50, 0.15, 0.05),
    "large": Preset(1_000_000, 300_000, 10, 10, 0.15, 0.05),
}


def synth_mapping(n_old: int, n_new: int, *, split_fraction: float = 0.0,
                  identity_fraction: float = 0.0, seed: int = 0) -> MappingSet:
    """A valid random mapping: every new unit gets at least one predecessor; a share of old
    units is split in two (shares 0.5/0.5 ... 0.9/0.1); identity units keep their code."""
    if n_new > n_old:
        raise ValueError("n_new must not exceed n_old")
    rng = np.random.default_rng(seed)
    width = max(2, len(str(n_old)))
    old = np.array([str(i).zfill(width) for i in range(1, n_old + 1)])
    new = old[:n_new]
    n_identity = int(n_new * identity_fraction)
    # The first n_new old units seed one successor each (identity for the first n_identity).
    target = np.empty(n_old, dtype=np.int64)
    target[:n_new] = np.arange(n_new)
    rest = rng.integers(n_identity, n_new, n_old - n_new) if n_new > n_identity else \
        rng.integers(0, n_new, n_old - n_new)
    target[n_new:] = rest
    split = np.zeros(n_old, dtype=bool)
    split[n_new:] = rng.random(n_old - n_new) < split_fraction
    second = rng.integers(n_identity, n_new, n_old) if n_new > n_identity else rng.integers(0, n_new, n_old)
    split &= second != target
    share = np.where(split, rng.choice([0.5, 0.6, 0.7, 0.8, 0.9], n_old), 1.0)
    edges = pl.concat([
        pl.DataFrame({"from_code": old, "to_code": new[target], "share": share}),
        pl.DataFrame({"from_code": old[split], "to_code": new[second[split]],
                      "share": 1.0 - share[split]}),
    ]).sort("from_code", "to_code")
    bases = {
        "old": Basis("old", pl.DataFrame({"code": old, "name": [f"Old {c}" for c in old]})),
        "new": Basis("new", pl.DataFrame({"code": new, "name": [f"New {c}" for c in new]})),
    }
    return MappingSet(bases, [Transition("synthetic", "old", "new", edges)], id="synthetic",
                      version=f"seed-{seed}")
