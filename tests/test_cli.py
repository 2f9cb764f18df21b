"The `axia` command end to end, through a subprocess, as a user runs it (AXIA_DATA_DIR in a tmp dir), at the test instant."
from __future__ import annotations
import io, json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from axia.core import is_forming
from axia.provider import request_window
from axia.tiers.redis import EmbeddedRedis
from conftest import AXIA_AT, TEST_NOW, axia_env



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("axia")
    yield d
    EmbeddedRedis(d).stop()                       # the stack started it; leave no daemon behind


def axia(*args, data_dir=None, env=None, check=None):
    e = axia_env(**({"AXIA_DATA_DIR": str(data_dir)} if data_dir else {}), **(env or {}))
    r = subprocess.run(AXIA_AT + list(args), capture_output=True, env=e, timeout=120)
    r.out, r.err = r.stdout.decode(), r.stderr.decode()
    if check is not None: assert r.returncode == check, (r.returncode, r.out, r.err)
    return r


@pytest.fixture(scope="module")
def collected(data_dir):
    return axia("collect", "--source", "dummy", "--symbols", "USDJPY,EURUSD", "--timeframes", "M5", "H1", "D1",
                "--backfill-days", "5", data_dir=data_dir, check=0)


@pytest.mark.clock
def test_collect_prints_the_report_and_a_rerun_writes_nothing(collected, data_dir):
    assert "6 tasks, 6 ok, 0 failed" in collected.out and "SYNTHETIC" in collected.out
    again = axia("collect", "--source", "dummy", "--symbols", "USDJPY", "EURUSD", "--timeframes", "M5,H1,D1",
                 "--backfill-days", "5", data_dir=data_dir, check=0)
    assert "6 ok" in again.out and "0 bars written" in again.out
    assert len(list((data_dir / "runs").glob("collect-*.json"))) == 2


@pytest.mark.clock
def test_get_table_csv_and_parquet(collected, data_dir, tmp_path):
    t = axia("get", "USDJPY", "H1", "--days", "2", data_dir=data_dir, check=0)
    head = t.out.splitlines()[0]
    assert head.startswith("USDJPY H1 · ") and "SYNTHETIC" in head and "PARTIAL" not in head and "STALE" not in head
    c = axia("get", "USDJPY", "H1", "--days", "2", "--format", "csv", data_dir=data_dir, check=0)
    df = pd.read_csv(io.StringIO(c.out), index_col="time")
    w = request_window("H1", 2, TEST_NOW)                        # what the calendar says two days hold now,
    expected = len(w.grid) - bool(is_forming(w.latest, "H1", TEST_NOW))   # less the forming bar, never stored
    assert len(df) == expected and list(df.columns)[:4] == ["open", "high", "low", "close"]
    assert "SYNTHETIC" in c.err and c.err.splitlines()[-1].startswith("USDJPY H1 · ")   # the header on stderr only
    out = tmp_path / "m5.parquet"
    axia("get", "EURUSD", "M5", "--days", "1", "--format", "parquet", "-o", str(out), data_dir=data_dir, check=0)
    w5 = request_window("M5", 1, TEST_NOW)
    assert len(pd.read_parquet(out)) == len(w5.grid) - bool(is_forming(w5.latest, "M5", TEST_NOW))
    v = axia("get", "USDJPY", "H1", "-v", data_dir=data_dir, check=0)
    assert "route (chart):" in v.out and "memory" in v.out


@pytest.mark.clock
def test_parquet_straight_from_a_source(tmp_path):
    "An answer that comes from a source carries timestamps in its attrs; Parquet output must not choke on them."
    out = tmp_path / "d.parquet"
    r = axia("get", "GBPUSD", "H1", "--source", "dummy", "--format", "parquet", "-o", str(out), data_dir=tmp_path / "d", check=0)
    assert "from dummy" in r.err and len(pd.read_parquet(out)) > 0
    EmbeddedRedis(tmp_path / "d").stop()


@pytest.mark.clock
def test_history_by_date_range_and_bar_lengths_on_request(collected, data_dir):
    start = (TEST_NOW - pd.Timedelta(days=4)).floor("D")
    r = axia("get", "USDJPY", "H1", "--start", start.isoformat(), "--end", (start + pd.Timedelta(days=1)).isoformat(),
             "--use-case", "analysis", "--format", "csv", data_dir=data_dir, check=0)
    df = pd.read_csv(io.StringIO(r.out), index_col="time")
    w = request_window("H1", None, TEST_NOW, start=start, end=start + pd.Timedelta(days=1))
    assert len(df) == len(w.grid) and "STALE" not in r.err
    h2 = axia("get", "USDJPY", "H2", "--days", "2", data_dir=data_dir, check=0)
    assert "resampled from H1" in h2.out.splitlines()[0]


