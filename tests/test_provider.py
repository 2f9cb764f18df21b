"OhlcvDataProvider: every routing row and fallback edge, stitching, write-back, L1, single flight, stats, synthetic marking."
from __future__ import annotations
import threading, time

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from axia.core import (InvalidRange, InvalidSymbol, InvalidTimeframe, SourceUnavailable, TierUnavailable, as_ohlcv,
                       bar_grid, bar_open, empty_ohlcv, is_synthetic, trading_offset)
from axia.ports import IOhlcvDataRepository, IOhlcvSource
from axia.provider import DEFAULT_ROUTES, OhlcvDataProvider, UnknownUseCase, routes_with_sources, stitch
from axia.tiers.memory import MemoryOhlcvDataRepository

T = lambda s: pd.Timestamp(s, tz="UTC")
WED, SAT = "2026-11-04 10:00:30", "2026-11-07 12:00"


# ------------------------------------------------------------------ stand-ins
class FixedClock:
    def __init__(self, t): self.t = T(t)
    def __call__(self): return self.t
    def set(self, t): self.t = T(t)
    def advance(self, **kw): self.t += pd.Timedelta(**kw)


def bars(start, end, tf="M1", price=150.0) -> pd.DataFrame:
    idx = bar_grid(pd.Timestamp(start), pd.Timestamp(end), tf)
    p = price + np.sin(np.arange(len(idx)) / 50)
    return as_ohlcv(pd.DataFrame({"open": p, "high": p + 0.01, "low": p - 0.01, "close": p}, index=idx))


class FakeTier(IOhlcvDataRepository):
    "A tier holding bars in a dict; can be told to fail on read or on write."
    def __init__(self, name, fail_read=None, fail_write=None):
        self.name, self.data, self.fail_read, self.fail_write = name, {}, fail_read, fail_write
        if name == "redis":   # Redis keeps 24 trading hours and says so (`axia.ports.IRetention`)
            self.retention_start = lambda now, tf: bar_open(trading_offset(now, -pd.Timedelta(hours=24)), tf)
        self.reads, self.writes = 0, []

    def read(self, symbol, timeframe, start=None, end=None):
        self.reads += 1
        if self.fail_read: raise self.fail_read
        df = self.data.get((symbol, str(timeframe)), empty_ohlcv())
        out = df[(df.index >= start if start is not None else True) & (df.index < end if end is not None else True)]
        out.attrs = dict(df.attrs)
        return out

    def write(self, symbol, timeframe, df):
        if self.fail_write: raise self.fail_write
        self.writes.append((symbol, str(timeframe), df))
        self.data[(symbol, str(timeframe))] = stitch(self.data.get((symbol, str(timeframe))), df)
        return len(df)


