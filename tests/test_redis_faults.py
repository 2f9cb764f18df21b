"The Redis tier under faults: stalled servers, the embedded server's trust rules, tampered values, odd keys."
from __future__ import annotations
import shutil
import tempfile
import logging, os, signal, stat, subprocess, sys, threading, time
from pathlib import Path

import numpy as np
import pytest
import redis
from pandas.testing import assert_frame_equal

from axia.core import TierUnavailable
from axia.tiers.redis import EmbeddedRedis, RedisOhlcvDataRepository, _pack, _unpack, connect_redis, encode_bars
from conftest import redis_server_binary
from redis_support import SilentServer, StallingProxy, count_probes, redis_processes_on, stopped
from test_redis_tier import NOW, bars

ROOT = Path(__file__).resolve().parents[1]


# --- stalls are failures, not contention -----------------------------------------------------------------
@pytest.fixture
def silent():
    srv = SilentServer()
    yield srv
    srv.close()


def _elapsed_cooldowns(t0: float, cooldown: float) -> int: return int((time.monotonic() - t0) / cooldown)


def test_a_server_that_never_answers_opens_the_breaker_one_probe_per_cooldown(silent):
    client = connect_redis(silent.url, socket_timeout=0.05, connect_timeout=0.05, retries=1, breaker_cooldown=0.2)
    repo = RedisOhlcvDataRepository(client, clock=lambda: NOW)
    probes = count_probes(client.breaker)
    t0, outcomes = time.monotonic(), []
    while time.monotonic() - t0 < 1.5:
        for call in (lambda: repo.update("USDJPY", "M1", bars("M1", hours=1)), lambda: repo.read("USDJPY", "M1")):
            with pytest.raises(TierUnavailable) as e: call()
            outcomes.append(str(e.value))
    assert client.breaker.state in ("open", "half-open")
    assert sum("circuit open" in o for o in outcomes) >= len(outcomes) - len(probes) - 1   # the rest fail fast
    assert len(probes) <= _elapsed_cooldowns(t0, 0.2) + 1                                    # one probe per cool-down
    assert silent.accepted <= 4 * (len(probes) + 1)            # per failing call: (1 + 1 retry) × (connect + reconnect)


def test_a_stall_during_watch_is_a_failure_not_contention(fresh_redis_server):
    proxy = StallingProxy(fresh_redis_server.port)
    try:
        client = connect_redis(proxy.url, socket_timeout=0.1, retries=2, breaker_cooldown=30)
        repo = RedisOhlcvDataRepository(client, clock=lambda: NOW, max_attempts=100)
        df = bars("M1", hours=2)
        repo.set("USDJPY", "M1", df.iloc[:60])
        proxy.stall = True
        t0 = time.monotonic()
        with pytest.raises(TierUnavailable, match="WatchError.*TimeoutError|TimeoutError") as e:
            repo.update("USDJPY", "M1", df.iloc[60:])
        assert proxy.watches == 1                        # not retried as contention (was up to 100 WATCHes, ~50 s)
        assert time.monotonic() - t0 < 5                 # generous: one socket timeout, not a hundred
        assert client.breaker.state == "open" and "\n" not in str(e.value)
        with pytest.raises(TierUnavailable, match="circuit open"): repo.update("USDJPY", "M1", df.iloc[60:])
        assert proxy.watches == 1
    finally:
        proxy.close()
    direct = RedisOhlcvDataRepository(fresh_redis_server.url, clock=lambda: NOW)   # nothing half-written
    assert_frame_equal(direct.read("USDJPY", "M1"), df.iloc[:60])


