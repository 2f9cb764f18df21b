"RedisOhlcvDataRepository against a real redis-server: payload, retention, TTL, merge, atomicity, info."
from __future__ import annotations
import logging, multiprocessing, struct, threading
import numpy as np
import pandas as pd
import pytest
import redis
from hypothesis import given, settings, strategies as st
from pandas.testing import assert_frame_equal
from axia.core import (FX_CALENDAR, InvalidBars, InvalidSymbol, TierUnavailable, Timeframe, bar_grid, bar_open, fx_day_close,
                       is_market_open, mark_synthetic, next_bar_open, next_market_open)
from axia.ports import IOhlcvDataRepository, IRetention
from axia.tiers.redis import (PayloadError, RedisOhlcvDataRepository, _status, connect_redis, decode_bars, encode_bars)

NOW = pd.Timestamp("2026-03-04 12:00", tz="UTC")   # a Wednesday


def bars(timeframe="M1", hours=24, now=NOW, seed=0, synthetic=False) -> pd.DataFrame:
    tf = Timeframe.parse(timeframe)
    idx = bar_grid(now - pd.Timedelta(hours=hours), now, tf)
    n, rng = len(idx), np.random.default_rng(seed)
    close = 150 + rng.standard_normal(n).cumsum() * 0.01
    df = pd.DataFrame({"open": close + rng.uniform(-0.005, 0.005, n), "high": close + 0.01, "low": close - 0.01,
                       "close": close, "tick_volume": rng.integers(1, 10**9, n), "spread": rng.integers(0, 50, n),
                       "real_volume": rng.integers(0, 2**62, n)}, index=pd.DatetimeIndex(idx, name="time"))
    df["open"] = df["open"].clip(df["low"], df["high"])
    return mark_synthetic(df, synthetic)


@pytest.fixture
def repo(redis_url):
    return RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)


def ttls(r: redis.Redis) -> dict:
    return {k.decode(): r.pttl(k) for k in r.scan_iter("*")}


# --- payload -------------------------------------------------------------------------------------------
def test_round_trip_is_exact(repo):
    df = bars("M1")
    assert repo.set("USDJPY", "M1", df) == 1440
    got = repo.read("USDJPY", "M1")
    assert_frame_equal(got, df, check_exact=True)
    assert got.index.name == "time" and str(got.index.dtype) == "datetime64[ns, UTC]"
    assert list(got.dtypes.astype(str)) == ["float64"] * 4 + ["int64"] * 3
    assert got.attrs["synthetic"] is False
    got.iloc[0, 0] = 1.0                                           # a frame from the cache is the caller's to change
    assert repo.read("USDJPY", "M1").iloc[0, 0] == df.iloc[0, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-9, 1e9), st.integers(0, 2**63 - 1)), max_size=50), st.booleans())
def test_codec_round_trip_property(rows, synthetic):
    idx = pd.DatetimeIndex(pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(len(rows)), "min"),
                           name="time").as_unit("ns")
    p = np.array([r[0] for r in rows], dtype="float64"); v = np.array([r[1] for r in rows], dtype="int64")
    df = pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "tick_volume": v, "spread": v, "real_volume": v},
                      index=idx)
    got = decode_bars(encode_bars(mark_synthetic(df, synthetic)))
    assert_frame_equal(got, df, check_exact=True, check_index_type=True)
    assert got.attrs["synthetic"] is synthetic


def test_payload_is_columnar_binary_never_pickle(repo, redis_url):
    repo.set("USDJPY", "H1", bars("H1"))
    raw = redis.Redis.from_url(redis_url).get("ohlcv:USDJPY:H1")
    assert raw[:5] == b"AXB1\x01" and b"\x80\x04" not in raw[:2] and len(raw) == 16 + 24 * 64


