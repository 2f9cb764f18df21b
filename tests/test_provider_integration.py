"The provider over real tiers: a real redis-server killed under load, and a real lake behind it."
import threading, time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from axia.provider import OhlcvDataProvider
from axia.sources.dummy import DummyOhlcvSource
from axia.tiers.redis import RedisOhlcvDataRepository, connect_redis
from axia.tiers.s3 import S3OhlcvDataRepository
from redis_support import count_probes

NOW = pd.Timestamp("2026-11-12 15:30", tz="UTC")
def clock(): return NOW
SYMBOLS = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"]


class CountingDummy(DummyOhlcvSource):
    "The synthetic source, counting its calls."
    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls, self._lock = 0, threading.Lock()
    def fetch(self, *a, **kw):
        with self._lock: self.calls += 1
        return super().fetch(*a, **kw)


@pytest.fixture
def stack(fresh_redis_server, tmp_path):
    "Redis then the lake for analysis; Redis then the synthetic source for charts (no L1, so Redis does the work)."
    client = connect_redis(fresh_redis_server.url, socket_timeout=0.2, connect_timeout=0.2, breaker_cooldown=0.5)
    redis_repo = RedisOhlcvDataRepository(client, clock=clock)
    lake = S3OhlcvDataRepository(str(tmp_path / "lake"), clock=clock)
    source = CountingDummy(clock=clock)
    routes = {"analysis": (("redis", "s3"), ("s3",)), "chart": (("redis", "dummy"), ("s3", "dummy")),
              "trading": (("dummy",), ("dummy",))}
    provider = OhlcvDataProvider({"redis": redis_repo, "s3": lake}, {"dummy": source}, routes, clock=clock)
    for sym in SYMBOLS:   # the nightly job's work: the lake holds history, Redis the last 24 h
        bars = source.fetch(sym, "M5", NOW - pd.Timedelta("3D"), NOW)
        lake.write(sym, "M5", bars); redis_repo.set(sym, "M5", bars)
    source.calls = 0
    return dict(server=fresh_redis_server, redis=redis_repo, lake=lake, source=source, provider=provider)


def test_redis_killed_under_500_requests_fails_none_and_loses_no_bar(stack):
    provider, server = stack["provider"], stack["server"]
    expected = {s: stack["lake"].read(s, "M5", NOW - pd.Timedelta("1D")) for s in SYMBOLS}
    probes = count_probes(stack["redis"].client.breaker)
    done, killed = [0], threading.Event()

    def request(i):
        sym = SYMBOLS[i % len(SYMBOLS)]
        df, meta = provider.get_data(sym, "M5", period_days=1, use_case="analysis")
        done[0] += 1
        if done[0] == 100 and not killed.is_set(): killed.set(); server.kill()
        return sym, df, meta

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool: results = list(pool.map(request, range(500)))
    cooldowns = (time.monotonic() - t0) / stack["redis"].client.breaker.cooldown

    assert killed.is_set() and len(results) == 500                                    # 0 failed requests
    for sym, df, meta in results:                                                      # 0 bars lost
        pd.testing.assert_frame_equal(df, expected[sym], check_freq=False)
    served = pd.Series([m["source"] for _, _, m in results]).value_counts()
    assert served.get("redis", 0) >= 90 and served.get("s3", 0) >= 300, served
    assert len(probes) <= int(cooldowns) + 1   # while the server is down: a probe per cool-down, not one per request

    server.start()                                    # Redis returns (empty: it keeps nothing on disk)
    time.sleep(0.6)                                   # past the cool-down
    probes.clear()
    after = [provider.get_data(s, "M5", period_days=1, use_case="chart")[1] for s in SYMBOLS * 20]
    assert len(probes) == 1 and stack["redis"].client.breaker.state == "closed"       # one probe closed it
    sources = [m["source"] for m in after]
    assert sources[:5] == ["dummy"] * 5                # first request per symbol refills Redis (write-back)…
    assert sources[5:] == ["redis"] * 95               # …and the hit ratio recovers to 100 %
    assert stack["source"].calls == 5


