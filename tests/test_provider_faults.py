"OhlcvDataProvider under faults: sources that raise, hang, answer empty, stale (weekday and weekend) or partial."
from __future__ import annotations
import time

import pandas as pd
import pytest

from axia.core import SourceUnavailable
from test_provider import FakeSource, FixedClock, T, bars, make

SAT, WED = "2026-11-07 12:00", "2026-11-04 10:00:30"


def trading(clock, mt5_mode, yf_mode="ok", **kw):
    return make(clock, tiers=("redis",), sources={"mt5": FakeSource("mt5", clock, mt5_mode, **kw),
                                                 "yfinance": FakeSource("yfinance", clock, yf_mode, price=151.0)})


@pytest.mark.parametrize("mode,outcome", [("raise", "error"), ("empty", "empty"), ("stale", "stale"), ("partial", "partial")])
def test_bad_first_source_falls_through(mode, outcome):
    clock = FixedClock(WED)
    p = trading(clock, mode)
    df, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert meta["source"] == "yfinance" and not meta["stale"] and not meta["partial"]
    assert [(s["step"], s["outcome"]) for s in meta["steps"]] == [("mt5", outcome), ("redis", "miss"), ("yfinance", "hit")]
    assert df.index[-1] == T("2026-11-04 10:00")


def test_hanging_source_is_bounded_by_timeout():
    clock = FixedClock(WED)
    p = make(clock, tiers=(), sources={"mt5": FakeSource("mt5", clock, "hang"), "yfinance": FakeSource("yfinance", clock)},
             source_timeout=0.3)
    t = time.perf_counter()
    df, meta = p.get_data("USDJPY", "M1", 3, "trading")
    took = time.perf_counter() - t
    assert meta["source"] == "yfinance"
    assert meta["steps"][0]["outcome"] == "timeout" and "0.3 s" in meta["steps"][0]["reason"]
    assert 0.25 < took < 5
    assert p.get_stats()["steps"]["mt5"]["errors"] == 1
    p.sources["mt5"].release.set(); p.close()


def test_saturday_friday_close_is_fresh():
    clock = FixedClock(SAT)                  # the market closed Friday 22:00 UTC
    p = trading(clock, "ok")
    df, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert meta["source"] == "mt5" and not meta["stale"]
    assert df.index[-1] == T("2026-11-06 21:59") and df.index[0] == T("2026-11-05 22:00")
    _, meta = p.get_data("USDJPY", "H1", 1, "trading")
    assert meta["source"] == "mt5" and meta["last_bar"] == T("2026-11-06 21:00")


def test_saturday_thursday_close_is_stale():
    clock = FixedClock(SAT)
    p = trading(clock, "stale", lag=pd.Timedelta(days=2, hours=14))     # ends Thursday evening
    _, meta = p.get_data("USDJPY", "M1", 3, "trading")
    assert [s["outcome"] for s in meta["steps"]] == ["stale", "hit"]
    _, meta = p.get_data("USDJPY", "M1", 1, "trading")                   # the last trading day holds nothing
    assert [s["outcome"] for s in meta["steps"]] == ["empty", "hit"] and meta["source"] == "redis"   # written back


def test_wednesday_stale_versus_quiet_minutes():
    clock = FixedClock(WED)
    quiet = trading(clock, "stale", lag=pd.Timedelta(minutes=3))         # 3 quiet minutes: still fresh
    assert quiet.get_data("USDJPY", "M1", 1, "trading")[1]["source"] == "mt5"
    late = trading(clock, "stale", lag=pd.Timedelta(minutes=8))          # 8 minutes behind: stale
    assert late.get_data("USDJPY", "M1", 1, "trading")[1]["steps"][0]["outcome"] == "stale"
    h1 = trading(clock, "stale", lag=pd.Timedelta(hours=1, minutes=1))   # H1: the previous bar is enough
    assert h1.get_data("USDJPY", "H1", 1, "trading")[1]["source"] == "mt5"


