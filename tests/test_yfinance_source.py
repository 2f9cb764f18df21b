"YFinanceOhlcvSource against the FakeYahoo stand-in (yfinance 1.x download shapes and failures); no network."
from __future__ import annotations
from zoneinfo import ZoneInfo
import numpy as np, pandas as pd, pytest
from axia.core import LookbackExceeded, RateLimited, SourceUnavailable, SymbolNotFound, bar_grid, bar_open
from axia.sources.yfinance import YFinanceOhlcvSource, yahoo_ticker, yf_frame
from axia.testing import fake_yf_download

NOW = pd.Timestamp("2026-11-04 15:37", tz="UTC")
NY = ZoneInfo("America/New_York")


def source(now=NOW, **kw):
    yf = fake_yf_download(now=now, **kw)
    return yf, YFinanceOhlcvSource(download=yf, backoff=0, clock=lambda: now)


@pytest.mark.parametrize("tf,interval,days", [("M1", "1m", 2), ("M5", "5m", 10), ("M15", "15m", 10), ("M30", "30m", 10),
                                              ("H1", "1h", 10), ("H4", "1h", 10), ("D1", "1d", 1500), ("W1", "1wk", 1500),
                                              ("MN1", "1mo", 1500)])
def test_interval_mapping(tf, interval, days):
    yf, src = source()
    start = NOW - pd.Timedelta(days=days)
    df = src.fetch("USDJPY", tf, start, start + pd.Timedelta(days=min(days, 40)) if days > 100 else NOW)
    assert {c["interval"] for c in yf.calls} == {interval} and len(df) > 0
    assert all(c["tickers"] == ["USDJPY=X"] and c["auto_adjust"] is False and c["multi_level_index"] is False
               and c["progress"] is False and c["threads"] is False for c in yf.calls)
    assert list(df.index) == list(bar_open(df.index, tf)) and str(df.index.tz) == "UTC"
    assert df.attrs["aligned"] is (days < 100)


def test_ticker_mapping():
    assert yahoo_ticker("USDJPY") == "USDJPY=X" and yahoo_ticker("EURUSD.pro") == "EURUSD.pro"
    yf, src = source(tickers=["GC=F"])
    src.tickers = {"XAUUSD": "GC=F"}
    assert len(src.fetch("XAUUSD", "H1", "2026-11-03", "2026-11-04")) == 24 and yf.calls[-1]["tickers"] == ["GC=F"]
    with pytest.raises(Exception, match="symbols are"): src.fetch("USD/JPY", "H1", "2026-11-03", "2026-11-04")
    assert len(yf.calls) == 1


def test_h4_resampled_from_1h_and_aligned():
    yf, src = source()
    start, end = pd.Timestamp("2026-10-28", tz="UTC"), pd.Timestamp("2026-11-04", tz="UTC")   # US DST ends on 1 Nov
    h4 = src.fetch("USDJPY", "H4", start, end)
    h1 = src.fetch("USDJPY", "H1", start - pd.Timedelta("4h"), end + pd.Timedelta("4h"))
    assert list(h4.index) == list(bar_grid(start, end, "H4"))[1:] or list(h4.index) == list(bar_grid(start, end, "H4"))
    for t in h4.index:
        assert t.tz_convert(NY).hour in {17, 21, 1, 5, 9, 13}
        part = h1[(h1.index >= t) & (h1.index < t + pd.Timedelta("4h"))]
        assert len(part) == 4 or t.tz_convert(NY).hour == 13 and len(part) <= 4
        assert h4.loc[t, "open"] == part.open.iloc[0] and h4.loc[t, "high"] == part.high.max()
        assert h4.loc[t, "low"] == part.low.min() and h4.loc[t, "close"] == part.close.iloc[-1]
    assert {c["interval"] for c in yf.calls} == {"1h"}


def test_d1_from_1h_follows_the_new_york_close_and_old_days_are_flagged():
    yf, src = source()
    d1 = src.fetch("USDJPY", "D1", "2026-10-26", "2026-11-04")
    assert list(d1.index.hour) == [21, 21, 21, 21, 22, 22, 22] and d1.attrs["aligned"] is True
    old = src.fetch("USDJPY", "D1", "2023-06-05", "2023-06-10")
    assert old.attrs["aligned"] is False and len(old) == 4 and yf.calls[-1]["interval"] == "1d"
    assert set(old.index.tz_convert(NY).hour) == {17}           # relabelled onto axia's grid …
    assert old.index[0] == pd.Timestamp("2023-06-05 21:00", tz="UTC")   # … London Monday opened Sunday 17:00 NY, before start
    src.resample_daily = False
    assert src.fetch("USDJPY", "D1", "2026-10-26", "2026-11-04").attrs["aligned"] is False


