"""L4 read benchmark: a 30-day M1 window from a one-year lake of one pair.

axia: `S3OhlcvDataRepository.load_ohlcv` (reads the two month files the window needs, only the row groups
that overlap it). Baseline, same process: `pandas.read_parquet` of the symbol's whole M1 history, then a
filter. Run: `python bench/lake_read.py`. Goals: ratio >= 8x, median <= 10 ms locally, <= 150 ms on moto S3.
"""
from __future__ import annotations
import logging, os, shutil, socket, statistics, tempfile, time
import numpy as np
import pandas as pd

from axia.core import as_ohlcv
from axia.tiers.s3 import S3OhlcvDataRepository

N_BARS, START = 525_600, pd.Timestamp("2025-01-01", tz="UTC")
WINDOW = (pd.Timestamp("2025-06-10", tz="UTC"), pd.Timestamp("2025-07-10", tz="UTC"))


def year_of_m1() -> pd.DataFrame:
    t = pd.date_range(START, periods=N_BARS, freq="1min", name="time").as_unit("ns")
    rng = np.random.default_rng(0)
    close = (150 + np.cumsum(rng.normal(0, 0.01, N_BARS))).round(3)
    open_ = np.r_[close[0], close[:-1]]
    return as_ohlcv(pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.004,
                                  "low": np.minimum(open_, close) - 0.004, "close": close,
                                  "tick_volume": rng.integers(1, 90, N_BARS), "spread": rng.integers(0, 5, N_BARS)}, index=t))


def median_ms(f, n) -> float:
    f()                                                   # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def baseline(symbol_dir: str, filesystem=None) -> pd.DataFrame:
    df = pd.read_parquet(symbol_dir, filesystem=filesystem)
    return df[(df["time"] >= WINDOW[0]) & (df["time"] < WINDOW[1])]


def run(label: str, repo: S3OhlcvDataRepository, symbol_dir: str, goal_ms: float, n: int, filesystem=None):
    got = repo.load_ohlcv("USDJPY", "M1", start_date=WINDOW[0], end_date=WINDOW[1])
    assert len(got) == len(baseline(symbol_dir, filesystem)) == 43_200
    axia_ms = median_ms(lambda: repo.load_ohlcv("USDJPY", "M1", start_date=WINDOW[0], end_date=WINDOW[1]), n)
    base_ms = median_ms(lambda: baseline(symbol_dir, filesystem), max(3, n // 10))
    print(f"{label}: load_ohlcv 30-day window median {axia_ms:.2f} ms (goal <= {goal_ms:g} ms)")
    print(f"{label}: baseline pandas.read_parquet(whole symbol) + filter median {base_ms:.2f} ms")
    print(f"{label}: ratio {base_ms / axia_ms:.1f}x (goal >= 8x)")


def main():
    df = year_of_m1()
    root = tempfile.mkdtemp(prefix="axia-bench-lake-")
    try:
        local = S3OhlcvDataRepository(root)
        local.save_ohlcv_data("USDJPY", "M1", df)
        print(f"lake: {N_BARS} M1 bars in {len(local._list_partitions())} files, "
              f"{local.coverage().bytes.sum() / 1e6:.1f} MB; window {WINDOW[0].date()} .. {WINDOW[1].date()}")
        run("local", local, f"{root}/ohlcv/symbol=USDJPY/timeframe=M1", 10, 200)
        run_s3(df)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_s3(df: pd.DataFrame):
    import boto3
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench"); os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="axia-bench")
        repo = S3OhlcvDataRepository("s3://axia-bench/lake", endpoint_url=endpoint)
        repo.save_ohlcv_data("USDJPY", "M1", df)
        run("moto-s3", repo, f"{repo.base}/ohlcv/symbol=USDJPY/timeframe=M1", 150, 30, filesystem=repo.fs)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
