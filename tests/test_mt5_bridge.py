"Fidelity: the REAL mt5linux 1.0.11 client against a local rpyc classic server hosting FakeMT5, as mt5linux's own server hosts MetaTrader5."
from __future__ import annotations
import json, os, subprocess, sys, textwrap, time
from datetime import datetime, timezone
import pandas as pd
import pytest
from axia.core import SourceUnavailable
from axia.sources.mt5 import Mt5OhlcvSource, server_date
from axia.testing import FakeMT5
from mt5_support import Bridges

pytest.importorskip("mt5linux")
NOW = pd.Timestamp("2026-11-20 12:00", tz="UTC")      # fixed, historic for the bars asked: passes at any instant


def set_tz(tz):
    os.environ["TZ"] = tz; time.tzset()


@pytest.fixture
def bridge_factory():
    "Local mt5linux-style servers (subprocesses on 127.0.0.1, free ports), stopped after the test."
    with Bridges() as make: yield make


@pytest.fixture
def local_tz():
    old = os.environ.get("TZ")
    yield set_tz
    if old is None: os.environ.pop("TZ", None)
    else: os.environ["TZ"] = old
    time.tzset()


def test_stand_in_bridge_mode_matches_the_real_client(bridge_factory, local_tz):
    "FakeMT5(bridge=True) answers every date kind exactly as mt5linux 1.0.11 + the core behind its server do."
    from mt5linux import MetaTrader5
    b = bridge_factory(NOW)
    real, fake = MetaTrader5(host="127.0.0.1", port=b.port, timeout=10), FakeMT5(now=NOW, bridge=True)
    assert real.initialize() and fake.initialize()
    aware = datetime(2026, 11, 4, 9, tzinfo=timezone.utc)
    for tz in ["UTC", "Asia/Tokyo", "America/New_York"]:
        local_tz(tz)
        for d in [aware, datetime(2026, 11, 4, 9), aware.astimezone(), pd.Timestamp(aware).to_pydatetime()]:
            got = [m.copy_rates_range("USDJPY", 16385, d, d + pd.Timedelta("3h")) for m in (real, fake)]
            assert (got[0] == got[1]).all() and len(got[0]) == 4, (tz, d)
        for bad in [1_793_000_000, 1_793_000_000.0, pd.Timestamp(aware)]:          # ints fail in mt5linux, as in the stand-in
            errs = []
            for m in (real, fake):
                with pytest.raises(Exception) as e: m.copy_rates_range("USDJPY", 16385, bad, bad)
                errs.append(type(e.value))
            assert errs[0] is errs[1], (bad, errs)
    assert (real.copy_rates_from_pos("USDJPY", 16385, 0, 5) == fake.copy_rates_from_pos("USDJPY", 16385, 0, 5)).all()
    assert real.symbol_info("XAUUSD") is None and fake.symbol_info("XAUUSD") is None
    assert tuple(real.last_error()) == tuple(fake.last_error()) == (-1, "Terminal: Call failed")


def test_core_mode_reads_naive_dates_as_local_time(local_tz):
    "The Windows package path: a naive datetime is the client's local time; a UTC-tagged server wall time is not."
    fake = FakeMT5(now=NOW); fake.initialize()
    wall = pd.Timestamp("2026-11-04 09:00")
    local_tz("Asia/Tokyo")
    naive = fake.copy_rates_range("USDJPY", 16385, wall.to_pydatetime(), (wall + pd.Timedelta("2h")).to_pydatetime())
    tagged = fake.copy_rates_range("USDJPY", 16385, server_date(wall), server_date(wall + pd.Timedelta("2h")))
    assert pd.Timestamp(int(naive["time"][0]), unit="s") == pd.Timestamp("2026-11-04 00:00")   # 9 hours early
    assert pd.Timestamp(int(tagged["time"][0]), unit="s") == wall
    with pytest.raises(TypeError): fake.copy_rates_range("USDJPY", 16385, "2026-11-04", "2026-11-05")


