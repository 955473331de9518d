"""Benchmarks: the same rebase by mergetool, DuckDB and pandas, measured side by side.

    pip install ".[bench]"
    python benchmarks/run.py --preset communes          # one preset, printed as a table
    python benchmarks/run.py --preset wards             # the real commune mapping (vn-2025-wards)
    python benchmarks/run.py --preset large --scale 100000 300000 1000000   # how it grows
    python benchmarks/run.py --startup                  # mergetool --help and build vs floors
    python benchmarks/run.py --cli 1000000              # `mergetool rebase` of a CSV vs DuckDB
    python benchmarks/run.py --preset provinces --json  # machine-readable

Data are synthetic (mergetool.core.synth, seeded), written once to Parquet; each engine then runs
in its own fresh process (so peak RSS is its own), loads the same files, and rebases them with
the mean and the share-weighted mean under strict coverage. The results must be equal
(max |difference| <= 1e-9) or the script exits 1. Times are medians over --repeat runs of
the rebase alone (loading excluded), with the process's CPU time (all threads) beside them: on a
shared machine the CPU time moves less with the load than the wall time. Peak RSS is the worker
process's maximum resident set, including the interpreter, the library and the loaded data.

Engines: mergetool (``rebase(..., audit=False)``, exact sums, with the transition's integer
index built at load time), DuckDB (SQL, float sums), pandas (merge + groupby, float sums), and
``numpy``: the scatter-add limit, a minimal ``np.bincount`` over dense ids encoded at load time,
timed without building a result frame: how fast the arithmetic alone can go.

A preset is one entry of ``mergetool.core.synth.PRESETS``: ``make_data`` writes its ``edges``,
``values`` and ``weights`` Parquet files, which is all an engine reads; a preset from real data
needs only a ``make_data`` branch writing the same three files.
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

ENGINES = ("mergetool", "duckdb", "pandas", "numpy")
TASKS = ("mean", "weighted")


# --- data ----------------------------------------------------------------------------------------

def make_data(preset: str, scale: int | None, seed: int, out: Path) -> dict:
    import numpy as np
    import polars as pl

    from mergetool.core.synth import PRESETS, Preset, synth_mapping

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

    from mergetool.core.mapping import load_mappings

    edges = load_mappings("vn-2025-wards").transitions[0].edges.select("from_code", "to_code", "share")
    rnd = pl.Series("r", np.random.default_rng(seed).uniform(0.1, 1.0, edges.height))
    return edges.with_columns(rnd).with_columns(
        share=pl.coalesce("share", pl.col("r") / pl.col("r").sum().over("from_code"))).drop("r")


# --- engines (each runs in a worker process) ----------------------------------------------------

def run_mergetool(data: Path, task: str):
    import polars as pl

    from mergetool.core.mapping import MappingSet, Transition
    from mergetool.core.rebase import encode_codes, rebase
    from mergetool.core.units import Basis

    edges = pl.read_parquet(data / "edges.parquet")
    weights = pl.read_parquet(data / "weights.parquet")
    old = edges.select(code="from_code").unique().with_columns(name=pl.col("code"))
    new = edges.select(code="to_code").unique().with_columns(name=pl.col("code"))
    ms = MappingSet({"old": Basis("old", old), "new": Basis("new", new)},
                    [Transition("t", "old", "new", edges)])
    # load time: the transition's dense integer ids, and the scores' codes encoded to them once
    scores = encode_codes(pl.scan_parquet(data / "values.parquet"), ms, "new", from_basis="old")

    def once():
        r = rebase(scores, ms, "new", methods={"*": "mean" if task == "mean" else "weighted"},
                   weights=weights if task == "weighted" else None, audit=False,
                   from_basis="old")
        # lazily, as a polars user would: only the four columns are filtered
        return (r.values.lazy().filter(pl.col("status") == "ok")
                .select("year", "indicator", "code", "value").collect())
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


def run_numpy(data: Path, task: str):
    """The scatter-add limit: dense ids encoded at load time, then two np.bincount calls."""
    import numpy as np
    import polars as pl

    edges = pl.read_parquet(data / "edges.parquet").filter(pl.col("share") > 0)
    values = pl.read_parquet(data / "values.parquet").drop_nulls("value")
    weights = pl.read_parquet(data / "weights.parquet")
    frm = pl.Enum(edges["from_code"].unique().sort().to_list())
    to = edges["to_code"].unique().sort()
    inds = values["indicator"].unique().sort()
    years = values["year"].unique().sort()
    e = edges.join(weights.rename({"code": "from_code"}), on="from_code", how="left").select(
        f=pl.col("from_code").cast(frm).to_physical().cast(pl.Int64),
        t=pl.col("to_code").cast(pl.Enum(to.to_list())).to_physical().cast(pl.Int64),
        ws=pl.col("weight") * pl.col("share"))
    v = values.select(f=pl.col("code").cast(frm).to_physical().cast(pl.Int64),
                      s=(pl.col("year") - years.min()).cast(pl.Int64) * inds.len()
                      + pl.col("indicator").cast(pl.Enum(inds.to_list())).to_physical(),
                      v=pl.col("value"))
    j = v.join(e, on="f")  # the join, done at load time too: only the arithmetic is timed
    nt = to.len()
    key = (j["s"] * nt + j["t"]).to_numpy()
    val, ws = j["v"].to_numpy(), j["ws"].to_numpy()
    ncell = years.len() * inds.len() * nt
    expected = np.tile(np.bincount(e["t"].to_numpy(), minlength=nt), years.len() * inds.len())

    def once():
        n = np.bincount(key, minlength=ncell)
        if task == "mean":
            out = np.bincount(key, weights=val, minlength=ncell) / np.maximum(n, 1)
        else:
            out = (np.bincount(key, weights=ws * val, minlength=ncell)
                   / np.bincount(key, weights=ws, minlength=ncell))
        ok = np.flatnonzero(n == expected)
        return ok, out[ok]

    def finish(result) -> pl.DataFrame:
        ok, out = result
        slot, t = ok // nt, ok % nt
        return pl.DataFrame({"year": years.gather(slot // inds.len()), "indicator": inds.gather(
            slot % inds.len()), "code": to.gather(t), "value": out})
    return once, finish


def worker(engine: str, data: Path, task: str, repeat: int, out: Path) -> None:
    runners = {"mergetool": run_mergetool, "duckdb": run_duckdb, "pandas": run_pandas,
               "numpy": run_numpy}
    once = runners[engine](data, task)
    finish = None
    if isinstance(once, tuple):
        once, finish = once
    times, cpu, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = once()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    import polars as pl

    if finish is not None:
        result = finish(result)
    frame = result if isinstance(result, pl.DataFrame) else pl.from_pandas(result)
    frame.sort("year", "indicator", "code").write_parquet(out)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"median_s": statistics.median(times), "times_s": times,
                      "cpu_s": statistics.median(cpu),
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


def cli_bench(rows: int, repeat: int, seed: int) -> dict:
    """``mergetool rebase`` of a commune-shaped long CSV (read, resolve, rebase, write), against
    DuckDB reading the same CSV files and running the same join + group-by, writing a CSV too.

    Both are timed as whole processes (interpreter start and imports included).
    """
    import polars as pl

    from mergetool.core.synth import PRESETS, synth_mapping

    p = PRESETS["communes"]
    ms = synth_mapping(p.n_old, p.n_new, split_fraction=p.split_fraction,
                       identity_fraction=p.identity_fraction, seed=seed)
    edges = ms.transitions[0].edges
    codes = sorted(ms.bases["old"].codes)
    years = 10
    inds = max(1, round(rows / (len(codes) * years)))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "m" / "bases").mkdir(parents=True)
        (d / "m" / "transitions").mkdir()
        (d / "m" / "mapping.toml").write_text(
            'id = "bench"\nversion = "1"\n\n[[basis]]\nid = "old"\nfile = "bases/old.csv"\n\n'
            '[[basis]]\nid = "new"\nfile = "bases/new.csv"\n\n[[transition]]\nid = "t"\n'
            'file = "transitions/t.csv"\nfrom_basis = "old"\nto_basis = "new"\n', encoding="utf-8")
        for b in ("old", "new"):
            ms.bases[b].units.select("code", "name").write_csv(d / "m" / "bases" / f"{b}.csv")
        edges.select(predecessor_code="from_code", successor_code="to_code", share="share").write_csv(
            d / "m" / "transitions" / "t.csv")
        import numpy as np

        rng = np.random.default_rng(seed + 1)
        n = len(codes) * years * inds
        pl.DataFrame({
            "year": np.repeat(np.arange(2015, 2015 + years, dtype=np.int32), len(codes) * inds),
            "unit": np.tile(np.array(codes), years * inds),
            "indicator": np.tile(np.repeat(np.array([f"i{k:02d}" for k in range(inds)]), len(codes)),
                                 years),
            "value": np.round(rng.uniform(0, 1, n), 4),
        }).write_csv(d / "scores.csv")
        exe = Path(sys.executable).parent / "mergetool"
        cmd = [str(exe), "--mappings", str(d / "m"), "rebase", str(d / "scores.csv"), "--to", "new",
               "-o", str(d / "out.csv"), "--force"]
        sql = f"""
            COPY (
            WITH e AS (SELECT * FROM read_csv('{d / "m" / "transitions" / "t.csv"}',
                       types={{'predecessor_code': 'VARCHAR', 'successor_code': 'VARCHAR'}})
                       WHERE share > 0),
                 v AS (SELECT * FROM read_csv('{d / "scores.csv"}', types={{'unit': 'VARCHAR'}})),
                 x AS (SELECT successor_code, count(*) AS n_expected FROM e GROUP BY successor_code),
                 g AS (SELECT v.year, v.indicator, e.successor_code AS code, count(v.value) AS n_used,
                              avg(v.value) AS value
                       FROM v JOIN e ON v.unit = e.predecessor_code WHERE v.value IS NOT NULL
                       GROUP BY ALL)
            SELECT g.year, g.indicator, g.code, g.value FROM g JOIN x ON g.code = x.successor_code
            WHERE g.n_used = x.n_expected ORDER BY 1, 2, 3) TO '{d / "duck.csv"}' (HEADER)"""
        duck = [sys.executable, "-c", f"import duckdb; duckdb.connect().execute({sql!r})"]
        # one untimed run each warms the file cache (and checks that both succeed)
        for c in (cmd, duck):
            proc = subprocess.run(c, capture_output=True, text=True, check=False)
            if proc.returncode not in (0, 1):
                sys.stderr.write(proc.stdout + proc.stderr)
                raise SystemExit(f"{c[0]} failed")
        ours = (pl.read_csv(d / "out.csv", schema_overrides={"code": pl.String})
                .filter(pl.col("status") == "ok").select("year", "indicator", "code", "value")
                .sort("year", "indicator", "code"))
        theirs = pl.read_csv(d / "duck.csv", schema_overrides={"code": pl.String}).sort(
            "year", "indicator", "code")
        if ours.height != theirs.height or not ours.select("year", "indicator", "code").equals(
                theirs.select("year", "indicator", "code")) or \
                ((ours["value"] - theirs["value"]).abs().max() or 0) > 1e-9:
            raise SystemExit("mergetool rebase and DuckDB disagree on the CLI benchmark")
        return {"rows": n, "units": len(codes), "indicators": inds, "years": years,
                "rows_out": ours.height, "mergetool rebase (CLI)": time_command(cmd, repeat),
                "duckdb (read_csv + SQL + write)": time_command(duck, repeat)}


def time_command(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        if proc.returncode not in (0, 1):  # build exits 1 on a failed comparability check
            raise SystemExit(f"{cmd[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
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
        print(f"{'task':9} {'engine':10} {'median s':>9} {'cpu s':>7} {'peak RSS MiB':>13} "
              f"{'vs duckdb':>10} {'vs pandas':>10} {'vs numpy':>10}")
        by = {(r["task"], r["engine"]): r for r in block["results"]}
        for r in block["results"]:
            ratios = []
            for other in ("duckdb", "pandas", "numpy"):
                ref = by.get((r["task"], other))
                ratios.append(f"{r['median_s'] / ref['median_s']:.2f}"
                              if r["engine"] == "mergetool" and ref else "")
            print(f"{r['task']:9} {r['engine']:10} {r['median_s']:9.3f} {r['cpu_s']:7.2f} "
                  f"{r['peak_rss_mib']:13.0f} "
                  f"{ratios[0]:>10} {ratios[1]:>10} {ratios[2]:>10}")
        for r in block["results"]:
            if r["engine"] == "mergetool":
                per = r["median_s"] / d["values"] * 1e9
                print(f"  mergetool {r['task']}: {per:.1f} ns per input value, "
                      f"{r['peak_rss_mib'] * 1024 * 1024 / d['values']:.0f} bytes RSS per input value")
    if "cli" in report:
        c = report["cli"]
        print(f"\nCLI: {c['rows']:,} rows ({c['units']:,} units x {c['years']} years x "
              f"{c['indicators']} indicators) -> {c['rows_out']:,} complete values")
        ours, theirs = c["mergetool rebase (CLI)"], c["duckdb (read_csv + SQL + write)"]
        print(f"  mergetool rebase (CLI)            {ours:.2f} s")
        print(f"  duckdb (read_csv + SQL + write)   {theirs:.2f} s   ratio {ours / theirs:.2f}")
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
    ap.add_argument("--cli", type=int, metavar="ROWS",
                    help="time `mergetool rebase` of a commune-shaped CSV of about ROWS rows vs DuckDB")
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
    if a.cli:
        report["cli"] = cli_bench(a.cli, a.repeat, a.seed)
    if a.startup:
        report["startup"] = startup(a.repeat)
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
