"Dense checks of axia.core: validation as properties, market time across every DST change of 2025–2026."
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from axia.core import (InvalidBars, InvalidSymbol, ServerClock, Timeframe, as_ohlcv, bar_grid, bar_open,
                       drop_invalid_bars, is_market_open, latest_bar_open, next_bar_open, resample_ohlcv,
                       validate_ohlcv, validate_symbol)

# ---------------------------------------------------------------- valid frames as a strategy
@st.composite
def valid_bars(draw, min_size=1, max_size=40):
    n = draw(st.integers(min_size, max_size))
    starts = draw(st.lists(st.integers(0, 10_000_000), min_size=n, max_size=n, unique=True))
    t = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(sorted(starts), unit="m")
    price = st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False)
    rows = []
    for _ in range(n):
        o, c = draw(price), draw(price)
        hi = max(o, c) + draw(st.floats(0, 10)); lo = min(o, c) * draw(st.floats(0.5, 1.0))
        rows.append((o, hi, max(lo, 1e-6) if lo > 0 else 1e-6, c, draw(st.integers(0, 10**9)),
                     draw(st.integers(0, 1000)), draw(st.integers(0, 10**9))))
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "tick_volume", "spread", "real_volume"],
                      index=pd.DatetimeIndex(t, name="time"))
    df["low"] = np.minimum(df.low, np.minimum(df.open, df.close))
    return as_ohlcv(df)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@SETTINGS
@given(valid_bars())
def test_valid_frames_pass_unchanged(df):
    assert validate_ohlcv(df) is df

MUTATIONS = {
    "high below open or close": lambda df, i: df.iloc.__setitem__((i, 1), min(df.iat[i, 0], df.iat[i, 3]) * 0.99),
    "low above open or close": lambda df, i: df.iloc.__setitem__((i, 2), max(df.iat[i, 0], df.iat[i, 3]) * 1.01),
    "price not positive": lambda df, i: df.iloc.__setitem__((i, 2), -1.0),
    "price not finite": lambda df, i: df.iloc.__setitem__((i, 3), np.nan),
    "negative volume": lambda df, i: df.iloc.__setitem__((i, 4), -1),
}

