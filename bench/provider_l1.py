"""L1 hit through OhlcvDataProvider vs an L2 hit through it: the real Redis tier on an embedded server, and an
in-process stand-in that only decodes (a lower bound for any L2).

python bench/provider_l1.py   — prints median, baseline median, ratio, goal; exits 1 when a goal is missed.
"""
from __future__ import annotations
import statistics, sys, time

import numpy as np
import pandas as pd

from axia.core import OHLCV_COLUMNS, OHLCV_DTYPES, as_ohlcv, bar_grid, empty_ohlcv
from axia.ports import IOhlcvDataRepository
from axia.provider import OhlcvDataProvider
from axia.tiers.memory import MemoryOhlcvDataRepository

NOW = pd.Timestamp("2026-11-04 10:00:30", tz="UTC")
clock = lambda: NOW


def day_of_bars() -> pd.DataFrame:
    idx = bar_grid(NOW - pd.Timedelta(days=1), NOW, "M1")
    p = 150 + np.sin(np.arange(len(idx)) / 50)
    return as_ohlcv(pd.DataFrame({"open": p, "high": p + 0.01, "low": p - 0.01, "close": p}, index=idx))


class BytesTier(IOhlcvDataRepository):
    "An L2 stand-in: holds each frame as raw column bytes and decodes them on every read (np.frombuffer)."
    name = "redis"
    def __init__(self): self.blobs = {}
    def write(self, symbol, timeframe, df):
        cols = [df.index.asi8.tobytes()] + [df[c].to_numpy().tobytes() for c in OHLCV_COLUMNS]
        self.blobs[(symbol, str(timeframe))] = (len(df), cols); return len(df)
    def read(self, symbol, timeframe, start=None, end=None):
        if (symbol, str(timeframe)) not in self.blobs: return empty_ohlcv()
        n, cols = self.blobs[(symbol, str(timeframe))]
        idx = pd.DatetimeIndex(np.frombuffer(cols[0], "int64").view("datetime64[ns]"), name="time").tz_localize("UTC")
        df = pd.DataFrame({c: np.frombuffer(b, OHLCV_DTYPES[c]) for c, b in zip(OHLCV_COLUMNS, cols[1:])}, index=idx)
        return df[(df.index >= start) & (df.index < end)] if start is not None else df


def median_us(f, n=3000, repeat=5) -> float:
    f()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n): f()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def main():
    bars = day_of_bars()
    l1_tier, l2_tier = MemoryOhlcvDataRepository(clock=clock), BytesTier()
    l2_tier.write("USDJPY", "M1", bars)
    with_l1 = OhlcvDataProvider({"memory": l1_tier, "redis": BytesTier()}, {}, clock=clock)
    with_l1.tiers["redis"].write("USDJPY", "M1", bars)
    df, meta = with_l1.get_data("USDJPY", "M1", 1, "chart")
    assert meta["source"] == "redis" and len(df) >= 1440
    assert with_l1.get_data("USDJPY", "M1", 1, "chart")[1]["source"] == "memory"
    l2_only = OhlcvDataProvider({"redis": l2_tier}, {}, {"chart": (("redis",), ("redis",))}, clock=clock)
    assert l2_only.get_data("USDJPY", "M1", 1, "chart")[1]["source"] == "redis"

    l1 = median_us(lambda: with_l1.get_data("USDJPY", "M1", 1, "chart"))
    l2_read = median_us(lambda: l2_tier.read("USDJPY", "M1", NOW - pd.Timedelta(days=1), NOW), n=500)
    l2_provider = median_us(lambda: l2_only.get_data("USDJPY", "M1", 1, "chart"), n=100, repeat=3)
    ok = [l2_read / l1 >= 10 and l1 <= 20, l2_provider / l1 >= 10]
    print(f"L1 hit through the provider: median {l1:.1f} µs; baseline (L2-like decode of 1,440 M1 bars, bare read) "
          f"median {l2_read:.1f} µs; ratio {l2_read / l1:.1f}x; goal >= 10x and L1 <= 20 µs" + ("" if ok[0] else "  MISSED"))
    print(f"L1 hit through the provider: median {l1:.1f} µs; baseline (L2-like hit through the provider) "
          f"median {l2_provider:.1f} µs; ratio {l2_provider / l1:.1f}x; goal >= 10x" + ("" if ok[1] else "  MISSED"))
    with_l1.close(); l2_only.close()
    ok.append(real_redis_line(bars, l1))
    return 0 if all(ok) else 1


def real_redis_line(bars, l1_us: float):
    "The same comparison against the real RedisOhlcvDataRepository, on an embedded redis-server (unix socket)."
    import tempfile
    from axia.tiers.redis import EmbeddedRedis, RedisOhlcvDataRepository
    with tempfile.TemporaryDirectory() as d, EmbeddedRedis(d) as server:
        redis = RedisOhlcvDataRepository(server.url, clock=clock)
        redis.set("USDJPY", "M1", bars)
        provider = OhlcvDataProvider({"redis": redis}, {}, {"chart": (("redis",), ("redis",))}, clock=clock)
        assert provider.get_data("USDJPY", "M1", 1, "chart")[1]["source"] == "redis"
        l2 = median_us(lambda: provider.get_data("USDJPY", "M1", 1, "chart"), n=200, repeat=5)
        provider.close()
    ok = l2 / l1_us >= 10
    print(f"L1 hit through the provider: median {l1_us:.1f} µs; baseline (real Redis L2 hit through the provider) "
          f"median {l2:.1f} µs; ratio {l2 / l1_us:.1f}x; goal >= 10x" + ("" if ok else "  MISSED"))
    return ok


if __name__ == "__main__":
    sys.exit(main())
