"One contract for IOhlcvDataRepository, run unchanged against every adapter: memory, Redis, the lake on disk and on S3."
import pandas as pd
import pytest

from axia.core import InvalidSymbol, empty_ohlcv, is_synthetic, mark_synthetic
from axia.sources.dummy import DummyOhlcvSource

NOW = pd.Timestamp("2026-11-12 15:30", tz="UTC")   # a Thursday afternoon
def clock(): return NOW


@pytest.fixture(params=["memory", "redis", "lake_local", "lake_s3"])
def repo(request, tmp_path):
    kind = request.param
    if kind == "memory":
        from axia.tiers.memory import MemoryOhlcvDataRepository
        return MemoryOhlcvDataRepository(clock=clock)
    if kind == "redis":
        from axia.tiers.redis import RedisOhlcvDataRepository, connect_redis
        return RedisOhlcvDataRepository(connect_redis(request.getfixturevalue("redis_url")), clock=clock)
    from axia.tiers.s3 import S3OhlcvDataRepository
    if kind == "lake_local": return S3OhlcvDataRepository(str(tmp_path / "lake"), clock=clock)
    return S3OhlcvDataRepository(request.getfixturevalue("s3_bucket") + "/lake",
                                 endpoint_url=request.getfixturevalue("moto_server"), clock=clock)


def bars(tf="M1", hours=20, seed=0, end=NOW):
    "Real-looking bars: `hours` of `tf` up to `end`, inside every tier's retention."
    df = DummyOhlcvSource(seed=seed, clock=lambda: end).fetch("USDJPY", tf, end - pd.Timedelta(hours=hours), end)
    df.attrs.clear()
    return df


def test_round_trip_is_exact(repo):
    b = bars()
    repo.write("USDJPY", "M1", b)
    got = repo.read("USDJPY", "M1")
    pd.testing.assert_frame_equal(got, b, check_freq=False)
    assert str(got.index.dtype) == "datetime64[ns, UTC]" and got.index.name == "time"


def test_get_returns_the_last_hours_up_to_now(repo):
    b = bars()
    repo.write("USDJPY", "M1", b)
    pd.testing.assert_frame_equal(repo.get("USDJPY", "M1", hours=6), b[b.index >= NOW - pd.Timedelta("6h")], check_freq=False)


def test_read_is_start_inclusive_end_exclusive(repo):
    b = bars("H1")
    repo.write("USDJPY", "H1", b)
    start, end = b.index[3], b.index[7]
    pd.testing.assert_frame_equal(repo.read("USDJPY", "H1", start, end), b.iloc[3:7], check_freq=False)


def test_write_merges_and_the_newer_bar_wins(repo):
    b = bars("M5")
    repo.write("USDJPY", "M5", b.iloc[:150])
    newer = b.iloc[100:].copy()
    newer.loc[newer.index[0], ["high", "close"]] = [newer.high.iloc[0] + 1, newer.high.iloc[0] + 0.5]
    repo.write("USDJPY", "M5", newer)
    got = repo.read("USDJPY", "M5")
    assert got.index.is_unique and len(got) == len(b)
    pd.testing.assert_frame_equal(got, pd.concat([b.iloc[:100], newer]), check_freq=False)


def test_nothing_stored_is_an_empty_frame_with_the_schema(repo):
    got = repo.read("EURUSD", "H4")
    assert got.empty
    pd.testing.assert_frame_equal(got, empty_ohlcv(), check_freq=False)


def test_keys_do_not_leak_between_symbols_or_timeframes(repo):
    repo.write("USDJPY", "M1", bars("M1"))
    repo.write("EURUSD.pro", "M15", bars("M15", seed=1))
    assert repo.read("USDJPY", "M15").empty and repo.read("EURUSD.pro", "M1").empty
    assert len(repo.read("EURUSD.pro", "M15")) == len(bars("M15", seed=1))


@pytest.mark.parametrize("bad", ["../evil", "a/b", "sym=1", "*", "EUR USD", "", "X" * 33])
def test_hostile_symbols_are_refused_before_any_io(repo, bad):
    with pytest.raises(InvalidSymbol):
        repo.write(bad, "M1", bars())
    with pytest.raises(InvalidSymbol):
        repo.read(bad, "M1")


def test_synthetic_provenance_survives_the_round_trip(repo):
    repo.write("GBPJPY", "H1", mark_synthetic(bars("H1")))
    assert is_synthetic(repo.read("GBPJPY", "H1"))
    repo.write("USDJPY", "H1", bars("H1"))
    assert not is_synthetic(repo.read("USDJPY", "H1"))
