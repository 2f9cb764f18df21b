"Charts: weekend cuts on the time axis (checked on the figure's own rangebreaks), titles, synthetic marks, the cached data source."
from __future__ import annotations
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from axia.charts import candlestick_figure, chart_data_source, rangebreaks, weekend_breaks, weekend_closures
from axia.core import InvalidSymbol, Timeframe, empty_ohlcv, is_market_open
from axia.sources.dummy import DummyOhlcvSource

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
NOW = pd.Timestamp("2024-11-15 12:00", tz="UTC")      # 60 days back crosses both 2024 DST changes (US 3 Nov, EU 27 Oct)
DUMMY = DummyOhlcvSource(clock=lambda: NOW)


def bars(tf="H1", days=60, symbol="USDJPY"):
    return DUMMY.fetch(symbol, tf, NOW - pd.Timedelta(days=days), NOW)


def hidden_intervals(fig) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    "What the figure's x axis hides, read back from its rangebreaks (naive UTC strings + dvalue ms)."
    out = []
    for rb in fig.layout.xaxis.rangebreaks or ():
        assert rb.bounds is None and rb.pattern is None, "only explicit values are expected"
        for v in rb.values:
            start = pd.Timestamp(v, tz="UTC")
            out.append((start, start + pd.Timedelta(milliseconds=rb.dvalue)))
    return sorted(out)


def overlap(a0, a1, b0, b1) -> pd.Timedelta: return max(pd.Timedelta(0), min(a1, b1) - max(a0, b0))


def visible_gaps(index, tf, hidden) -> list[tuple[pd.Timestamp, pd.Timedelta]]:
    "Time between one bar's end and the next bar's open that the axis still shows."
    d, gaps = Timeframe.parse(tf).duration, []
    for t0, t1 in zip(index[:-1], index[1:]):
        gap = t1 - (t0 + d)
        if gap > pd.Timedelta(0):
            shown = gap - sum((overlap(t0 + d, t1, h0, h1) for h0, h1 in hidden), pd.Timedelta(0))
            if shown > pd.Timedelta(0): gaps.append((t0, shown))
    return gaps


@pytest.mark.parametrize("tf", ["M15", "M30", "H1", "H4", "D1"])
def test_no_weekend_gap_remains_and_no_bar_is_hidden(tf):
    df = bars(tf)
    fig = candlestick_figure(df, symbol="USDJPY", timeframe=tf)
    hidden = hidden_intervals(fig)
    assert len(hidden) == 8                                       # every weekend in 60 days
    assert visible_gaps(df.index, tf, hidden) == []               # complete data: no hole is left on the axis
    for h0, h1 in hidden:
        assert not ((df.index >= h0) & (df.index < h1)).any()      # nothing drawn is cut
        assert not is_market_open(h0) and not is_market_open(h1 - pd.Timedelta("1s"))  # only closed time is cut


def test_daylight_saving_weekends_have_their_own_length():
    closes, opens = weekend_closures("2024-10-20", "2024-11-15")
    hours = list((opens - closes) / pd.Timedelta("1h"))
    assert hours == [48, 48, 49, 48]                              # New York fell back on Sunday 3 November
    rb = rangebreaks(weekend_breaks(bars("H1", 30).index, "H1"))
    assert sorted(r["dvalue"] for r in rb) == [48 * 3_600_000, 49 * 3_600_000]


def test_calendar_weekend_bounds_would_be_wrong():
    "Why the cuts are computed: a UTC axis cut on Saturday–Monday hides Sunday evening's trading."
    df = bars("H1", 14)
    sunday_evening = df.index[(df.index.day_of_week == 6)]
    assert len(sunday_evening) > 0                                # bars that bounds=['sat','mon'] would hide
    hidden = hidden_intervals(candlestick_figure(df, symbol="USDJPY", timeframe="H1"))
    assert all(not (h0 <= t < h1) for t in sunday_evening for h0, h1 in hidden)


def test_missing_bars_stay_visible():
    df = bars("H1", 14)
    friday = df.index[(df.index.day_of_week == 4) & (df.index.hour >= 18)]
    wednesday = df.index[(df.index.day_of_week == 2) & (df.index.hour == 12)][:1]
    gappy = df.drop(friday[-3:]).drop(wednesday)
    gaps = visible_gaps(gappy.index, "H1", hidden_intervals(candlestick_figure(gappy, symbol="X", timeframe="H1")))
    assert [g for _, g in gaps] == [pd.Timedelta("1h"), pd.Timedelta("3h")]   # the holes are data, not weekend


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["M30", "H1", "H4"]), st.lists(st.integers(0, 10_000), max_size=40), st.integers(3, 40))
def test_breaks_never_hide_a_bar_or_open_market(tf, drops, days):
    df = bars(tf, days)
    df = df.drop(df.index[[i % len(df) for i in drops]]) if len(df) else df
    for h0, h1 in hidden_intervals(candlestick_figure(df, symbol="X", timeframe=tf)):
        assert not ((df.index >= h0) & (df.index < h1)).any()
        probe = pd.date_range(h0, h1 - pd.Timedelta("1min"), freq="30min")
        assert not is_market_open(probe).any()


