"""A replayed chart/analysis workload through OhlcvDataProvider with caches (L1 memory + a Redis stand-in + a lake
stand-in) vs without caches (the live source only): cache hit ratio and live-source calls saved.

python bench/workload_hit_ratio.py   — prints the figures, the baseline, the ratio and the goal; exits 1 when a goal is missed.
"""
from __future__ import annotations
import functools, random, sys, threading

import pandas as pd

from axia.core import OHLCV_DTYPES, bar_grid, empty_ohlcv
from axia.ports import IOhlcvDataRepository, IOhlcvSource
from axia.provider import OhlcvDataProvider, routes_with_sources, stitch
from axia.tiers.memory import MemoryOhlcvDataRepository

PAIRS = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"]
REQUESTS = [  # (use_case, timeframe, period_days, weight): what chart and analysis users ask for
    ("chart", "M1", 1, 6), ("chart", "M5", 1, 8), ("chart", "M15", 2, 5), ("chart", "H1", 7, 6), ("chart", "H4", 30, 3),
    ("chart", "D1", 90, 2), ("analysis", "H1", 30, 3), ("analysis", "D1", 365, 2), ("analysis", "M15", 1, 2),
]
START = pd.Timestamp("2026-11-04 08:00", tz="UTC")   # a Wednesday
USERS, STEP, STEPS = 30, pd.Timedelta(seconds=20), 3 * 60 * 2   # 30 users, a request each every 20 s, for 2 hours


class Clock:
    def __init__(self, t): self.t = t
    def __call__(self): return self.t


_grid = functools.lru_cache(maxsize=4096)(bar_grid)   # the same windows recur across pairs: keep the bench fast


class CountingSource(IOhlcvSource):
    "A live source stand-in: cheap deterministic bars up to the clock; counts calls."
    name = "live"
    def __init__(self, clock): self.clock, self.calls, self._lock = clock, 0, threading.Lock()
    def fetch(self, symbol, timeframe, start, end):
        with self._lock: self.calls += 1
        idx = _grid(start, min(end, self.clock() + pd.Timedelta("1ns")), str(timeframe))
        p = 100 + (idx.asi8 // 60_000_000_000 % 1000) / 1000
        return pd.DataFrame({"open": p, "high": p + 0.01, "low": p - 0.01, "close": p, "tick_volume": 1,
                             "spread": 1, "real_volume": 0}, index=idx).astype(OHLCV_DTYPES)


class DictTier(IOhlcvDataRepository):
    "Redis / lake stand-in: bars in a dict, merged on write."
    def __init__(self, name): self.name, self.data = name, {}
    def read(self, symbol, timeframe, start=None, end=None):
        df = self.data.get((symbol, str(timeframe)))
        if df is None: return empty_ohlcv()
        i, j = df.index.searchsorted(start), df.index.searchsorted(end)
        return df.iloc[i:j]
    def write(self, symbol, timeframe, df):
        self.data[(symbol, str(timeframe))] = stitch(self.data.get((symbol, str(timeframe))), df); return len(df)


def workload(seed=7):
    rnd = random.Random(seed)
    weights = [w for *_, w in REQUESTS]
    for step in range(STEPS):
        for _ in range(USERS):
            uc, tf, period, _ = rnd.choices(REQUESTS, weights)[0]
            yield step, rnd.choice(PAIRS), tf, period, uc


def replay(provider, clock) -> int:
    n = 0
    for step, symbol, tf, period, uc in workload():
        clock.t = START + step * STEP
        provider.get_data(symbol, tf, period, uc)
        n += 1
    return n


def main():
    clock = Clock(START)
    # the nightly job filled the lake up to last night's close
    lake = DictTier("s3")
    nightly = CountingSource(Clock(pd.Timestamp("2026-11-03 22:00", tz="UTC")))
    for symbol in PAIRS:
        for _, tf, period, _ in REQUESTS:
            lake.write(symbol, tf, nightly.fetch(symbol, tf, START - pd.Timedelta(days=period + 2), START))

    src = CountingSource(clock)
    cached = OhlcvDataProvider({"memory": MemoryOhlcvDataRepository(clock=clock), "redis": DictTier("redis"), "s3": lake},
                               {"live": src}, routes_with_sources(["live"]), clock=clock)   # live: MT5 and yfinance in one
    n = replay(cached, clock)
    st = cached.get_stats()

    base_src, clock.t = CountingSource(clock), START
    uncached = OhlcvDataProvider({}, {"live": base_src}, {uc: (("live",), ("live",)) for uc in ("chart", "analysis")}, clock=clock)
    replay(uncached, clock)

    fewer = 1 - src.calls / base_src.calls
    print(f"workload: {n} requests, {len(PAIRS)} pairs x {len(REQUESTS)} request kinds, {USERS} users, "
          f"{STEPS * STEP} of simulated time")
    ok = st["cache_hit_ratio"] >= 0.95, fewer >= 0.90
    print(f"cache hit ratio: {st['cache_hit_ratio']:.1%}; baseline (no caches) 0.0%; goal >= 95%" + ("" if ok[0] else "  MISSED"))
    print(f"live-source calls: {src.calls}; baseline (no caches) {base_src.calls}; ratio {base_src.calls / max(src.calls, 1):.0f}x "
          f"({fewer:.1%} fewer); goal >= 90% fewer" + ("" if ok[1] else "  MISSED"))
    print("per step:", {k: (v["hits"], v["misses"], v["errors"]) for k, v in st["steps"].items()}, "(hits, misses, errors)")
    cached.close(); uncached.close()
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
