"""The app in a real browser: a `streamlit run` server on dummy data (30 days of M1 and H1 in the lake), driven by
Debian's Chromium through Playwright. Screenshots go to tests/artifacts/ (light and dark, M1 30 days, cross-hair)."""
from __future__ import annotations
import shutil
from pathlib import Path
import pytest
from chart_support import CHART, ROOT, AppServer, app_env, fill_lake

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
IN_CHART = f"document.querySelector('{CHART}').shadowRoot"   # the chart's elements: in its shadow root, in the app's page


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    data_dir = tmp_path_factory.mktemp("axia-browser")
    fill_lake(data_dir, days=31, timeframes=["M1", "H1"])
    with AppServer(app_env(data_dir, redis_server.url)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    if not Path(CHROMIUM).exists(): pytest.fail(f"Chromium not found at {CHROMIUM} (tools/install_system_deps.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_chart(browser, url: str, scheme: str = "light"):
    "A page at `url` with the chart drawn; returns (page, the chart's element)."
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(f"{CHART} #chart canvas").first.wait_for(timeout=90_000)
    page.locator(f"{CHART} #legend").wait_for(timeout=90_000)
    page.wait_for_function("() => window.__axiaChart?.drawn", timeout=90_000)
    return page, page.query_selector(CHART)


def hover(page, chart, x: float = 0.6, y: float = 0.35) -> str:
    "Move the mouse over the price pane; the legend's text once it follows the cross-hair."
    box = chart.bounding_box()
    for dx in (x - 0.01, x):
        page.mouse.move(box["x"] + box["width"] * dx, box["y"] + box["height"] * y)
    page.wait_for_function(f"() => {IN_CHART}.getElementById('legend').dataset.hover", timeout=30_000)
    return page.locator(f"{CHART} #legend").inner_text()


def title(page) -> str: return page.locator("[data-testid=stMarkdownContainer] strong").first.inner_text()


def test_default_chart_and_another_symbol(browser, server):
    page, chart = open_chart(browser, server.url)
    assert title(page).startswith("USDJPY · H1 · from ") and title(page).endswith("SYNTHETIC")
    assert page.evaluate("() => window.__axiaChart.bars") > 400                     # 30 days of H1
    assert page.locator(f"{CHART} #note").inner_text().startswith("SYNTHETIC DATA")
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="EURUSD").click()
    page.wait_for_function("() => [...document.querySelectorAll('strong')].some(s => s.textContent.startsWith('EURUSD · H1'))",
                           timeout=60_000)
    page.wait_for_function("() => window.__axiaChart && window.__axiaChart.title.startsWith('EURUSD')"
                           " && window.__axiaChart.bars > 400", timeout=60_000)    # the chart redrawn, not only the title
    legend = hover(page, page.query_selector(CHART))
    assert "O 1." in legend and " UTC" in legend                                    # EURUSD prices, 5 decimals
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_thirty_days_of_m1_with_the_cross_hair(browser, server, scheme):
    page, chart = open_chart(browser, server.url + "/?timeframe=M1&period=30+days", scheme)
    assert title(page).startswith("USDJPY · M1")
    assert page.evaluate("() => window.__axiaChart.bars") > 29_000
    legend = hover(page, chart)
    for part in (" UTC", "O ", "H ", "L ", "C ", "Vol ", "SMA 20", "Bollinger upper"): assert part in legend, legend
    bg = page.evaluate(f"() => getComputedStyle({IN_CHART}.querySelector('.axia-wrap')).backgroundColor")
    luminance = sum(int(v) for v in bg[bg.index("(") + 1:bg.index(")")].split(",")[:3]) / 3
    assert (luminance < 60) if scheme == "dark" else (luminance > 200), bg           # the chart follows the app's theme
    assert bg == page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")   # the app's own
    page.locator(f"{CHART} #ranges button:has-text('1D')").click()                  # the range selector
    hover(page, chart, 0.5)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Reload").wait_for(timeout=30_000)   # the whole page in the
    page.get_by_text("Route of this answer").wait_for(timeout=30_000)                                # screenshot: the chart
    ARTIFACTS.mkdir(exist_ok=True)                                                                   # is drawn before them
    page.screenshot(path=str(ARTIFACTS / f"app_m1_30d_{scheme}.png"))
    page.close()
