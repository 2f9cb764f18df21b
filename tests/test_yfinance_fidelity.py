"""YFinanceOhlcvSource through the REAL yfinance (1.7) against a local Yahoo (tests/yahoo_support.py), and FakeYahoo
held to what the real library returns for the same bars: columns, index, dtypes, empty frames, logged messages."""
from __future__ import annotations
import logging, re, warnings
import pandas as pd, pytest

pytest.importorskip("yfinance")
pytest.importorskip("cryptography")
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")   # yfinance 1.7 on pandas 3, in direct download calls

from axia.core import RateLimited, SourceUnavailable, SymbolNotFound, bar_open, fixed_clock
from axia.sources.yfinance import YFinanceOhlcvSource
from axia.testing import FakeYahoo
from yahoo_support import closed_port, local_yahoo


@pytest.fixture
def yahoo(tmp_path, monkeypatch):
    "The local Yahoo on a Wednesday afternoon (2026-11-04 15:37 UTC)."
    with local_yahoo(tmp_path, monkeypatch) as server: yield server


def real_source(server, proxy=None, **kw) -> YFinanceOhlcvSource:
    return YFinanceOhlcvSource(session_options=server.session_options(proxy), backoff=0, clock=fixed_clock(server.now), **kw)


def fake_source(server, **kw) -> YFinanceOhlcvSource:
    return YFinanceOhlcvSource(download=FakeYahoo(now=server.now), backoff=0, clock=fixed_clock(server.now), **kw)


def refused(server) -> str: return f"http://127.0.0.1:{closed_port()}"


class Log(logging.Handler):
    def __init__(self): super().__init__(logging.ERROR); self.lines = []
    def emit(self, record): self.lines.append(record.getMessage())


def download(fn, *args, **kw):
    "(frame, ERROR lines on the yfinance logger) of one download call."
    log, lg = Log(), logging.getLogger("yfinance")
    lg.addHandler(log)
    try: return fn(*args, **kw), log.lines
    finally: lg.removeHandler(log)


# --- the adapter through the real library ---------------------------------------------------------------------------

def test_h1_through_real_yfinance_asks_yahoos_urls(yahoo):
    src = real_source(yahoo)
    h1 = src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert len(h1) == 24 and str(h1.index.tz) == "UTC" and (h1.tick_volume == 0).all()
    assert yahoo.paths("fc.yahoo.com") == ["/"] and "/v1/test/getcrumb" in yahoo.paths("query1.finance.yahoo.com")
    charts = [q for m, h, p, q in yahoo.requests if p == "/v8/finance/chart/USDJPY=X"]
    assert {"range": ["1d"], "interval": ["1d"]} in [{k: v for k, v in q.items() if k != "crumb"} for q in charts]  # timezone probe
    asked = [q for q in charts if "period1" in q][0]
    assert asked["interval"] == ["1h"] and asked["crumb"] == ["Qx7mB2kPz.a"]
    assert pd.Timestamp(int(asked["period1"][0]), unit="s", tz="UTC") == pd.Timestamp("2026-11-03", tz="UTC")


