"The Redis client of the L2 tier: URLs, TLS, timeouts, circuit breaker, redaction, the embedded server."
from __future__ import annotations
import logging, subprocess, sys, threading, time, traceback
from pathlib import Path
import pytest
import redis
from redis.backoff import ExponentialBackoff
from axia.core import ConfigError, TierUnavailable
from axia.tiers.redis import (CircuitBreaker, EmbeddedRedis, RedisClient, RedisOhlcvDataRepository, _socket_path,
                              connect_redis, embedded_redis_url)
from axia.config import redact_url
from conftest import RedisServer, free_port, redis_server_binary

SECRET = "pw-Secret-7f3a9c"
ROOT = Path(__file__).resolve().parents[1]


# --- options -----------------------------------------------------------------------------------------
def test_client_sets_timeouts_retries_and_health_checks(redis_url):
    c = connect_redis(redis_url, socket_timeout=0.25, connect_timeout=0.3, retries=3, health_check_interval=7)
    kw = c.redis.connection_pool.connection_kwargs
    assert (kw["socket_timeout"], kw["socket_connect_timeout"], kw["health_check_interval"]) == (0.25, 0.3, 7)
    assert kw["retry"]._retries == 3 and isinstance(kw["retry"]._backoff, ExponentialBackoff)
    assert c.ping()


def test_rediss_turns_certificate_and_hostname_checks_on():
    c = connect_redis(f"rediss://default:{SECRET}@cache.example:6380/0")
    kw = c.redis.connection_pool.connection_kwargs
    assert c.redis.connection_pool.connection_class is redis.SSLConnection
    assert (kw["ssl_cert_reqs"], kw["ssl_check_hostname"]) == ("required", True)
    assert SECRET not in repr(c) + repr(c.redis)


def test_unknown_scheme_is_a_config_error_without_the_password():
    with pytest.raises(ConfigError) as e: connect_redis(f"http://u:{SECRET}@host:1")
    assert SECRET not in str(e.value) and "***" in str(e.value)


def test_redact_url_covers_the_user_part_and_the_unix_query():
    assert redact_url(f"rediss://axia:{SECRET}@h:6380/1") == "rediss://axia:***@h:6380/1"
    assert redact_url(f"unix:///s.sock?password={SECRET}&db=2") == "unix:///s.sock?password=***&db=2"


# --- real TLS -----------------------------------------------------------------------------------------
def _certs(d: Path):
    "A CA and a server certificate for DNS:localhost (not for 127.0.0.1)."
    def ssl(*args): subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=axia test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "srv.key", "-out", "srv.csr")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "ext.cnf", "-out", "srv.crt")
    return d / "ca.crt"


