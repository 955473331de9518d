"""Benchmarks: the same rebase by mergetool, DuckDB and pandas, measured side by side.

    pip install ".[bench]"
    python benchmarks/run.py --preset communes          # one preset, printed as a table
    python benchmarks/run.py --preset wards             # the real commune mapping (vn-2025-wards)
    python benchmarks/run.py --preset large --scale 100000 300000 1000000   # how it grows
    python benchmarks/run.py --startup                  # mergetool --help and build vs floors
    python benchmarks/run.py --preset provinces --json  # machine-readable

Data are synthetic (mergetool.synth, seeded), written once to Parquet; each engine then runs
in its own fresh process (so peak RSS is its own), loads the same files, and rebases them with
the mean and the share-weighted mean under strict coverage. The three results must be equal
(max |difference| <= 1e-9) or the script exits 1. Times are medians over --repeat runs of
the rebase alone (loading excluded); peak RSS is the worker process's maximum resident set,
including the interpreter, the library and the loaded data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("mergetool", "duckdb", "pandas")
TASKS = ("mean", "weighted")


# --- data ----------------------------------------------------------------------------------------

def make_data(preset: str, scale: int | None, seed: int, out: Path) -> dict:
    import numpy as np
    import polars as pl

    from mergetool.synth import PRESETS, Preset, synth_mapping

    if preset == "wards":
        edges = wards_edges(seed)
        n_old, n_new = edges["from_code"].n_unique(), edges["to_code"].n_unique()
        p = Preset(n_old, n_new, WARDS_YEARS, WARDS_INDICATORS, 0.0, 0.0)
    else:
        p = PRESETS[preset]
        n_old = scale or p.n_old
        n_new = max(1, round(n_old * p.n_new / p.n_old))
        ms = synth_mapping(n_old, n_new, split_fraction=p.split_fraction,
                           identity_fraction=p.identity_fraction, seed=seed)
        edges = ms.transitions[0].edges.select("from_code", "to_code", "share")
    codes = edges["from_code"].unique().sort()
    rng = np.random.default_rng(seed + 1)
    years = np.arange(2015, 2015 + p.years, dtype=np.int32)
    inds = np.array([f"i{k:02d}" for k in range(p.indicators)])
    n = len(codes) * len(years) * len(inds)
    values = pl.DataFrame({
        "year": np.repeat(years, len(codes) * len(inds)),
        "indicator": np.tile(np.repeat(inds, len(codes)), len(years)),
        "code": np.tile(codes.to_numpy(), len(years) * len(inds)),
        "value": np.round(rng.uniform(0, 1, n), 4),
    })
    weights = pl.DataFrame({"code": codes, "weight": rng.uniform(1e3, 1e6, len(codes)).round(0)})
    edges.write_parquet(out / "edges.parquet")
    values.write_parquet(out / "values.parquet")
    weights.write_parquet(out / "weights.parquet")
    return {"preset": preset, "n_old": n_old, "n_new": n_new, "edges": edges.height,
            "splits": edges.group_by("from_code").len().filter(pl.col("len") > 1).height,
            "years": p.years, "indicators": p.indicators, "values": values.height}


#: The real commune mapping: 10,040 old units, 3,321 new, 10,602 edges (471 divided units);
#: values synthetic, 10 years x 50 indicators as the synthetic "communes" preset.
WARDS_YEARS, WARDS_INDICATORS = 10, 50


def wards_edges(seed: int):
    """Real units and edges of the shipped vn-2025-wards mapping. The source gives no shares
    for divided units, so the weighted task gets synthetic ones (seeded, random, each divided
    unit's summing to 1): benchmark data only, never shipped."""
    import numpy as np
    import polars as pl

    from mergetool.mapping import load_mappings

    edges = load_mappings("vn-2025-wards").transitions[0].edges.select("from_code", "to_code", "share")
    rnd = pl.Series("r", np.random.default_rng(seed).uniform(0.1, 1.0, edges.height))
    return edges.with_columns(rnd).with_columns(
        share=pl.coalesce("share", pl.col("r") / pl.col("r").sum().over("from_code"))).drop("r")


# --- engines (each runs in a worker process) ----------------------------------------------------

def run_mergetool(data: Path, task: str):
    import polars as pl

    from mergetool.mapping import MappingSet, Transition
    from mergetool.rebase import rebase
    from mergetool.units import Basis

    edges = pl.read_parquet(data / "edges.parquet")
    values = pl.read_parquet(data / "values.parquet")
    weights = pl.read_parquet(data / "weights.parquet")
    old = edges.select(code="from_code").unique().with_columns(name=pl.col("code"))
    new = edges.select(code="to_code").unique().with_columns(name=pl.col("code"))
    ms = MappingSet({"old": Basis("old", old), "new": Basis("new", new)},
                    [Transition("t", "old", "new", edges)])
    scores = values.with_columns(basis=pl.lit("old"))

    def once():
        r = rebase(scores, ms, "new", methods={"*": "mean" if task == "mean" else "weighted"},
                   weights=weights if task == "weighted" else None, audit=False)
        return r.values.filter(pl.col("status") == "ok").select("year", "indicator", "code", "value")
    return once


def run_duckdb(data: Path, task: str):
    import duckdb

    con = duckdb.connect()
    con.execute(f"PRAGMA threads={os.cpu_count()}")
    for t in ("edges", "values", "weights"):
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{data / (t + '.parquet')}')")
    expr = ("avg(v.value)" if task == "mean"
            else "sum(w.weight * e.share * v.value) / sum(w.weight * e.share)")
    sql = f"""
        WITH e AS (SELECT * FROM edges WHERE share > 0),
             x AS (SELECT to_code, count(*) AS n_expected FROM e GROUP BY to_code),
             g AS (SELECT v.year, v.indicator, e.to_code AS code, count(v.value) AS n_used,
                          {expr} AS value
                   FROM "values" v JOIN e ON v.code = e.from_code
                   {"JOIN weights w ON w.code = e.from_code" if task == "weighted" else ""}
                   WHERE v.value IS NOT NULL
                   GROUP BY ALL)
        SELECT g.year, g.indicator, g.code, g.value FROM g JOIN x ON g.code = x.to_code
        WHERE g.n_used = x.n_expected"""

    def once():
        return con.sql(sql).pl()
    return once


def run_pandas(data: Path, task: str):
    import pandas as pd

    edges = pd.read_parquet(data / "edges.parquet")
    values = pd.read_parquet(data / "values.parquet")
    weights = pd.read_parquet(data / "weights.parquet")

    def once():
        e = edges[edges["share"] > 0]
        expected = e.groupby("to_code").size().rename("n_expected")
        j = values.dropna(subset=["value"]).merge(e, left_on="code", right_on="from_code")
        if task == "weighted":
            j = j.merge(weights, left_on="from_code", right_on="code", suffixes=("", "_w"))
            j["ws"] = j["weight"] * j["share"]
            j["wv"] = j["ws"] * j["value"]
            g = j.groupby(["year", "indicator", "to_code"], as_index=False).agg(
                n_used=("value", "count"), ws=("ws", "sum"), wv=("wv", "sum"))
            g["value"] = g["wv"] / g["ws"]
        else:
            g = j.groupby(["year", "indicator", "to_code"], as_index=False).agg(
                n_used=("value", "count"), value=("value", "mean"))
        g = g.join(expected, on="to_code")
        g = g[g["n_used"] == g["n_expected"]]
        return g.rename(columns={"to_code": "code"})[["year", "indicator", "code", "value"]]
    return once


def worker(engine: str, data: Path, task: str, repeat: int, out: Path) -> None:
    once = {"mergetool": run_mergetool, "duckdb": run_duckdb, "pandas": run_pandas}[engine](data, task)
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = once()
        times.append(time.perf_counter() - t0)
    import polars as pl

    frame = result if isinstance(result, pl.DataFrame) else pl.from_pandas(result)
    frame.sort("year", "indicator", "code").write_parquet(out)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"median_s": statistics.median(times), "times_s": times,
                      "peak_rss_mib": peak_kib / 1024}))


