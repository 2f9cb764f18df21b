"""L2 (Redis) read and update speed and memory, against the plan's codec, Parquet-in-Redis and bare GET/SET.

Run: .venv/bin/python bench/l2_read.py
Starts its own embedded redis-server (unix socket) in a temporary directory; prints one line per figure:
median, baseline median, ratio, goal; exits 1 when a goal is missed.
"""
from __future__ import annotations
import io, statistics, sys, tempfile, time
from pathlib import Path
import msgpack
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from axia.core import Timeframe, bar_grid  # noqa: E402
from axia.tiers.redis import EmbeddedRedis, RedisOhlcvDataRepository  # noqa: E402

NOW = pd.Timestamp("2026-03-04 12:00", tz="UTC")   # a Wednesday: 24 h of trading behind it
PAIRS = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"]


def bars(timeframe, hours=24, now=NOW, seed=0) -> pd.DataFrame:
    "The bars of the last `hours` (at least one) of `timeframe` up to `now`, random walk prices."
    tf = Timeframe.parse(timeframe)
    idx = bar_grid(now - pd.Timedelta(hours=hours), now, tf)
    n = len(idx)
    rng = np.random.default_rng(seed)
    close = 150 + rng.standard_normal(n).cumsum() * 0.01
    spread = np.abs(rng.standard_normal(n)) * 0.01
    return pd.DataFrame({"open": close + rng.uniform(-1, 1, n) * spread, "high": close + 2 * spread,
                         "low": close - 2 * spread, "close": close, "tick_volume": rng.integers(1, 500, n),
                         "spread": rng.integers(0, 20, n), "real_volume": np.zeros(n, "int64")},
                        index=pd.DatetimeIndex(idx, name="time"))


# --- baselines -------------------------------------------------------------------------------------
def msgpack_encode(df: pd.DataFrame) -> bytes:
    "The plan's codec: records with ISO time strings, msgpack."
    rec = df.reset_index()
    rec["time"] = rec["time"].map(lambda t: t.isoformat())
    return msgpack.packb(rec.to_dict("records"))


def msgpack_decode(b: bytes) -> pd.DataFrame:
    df = pd.DataFrame(msgpack.unpackb(b))
    df["time"] = pd.to_datetime(df["time"], utc=True)
    return df.set_index("time")


def parquet_encode(df: pd.DataFrame) -> bytes: return df.to_parquet()
def parquet_decode(b: bytes) -> pd.DataFrame: return pd.read_parquet(io.BytesIO(b))


def medians_s(*fns, n=300, warmup=30) -> list[float]:
    "Median seconds per call of each fn, timed in interleaved rounds so that load on the machine hits all alike."
    for fn in fns:
        for _ in range(warmup): fn()
    times = [[] for _ in fns]
    for _ in range(n):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


MISSED: list[str] = []


def line(name, ours, base, goal, unit="µs", scale=1e6, higher_is_better_ratio=True):
    "Print one figure; `goal` is '≥ x×' or '≤ x×' on the printed ratio."
    ratio = base / ours if higher_is_better_ratio else ours / base
    bound = float(goal.split()[1].rstrip("×"))
    ok = ratio >= bound if goal.startswith("≥") else ratio <= bound
    if not ok: MISSED.append(name)
    print(f"{name:<52} axia {ours * scale:9.1f} {unit}  baseline {base * scale:9.1f} {unit}  ratio {ratio:6.2f}×  "
          f"goal {goal}{'' if ok else '  MISSED'}")


def update_figures(srv):
    "`update` of one new bar into a day of M1, against a GET + SET (with its TTL) of the same payload."
    now = [NOW]
    repo = RedisOhlcvDataRepository(srv.url, clock=lambda: now[0])
    r = repo.client.redis
    day = bars("M1", hours=24 * 3)
    repo.set("USDJPY", "M1", day[day.index < NOW])
    nxt = iter(range(len(day)))
    future = bars("M1", hours=24, now=NOW + pd.Timedelta("24h"))     # the bars that arrive, one a minute
    def one_bar():
        i = next(nxt)
        now[0] = future.index[i] + pd.Timedelta("1min")
        repo.update("USDJPY", "M1", future.iloc[[i]])
    payload = r.get("ohlcv:USDJPY:M1")
    def get_set():
        r.get("ohlcv:USDJPY:M1"); r.set("bench:getset", payload, px=90_000_000)
    ours, base = medians_s(one_bar, get_set, n=300)
    held = repo.read("USDJPY", "M1")
    assert len(held) == 1440 and held.index[-1] == now[0] - pd.Timedelta("1min"), (len(held), held.index[-1])
    print(f"L2 update of 1 new M1 bar into {len(held)} held ({len(payload)} bytes), unix socket:")
    line("update / (GET + SET of the same bytes)", ours, base, "≤ 3×", higher_is_better_ratio=False)


def main():
    with tempfile.TemporaryDirectory() as d, EmbeddedRedis(d, max_memory_mb=256) as srv:
        repo = RedisOhlcvDataRepository(srv.url, clock=lambda: NOW)
        r = repo.client.redis
        day = bars("M1")
        assert len(day) == 1440, len(day)
        repo.set("USDJPY", "M1", day)
        r.set("bench:msgpack", msgpack_encode(day))
        r.set("bench:parquet", parquet_encode(day))
        pd.testing.assert_frame_equal(repo.get("USDJPY", "M1", 24), day)
        pd.testing.assert_frame_equal(msgpack_decode(r.get("bench:msgpack")), day, check_dtype=False, check_index_type=False)
        pd.testing.assert_frame_equal(parquet_decode(r.get("bench:parquet")), day)

        ours, plan, parquet, bare = medians_s(
            lambda: repo.get("USDJPY", "M1", 24), lambda: msgpack_decode(r.get("bench:msgpack")),
            lambda: parquet_decode(r.get("bench:parquet")), lambda: r.get("ohlcv:USDJPY:M1"), n=200)
        print(f"L2 read of 24 h of M1 ({len(day)} bars, {len(r.get('ohlcv:USDJPY:M1'))} bytes) over a unix socket:")
        line("vs the plan's codec (records/ISO/msgpack)", ours, plan, "≥ 8×")
        line("vs Parquet in Redis (to_parquet/read_parquet)", ours, parquet, "≥ 4×")
        line("over a bare GET of the same bytes (ours / GET)", ours, bare, "≤ 2.5×", higher_is_better_ratio=False)

        update_figures(srv)
        r.flushall()
        time.sleep(0.1)
        before = int(r.info("memory")["used_memory"])
        plan_bytes = 0
        for i, pair in enumerate(PAIRS):
            for tf in Timeframe:
                df = bars(tf, seed=i)
                repo.set(pair, tf, df)
                plan_bytes += len(msgpack_encode(df))
        after = int(r.info("memory")["used_memory"])
        info = repo.get_info()
        mb = 1024 * 1024
        print(f"Redis memory for {info['keys']} datasets ({info['bars']} bars, 24 h each):")
        print(f"{'  INFO used_memory delta':<52} axia {(after - before) / mb:9.3f} MB  "
              f"goal ≤ 1 MB (plan measured 8.84 MB)")
        print(f"{'  sum of MEMORY USAGE per key':<52} axia {info['keys_memory_bytes'] / mb:9.3f} MB  "
              f"msgpack payloads alone {plan_bytes / mb:.3f} MB  ratio {plan_bytes / info['keys_memory_bytes']:.2f}×  goal ≤ 1 MB")


if __name__ == "__main__":
    main()
    if MISSED:
        print(f"missed: {', '.join(MISSED)}")
        sys.exit(1)