def test_a_sigstopped_redis_costs_one_probe_per_cooldown_and_loses_nothing(fresh_redis_server):
    client = connect_redis(fresh_redis_server.url, socket_timeout=0.1, connect_timeout=0.1, retries=1, breaker_cooldown=0.25)
    repo = RedisOhlcvDataRepository(client, clock=lambda: NOW)
    df = bars("M1", hours=3)
    repo.set("USDJPY", "M1", df.iloc[:60])
    probes = count_probes(client.breaker)
    failed = 0
    with stopped(fresh_redis_server.proc.pid):
        t0 = time.monotonic()
        for i in range(60, 120):                              # one new bar per call, as a live feed does
            try: repo.update("USDJPY", "M1", df.iloc[[i]])
            except TierUnavailable: failed += 1
            time.sleep(0.01)
        cooldowns = _elapsed_cooldowns(t0, 0.25)
        assert failed == 60 and client.breaker.state != "closed"
        assert len(probes) <= cooldowns + 1
    time.sleep(0.3)                                           # past the cool-down: the next call probes and succeeds
    assert repo.update("USDJPY", "M1", df.iloc[60:]) == 120 and client.breaker.state == "closed"
    assert_frame_equal(repo.read("USDJPY", "M1"), df.iloc[:180])   # every bar of before and after, none lost


def test_a_long_lua_script_is_a_failure(fresh_redis_server):
    admin = redis.Redis.from_url(fresh_redis_server.url)
    admin.config_set("busy-reply-threshold", 100)              # answer BUSY after 100 ms of script
    client = connect_redis(fresh_redis_server.url, socket_timeout=2, retries=0, breaker_cooldown=30)
    blocker = threading.Thread(target=lambda: redis.Redis.from_url(fresh_redis_server.url).eval(
        "local t = redis.call('TIME'); while true do local n = redis.call('TIME'); if n[1] - t[1] >= 2 then break end end", 0))
    blocker.start()
    try:
        time.sleep(0.3)
        with pytest.raises(TierUnavailable, match="BUSY"): client.run(lambda r: r.get("k"))
        assert client.breaker.state == "open"
    finally:
        blocker.join(10)


# --- errors never carry payload bytes ----------------------------------------------------------------------
def test_out_of_memory_error_has_no_payload_bytes(fresh_redis_server):
    admin = redis.Redis.from_url(fresh_redis_server.url)
    admin.set("ballast", b"x" * 3 * 1024 * 1024)
    admin.config_set("maxmemory", 2 * 1024 * 1024); admin.config_set("maxmemory-policy", "noeviction")
    repo = RedisOhlcvDataRepository(fresh_redis_server.url, clock=lambda: NOW)
    df = bars("M1")
    for write in (lambda: repo.set("USDJPY", "M1", df), lambda: repo.update("EURUSD", "M1", df)):
        with pytest.raises(TierUnavailable, match="OutOfMemoryError|OOM") as e: write()
        text = str(e.value)
        assert "AXB1" not in text and "\\x" not in text and "\n" not in text and len(text) < 400, text
        assert e.value.__cause__ is None and e.value.__suppress_context__


# --- tampered and foreign values -----------------------------------------------------------------------------
def _tamper(payload: bytes, how: str) -> bytes:
    c = _unpack(payload)
    if how == "nan": c.prices[3, 5] = np.nan
    elif how == "inf": c.prices[1, 5] = np.inf
    elif how == "negative volume": c.volumes[0, 5] = -1
    elif how == "high below low": c.prices[1, 5] = c.prices[2, 5] - 1
    elif how == "zero price": c.prices[:, 5] = 0.0
    elif how == "times backwards": c.times[5], c.times[6] = c.times[6], c.times[5]
    elif how == "duplicate time": c.times[6] = c.times[5]
    return _pack(c)


@pytest.mark.parametrize("how", ["nan", "inf", "negative volume", "high below low", "zero price", "times backwards",
                                 "duplicate time"])
def test_a_well_framed_invalid_payload_is_a_logged_miss_then_overwritten(redis_url, caplog, how):
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)
    df = bars("M1", hours=2)
    repo.set("USDJPY", "M1", df)
    r = redis.Redis.from_url(redis_url)
    r.set("ohlcv:USDJPY:M1", _tamper(r.get("ohlcv:USDJPY:M1"), how), px=60_000)
    with caplog.at_level(logging.WARNING, "axia.tiers.redis"):
        assert repo.read("USDJPY", "M1").empty
    assert "ignoring ohlcv:USDJPY:M1: bars break a rule" in caplog.text
    info = {d["key"]: d for d in repo.get_info()["datasets"]}["ohlcv:USDJPY:M1"]
    assert info["bars"] == 0 and "rule" in info["problem"]
    assert repo.update("USDJPY", "M1", df.iloc[60:]) == 60             # the next write replaces it
    assert_frame_equal(repo.read("USDJPY", "M1"), df.iloc[60:])
    r.set("ohlcv:USDJPY:M1", _tamper(r.get("ohlcv:USDJPY:M1"), how), px=60_000)
    repo.cleanup()                                                      # … or cleanup deletes it
    assert r.exists("ohlcv:USDJPY:M1") == 0