# --- orchestration -------------------------------------------------------------------------------

def measure(preset: str, scale: int | None, repeat: int, seed: int, engines: list[str]) -> dict:
    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        info = make_data(preset, scale, seed, d)
        rows = []
        for task in TASKS:
            results = {}
            for engine in engines:
                out = d / f"{engine}-{task}.parquet"
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", engine, "--data", str(d), "--task", task,
                     "--repeat", str(repeat), "--result", str(out)],
                    capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stderr)
                    raise SystemExit(f"{engine} failed on {preset}/{task}")
                m = json.loads(proc.stdout.strip().splitlines()[-1])
                results[engine] = pl.read_parquet(out).with_columns(pl.col("year").cast(pl.Int32))
                rows.append({"task": task, "engine": engine, **m})
            ref = results[engines[0]]
            for engine in engines[1:]:
                other = results[engine]
                if other.height != ref.height:
                    raise SystemExit(f"{engine} gives {other.height} rows, {engines[0]} {ref.height}")
                diff = (ref["value"] - other["value"]).abs().max()
                same_keys = ref.select("year", "indicator", "code").equals(
                    other.select("year", "indicator", "code"))
                if not same_keys or (diff or 0) > 1e-9:
                    raise SystemExit(f"{engine} disagrees with {engines[0]} on {preset}/{task}")
            for r in rows:
                if r["task"] == task:
                    r["rows_out"] = ref.height
    return {"data": info, "results": rows}


