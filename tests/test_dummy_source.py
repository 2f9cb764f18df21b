"The dummy source in market time: no bar after now, and a bar is forming only while its trading goes on."
from __future__ import annotations
import pandas as pd, pytest

from axia.core import bar_end, bar_open, fixed_clock, is_market_open, last_market_close
from axia.sources.dummy import DummyOhlcvSource

TFS = ["M1", "M5", "H1", "H4", "D1", "W1", "MN1"]
# Instants across the week and the calendar: mid-week, Friday just before/after the close, Saturday, Sunday before
# and after the open, the US and EU DST Sundays, Christmas Day, New Year's Day, a month-end Saturday.
INSTANTS = ["2026-11-11 15:37", "2026-11-13 21:59", "2026-11-13 22:00", "2026-11-14 09:00", "2026-11-15 21:30",
            "2026-11-15 22:05", "2026-03-08 21:30", "2026-03-29 12:00", "2026-12-25 12:00", "2027-01-01 10:00",
            "2026-10-31 09:00"]


def window(now: pd.Timestamp, tf: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    return now - pd.Timedelta(days={"W1": 30, "MN1": 70}.get(tf, 4)), now + pd.Timedelta(days=2)


@pytest.mark.parametrize("now", INSTANTS)
@pytest.mark.parametrize("tf", TFS)
def test_forming_only_while_the_bars_trading_goes_on(now, tf):
    now = pd.Timestamp(now, tz="UTC")
    src = DummyOhlcvSource(clock=fixed_clock(now))
    df = src.fetch("EURUSD", tf, *window(now, tf))
    assert len(df) and (df.index <= now).all()                             # nothing opens after now
    last, forming = df.index[-1], df.attrs["forming_bar"]
    assert (forming == last) if bar_end(last, tf) > now.floor("1min") else forming is None
    if not is_market_open(now) and tf != "MN1":                           # closed: the week's (or day's) bars are complete
        assert forming is None and last == bar_open(last_market_close(now) - pd.Timedelta("1min"), tf)


def test_saturday_collection_keeps_fridays_last_bars():
    src = DummyOhlcvSource(clock=fixed_clock("2026-11-14 09:00"))
    for tf in ["M1", "H1", "H4", "D1", "W1"]:
        df = src.fetch("USDJPY", tf, pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-11-15", tz="UTC"))
        assert df.attrs["forming_bar"] is None, tf
        assert df.index[-1] == bar_open(pd.Timestamp("2026-11-13 21:59", tz="UTC"), tf)
    mn1 = src.fetch("USDJPY", "MN1", pd.Timestamp("2026-10-01", tz="UTC"), pd.Timestamp("2026-11-15", tz="UTC"))
    assert mn1.attrs["forming_bar"] == mn1.index[-1]                       # November still has trading days
    done = DummyOhlcvSource(clock=fixed_clock("2026-10-31 09:00"))         # a Saturday after October's last trading day
    assert done.fetch("USDJPY", "MN1", pd.Timestamp("2026-09-01", tz="UTC"), pd.Timestamp("2026-11-01", tz="UTC")).attrs["forming_bar"] is None


def test_sunday_before_the_open_is_empty():
    src = DummyOhlcvSource(clock=fixed_clock("2026-11-15 21:30"))           # 16:30 New York
    for tf in ["M1", "M5", "H1", "H4", "D1"]:
        assert src.fetch("USDJPY", tf, pd.Timestamp("2026-11-15 12:00", tz="UTC"), pd.Timestamp("2026-11-16", tz="UTC")).empty
