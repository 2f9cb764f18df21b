"L1 memory tier: round trip and merge, expiry at the next bar (weekends included), the byte bound, windows, threads."
from __future__ import annotations
import threading

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from axia.core import InvalidBars, InvalidSymbol, as_ohlcv, bar_grid, is_synthetic, mark_synthetic
from axia.tiers.memory import MemoryOhlcvDataRepository, cheap_view, entry_expiry, frame_nbytes

T = lambda s: pd.Timestamp(s, tz="UTC")


class FixedClock:
    def __init__(self, t): self.t = T(t)
    def __call__(self): return self.t
    def set(self, t): self.t = T(t)


def bars(start, end, tf="M1", price=150.0) -> pd.DataFrame:
    idx = bar_grid(T(start), T(end), tf)
    p = price + np.sin(np.arange(len(idx)) / 50)
    return as_ohlcv(pd.DataFrame({"open": p, "high": p + 0.01, "low": p - 0.01, "close": p}, index=idx))


@pytest.fixture
def clock(): return FixedClock("2026-11-04 10:00:30")      # a Wednesday


@pytest.fixture
def mem(clock): return MemoryOhlcvDataRepository(max_bytes=8 * 2**20, clock=clock)


DAY = ("2026-11-03 10:00", "2026-11-04 10:01")


def test_round_trip_and_slicing(mem):
    df = bars(*DAY)
    assert mem.write("USDJPY", "M1", df) == len(df)
    assert_frame_equal(mem.read("USDJPY", "M1"), df)
    got = mem.read("USDJPY", "m1", start=T("2026-11-04 09:00"), end=T("2026-11-04 10:00"))
    assert (got.index[0], got.index[-1], len(got)) == (T("2026-11-04 09:00"), T("2026-11-04 09:59"), 60)
    assert len(mem.get("USDJPY", "M1", hours=1)) == 60
    assert mem.read("EURUSD", "M1").empty and mem.read("USDJPY", "M5").empty


def test_write_merges_new_bar_wins(mem):
    mem.write("USDJPY", "M1", bars(*DAY))
    newer = bars("2026-11-04 09:59", "2026-11-04 10:01", price=160.0)
    mem.write("USDJPY", "M1", newer)
    got = mem.read("USDJPY", "M1")
    assert len(got) == len(bars(*DAY)) and got.index.is_unique and got.index.is_monotonic_increasing
    assert got.loc[T("2026-11-04 10:00"), "open"] == newer.loc[T("2026-11-04 10:00"), "open"]
    assert got.loc[T("2026-11-04 09:58"), "open"] < 155


def test_validates_before_storing(mem):
    with pytest.raises(InvalidSymbol): mem.write("../etc", "M1", bars(*DAY))
    with pytest.raises(InvalidSymbol): mem.read("EUR/USD", "M1")
    bad = bars(*DAY); bad.iloc[3, 1] = 1.0   # high below open
    with pytest.raises(InvalidBars): mem.write("USDJPY", "M1", bad)
    assert len(mem) == 0


def test_synthetic_provenance(mem):
    syn = mark_synthetic(bars(*DAY))
    mem.write("USDJPY", "M1", syn)
    assert is_synthetic(mem.read("USDJPY", "M1"))
    mem.write("USDJPY", "M1", bars("2026-11-04 10:00", "2026-11-04 10:01"))   # one real bar on top: still mixed
    assert is_synthetic(mem.read("USDJPY", "M1"))
    mem.write("USDJPY", "M1", bars(*DAY))                                      # every bar replaced by real ones
    assert not is_synthetic(mem.read("USDJPY", "M1"))


def test_entry_expires_when_next_bar_can_open(mem, clock):
    mem.write("USDJPY", "M1", bars(*DAY))
    clock.set("2026-11-04 10:00:59.999")
    assert len(mem.read("USDJPY", "M1")) > 0
    clock.set("2026-11-04 10:01")
    assert mem.read("USDJPY", "M1").empty
    assert mem.get_info()["expired"] == 1


def test_h1_entry_lives_until_next_hour(mem, clock):
    clock.set("2026-11-04 10:20")
    mem.write("USDJPY", "H1", bars("2026-11-03 10:00", "2026-11-04 11:00", "H1"))
    clock.set("2026-11-04 10:59:59")
    assert len(mem.read("USDJPY", "H1")) == 25
    clock.set("2026-11-04 11:00")
    assert mem.read("USDJPY", "H1").empty