def test_1m_chunked_in_7_day_requests():
    yf, src = source()
    start = NOW - pd.Timedelta(days=20)
    m1 = src.fetch("USDJPY", "M1", start, NOW + pd.Timedelta("1min"))
    calls = [c for c in yf.calls if c["interval"] == "1m"]
    assert len(calls) == 3 and all(pd.Timestamp(c["end"]) - pd.Timestamp(c["start"]) <= pd.Timedelta(days=7) for c in calls)
    assert list(m1.index) == list(bar_grid(start, NOW + pd.Timedelta("1min"), "M1"))   # nothing lost or doubled at the seams
    assert m1.attrs["forming_bar"] == NOW.floor("1min")


@pytest.mark.parametrize("tf,days,limit", [("M1", 31, "30 days"), ("M5", 61, "60 days"), ("M30", 90, "60 days"),
                                           ("H1", 731, "730 days"), ("H4", 800, "730 days")])
def test_lookback_exceeded_names_the_limit(tf, days, limit):
    yf, src = source()
    with pytest.raises(LookbackExceeded, match=limit):
        src.fetch("USDJPY", tf, NOW - pd.Timedelta(days=days), NOW)
    assert yf.calls == []


def test_empty_answer_is_a_failure(caplog):
    yf, src = source(offline=True)
    with pytest.raises(SourceUnavailable, match="Could not resolve host"):
        src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert "Failed download" in caplog.text                       # yfinance logged it and returned an empty frame
    yf, src = source()
    with pytest.raises(SymbolNotFound, match="XXXYYY=X"): src.fetch("XXXYYY", "H1", "2026-11-03", "2026-11-04")
    weekend = src.fetch("USDJPY", "H1", "2026-10-31", "2026-11-01 21:00")   # Saturday → Sunday 16:00 NY: closed
    assert len(weekend) == 0 and len(yf.calls) == 1                         # no request over a closed market


def test_multiindex_flattened_and_tz_converted():
    yf = fake_yf_download(now=NOW)
    multi = yf("USDJPY=X", start="2026-07-01 08:00", end="2026-07-01 11:00", interval="1h", auto_adjust=False, progress=False)
    flat = yf("USDJPY=X", start="2026-07-01 08:00", end="2026-07-01 11:00", interval="1h", auto_adjust=False,
              progress=False, multi_level_index=False)
    assert isinstance(multi.columns, pd.MultiIndex) and list(multi.columns.names) == ["Price", "Ticker"]
    assert str(multi.index.tz) == "Europe/London" and multi.index[0].hour == 8            # 08:00 BST …
    out = yf_frame(multi)
    assert list(out.index.hour) == [7, 8, 9] and str(out.index.tz) == "UTC"               # … is 07:00 UTC
    pd.testing.assert_frame_equal(out, yf_frame(flat))
    assert (out.tick_volume == 0).all() and out.dtypes.to_dict() == yf_frame(flat).dtypes.to_dict()


