"""Properties of ingest (hypothesis) and the market calendar on real bars: any resolution round-trips, no bar lands in
a closure, exports round-trip, DST weeks and the Christmas–New Year fortnight; W1/D1 resampled from a GMT feed close
on Friday's price."""
from __future__ import annotations
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo
import numpy as np, pandas as pd, pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pandas.testing import assert_frame_equal

from axia.core import OHLCV_COLUMNS, Timeframe, as_utc, bar_grid, bar_open, resample_ohlcv
from axia.ingest import as_ohlcv, export_series, import_file, ingest, server_clock
from axia.tiers.s3 import S3OhlcvDataRepository
from ingest_support import ANYTRADING_EURUSD, BACKTESTING_EURUSD

NY = ZoneInfo("America/New_York")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLOCKS = ["UTC", "America/New_York+7", "Europe/Athens", "Europe/London", "America/New_York", "UTC+2", "UTC-5", "Asia/Tokyo"]


def closed_oracle(t: pd.Timestamp) -> bool:
    "Independent of axia: is the FX market closed at UTC instant `t` (weekly closure, 25 Dec, 1 Jan, early closes)?"
    ny = t.to_pydatetime().astimezone(NY)
    wd, h, md = ny.weekday(), ny.hour, (ny.month, ny.day)
    if wd == 4 and h >= 17 or wd == 5 or wd == 6 and h < 17: return True
    if md in ((12, 24), (12, 31)) and h >= 13: return True
    if md in ((12, 25), (1, 1)) and h < 17: return True
    return False