@pytest.mark.clock
def test_info_shows_every_tier_gaps_and_the_last_run(collected, data_dir):
    r = axia("info", data_dir=data_dir, check=0)
    assert "Redis (embedded): OK" in r.out and "ohlcv:USDJPY:H1" in r.out
    assert "6 series" in r.out and "missing bars (market open, nothing stored): 0 in 0 series" in r.out
    assert "Last collection run:" in r.out and "6 ok, 0 failed" in r.out
    j = json.loads(axia("info", "--json", data_dir=data_dir, check=0).out)
    assert j["lake"]["series"] == 6 and all(row["missing"] == 0 for row in j["lake"]["coverage"])


def test_symbols_lists_configured_and_stored(collected, data_dir):
    r = axia("symbols", data_dir=data_dir, check=0)
    assert "Configured: USDJPY, EURUSD, EURJPY, GBPUSD, GBPJPY" in r.out and "Stored (6 series)" in r.out


@pytest.mark.clock
def test_warmup_refills_an_emptied_redis(collected, data_dir):
    import redis
    server = EmbeddedRedis(data_dir)
    if server.is_running(): redis.Redis.from_url(server.url).flushall()
    r = axia("warmup", data_dir=data_dir, check=0)
    assert "6 series" in r.out
    assert "6 keys" in axia("info", data_dir=data_dir, check=0).out


def test_query_runs_sql_over_the_lake(collected, data_dir):
    r = axia("query", "--format", "csv", "SELECT symbol, timeframe, count(*) AS n FROM ohlcv GROUP BY ALL ORDER BY ALL",
             data_dir=data_dir, check=0)
    got = pd.read_csv(io.StringIO(r.out))
    assert len(got) == 6 and set(got.symbol) == {"USDJPY", "EURUSD"}
    bad = axia("query", "SELEKT nonsense", data_dir=data_dir, check=1)
    assert bad.err.startswith("axia: error: query failed") and bad.err.count("\n") == 1


@pytest.mark.clock
def test_an_unknown_symbol_gets_a_suggestion(collected, data_dir):
    r = axia("get", "usdjpy", "h1", data_dir=data_dir, check=2)
    assert r.err == "axia: error: unknown symbol 'usdjpy' — did you mean USDJPY? (broker symbols are case-sensitive)\n"


@pytest.mark.clock
def test_stop_stops_the_embedded_server(tmp_path):
    d = tmp_path / "s"
    axia("get", "USDJPY", "H1", "--source", "dummy", data_dir=d, check=0)
    assert EmbeddedRedis(d).is_running()
    assert "stopped" in axia("stop", data_dir=d, check=0).out and not EmbeddedRedis(d).is_running()
    assert "no embedded Redis is running" in axia("stop", data_dir=d, check=0).out