def test_friday_close_is_cached_over_the_weekend(mem, clock):
    clock.set("2026-11-06 21:59:30")     # Friday, last minute before the 17:00 New York close
    mem.write("USDJPY", "M1", bars("2026-11-05 22:00", "2026-11-06 22:00"))
    for t in ["2026-11-07 12:00", "2026-11-08 21:59:59"]:     # Saturday, Sunday before the open
        clock.set(t)
        assert mem.read("USDJPY", "M1").index[-1] == T("2026-11-06 21:59")
    clock.set("2026-11-08 22:00")        # Sunday 17:00 New York: a new bar can exist
    assert mem.read("USDJPY", "M1").empty


def test_entry_expiry_rule():
    assert entry_expiry(T("2026-11-04 09:57"), "M1", T("2026-11-04 10:00:30")) == T("2026-11-04 10:01")
    assert entry_expiry(None, "H4", T("2026-11-04 10:00")) == T("2026-11-04 14:00")   # H4 bars open 22, 02, 06, 10, 14 UTC in winter
    assert entry_expiry(T("2026-11-03 22:00"), "D1", T("2026-11-07 10:00")) == T("2026-11-08 22:00")


def test_bounded_by_bytes_evicts_least_recently_used(clock):
    one = frame_nbytes(bars(*DAY))
    mem = MemoryOhlcvDataRepository(max_bytes=3 * one + 10, clock=clock)
    for s in ["AAA", "BBB", "CCC"]: mem.write(s, "M1", bars(*DAY))
    mem.read("AAA", "M1")                      # AAA becomes the most recently used
    mem.write("DDD", "M1", bars(*DAY))
    held = {s: not mem.read(s, "M1").empty for s in ["AAA", "BBB", "CCC", "DDD"]}
    assert held == {"AAA": True, "BBB": False, "CCC": True, "DDD": True}
    info = mem.get_info()
    assert info["bytes"] <= info["max_bytes"] and info["evictions"] == 1


def test_entry_larger_than_budget_is_not_kept(clock):
    mem = MemoryOhlcvDataRepository(max_bytes=1000, clock=clock)
    mem.write("USDJPY", "M1", bars(*DAY))
    assert mem.read("USDJPY", "M1").empty and mem.get_info()["bytes"] == 0
    assert mem.put_window("k", bars(*DAY), T("2026-11-05")) is False


def test_windows_expire_and_hand_out_independent_views(mem, clock):
    df = bars(*DAY)
    assert mem.put_window(("USDJPY", "M1", 1.0, "chart"), df, T("2026-11-04 10:01"), {"source": "redis"})
    got, meta = mem.get_window(("USDJPY", "M1", 1.0, "chart"))
    assert meta == {"source": "redis"}
    got.iloc[0, 0] = -1.0; got["x"] = 1; got.index.name = "other"; meta["source"] = "changed"
    again, meta2 = mem.get_window(("USDJPY", "M1", 1.0, "chart"))
    assert_frame_equal(again, df) and meta2 == {"source": "redis"}
    df.iloc[1, 0] = -2.0                          # the caller's frame is not the cache's either
    assert mem.get_window(("USDJPY", "M1", 1.0, "chart"))[0].iloc[1, 0] > 0
    clock.set("2026-11-04 10:01")
    assert mem.get_window(("USDJPY", "M1", 1.0, "chart")) is None
    assert mem.put_window("late", df, T("2026-11-04 10:00")) is False     # already expired: not kept


def test_cheap_view_keeps_attrs_and_is_independent():
    df = mark_synthetic(bars(*DAY))
    v = cheap_view(df)
    assert is_synthetic(v) and v.index.equals(df.index)
    v.attrs["synthetic"] = False; v.loc[v.index[5], "close"] = 1e6
    assert is_synthetic(df) and df.close.iloc[5] < 1e3


def test_concurrent_writers_and_readers(mem):
    day = bars(*DAY)
    chunks = [day.iloc[i:i + 60] for i in range(0, len(day), 60)]
    errors = []

    def writer(part):
        try: mem.write("USDJPY", "M1", part); mem.read("USDJPY", "M1"); mem.get_window("w")
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=writer, args=(c,)) for c in chunks]
    for t in threads: t.start()
    for t in threads: t.join()
    assert errors == []
    assert_frame_equal(mem.read("USDJPY", "M1"), day)
