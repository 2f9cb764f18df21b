"Mt5OhlcvSource against the FakeMT5 stand-in: server time → UTC across DST, chunking, forming bar, reconnects, errors, lock."
from __future__ import annotations
import json, logging, subprocess, sys, textwrap
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
import numpy as np, pandas as pd, pytest
from axia.config import Settings
from axia.core import (InvalidRange, SourceUnavailable, SymbolNotFound, bar_grid, bar_open)
from axia.sources.common import drop_forming
from axia.sources.mt5 import Mt5OhlcvSource, mt5_error
from axia.testing import fake_mt5_module

NY, UTC = ZoneInfo("America/New_York"), ZoneInfo("UTC")
LATER = pd.Timestamp("2027-01-15 12:00", tz="UTC")     # every bar of the DST weeks is complete by then


def market_open(t: datetime) -> bool:
    "Independent of axia.core: FX trades from Sunday 17:00 to Friday 17:00 New York."
    ny = t.astimezone(NY)
    wd, h = ny.weekday(), ny.hour
    return not (wd == 5 or (wd == 4 and h >= 17) or (wd == 6 and h < 17))


def source(tmp_path, now=LATER, **fake_kw):
    fake = fake_mt5_module(now=now, **fake_kw)
    return fake, Mt5OhlcvSource(mt5=fake, lock_path=tmp_path / "mt5.lock", clock=lambda: now)


DST = ["2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01",      # US
       "2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25"]      # EU


@pytest.mark.parametrize("day", DST)
def test_dst_weeks_bar_by_bar(tmp_path, day):
    fake, src = source(tmp_path)
    start, end = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=3), pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=4)
    h1 = src.fetch("USDJPY", "H1", start, end)
    hours = [start.to_pydatetime() + timedelta(hours=k) for k in range(int((end - start) / pd.Timedelta("1h")))]
    assert list(h1.index.to_pydatetime()) == [h for h in hours if market_open(h)]
    h4 = src.fetch("USDJPY", "H4", start, end)
    assert len(h4) > 20
    for t in h4.index.to_pydatetime():
        ny = t.astimezone(NY)
        assert (ny.hour, ny.minute) in {(17, 0), (21, 0), (1, 0), (5, 0), (9, 0), (13, 0)} and market_open(t), t
    d1 = src.fetch("USDJPY", "D1", start, end)
    assert len(d1) >= 5
    for t in d1.index.to_pydatetime():
        summer = t.astimezone(NY).utcoffset() == timedelta(hours=-4)
        assert (t.hour, t.minute) == ((21, 0) if summer else (22, 0)), t       # 17:00 New York
        assert t.astimezone(NY).hour == 17 and t.astimezone(NY).weekday() != 4  # no D1 opens Friday evening
    assert h1.attrs["dropped"] == h4.attrs["dropped"] == d1.attrs["dropped"] == 0


def test_d1_hours_around_us_change(tmp_path):
    fake, src = source(tmp_path)
    d1 = src.fetch("EURUSD", "D1", "2026-03-04", "2026-03-12")
    assert [str(t) for t in d1.index] == ["2026-03-04 22:00:00+00:00", "2026-03-05 22:00:00+00:00",
                                          "2026-03-08 21:00:00+00:00", "2026-03-09 21:00:00+00:00",
                                          "2026-03-10 21:00:00+00:00", "2026-03-11 21:00:00+00:00"]


def test_eu_switching_server_keeps_every_day_between_the_changes(tmp_path):
    "A server on Europe/Athens time cuts D1 at 22:00 UTC while New York is on summer time: axia's D1 are built from its H1."
    fake, src = source(tmp_path, server_tz="Europe/Athens")
    src.clock_tz = fake.clock
    d1 = src.fetch("USDJPY", "D1", "2026-03-10", "2026-03-20")
    assert len(d1) == 8 and set(d1.index.hour) == {21} and d1.attrs["dropped"] == 0      # 17:00 New York (EDT)
    assert d1.attrs["aligned_from"] == "H1" and d1.attrs["server_clock"] == "Europe/Athens"
    own = src.fetch_broker_bars("USDJPY", "D1", "2026-03-10", "2026-03-20")
    assert own.attrs["broker_bars"] and set(own.index.hour) == {22} and len(own.attrs["sunday_stubs"]) == 1
    assert len(src.fetch("USDJPY", "H1", "2026-03-10", "2026-03-12")) == 48     # hours are native


