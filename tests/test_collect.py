"The nightly collection on the real lake (a directory) and a real redis-server: incremental, isolated, resumable."
from __future__ import annotations
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pandas as pd
import pytest
from axia.core import AxiaError, Timeframe, is_synthetic
from axia.collect import CollectOhlcvDataUseCase, CollectReport, complete_bars, last_run, warm_cache
from axia.config import DEFAULT_SYMBOLS
from axia.sources.dummy import DummyOhlcvSource
from axia.tiers.redis import RedisOhlcvDataRepository
from axia.tiers.s3 import S3OhlcvDataRepository

NOW = pd.Timestamp("2026-11-25 10:30", tz="UTC")      # a Wednesday, market open
ALL_TF = [tf.value for tf in Timeframe]


def lake_at(root, now=NOW): return S3OhlcvDataRepository(root, clock=lambda: now)


def use_case(source, lake, redis, now=NOW, **kw):
    kw = {"symbols": DEFAULT_SYMBOLS, "timeframes": ALL_TF, "backfill_days": 3, "progress": False, **kw}
    return CollectOhlcvDataUseCase(source, lake, redis, clock=lambda: now, **kw)


def lake_snapshot(lake, symbols=DEFAULT_SYMBOLS, tfs=ALL_TF) -> dict:
    return {(s, tf): lake.read(s, tf) for s in symbols for tf in tfs}


@pytest.fixture
def tiers(tmp_path, redis_url):
    return lake_at(tmp_path / "lake"), RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)


def test_first_run_backfills_every_task_and_a_rerun_writes_nothing(tiers, tmp_path):
    lake, redis = tiers
    uc = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis, runs_dir=tmp_path / "runs")
    first = uc.run()
    assert (len(first.tasks), len(first.failures), first.ok) == (45, 0, True)
    assert all(t.bars_written > 0 for t in first.tasks if t.timeframe not in ("W1", "MN1"))   # those still form
    before = lake_snapshot(lake)
    assert first.bars_written == sum(len(f) for f in before.values())
    m1 = before[("USDJPY", "M1")]
    assert m1.index[0] == pd.Timestamp("2026-11-22 22:00", tz="UTC")       # 3 days back is Sunday: the market opens
    assert m1.index[-1] == NOW - pd.Timedelta("1min")                      # the 10:30 bar is forming

    second = uc.run()
    assert (second.ok, second.bars_written) == (True, 0)
    after = lake_snapshot(lake)
    for k in before: pd.testing.assert_frame_equal(after[k], before[k])
    assert last_run(tmp_path / "runs").to_dict() == second.to_dict()


def test_the_forming_bar_is_stored_only_once_complete(tiers):
    lake, redis = tiers
    src = DummyOhlcvSource(clock=lambda: NOW)
    use_case(src, lake, redis, symbols=["USDJPY"], timeframes=["H1", "D1"]).run()
    assert lake.read("USDJPY", "H1").index[-1] == pd.Timestamp("2026-11-25 09:00", tz="UTC")   # 10:00 forms
    later = NOW + pd.Timedelta("1h")
    src.clock = lambda: later
    rep = use_case(src, lake_at(lake.root, later), redis, now=later, symbols=["USDJPY"], timeframes=["H1", "D1"]).run()
    assert {t.timeframe: t.bars_written for t in rep.tasks} == {"H1": 1, "D1": 0}
    stored = lake.read("USDJPY", "H1")
    assert stored.index[-1] == pd.Timestamp("2026-11-25 10:00", tz="UTC")
    fresh = DummyOhlcvSource(clock=lambda: later).fetch("USDJPY", "H1", stored.index[0], later)
    pd.testing.assert_frame_equal(stored, fresh.iloc[:-1], check_freq=False)   # the complete bars, exactly


class FailsFor(DummyOhlcvSource):
    "The dummy source, except one series raises like a broker that lost it."
    def __init__(self, bad, **kw): super().__init__(**kw); self.bad = bad
    def fetch(self, symbol, timeframe, start, end):
        if (symbol, Timeframe.parse(timeframe).value) == self.bad: raise AxiaError("terminal returned no data for it")
        return super().fetch(symbol, timeframe, start, end)