def test_rate_limit_retried_then_raised(caplog):
    yf, src = source(rate_limited=2)
    src.retries = 3
    assert len(src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")) == 24
    assert src.stats["retries"] == 2 and len(yf.calls) == 3
    yf, src = source(rate_limited=10)
    src.retries = 2
    with pytest.raises(RateLimited, match="still rate limited after 2 retries"):
        src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert len(yf.calls) == 3
    yf, src = source(rate_limited=1, rate_limit="raise")       # Ticker.history-style: the error is raised
    assert len(src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")) == 24 and src.stats["retries"] == 1


def test_invalid_rows_dropped_and_reported():
    def tamper(ticker, interval, df):
        df = df.copy()
        if len(df) > 5: df.iloc[1, df.columns.get_loc("High")] = df.iloc[1]["Low"] / 2; df.iloc[3, 0] = np.nan
        return df
    yf, src = source(tamper=tamper)
    h1 = src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert len(h1) == 22 and h1.attrs["dropped"] == 2 and len(src.last_report) >= 2


def test_forming_bar_and_fetch_latest():
    yf, src = source()
    h1 = src.fetch("USDJPY", "H1", "2026-11-04", "2026-11-05")
    assert h1.attrs["forming_bar"] == pd.Timestamp("2026-11-04 15:00", tz="UTC")
    assert src.fetch("USDJPY", "H1", "2026-11-04", "2026-11-05", complete_only=True).index[-1] == pd.Timestamp("2026-11-04 14:00", tz="UTC")
    src2 = YFinanceOhlcvSource.from_settings(None, download=fake_yf_download(), backoff=0)   # real clock
    assert len(src2.fetch_latest("EURUSD", "H1", 5)) in range(1, 6)


def test_offline_is_source_unavailable_never_symbol_not_found():
    yf, src = source(offline="refused")
    with pytest.raises(SourceUnavailable, match=r"cannot reach Yahoo \(.*curl: \(7\)") as e:
        src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")
    assert not isinstance(e.value, SymbolNotFound) and src.stats["network"] == 1
    yf, src = source()
    src.fetch("USDJPY", "H1", "2026-11-03", "2026-11-04")           # the zone is cached now …
    yf.offline = True
    with pytest.raises(SourceUnavailable, match="no price data found") as e:   # … and yfinance logs no reason
        src.fetch("USDJPY", "H1", "2026-11-02", "2026-11-03")
    assert not isinstance(e.value, SymbolNotFound) and "\n" not in str(e.value)


@pytest.mark.parametrize("end", ["2023-06-07 21:01", "2023-06-07 22:59", "2023-01-11 22:30", "2023-01-11 23:59"])
def test_native_daily_keeps_the_fx_day_that_opened_before_the_end(end):
    yf, src = source()
    end = pd.Timestamp(end, tz="UTC")
    d1 = src.fetch("USDJPY", "D1", end - pd.Timedelta(days=3), end)
    assert d1.index[-1] == bar_open(end, "D1") and d1.attrs["aligned"] is False      # opened 21:00/22:00 UTC that day
    assert list(d1.index) == list(bar_grid(end - pd.Timedelta(days=3), end, "D1"))[-len(d1):]


SATURDAY, SUNDAY = pd.Timestamp("2026-11-07 12:00", tz="UTC"), pd.Timestamp("2026-11-08 20:00", tz="UTC")


@pytest.mark.parametrize("tf", ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1"])
def test_saturday_every_bar_of_the_week_is_complete(tf):
    yf, src = source(now=SATURDAY)
    start = SATURDAY - pd.Timedelta(days=10 if tf == "W1" else 4)
    df = src.fetch("USDJPY", tf, start, SATURDAY)
    assert len(df) and df.attrs["forming_bar"] is None
    kept = src.fetch("USDJPY", tf, start, SATURDAY, complete_only=True)
    assert kept.index[-1] == df.index[-1] == bar_open(pd.Timestamp("2026-11-06 21:59", tz="UTC"), tf)   # Friday's last bar


def test_mn1_forming_until_the_months_trading_ends():
    for now, forming in [(SATURDAY, True), (pd.Timestamp("2026-10-31 12:00", tz="UTC"), False)]:
        yf, src = source(now=now)
        mn1 = src.fetch("USDJPY", "MN1", now - pd.Timedelta(days=40), now)
        assert (mn1.attrs["forming_bar"] == mn1.index[-1]) is forming and (mn1.attrs["forming_bar"] is None) is not forming


@pytest.mark.parametrize("tf", ["M1", "M5", "H1", "H4", "D1", "W1", "MN1"])
def test_sunday_before_the_open_is_empty_not_an_error(tf):
    yf, src = source(now=SUNDAY)                     # 15:00 New York, the market opens at 17:00
    assert src.fetch("USDJPY", tf, SUNDAY - pd.Timedelta(hours=6), SUNDAY + pd.Timedelta(hours=8)).empty or tf in ("W1", "MN1")
    latest = src.fetch("USDJPY", tf, SUNDAY - pd.Timedelta(days=40 if tf in ("W1", "MN1") else 3), SUNDAY + pd.Timedelta(hours=8))
    assert len(latest) and latest.index[-1] <= SUNDAY and (latest.attrs["forming_bar"] is None or tf == "MN1")


def test_no_bar_opens_after_now():
    yf, src = source()
    h1 = src.fetch("USDJPY", "H1", NOW - pd.Timedelta("5h"), NOW + pd.Timedelta("5h"))
    assert h1.index[-1] == NOW.floor("1h") and src.fetch("USDJPY", "H1", NOW + pd.Timedelta("1h"), NOW + pd.Timedelta("5h")).empty
