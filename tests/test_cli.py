"The `axia` command end to end, through a subprocess, as a user runs it (AXIA_DATA_DIR in a tmp dir)."
from __future__ import annotations
import io, json, os, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from axia.tiers.redis import EmbeddedRedis

AXIA = [sys.executable, "-m", "axia.cli"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("axia")
    yield d
    EmbeddedRedis(d).stop()                       # the stack started it; leave no daemon behind


def axia(*args, data_dir=None, env=None, check=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AXIA_")}
    e.update(CI="1", **({"AXIA_DATA_DIR": str(data_dir)} if data_dir else {}), **(env or {}))
    r = subprocess.run(AXIA + list(args), capture_output=True, env=e, timeout=120)
    r.out, r.err = r.stdout.decode(), r.stderr.decode()
    if check is not None: assert r.returncode == check, (r.returncode, r.out, r.err)
    return r


@pytest.fixture(scope="module")
def collected(data_dir):
    return axia("collect", "--source", "dummy", "--symbols", "USDJPY,EURUSD", "--timeframes", "M5", "H1", "D1",
                "--backfill-days", "3", data_dir=data_dir, check=0)


def test_collect_prints_the_report_and_a_rerun_writes_nothing(collected, data_dir):
    assert "6 tasks, 6 ok, 0 failed" in collected.out and "SYNTHETIC" in collected.out
    again = axia("--source", "dummy", "collect", "--symbols", "USDJPY", "EURUSD", "--timeframes", "M5,H1,D1",
                 "--backfill-days", "3", data_dir=data_dir, check=0)
    assert "6 ok" in again.out and len(list((data_dir / "runs").glob("collect-*.json"))) == 2


def test_get_table_csv_and_parquet(collected, data_dir, tmp_path):
    t = axia("get", "USDJPY", "H1", "--days", "2", "--source", "dummy", data_dir=data_dir, check=0)
    assert "USDJPY H1" in t.out and "metadata:" in t.out and '"synthetic": true' in t.out
    c = axia("get", "USDJPY", "H1", "--days", "2", "--format", "csv", "--source", "dummy", data_dir=data_dir, check=0)
    df = pd.read_csv(io.StringIO(c.out), index_col="time")
    assert 40 <= len(df) <= 49 and list(df.columns)[:4] == ["open", "high", "low", "close"]
    assert json.loads(c.err[c.err.index("{"):])["synthetic"] is True          # metadata on stderr only
    out = tmp_path / "h1.parquet"
    axia("get", "EURUSD", "M5", "--days", "1", "--format", "parquet", "-o", str(out), "--source", "dummy",
         data_dir=data_dir, check=0)
    assert len(pd.read_parquet(out)) > 200


def test_info_shows_every_tier_gaps_and_the_last_run(collected, data_dir):
    r = axia("info", "--source", "dummy", data_dir=data_dir, check=0)
    assert "Redis (embedded): OK" in r.out and "ohlcv:USDJPY:H1" in r.out
    assert "6 series" in r.out and "missing bars (market open, nothing stored): 0 in 0 series" in r.out
    assert "Last collection run:" in r.out and "6 ok, 0 failed" in r.out
    j = json.loads(axia("info", "--json", "--source", "dummy", data_dir=data_dir, check=0).out)
    assert j["lake"]["series"] == 6 and all(row["missing"] == 0 for row in j["lake"]["coverage"])


def test_warmup_refills_an_emptied_redis(collected, data_dir):
    import redis
    redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock")).flushall() if (data_dir / "redis" / "redis.sock").exists() \
        else EmbeddedRedis(data_dir).start()
    r = axia("warmup", "--source", "dummy", data_dir=data_dir, check=0)
    assert "6 series" in r.out
    assert "6 keys" in axia("info", "--source", "dummy", data_dir=data_dir, check=0).out


def test_query_runs_sql_over_the_lake(collected, data_dir):
    r = axia("query", "--format", "csv", "SELECT symbol, timeframe, count(*) AS n FROM ohlcv GROUP BY ALL ORDER BY ALL",
             data_dir=data_dir, check=0)
    got = pd.read_csv(io.StringIO(r.out))
    assert len(got) == 6 and set(got.symbol) == {"USDJPY", "EURUSD"}
    bad = axia("query", "SELEKT nonsense", data_dir=data_dir, check=1)
    assert bad.err.startswith("axia: error: query failed") and bad.err.count("\n") == 1


BAD = [(["get", "USDJPY", "H7"], "timeframes are"),
       (["get", "../../etc/passwd", "H1"], "symbols are"),
       (["get", "USDJPY", "H1", "--days", "-5"], "positive"),
       (["collect", "--symbols", "EUR/USD"], "symbols are"),
       (["collect", "--source", "bloomberg"], "invalid choice"),
       (["nonsense"], "invalid choice")]


def test_bad_arguments_get_one_line_and_a_nonzero_exit(tmp_path, capsys, monkeypatch):
    r = axia("get", "EUR/USD;rm -rf", "H1", data_dir=tmp_path)          # as a user would type it
    assert r.returncode == 2 and r.out == "" and r.err.startswith("axia: error:") and r.err.count("\n") == 1
    from axia.cli import main
    monkeypatch.setenv("AXIA_DATA_DIR", str(tmp_path))
    for args, expect in BAD:                                             # the rest in-process: same code path
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("axia: error:") and expect in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "lake").exists()                              # refused before any I/O


def test_an_unreachable_redis_url_is_one_line_without_the_password(tmp_path):
    env = {"AXIA_REDIS_URL": "redis://default:hunter2secret@127.0.0.1:1/0"}
    for args in (["collect", "--source", "dummy", "--symbols", "USDJPY", "--timeframes", "H1"],
                 ["get", "USDJPY", "H1", "--source", "dummy"]):
        r = axia(*args, data_dir=tmp_path, env=env)
        assert r.returncode == 1 and r.err.count("\n") == 1 and "unreachable" in r.err, (args, r.err)
        assert "hunter2secret" not in r.err + r.out and "Traceback" not in r.err
    r = axia("info", data_dir=tmp_path, env=env)
    assert r.returncode == 1 and "UNREACHABLE" in r.out and "hunter2secret" not in r.err + r.out


def test_a_bad_setting_names_the_variable_not_the_value(tmp_path):
    r = axia("info", data_dir=tmp_path, env={"AXIA_BACKFILL_DAYS": "-3"})
    assert r.returncode == 1 and r.err.startswith("axia: error: AXIA_BACKFILL_DAYS") and r.err.count("\n") == 1


def test_help_explains_each_command_with_examples():
    top = axia("--help", check=0).out
    for cmd in ["collect", "get", "info", "warmup", "query", "orders", "kill-switch"]: assert cmd in top
    for cmd in ["collect", "get", "info", "warmup", "query"]:
        h = axia(cmd, "--help", check=0).out
        assert "examples:" in h and f"axia {cmd}" in h.split("examples:")[1]


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "axia"
    assert exe.exists() and subprocess.run([str(exe), "--help"], capture_output=True).returncode == 0
