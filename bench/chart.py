"""A chart's data and figure: 30 days of H1 through the provider (real stack: local lake with dummy bars,
embedded Redis, L1) plus building the plotly figure. Goal <= 100 ms (the plan: 1 s).

    python bench/chart.py
Prints one line per figure: median, baseline median, ratio, goal; exits 1 when a goal is missed.
The figure alone (with its overlays) is held to be faster than the textbook figure (no overlays, and the wrong,
calendar-weekend breaks).
"""
from __future__ import annotations
import statistics, sys, tempfile, time, warnings
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from axia.bootstrap import build_stack
from axia.charts import candlestick_figure
from axia.config import Settings
from axia.core import utc_now
from axia.sources.dummy import DummyOhlcvSource
from axia.tiers.redis import EmbeddedRedis

warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
PLAN_S = 1.0
GOAL_MS = 100.0


def median_ms(f, n=30) -> float:
    f()
    runs = []
    for _ in range(n):
        t = time.perf_counter(); f(); runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def naive_figure(df: pd.DataFrame, symbol: str) -> go.Figure:
    "The textbook way: make_subplots, Series as inputs, calendar-weekend rangebreaks (wrong for FX, but common)."
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=df.index, open=df.open, high=df.high, low=df.low, close=df.close, name=symbol), 1, 1)
    fig.add_trace(go.Bar(x=df.index, y=df.tick_volume), 2, 1)
    fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "mon"])])
    return fig


def main():
    with tempfile.TemporaryDirectory() as d:
        stack = build_stack(Settings(data_dir=d, source="dummy"))
        try:
            now = utc_now()
            for sym in ("USDJPY", "EURUSD"):
                stack.lake.write(sym, "H1", DummyOhlcvSource().fetch(sym, "H1", now - pd.Timedelta(days=35), now))
            p = stack.provider

            def from_lake():            # L1 emptied each time: the lake (+ Redis) answers
                stack.memory.clear()
                df, meta = p.get_data("USDJPY", "H1", 30, "chart")
                assert meta["source"] != "dummy" and len(df) > 400, meta
                return candlestick_figure(df, meta, symbol="USDJPY", timeframe="H1")

            def from_l1():
                df, meta = p.get_data("USDJPY", "H1", 30, "chart")
                return candlestick_figure(df, meta, symbol="USDJPY", timeframe="H1")

            df, meta = p.get_data("USDJPY", "H1", 30, "chart")
            cold = median_ms(from_lake, n=15)
            warm = median_ms(from_l1)
            fig_only = median_ms(lambda: candlestick_figure(df, meta, symbol="USDJPY", timeframe="H1"))
            naive = median_ms(lambda: naive_figure(df, "USDJPY"))
            to_json = median_ms(lambda: candlestick_figure(df, meta, symbol="USDJPY", timeframe="H1").to_json())
        finally:
            stack.provider.close()
            EmbeddedRedis(d).stop()
    plan, ok = PLAN_S * 1000, []
    def mark(good: bool) -> str: ok.append(good); return "OK" if good else "MISSED"
    for label, ms in [("30 d H1, lake -> figure (L1 cold)", cold), ("30 d H1, L1 hit -> figure", warm)]:
        print(f"chart {label}: median {ms:.1f} ms, baseline (plan budget) {plan:.0f} ms, ratio {plan / ms:.0f}x under, "
              f"goal <= {GOAL_MS:.0f} ms [{mark(ms <= GOAL_MS)}]")
    print(f"figure only ({len(df)} bars, with overlays): median {fig_only:.2f} ms, baseline (make_subplots + Series, no "
          f"overlays) median {naive:.2f} ms, ratio {fig_only / naive:.2f}, goal < 1 [{mark(fig_only < naive)}]")
    print(f"figure + to_json (plotly's wire format): median {to_json:.2f} ms, baseline n/a, goal <= {GOAL_MS:.0f} ms "
          f"[{mark(to_json <= GOAL_MS)}]")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