def time_command(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def startup(repeat: int) -> dict:
    exe = Path(sys.executable).parent / "mergetool"
    with tempfile.TemporaryDirectory() as tmp:
        build = [str(exe), "build", "--out", tmp, "--force", "--fail-on", "never"]
        return {
            "python -c pass": time_command([sys.executable, "-c", "pass"], repeat),
            "python -c import click": time_command([sys.executable, "-c", "import click"], repeat),
            "mergetool --help": time_command([str(exe), "--help"], repeat),
            "python -c import polars": time_command([sys.executable, "-c", "import polars"], repeat),
            "mergetool build": time_command(build, repeat),
        }


def print_table(report: dict) -> None:
    for block in report.get("presets", []):
        d = block["data"]
        print(f"\npreset {d['preset']}: {d['n_old']:,} -> {d['n_new']:,} units, {d['edges']:,} edges "
              f"({d['splits']:,} splits), {d['years']} years x {d['indicators']} indicators = "
              f"{d['values']:,} values")
        print(f"{'task':9} {'engine':10} {'median s':>9} {'peak RSS MiB':>13} "
              f"{'vs duckdb':>10} {'vs pandas':>10}")
        by = {(r["task"], r["engine"]): r for r in block["results"]}
        for r in block["results"]:
            ratios = []
            for other in ("duckdb", "pandas"):
                ref = by.get((r["task"], other))
                ratios.append(f"{r['median_s'] / ref['median_s']:.2f}"
                              if r["engine"] == "mergetool" and ref else "")
            print(f"{r['task']:9} {r['engine']:10} {r['median_s']:9.3f} {r['peak_rss_mib']:13.0f} "
                  f"{ratios[0]:>10} {ratios[1]:>10}")
        for r in block["results"]:
            if r["engine"] == "mergetool":
                per = r["median_s"] / d["values"] * 1e9
                print(f"  mergetool {r['task']}: {per:.1f} ns per input value, "
                      f"{r['peak_rss_mib'] * 1024 * 1024 / d['values']:.0f} bytes RSS per input value")
    if "startup" in report:
        s = report["startup"]
        print("\nstart-up (median wall time, s)")
        for k, v in s.items():
            print(f"  {k:28} {v:.3f}")
        print(f"  mergetool --help / python -c 'import click': "
              f"{s['mergetool --help'] / s['python -c import click']:.2f}")
        print(f"  mergetool build / python -c 'import polars': "
              f"{s['mergetool build'] / s['python -c import polars']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", action="append", choices=["provinces", "communes", "large", "wards"])
    ap.add_argument("--scale", type=int, nargs="*", help="predecessor counts to run (growth series)")
    ap.add_argument("--engines", nargs="*", default=list(ENGINES))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--startup", action="store_true", help="time --help and build against floors")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.data, a.task, a.repeat, a.result)
        return
    report: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "platform": platform.platform()}, "presets": []}
    for preset in a.preset or []:
        for scale in a.scale or [None]:
            report["presets"].append(measure(preset, scale, a.repeat, a.seed, a.engines))
    if a.startup:
        report["startup"] = startup(a.repeat)
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
