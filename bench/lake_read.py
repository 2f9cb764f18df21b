"""Lake read and write benchmark against ArcticDB (LMDB) on the same bars, and the S3 read protocol check.

Data: 5 years of M1 bars on trading minutes only (~1.87 M rows, a random walk), written once to a Parquet file.
axia: `S3OhlcvDataRepository.load_ohlcv` on a local lake holding those bars (and a second lake holding the last
year of them). ArcticDB: the same bars from the same Parquet file, in an LMDB library, run in a second venv
(ArcticDB 6.x needs pandas < 3, axia's venv has pandas 3) made by `bench/arctic_venv.sh` and driven as a subprocess
(`bench/arctic_baseline.py serve`): each side times its own reads in its own process, the two interleaved read by
read so that both see the same load (this machine is shared), and the medians are compared. Both use the cores
they find: ArcticDB its own thread pool, axia `READ_WORKERS` decoding threads for reads of `PARALLEL_ROWS` rows
or more (the `data:` line says how many, and gives the load average; the `end:` line gives it again).

Figures (`figure: median, baseline, ratio, goal`):
- read 1 d / 30 d / 365 d / 5 y of M1 ending at the last bar: ratio to ArcticDB <= 1.0 (1 d and 30 d: <= 0.9)
- peak memory of a 5-year read (RSS growth of a fresh process) <= 1.6x the frame it returns
- cost per row and fixed cost of a read (least squares over the four windows), and a 30-day read on a 1-year and on
  a 5-year lake (flat: <= 1.2x)
- an incremental day saved into the 5-year lake <= 1.5x ArcticDB's `append` of the same day
- DuckDB: a 30-day count through `axia.analysis.connect` (fresh listing per statement) against a DuckDB connection
  on a dataset listed once (<= 1.5x)
- on moto S3: a 30-day read with today's reader against the reader before conditional writes (main at 35c6009,
  layout 1) <= 1.2x
Run: `python bench/lake_read.py` (add `--quick` for fewer repetitions). Exits 1 when a goal is missed.
"""
from __future__ import annotations
import argparse, importlib.util, json, logging, os, resource, shutil, socket, statistics, subprocess, sys, tempfile, time
import numpy as np
import pandas as pd

from axia.core import as_ohlcv, is_market_open
from axia.tiers.s3 import READ_WORKERS, S3OhlcvDataRepository

HERE = os.path.dirname(os.path.abspath(__file__))
START, END = pd.Timestamp("2021-11-01", tz="UTC"), pd.Timestamp("2026-11-01", tz="UTC")
LAST = None   # the last bar's open + 1 min, set in main
MISSED: list[str] = []


def five_years() -> pd.DataFrame:
    t = pd.date_range(START, END, freq="1min", inclusive="left", name="time").as_unit("ns")
    t = t[is_market_open(t)]
    rng = np.random.default_rng(0)
    n = len(t)
    close = (150 + np.cumsum(rng.normal(0, 0.01, n))).round(3)
    open_ = np.r_[close[0], close[:-1]]
    return as_ohlcv(pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.004,
                                  "low": np.minimum(open_, close) - 0.004, "close": close,
                                  "tick_volume": rng.integers(1, 90, n), "spread": rng.integers(0, 5, n)}, index=t))


def median_ms(f, n) -> float:
    f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def figure(name: str, value: float, baseline: float | None, goal: float | None, unit="ms", ratio=None, fmt=".2f"):
    ratio = ratio if ratio is not None else (value / baseline if baseline else None)
    ok = goal is None or ratio is None or ratio <= goal
    if not ok: MISSED.append(name)
    b = "-" if baseline is None else f"{baseline:{fmt}} {unit}"
    r = "-" if ratio is None else f"{ratio:.2f}x"
    g = "-" if goal is None else f"<= {goal:g}x"
    print(f"{name}: median {value:{fmt}} {unit}, baseline {b}, ratio {r}, goal {g}{'' if ok else '  MISSED'}", flush=True)


