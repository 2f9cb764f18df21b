"Collection and the provider in-process at the test instant (AXIA_TEST_NOW): `make clock-matrix` runs this at every instant."
from __future__ import annotations
import pandas as pd
import pytest
from axia.collect import CollectOhlcvDataUseCase
from axia.core import bar_end, is_forming, is_market_open, latest_bar_open, market_closures
from axia.provider import OhlcvDataProvider, request_window, routes_with_sources
from axia.sources.dummy import DummyOhlcvSource
from axia.tiers.memory import MemoryOhlcvDataRepository
from axia.tiers.redis import RedisOhlcvDataRepository
from axia.tiers.s3 import S3OhlcvDataRepository

pytestmark = pytest.mark.clock
TFS = ["M5", "H1", "H4", "D1", "W1"]


@pytest.fixture
def stack(tmp_path, redis_url, clock):
    lake = S3OhlcvDataRepository(tmp_path / "lake", clock=clock)
    redis = RedisOhlcvDataRepository(redis_url, clock=clock)
    src = DummyOhlcvSource(clock=clock)
    report = CollectOhlcvDataUseCase(src, lake, redis, symbols=["USDJPY"], timeframes=TFS, backfill_days=12,
                                     clock=clock, progress=False).run()
    provider = OhlcvDataProvider({"memory": MemoryOhlcvDataRepository(clock=clock), "redis": redis, "s3": lake},
                                 {"dummy": src}, routes_with_sources(["dummy"]), clock=clock)
    yield dict(lake=lake, redis=redis, src=src, report=report, provider=provider)
    provider.close()


def test_collection_stores_every_complete_bar_and_no_other(stack, now):
    assert stack["report"].ok, str(stack["report"])
    for tf in TFS:
        stored = stack["lake"].read("USDJPY", tf)
        assert len(stored) and not is_forming(stored.index, tf, now).any()         # complete bars only
        assert (stored.index <= latest_bar_open(now, tf)).all()                    # nothing from the future
        newest = latest_bar_open(now, tf)
        if bar_end(newest, tf) <= now: assert stored.index[-1] == newest, tf       # a closed market: the last bar is in
        assert is_market_open(stored.index).all(), tf                              # no bar opens in a closure


@pytest.mark.parametrize("tf, days, use_case", [("M5", 1, "chart"), ("H1", 1, "analysis"), ("H1", 5, "chart"),
                                                 ("H4", 7, "analysis"), ("D1", 10, "chart")])
def test_every_route_answers_from_the_tiers_complete_and_fresh(stack, now, tf, days, use_case):
    df, meta = stack["provider"].get_data("USDJPY", tf, days, use_case)
    steps = [(s["step"], s["outcome"], s["reason"]) for s in meta["steps"]]
    assert meta["cache_hit"] and not meta["stale"] and not meta["partial"] and meta["synthetic"], steps
    w = request_window(tf, days, now)
    assert len(df) == len(w.grid) - bool(is_forming(w.latest, tf, now)), steps   # every bar the calendar has, but the forming one


def test_redis_holds_the_last_24_trading_hours(stack, now):
    m5 = stack["redis"].read("USDJPY", "M5")
    assert len(m5), "Redis holds nothing"
    closures = market_closures(m5.index[0], m5.index[-1])
    span = (m5.index[-1] + pd.Timedelta("5min") - m5.index[0]) - sum(((min(b, m5.index[-1]) - max(a, m5.index[0]))
                                                                      for a, b in closures), pd.Timedelta(0))
    assert span >= pd.Timedelta(hours=23), (m5.index[0], m5.index[-1], span)    # weekends and holidays do not eat it