@pytest.fixture
def tls_server(tmp_path):
    import shutil
    if not shutil.which("openssl"): pytest.skip("openssl CLI needed to make test certificates")
    ca, port = _certs(tmp_path), free_port()
    proc = subprocess.Popen([redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", str(tmp_path / "srv.crt"), "--tls-key-file", str(tmp_path / "srv.key"),
                             "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--save", "", "--dir", str(tmp_path),
                             "--requirepass", SECRET], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    if proc.poll() is not None: pytest.skip(f"redis-server without TLS: {proc.stderr.read()[:200]!r}")
    yield port, str(ca)
    proc.kill(); proc.wait(5)


def test_tls_checks_the_certificate_and_the_host_name(tls_server):
    port, ca = tls_server
    url = f"rediss://default:{SECRET}@localhost:{port}/0"
    assert connect_redis(url, ssl_ca_certs=ca, connect_timeout=2).ping()
    with pytest.raises(TierUnavailable) as untrusted:                        # the system CAs do not know ours
        connect_redis(url, connect_timeout=2, retries=0).run(lambda r: r.ping())
    assert "certificate" in str(untrusted.value).lower() and SECRET not in str(untrusted.value)
    wrong_host = f"rediss://default:{SECRET}@127.0.0.1:{port}/0"             # the certificate names localhost only
    with pytest.raises(TierUnavailable):
        connect_redis(wrong_host, ssl_ca_certs=ca, connect_timeout=2, retries=0).run(lambda r: r.ping())


# --- ACL user and password ------------------------------------------------------------------------------
@pytest.fixture
def password_server(tmp_path):
    srv = RedisServer(tmp_path, password=SECRET).start()
    yield srv
    srv.kill()


def test_acl_user_and_password(password_server):
    admin = redis.Redis.from_url(password_server.url)
    admin.acl_setuser("axia", enabled=True, passwords=[f"+{SECRET}x"], keys=["ohlcv:*"], commands=["+@all"])
    port = password_server.port
    c = connect_redis(f"redis://axia:{SECRET}x@127.0.0.1:{port}/0")
    assert c.run(lambda r: r.acl_whoami()) == "axia"
    with pytest.raises(TierUnavailable, match="NoPermission"):    # the ACL's key pattern holds
        c.run(lambda r: r.set("other:key", 1))


def _everything_said(exc: BaseException, caplog, *objs) -> str:
    return "\n".join(["".join(traceback.format_exception(exc)), repr(exc), caplog.text, *map(repr, objs)])


def test_password_never_in_errors_logs_or_reprs(password_server, caplog):
    caplog.set_level(logging.DEBUG)
    port = password_server.port
    wrong = connect_redis(f"redis://default:{SECRET}-wrong@127.0.0.1:{port}/0")
    with pytest.raises(TierUnavailable) as bad_auth: wrong.run(lambda r: r.ping())
    said = _everything_said(bad_auth.value, caplog, wrong, wrong.redis, wrong.redis.connection_pool)
    assert "127.0.0.1" in said and SECRET not in said

    good = connect_redis(password_server.url, breaker_cooldown=60)
    repo = RedisOhlcvDataRepository(good)
    assert good.ping()
    password_server.kill()
    with pytest.raises(TierUnavailable) as down: repo.read("USDJPY", "M1")
    with pytest.raises(TierUnavailable) as fast: repo.read("USDJPY", "M1")
    said = _everything_said(down.value, caplog, good, good.redis, repo) + _everything_said(fast.value, caplog)
    assert "default:***@127.0.0.1" in said and SECRET not in said


def test_password_in_a_unix_url_query_is_redacted(tmp_path, caplog):
    c = connect_redis(f"unix://{tmp_path}/none.sock?password={SECRET}", retries=0)
    with pytest.raises(TierUnavailable) as e: c.run(lambda r: r.ping())
    said = _everything_said(e.value, caplog, c, c.redis)
    assert "password=***" in said and SECRET not in said


# --- circuit breaker -------------------------------------------------------------------------------------
@pytest.fixture
def connects(monkeypatch):
    "Counts TCP connection attempts made by redis-py."
    calls = []
    original = redis.connection.Connection._connect
    def counted(self): calls.append(time.monotonic()); return original(self)
    monkeypatch.setattr(redis.connection.Connection, "_connect", counted)
    return calls


def test_breaker_one_failure_then_fail_fast_then_one_probe(fresh_redis_server, connects):
    c = connect_redis(fresh_redis_server.url, retries=2, breaker_cooldown=0.5)
    assert c.ping() and len(connects) == 1
    fresh_redis_server.kill()
    with pytest.raises(TierUnavailable, match="ConnectionError"): c.run(lambda r: r.get("k"))
    attempts_first_failure = len(connects)
    assert 2 <= attempts_first_failure <= 1 + 3 and c.breaker.state == "open"   # 1 try + 2 retries at most

    t0 = time.perf_counter()
    for _ in range(200):
        with pytest.raises(TierUnavailable, match="circuit open"): c.run(lambda r: r.get("k"))
    fast = (time.perf_counter() - t0) / 200
    assert len(connects) == attempts_first_failure            # not one connection attempt during the cool-down
    assert fast < 0.05                                        # lenient: an attempt would cost ≥ the backoff

    fresh_redis_server.start()
    time.sleep(0.55)
    assert c.breaker.state == "half-open"
    assert c.run(lambda r: r.ping())                          # the probe ...
    assert c.breaker.state == "closed"                        # ... closes the breaker
    assert c.run(lambda r: r.set("k", 1)) and len(connects) == attempts_first_failure + 1


def test_failed_probe_reopens_the_breaker(fresh_redis_server, connects):
    c = connect_redis(fresh_redis_server.url, retries=0, breaker_cooldown=0.2)
    fresh_redis_server.kill()
    with pytest.raises(TierUnavailable): c.run(lambda r: r.ping())
    time.sleep(0.25)
    n = len(connects)
    with pytest.raises(TierUnavailable, match="ConnectionError"): c.run(lambda r: r.ping())   # the probe fails
    assert len(connects) == n + 1 and c.breaker.state == "open"
    with pytest.raises(TierUnavailable, match="circuit open"): c.run(lambda r: r.ping())


def test_server_errors_do_not_open_the_breaker(redis_url):
    c = connect_redis(redis_url)
    c.run(lambda r: r.set("a-string", "x"))
    with pytest.raises(TierUnavailable, match="WRONGTYPE"): c.run(lambda r: r.lpush("a-string", 1))
    assert c.breaker.state == "closed"


def test_other_exceptions_pass_through_and_free_the_probe():
    now = [0.0]
    c = connect_redis("redis://127.0.0.1:9/0", retries=0)
    c.breaker = CircuitBreaker(1.0, monotonic=lambda: now[0])
    with pytest.raises(TierUnavailable): c.run(lambda r: r.ping())
    now[0] = 2.0
    with pytest.raises(KeyError): c.run(lambda r: {}["x"])    # a bug in the callback, not Redis
    assert c.breaker.allow() is None                          # the next call may probe


def test_breaker_lets_exactly_one_probe_through_under_threads():
    now = [0.0]
    cb = CircuitBreaker(2.0, monotonic=lambda: now[0])
    cb.record(False)
    now[0] = 3.0
    barrier, allowed = threading.Barrier(32), []
    def call():
        barrier.wait()
        if cb.allow() is None: allowed.append(1)
    threads = [threading.Thread(target=call) for _ in range(32)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(allowed) == 1 and cb.state == "half-open"
    cb.record(True)
    assert cb.state == "closed"


# --- embedded server ----------------------------------------------------------------------------------
def _in_subprocess(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_embedded_server_is_started_once_shared_and_stopped(tmp_path):
    data = tmp_path / "data"
    started_by_child = _in_subprocess(
        f"from axia.tiers.redis import EmbeddedRedis; print(EmbeddedRedis({str(data)!r}, max_memory_mb=32).start().pid)")
    srv = EmbeddedRedis(data)                                     # the child has exited; its server has not
    try:
        assert srv.is_running() and str(srv.pid) == started_by_child
        assert srv.socket_path.parent == data.resolve() / "redis"
        r = redis.Redis(unix_socket_path=str(srv.socket_path))
        cfg = {k: r.config_get(k)[k] for k in ["port", "maxmemory", "maxmemory-policy", "save", "appendonly"]}
        assert cfg == {"port": "0", "maxmemory": str(32 * 1024 * 1024), "maxmemory-policy": "allkeys-lru",
                       "save": "", "appendonly": "no"}
        assert (srv.socket_path.stat().st_mode & 0o777) == 0o700
        assert embedded_redis_url(data) == srv.url                # reused, not restarted
        reused = _in_subprocess(f"from axia.tiers.redis import EmbeddedRedis; print(EmbeddedRedis({str(data)!r}).start().pid)")
        assert reused == started_by_child
        assert RedisOhlcvDataRepository(srv.url).client.ping()
    finally:
        srv.stop()
    assert not srv.is_running() and not srv.socket_path.exists()


def test_concurrent_starts_make_one_server(tmp_path):
    code = f"from axia.tiers.redis import EmbeddedRedis; print(EmbeddedRedis({str(tmp_path)!r}).start().pid)"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(3)]
    pids = {p.communicate(timeout=60)[0].strip() for p in procs}
    srv = EmbeddedRedis(tmp_path)
    try: assert pids == {str(srv.pid)}
    finally: srv.stop()


def test_stale_socket_file_is_replaced(tmp_path):
    srv = EmbeddedRedis(tmp_path)
    srv.socket_path.parent.mkdir(parents=True)
    srv.socket_path.write_text("left by a crash")
    with srv: assert srv.is_running()
    assert not srv.is_running()


def test_long_data_dir_gets_a_short_socket_path(tmp_path):
    long_dir = tmp_path / ("x" * 120) / "redis"
    path = _socket_path(long_dir)
    assert len(str(path)) <= 100 and path != _socket_path(tmp_path / ("y" * 120) / "redis")
    assert _socket_path(tmp_path / "redis") == tmp_path / "redis" / "redis.sock"


def test_repr_of_client(redis_url):
    c = RedisClient(redis_url)
    assert repr(c) == f"RedisClient({redis_url!r}, breaker=closed)"