def test_synthetic_flag_is_kept_and_merged(repo):
    repo.set("USDJPY", "M5", bars("M5", synthetic=True))
    assert repo.read("USDJPY", "M5").attrs["synthetic"] is True
    repo.set("EURUSD", "M5", bars("M5"))
    repo.update("EURUSD", "M5", bars("M5", hours=1, synthetic=True))
    assert repo.read("EURUSD", "M5").attrs["synthetic"] is True    # one synthetic bar taints the frame
    repo.set("EURUSD", "M5", bars("M5"))                            # a replace drops it
    assert repo.read("EURUSD", "M5").attrs["synthetic"] is False


@pytest.mark.parametrize("corrupt", [
    lambda p: b"PKL1" + p[4:],                              # another magic
    lambda p: p[:4] + bytes([99]) + p[5:],                  # another version
    lambda p: p[:-7],                                       # truncated
    lambda p: p[:8] + struct.pack("<Q", 10**6) + p[16:],    # row count that does not match
    lambda p: b"\x80\x04\x95",                              # a pickle
])
def test_corrupt_payload_is_a_logged_miss(repo, redis_url, caplog, corrupt):
    repo.set("USDJPY", "M1", bars("M1", hours=2))
    r = redis.Redis.from_url(redis_url)
    r.set("ohlcv:USDJPY:M1", corrupt(r.get("ohlcv:USDJPY:M1")), px=60_000)
    with caplog.at_level(logging.WARNING, "axia.tiers.redis"):
        got = repo.read("USDJPY", "M1")
        info = repo.get_info()
    assert got.empty and list(got.columns) == list(bars().columns)
    assert "ignoring ohlcv:USDJPY:M1" in caplog.text
    assert info["datasets"][0]["bars"] == 0
    assert repo.update("USDJPY", "M1", bars("M1", hours=1)) == 60  # a write replaces what cannot be read
    assert len(repo.read("USDJPY", "M1")) == 60
    with pytest.raises(PayloadError): decode_bars(corrupt(encode_bars(bars("M1", hours=1))))


# --- reading ----------------------------------------------------------------------------------------------
def test_read_bounds_and_get(repo):
    df = bars("M1")
    repo.set("USDJPY", "M1", df)
    start, end = NOW - pd.Timedelta("90min") + pd.Timedelta("10s"), NOW - pd.Timedelta("30min")
    assert_frame_equal(repo.read("USDJPY", "M1", start, end), df[(df.index >= start) & (df.index < end)])
    assert_frame_equal(repo.get("USDJPY", "M1", hours=2), df[df.index >= NOW - pd.Timedelta(hours=2)])
    assert repo.read("USDJPY", "M1", NOW + pd.Timedelta("1h")).empty
    assert repo.read("USDJPY", "H1").empty                         # a miss is an empty frame


def test_it_is_an_ohlcv_repository(repo):
    assert isinstance(repo, IOhlcvDataRepository) and repo.name == "redis"
    assert repo.key("EURUSD.pro", "mn1") == "ohlcv:EURUSD.pro:MN1"
    assert repo.write("USDJPY", "M15", bars("M15")) == 96
    assert len(repo.read("USDJPY", "M15")) == 96


# --- retention and TTL --------------------------------------------------------------------------------------
def test_retention_is_relative_to_now(repo):
    assert repo.set("USDJPY", "M1", bars("M1", hours=48)) == 1440     # only the last 24 h are kept
    held = repo.read("USDJPY", "M1")
    assert held.index[0] > NOW - pd.Timedelta("24h") - pd.Timedelta("1min") and held.index[-1] == bars().index[-1]
    old = bars("M1", hours=2, now=NOW - pd.Timedelta("30h"))
    assert repo.update("USDJPY", "M1", old) == 0 and len(repo.read("USDJPY", "M1")) == 1440
    for tf in ["D1", "W1", "MN1"]:                                  # the forming bar opened > 24 h ago: kept
        long = bars(tf, hours=24 * 400)
        assert repo.set("USDJPY", tf, long) >= 1
        assert repo.read("USDJPY", tf).index[-1] == long.index[-1]