@st.composite
def real_looking_bars(draw, tf="H1", max_bars=40, years=(2000, 2035)):
    "Valid bars on the `tf` grid while the market trades (times drawn anywhere in `years`)."
    year = draw(st.integers(*years))
    start = pd.Timestamp(year, 1, 1, tz="UTC") + pd.Timedelta(days=draw(st.integers(0, 360)))
    grid = bar_grid(start, start + pd.Timedelta(days=10), tf)
    picks = sorted(draw(st.sets(st.integers(0, len(grid) - 1), min_size=1, max_size=min(max_bars, len(grid)))))
    n = len(picks)
    price = st.floats(0.5, 300, allow_nan=False, allow_infinity=False)
    o, c = np.array(draw(st.lists(price, min_size=n, max_size=n))), np.array(draw(st.lists(price, min_size=n, max_size=n)))
    up = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    vol = np.array(draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n)), dtype="int64")
    df = pd.DataFrame({"open": o, "high": np.maximum(o, c) + up, "low": np.minimum(o, c) * (1 - up / 10), "close": c,
                       "tick_volume": vol, "spread": vol % 50, "real_volume": vol // 7}, index=grid[picks])
    return df.astype({c: "int64" for c in ("tick_volume", "spread", "real_volume")})


# --- any valid frame in any datetime resolution round-trips ------------------------------------------------

@SETTINGS
@given(bars=real_looking_bars(), unit=st.sampled_from(["s", "ms", "us", "ns"]),
       form=st.sampled_from(["naive", "aware-utc", "aware-zone", "clock", "text", "epoch", "capitalised"]),
       tz=st.sampled_from(CLOCKS))
def test_any_valid_frame_in_any_resolution_round_trips(bars, unit, form, tz):
    idx, kw, df = bars.index.as_unit(unit), {}, bars
    if form == "naive": df = bars.set_axis(idx.tz_localize(None))
    elif form == "aware-utc": df = bars.set_axis(idx)
    elif form == "aware-zone": df = bars.set_axis(idx.tz_convert(server_clock(tz).zone))
    elif form == "clock": df, kw = bars.set_axis(pd.DatetimeIndex(server_clock(tz).from_utc(idx)).as_unit(unit)), dict(tz=tz)
    elif form == "text": df = bars.reset_index(names="Time").assign(Time=lambda d: d.Time.astype(str))
    elif form == "epoch":
        df, kw = bars.reset_index(names="time"), dict(epoch_unit=unit)
        df["time"] = idx.asi8                         # integers in `unit` since the epoch
    elif form == "capitalised": df = bars.set_axis(idx).rename(columns=str.upper)
    out, report = ingest(df, "H1", **kw)
    assert report.dropped.empty and report.volumes_rounded == {}
    assert_frame_equal(out, bars.set_axis(bars.index.rename("time")), check_freq=False)


# --- no bar ever lands in a closure ------------------------------------------------------------------------

@SETTINGS
@given(ns=st.lists(st.integers(pd.Timestamp("1999-01-01").value, pd.Timestamp("2036-01-01").value), min_size=1, max_size=200),
       tf=st.sampled_from(["M15", "H1", "H4", "D1", "W1", "MN1"]), snap=st.booleans())
def test_no_bar_ever_lands_in_a_closure(ns, tf, snap):
    t = pd.DatetimeIndex(np.array(ns, dtype="datetime64[ns]")).tz_localize("UTC")
    t = bar_open(t, tf) if snap else t.floor("15min")
    df = pd.DataFrame({"open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0}, index=t)
    out, report = ingest(df, tf)
    assert len(out) + len(report.dropped) == len(df)
    if len(out):
        assert out.index.isin(bar_grid(out.index[0], out.index[-1] + pd.Timedelta(1, "ns"), tf)).all()
        if Timeframe.parse(tf).is_intraday: assert not any(closed_oracle(x) for x in out.index)


@SETTINGS
@given(bars=real_looking_bars("M15", max_bars=300, years=(2000, 2035)), tf=st.sampled_from(["H1", "H4", "D1", "W1"]))
def test_resampled_bars_are_never_labelled_in_a_closure(bars, tf):
    out = resample_ohlcv(ingest(bars, "M15")[0], tf)
    assert out.index.isin(bar_grid(out.index[0], out.index[-1] + pd.Timedelta(1, "ns"), tf)).all()
    if tf in ("H1", "H4", "D1"): assert not any(closed_oracle(x) for x in out.index)


# --- every import format round-trips through export (random valid bars) -----------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=real_looking_bars(), fmt=st.sampled_from(["parquet", "csv", "mt5"]), tz=st.sampled_from(CLOCKS))
def test_exports_round_trip_through_import(bars, fmt, tz):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"bars.{fmt}"
        export_series(bars, path, fmt, symbol="EURUSD", timeframe="H1", tz=tz if fmt == "mt5" else "UTC")
        lake = S3OhlcvDataRepository(Path(d) / "lake")
        report = import_file(path, "EURUSD", "H1", lake, progress=False)
        assert report.stored == len(bars) and report.ingest.dropped.empty
        assert_frame_equal(lake.read("EURUSD", "H1"), bars.set_axis(bars.index.rename("time")), check_freq=False)


# --- DST weeks --------------------------------------------------------------------------------------------

def _dst_sundays(year: int) -> dict[str, pd.Timestamp]:
    "The Sundays clocks change: US (2nd Sun of March, 1st Sun of Nov) and EU (last Sun of March and October)."
    def nth_sunday(m, n): d = datetime(year, m, 1); d += timedelta(days=(6 - d.weekday()) % 7); return d + timedelta(weeks=n - 1)
    def last_sunday(m): d = datetime(year, m + 1, 1) - timedelta(days=1); return d - timedelta(days=(d.weekday() + 1) % 7)
    return {k: pd.Timestamp(v, tz="UTC") for k, v in
            {"us_spring": nth_sunday(3, 2), "us_autumn": nth_sunday(11, 1), "eu_spring": last_sunday(3), "eu_autumn": last_sunday(10)}.items()}


@pytest.fixture(scope="module")
def duka() -> pd.DataFrame:
    "gym-anytrading 2.0.0's EURUSD H1 bars of 2017 (Dukascopy, UTC), ingested."
    return ingest(pd.read_csv(ANYTRADING_EURUSD), "H1", time_format="%d.%m.%Y %H:%M:%S.%f")[0]


@pytest.mark.parametrize("week", ["us_spring", "eu_spring", "eu_autumn", "us_autumn"])
@pytest.mark.parametrize("tz", ["America/New_York+7", "Europe/Athens", "UTC+2", "UTC-5", "America/New_York", "Europe/London"])
def test_real_dst_weeks_round_trip_in_every_broker_clock(duka, week, tz):
    sunday = _dst_sundays(2017)[week]
    bars = duka[(duka.index >= sunday - pd.Timedelta(days=3)) & (duka.index < sunday + pd.Timedelta(days=6))]
    assert len(bars) > 100
    wall = pd.DatetimeIndex(server_clock(tz).from_utc(bars.index))
    out, report = ingest(bars.set_axis(wall), "H1", tz=tz)
    assert report.dropped.empty
    assert_frame_equal(out, bars, check_freq=False)


def test_real_sunday_opens_follow_new_york_across_dst(duka):
    sundays = duka[duka.index.tz_convert(NY).day_of_week == 6].index
    opens = sundays.to_series().groupby(sundays.tz_convert(NY).date).min()
    assert set(opens.dt.tz_convert(NY).dt.hour) == {17}              # 21:00 UTC in summer, 22:00 UTC in winter
    assert set(opens.dt.hour) == {21, 22}


@SETTINGS
@given(year=st.integers(2000, 2035), week=st.sampled_from(["us_spring", "eu_spring", "eu_autumn", "us_autumn"]),
       tz=st.sampled_from(CLOCKS), data=st.data())
def test_dst_weeks_any_year(year, week, tz, data):
    sunday = _dst_sundays(year)[week]
    grid = bar_grid(sunday - pd.Timedelta(days=3), sunday + pd.Timedelta(days=6), "H1")
    picks = sorted(data.draw(st.sets(st.integers(0, len(grid) - 1), min_size=1, max_size=60)))
    bars = pd.DataFrame({"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.15, "tick_volume": 1, "spread": 0,
                         "real_volume": 0}, index=grid[picks])
    out, report = ingest(bars.set_axis(pd.DatetimeIndex(server_clock(tz).from_utc(bars.index))), "H1", tz=tz)
    assert report.dropped.empty and (out.index == bars.index).all()


# --- the Christmas–New Year fortnight ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def bt_raw() -> pd.DataFrame:
    return pd.read_csv(BACKTESTING_EURUSD, index_col=0, parse_dates=True)


def test_real_christmas_fortnight_has_no_bar_in_a_closure(bt_raw, duka):
    fortnight = bt_raw["2017-12-18":"2018-01-06"]
    bars, report = ingest(fortnight, "H1")
    assert len(bars) > 200 and not any(closed_oracle(t) for t in bars.index)
    d = bars.index.to_series().diff()
    gaps = d[d > pd.Timedelta("1h")]
    assert list(gaps.index) == [pd.Timestamp("2017-12-25 22:00", tz="UTC"), pd.Timestamp("2018-01-01 22:00", tz="UTC")]
    xmas = duka["2017-12-18":]
    assert not any(closed_oracle(t) for t in xmas.index)


@SETTINGS
@given(year=st.integers(2000, 2035),
       offsets=st.lists(st.integers(0, 21 * 24 * 4 - 1), min_size=1, max_size=300))
def test_christmas_fortnight_any_year(year, offsets):
    start = pd.Timestamp(year, 12, 18, tz="UTC")
    t = pd.DatetimeIndex(sorted(set(start + pd.Timedelta(minutes=15 * o) for o in offsets)))
    df = pd.DataFrame({"open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0}, index=t)
    out, report = ingest(df, "M15")
    assert not any(closed_oracle(x) for x in out.index)
    assert all(closed_oracle(x) for x in report.dropped.time)


# --- W1 and D1 from a GMT feed close on Friday's price -----------------------------------------------------

def _last_before_friday_close(bars: pd.DataFrame) -> pd.Series:
    "Per FX week (label: Sunday 17:00 NY), the close of the last H1 bar before Friday 17:00 New York."
    return bars.close.groupby(bar_open(bars.index, "W1")).last()


def test_w1_and_d1_resampled_from_a_gmt_feed_close_on_fridays_price(bt_raw):
    bars, _ = ingest(bt_raw, "H1")                       # backtesting's bars are UTC: a GMT feed, with after-close ticks
    w1 = resample_ohlcv(bars, "W1")
    assert (w1.close == _last_before_friday_close(bars)).all()
    fridays = bars[(bars.index.tz_convert(NY).day_of_week == 4) & (bars.index.tz_convert(NY).hour == 16)]
    assert set(fridays.close) >= set(w1.close.iloc[:-1])  # every complete week closes on a Friday 16:00 NY bar
    d1 = resample_ohlcv(bars, "D1")
    assert not any(closed_oracle(t) for t in d1.index)
    assert not (d1.index.tz_convert(NY).day_of_week == 5).any()                       # no Saturday D1 bar
    # the raw file through core's resampler alone: the after-close ticks are left out there too
    raw_w1 = resample_ohlcv(as_ohlcv(bt_raw), "W1")
    assert_frame_equal(raw_w1, w1)
    assert_frame_equal(resample_ohlcv(as_ohlcv(bt_raw), "D1"), d1)


def test_w1_from_a_gmt_brokers_d1_bars_closes_on_friday(bt_raw):
    bars, _ = ingest(bt_raw, "H1")
    gmt_d1 = resample_ohlcv(bars, "H1").groupby(bars.index.floor("D")).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "tick_volume": "sum", "spread": "max",
         "real_volume": "sum"})                          # what a GMT broker's D1 looks like: UTC days, Sunday stubs
    assert (gmt_d1.index.day_of_week == 6).sum() > 30         # the Sunday stubs are there
    w1 = resample_ohlcv(as_ohlcv(gmt_d1), "W1")
    expected = _last_before_friday_close(bars)
    assert (w1.close == expected.reindex(w1.index)).all()  # not the Sunday stub's price
    assert as_utc(w1.index).isin(bar_grid(w1.index[0], w1.index[-1] + pd.Timedelta(1, "ns"), "W1")).all()
    assert list(w1.columns) == OHLCV_COLUMNS
