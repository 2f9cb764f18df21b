"Charts: the app's chart spec (calendar axis, forming bar, overlays, compact columns), weekend cuts of the plotly figure, titles, synthetic marks, the cache that lives as long as the bar."
from __future__ import annotations
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from axia.charts import (candlestick_figure, chart_axis, chart_data_source, fresh_until, indicators, lightweight_spec,
                         rangebreaks, weekend_breaks)
from axia.core import InvalidSymbol, Timeframe, bar_open, empty_ohlcv, is_market_open, market_closures, mark_synthetic
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
    hours = [(b - a) / pd.Timedelta("1h") for a, b in market_closures("2024-10-20", "2024-11-15")]
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
    candles, volume = fig.data[:2]
    assert [t.name for t in fig.data[2:]] == ["SMA 20", "Bollinger 20", "Bollinger 20"]
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


# ---- the app's chart: lightweight_spec ------------------------------------------------------------------------

def decode(spec) -> pd.DataFrame:
    "What axia_chart.js rebuilds from a spec: times from differences, prices from integers."
    t = pd.to_datetime(np.cumsum(spec["time"]), unit="s", utc=True)
    k = 10.0 ** -spec["decimals"]
    return pd.DataFrame({c: np.asarray(spec[c]) * k for c in ("open", "high", "low", "close")} | {"tick_volume": spec["volume"]}, index=t)


@pytest.mark.parametrize("tf,days", [("M1", 31), ("M15", 60), ("H4", 60), ("D1", 60), ("W1", 200)])
def test_spec_carries_every_bar_exactly_and_no_closed_market_slot(tf, days):
    df = bars(tf, days)
    spec = lightweight_spec(df, {"source": "lake"}, symbol="USDJPY", timeframe=tf)
    back = decode(spec)
    assert (back.index == df.index).all()
    np.testing.assert_allclose(back[["open", "high", "low", "close"]], df[["open", "high", "low", "close"]], atol=0.0005)
    assert (back["tick_volume"].to_numpy() == df["tick_volume"].to_numpy()).all()
    assert spec["gaps"] == []                                        # the dummy source has every trading bar
    if tf not in ("D1", "W1"): assert is_market_open(chart_axis(df.index, tf)).all()


def test_thirty_days_of_m1_fit_in_a_small_spec():
    import json
    df = bars("M1", 31)
    text = json.dumps(lightweight_spec(df, {}, symbol="USDJPY", timeframe="M1"), separators=(",", ":"))
    assert len(df) > 29_000 and len(text) < 60 * len(df)             # ~1.3 MB for 30,000 bars with two overlays


@settings(max_examples=30, deadline=None)
@given(drops=st.lists(st.integers(0, 700), max_size=20, unique=True))
def test_holes_in_the_data_are_empty_slots_and_nothing_else(drops):
    df = bars("H1", 45)
    kept = df.drop(df.index[[i for i in drops if i < len(df)]])
    spec = lightweight_spec(kept, {}, symbol="EURUSD", timeframe="H1")
    gaps = pd.to_datetime(spec["gaps"], unit="s", utc=True)
    missing = df.index.difference(kept.index)
    inner = missing[(missing > kept.index[0]) & (missing < kept.index[-1])]
    assert list(gaps) == list(inner)


def test_forming_bar_only_while_it_forms():
    df = bars("H1", 5)
    last = df.index[-1]
    assert lightweight_spec(df, {}, symbol="X", timeframe="H1", now=last + pd.Timedelta("30min"))["forming"] is True
    assert lightweight_spec(df, {}, symbol="X", timeframe="H1", now=last + pd.Timedelta("90min"))["forming"] is False
    assert lightweight_spec(df, {}, symbol="X", timeframe="H1")["forming"] is False
    friday = pd.Timestamp("2024-11-15 21:30", tz="UTC")            # Friday 16:30 New York: the last H1 bar forms
    fri = DummyOhlcvSource(clock=lambda: friday).fetch("USDJPY", "H1", friday - pd.Timedelta(days=2), friday)
    assert fri.index[-1] == bar_open(friday, "H1")
    assert lightweight_spec(fri, {}, symbol="X", timeframe="H1", now=friday)["forming"] is True
    saturday = friday + pd.Timedelta(days=1)
    assert lightweight_spec(fri, {}, symbol="X", timeframe="H1", now=saturday)["forming"] is False