def test_cleanup_trims_every_key(redis_url):
    now = [NOW]
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: now[0])
    repo.set("USDJPY", "M1", bars("M1"))
    repo.set("EURUSD", "M5", bars("M5"))
    repo.set("GBPUSD", "M1", bars("M1", hours=1, now=NOW - pd.Timedelta("23h")))
    now[0] = NOW + pd.Timedelta("2h")
    assert repo.cleanup() == 120 + 24 + 60
    r = redis.Redis.from_url(redis_url)
    assert sorted(ttls(r)) == ["ohlcv:EURUSD:M5", "ohlcv:USDJPY:M1"] and all(t > 0 for t in ttls(r).values())
    assert len(repo.read("USDJPY", "M1")) == 1320 and repo.cleanup() == 0


@pytest.mark.parametrize("policy", ["fixed", "ny_close"])
def test_every_key_written_has_a_ttl(redis_url, policy):
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: NOW, ttl_policy=policy, ttl_hours=25)
    for i, sym in enumerate(["USDJPY", "EURUSD", "GBPJPY"]):
        for tf in Timeframe:
            repo.set(sym, tf, bars(tf, seed=i))
            repo.update(sym, tf, bars(tf, hours=1, seed=i + 7))
    repo.cleanup()
    expected = 25 * 3600_000 if policy == "fixed" else (fx_day_close(NOW) - NOW) / pd.Timedelta("1ms")
    got = ttls(redis.Redis.from_url(redis_url))
    assert len(got) == 27
    assert all(expected - 10_000 < t <= expected for t in got.values()), got


# Instants where market time and wall time part: closures, reopenings, DST Sundays, holidays.
INSTANTS = {
    "wednesday": "2026-03-04 12:00", "saturday noon": "2026-11-14 12:00", "sunday 16:59 NY": "2026-11-15 21:59",
    "sunday 17:00:30 NY": "2026-11-15 22:00:30", "monday 00:30": "2026-11-16 00:30", "friday 16:59 NY": "2026-11-13 21:59",
    "friday 17:01 NY": "2026-11-13 22:01", "US DST sunday": "2026-03-08 20:00", "EU DST sunday": "2026-03-29 12:00",
    "dec 24 after the early close": "2026-12-24 19:00", "dec 25": "2026-12-25 12:00", "jan 1": "2027-01-01 12:00",
}


def _trading_hours(start, end) -> float:
    "Trading time in [start, end) in hours, from the calendar's closures (not from trading_offset)."
    return FX_CALENDAR.trading_time(start, end) / pd.Timedelta("1h")


@pytest.mark.parametrize("instant", INSTANTS.values(), ids=INSTANTS.keys())
def test_retention_is_the_last_24_trading_hours(redis_url, instant):
    now = pd.Timestamp(instant, tz="UTC")
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: now)
    assert isinstance(repo, IRetention)
    df = bars("M1", hours=24 * 8, now=now)
    repo.set("USDJPY", "M1", df)
    held = repo.read("USDJPY", "M1")
    start = repo.retention_start(now, "M1")
    assert held.index[0] == start and held.index[-1] == df.index[-1]
    assert_frame_equal(held, df[df.index >= start])
    assert _trading_hours(start, now) >= 24 > _trading_hours(start + pd.Timedelta("1min"), now)   # 24 trading hours, not a bar more
    assert len(held) == len(bar_grid(start, now, "M1"))                     # every trading minute of them
    for tf in ["H1", "D1"]:                                                 # the bar holding the window's start
        s = repo.retention_start(now, tf)
        assert s <= start < next_bar_open(s, tf) or s == bar_open(start, tf)


def _rolls_over(close) -> bool:
    "Whether the market trades on both sides of `close` (a day ends and the next starts)."
    return bool(is_market_open(close - pd.Timedelta("1s")) and is_market_open(close))


