"The provider with the real MT5 and yfinance adapters over their stand-ins, and a real Redis: trading falls MT5 → Redis → yfinance."
import pandas as pd
import pytest

from axia.provider import OhlcvDataProvider
from axia.sources.mt5 import Mt5OhlcvSource
from axia.sources.yfinance import YFinanceOhlcvSource
from axia.testing import FakeMT5, FakeYahoo
from axia.tiers.redis import RedisOhlcvDataRepository, connect_redis

NOW = pd.Timestamp("2026-11-12 15:30", tz="UTC")   # Thursday, market open
def clock(): return NOW


@pytest.fixture
def parts(redis_url, tmp_path):
    terminal, yahoo = FakeMT5(now=NOW), FakeYahoo(now=NOW)
    mt5 = Mt5OhlcvSource(mt5=terminal, lock_path=tmp_path / "mt5.lock", clock=clock)
    yf = YFinanceOhlcvSource(download=yahoo, retries=0, backoff=0, clock=clock)
    redis_repo = RedisOhlcvDataRepository(connect_redis(redis_url), clock=clock)
    provider = OhlcvDataProvider({"redis": redis_repo}, {"mt5": mt5, "yfinance": yf}, clock=clock, source_timeout=5)
    return dict(terminal=terminal, yahoo=yahoo, redis=redis_repo, provider=provider)


def steps(meta): return [(s["step"], s["outcome"]) for s in meta["steps"]]


def down(terminal):
    terminal.disconnect(); terminal.stay_down = True


def test_mt5_answers_first_and_its_bars_are_written_back(parts):
    df, meta = parts["provider"].get_data("USDJPY", "M15", period_days=1, use_case="trading")
    assert meta["source"] == "mt5" and steps(meta)[0] == ("mt5", "hit") and not meta["synthetic"]
    assert df.index[-1] == pd.Timestamp("2026-11-12 15:30", tz="UTC")            # the forming bar, live
    held = parts["redis"].read("USDJPY", "M15")
    assert len(held) and held.index[-1] >= df.index[-2]


def test_mt5_down_falls_to_redis(parts):
    parts["provider"].get_data("USDJPY", "M15", period_days=1, use_case="trading")   # fills Redis
    down(parts["terminal"])
    df, meta = parts["provider"].get_data("USDJPY", "M15", period_days=1, use_case="trading")
    assert steps(meta)[:2] == [("mt5", "error"), ("redis", "hit")] and meta["source"] == "redis"
    assert "terminal" in meta["steps"][0]["reason"].lower() or "mt5" in meta["steps"][0]["reason"].lower()
    assert len(df) > 80


def test_mt5_down_and_redis_empty_falls_to_yfinance(parts):
    down(parts["terminal"])
    df, meta = parts["provider"].get_data("EURUSD", "H1", period_days=1, use_case="trading")
    assert [s for s, _ in steps(meta)] == ["mt5", "redis", "yfinance"] and meta["source"] == "yfinance"
    assert steps(meta)[0][1] == "error" and steps(meta)[1][1] in ("miss", "empty")
    assert parts["yahoo"].calls and df.index.tz is not None and len(df) >= 20
    assert len(parts["redis"].read("EURUSD", "H1")) > 0                        # yfinance's answer was cached


def test_long_trading_goes_mt5_then_yfinance_never_redis(parts):
    down(parts["terminal"])
    df, meta = parts["provider"].get_data("GBPUSD", "H1", period_days=10, use_case="trading")
    assert [s for s, _ in steps(meta)] == ["mt5", "yfinance"] and meta["source"] == "yfinance"
    assert df.index[0] <= NOW - pd.Timedelta("9D")


def test_every_source_down_raises_with_every_reason(parts):
    from axia.core import SourceUnavailable
    down(parts["terminal"]); parts["yahoo"].offline = True
    with pytest.raises(SourceUnavailable) as e:
        parts["provider"].get_data("GBPJPY", "M5", period_days=1, use_case="trading")
    msg = str(e.value)
    assert "mt5" in msg and "redis" in msg and "yfinance" in msg