def test_overlays_and_atr_match_pandas():
    df = bars("H1", 20)
    spec = lightweight_spec(df, {}, symbol="EURUSD", timeframe="H1", overlays=("SMA 20", "EMA 50", "Bollinger 20", "ATR 14"))
    by_name = {l["name"]: l for l in spec["lines"]}
    sma = by_name["SMA 20"]
    expected = df["close"].rolling(20).mean().dropna().to_numpy()
    np.testing.assert_allclose(np.asarray(sma["values"]) * 1e-5, expected, atol=1e-5)
    assert sma["start"] == 19 and set(by_name) == {"SMA 20", "EMA 50", "Bollinger upper", "Bollinger lower"}
    prev = df["close"].shift().fillna(df["open"])                   # the first bar's range is its high - low
    tr = np.maximum(df["high"] - df["low"], np.maximum((df["high"] - prev).abs(), (df["low"] - prev).abs()))
    np.testing.assert_allclose(np.asarray(spec["atr"]["values"]) * 1e-6, tr.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean().dropna(), atol=1e-6)
    ind = indicators(df)
    assert (ind["bb_upper"].dropna() >= ind["bb_lower"].dropna()).all()


def test_spec_titles_and_synthetic_note():
    real = mark_synthetic(bars("H1", 3), False)
    s = lightweight_spec(real, {"source": "mt5"}, symbol="EURUSD", timeframe="h1")
    assert (s["title"], s["note"], s["decimals"]) == ("EURUSD · H1 · from mt5", "", 5)
    s = lightweight_spec(bars("H1", 3), {"source": "redis"}, symbol="USDJPY", timeframe="H1")
    assert s["title"].endswith("SYNTHETIC") and s["note"].startswith("SYNTHETIC DATA") and s["decimals"] == 3
    empty = lightweight_spec(empty_ohlcv(), None, symbol="GBPUSD", timeframe="M5")
    assert empty["time"] == [] and empty["gaps"] == []


# ---- the cache lives as long as the bar ------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(0, 60 * 24 * 400), tf=st.sampled_from(["M1", "M5", "H1", "H4", "D1"]))
def test_fresh_until_is_the_next_bar_and_never_more_than_a_bar_away_while_open(minutes, tf):
    now = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=minutes, seconds=17)
    until = fresh_until(tf, now)
    assert until > now
    if is_market_open(now) and is_market_open(until - pd.Timedelta("1s")):
        assert until - now <= Timeframe.parse(tf).duration             # M1: within a minute of each close
        assert bar_open(until, tf) == until                             # exactly at a bar boundary


def test_a_new_bar_means_a_new_answer(request):
    scope, p = request.node.nodeid, CountingProvider()
    t = pd.Timestamp("2024-11-13 12:00:10", tz="UTC")
    for dt in (0, 20, 40):                                             # three requests inside one M1 bar
        chart_data_source(p, "USDJPY", "M1", 1, scope, str(fresh_until("M1", t + pd.Timedelta(seconds=dt))), lambda: t)
    assert len(p.calls) == 1
    _, meta = chart_data_source(p, "USDJPY", "M1", 1, scope, str(fresh_until("M1", t + pd.Timedelta(seconds=55))), lambda: t)
    assert len(p.calls) == 2 and meta["valid_until"] == "2024-11-13 12:02:00+00:00"
    d1 = [str(fresh_until("D1", t + pd.Timedelta(hours=h))) for h in range(0, 9)]   # 12:00 → 20:00 UTC: one D1 bar
    assert len(set(d1)) == 1


def test_holidays_are_cut_too():
    "Christmas is closed by axia.core's calendar: the plotly axis hides it and the app's axis has no slot in it."
    xmas = pd.Timestamp("2024-12-27 12:00", tz="UTC")
    df = DummyOhlcvSource(clock=lambda: xmas).fetch("USDJPY", "H1", xmas - pd.Timedelta(days=6), xmas)
    hidden = hidden_intervals(candlestick_figure(df, symbol="USDJPY", timeframe="H1"))
    day = pd.Timestamp("2024-12-25 12:00", tz="UTC")
    assert any(a <= day < b for a, b in hidden)
    assert not ((chart_axis(df.index, "H1") >= day - pd.Timedelta(hours=6)) & (chart_axis(df.index, "H1") <= day)).any()