def test_one_failing_task_among_45_is_reported_and_the_others_complete(tiers, tmp_path):
    lake, redis = tiers
    rep = use_case(FailsFor(("GBPJPY", "H4"), clock=lambda: NOW), lake, redis, runs_dir=tmp_path / "runs").run()
    assert (len(rep.tasks), len(rep.successes), rep.ok) == (45, 44, False)
    [bad] = rep.failures
    assert (bad.symbol, bad.timeframe, bad.error) == ("GBPJPY", "H4", "fetch: AxiaError: terminal returned no data for it")
    assert lake.read("GBPJPY", "H4").empty and len(lake.read("GBPJPY", "H1")) and len(lake.read("USDJPY", "H4"))
    text = str(rep)
    assert "44 ok, 1 failed" in text and "GBPJPY H4: fetch: AxiaError" in text
    saved = json.loads(Path(rep.path).read_text())
    assert [t["error"] for t in saved["tasks"] if not t["ok"]] == [bad.error]
    # the next run (source healthy again) fills exactly the missing series
    again = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis).run()
    assert again.ok and [t.timeframe for t in again.tasks if t.bars_written] == ["H4"]


def test_redis_gets_the_last_24h_and_is_cleaned_past_retention(tiers):
    lake, redis = tiers
    rep = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis, symbols=["USDJPY", "EURUSD"]).run()
    info = redis.get_info()
    assert info["keys"] == 18 and rep.redis_memory_bytes == info["used_memory_bytes"] or rep.redis_memory_bytes > 0
    m5 = redis.read("USDJPY", "M5")
    assert m5.index[0] > NOW - pd.Timedelta("24h5min") and m5.index[-1] == lake.read("USDJPY", "M5").index[-1]
    assert is_synthetic(m5)
    later = NOW + pd.Timedelta("3h")
    redis_later = RedisOhlcvDataRepository(redis.client, clock=lambda: later)
    rep2 = use_case(DummyOhlcvSource(clock=lambda: later), lake_at(lake.root, later), redis_later, now=later,
                    symbols=["USDJPY"]).run()                     # EURUSD not collected: only cleanup() trims it
    assert rep2.ok and rep2.redis_bars_cleaned > 0
    for s in ["USDJPY", "EURUSD"]: assert redis_later.read(s, "M5").index[0] > later - pd.Timedelta("24h5min")


def test_a_dead_redis_fails_the_tasks_with_the_reason_and_the_lake_still_fills(tmp_path, fresh_redis_server):
    lake = lake_at(tmp_path / "lake")
    redis = RedisOhlcvDataRepository(fresh_redis_server.url, clock=lambda: NOW)
    fresh_redis_server.kill()
    rep = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis, symbols=["USDJPY"], timeframes=["M5", "H1"]).run()
    assert not rep.ok and all(t.error.startswith("redis: TierUnavailable") for t in rep.failures)
    assert rep.bars_written > 0 and rep.redis_error
    fresh_redis_server.start()
    time.sleep(2.2)                                              # let the circuit breaker (2 s) half-open
    again = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis, symbols=["USDJPY"], timeframes=["M5", "H1"]).run()
    assert again.ok and again.bars_written == 0 and len(redis.read("USDJPY", "H1")) == 24


def test_invalid_bars_are_dropped_and_counted():
    src = DummyOhlcvSource(clock=lambda: NOW)
    got = src.fetch("USDJPY", "H1", NOW - pd.Timedelta("6h"), NOW)
    got.iloc[1, got.columns.get_loc("low")] = got["high"].iloc[1] + 1.0
    clean, dropped = complete_bars(got, NOW - pd.Timedelta("6h"), NOW)
    assert dropped == 1 and len(clean) == len(got) - 2 and got.index[1] not in clean.index


