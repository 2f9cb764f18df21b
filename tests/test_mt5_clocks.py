"Every broker clock keeps every bar: axia's H1/H4/D1/W1/MN1 from brokers on NY+7, EET/EEST, fixed GMT+k and other IANA zones, bar by bar."
from __future__ import annotations
from datetime import timedelta
from zoneinfo import ZoneInfo
import numpy as np, pandas as pd, pytest
from axia.core import bar_grid
from axia.sources.mt5 import Mt5OhlcvSource, server_date
from axia.testing import FakeMT5

LATER = pd.Timestamp("2027-01-15 12:00", tz="UTC")
NY = ZoneInfo("America/New_York")
CLOCKS = {"America/New_York+7": ("America/New_York", 7), "Europe/Athens": ("Europe/Athens", 0), "UTC": ("UTC", 0),
          "UTC+2": ("UTC", 2), "UTC+3": ("UTC", 3), "Asia/Tokyo": ("Asia/Tokyo", 0)}
DST = ["2025-03-09", "2025-03-30", "2025-10-26", "2025-11-02", "2026-03-08", "2026-03-29", "2026-10-25", "2026-11-01"]


def reference_h1(fake: FakeMT5, spec: str, start, end) -> pd.DataFrame:
    "The broker's raw H1, converted to UTC here with zoneinfo (not axia's ServerClock)."
    zone, shift = CLOCKS[spec]
    lo, hi = pd.Timestamp(start) - pd.Timedelta(days=8), pd.Timestamp(end) + pd.Timedelta(days=8)
    raw = fake.copy_rates_range("USDJPY", fake.TIMEFRAME_H1, server_date(lo.tz_localize(None)), server_date(hi.tz_localize(None)))
    wall = pd.DatetimeIndex(pd.to_datetime(raw["time"], unit="s")) - pd.Timedelta(hours=shift)
    utc = wall.tz_localize(ZoneInfo(zone), ambiguous=np.ones(len(wall), bool), nonexistent="shift_forward").tz_convert("UTC")
    return pd.DataFrame({k: raw[k] for k in ["open", "high", "low", "close", "tick_volume"]}, index=pd.DatetimeIndex(utc))


def fx_keys(t: pd.DatetimeIndex, tf: str) -> pd.DatetimeIndex:
    "axia's bar of each UTC hour in `t`, computed from the definition: the FX clock is New York + 7 h."
    fx = t.tz_convert(NY).tz_localize(None) + timedelta(hours=7)
    if tf == "H4": k = fx.floor("4h")
    elif tf == "D1": k = fx.normalize()
    elif tf == "W1": k = fx.normalize() - pd.to_timedelta(fx.day_of_week, unit="D")
    else: k = fx.normalize() - pd.to_timedelta(fx.day - 1, unit="D")
    return (k - timedelta(hours=7)).tz_localize(NY, ambiguous=np.ones(len(k), bool), nonexistent="shift_forward").tz_convert("UTC")


def reference(h1: pd.DataFrame, tf: str) -> pd.DataFrame:
    return h1.groupby(fx_keys(h1.index, tf)).agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                                                 close=("close", "last"), tick_volume=("tick_volume", "sum"))


def compare(got: pd.DataFrame, want: pd.DataFrame, start, end) -> tuple[int, int]:
    "(bars lost, bars with wrong OHLC or volume)."
    start, end = (t if t.tz else t.tz_localize("UTC") for t in (pd.Timestamp(start), pd.Timestamp(end)))
    want = want[(want.index >= start) & (want.index < end)]
    lost = len(want.index.difference(got.index)) + len(got.index.difference(want.index))
    both = want.index.intersection(got.index)
    cols = ["open", "high", "low", "close", "tick_volume"]
    wrong = int((~np.isclose(got.loc[both, cols].to_numpy(float), want.loc[both, cols].to_numpy(float), rtol=0, atol=1e-12)).any(axis=1).sum())
    return lost, wrong


@pytest.mark.parametrize("spec", list(CLOCKS))
def test_every_dst_week_bar_by_bar(tmp_path, spec):
    fake = FakeMT5(now=LATER, server_tz=spec); fake.initialize()
    src = Mt5OhlcvSource(mt5=FakeMT5(now=LATER, server_tz=spec), server_tz=spec, lock_path=tmp_path / "l", clock=lambda: LATER)
    totals = {tf: [0, 0, 0] for tf in ["H1", "H4", "D1", "W1"]}
    for day in DST:
        start = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=10)
        end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=8)
        h1 = reference_h1(fake, spec, start, end)
        for tf in totals:
            got = src.fetch("USDJPY", tf, start, end)
            want = h1 if tf == "H1" else reference(h1, tf)
            grid = bar_grid(start, end, tf); grid = grid[grid >= start]
            assert got.index.equals(grid), (spec, day, tf)            # every trading bar, on axia's grid
            lost, wrong = compare(got, want, start, end)
            totals[tf][0] += len(got); totals[tf][1] += lost; totals[tf][2] += wrong
    mn1 = src.fetch("USDJPY", "MN1", "2025-01-01", "2027-01-01")
    want = reference(reference_h1(fake, spec, "2024-12-20", "2027-02-05"), "MN1")
    lost, wrong = compare(mn1, want, "2025-01-01", "2027-01-01")
    totals["MN1"] = [len(mn1), lost, wrong]
    for tf, (n, lost, wrong) in totals.items():
        print(f"figure: clock {spec} {tf} over the 2025-26 DST weeks: {n} bars, {lost} lost, {wrong} wrong OHLC")
    assert all(lost == wrong == 0 for _, lost, wrong in totals.values()), totals
    assert mn1.attrs["aligned_from"] == (None if spec == "America/New_York+7" else "H1")


def test_half_hour_zone_builds_from_m1(tmp_path):
    "An IANA zone off whole hours (Asia/Kolkata, UTC+5:30): H1 and D1 are built from M1, every hour kept."
    now = pd.Timestamp("2026-11-20 12:00", tz="UTC")
    src = Mt5OhlcvSource(mt5=FakeMT5(now=now, server_tz="Asia/Kolkata"), server_tz="Asia/Kolkata", lock_path=tmp_path / "l",
                         clock=lambda: now)
    h1 = src.fetch("USDJPY", "H1", "2026-11-02", "2026-11-04")
    m1 = src.fetch("USDJPY", "M1", "2026-11-02", "2026-11-04")
    assert h1.attrs["aligned_from"] == "M1" and m1.attrs["aligned_from"] is None and len(h1) == 48
    first = m1[m1.index < h1.index[0] + pd.Timedelta("1h")]
    assert (h1.open.iloc[0], h1.high.iloc[0], h1.close.iloc[0]) == (first.open.iloc[0], first.high.max(), first.close.iloc[-1])
    d1 = src.fetch("USDJPY", "D1", "2026-11-02", "2026-11-07")
    assert list(d1.index) == list(bar_grid("2026-11-02", "2026-11-07", "D1")[1:])


def test_fetch_latest_from_an_off_grid_clock(tmp_path):
    now = pd.Timestamp("2026-07-15 12:00", tz="UTC")
    src = Mt5OhlcvSource(mt5=FakeMT5(now=now, server_tz="UTC+2"), server_tz="UTC+2", lock_path=tmp_path / "l", clock=lambda: now)
    d1 = src.fetch_latest("USDJPY", "D1", 10, complete_only=True)
    assert len(d1) == 10 and d1.attrs["aligned_from"] == "H1" and set(d1.index.hour) == {21} and d1.attrs["forming_bar"] is None
