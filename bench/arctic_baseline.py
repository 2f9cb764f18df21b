"""ArcticDB (LMDB) side of bench/lake_read.py, run in its own venv (ArcticDB 6 needs pandas < 3; see bench/arctic_venv.sh).

Reads the bars from the Parquet file bench/lake_read.py wrote (the same bars axia stores), writes them into an LMDB
library, and prints one JSON object: median read time per window, median append time of one day, or (mode `mem`)
the peak RSS growth of a full read against the frame's size. Mode `serve` answers one timed operation per line
on stdin (`{"op": "read", "start": …, "end": …}`, `{"op": "append_day", "parquet": …, "day": i}`), so the caller can
interleave ArcticDB's and axia's measurements under the same load. Not meant to be run by hand.
"""
import json, resource, statistics, sys, time
import pandas as pd
from arcticdb import Arctic


def rss() -> int:
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize()


def median_ms(f, n):
    f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    mode, parquet, lmdb, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    lib = Arctic(f"lmdb://{lmdb}").get_library("bench", create_if_missing=True)
    if mode == "write":
        df = pd.read_parquet(parquet).set_index("time")
        df.index = df.index.as_unit("ns")
        lib.write("USDJPY", df)
        print(json.dumps({"rows": len(df)})); return
    if mode == "read":
        out = {}
        for name, (s, e, n) in spec.items():
            rng = (pd.Timestamp(s), pd.Timestamp(e))
            rows = len(lib.read("USDJPY", date_range=rng).data)
            out[name] = {"ms": median_ms(lambda: lib.read("USDJPY", date_range=rng).data, n), "rows": rows}
        print(json.dumps(out)); return
    if mode == "append":
        days = pd.read_parquet(parquet).set_index("time")
        days.index = days.index.as_unit("ns")
        ts = []
        for _, day in days.groupby(days.index.floor("1D")):
            t0 = time.perf_counter(); lib.append("USDJPY", day); ts.append(time.perf_counter() - t0)
        print(json.dumps({"ms": statistics.median(ts) * 1e3, "n": len(ts)})); return
    if mode == "serve":
        days = None
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "read":
                rng = (pd.Timestamp(cmd["start"]), pd.Timestamp(cmd["end"]))
                t0 = time.perf_counter(); rows = len(lib.read("USDJPY", date_range=rng).data); ms = (time.perf_counter() - t0) * 1e3
                reply = {"ms": ms, "rows": rows}
            elif cmd["op"] == "append_day":
                if days is None:
                    d = pd.read_parquet(cmd["parquet"]).set_index("time"); d.index = d.index.as_unit("ns")
                    days = [g for _, g in d.groupby(d.index.floor("1D"))]
                t0 = time.perf_counter(); lib.append("USDJPY", days[cmd["day"]]); reply = {"ms": (time.perf_counter() - t0) * 1e3}
            else: break
            print(json.dumps(reply), flush=True)
        return
    if mode == "mem":
        s, e = spec["range"]
        lib.read("USDJPY", date_range=(pd.Timestamp(s), pd.Timestamp(s) + pd.Timedelta("1D"))).data   # warm up, like axia's side
        with open("/proc/self/clear_refs", "w") as f: f.write("5")     # reset the peak-RSS mark (VmHWM)
        before = rss()
        df = lib.read("USDJPY", date_range=(pd.Timestamp(s), pd.Timestamp(e))).data
        with open("/proc/self/status") as f:
            peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
        frame = int(df.memory_usage(index=True, deep=True).sum())
        print(json.dumps({"peak_growth": peak - before, "frame": frame, "rows": len(df)})); return


if __name__ == "__main__":
    main()