def test_a_dead_redis_costs_one_timeout_not_one_per_request(stack):
    "Whatever the load: every request not let through as a probe fails fast, probes come one per elapsed cool-down."
    provider, server = stack["provider"], stack["server"]
    expected = stack["lake"].read("USDJPY", "M5", NOW - pd.Timedelta("1D"))
    server.kill()
    probes = count_probes(stack["redis"].client.breaker)
    t0 = time.monotonic()
    answers = [provider.get_data("USDJPY", "M5", period_days=1, use_case="analysis") for _ in range(200)]
    cooldowns = (time.monotonic() - t0) / stack["redis"].client.breaker.cooldown
    for df, meta in answers:                                          # every request answered, nothing lost
        assert meta["source"] == "s3"
        pd.testing.assert_frame_equal(df, expected, check_freq=False)
    redis_steps = [m["steps"][0] for _, m in answers]
    assert all(s["outcome"] == "error" for s in redis_steps)
    slow = [s for s in redis_steps if "circuit open" not in s["reason"]]
    assert len(slow) <= len(probes) + 1                               # only the first call and the probes reached the network
    assert len(probes) <= int(cooldowns) + 1                          # one probe per cool-down, whatever the request rate


def test_a_tampered_redis_value_is_a_miss_and_the_lake_answers(stack, caplog):
    "A well-framed payload with impossible bars (NaN, high < low) is never served: the request falls back."
    import redis
    from axia.tiers.redis import _pack, _unpack
    provider, lake = stack["provider"], stack["lake"]
    r = redis.Redis.from_url(stack["server"].url)
    c = _unpack(r.get("ohlcv:USDJPY:M5"))
    c.prices[3, 10], c.prices[1, 20] = float("nan"), c.prices[2, 20] - 1
    r.set("ohlcv:USDJPY:M5", _pack(c), px=600_000)
    df, meta = provider.get_data("USDJPY", "M5", period_days=1, use_case="analysis")
    assert meta["source"] == "s3" and meta["steps"][0]["outcome"] != "hit", meta["steps"]
    pd.testing.assert_frame_equal(df, lake.read("USDJPY", "M5", NOW - pd.Timedelta("1D")), check_freq=False)
    month, meta = provider.get_data("USDJPY", "M5", period_days=3, use_case="chart")   # the stitched path too
    pd.testing.assert_frame_equal(month, lake.read("USDJPY", "M5", NOW - pd.Timedelta("3D")), check_freq=False)
    assert "ignoring ohlcv:USDJPY:M5: bars break a rule" in caplog.text


SATURDAY = pd.Timestamp("2026-11-14 12:00", tz="UTC")


def test_at_the_weekend_a_day_is_answered_from_redis(fresh_redis_server, tmp_path):
    "Redis keeps the last 24 trading hours through the closure, so a Saturday's day request never reaches the source."
    clock = lambda: SATURDAY                                              # noqa: E731
    redis_repo = RedisOhlcvDataRepository(connect_redis(fresh_redis_server.url), clock=clock)
    source = CountingDummy(clock=clock)
    provider = OhlcvDataProvider({"redis": redis_repo}, {"dummy": source},
                                 {"chart": (("redis", "dummy"), ("redis", "dummy"))}, clock=clock)
    for tf in ["M5", "H1"]:
        redis_repo.set("USDJPY", tf, source.fetch("USDJPY", tf, SATURDAY - pd.Timedelta("4D"), SATURDAY))
    source.calls = 0
    for tf in ["M5", "H1"]:
        df, meta = provider.get_data("USDJPY", tf, period_days=1, use_case="chart")
        assert meta["source"] == "redis", meta
        assert len(df) and df.index[-1] < SATURDAY
    assert source.calls == 0
