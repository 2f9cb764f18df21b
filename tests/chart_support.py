"Shared by the chart, app and browser tests: a data dir with dummy bars in its lake, and app pages with injected stacks."
from __future__ import annotations
import os, socket, subprocess, time, urllib.request
from pathlib import Path
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = ROOT / "apps" / "axia_app.py"
SYMBOLS, TIMEFRAMES = ["USDJPY", "EURUSD"], ["H1", "H4"]
# The chart in the browser (a st.components.v2 component, key "chart", in the app's page): CHART_ELEMENT is its
# element, there as soon as its data has reached the page; CHART the element whose shadow root holds the drawing.
CHART_ELEMENT = ".st-key-chart"
CHART = ".st-key-chart [data-testid=stBidiComponentIsolated]"


def fill_lake(data_dir: Path, days: int = 35, symbols=SYMBOLS, timeframes=TIMEFRAMES, end=None) -> dict[tuple[str, str], int]:
    "Write `days` of dummy bars up to `end` (None: now) into the lake of `data_dir`; returns bars written per (symbol, timeframe)."
    from axia.bootstrap import build_lake
    from axia.config import Settings
    from axia.core import utc_now
    from axia.sources.dummy import DummyOhlcvSource
    lake, dummy, now = build_lake(Settings(data_dir=data_dir)), DummyOhlcvSource(), end if end is not None else utc_now()
    return {(s, tf): lake.write(s, tf, dummy.fetch(s, tf, now - pd.Timedelta(days=days), now))
            for s in symbols for tf in timeframes}


def app_env(data_dir: Path, redis_url: str, source: str = "dummy") -> dict[str, str]:
    "The environment the app reads its settings from."
    return {"AXIA_DATA_DIR": str(data_dir), "AXIA_REDIS_URL": redis_url, "AXIA_SOURCE": source,
            "AXIA_SYMBOLS": ",".join(SYMBOLS), "AXIA_TIMEFRAMES": "M1,M15,H1,H4,D1"}


def injected_page(data_dir: str, redis_url: str, live: list, now_iso: str | None = None):
    """An app page (for `AppTest.from_function`) on real tiers with the live sources named in `live`:
    "broken" always raises SourceUnavailable, "dummy" is the synthetic source. Runs `axia.app.main(stack, clock)`,
    every part on a clock frozen at `now_iso` (None: the wall clock)."""
    from axia.app import main
    from axia.core import fixed_clock, utc_now
    from axia.bootstrap import Stack, build_lake, build_memory, build_redis
    from axia.config import Settings
    from axia.core import SourceUnavailable
    from axia.ports import IOhlcvSource
    from axia.provider import OhlcvDataProvider, routes_with_sources
    from axia.sources.dummy import DummyOhlcvSource

    class BrokenSource(IOhlcvSource):
        name = "broken"
        def fetch(self, symbol, timeframe, start, end): raise SourceUnavailable("terminal not running (test)")

    settings = Settings(data_dir=data_dir, redis_url=redis_url, symbols=["USDJPY", "EURUSD"])
    clock = fixed_clock(now_iso) if now_iso else utc_now
    sources = {n: BrokenSource() if n == "broken" else DummyOhlcvSource(clock=clock) for n in live}
    lake, (redis, _), memory = build_lake(settings, clock), build_redis(settings, clock), build_memory(settings, clock)
    provider = OhlcvDataProvider({"memory": memory, "redis": redis, "s3": lake}, sources,
                                 routes_with_sources(list(sources)), source_timeout=5, clock=clock)
    main(Stack(settings, lake, redis, memory, sources, provider, source_name=live[0], clock=clock), clock=clock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    "`streamlit run apps/axia_app.py` as the CLI starts it (axia.app.streamlit_command), on a free port."
    def __init__(self, env: dict[str, str], port: int | None = None, script: Path = APP_SCRIPT):
        self.env, self.port, self.proc, self.script = {**os.environ, **env}, port or free_port(), None, script

    @property
    def url(self) -> str: return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "AppServer":
        from axia.app import streamlit_command
        self.log = open(Path(self.env["AXIA_DATA_DIR"]) / f"streamlit-{self.port}.log", "wb")
        self.proc = subprocess.Popen(streamlit_command(self.script, self.port) + ["--server.address", "127.0.0.1"],
                                     env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None: raise RuntimeError(f"streamlit exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=1) as r:
                    if r.status == 200: return self
            except OSError: time.sleep(0.1)
        raise RuntimeError(f"streamlit did not answer on {self.url} within {timeout} s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait(5)
        if getattr(self, "log", None): self.log.close()

    def __enter__(self): return self.start()
    def __exit__(self, *exc): self.stop()



def clocked_page(data_dir: str, redis_url: str, now_iso: str):
    """An app page (for `AppTest.from_function`) on a frozen clock: a stand-in provider serves the dummy source's
    bars as of `now_iso`, and `main` gets the same clock. Runs `axia.app.main(stack, clock)`."""
    from types import SimpleNamespace
    import pandas as pd
    from axia.app import main
    from axia.config import Settings
    from axia.sources.dummy import DummyOhlcvSource

    now = pd.Timestamp(now_iso)
    clock = lambda: now  # noqa: E731

    class FrozenProvider:
        dummy = DummyOhlcvSource(clock=clock)
        def get_data(self, symbol, timeframe, period_days=1, use_case="trading"):
            df = self.dummy.fetch(symbol, timeframe, now - pd.Timedelta(days=period_days), now)
            return df, {"source": "dummy", "synthetic": True, "rows": len(df), "latency_ms": 1.0, "use_case": use_case,
                        "steps": [{"step": "dummy", "outcome": "hit", "reason": "", "ms": 1.0}]}

    settings = Settings(data_dir=data_dir, redis_url=redis_url, symbols=["USDJPY", "EURUSD"])
    main(SimpleNamespace(settings=settings, provider=FrozenProvider()), clock=clock)


def like_a_terminal():
    """`preexec_fn` for a command a test stops with SIGINT, as Ctrl-C in a terminal would: SIGINT at its default.
    A shell that starts a job in the background (`make test &`, CI runners, nohup) hands its children SIGINT
    ignored, and Python keeps it ignored, so without this such a command would never see the Ctrl-C."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)