def test_w1_relabelled_to_axia_week_open(tmp_path):
    fake, src = source(tmp_path)
    raw = fake.copy_rates_range("USDJPY", fake.TIMEFRAME_W1, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC)) if fake.initialize() else None
    assert set(pd.to_datetime(raw["time"], unit="s").day_of_week) == {6}            # MT5: Sunday 00:00 server
    w1 = src.fetch("USDJPY", "W1", "2026-03-01", "2026-04-06")
    assert list(w1.index) == list(bar_open(w1.index, "W1"))
    ny = w1.index.tz_convert(NY)
    assert set(ny.day_of_week) == {6} and set(ny.hour) == {17}                        # Sunday 17:00 New York
    assert list(w1.index.hour) == [22, 21, 21, 21, 21, 21] and w1.attrs["dropped"] == 0   # EST, then EDT from 8 March


def test_chunks_past_the_bar_limit(tmp_path):
    fake, src = source(tmp_path, maxbars=500)
    start, end = pd.Timestamp("2026-06-01", tz="UTC"), pd.Timestamp("2026-06-06", tz="UTC")
    m5 = src.fetch("USDJPY", "M5", start, end)
    assert list(m5.index) == list(bar_grid(start, end, "M5")) and len(m5) > 1000
    ranges = [c for c in fake.calls if c[0] == "copy_rates_range"]
    assert len(ranges) == src.stats["chunks"] >= 3
    assert all(c[3].utcoffset() == c[4].utcoffset() == timedelta(0) for c in ranges)   # server wall times tagged UTC
    whole = fake.copy_rates_range("USDJPY", fake.TIMEFRAME_M5, ranges[0][3], ranges[-1][4])
    assert len(whole) == 500                                                       # what one unchunked call would have lost
    latest = src.fetch_latest("USDJPY", "M1", 1200)
    assert len(latest) == 1200 and latest.index.is_monotonic_increasing and latest.index.is_unique


def test_forming_bar_marked_and_excluded(tmp_path):
    now = pd.Timestamp("2026-11-04 15:37", tz="UTC")
    fake, src = source(tmp_path, now=now)
    h1 = src.fetch("USDJPY", "H1", "2026-11-04", "2026-11-05")
    assert h1.index[-1] == h1.attrs["forming_bar"] == pd.Timestamp("2026-11-04 15:00", tz="UTC")
    assert drop_forming(h1).index[-1] == pd.Timestamp("2026-11-04 14:00", tz="UTC")
    assert src.fetch("USDJPY", "H1", "2026-11-04", "2026-11-05", complete_only=True).index[-1] == pd.Timestamp("2026-11-04 14:00", tz="UTC")
    latest = src.fetch_latest("USDJPY", "D1", 3, complete_only=True)
    assert len(latest) == 3 and latest.attrs["forming_bar"] is None and latest.index[-1] == pd.Timestamp("2026-11-02 22:00", tz="UTC")
    assert src.fetch_latest("USDJPY", "D1", 3).attrs["forming_bar"] == pd.Timestamp("2026-11-03 22:00", tz="UTC")


def test_reconnects_once_after_a_dropped_terminal(tmp_path):
    fake, src = source(tmp_path)
    src.fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    fake.disconnect()
    h1 = src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert len(h1) == 24 and src.stats["reconnects"] == 1 and len(fake.init_calls) == 2
    fake.disconnect(); fake.stay_down = True
    with pytest.raises(SourceUnavailable, match="not running or not reachable"):
        src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")


