"""The Streamlit app, run in-process by AppTest: the production script on the environment's settings, and pages on
injected stacks, all at the test instant (AXIA_TEST_NOW: `tests/app_at.py` hands the app a frozen clock), so the
clock matrix runs the ones marked `clock` at every instant of the week."""
from __future__ import annotations
import json
from pathlib import Path
import pytest
from streamlit.testing.v1 import AppTest
from chart_support import APP_SCRIPT, app_env, fill_lake, injected_page
from conftest import TEST_NOW

APP_AT = Path(__file__).with_name("app_at.py")   # the production main on the test clock
NOW = TEST_NOW.isoformat()

TIMEOUT = 60


def figure(at) -> dict:
    "The spec the page handed to the chart component."
    charts = at.get("bidi_component")   # st.components.v2: the spec is the element's bytes, one JSON text
    assert len(charts) == 1, f"expected one chart, got {len(charts)}"
    assert charts[0].proto.component_name == "axia_chart"
    return json.loads(charts[0].proto.bytes)


def caption(at) -> str:
    "The line under the chart about the answer."
    return next(c.value for c in at.caption if " bars · from " in c.value)


def bar_count(at) -> int: return int(caption(at).split(" bars")[0].replace(",", ""))


def open_page(at, url_path: str):
    "Switch an AppTest to one of the app's `st.navigation` pages (AppTest.switch_page takes page files only)."
    hashes = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    assert hashes, f"no page {url_path!r} in {[i.get('url_pathname') for i in at._registered_pages.values()]}"
    at._page_hash = hashes[0]
    return at


def metrics(at) -> dict: return {m.label: m.value for m in at.metric}


def markdown_tables(at) -> list:
    "Tables drawn as Markdown (the route's steps), read back into frames."
    import pandas as pd
    out = []
    for m in at.markdown:
        rows = [[c.strip() for c in l.strip().strip("|").split(" | ")] for l in m.value.splitlines() if l.startswith("| ")]
        if len(rows) > 1: out.append(pd.DataFrame(rows[1:], columns=[c.strip() for c in rows[0]]))
    return out


