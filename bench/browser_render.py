"""First render of the chart in a real browser: a `streamlit run` server on dummy data (local lake, embedded
Redis), Debian's Chromium through Playwright. Measured from navigation to the candlesticks drawn by plotly.
Goal <= 3 s for the first render after the server is up.

    python bench/browser_render.py
Prints one line per figure: median, baseline median, ratio, goal.
"""
from __future__ import annotations
import os, shutil, statistics, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from chart_support import AppServer, app_env, fill_lake  # noqa: E402
from axia.tiers.redis import EmbeddedRedis, embedded_redis_url  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANDLES = ".js-plotly-plot .cartesianlayer .trace.boxes path"
GOAL_S = 3.0


HELLO = 'import streamlit as st\nst.title("hello")\n'
CHART_DRAWN = f"() => document.querySelectorAll('{CANDLES}').length > 400"
HELLO_DRAWN = "() => [...document.querySelectorAll('h1')].some(h => h.textContent.includes('hello'))"


def render_s(browser, url: str, drawn: str = CHART_DRAWN, reloads: int = 0) -> list[float]:
    "Seconds from navigation in a fresh browser context until `drawn` holds; then once per reload (HTTP cache warm)."
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page, times = ctx.new_page(), []
    for i in range(reloads + 1):
        t = time.perf_counter()
        page.goto(url, wait_until="commit") if i == 0 else page.reload(wait_until="commit")
        page.wait_for_function(drawn, timeout=60_000)
        times.append(time.perf_counter() - t)
    ctx.close()
    return times


def main():
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as d:
        fill_lake(Path(d))
        redis_url = embedded_redis_url(d)
        (Path(d) / "hello.py").write_text(HELLO)
        env = app_env(Path(d), redis_url)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                with AppServer(env, script=Path(d) / "hello.py") as hello:      # the framework's floor
                    hello_first = render_s(browser, hello.url, HELLO_DRAWN)[0]
                    hello_new = [render_s(browser, hello.url, HELLO_DRAWN, reloads=1) for _ in range(3)]
                firsts = []
                for start in range(3):                   # one sample per server start: take three
                    with AppServer(env) as srv:
                        firsts.append(render_s(browser, srv.url)[0])   # the server's first script run: imports, stack, lake read
                        if start == 0: new = [render_s(browser, srv.url, reloads=1) for _ in range(3)]  # new sessions, then a reload
                browser.close()
        finally:
            EmbeddedRedis(d).stop()
    session, reload_ = statistics.median(t[0] for t in new), statistics.median(t[1] for t in new)
    h_session, h_reload = statistics.median(t[0] for t in hello_new), statistics.median(t[1] for t in hello_new)
    ok = lambda s: "OK" if s <= GOAL_S else "MISSED"
    first = statistics.median(firsts)
    print(f"browser first render after server start: median {first:.2f} s of 3 starts ({min(firsts):.2f}–{max(firsts):.2f} s), "
          f"baseline (hello-world app) {hello_first:.2f} s, ratio {first / hello_first:.1f}x, goal <= {GOAL_S:.0f} s [{ok(first)}]")
    print(f"browser render, new visitor: median {session:.2f} s, baseline (hello-world) median {h_session:.2f} s, "
          f"ratio {session / h_session:.1f}x, goal <= {GOAL_S:.0f} s [{ok(session)}]")
    print(f"browser render, reload (HTTP cache warm): median {reload_:.2f} s, baseline (hello-world) median {h_reload:.2f} s, "
          f"ratio {reload_ / h_reload:.1f}x, goal <= {GOAL_S:.0f} s [{ok(reload_)}]")
    print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