def test_the_default_data_dir_is_announced(tmp_path):
    r = subprocess.run(AXIA_AT + ["symbols"], capture_output=True, text=True, env=axia_env(), cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stderr.startswith(f"axia: data directory {tmp_path / '.axia'} (the default")


BAD = [(["get", "USDJPY", "H7"], "timeframes are"),
       (["get", "../../etc/passwd", "H1"], "symbols are"),
       (["get", "USDJPY", "H1", "--days", "-5"], "positive"),
       (["get", "USDJPY", "H1", "--days", "abc"], "'abc' is not a number of days"),
       (["get", "USDJPY", "H1", "--start", "yesterday-ish"], "is not a date"),
       (["orders", "--limit", "-1"], "from 1 to 100000"),
       (["orders", "--limit", "99999999999999999999"], "from 1 to 100000"),
       (["info", "--source", "dummy"], "unrecognized arguments"),
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


@pytest.mark.clock
def test_an_unreachable_redis_url_degrades_without_the_password(tmp_path):
    env = {"AXIA_REDIS_URL": "redis://default:hunter2secret@127.0.0.1:1/0"}
    c = axia("collect", "--source", "dummy", "--symbols", "USDJPY", "--timeframes", "H1", data_dir=tmp_path, env=env, check=0)
    assert "Redis unavailable" in c.err and "1 ok" in c.out and "Redis: skipped" in c.out   # the lake is still written
    g = axia("get", "USDJPY", "H1", data_dir=tmp_path, env=env, check=0)     # the lake answers
    assert g.out.startswith("USDJPY H1 · ") and "Redis unavailable" in g.err
    i = axia("info", data_dir=tmp_path, env=env, check=1)
    assert "UNAVAILABLE" in i.out and "Traceback" not in i.err
    for r in (c, g, i): assert "hunter2secret" not in r.err + r.out and "Traceback" not in r.err


def test_a_bad_setting_names_the_variable_not_the_value(tmp_path):
    r = axia("info", data_dir=tmp_path, env={"AXIA_BACKFILL_DAYS": "-3"})
    assert r.returncode == 1 and r.err.startswith("axia: error: AXIA_BACKFILL_DAYS") and r.err.count("\n") == 1
    for var, value, needle in [("AXIA_REDIS_CONNECT_TIMEOUT", "inf", "AXIA_REDIS_CONNECT_TIMEOUT"),
                               ("AXIA_REDIS_URL", "redis://[::1", "AXIA_REDIS_URL"),
                               ("AXIA_REDIS_URL", "redis://u:pw-secret@h:99999/0", "AXIA_REDIS_URL"),
                               ("AXIA_LAKE_URI", "file:///etc", "AXIA_LAKE_URI"),
                               ("AXIA_LAKE_URI", "s3://KEY:SECRET@bucket/x", "AXIA_LAKE_URI"),
                               ("AXIA_SYMBOLS", "", "AXIA_SYMBOLS")]:
        r = axia("info", data_dir=tmp_path, env={var: value})
        assert r.returncode == 1 and needle in r.err and r.err.count("\n") == 1, (var, r.err)
        assert "pw-secret" not in r.err and "SECRET" not in r.err and "Traceback" not in r.err
    assert not Path("file:").exists()


def test_unexpected_errors_are_one_line_with_a_hint(tmp_path, capsys, monkeypatch):
    from axia import cli
    monkeypatch.setitem(cli.COMMANDS, "symbols", lambda args, out=None, clock=None: 1 / 0)
    assert cli.main(["--data-dir", str(tmp_path), "symbols"]) == 1
    err = capsys.readouterr().err
    assert err == "axia: error: unexpected ZeroDivisionError: division by zero (run with -v for the traceback)\n"
    assert cli.main(["--data-dir", str(tmp_path), "-v", "symbols"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_help_explains_each_command_with_examples():
    top = axia("--help", check=0).out
    for cmd in ["collect", "get", "info", "symbols", "warmup", "query", "orders", "kill-switch", "chart", "stop"]: assert cmd in top
    for cmd in ["collect", "get", "info", "warmup", "query"]:
        h = axia(cmd, "--help", check=0).out
        assert "examples:" in h and f"axia {cmd}" in h.split("examples:")[1]
    assert "--source" in axia("get", "--help", check=0).out and "--source" not in axia("info", "--help", check=0).out


def test_help_needs_neither_pandas_nor_pydantic():
    code = "import sys; from axia.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\nprint(sorted(m for m in ('pandas', 'pydantic', 'numpy') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=axia_env(), timeout=60)
    assert r.stdout.strip().endswith("[]"), r.stdout


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "axia"
    assert exe.exists() and subprocess.run([str(exe), "--help"], capture_output=True).returncode == 0


@pytest.mark.parametrize("server_tz, setting, status", [("Europe/Athens", "Europe/Athens", 0), ("UTC+2", "America/New_York+7", 1)])
def test_detect_clock_through_the_real_mt5linux_client(tmp_path, server_tz, setting, status):
    "`axia detect-clock` on a broker bridge (the real mt5linux client, a local rpyc server hosting the MT5 stand-in)."
    from mt5_support import Bridges
    with Bridges() as make:
        b = make(pd.Timestamp("2026-03-18 12:00", tz="UTC"), server_tz=server_tz)    # three weeks around the US and EU changes
        r = axia("detect-clock", "EURUSD", data_dir=tmp_path, check=status,
                 env={"AXIA_MT5LINUX_HOST": "127.0.0.1", "AXIA_MT5LINUX_PORT": str(b.port), "AXIA_MT5_SERVER_TZ": setting})
    assert r.out.startswith("EURUSD: ") and "confidence" in r.out
    assert ("agrees with the bars" in r.out) if status == 0 else ("disagrees with the bars" in r.err)


def test_import_export_real_bars_end_to_end(tmp_path):
    "Real EURUSD H1 bars (backtesting.py's EURUSD.csv) imported, re-imported, read by date range, exported, read back without axia."
    from ingest_support import BACKTESTING_EURUSD
    d = tmp_path / "real"
    first = axia("import", str(BACKTESTING_EURUSD), "--symbol", "EURUSD", "--timeframe", "H1", data_dir=d, check=0)
    assert "stored 4,998" in first.out and "market closed" in first.out
    again = axia("import", str(BACKTESTING_EURUSD), "--symbol", "EURUSD", "--timeframe", "H1", data_dir=d, check=0)
    assert "stored 0 · already in the lake 4,998" in again.out
    g = axia("get", "EURUSD", "H1", "--start", "2017-05-01", "--end", "2017-06-01", "--use-case", "analysis", data_dir=d, check=0)
    head = g.out.splitlines()[0]
    assert head.startswith("EURUSD H1 · ") and "from s3" in head and "SYNTHETIC" not in head and "STALE" not in head
    out = tmp_path / "may.csv"
    axia("export", "EURUSD", "H1", "--start", "2017-05-01", "--end", "2017-06-01", "--format", "csv", "-o", str(out), data_dir=d, check=0)
    back = pd.read_csv(out, index_col="time", parse_dates=["time"])
    assert len(back) == int(head.split(" · ")[1].split()[0].replace(",", "")) and back.index.min() >= pd.Timestamp("2017-05-01", tz="UTC")
    assert json.loads(Path(f"{out}.json").read_text())["synthetic"] is False
    EmbeddedRedis(d).stop()


def test_lake_migrate_and_a_corrupt_partition_is_named(collected, data_dir):
    "`axia lake migrate` on a current lake changes nothing; a truncated month shows as CORRUPT in `axia info` and PARTIAL in `get`."
    r = axia("lake", "migrate", data_dir=data_dir, check=0)
    assert "0 rewritten" in r.out and "0 moved" in r.out
    part = sorted((data_dir / "lake").rglob("symbol=EURUSD/timeframe=M5/**/data.parquet"))[-1]
    saved = part.read_bytes()
    try:
        part.write_bytes(saved[: len(saved) // 2])                     # a truncated month file
        i = axia("info", data_dir=data_dir, check=1)
        assert "CORRUPT" in i.out and "corrupt" in i.err
    finally:
        part.write_bytes(saved)


def test_a_long_answer_shows_its_ends_in_one_aligned_table():
    from axia.cli import _show_frame
    from axia.sources.dummy import DummyOhlcvSource
    import pandas as pd
    now = pd.Timestamp("2026-11-04 12:00", tz="UTC")
    df = DummyOhlcvSource(clock=lambda: now).fetch("USDJPY", "H1", now - pd.Timedelta(days=2), now)
    lines = _show_frame(df, n=3).splitlines()
    assert len(lines) == 2 + 3 + 1 + 3 and lines[5] == f"...  ({len(df) - 6:,} more bars)"
    rows = lines[2:5] + lines[6:]
    assert len({len(l) for l in [lines[0]] + rows}) == 1                # every row under the column header
    assert rows[0].startswith(str(df.index[0])) and rows[-1].startswith(str(df.index[-1]))


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    "`axia … | head -1`: the pipe closes under a long answer; axia stops quietly with 141, as a shell would report it."
    code = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); from axia.cli import main; "
            "sys.exit(main(['--data-dir', sys.argv[1], 'get', 'USDJPY', 'H1', '--days', '30', '--source', 'dummy', "
            "'--format', 'csv']))")
    try: r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=axia_env(), timeout=120)
    finally: EmbeddedRedis(tmp_path).stop()                             # the get started the data directory's server
    assert r.returncode == 141, r.stderr
    assert "Broken pipe" not in r.stderr and "Traceback" not in r.stderr and "error" not in r.stderr


GC_PROBE = """
import gc, sys, axia.cli as cli
def probe(args, out=None, clock=None):
    print(gc.isenabled(), gc.get_freeze_count() > 100_000, 'pandas' in sys.modules); return 0
cli.COMMANDS['stop'] = probe
sys.argv = ['axia', 'stop']
cli.run()
"""


def test_the_console_script_resumes_the_gc_for_the_commands_work(tmp_path):
    "`run` pauses the cyclic GC while modules load; the command itself runs with it on, the loaded heap frozen."
    r = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=60,
                       env=axia_env(AXIA_DATA_DIR=str(tmp_path)))
    assert r.returncode == 0 and r.stdout.split() == ["True", "True", "True"], (r.stdout, r.stderr)


def test_main_from_python_leaves_the_gc_alone(tmp_path, monkeypatch, capsys):
    import gc
    from axia.cli import main
    from axia.core import fixed_clock
    monkeypatch.setenv("AXIA_DATA_DIR", str(tmp_path))
    frozen = gc.get_freeze_count()
    assert main(["stop"], clock=fixed_clock(TEST_NOW)) == 0                    # past argparse: the modules are loaded, nothing is frozen
    assert gc.isenabled() and gc.get_freeze_count() == frozen