def test_weekly_and_monthly_bars_need_no_cuts():
    for tf in ("W1", "MN1"):
        assert candlestick_figure(bars(tf, 200), symbol="X", timeframe=tf).layout.xaxis.rangebreaks == ()


def test_figure_content_title_and_synthetic_mark():
    df = bars("H1", 10)
    fig = candlestick_figure(df, {"source": "s3+redis", "synthetic": True}, symbol="USDJPY", timeframe="H1")
    candles, volume = fig.data
    assert (candles.type, volume.type) == ("candlestick", "bar")
    np.testing.assert_array_equal(candles.close, df["close"].to_numpy())
    np.testing.assert_array_equal(volume.y, df["tick_volume"].to_numpy())
    assert pd.Timestamp(candles.x[0]) == df.index[0].tz_localize(None)          # naive UTC on the axis
    assert fig.layout.title.text == "USDJPY · H1 · from s3+redis · SYNTHETIC"
    assert any("SYNTHETIC" in a.text for a in fig.layout.annotations)
    assert fig.layout.xaxis.rangeslider.visible is False and fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]


def test_real_bars_are_not_marked_and_the_frame_flag_alone_marks():
    real = bars("H1", 3).copy()
    real.attrs = {}
    fig = candlestick_figure(real, {"source": "mt5", "synthetic": False}, symbol="EURUSD", timeframe="h1")
    assert fig.layout.title.text == "EURUSD · H1 · from mt5" and not fig.layout.annotations
    flagged = candlestick_figure(bars("H1", 3), {"source": "redis"}, symbol="EURUSD", timeframe="H1")
    assert flagged.layout.title.text.endswith("SYNTHETIC")


def test_empty_frame_still_makes_a_figure():
    fig = candlestick_figure(empty_ohlcv(), None, symbol="GBPUSD", timeframe="M5")
    assert len(fig.data[0].x) == 0 and [a.text for a in fig.layout.annotations] == ["No bars for this range"]


class CountingProvider:
    def __init__(self, tag=""): self.calls, self.tag = [], tag
    def get_data(self, symbol, timeframe, period_days=1, use_case="trading"):
        self.calls.append((symbol, timeframe, period_days, use_case))
        df = bars(timeframe, period_days, symbol)
        return df, {"source": f"counting{self.tag}", "synthetic": True, "rows": len(df), "steps": []}


def test_chart_data_source_caches_per_symbol_timeframe_and_period(request):
    scope = request.node.nodeid
    p = CountingProvider()
    a1, m1 = chart_data_source(p, "USDJPY", "H1", 7, scope)
    a2, _ = chart_data_source(p, "USDJPY", "H1", 7, scope)
    assert len(p.calls) == 1 and p.calls[0] == ("USDJPY", "H1", 7, "chart")
    pd.testing.assert_frame_equal(a1, a2)
    assert a2.attrs.get("synthetic") is True and "fetched_at" in m1
    for args in [("EURUSD", "H1", 7), ("USDJPY", "H4", 7), ("USDJPY", "H1", 14)]:
        df, _ = chart_data_source(p, *args, scope)
        assert not df.equals(a1)
    assert len(p.calls) == 4


def test_chart_data_source_does_not_hash_the_provider_and_scope_separates(request):
    scope = request.node.nodeid
    first, second = CountingProvider("1"), CountingProvider("2")
    _, m = chart_data_source(first, "GBPJPY", "H1", 3, scope)
    _, m2 = chart_data_source(second, "GBPJPY", "H1", 3, scope)           # same key: served from the cache
    assert second.calls == [] and m2["source"] == "counting1"
    _, m3 = chart_data_source(second, "GBPJPY", "H1", 3, scope + "/other")
    assert len(second.calls) == 1 and m3["source"] == "counting2"


def test_chart_data_source_validates_the_symbol_before_asking(request):
    p = CountingProvider()
    with pytest.raises(InvalidSymbol):
        chart_data_source(p, "../etc", "H1", 1, request.node.nodeid)
    assert p.calls == []
