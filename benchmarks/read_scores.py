"""Reading speed: resolve 100,000 distinct units (names or codes) and read a 100,000-row table.

Run: ``python benchmarks/read_scores.py`` (synthetic mapping from :mod:`mergetool.core.synth`;
best of three). Not a test: figures depend on the machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import polars as pl

from mergetool.core.synth import synth_mapping
from mergetool.dti.spec import read_scores
from mergetool.io.scores import Layout, resolve_units

N = 100_000


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ms = synth_mapping(N, N // 3, seed=1)
    old = ms.bases["old"].units
    layout = Layout("wide", "unit", None, None, None, {})
    with tempfile.TemporaryDirectory() as d:
        for kind, col in (("names", "name"), ("codes", "code")):
            long = pl.DataFrame({"year": pl.Series([2024] * N, dtype=pl.Int32), "unit": old[col],
                                 "row": pl.int_range(2, N + 2, eager=True).cast(pl.Int32)})
            for declared in ("old", None):
                t = best(lambda long=long, declared=declared: resolve_units(
                    long, ms, "bench", layout, declared=declared))
                how = "declared" if declared else "detected"
                print(f"resolve {N:,} distinct {kind} (basis {how}): {t:.3f} s")
            path = Path(d) / f"{kind}.csv"
            pl.DataFrame({"year": 2024, "unit": old[col], "dti": 0.5}).write_csv(path)
            t = best(lambda path=path: read_scores(path, ms, basis="old"))
            print(f"read_scores, {N:,}-row CSV of {kind}: {t:.3f} s")
        respelt = ("TP. " + old["name"]).str.to_uppercase()
        long = pl.DataFrame({"year": pl.Series([2024] * N, dtype=pl.Int32), "unit": respelt,
                             "row": pl.int_range(2, N + 2, eager=True).cast(pl.Int32)})
        t = best(lambda: resolve_units(long, ms, "bench", layout, declared="old"), 1)
        print(f"resolve {N:,} distinct names spelt unlike the basis (Python folding): {t:.3f} s")


if __name__ == "__main__":
    main()