@pytest.mark.parametrize("instant", INSTANTS.values(), ids=INSTANTS.keys())
def test_ttls_reach_past_a_closure(redis_url, instant):
    now = pd.Timestamp(instant, tz="UTC")
    r = redis.Redis.from_url(redis_url)
    for policy in ["fixed", "ny_close"]:
        repo = RedisOhlcvDataRepository(redis_url, clock=lambda: now, ttl_policy=policy, ttl_hours=25)
        assert repo.set("USDJPY", "M1", bars("M1", hours=24 * 5, now=now)) > 0
        expires = (now + pd.Timedelta(milliseconds=r.pttl("ohlcv:USDJPY:M1"))).ceil("1s")   # PTTL counts down from the write
        if policy == "fixed":                                   # 25 trading hours, however long the closure
            assert abs(_trading_hours(now, expires) - 25) < 0.01 and expires - now >= pd.Timedelta("25h") - pd.Timedelta("2s")
        else:                                                   # the first 17:00 New York close between two trading days
            ny = expires.tz_convert("America/New_York")
            assert (ny.hour, ny.minute) == (17, 0) and _rolls_over(expires)
            earlier = [pd.Timestamp(f"{ny.date() - pd.Timedelta(days=d)} 17:00").tz_localize("America/New_York")
                       for d in range(1, 9)]
            assert not any(_rolls_over(c) for c in earlier if c > now)
        assert expires > next_market_open(now) + pd.Timedelta("1h")        # outlives any closure it was written in


def test_unknown_ttl_policy_is_refused(redis_url):
    with pytest.raises(ValueError, match="TTL policies"): RedisOhlcvDataRepository(redis_url, ttl_policy="forever")


# --- update ------------------------------------------------------------------------------------------------
def test_update_merges_and_the_new_bar_wins(repo):
    df = bars("M1", hours=2)
    repo.set("USDJPY", "M1", df.iloc[:100])
    forming = df.iloc[[99]].copy()
    forming["close"] = forming["high"] = forming["close"] + 0.5
    assert repo.update("USDJPY", "M1", pd.concat([forming, df.iloc[100:]])) == 21
    got = repo.read("USDJPY", "M1")
    assert len(got) == 120 and got.index.is_monotonic_increasing and got.index.is_unique
    assert got.iloc[99]["close"] == forming["close"].iloc[0]
    assert_frame_equal(got.drop(got.index[99]), df.drop(df.index[99]))


def test_invalid_bars_are_refused_before_writing(repo):
    bad = bars("M1", hours=1)
    bad.iloc[3, bad.columns.get_loc("high")] = 0.0
    with pytest.raises(InvalidBars): repo.update("USDJPY", "M1", bad)
    assert repo.read("USDJPY", "M1").empty


def test_a_write_between_read_and_exec_is_retried_not_lost(redis_url, monkeypatch):
    "Another writer changes the key while an update is merging: EXEC fails and the update is redone."
    import axia.tiers.redis as tier
    df, calls, merge = bars("M1", hours=1), [], tier._merge_columns
    r = redis.Redis.from_url(redis_url)
    def merging(old, new):
        calls.append(1)
        if len(calls) == 1:   # inside the first transaction, after the WATCHed read
            r.set("ohlcv:USDJPY:M1", encode_bars(df.iloc[:30]), px=60_000)
        return merge(old, new)
    monkeypatch.setattr(tier, "_merge_columns", merging)
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)
    assert repo.update("USDJPY", "M1", df.iloc[30:]) == 30
    assert_frame_equal(repo.read("USDJPY", "M1"), df)
    assert len(calls) == 2                                          # the merge ran twice
    assert repo.client.breaker.state == "closed"                    # contention is not a failure


def _updates(df: pd.DataFrame, worker: int, workers: int):
    "Worker `worker`'s share: every `workers`-th bar, one per update, plus a rewrite of the shared last bar."
    for i in range(worker, len(df) - 1, workers):
        yield df.iloc[[i]]
        last = df.iloc[[-1]].copy()
        last["tick_volume"] = worker
        yield last