def table(at, column: str):
    "The first table shown with `column` (the steps table has `step`, lake coverage has `symbol`), widget or Markdown."
    found = [t for t in [t.value for t in at.table] + markdown_tables(at) if column in t.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("axia-app")
    fill_lake(d, end=TEST_NOW)
    return d


@pytest.fixture
def app(data_dir, redis_url, monkeypatch):
    "The production app (apps/axia_app.py's main), configured only through AXIA_* variables, at the test instant."
    for k, v in app_env(data_dir, redis_url).items(): monkeypatch.setenv(k, v)
    monkeypatch.setenv("AXIA_TEST_NOW", NOW)
    return AppTest.from_file(str(APP_AT), default_timeout=TIMEOUT).run()


def test_launcher_is_the_checked_in_script():
    from axia.app import LAUNCHER, app_script
    assert APP_SCRIPT.read_text() == LAUNCHER
    assert app_script() == APP_SCRIPT


@pytest.mark.clock
def test_app_runs_and_draws_the_first_symbol(app):
    assert not app.exception
    fig = figure(app)
    assert fig["title"].startswith("USDJPY · H1 · from ") and "SYNTHETIC" in fig["title"]   # the lake holds dummy bars
    assert fig["note"].startswith("SYNTHETIC DATA")
    assert [l["name"] for l in fig["lines"]] == ["SMA 20", "Bollinger upper", "Bollinger lower"]
    assert app.sidebar.selectbox(key="symbol").options == ["USDJPY", "EURUSD"]
    assert app.sidebar.selectbox(key="timeframe").options == ["M1", "M15", "H1", "H4", "D1"]
    assert bar_count(app) > 400 and len(fig["time"]) == bar_count(app)   # 30 days of H1
    assert "SYNTHETIC" in caption(app) and " from dummy " not in caption(app)   # the lake answered, not the live source
    assert app.markdown[0].value == f"**{fig['title']}**"


@pytest.mark.clock
def test_selectors_change_the_chart(app):
    before = figure(app)
    app.sidebar.selectbox(key="symbol").select("EURUSD").run()
    eur = figure(app)
    assert not app.exception
    assert eur["title"].startswith("EURUSD · H1") and eur["decimals"] == 5
    assert eur["close"] != before["close"]
    app.sidebar.selectbox(key="timeframe").select("H4").run()
    assert figure(app)["title"].startswith("EURUSD · H4")
    app.sidebar.selectbox(key="period").select("1 week").run()
    assert bar_count(app) < 60                                      # a week of H4 bars is ~30
    app.sidebar.multiselect(key="overlays").select("ATR 14").unselect("Bollinger 20").run()
    assert [l["name"] for l in figure(app)["lines"]] == ["SMA 20"] and figure(app)["atr"]["name"] == "ATR 14"


@pytest.mark.clock
def test_a_link_presets_the_selectors(data_dir, redis_url, monkeypatch):
    for k, v in app_env(data_dir, redis_url).items(): monkeypatch.setenv(k, v)
    monkeypatch.setenv("AXIA_TEST_NOW", NOW)
    at = AppTest.from_file(str(APP_AT), default_timeout=TIMEOUT)
    at.query_params.update({"symbol": "EURUSD", "timeframe": "H4", "period": "1 week"})
    at.run()
    assert not at.exception and figure(at)["title"].startswith("EURUSD · H4") and bar_count(at) < 60


@pytest.mark.clock
def test_tier_health_has_its_own_page(app):
    assert not app.metric and not app.table          # the chart page draws the chart, not the report
    open_page(app, "health").run()
    assert not app.exception and not app.get("bidi_component")
    m = metrics(app)
    assert m["Redis"] in ("OK", "WARNING", "CRITICAL")
    assert m["Redis keys"].isdigit() and m["Redis memory"].endswith("MB")
    assert m["Cache hit ratio"].endswith("%")
    coverage = table(app, "symbol")
    assert {"USDJPY", "EURUSD"} <= set(coverage["symbol"])


@pytest.mark.clock
def test_empty_lake_tells_the_user_what_to_run(tmp_path, redis_url):
    at = AppTest.from_function(injected_page, args=(str(tmp_path), redis_url, ["broken"], NOW), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.get("bidi_component")
    assert any("No bars stored yet" in i.value and "axia collect --source dummy" in i.value for i in at.info)
    steps = table(at, "step")
    assert "broken" in set(steps["step"]) and "error" in set(steps["outcome"])


@pytest.mark.clock
def test_source_failure_shows_the_fallback_in_plain_words(tmp_path, redis_url):
    "A lake that stops three days ago, a live source that fails: the next step answers, and the boxes say so in words."
    import pandas as pd
    fill_lake(tmp_path, days=30, symbols=["USDJPY"], timeframes=["H1"], end=TEST_NOW - pd.Timedelta(days=3))
    at = AppTest.from_function(injected_page, args=(str(tmp_path), redis_url, ["broken", "dummy"], NOW), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert figure(at)["title"] == "USDJPY · H1 · from dummy · SYNTHETIC"
    warnings = [w.value for w in at.warning]
    assert "broken failed (SourceUnavailable: terminal not running (test)), so these bars come from the synthetic dummy source." in warnings, warnings
    assert any(w.startswith("The lake (with Redis for the last day) ") and w.endswith("so these bars come from the synthetic dummy source.")
               for w in warnings), warnings
    assert not any("instead" in w for w in warnings)
    steps = table(at, "step")
    assert list(steps["step"])[-2:] == ["broken", "dummy"]
    assert list(steps["outcome"])[-2:] == ["error", "hit"]
    assert " from dummy " in caption(at)


def test_a_frozen_clock_decides_the_forming_bar_the_cache_and_the_refresh(tmp_path, redis_url):
    "The lead's tests launch the app on a frozen clock: everything time-dependent follows it."
    from chart_support import clocked_page
    wed = "2024-03-20T12:30:00+00:00"                                # market open: the 12:00 H1 bar forms
    at = AppTest.from_function(clocked_page, args=(str(tmp_path), redis_url, wed), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert figure(at)["forming"] is True
    assert "fetched Wed 12:30 UTC · kept until Wed 13:00 UTC" in caption(at) and "redraws every 300 s" in caption(at)
    sat = "2024-03-23T12:00:00+00:00"                                # weekend: nothing forms, nothing polls
    at = AppTest.from_function(clocked_page, args=(str(tmp_path), redis_url, sat), default_timeout=TIMEOUT).run()
    assert figure(at)["forming"] is False
    assert "kept until Sun 21:00 UTC" in caption(at) and "no auto-refresh" in caption(at)


def test_run_app_serves_on_the_given_port_until_interrupted(tmp_path):
    "What `axia chart` does: `run_app(port, data_dir)` runs `streamlit run` headless and returns when interrupted."
    import signal, subprocess, sys, time, urllib.request
    from chart_support import free_port
    port = free_port()
    code = f"from axia.app import run_app; raise SystemExit(run_app(port={port}, data_dir={str(tmp_path)!r}))"
    from chart_support import like_a_terminal
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=like_a_terminal)   # Ctrl-C reaches it even when the suite runs in the background
    try:
        deadline, answered = time.monotonic() + 60, False
        while time.monotonic() < deadline and not answered:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r: answered = r.status == 200
            except OSError: time.sleep(0.2)
        assert answered, "streamlit did not answer on the requested port"
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None: proc.kill(); proc.wait(5)
    assert proc.returncode == 0, out
    assert "gatherUsageStats" not in out and f"axia chart: http://localhost:{port}" in out


def test_bad_settings_are_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("AXIA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXIA_SYMBOLS", "EUR/USD")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("could not start" in e.value and "symbols are" in e.value for e in at.error)