def test_bad_arguments_are_refused_before_any_io(tmp_path):
    lake = lake_at(tmp_path / "lake")
    with pytest.raises(AxiaError, match="symbols are"): use_case(DummyOhlcvSource(), lake, None, symbols=["../etc"])
    with pytest.raises(AxiaError, match="timeframes are"): use_case(DummyOhlcvSource(), lake, None, timeframes=["H7"])
    with pytest.raises(AxiaError, match="backfill_days"): use_case(DummyOhlcvSource(), lake, None, backfill_days=0)
    assert not (tmp_path / "lake").exists()


def test_warm_cache_copies_the_lake_into_an_empty_redis(tiers):
    lake, redis = tiers
    use_case(DummyOhlcvSource(clock=lambda: NOW), lake, None, symbols=["USDJPY"], timeframes=["M5", "D1"]).run()
    assert redis.get_info()["keys"] == 0
    done = warm_cache(lake, redis, clock=lambda: NOW)
    assert set(done) == {("USDJPY", "M5"), ("USDJPY", "D1")} and all(isinstance(v, int) and v > 0 for v in done.values())
    pd.testing.assert_frame_equal(redis.read("USDJPY", "M5"), lake.read("USDJPY", "M5", start=redis.read("USDJPY", "M5").index[0]))


def test_report_round_trips_through_json(tmp_path):
    rep = CollectReport(source="dummy", as_of=NOW.isoformat(), started_at=NOW.isoformat(), synthetic=True)
    rep.save(tmp_path)
    assert last_run(tmp_path).to_dict() == rep.to_dict() and "SYNTHETIC" in str(rep)


# ---------------------------------------------------------------- killed midway, then resumed

SCRIPT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from axia.collect import CollectOhlcvDataUseCase
    from axia.config import DEFAULT_SYMBOLS
    from axia.core import Timeframe
    from axia.sources.dummy import DummyOhlcvSource
    from axia.tiers.s3 import S3OhlcvDataRepository
    NOW = pd.Timestamp("{now}")
    class Slow(DummyOhlcvSource):
        def fetch(self, *a):
            out = super().fetch(*a); time.sleep(float(sys.argv[2])); return out
    lake = S3OhlcvDataRepository(sys.argv[1], clock=lambda: NOW)
    CollectOhlcvDataUseCase(Slow(clock=lambda: NOW), lake, None, symbols=DEFAULT_SYMBOLS, timeframes=list(Timeframe),
                            backfill_days=10, clock=lambda: NOW, progress=False, runs_dir=sys.argv[1] + "/../runs").run()