def test_errors_mapped(tmp_path, monkeypatch):
    fake, src = source(tmp_path)
    with pytest.raises(SymbolNotFound, match="does not offer 'XAUUSD'"): src.fetch("XAUUSD", "H1", "2026-11-02", "2026-11-03")
    fake.symbols["NZDUSD"] = True; src._selected.add("NZDUSD"); fake.symbols["NZDUSD"] = False   # hidden after selection
    with pytest.raises(SymbolNotFound): src.fetch("NZDUSD", "H1", "2026-11-02", "2026-11-03")
    assert isinstance(mt5_error((-2, "Terminal: Invalid params"), "copy_rates_range", "USDJPY"), InvalidRange)
    assert isinstance(mt5_error((-1, "Terminal: Call failed"), "copy_rates_range"), SourceUnavailable)
    bad = Mt5OhlcvSource(mt5=fake_mt5_module(password="right"), password="wrong", login=1, lock_path=tmp_path / "l")
    with pytest.raises(SourceUnavailable, match="check mt5_login") as e: bad.fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    assert "wrong" not in str(e.value) and "right" not in str(e.value)
    monkeypatch.setitem(sys.modules, "MetaTrader5", None); monkeypatch.setitem(sys.modules, "mt5linux", None)
    with pytest.raises(SourceUnavailable, match="MetaTrader5 package is not installed"):
        Mt5OhlcvSource(lock_path=tmp_path / "l").fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    with pytest.raises(SourceUnavailable, match="mt5linux is not installed"):
        Mt5OhlcvSource(mt5linux_host="127.0.0.1", lock_path=tmp_path / "l").fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    with pytest.raises(Exception, match="symbols are"): src.fetch("../etc", "H1", "2026-11-02", "2026-11-03")


