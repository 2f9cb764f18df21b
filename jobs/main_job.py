"""axia's main job (`make run`): the nightly collection on embedded defaults, then a read back through the provider.

Runs on a fresh clone with no services: the lake is a directory and Redis an embedded server, both under
the data dir (`./.axia`, or AXIA_DATA_DIR, or `--data-dir`). The source is the DUMMY generator, so every bar
is SYNTHETIC: this shows the machinery, not a market.

    python jobs/main_job.py [--data-dir DIR] [--symbols USDJPY,EURUSD] [--timeframes M5,H1,D1] [--backfill-days N] [--as-of T]
"""
from __future__ import annotations
import argparse, json, os, sys, time
from pathlib import Path

def _banner(*lines: str):
    w = max(map(len, lines)) + 6
    print("*" * w); [print(f"*  {line:<{w - 6}}  *") for line in lines]; print("*" * w)


def _say(title: str): print(f"\n== {title}", flush=True)


def _show(df, meta: dict, n: int = 3):
    print(df.head(n).to_string())
    if len(df) > 2 * n: print(f"...  ({len(df) - 2 * n:,} more bars)")
    if len(df) > n: print(df.tail(min(n, len(df) - n)).to_string(header=False))
    keep = {k: meta.get(k) for k in ("source", "steps", "latency_ms", "synthetic", "cache_hit", "stale", "bars")
            if k in meta}
    print("metadata:", json.dumps(keep or meta, default=str))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("AXIA_DATA_DIR", ".axia"))
    p.add_argument("--symbols", default=None, help="comma-separated; default: the settings' five pairs")
    p.add_argument("--timeframes", default=None, help="comma-separated; default: all nine")
    p.add_argument("--backfill-days", type=int, default=None)
    p.add_argument("--as-of", default=None, help="run as of this ISO-8601 instant (a replay); default: now")
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir).expanduser().resolve()
    os.environ["AXIA_DATA_DIR"], os.environ["AXIA_SOURCE"] = str(data_dir), "dummy"

    from axia.bootstrap import build_stack, tier_health
    from axia.cli import format_health
    from axia.collect import CollectFailed, last_run, run_nightly_notebook
    from axia.config import load_settings
    from axia.core import fixed_clock, utc_now
    clock = fixed_clock(args.as_of) if args.as_of else utc_now

    _banner("SYNTHETIC DATA: this job uses axia's dummy source. Every bar below is generated,",
            "not a market price. Point AXIA_SOURCE at mt5 or yfinance for real data.")
    print(f"data dir: {data_dir}  (lake: {data_dir / 'lake'}, embedded Redis: {data_dir / 'redis'})")

    _say("1. the nightly collection job (papermill: jobs/nightly_collect.ipynb)")
    t0 = time.perf_counter()
    split = lambda s: None if not s else [x.strip() for x in s.split(",") if x.strip()]
    try:
        nb = run_nightly_notebook(data_dir, source="dummy", symbols=split(args.symbols), timeframes=split(args.timeframes),
                                  backfill_days=args.backfill_days, clock=clock if args.as_of else None)
    except CollectFailed as e:
        if e.report is not None: print(e.report)
        print(f"main job: the collection failed: {e}", file=sys.stderr)
        return 1
    print(last_run(data_dir / "runs"))
    print(f"executed notebook: {nb}  ({time.perf_counter() - t0:.1f} s)")

    _say("2. reading back through the provider")
    settings = load_settings(data_dir=data_dir, source="dummy")
    stack = build_stack(settings, source="dummy", clock=clock)
    provider = stack.provider
    symbol = (split(args.symbols) or ["USDJPY"])[0]
    for tf, days, use_case in [("H1", 30, "chart"), ("M5", 0.25, "trading"), ("D1", 30, "analysis"), ("H1", 30, "chart")]:
        df, meta = provider.get_data(symbol, tf, period_days=days, use_case=use_case)
        print(f"\n{symbol} {tf}, last {days:g} day(s), use case {use_case!r}: {len(df):,} bars"
              f"{' — SYNTHETIC' if meta.get('synthetic') else ''}")
        _show(df, meta)

    _say("3. tier health")
    health = tier_health(stack)
    print(format_health(health))
    stats = health["provider"]
    print(f"\nProvider: {stats.get('answered', 0)} answers, cache hit ratio {stats.get('cache_hit_ratio', 0):.0%}, "
          f"live calls saved {stats.get('live_calls_saved', 0)}")
    print()
    _banner("Done. Everything above was SYNTHETIC (dummy source).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