def arctic(mode: str, parquet: str, lmdb: str, spec) -> dict:
    py = subprocess.run(["bash", f"{HERE}/arctic_venv.sh"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run([py, f"{HERE}/arctic_baseline.py", mode, parquet, lmdb, json.dumps(spec)],
                         capture_output=True, text=True)
    if out.returncode: raise RuntimeError(f"arctic_baseline {mode} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class ArcticServer:
    "ArcticDB in its own venv, answering one timed operation per request (bench/arctic_baseline.py serve)."
    def __init__(self, parquet: str, lmdb: str):
        py = subprocess.run(["bash", f"{HERE}/arctic_venv.sh"], capture_output=True, text=True, check=True).stdout.strip()
        self.proc = subprocess.Popen([py, f"{HERE}/arctic_baseline.py", "serve", parquet, lmdb, "{}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n"); self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line: raise RuntimeError("arctic_baseline serve died")
        return json.loads(line)

    def close(self):
        self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n"); self.proc.stdin.flush(); self.proc.wait(30)


def rss() -> int:
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize()


def reset_peak() -> None:
    "Reset the kernel's peak-RSS mark (VmHWM) so that the next `peak_rss` covers only what follows."
    with open("/proc/self/clear_refs", "w") as f: f.write("5")


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def mem_child(root: str, start: str, end: str):
    "Child mode: peak RSS growth of one 5-year read in a fresh process."
    repo = S3OhlcvDataRepository(root)
    repo.load_ohlcv("USDJPY", "M1", start_date=pd.Timestamp(start), end_date=pd.Timestamp(start) + pd.Timedelta("1D"))  # imports, layout
    reset_peak(); before = rss()
    df = repo.load_ohlcv("USDJPY", "M1", start_date=start, end_date=end)
    peak = peak_rss()
    print(json.dumps({"peak_growth": peak - before, "frame": int(df.memory_usage(index=True, deep=True).sum()), "rows": len(df)}))


def main():
    global LAST
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--mem-child", nargs=3)
    ap.add_argument("--skip-s3", action="store_true")
    args = ap.parse_args()
    if args.mem_child: return mem_child(*args.mem_child)
    reps = 5 if args.quick else 15
    work = tempfile.mkdtemp(prefix="axia-bench-lake-")
    try:
        df = five_years()
        extra = df.index[-1] + pd.Timedelta("1min")
        days_after = five_days_after = None
        LAST = extra
        parquet = f"{work}/bars.parquet"
        df.reset_index().to_parquet(parquet)
        root5, root1 = f"{work}/lake5", f"{work}/lake1"
        S3OhlcvDataRepository(root5).save_ohlcv_data("USDJPY", "M1", df)
        S3OhlcvDataRepository(root1).save_ohlcv_data("USDJPY", "M1", df.loc[LAST - pd.Timedelta("365D"):])
        lake_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root5) for f in fs if f == "data.parquet")
        print(f"data: {len(df):,} M1 bars {df.index[0]} .. {df.index[-1]}; 5-year lake {lake_bytes / 1e6:.1f} MB "
              f"({lake_bytes / 5 / 1e6:.1f} MB per symbol-year of M1); ArcticDB in {arctic_python_version()}; "
              f"axia decodes long reads on {READ_WORKERS} threads; {os.cpu_count()} cores, {load()}", flush=True)
        arctic("write", parquet, f"{work}/lmdb", {})
        windows = {"1d": 1, "30d": 30, "365d": 365, "5y": 5 * 365 + 2}
        # every window gets `reps` interleaved pairs (the 5-year read had 7, and its ratio moved 0.73-1.02x between
        # runs of the same code on this shared machine)
        spec = {k: [str(LAST - pd.Timedelta(days=d)), str(LAST), reps] for k, d in windows.items()}
        arc_srv = ArcticServer(parquet, f"{work}/lmdb")
        repo5, repo1 = S3OhlcvDataRepository(root5), S3OhlcvDataRepository(root1)
        ms, rows, arc = {}, {}, {}
        for k, d in windows.items():
            s, e = LAST - pd.Timedelta(days=d), LAST
            got = repo5.load_ohlcv("USDJPY", "M1", start_date=s, end_date=e)
            a0 = arc_srv.call(op="read", start=str(s), end=str(e))
            assert len(got) == a0["rows"], (k, len(got), a0["rows"])
            rows[k] = len(got)
            mine, theirs = [], []
            for _ in range(spec[k][2]):            # interleaved: both see the same load
                t0 = time.perf_counter(); repo5.load_ohlcv("USDJPY", "M1", start_date=s, end_date=e)
                mine.append((time.perf_counter() - t0) * 1e3)
                theirs.append(arc_srv.call(op="read", start=str(s), end=str(e))["ms"])
            ms[k], arc[k] = statistics.median(mine), {"ms": statistics.median(theirs)}
            figure(f"read {k} M1 ({rows[k]:,} rows) vs ArcticDB LMDB", ms[k], arc[k]["ms"], 0.9 if d <= 30 else 1.0)
        # cost per row from the two long windows; fixed cost = the 1-day read less its rows at that cost
        per_row = lambda m: (m["5y"] - m["365d"]) / (rows["5y"] - rows["365d"])
        am = {k: arc[k]["ms"] for k in windows}
        slope, aslope = per_row(ms), per_row(am)
        fixed, afixed = ms["1d"] - slope * rows["1d"], am["1d"] - aslope * rows["1d"]
        figure("read cost per row", slope * 1e6, aslope * 1e6, None, unit="ns")
        figure("read fixed cost", fixed * 1e3, afixed * 1e3, None, unit="us", fmt=".0f")
        s30 = LAST - pd.Timedelta("30D")
        m1y = median_ms(lambda: repo1.load_ohlcv("USDJPY", "M1", start_date=s30, end_date=LAST), reps)
        m5y = median_ms(lambda: repo5.load_ohlcv("USDJPY", "M1", start_date=s30, end_date=LAST), reps)
        figure("read 30d on a 5-year lake vs on a 1-year lake (flat)", m5y, m1y, 1.2)
        mem = json.loads(subprocess.run([sys.executable, __file__, "--mem-child", root5, spec["5y"][0], spec["5y"][1]],
                                        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        amem = arctic("mem", parquet, f"{work}/lmdb", {"range": spec["5y"][:2]})
        figure("peak memory of a 5-year read / frame size", mem["peak_growth"] / mem["frame"], amem["peak_growth"] / amem["frame"],
               1.6, unit="x", ratio=mem["peak_growth"] / mem["frame"])
        # incremental days: the week after the data, one day per save, in both stores
        after = five_years_after(df)
        after.reset_index().to_parquet(f"{work}/after.parquet")
        ts, ats = [], []
        for i, (_, day) in enumerate(after.groupby(after.index.floor("1D"))):
            t0 = time.perf_counter(); repo5.save_ohlcv_data("USDJPY", "M1", day); ts.append(time.perf_counter() - t0)
            ats.append(arc_srv.call(op="append_day", parquet=f"{work}/after.parquet", day=i)["ms"])
        arc_srv.close()
        figure(f"save one new day into the 5-year lake vs ArcticDB append ({len(ts)} days)", statistics.median(ts) * 1e3,
               statistics.median(ats), 1.5)
        duckdb_figure(repo5, reps)
        if not args.skip_s3: s3_protocol_figure(df, reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"end: {load()}")
    if MISSED: print(f"missed goals: {', '.join(MISSED)}")
    return 1 if MISSED else 0


def load() -> str:
    "The load average (this machine is shared: the figures are only comparable under similar load)."
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def arctic_python_version() -> str:
    py = subprocess.run(["bash", f"{HERE}/arctic_venv.sh"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run([py, "-c", "import arcticdb, pandas; print(f'arcticdb {arcticdb.__version__}, pandas {pandas.__version__}')"],
                          capture_output=True, text=True, check=True).stdout.strip()


def five_years_after(df: pd.DataFrame) -> pd.DataFrame:
    "The next five trading days after the 5-year data (so every save is a real append)."
    t = pd.date_range(df.index[-1] + pd.Timedelta("1min"), periods=60 * 24 * 9, freq="1min", name="time")
    t = t[is_market_open(t)][: 5 * 1440]
    rng = np.random.default_rng(1)
    close = (df.close.iloc[-1] + np.cumsum(rng.normal(0, 0.01, len(t)))).round(3)
    open_ = np.r_[df.close.iloc[-1], close[:-1]]
    return as_ohlcv(pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.004, "low": np.minimum(open_, close) - 0.004,
                                  "close": close, "tick_volume": rng.integers(1, 90, len(t)), "spread": rng.integers(0, 5, len(t))},
                                 index=t))


def duckdb_figure(repo, reps):
    import duckdb
    from axia.analysis import _VIEW, _lock, connect, lake_dataset
    s = LAST - pd.Timedelta("30D")
    sql = "SELECT count(*), sum(close) FROM ohlcv WHERE symbol = 'USDJPY' AND timeframe = 'M1' AND time >= ? AND time < ?"
    fresh = connect(repo)
    snap = duckdb.connect(":memory:"); snap.register("axia_lake", lake_dataset(repo)); snap.execute(_VIEW); _lock(snap)
    assert fresh.execute(sql, [s, LAST]).fetchall()[0][0] == snap.execute(sql, [s, LAST]).fetchall()[0][0]
    ta, tb = [], []
    for _ in range(2 * reps):                      # interleaved, so both see the same load
        t0 = time.perf_counter(); fresh.execute(sql, [s, LAST]).fetchall(); ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); snap.execute(sql, [s, LAST]).fetchall(); tb.append(time.perf_counter() - t0)
    a, b = statistics.median(ta) * 1e3, statistics.median(tb) * 1e3
    figure("duckdb 30d query, fresh listing per statement vs dataset listed once", a, b, 1.5)


def s3_protocol_figure(df, reps):
    "30-day read on moto S3: today's reader (layout 2, conditional writes) vs the reader at 35c6009 (layout 1)."
    import boto3
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench"); os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    src = subprocess.run(["git", "-C", HERE, "show", "35c6009:axia/tiers/s3.py"], capture_output=True, text=True)
    if src.returncode:
        print("s3: skipped (the old reader is read from git history: no git checkout here)"); return
    path = os.path.join(tempfile.mkdtemp(prefix="axia-s3-before-"), "s3_before.py")
    with open(path, "w") as f: f.write(src.stdout)
    spec = importlib.util.spec_from_file_location("axia.tiers._s3_before", path)   # a sibling of axia.tiers.s3: `..core` resolves
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0)); port = sk.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        c = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        c.create_bucket(Bucket="axia-bench")
        year = df.loc[LAST - pd.Timedelta("365D"):]
        new = S3OhlcvDataRepository("s3://axia-bench/v2", endpoint_url=endpoint); new.save_ohlcv_data("USDJPY", "M1", year)
        before = old.S3OhlcvDataRepository("s3://axia-bench/v1", endpoint_url=endpoint); before.save_ohlcv_data("USDJPY", "M1", year)
        s = LAST - pd.Timedelta("30D")
        assert len(new.load_ohlcv("USDJPY", "M1", start_date=s, end_date=LAST)) == len(before.load_ohlcv("USDJPY", "M1", start_date=s, end_date=LAST))
        ta, tb = [], []
        for _ in range(max(5, reps)):              # interleaved, so both see the same load (they were timed one after the other)
            t0 = time.perf_counter(); new.load_ohlcv("USDJPY", "M1", start_date=s, end_date=LAST); ta.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); before.load_ohlcv("USDJPY", "M1", start_date=s, end_date=LAST); tb.append(time.perf_counter() - t0)
        figure("moto S3 read 30d, conditional-write lake vs the reader before (35c6009)", statistics.median(ta) * 1e3,
               statistics.median(tb) * 1e3, 1.2)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