ODD = {b"ohlcv:junk": "name is not", "ohlcv:\xff\xfe:M1".encode("latin-1"): "not UTF-8", b"ohlcv:X:H2": "timeframe",
       b"ohlcv:a:b:c": "name is not", b"ohlcv:USDJPY:m1": "timeframe name"}


def test_odd_keys_are_skipped_and_reported_never_fatal(redis_url):
    repo = RedisOhlcvDataRepository(redis_url, clock=lambda: NOW)
    repo.set("USDJPY", "M1", bars("M1"))
    r = redis.Redis.from_url(redis_url)
    for k in ODD: r.set(k, b"x")
    r.rpush("ohlcv:USDJPY:D1", b"a", b"b")
    r.hset("ohlcv:EURUSD:H1", "f", "v")
    info = repo.get_info()
    odd = {o["key"]: o["reason"] for o in info["odd_keys"]}
    assert set(odd) == {k.decode("utf-8", "backslashreplace") for k in ODD} | {"ohlcv:USDJPY:D1", "ohlcv:EURUSD:H1"}
    for k, why in ODD.items(): assert why in odd[k.decode("utf-8", "backslashreplace")]
    assert odd["ohlcv:USDJPY:D1"] == "not a string value"
    assert info["bars"] == 1440 and info["status"] == "OK"
    assert repo.read("USDJPY", "D1").empty and repo.read("EURUSD", "H1").empty   # a miss, not an error
    assert repo.cleanup() == 0
    assert {o["key"] for o in repo.last_odd_keys} == set(odd)
    assert all(r.exists(k) for k in [*ODD, "ohlcv:USDJPY:D1", "ohlcv:EURUSD:H1"])    # not ours: left alone
    assert repo.update("USDJPY", "D1", bars("D1", hours=72)) >= 1                  # an axia name: the next write wins
    assert len(repo.read("USDJPY", "D1")) >= 1


# --- the embedded server: one per directory, only ours ------------------------------------------------------
@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    "A private XDG_RUNTIME_DIR for this test, so long-path sockets never touch the machine's shared temp dir."
    d = Path(tempfile.mkdtemp(prefix="axrt-", dir="/tmp"))   # short, like /run/user/<uid>: a socket path must fit 107 bytes
    d.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def embedded(tmp_path):
    srv = EmbeddedRedis(tmp_path / "data", wait_timeout=3)
    yield srv
    if srv.pid: os.kill(srv.pid, signal.SIGCONT)
    srv.stop()


def test_a_slow_server_is_waited_for_and_never_replaced(embedded):
    pid = embedded.start().pid
    with stopped(pid):
        t = threading.Timer(0.8, os.kill, (pid, signal.SIGCONT))   # answers again after 0.8 s
        t.start()
        assert EmbeddedRedis(embedded.dir.parent, wait_timeout=5).start().pid == pid
        t.join()
    assert redis_processes_on(embedded.socket_path) == [pid]


def test_a_stalled_server_past_the_bound_is_one_clear_error_and_still_the_only_one(embedded):
    pid = embedded.start().pid
    with stopped(pid):
        with pytest.raises(TierUnavailable) as e: EmbeddedRedis(embedded.dir.parent, wait_timeout=0.5).start()
        assert f"pid {pid}" in str(e.value) and "not starting a second one" in str(e.value) and "\n" not in str(e.value)
        assert redis_processes_on(embedded.socket_path) == [pid] and embedded.socket_path.exists()
    assert embedded.is_running()


