"""The chart in a real browser: a `streamlit run` server on dummy data (local lake, embedded Redis), Debian's
Chromium through Playwright (`tools/install_system_deps.sh` installs it).

Two figures, each with its goal (issue 14):
- first render after server start: navigation → the app's default chart (USDJPY H1, 30 days) answering the
  cross-hair, median of 3 server starts, against a hello-world Streamlit app's first render (`st.title`);
  goal: ratio <= 1.5.
- 30 days of M1 (~30,000 candles): from the moment the chart's data reaches the page (the component's element
  is mounted) until the chart answers the cross-hair with a tooltip; median of 3 page loads; goal <= 1 s.
"Answers the cross-hair": the mouse moves over the price pane until the chart's legend follows it.

    python bench/browser_render.py
Prints one line per figure: median, baseline median, ratio, goal; exits 1 when a goal is missed.
"""
from __future__ import annotations
import os, shutil, statistics, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from chart_support import CHART, CHART_ELEMENT, AppServer, app_env, fill_lake  # noqa: E402
from axia.tiers.redis import EmbeddedRedis, embedded_redis_url  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIRST_RENDER_GOAL, M1_GOAL_S = 1.5, 1.0
HELLO = 'import streamlit as st\nst.title("hello")\n'

MOUNT_OBSERVER = """
window.__axia = {};
new MutationObserver(() => {
  if (!window.__axia.mounted && document.querySelector('%s'))
    window.__axia.mounted = performance.timeOrigin + performance.now();
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ['class']});
""" % CHART_ELEMENT   # the chart's element in the page (its key's class): its data has arrived


def wait_interactive(page, timeout_s: float = 120) -> float:
    "Move the mouse over the price pane until the chart's cross-hair legend follows it; the epoch ms it first did."
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        chart = page.query_selector(CHART)
        box = chart and chart.bounding_box()
        if box and box["height"] > 100:
            for dx in (0.55, 0.6):
                page.mouse.move(box["x"] + box["width"] * dx, box["y"] + box["height"] * 0.35)
            t = page.evaluate("() => window.__axiaChart && window.__axiaChart.interactive")
            if t: return t
        page.wait_for_timeout(10)
    raise TimeoutError("the chart never answered the cross-hair")


HELLO_DRAWN = "() => [...document.querySelectorAll('h1')].some(h => h.textContent.includes('hello'))"


def load(browser, url: str, drawn: str | None = None) -> tuple[float, dict]:
    "Seconds from navigation in a fresh browser context until `drawn` holds (None: the chart answers), and the page's marks (epoch ms)."
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.add_init_script(MOUNT_OBSERVER)
    page = ctx.new_page()
    t = time.perf_counter()
    page.goto(url, wait_until="commit")
    if drawn: page.wait_for_function(drawn, timeout=120_000, polling="raf")
    else: interactive = wait_interactive(page)
    elapsed = time.perf_counter() - t
    marks = page.evaluate("() => window.__axia || {}")
    if not drawn: marks["interactive"] = interactive
    ctx.close()
    return elapsed, marks


def line(name: str, median: float, base: float, base_name: str, ratio: float, goal: str, ok: bool) -> str:
    return (f"{name}: median {median:.2f} s, baseline ({base_name}) median {base:.2f} s, ratio {ratio:.2f}, "
            f"goal {goal} [{'OK' if ok else 'MISSED'}]")


def main() -> int:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as d:
        bars = fill_lake(Path(d), days=31, symbols=["USDJPY"], timeframes=["M1", "H1"])
        redis_url = embedded_redis_url(d)
        (Path(d) / "hello.py").write_text(HELLO)
        env = app_env(Path(d), redis_url)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                hello, firsts, m1 = [], [], []
                for _ in range(3):                       # one first render per server start
                    with AppServer(env, script=Path(d) / "hello.py") as srv:
                        hello.append(load(browser, srv.url, HELLO_DRAWN)[0])
                    with AppServer(env) as srv:
                        firsts.append(load(browser, srv.url)[0])
                        if not m1:
                            for _ in range(3):
                                _, marks = load(browser, srv.url + "/?timeframe=M1&period=30+days")
                                m1.append((marks["interactive"] - marks["mounted"]) / 1000)
                browser.close()
        finally:
            EmbeddedRedis(d).stop()
    first, base = statistics.median(firsts), statistics.median(hello)
    tti = statistics.median(m1)
    ok_first, ok_m1 = first / base <= FIRST_RENDER_GOAL, tti <= M1_GOAL_S
    print(line("browser first render after server start (USDJPY H1, 30 days, cross-hair answering)", first, base,
               "hello-world app", first / base, f"ratio <= {FIRST_RENDER_GOAL}", ok_first)
          + f"; starts {min(firsts):.2f}–{max(firsts):.2f} s")
    print(line(f"30 days of M1 ({bars[('USDJPY', 'M1')]:,} candles): data in the page → cross-hair answering", tti,
               M1_GOAL_S, "the goal", tti / M1_GOAL_S, f"<= {M1_GOAL_S:.0f} s", ok_m1)
          + f"; loads {min(m1):.2f}–{max(m1):.2f} s")
    print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0 if ok_first and ok_m1 else 1


if __name__ == "__main__":
    sys.exit(main())