""").format(now=NOW.isoformat())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("data.parquet"))}


def test_a_run_killed_midway_resumes_with_nothing_lost_or_duplicated(tmp_path):
    script = tmp_path / "collect_job.py"; script.write_text(SCRIPT)
    killed, whole = tmp_path / "killed" / "lake", tmp_path / "whole" / "lake"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.05"])
    deadline = time.monotonic() + 60
    while len(_files(killed)) < 15 and time.monotonic() < deadline and proc.poll() is None: time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL); proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    partial = len(_files(killed))
    assert 0 < partial and not list((tmp_path / "killed" / "runs").glob("collect-*.json"))

    subprocess.run([sys.executable, str(script), str(killed), "0"], check=True)       # resume
    subprocess.run([sys.executable, str(script), str(whole), "0"], check=True)        # never interrupted
    a, b = lake_at(killed), lake_at(whole)
    assert _files(killed).keys() == _files(whole).keys()
    for (s, tf), frame in lake_snapshot(b).items():
        assert frame.index.is_unique and (len(frame) or tf == "MN1")           # November's MN1 bar still forms
        pd.testing.assert_frame_equal(lake_snapshot(a, [s], [tf])[(s, tf)], frame)
    assert last_run(tmp_path / "killed" / "runs").bars_written > 0


def test_a_lost_month_before_the_last_day_is_repaired(tmp_path, redis_url):
    "The month holding no bar of the re-read (here November, with December's first day stored after it) comes back."
    now = pd.Timestamp("2026-12-01 10:30", tz="UTC")
    lake, redis = lake_at(tmp_path / "lake", now), RedisOhlcvDataRepository(redis_url, clock=lambda: now)
    uc = use_case(DummyOhlcvSource(clock=lambda: now), lake, redis, now, symbols=["USDJPY"], timeframes=["H1"],
                  backfill_days=60)
    assert uc.run().ok
    before = lake.read("USDJPY", "H1")
    november = next((tmp_path / "lake").rglob("month=11/data.parquet"))
    november.write_bytes(november.read_bytes()[: november.stat().st_size // 2])      # torn mid-file
    assert len(lake.read("USDJPY", "H1")) < len(before)
    again = uc.run()
    assert again.ok and again.tasks[0].bars_repaired > 400
    pd.testing.assert_frame_equal(lake.read("USDJPY", "H1"), before)


class BrokerOnTrueTime(DummyOhlcvSource):
    "A broker terminal on the true time: like MT5, it returns its current bar among the others, unmarked."
    def fetch(self, symbol, timeframe, start, end):
        df = super().fetch(symbol, timeframe, start, min(end, self.clock() + Timeframe.parse(timeframe).duration))
        df.attrs.pop("forming_bar", None)
        return df


def test_a_clock_that_runs_fast_stores_nothing_unborn_and_the_next_run_repairs(tmp_path, redis_url):
    fast = NOW + pd.Timedelta("3h")
    lake, redis = lake_at(tmp_path / "lake", fast), RedisOhlcvDataRepository(redis_url, clock=lambda: fast)
    kw = dict(symbols=["USDJPY"], timeframes=["H1"])
    # axia 3 h fast, the broker on true time: the broker's current (forming) 10:00 bar is not stored as complete
    use_case(BrokerOnTrueTime(clock=lambda: NOW), lake, redis, fast, **kw).run()
    assert lake.read("USDJPY", "H1").index[-1] == pd.Timestamp("2026-11-25 09:00", tz="UTC")
    # the whole of axia 3 h fast (its source too): bars up to 12:00 are stored before they exist ...
    use_case(DummyOhlcvSource(clock=lambda: fast), lake, redis, fast, **kw).run()
    assert lake.read("USDJPY", "H1").index[-1] == pd.Timestamp("2026-11-25 12:00", tz="UTC")
    # ... and the next run on the true clock removes them and leaves what a clean run stores
    lake.clock = redis.clock = lambda: NOW
    report = use_case(DummyOhlcvSource(clock=lambda: NOW), lake, redis, NOW, **kw).run()
    assert report.ok and report.tasks[0].bars_unborn == 3                     # 10:00 (forming at 10:30), 11:00, 12:00
    clean = lake_at(tmp_path / "clean")
    use_case(DummyOhlcvSource(clock=lambda: NOW), clean, None, NOW, **kw).run()
    pd.testing.assert_frame_equal(lake.read("USDJPY", "H1"), clean.read("USDJPY", "H1"))
    assert redis.read("USDJPY", "H1").index[-1] == pd.Timestamp("2026-11-25 09:00", tz="UTC")


def test_a_source_without_a_bar_yet_at_the_sunday_open_keeps_fridays_last():
    "Behind our clock means behind the last complete *trading* bar: at 17:00:30 New York on Sunday that is Friday's."
    sunday = pd.Timestamp("2026-11-08 22:00:30", tz="UTC")
    friday = DummyOhlcvSource(clock=lambda: pd.Timestamp("2026-11-07 12:00", tz="UTC")).fetch(
        "USDJPY", "H1", pd.Timestamp("2026-11-06 12:00", tz="UTC"), sunday)
    assert friday.index[-1] == pd.Timestamp("2026-11-06 21:00", tz="UTC")
    kept, _ = complete_bars(friday, friday.index[0], sunday, "H1")
    assert kept.index[-1] == friday.index[-1]
    kept, _ = complete_bars(friday, friday.index[0], sunday + pd.Timedelta("3h"), "H1")   # 3 bars behind: maybe forming
    assert kept.index[-1] == friday.index[-2]
