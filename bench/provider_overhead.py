"""What the provider costs on top of the tier reads it needs, on the routes users run (the memory step in front):

- an L1 miss answered by the real Redis tier (embedded redis-server, unix socket), 1 day of M1, vs the bare reads the
  route needs: L1's `read` (a miss) and `redis.read`;
- an L1 miss answered by the lake stitched with Redis, 30 days of H1, vs L1's `read` (a miss), the bare lake read and
  the Redis read;
Both pairs are timed in alternating batches, so load on the machine falls on the answer and its baseline alike.
- an L1 hit, in µs;
- `validate_ohlcv` on a one-bar frame.

python bench/provider_overhead.py   — one line per figure: median, baseline median, ratio, goal; exit 1 on a missed goal.
"""
from __future__ import annotations
import statistics, sys, tempfile, time

import numpy as np
import pandas as pd

from axia.core import bar_grid, fixed_clock, validate_ohlcv
from axia.ingest import as_ohlcv
from axia.provider import OhlcvDataProvider
from axia.tiers.memory import MemoryOhlcvDataRepository
from axia.tiers.redis import EmbeddedRedis, RedisOhlcvDataRepository
from axia.tiers.s3 import S3OhlcvDataRepository

NOW = pd.Timestamp("2026-11-04 10:00:30", tz="UTC")
clock = fixed_clock(NOW)
missed = []


def bars(start, end, tf) -> pd.DataFrame:
    idx = bar_grid(start, end, tf)
    p = 150 + np.sin(np.arange(len(idx)) / 50)
    return as_ohlcv(pd.DataFrame({"open": p, "high": p + 0.01, "low": p - 0.01, "close": p}, index=idx))


def median(f, n, repeat=7) -> float:
    "Median seconds per call of `f`."
    f()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n): f()
        runs.append((time.perf_counter() - t) / n)
    return statistics.median(runs)


def paired(f, base, n, repeat=9) -> tuple[float, float]:
    "Median seconds per call of `f` and of `base`, timed in alternating batches so load on the machine hits both alike."
    f(); base()
    fs, bs = [], []
    for _ in range(repeat):
        for g, out in ((f, fs), (base, bs)):
            t = time.perf_counter()
            for _ in range(n): g()
            out.append((time.perf_counter() - t) / n)
    return statistics.median(fs), statistics.median(bs)


def line(what, value, base, goal_ratio=None, goal_abs=None, unit="ms"):
    scale = 1e3 if unit == "ms" else 1e6
    ratio = value / base if base else float("nan")
    ok = (goal_ratio is None or ratio <= goal_ratio) and (goal_abs is None or value <= goal_abs)
    goal = " and ".join(filter(None, [f"ratio <= {goal_ratio}" if goal_ratio else "",
                                      f"<= {goal_abs * scale:g} {unit}" if goal_abs else ""]))
    print(f"{what}: median {value * scale:.3f} {unit}; baseline median {base * scale:.3f} {unit}; ratio {ratio:.2f}; "
          f"goal {goal}{'' if ok else '  MISSED'}", flush=True)
    if not ok: missed.append(what)


def main():
    with tempfile.TemporaryDirectory() as d, EmbeddedRedis(d) as server:
        redis = RedisOhlcvDataRepository(server.url, clock=clock)
        lake = S3OhlcvDataRepository(f"{d}/lake", clock=clock)
        mem = MemoryOhlcvDataRepository(clock=clock)
        m1 = bars(NOW - pd.Timedelta(days=1), NOW, "M1")
        h1 = bars(NOW - pd.Timedelta(days=31), NOW, "H1")
        redis.set("USDJPY", "M1", m1); redis.set("USDJPY", "H1", h1)
        lake.write("USDJPY", "H1", h1[h1.index < NOW - pd.Timedelta(hours=20)])
        p = OhlcvDataProvider({"memory": mem, "redis": redis, "s3": lake}, {}, clock=clock)

        def miss(tf, days):
            mem.clear()
            return p.get_data("USDJPY", tf, days, "chart")
        _, meta = miss("M1", 1); assert meta["source"] == "redis" and not meta["partial"], meta["steps"]
        _, meta = miss("H1", 30); assert meta["source"] == "s3+redis" and not meta["partial"], meta["steps"]
        w1 = p._window("M1", 1.0, NOW, None, None); w30 = p._window("H1", 30.0, NOW, None, None)

        def l1_miss(tf, w):   # the route's first read: L1 holds nothing for the request
            mem.clear()
            return mem.read("USDJPY", tf, w.start, w.end)
        answer, redis_read = paired(lambda: miss("M1", 1),
                                    lambda: (l1_miss("M1", w1), redis.read("USDJPY", "M1", w1.start, w1.end)), 300)
        line("provider answer from Redis, 1 d M1 (L1 miss)", answer, redis_read, 1.5)
        answer, both = paired(lambda: miss("H1", 30), lambda: (l1_miss("H1", w30), lake.read("USDJPY", "H1", w30.start, w30.end),
                                                              redis.read("USDJPY", "H1", w30.start, w30.end)), 100)
        line("provider answer from the lake + Redis, 30 d H1 (L1 miss)", answer, both, 1.5)

        p.get_data("USDJPY", "M1", 1, "chart")
        hit = median(lambda: p.get_data("USDJPY", "M1", 1, "chart"), 20000)
        line("L1 hit through the provider", hit, redis_read, None, 20e-6, unit="µs")
        one = m1.iloc[-1:].copy()
        line("validate_ohlcv, a 1-bar frame", median(lambda: validate_ohlcv(one), 20000), redis_read, None, 0.1e-3)
        p.close()
    if missed:
        print(f"missed: {', '.join(missed)}"); sys.exit(1)


if __name__ == "__main__":
    main()