def test_monday_open_friday_bars_are_not_stale_for_two_bars():
    clock = FixedClock("2026-11-08 22:02")   # two minutes after Sunday's open
    p = trading(clock, "stale", lag=pd.Timedelta(minutes=4))             # no bar since the open yet
    _, meta = p.get_data("USDJPY", "M1", 3, "trading")
    assert meta["source"] == "mt5" and meta["last_bar"] == T("2026-11-06 21:59")
    p = trading(clock, "stale", lag=pd.Timedelta(hours=48, minutes=10))  # ends Friday 21:51: stale
    assert p.get_data("USDJPY", "M1", 3, "trading")[1]["steps"][0]["outcome"] == "stale"


def test_everything_fails_raises_with_every_reason():
    clock = FixedClock(WED)
    p = make(clock, tiers=("redis",), sources={"mt5": FakeSource("mt5", clock, "raise"),
                                              "yfinance": FakeSource("yfinance", clock, "empty")})
    with pytest.raises(SourceUnavailable) as e:
        p.get_data("USDJPY", "M1", 1, "trading")
    msg = str(e.value)
    assert "mt5: error (SourceUnavailable: mt5 terminal not connected)" in msg
    assert "redis: miss" in msg and "yfinance: empty" in msg
    assert p.get_stats()["failed"] == 1


def test_trading_never_gets_stale_data():
    clock = FixedClock(WED)
    p = trading(clock, "stale", "stale")
    with pytest.raises(SourceUnavailable, match="stale answers are not served for 'trading'"):
        p.get_data("USDJPY", "M1", 1, "trading")


def test_chart_gets_newest_stale_answer_flagged():
    clock = FixedClock(WED)
    p = make(clock, sources={"mt5": FakeSource("mt5", clock, "stale", lag=pd.Timedelta(hours=2)),
                             "yfinance": FakeSource("yfinance", clock, "stale", lag=pd.Timedelta(hours=1))})
    p.tiers["redis"].data[("USDJPY", "M1")] = bars(T("2026-11-03 10:00"), T("2026-11-04 06:00"))
    df, meta = p.get_data("USDJPY", "M1", 1, "chart")
    assert meta["stale"] and meta["source"] == "yfinance" and meta["last_bar"] < T("2026-11-04 09:01")
    assert p.get_stats()["stale_served"] == 1
    _, again = p.get_data("USDJPY", "M1", 1, "chart")         # stale answers are not kept in L1's window cache
    assert again["stale"] and again["steps"][0]["reason"] != "window cache"


def test_partial_answer_served_flagged_when_nothing_covers():
    clock = FixedClock(WED)
    p = trading(clock, "partial", "empty")
    df, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert meta["partial"] and not meta["stale"] and meta["source"] == "mt5"
    assert df.index[0] > T("2026-11-03 20:00") and df.index[-1] == T("2026-11-04 10:00")


def test_partial_cache_falls_through_to_complete_source():
    clock = FixedClock(WED)
    p = make(clock)
    p.tiers["redis"].data[("USDJPY", "M1")] = bars(T("2026-11-04 04:00"), T("2026-11-04 10:01"))
    _, meta = p.get_data("USDJPY", "M1", 1, "chart")
    assert [s["outcome"] for s in meta["steps"]] == ["miss", "partial", "hit"] and meta["source"] == "mt5"


def test_broken_frame_from_a_source_is_an_error():
    clock = FixedClock(WED)
    p = trading(clock, "ok")
    bad = bars(T("2026-11-03 10:00"), T("2026-11-04 10:01")); bad.iloc[5, 1] = 1.0   # high below open
    p.sources["mt5"].fetch = lambda *a: bad
    _, meta = p.get_data("USDJPY", "M1", 1, "trading")
    assert meta["steps"][0]["outcome"] == "error" and "InvalidBars" in meta["steps"][0]["reason"]
    assert meta["source"] == "yfinance"
