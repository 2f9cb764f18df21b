"The app in a real browser: a `streamlit run` server on dummy data, driven by Debian's Chromium through Playwright."
from __future__ import annotations
import shutil
from pathlib import Path
import pytest
from chart_support import ROOT, AppServer, app_env, fill_lake

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
TITLE = ".js-plotly-plot .gtitle"


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    data_dir = tmp_path_factory.mktemp("axia-browser")
    fill_lake(data_dir)
    with AppServer(app_env(data_dir, redis_server.url)) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists(): pytest.fail(f"Chromium not found at {CHROMIUM} (tools/install_system_deps.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1900})
        page.goto(server.url, wait_until="domcontentloaded")
        yield page
        browser.close()


def chart_title(page) -> str:
    page.wait_for_selector(TITLE, timeout=60_000)
    return page.text_content(TITLE)


def test_chart_renders_candles_for_the_chosen_symbol(page):
    page.wait_for_selector(".js-plotly-plot .cartesianlayer .trace.boxes", timeout=60_000)   # candlestick traces
    assert chart_title(page).startswith("USDJPY · H1")
    candles = page.locator(".js-plotly-plot .cartesianlayer .trace.boxes path").count()
    assert candles > 400                                              # 30 days of H1 candles drawn
    assert page.locator(".js-plotly-plot .annotation-text", has_text="SYNTHETIC").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


def test_selecting_another_symbol_redraws(page):
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="EURUSD").click()
    page.wait_for_function(f"() => document.querySelector('{TITLE}')?.textContent.startsWith('EURUSD')", timeout=60_000)
    assert chart_title(page).startswith("EURUSD · H1")
    assert page.locator(".js-plotly-plot .cartesianlayer .trace.boxes path").count() > 400
    page.screenshot(path=str(ARTIFACTS / "app_eurusd.png"), full_page=True)