def test_yfinance_warnings_and_log_lines_stay_off_the_users_terminal(yahoo, capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        real_source(yahoo).fetch("USDJPY", "D1", "2023-06-05", "2023-06-10")
        with pytest.raises(SymbolNotFound): real_source(yahoo).fetch("XXXYYY", "H1", "2026-11-03", "2026-11-04")
    assert not [w for w in caught if "yfinance" in w.filename] and capfd.readouterr().err == ""


@pytest.mark.parametrize("tf,start,end", [("M1", "2026-11-03 10:00", "2026-11-03 13:00"), ("M5", "2026-11-02", "2026-11-04"),
                                          ("M15", "2026-11-02", "2026-11-04"), ("M30", "2026-11-02", "2026-11-04"),
                                          ("H1", "2026-10-28", "2026-11-04 15:37"), ("H4", "2026-10-28", "2026-11-04 15:37"),
                                          ("D1", "2026-10-20", "2026-11-04 15:37"), ("W1", "2026-09-01", "2026-11-04 15:37"),
                                          ("MN1", "2026-05-01", "2026-11-04 15:37"), ("D1", "2023-06-05", "2023-06-10"),
                                          ("W1", "2023-05-01", "2023-07-01"), ("MN1", "2022-01-01", "2023-07-01")])
def test_real_library_and_stand_in_give_the_adapter_the_same_bars(yahoo, tf, start, end):
    real, fake = real_source(yahoo).fetch("USDJPY", tf, start, end), fake_source(yahoo).fetch("USDJPY", tf, start, end)
    assert len(real) > 0 and list(real.index) == list(bar_open(real.index, tf))
    pd.testing.assert_frame_equal(real, fake, check_exact=False, rtol=1e-12)
    assert real.attrs == fake.attrs


def test_unknown_ticker_is_symbol_not_found_in_either_yfinance_regime(yahoo, monkeypatch):
    import yfinance.base
    for used in (0, 2):     # the info fallback still available (first two tickers of a process), or used up
        monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", used)
        with pytest.raises(SymbolNotFound, match="XXXYYY=X.*no timezone found.*ticker override"):
            real_source(yahoo).fetch("XXXYYY", "H1", "2026-11-03", "2026-11-04")


@pytest.mark.parametrize("used", [0, 2])
def test_refused_connection_is_source_unavailable_with_the_reason(yahoo, monkeypatch, used):
    import yfinance.base
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", used)
    frame, lines = download(yfinance_download(yahoo, refused(yahoo)), "EURUSD=X", start="2026-11-03", end="2026-11-04",
                            interval="1h", progress=False)
    assert frame.empty
    if used == 2:   # what yfinance 1.7 logs after the first two tickers: the words of an unknown ticker
        assert "['EURUSD=X']: possibly delisted; no timezone found" in lines
    src = real_source(yahoo, refused(yahoo))
    with pytest.raises(SourceUnavailable, match=r"cannot reach Yahoo \(.*curl: \(7\).*Could not connect") as e:
        src.fetch("EURUSD", "H1", "2026-11-03", "2026-11-04")
    assert not isinstance(e.value, SymbolNotFound) and "\n" not in str(e.value) and "See https://curl.se" not in str(e.value)
    assert src.stats["network"] == 1


def test_refused_after_the_zone_is_cached_still_names_the_network(yahoo):
    real_source(yahoo).fetch("GBPUSD", "H1", "2026-11-03", "2026-11-04")       # caches GBPUSD=X's zone in yfinance
    frame, lines = download(yfinance_download(yahoo, refused(yahoo)), "GBPUSD=X", start="2026-11-02", end="2026-11-03",
                            interval="1h", progress=False)
    assert frame.empty and any("no price data found" in m for m in lines)      # yfinance logs no reason at all …
    assert not any("curl" in m for m in lines)
    with pytest.raises(SourceUnavailable, match=r"cannot reach Yahoo \(.*Could not connect"):   # … the session saw it
        real_source(yahoo, refused(yahoo)).fetch("GBPUSD", "H1", "2026-11-02", "2026-11-03")


def test_unresolvable_host_is_source_unavailable(yahoo):
    with pytest.raises(SourceUnavailable, match=r"cannot reach Yahoo \(.*Could not resolve"):
        real_source(yahoo, "http://yahoo-offline.invalid:3128").fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")


def test_rate_limit_429_retried_then_raised(yahoo):
    yahoo.rate_limit_next = 2          # Yahoo answers 429 to the next 2 chart requests: yfinance retries once, then gives up
    src = real_source(yahoo, retries=3)
    assert len(src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")) == 24
    assert src.stats["rate_limited"] == src.stats["retries"] == 1
    yahoo.mode = "rate_limited"
    src = real_source(yahoo, retries=2)
    with pytest.raises(RateLimited, match="still rate limited after 2 retries"):
        src.fetch("USDJPY", "H1", "2026-10-27", "2026-10-28")
    assert src.stats["rate_limited"] == 3


def test_native_daily_keeps_the_last_fx_day_of_a_window_ending_before_london_midnight(yahoo):
    # June 2023: the FX day opens 21:00 UTC, Yahoo labels it with the next London date (23:00 UTC)
    for src in (real_source(yahoo), fake_source(yahoo)):
        d1 = src.fetch("USDJPY", "D1", "2023-06-05", "2023-06-07 22:00")
        assert list(d1.index) == list(pd.DatetimeIndex(["2023-06-05 21:00", "2023-06-06 21:00", "2023-06-07 21:00"], tz="UTC"))
        assert d1.attrs["aligned"] is False


def test_sunday_before_the_open_is_empty_not_an_error(tmp_path, monkeypatch):
    with local_yahoo(tmp_path, monkeypatch, "2026-11-08 20:00") as server:     # Sunday 15:00 New York
        for src in (real_source(server), fake_source(server)):
            for tf in ("M5", "H1", "H4", "D1"):
                assert src.fetch("USDJPY", tf, "2026-11-08 12:00", "2026-11-09 06:00").empty
            friday = src.fetch("USDJPY", "H1", "2026-11-06", "2026-11-08 21:00")
            assert friday.index[-1] == pd.Timestamp("2026-11-06 21:00", tz="UTC") and friday.attrs["forming_bar"] is None


@pytest.mark.parametrize("now,mn1_forming", [("2026-11-07 12:00", True), ("2026-10-31 12:00", False)])
def test_saturday_every_bar_of_the_week_is_complete(tmp_path, monkeypatch, now, mn1_forming):
    with local_yahoo(tmp_path, monkeypatch, now) as server:
        src = real_source(server)
        for tf in ("M1", "M15", "H1", "H4", "D1", "W1"):
            df = src.fetch("USDJPY", tf, server.now - pd.Timedelta(days=3), server.now)
            assert df.attrs["forming_bar"] is None and len(src.fetch("USDJPY", tf, server.now - pd.Timedelta(days=3), server.now,
                                                                   complete_only=True)) == len(df)
        mn1 = src.fetch("USDJPY", "MN1", server.now - pd.Timedelta(days=40), server.now)
        assert (mn1.attrs["forming_bar"] is not None) is mn1_forming


# --- FakeYahoo agrees with the real library -------------------------------------------------------------------------

def yfinance_download(server, proxy=None):
    import yfinance
    def call(*args, **kw): return yfinance.download(*args, session=server.session(proxy), **kw)
    return call


CASES = [("USDJPY=X", "2026-11-03 10:00", "2026-11-03 12:00", "1m"), ("USDJPY=X", "2026-11-02", "2026-11-04", "5m"),
         ("EURUSD=X", "2026-11-02", "2026-11-04", "15m"), ("EURUSD=X", "2026-11-02", "2026-11-04", "30m"),
         ("GBPJPY=X", "2026-10-26", "2026-11-04 15:00", "1h"), ("USDJPY=X", "2026-10-01", "2026-11-04", "1d"),
         ("USDJPY=X", "2026-06-01", "2026-11-04", "1wk"), ("USDJPY=X", "2025-01-01", "2026-11-04", "1mo"),
         ("USDJPY=X", "2026-03-20", "2026-04-03", "1h"), ("USDJPY=X", "2026-10-20", "2026-11-04 16:00", "1h")]


@pytest.mark.parametrize("multi", [True, False])
@pytest.mark.parametrize("ticker,start,end,interval", CASES)
def test_fake_yahoo_matches_the_real_download(yahoo, ticker, start, end, interval, multi):
    kw = dict(start=pd.Timestamp(start, tz="UTC").to_pydatetime(), end=pd.Timestamp(end, tz="UTC").to_pydatetime(),
              interval=interval, auto_adjust=False, progress=False, threads=False, multi_level_index=multi)
    real, real_log = download(yfinance_download(yahoo), ticker, **kw)
    fake, fake_log = download(FakeYahoo(now=yahoo.now), ticker, **kw)
    assert len(real) > 0 and real_log == fake_log == []
    assert type(real.columns) is type(fake.columns) and list(real.columns) == list(fake.columns)
    assert list(real.columns.names) == list(fake.columns.names)
    assert real.index.name == fake.index.name and str(real.index.dtype) == str(fake.index.dtype)
    assert real.dtypes.to_dict() == fake.dtypes.to_dict()
    pd.testing.assert_frame_equal(real, fake, check_exact=False, rtol=1e-12)


def normalized(lines):
    return [re.sub(r"curl: \(\d+\).*?(?=['\"]?\)?$)", "curl: (n) …", m) for m in lines]


@pytest.mark.parametrize("multi", [True, False])
@pytest.mark.parametrize("case", ["unknown", "offline", "offline_zone_cached", "rate_limited", "lookback"])
def test_fake_yahoo_fails_like_the_real_download(yahoo, monkeypatch, case, multi):
    import yfinance.base
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 2)     # the steady state: past a process's first two tickers
    ticker, start, end, interval = "USDJPY=X", "2026-11-02", "2026-11-03", "1h"
    fake, proxy = FakeYahoo(now=yahoo.now), None
    if case == "unknown": ticker = "XXXYYY=X"
    if case == "offline_zone_cached":      # one answer first: yfinance caches the ticker's zone
        download(yfinance_download(yahoo), ticker, start="2026-11-03", end="2026-11-04", interval="1h", progress=False)
        download(fake, ticker, start="2026-11-03", end="2026-11-04", interval="1h", progress=False)
    if case.startswith("offline"): proxy, fake.offline = refused(yahoo), "refused"
    if case == "rate_limited": yahoo.mode, fake.rate_limited = "rate_limited", 1
    if case == "lookback": start, interval = "2026-09-01", "1m"
    kw = dict(start=pd.Timestamp(start, tz="UTC").to_pydatetime(), end=pd.Timestamp(end, tz="UTC").to_pydatetime(),
              interval=interval, auto_adjust=False, progress=False, threads=False, multi_level_index=multi)
    real, real_log = download(yfinance_download(yahoo, proxy), ticker, **kw)
    fk, fake_log = download(fake, ticker, **kw)
    assert real.empty and fk.empty
    assert list(real.columns) == list(fk.columns) and list(real.columns.names) == list(fk.columns.names)
    assert real.index.name == fk.index.name and real.dtypes.to_dict() == fk.dtypes.to_dict()
    assert normalized(real_log) == normalized(fake_log)

