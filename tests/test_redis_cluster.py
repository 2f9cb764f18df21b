"""The Redis tier on a real local Redis Cluster (3 primaries, 3 replicas): routing, info and cleanup on every primary,
and a primary killed mid-run."""
from __future__ import annotations
import shutil, time

import pandas as pd
import pytest
import redis
from pandas.testing import assert_frame_equal

from axia.core import TierUnavailable
from axia.tiers.redis import RedisOhlcvDataRepository, connect_redis
from redis_support import LocalCluster, count_probes
from test_redis_tier import NOW, bars

pytestmark = pytest.mark.skipif(not shutil.which("redis-cli"), reason="redis-cli (Debian redis-tools) makes the cluster")
SYMBOLS, TIMEFRAMES = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"], ["M1", "M5", "H1"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    "One cluster for this module; the kill test comes last."
    c = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield c
    c.stop()


def _repo(cluster, **kw) -> RedisOhlcvDataRepository:
    client = connect_redis(cluster.url, socket_timeout=0.2, connect_timeout=0.2, retries=1, **kw)
    return RedisOhlcvDataRepository(client, clock=lambda: NOW)


def _slot_owner(cluster, key: str) -> int:
    "Port of the primary serving `key`'s slot."
    r = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    try: return r.get_node_from_key(key).port
    finally: r.close()


def test_every_command_is_single_slot_and_info_and_cleanup_cover_every_primary(cluster):
    repo = _repo(cluster)
    assert repo.client.cluster and repo.client.ping()
    data = {(s, tf): bars(tf, hours=26, seed=i) for i, s in enumerate(SYMBOLS) for tf in TIMEFRAMES}
    for (s, tf), df in data.items():
        repo.set(s, tf, df.iloc[:-3])
        assert repo.update(s, tf, df.iloc[-3:]) == 3                       # WATCH/MULTI/EXEC on the key's node
    for (s, tf), df in data.items():
        assert_frame_equal(repo.read(s, tf), df[df.index >= repo.retention_start(NOW, tf)])
    owners = {_slot_owner(cluster, repo.key(s, tf)) for s, tf in data}
    assert len(owners) == 3                                                # the keys live on all three primaries

    r = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    r.set("ohlcv:junk", b"x"); r.set("ohlcv:X:H2", b"x")                   # odd keys on some node
    info = repo.get_info()
    assert info["servers"] == 3 and info["keys"] == len(data)
    assert info["bars"] == sum(len(repo.read(s, tf)) for s, tf in data)
    assert {o["key"] for o in info["odd_keys"]} == {"ohlcv:junk", "ohlcv:X:H2"}
    later = RedisOhlcvDataRepository(repo.client, clock=lambda: NOW + pd.Timedelta("1h"))
    removed = later.cleanup()
    assert removed == sum(60 // int(tf[1:]) if tf != "H1" else 1 for _, tf in data)   # an hour of bars per key
    assert {o["key"] for o in later.last_odd_keys} == {"ohlcv:junk", "ohlcv:X:H2"}
    r.close()


def test_a_primary_killed_mid_run_costs_one_probe_per_cooldown_and_loses_no_bar(cluster):
    repo = _repo(cluster, breaker_cooldown=0.3)
    keys = [(s, tf) for s in SYMBOLS for tf in ["M1", "M5"]]
    feed = {k: bars(k[1], hours=30, now=NOW + pd.Timedelta("6h"), seed=i) for i, k in enumerate(keys)}
    held = {}
    for k, df in feed.items():
        first = df[df.index < NOW]
        repo.set(*k, first)
        held[k] = first[first.index >= repo.retention_start(NOW, k[1])]
    cluster.wait_replicated()                                              # replicas hold every bar: a loaded machine needs more than a fixed sleep
    victim = _slot_owner(cluster, repo.key(*keys[0]))
    probes = count_probes(repo.client.breaker)
    cluster.kill(victim)
    t0, outcomes, pending = time.monotonic(), {"ok": 0, "unavailable": 0}, {k: feed[k][feed[k].index >= NOW].iloc[:15] for k in keys}
    rounds, errors = 0, []
    while time.monotonic() - t0 < 60 and (any(len(p) for p in pending.values()) or rounds < 5):
        rounds += 1
        for k in keys:                                                     # a feed: one new bar per key per round
            bar = pending[k].iloc[:1]
            try:
                if len(bar): repo.update(*k, bar)
                got = repo.read(*k)
            except TierUnavailable as e:
                outcomes["unavailable"] += 1
                if "circuit open" not in str(e): errors.append(f"{time.monotonic() - t0:.1f} {e}")
                continue
            outcomes["ok"] += 1
            if len(bar):
                held[k] = pd.concat([held[k], bar]); pending[k] = pending[k].iloc[1:]
            assert_frame_equal(got, held[k], check_freq=False)             # an answer is never missing a bar
        time.sleep(0.02)
    elapsed = time.monotonic() - t0
    assert not any(len(p) for p in pending.values()), f"not recovered after {elapsed:.1f} s: {outcomes} {errors[-8:]}"
    assert outcomes["unavailable"] >= 1                                    # the kill was felt …
    assert len(probes) <= int(elapsed / 0.3) + 1                           # … one probe per cool-down while it lasted
    assert repo.client.breaker.state == "closed"
    for k in keys: assert_frame_equal(repo.read(*k), held[k], check_freq=False)   # 0 bars lost
    print(f"cluster fault run: {outcomes['ok']} calls answered, {outcomes['unavailable']} failed fast or probed "
          f"({len(probes)} probes in {elapsed:.1f} s), {sum(len(h) for h in held.values())} bars held, 0 lost")
    assert victim not in cluster.primary_ports()                           # a replica took over its slots