class FakeSource(IOhlcvSource):
    """A source that answers the window up to its clock, or misbehaves: raise, hang, empty,
    stale (ends `lag` before now), partial (starts half way through the window)."""
    def __init__(self, name, clock, mode="ok", synthetic=False, lag=pd.Timedelta(hours=3), delay=0.0, price=150.0):
        self.name, self.clock, self.mode, self.synthetic, self.lag, self.delay, self.price = name, clock, mode, synthetic, lag, delay, price
        self.calls, self._lock, self.release = 0, threading.Lock(), threading.Event()

    def fetch(self, symbol, timeframe, start, end):
        with self._lock: self.calls += 1
        if self.delay: time.sleep(self.delay)
        if self.mode == "raise": raise SourceUnavailable(f"{self.name} terminal not connected")
        if self.mode == "hang": self.release.wait(30); return empty_ohlcv()
        if self.mode == "empty": return empty_ohlcv()
        df = bars(start, end, timeframe, self.price)
        df = df[df.index <= self.clock()]
        if self.mode == "stale": df = df[df.index < self.clock() - self.lag]
        if self.mode == "partial": df = df.iloc[len(df) // 2:]
        return df


def window_bars(tier_start="2026-11-03 10:00", end="2026-11-04 10:01", tf="M1", price=150.0):
    return bars(T(tier_start), T(end), tf, price)


def make(clock, tiers=("memory", "redis", "s3"), sources=None, routes=None, **kw):
    "A provider with real L1, fake redis/s3, and the given sources (name → FakeSource)."
    ts = {}
    for name in tiers:
        ts[name] = MemoryOhlcvDataRepository(clock=clock) if name == "memory" else FakeTier(name)
    srcs = sources if sources is not None else {"mt5": FakeSource("mt5", clock), "yfinance": FakeSource("yfinance", clock)}
    return OhlcvDataProvider(ts, srcs, routes, clock=clock, source_timeout=kw.pop("source_timeout", 2.0), **kw)


@pytest.fixture
def clock(): return FixedClock(WED)


# ------------------------------------------------------------------ validation
def test_invalid_requests_fail_before_any_io(clock):
    p = make(clock)
    for bad, exc in [(dict(symbol="EUR/USD"), InvalidSymbol), (dict(timeframe="M7"), InvalidTimeframe),
                     (dict(period_days=0), InvalidRange), (dict(period_days=-1), InvalidRange),
                     (dict(period_days=float("nan")), InvalidRange), (dict(period_days=True), InvalidRange),
                     (dict(period_days=10**6), InvalidRange), (dict(period_days="1"), InvalidRange),
                     (dict(use_case="backtest"), UnknownUseCase)]:
        args = dict(symbol="USDJPY", timeframe="M1", period_days=1, use_case="chart") | bad
        with pytest.raises(exc): p.get_data(**args)
    with pytest.raises(UnknownUseCase, match="known use cases are 'trading', 'chart', 'analysis'"):
        p.get_data("USDJPY", "M1", use_case="backtest")
    assert p.sources["mt5"].calls == 0 and p.tiers["redis"].reads == 0
    assert p.get_stats()["requests"] == 0


def test_step_names_must_not_clash(clock):
    with pytest.raises(ValueError, match="used twice"):
        OhlcvDataProvider({"redis": FakeTier("redis")}, {"redis": FakeSource("redis", clock)})


# ------------------------------------------------------------------ routing table
ROWS = [(uc, period, DEFAULT_ROUTES[uc][0 if period <= 1 else 1]) for uc in DEFAULT_ROUTES for period in (1, 3)]


@pytest.mark.parametrize("use_case,period,route", ROWS, ids=[f"{u}-{p}d" for u, p, _ in ROWS])
def test_route_order_when_nothing_answers(clock, use_case, period, route):
    "Every step of the row is tried, in order, and every reason is in the error."
    sources = {"mt5": FakeSource("mt5", clock, "empty"), "yfinance": FakeSource("yfinance", clock, "raise")}
    p = make(clock, sources=sources)
    with pytest.raises(SourceUnavailable) as e:
        p.get_data("USDJPY", "M1", period, use_case)
    assert [s["step"] for s in e.value.steps] == list(route)
    for step in route: assert f"{step}: " in str(e.value)
    if "yfinance" in route: assert "yfinance: error (SourceUnavailable: yfinance terminal not connected)" in str(e.value)
    if "mt5" in route: assert "mt5: empty" in str(e.value)


def fill(p, step, clock, period):
    "Make `step` able to answer the whole window."
    start = (clock() - pd.Timedelta(days=period)).floor("1min")
    full = bars(start, clock().floor("1min") + pd.Timedelta("1min"))
    if step == "s3+redis":
        p.tiers["s3"].data[("USDJPY", "M1")] = full[full.index < clock() - pd.Timedelta(hours=20)]
        p.tiers["redis"].data[("USDJPY", "M1")] = full[full.index >= clock() - pd.Timedelta(hours=24)]
    elif step in p.tiers: p.tiers[step].data[("USDJPY", "M1")] = full
    else: p.sources[step].mode = "ok"


EDGES = [(uc, period, route, k) for uc, period, route in ROWS for k in range(len(route)) if route[k] != "memory"]


@pytest.mark.parametrize("use_case,period,route,k", EDGES, ids=[f"{u}-{p}d-{r[k]}" for u, p, r, k in EDGES])
def test_every_fallback_edge(clock, use_case, period, route, k):
    "Steps before k fail (raise, or hold nothing); step k answers; later steps are not asked."
    sources = {"mt5": FakeSource("mt5", clock, "raise"), "yfinance": FakeSource("yfinance", clock, "empty")}
    p = make(clock, sources=sources)
    for name in route[:k]:
        if name in ("redis", "s3"): p.tiers[name].fail_read = TierUnavailable(f"{name} down")
    fill(p, route[k], clock, period)
    df, meta = p.get_data("USDJPY", "M1", period, use_case)
    assert meta["source"] == route[k] and meta["route"] == list(route)
    assert [s["step"] for s in meta["steps"]] == list(route[:k + 1])
    assert meta["steps"][-1]["outcome"] == "hit"
    assert all(s["outcome"] in ("miss", "empty", "error") for s in meta["steps"][:-1])
    assert meta["cache_hit"] == (route[k] in ("redis", "s3", "s3+redis"))
    assert not meta["stale"] and meta["rows"] == len(df) > 0 and meta["last_bar"] == T("2026-11-04 10:00")
    for later in route[k + 1:]:
        if later in p.sources: assert p.sources[later].calls == 0


def test_missing_steps_are_skipped_and_recorded(clock):
    p = make(clock, tiers=("redis",), sources={"yfinance": FakeSource("yfinance", clock)})
    df, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert [(s["step"], s["outcome"]) for s in meta["steps"]] == [("mt5", "skipped"), ("redis", "miss"), ("yfinance", "hit")]
    assert meta["steps"][0]["reason"] == "not configured"
    _, meta = p.get_data("USDJPY", "M1", 1, "chart")     # no memory tier: the chart route starts at redis
    assert meta["steps"][0] == {**meta["steps"][0], "step": "memory", "outcome": "skipped"}


def test_trading_never_uses_l1(clock):
    p = make(clock)
    for _ in range(3): _, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert p.sources["mt5"].calls == 3 and meta["source"] == "mt5"
    assert "memory" not in [s["step"] for s in meta["steps"]]


def test_custom_routes_and_dummy_only_when_configured(clock):
    dummy = FakeSource("dummy", clock, synthetic=True)
    p = make(clock, sources={"dummy": dummy}, routes=routes_with_sources(["dummy"]))
    with pytest.raises(SourceUnavailable, match="only when asked for by name"):   # nothing stored, not named
        p.get_data("USDJPY", "M1", 1, "trading")
    df, meta = p.get_data("USDJPY", "M1", 1, "trading", source="dummy")
    assert meta["source"] == "dummy" and meta["synthetic"] and is_synthetic(df)
    assert [s["step"] for s in meta["steps"]] == ["dummy"]
    live = make(clock)                                    # the default routes never name dummy
    assert all("dummy" not in r for pair in live.routes.values() for r in pair)


# ------------------------------------------------------------------ stitching
def test_long_chart_stitches_s3_and_redis_redis_wins(clock):
    p = make(clock, sources={})
    start = (clock() - pd.Timedelta(days=3)).floor("1min")
    cold = bars(start, T("2026-11-04 06:00"), price=150.0)                 # the lake ends at 06:00
    hot = bars(T("2026-11-03 10:01"), T("2026-11-04 10:01"), price=151.0)  # redis: the last 24 h
    p.tiers["s3"].data[("USDJPY", "M1")], p.tiers["redis"].data[("USDJPY", "M1")] = cold, hot
    df, meta = p.get_data("USDJPY", "M1", 3, "chart")
    assert meta["source"] == "s3+redis" and meta["cache_hit"] and not meta["stale"]
    assert df.index.is_unique and df.index.is_monotonic_increasing
    assert len(df) == len(cold[cold.index < hot.index[0]]) + len(hot)
    assert df.loc[T("2026-11-04 05:00"), "open"] == hot.loc[T("2026-11-04 05:00"), "open"]   # overlap: redis
    assert df.loc[T("2026-11-02 12:00"), "open"] == cold.loc[T("2026-11-02 12:00"), "open"]
    assert "overlap" in meta["steps"][1]["reason"]


def test_stitch_with_redis_down_serves_lake_then_falls_through_if_stale(clock):
    p = make(clock, sources={"yfinance": FakeSource("yfinance", clock)})
    p.tiers["redis"].fail_read = TierUnavailable("redis down")
    p.tiers["s3"].data[("USDJPY", "M1")] = bars(T("2026-11-01"), T("2026-11-04 06:00"))   # ends 4 h ago: stale
    df, meta = p.get_data("USDJPY", "M1", 3, "chart")
    assert [s["outcome"] for s in meta["steps"]] == ["miss", "stale", "hit"]
    assert "redis failed: TierUnavailable: redis down" in meta["steps"][1]["reason"]
    assert meta["source"] == "yfinance"


def test_stitched_answer_names_only_the_tiers_that_answered(clock):
    "Redis down, the lake complete: the bars are the lake's, and the answer says so (the step is still s3+redis)."
    p = make(clock, sources={})
    p.tiers["redis"].fail_read = TierUnavailable("redis down")
    p.tiers["s3"].data[("USDJPY", "M1")] = bars(T("2026-11-01"), clock().floor("1min") + pd.Timedelta("1min"))
    df, meta = p.get_data("USDJPY", "M1", 3, "chart")
    assert (meta["source"], meta["origin"], meta["steps"][1]["served_by"]) == ("s3", "s3+redis", "s3")
    assert not meta["partial"] and not meta["stale"]
    p.tiers["redis"].fail_read = None
    p.memory.clear()
    _, meta = p.get_data("USDJPY", "M1", 3, "chart")
    assert meta["source"] == "s3+redis" and "served_by" not in meta["steps"][1]


# ------------------------------------------------------------------ write-back
def test_live_answer_written_back_to_redis_and_l1(clock):
    p = make(clock)
    df, meta = p.get_data("USDJPY", "M1", 3, "trading")
    assert meta["source"] == "mt5"
    assert [(w["tier"], w["outcome"]) for w in meta["writeback"]] == [("redis", "ok"), ("memory", "ok")]
    (sym, tf, written), = p.tiers["redis"].writes
    assert (sym, tf) == ("USDJPY", "M1") and written.index[0] >= bar_open(T(WED) - pd.Timedelta(hours=24), "M1")   # only what Redis keeps
    assert written.index[-1] == df.index[-1]
    assert_frame_equal(p.tiers["memory"].read("USDJPY", "M1"), df)


def test_writeback_failure_is_recorded_not_raised(clock):
    p = make(clock)
    p.tiers["redis"].fail_write = TierUnavailable("redis down")
    df, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert meta["source"] == "mt5" and len(df) > 0
    assert meta["writeback"][0]["outcome"] == "error" and "redis down" in meta["writeback"][0]["reason"]
    assert p.get_stats()["steps"]["redis"]["writeback_errors"] == 1


def test_tier_answers_are_not_written_back_to_redis(clock):
    p = make(clock)
    p.tiers["redis"].data[("USDJPY", "M1")] = window_bars()
    _, meta = p.get_data("USDJPY", "M1", 1, "chart")
    assert meta["source"] == "redis" and meta["writeback"] == [] and p.tiers["redis"].writes == []


def test_synthetic_data_written_back_stays_synthetic(clock):
    p = make(clock, sources={"dummy": FakeSource("dummy", clock, synthetic=True)}, routes=routes_with_sources(["dummy"]))
    df, meta = p.get_data("USDJPY", "M1", 1, "trading", source="dummy")
    assert meta["synthetic"] and is_synthetic(df)
    assert is_synthetic(p.tiers["redis"].data[("USDJPY", "M1")])
    p.tiers["memory"].clear()
    _, meta = p.get_data("USDJPY", "M1", 1, "chart")       # now from redis: still marked
    assert meta["source"] == "redis" and meta["synthetic"] and meta["cache_hit"]
    _, meta = p.get_data("USDJPY", "M1", 1, "chart")       # and from L1
    assert meta["source"] == "memory" and meta["synthetic"]


# ------------------------------------------------------------------ L1 through the provider
def test_l1_serves_repeats_until_next_bar(clock):
    p = make(clock)
    df1, m1 = p.get_data("USDJPY", "M1", 1, "chart")
    df2, m2 = p.get_data("USDJPY", "M1", 1, "chart")
    assert (m1["source"], m2["source"]) == ("mt5", "memory") and m2["cache_hit"] and m2["origin"] == "mt5"
    assert_frame_equal(df1, df2)
    df2.iloc[0, 0] = -1.0                                 # the caller's copy is theirs
    assert p.get_data("USDJPY", "M1", 1, "chart")[0].iloc[0, 0] > 0
    clock.set("2026-11-04 10:00:59")
    assert p.get_data("USDJPY", "M1", 1, "chart")[1]["source"] == "memory"
    clock.set("2026-11-04 10:01:00")                      # a newer bar can exist: L1's window is over
    _, m = p.get_data("USDJPY", "M1", 1, "chart")
    assert m["source"] == "redis"                          # written back at 10:00; one bar behind is within tolerance
    assert m["last_bar"] == T("2026-11-04 10:00") and p.sources["mt5"].calls == 1
    clock.set("2026-11-04 10:06:00")                      # six bars behind: stale, MT5 is asked again
    _, m = p.get_data("USDJPY", "M1", 1, "chart")
    assert (m["source"], m["last_bar"], p.sources["mt5"].calls) == ("mt5", T("2026-11-04 10:06"), 2)
    assert [s["outcome"] for s in m["steps"]] == ["miss", "stale", "hit"]


def test_l1_bar_store_answers_other_use_cases(clock):
    p = make(clock)
    p.get_data("USDJPY", "M1", 1, "trading")              # MT5's answer goes into L1's bars
    _, m = p.get_data("USDJPY", "M1", 0.5, "analysis")
    assert m["source"] == "memory" and m["steps"][0]["reason"].endswith("bars")


# ------------------------------------------------------------------ single flight
def test_single_flight_50_threads_one_source_call(clock):
    slow = FakeSource("mt5", clock, delay=0.3)
    p = make(clock, tiers=("memory",), sources={"mt5": slow})
    barrier, out, errors = threading.Barrier(50), [None] * 50, []

    def ask(i):
        try: barrier.wait(); out[i] = p.get_data("USDJPY", "M1", 1, "trading")
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert errors == [] and slow.calls == 1
    first = out[0][0]
    for df, meta in out:
        assert_frame_equal(df, first) and meta["source"] == "mt5"
    assert sum(m["shared"] for _, m in out) == 49
    out[1][0].iloc[0, 0] = -1.0                          # frames are independent
    assert out[2][0].iloc[0, 0] > 0
    st = p.get_stats()
    assert (st["requests"], st["live_calls"], st["shared"], st["live_calls_saved"]) == (50, 1, 49, 49)


def test_single_flight_shares_failure(clock):
    down = FakeSource("mt5", clock, "raise", delay=0.2)
    p = make(clock, tiers=(), sources={"mt5": down})
    errors = []

    def ask():
        try: p.get_data("USDJPY", "M1", 1, "trading")
        except SourceUnavailable as e: errors.append(e)
    threads = [threading.Thread(target=ask) for _ in range(10)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(errors) == 10 and down.calls == 1


# ------------------------------------------------------------------ stats
def test_stats_count_hits_misses_errors_and_saved_calls(clock):
    sources = {"mt5": FakeSource("mt5", clock, "raise"), "yfinance": FakeSource("yfinance", clock)}
    p = make(clock, sources=sources)
    p.get_data("USDJPY", "M1", 1, "chart")               # memory miss, redis miss, mt5 error, yfinance hit
    for _ in range(4): p.get_data("USDJPY", "M1", 1, "chart")   # L1
    st = p.get_stats()
    assert (st["requests"], st["answered"], st["cache_hits"], st["live_calls"], st["live_calls_saved"]) == (5, 5, 4, 2, 4)
    assert st["cache_hit_ratio"] == pytest.approx(0.8)
    steps = st["steps"]
    assert (steps["memory"]["hits"], steps["memory"]["misses"]) == (4, 1)
    assert (steps["redis"]["misses"], steps["mt5"]["errors"], steps["yfinance"]["hits"]) == (1, 1, 1)
    for s in steps.values():
        assert s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
    assert st["memory"]["window_entries"] == 1