@SETTINGS
@given(valid_bars(), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_every_single_row_mutation_is_rejected(df, rule, data):
    i = data.draw(st.integers(0, len(df) - 1))
    bad = df.copy(); MUTATIONS[rule](bad, i)
    with pytest.raises(InvalidBars) as e: validate_ohlcv(bad)
    assert (e.value.report.time == df.index[i]).any()

@SETTINGS
@given(valid_bars(min_size=2), st.data())
def test_duplicate_or_out_of_order_or_naive_times_are_rejected(df, data):
    i = data.draw(st.integers(1, len(df) - 1))
    dup = df.index.to_numpy().copy(); dup[i] = dup[i - 1]
    swapped = df.index.to_numpy().copy(); swapped[[i - 1, i]] = swapped[[i, i - 1]]
    for idx, rule in [(dup, "duplicate time"), (swapped, "time not increasing")]:
        with pytest.raises(InvalidBars) as e: validate_ohlcv(df.set_axis(pd.DatetimeIndex(idx, name="time")))
        assert rule in set(e.value.report.rule)
    with pytest.raises(InvalidBars, match="expected UTC"): validate_ohlcv(df.tz_localize(None))

@SETTINGS
@given(valid_bars(min_size=2))
def test_drop_invalid_keeps_exactly_the_valid_rows(df):
    bad = df.copy(); bad.iloc[0, 1] = -5.0
    clean, report = drop_invalid_bars(bad)
    pd.testing.assert_frame_equal(clean, df.iloc[1:])
    assert set(report.time) == {df.index[0]}

# ---------------------------------------------------------------- symbols
@pytest.mark.parametrize("bad", ["", "/", "a/b", "a\\b", "a=b", "..", "x..y", "US*", "U?", "[x]", "a b", "a\tb",
                                  "a\nb", "a\rb", "\x1b[31m", "A" * 33, "-x", ".x", "é", "USD JPY", "ohlcv:*"])
def test_hostile_symbols_are_rejected(bad):
    with pytest.raises(InvalidSymbol, match="symbols are"): validate_symbol(bad)

@given(st.text(max_size=40))
def test_accepted_symbols_are_safe_everywhere(s):
    try: validate_symbol(s)
    except InvalidSymbol: return
    assert not set(s) & set("/\\=*?[] :\x00\n\r\t") and ".." not in s and 0 < len(s) <= 32

# ---------------------------------------------------------------- market time across DST changes
# US changes: 2025-03-09, 2025-11-02, 2026-03-08, 2026-11-01. EU: 2025-03-30, 2025-10-26, 2026-03-29, 2026-10-25.
# The FX day closes at 17:00 New York whatever Europe does: EU weeks keep the US offset.
WEEKS = {  # Monday of the week: D1 open hour (UTC) of that week's Monday bar (Sunday 17:00 New York)
    "2025-03-03": 22, "2025-03-10": 21, "2025-03-31": 21, "2025-10-27": 21, "2025-11-03": 22,
    "2026-03-02": 22, "2026-03-09": 21, "2026-03-30": 21, "2026-10-26": 21, "2026-11-02": 22,
}

@pytest.mark.parametrize("monday,hour", WEEKS.items())
def test_d1_and_h4_open_at_the_new_york_close(monday, hour):
    mon = pd.Timestamp(monday, tz="UTC") + pd.Timedelta("12h")
    d1 = bar_open(mon, "D1")
    assert (d1.day_of_week, d1.hour) == (6, hour)                                  # Sunday 17:00 New York
    assert d1.tz_convert("America/New_York").hour == 17
    h4 = bar_grid(d1, d1 + pd.Timedelta("1D"), "H4")
    assert list(h4.tz_convert("America/New_York").hour) == [17, 21, 1, 5, 9, 13]
    assert list(bar_grid(d1, d1 + pd.Timedelta("5D"), "D1").tz_convert("America/New_York").hour) == [17] * 5

@pytest.mark.parametrize("day", ["2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01"])
def test_the_week_around_a_us_change_has_no_weekend_bars_and_no_holes(day):
    change = pd.Timestamp(day, tz="UTC")
    grid = bar_grid(change - pd.Timedelta("6D"), change + pd.Timedelta("6D"), "H1")
    assert is_market_open(grid).all()
    steps = grid[1:] - grid[:-1]
    assert (steps == pd.Timedelta("1h")).sum() == len(grid) - 2          # one hole only: the weekend
    gap = int(np.argmax(steps))
    ny = grid.tz_convert("America/New_York")
    assert (ny[gap] + pd.Timedelta("1h")).strftime("%a %H:%M") == "Fri 17:00"
    assert ny[gap + 1].strftime("%a %H:%M") == "Sun 17:00"

def test_bar_open_never_lies_after_the_instant():
    t = pd.date_range("2025-01-01", "2027-01-01", freq="37min", tz="UTC")
    for tf in Timeframe:
        b = bar_open(t, tf)
        assert (b <= t).all(), tf
        nxt = pd.DatetimeIndex([next_bar_open(x, tf) for x in t[::997]])
        assert (nxt > t[::997]).all(), tf

def test_resampled_m1_equals_bar_open_groups_on_dst_days():
    idx = bar_grid("2026-03-06", "2026-03-11", "M1")
    df = as_ohlcv(pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.0, "tick_volume": 1}, index=idx))
    h4 = resample_ohlcv(df, "H4")
    assert h4.tick_volume.sum() == len(idx)
    assert (h4.tick_volume <= 240).all() and list(h4.index) == list(bar_grid("2026-03-06", "2026-03-11", "H4"))

def test_latest_bar_open_on_the_weekend_is_the_friday_close_bar():
    sat = pd.Timestamp("2026-03-07 12:00", tz="UTC")
    assert latest_bar_open(sat, "M1") == pd.Timestamp("2026-03-06 21:59", tz="UTC")
    assert latest_bar_open(sat, "D1") == pd.Timestamp("2026-03-05 22:00", tz="UTC")

# ---------------------------------------------------------------- server clock
@pytest.mark.parametrize("spec,server,utc", [
    ("America/New_York+7", "2026-03-09 00:00", "2026-03-08 21:00"),   # first Monday of US summer time: GMT+3
    ("America/New_York+7", "2026-03-06 00:00", "2026-03-05 22:00"),   # winter: GMT+2
    ("America/New_York+7", "2026-03-31 00:00", "2026-03-30 21:00"),   # EU change week: still US-driven
    ("Europe/Athens", "2026-03-31 00:00", "2026-03-30 21:00"),
    ("Europe/Athens", "2026-03-27 00:00", "2026-03-26 22:00"),        # US summer, EU winter: brokers differ
    ("UTC+2", "2026-07-01 02:00", "2026-07-01 00:00"),
])
def test_server_clock(spec, server, utc):
    clock = ServerClock(spec)
    assert clock.to_utc(pd.Timestamp(server)) == pd.Timestamp(utc, tz="UTC")
    assert clock.from_utc(pd.Timestamp(utc, tz="UTC")) == pd.Timestamp(server)
    secs = np.array([int(pd.Timestamp(server).timestamp())])
    assert clock.to_utc(secs)[0] == pd.Timestamp(utc, tz="UTC")