def test_from_settings_suffix_and_secret(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake = fake_mt5_module(now=LATER, symbols={"EURUSD.pro": False, "USDJPY.pro": True}, password="p@ss-w0rd", bridge=True)
    settings = Settings(data_dir=tmp_path, mt5_login=5012345, mt5_password="p@ss-w0rd", mt5_server="Fake-Demo",
                        mt5_symbol_suffix=".pro", mt5_path=r"C:\MT5\terminal64.exe")
    with Mt5OhlcvSource.from_settings(settings, mt5=fake, symbol_map={"GOLD": "XAUUSD.pro"}) as src:
        bars = src.fetch("EURUSD", "H1", "2026-11-02", "2026-11-03")
        assert len(bars) == 24 and bars.attrs["broker_symbol"] == "EURUSD.pro" and fake.symbols["EURUSD.pro"] is True
        assert src.broker_symbol("GOLD") == "XAUUSD.pro"
        assert src.lock_path == tmp_path / "locks" / "mt5.lock" and src.lock_path.exists()
        assert "p@ss-w0rd" not in repr(src)
    assert fake.init_calls[0] == dict(path=r"C:\MT5\terminal64.exe", login=5012345, password="p@ss-w0rd", server="Fake-Demo", timeout=60000)
    assert not fake.connected                                   # shut down on exit
    assert "p@ss-w0rd" not in caplog.text and "MT5 connected" in caplog.text


def test_invalid_rows_dropped_and_reported(tmp_path):
    def tamper(symbol, tf, rates):
        rates = rates.copy()
        if len(rates) > 5: rates["high"][2] = rates["low"][2] * 0.5; rates["close"][4] = np.nan
        return rates
    fake, src = source(tmp_path, tamper=tamper)
    h1 = src.fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    assert len(h1) == 22 and h1.attrs["dropped"] == 2 == src.stats["dropped"]
    assert set(src.last_report.rule) >= {"price not finite"} and len(src.last_report.time.unique()) == 2
    assert pd.Timestamp("2026-11-02 02:00", tz="UTC") not in h1.index


LOCK_SCRIPT = textwrap.dedent("""
    import json, sys, pandas as pd
    from axia.sources.mt5 import Mt5OhlcvSource
    from axia.testing import fake_mt5_module
    log, lock = sys.argv[1], sys.argv[2]
    now = pd.Timestamp("2026-11-20", tz="UTC")
    src = Mt5OhlcvSource(mt5=fake_mt5_module(now=now, call_delay=0.15, call_log=log), lock_path=lock, clock=lambda: now)
    for day in range(2, 6): src.fetch("USDJPY", "H1", f"2026-11-0{day}", f"2026-11-0{day + 1}")
    print(json.dumps(src.stats))
""")


def run_two(tmp_path, same_lock: bool):
    log = tmp_path / f"calls-{same_lock}.log"
    procs = [subprocess.Popen([sys.executable, "-c", LOCK_SCRIPT, str(log), str(tmp_path / (f"l{i}.lock" if not same_lock else "l.lock"))],
                              stdout=subprocess.PIPE, text=True) for i in range(2)]
    stats = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    calls = sorted(tuple(float(x) for x in line.split()[1:]) + (line.split()[0],) for line in log.read_text().splitlines())
    return stats, calls


def test_lock_serialises_terminal_calls_across_processes(tmp_path):
    stats, calls = run_two(tmp_path, same_lock=True)
    assert len(calls) == 8 and len({c[2] for c in calls}) == 2
    assert all(b[0] >= a[1] for a, b in zip(calls, calls[1:])), calls            # no two calls overlap in time
    assert sum(s["lock_contended"] for s in stats) >= 1 and all(s["lock_acquired"] == 4 for s in stats)
    _, free = run_two(tmp_path, same_lock=False)                                  # without a shared lock they do overlap
    assert any(b[0] < a[1] for a, b in zip(free, free[1:]))


def test_saturday_collection_stores_fridays_last_bars(tmp_path):
    "After Friday 17:00 New York every bar of the week is complete, W1 included; MN1 once the month's trading ended."
    sat = pd.Timestamp("2026-11-07 12:00", tz="UTC")
    fake, src = source(tmp_path, now=sat)
    last = {"H1": "2026-11-06 21:00", "H4": "2026-11-06 18:00", "D1": "2026-11-05 22:00", "W1": "2026-11-01 22:00"}
    for tf, t in last.items():
        got = src.fetch("USDJPY", tf, "2026-10-25", sat, complete_only=True)
        assert got.index[-1] == pd.Timestamp(t, tz="UTC") and got.attrs["forming_bar"] is None, tf
    assert src.fetch("USDJPY", "MN1", "2026-09-01", sat).attrs["forming_bar"] == pd.Timestamp("2026-10-31 21:00", tz="UTC")
    month_end = pd.Timestamp("2026-10-31 12:00", tz="UTC")                    # Saturday: October's trading is over
    fake, src = source(tmp_path, now=month_end)
    mn1 = src.fetch("USDJPY", "MN1", "2026-08-01", month_end, complete_only=True)
    assert mn1.index[-1] == pd.Timestamp("2026-09-30 21:00", tz="UTC") and mn1.attrs["forming_bar"] is None


def test_bar_opening_after_now_is_rejected(tmp_path):
    "A broker W1 bar for the coming week, seen on Sunday before the open (relabelled to 17:00 New York): dropped."
    sun = pd.Timestamp("2026-11-08 15:00", tz="UTC")
    def tamper(symbol, tf, rates):
        if tf != "W1" or not len(rates): return rates
        nxt = rates[-1:].copy(); nxt["time"] = rates["time"][-1] + 7 * 86400
        return np.concatenate([rates, nxt])
    fake, src = source(tmp_path, now=sun, tamper=tamper)
    w1 = src.fetch("USDJPY", "W1", "2026-10-20", "2026-11-15")
    assert list(src.last_report.rule) == ["opens after now"] and w1.index[-1] < sun and w1.attrs["forming_bar"] is None