CLIENT = textwrap.dedent("""
    import json, sys
    import pandas as pd
    from axia.core import bar_grid
    from axia.sources.mt5 import Mt5OhlcvSource
    from axia.testing import FakeMT5
    port, lock = int(sys.argv[1]), sys.argv[2]
    now = pd.Timestamp("2026-11-20 12:00", tz="UTC")
    windows = {"H1": ("2026-11-04", "2026-11-05"), "M5": ("2026-11-04 06:00", "2026-11-04 12:00"), "D1": ("2026-11-02", "2026-11-07")}
    out = {}
    for path in ["mt5linux", "windows"]:
        kw = dict(mt5linux_host="127.0.0.1", mt5linux_port=port) if path == "mt5linux" else dict(mt5=FakeMT5(now=now))
        with Mt5OhlcvSource(lock_path=lock, clock=lambda: now, **kw) as src:
            for tf, (a, b) in windows.items():
                got = src.fetch("USDJPY", tf, a, b)
                want = bar_grid(a, b, tf); want = want[want >= pd.Timestamp(a, tz="UTC")]
                out[f"{path} {tf}"] = [len(want), len(got), int(got.index.equals(want))]
    from mt5linux import MetaTrader5                      # the old way, for contrast: naive server wall times
    raw = MetaTrader5(host="127.0.0.1", port=port, timeout=10); raw.initialize()
    for tf, const, (a, b) in [("H1", 16385, windows["H1"]), ("M5", 5, windows["M5"])]:
        wall = [src.clock_tz.from_utc(pd.Timestamp(x, tz="UTC")).to_pydatetime() for x in (a, b)]
        got = raw.copy_rates_range("USDJPY", const, wall[0], wall[1] - pd.Timedelta("1s"))
        utc = src.clock_tz.to_utc(got["time"]) if got is not None and len(got) else pd.DatetimeIndex([], tz="UTC")
        inside = int(((utc >= pd.Timestamp(a, tz="UTC")) & (utc < pd.Timestamp(b, tz="UTC"))).sum())
        out[f"naive-dates baseline {tf}"] = [len(bar_grid(a, b, tf)), inside, -1]
    print(json.dumps(out))
""")


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_no_bars_lost_in_any_client_time_zone(bridge_factory, tmp_path, tz):
    b = bridge_factory(NOW)
    res = subprocess.run([sys.executable, "-c", CLIENT, str(b.port), str(tmp_path / "l.lock")], capture_output=True, text=True,
                         env={**os.environ, "TZ": tz}, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    for k, (want, got, same) in out.items():
        print(f"figure: client TZ={tz} {k}: bars expected {want}, received {got}, lost {want - got}")
    assert all(same and want == got for want, got, same in out.values() if same >= 0), out
    baseline = [want - got for want, got, same in out.values() if same < 0]
    assert (sum(baseline) > 0) == (tz != "UTC")               # what passing naive datetimes lost in this time zone


def test_bridge_restart_mid_run_reconnects_on_a_fresh_connection(bridge_factory, tmp_path):
    b = bridge_factory(NOW)
    src = Mt5OhlcvSource(mt5linux_host="127.0.0.1", mt5linux_port=b.port, lock_path=tmp_path / "l.lock", clock=lambda: NOW)
    assert len(src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")) == 24
    b.restart()                                                           # the bridge (and its terminal) restarted
    assert len(src.fetch("USDJPY", "H1", "2026-11-04", "2026-11-05")) == 24    # the next fetch succeeds
    assert src.stats["bridge_reconnects"] == 1
    print(f"figure: mt5linux restart mid-run: next fetch ok, {src.stats['bridge_reconnects']} reconnect")
    b.kill()                                                              # gone for good: one fresh try, then a clear error
    with pytest.raises(SourceUnavailable, match="not reachable|lost the mt5linux bridge"):
        src.fetch("USDJPY", "H1", "2026-11-05", "2026-11-06")
    b.start()
    assert len(src.fetch("USDJPY", "H1", "2026-11-05", "2026-11-06")) == 24      # and back when it is
    src.close()


def test_hung_terminal_times_out_before_the_lock(bridge_factory, tmp_path):
    b = bridge_factory(NOW, call_delay=3.0)
    src = Mt5OhlcvSource(mt5linux_host="127.0.0.1", mt5linux_port=b.port, lock_path=tmp_path / "l.lock", clock=lambda: NOW,
                         lock_timeout=2.0, call_timeout=0.5)
    assert src.call_timeout < src.lock_timeout
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match="no answer .* within 0.5s"):
        src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert time.monotonic() - t0 < src.lock_timeout + 1.5          # one call's timeout, not mt5linux's 300 s
    assert Mt5OhlcvSource(lock_timeout=120).call_timeout == 60.0
    src.close()