def test_concurrent_updates_from_threads_lose_no_bar(repo):
    df, workers = bars("M1", hours=2), 8
    def work(w):
        for chunk in _updates(df, w, workers): repo.update("USDJPY", "M1", chunk)
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads: t.start()
    for t in threads: t.join()
    got = repo.read("USDJPY", "M1")
    assert_frame_equal(got.iloc[:-1], df.iloc[:-1])
    assert got["tick_volume"].iloc[-1] in range(workers)


def _process_worker(url, worker, workers):
    repo = RedisOhlcvDataRepository(url, clock=lambda: NOW)
    for chunk in _updates(bars("M1", hours=2), worker, workers): repo.update("USDJPY", "M1", chunk)


def test_concurrent_updates_from_processes_lose_no_bar(repo, redis_url):
    df, workers = bars("M1", hours=2), 4
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_worker, args=(redis_url, w, workers)) for w in range(workers)]
    for p in procs: p.start()
    for p in procs: p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    got = repo.read("USDJPY", "M1")
    assert_frame_equal(got.iloc[:-1], df.iloc[:-1])


# --- symbols and failures -----------------------------------------------------------------------------------
HOSTILE = ["EUR/USD", "ohlcv:*", "*", "USDJPY:M1", "a..b", "../etc", "USD JPY", "x\r\nFLUSHALL", "", None, "A" * 33]


@pytest.mark.parametrize("symbol", HOSTILE)
def test_hostile_symbols_are_rejected_before_any_command(redis_url, symbol, monkeypatch):
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)
    sent = []
    monkeypatch.setattr(repo.client, "run", lambda fn: sent.append(fn))
    for call in [lambda: repo.read(symbol, "M1"), lambda: repo.get(symbol, "M1", 24),
                 lambda: repo.set(symbol, "M1", bars("M1", hours=1)), lambda: repo.update(symbol, "M1", bars("M1", hours=1))]:
        with pytest.raises(InvalidSymbol): call()
    assert sent == []


def test_redis_down_is_tier_unavailable(fresh_redis_server):
    repo = RedisOhlcvDataRepository(connect_redis(fresh_redis_server.url, retries=0), clock=lambda: NOW)
    repo.set("USDJPY", "H1", bars("H1"))
    fresh_redis_server.kill()
    for call in [lambda: repo.read("USDJPY", "H1"), lambda: repo.update("USDJPY", "H1", bars("H1")),
                 lambda: repo.set("USDJPY", "H1", bars("H1")), repo.get_info, repo.cleanup]:
        with pytest.raises(TierUnavailable, match="Redis at redis://127.0.0.1"): call()


# --- info --------------------------------------------------------------------------------------------------
def test_get_info(repo, redis_url):
    repo.set("USDJPY", "M1", bars("M1"))
    repo.set("EURUSD", "H1", bars("H1", synthetic=True))
    info = repo.get_info()
    assert (info["keys"], info["bars"], info["status"], info["max_memory_mb"]) == (2, 1464, "OK", 256)
    assert 0 < info["keys_memory_bytes"] < info["used_memory_bytes"]
    usd = {d["key"]: d for d in info["datasets"]}["ohlcv:USDJPY:M1"]
    df = bars("M1")
    assert (usd["symbol"], usd["timeframe"], usd["bars"], usd["first"], usd["last"], usd["synthetic"]) == \
           ("USDJPY", "M1", 1440, df.index[0], df.index[-1], False)
    assert 24 * 3600 < usd["ttl_s"] <= 25 * 3600 and usd["memory_bytes"] > 1440 * 64
    tight = RedisOhlcvDataRepository(redis_url, max_memory_mb=1).get_info()
    assert tight["usage_pct"] >= 90 and tight["status"] == "CRITICAL"


def test_status_thresholds():
    assert [_status(p, 0) for p in (0, 69.9, 70, 89.9, 90, 150)] == ["OK", "OK", "WARNING", "WARNING", "CRITICAL", "CRITICAL"]
    assert _status(10, evicted=3) == "WARNING"