def test_stop_stops_a_stalled_server(embedded):
    pid = embedded.start().pid
    os.kill(pid, signal.SIGSTOP)
    assert embedded.stop(timeout=2) is True
    assert redis_processes_on(embedded.socket_path) == [] and not embedded.socket_path.exists()
    assert embedded.stop() is False


def test_a_killed_server_leaves_a_stale_socket_that_is_replaced(embedded):
    pid = embedded.start().pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while embedded.pid is not None and time.monotonic() < deadline: time.sleep(0.02)
    assert embedded.socket_path.exists()                      # left behind by the dead server
    new = EmbeddedRedis(embedded.dir.parent).start()
    assert new.pid not in (None, pid) and new.is_running()
    assert redis_processes_on(embedded.socket_path) == [new.pid]


def test_the_socket_directory_is_private(embedded, runtime_dir, tmp_path):
    embedded.start()
    assert stat.S_IMODE(embedded.dir.stat().st_mode) == 0o700 and embedded.dir.stat().st_uid == os.getuid()
    long = EmbeddedRedis(tmp_path / ("x" * 120))
    assert long.socket_path.parent == runtime_dir / "axia"
    try:
        long.start()
        assert stat.S_IMODE(long.socket_path.parent.stat().st_mode) == 0o700 and long.is_running()
    finally: long.stop()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory owned by another user")
def test_a_runtime_directory_owned_by_someone_else_is_refused(runtime_dir, tmp_path):
    planted = runtime_dir / "axia"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    with pytest.raises(TierUnavailable, match="not a directory owned by this user"):
        EmbeddedRedis(tmp_path / ("x" * 120)).start()


def test_a_planted_socket_is_refused_unless_the_url_names_it(runtime_dir, tmp_path):
    data = tmp_path / ("x" * 120)
    target = EmbeddedRedis(data)
    target.socket_path.parent.mkdir(mode=0o700, parents=True)
    planted = subprocess.Popen([redis_server_binary(), "--port", "0", "--unixsocket", str(target.socket_path),
                                "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not target.socket_path.exists() and time.monotonic() < deadline: time.sleep(0.02)
        redis.Redis(unix_socket_path=str(target.socket_path)).set("ohlcv:USDJPY:M1", encode_bars(bars("M1", hours=1)))
        with pytest.raises(TierUnavailable, match=f"did not start \\(pid {planted.pid}\\).*refusing"): target.start()
        assert target.stop() is False and planted.poll() is None      # not ours to stop either
        explicit = RedisOhlcvDataRepository(f"unix://{target.socket_path}", clock=lambda: NOW)
        assert len(explicit.read("USDJPY", "M1")) == 60                 # named in the URL: used as asked
    finally:
        planted.kill(); planted.wait(5)


def _fake_binary(tmp_path: Path, body: str) -> str:
    p = tmp_path / "fake-redis-server"
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return str(p)


@pytest.mark.parametrize("body, words", [
    ("echo '*** FATAL CONFIG FILE ERROR' >&2; exit 1", "exited with status 1: *** FATAL CONFIG FILE ERROR"),
    ("sleep 30", "did not start within 0.5 s"),
    ("exit 0", "did not answer"),
    (None, "cannot run the embedded redis-server"),
])
def test_failure_to_start_is_one_clear_line(tmp_path, body, words):
    binary = str(tmp_path / "missing") if body is None else _fake_binary(tmp_path, body)
    srv = EmbeddedRedis(tmp_path / "data", binary=binary, start_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(TierUnavailable) as e: srv.start()
    assert words in str(e.value) and "\n" not in str(e.value) and "Traceback" not in str(e.value)
    assert e.value.__cause__ is None and time.monotonic() - t0 < 5


def test_stop_is_callable_from_a_fresh_process(embedded):
    pid = embedded.start().pid
    code = f"from axia.tiers.redis import EmbeddedRedis; print(EmbeddedRedis({str(embedded.dir.parent)!r}).stop())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.strip() == "True", out.stderr
    assert redis_processes_on(embedded.socket_path) == [] and pid != embedded.pid
