"""Import benchmark: a 500,000-row Dukascopy CSV of EURUSD H1 bars into an empty local lake.

The rows are the real 2017 bars of gym-anytrading 2.0.0 (tests/ingest_support.py), repeated 80 times at
52-week steps (so weekdays keep their place; the calendar and DST then drop a few). axia: `import_file`
(chunked read, ingest with every rule and the market calendar, compare with the lake, write). Baseline, same
process: an import without any check — `pandas.read_csv`, `pandas.to_datetime` with the format, renamed
columns, and the same lake write. Run: `python bench/ingest_import.py`. Goal: ratio (axia / baseline) <= 1.5.
"""
from __future__ import annotations
import shutil, statistics, sys, tempfile, time
from pathlib import Path
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ingest_support import ANYTRADING_EURUSD          # noqa: E402
from axia.core import OHLCV_COLUMNS                    # noqa: E402
from axia.ingest import import_file                   # noqa: E402
from axia.tiers.s3 import S3OhlcvDataRepository       # noqa: E402

REPEATS, GOAL = 80, 1.5


def make_file(path: Path) -> int:
    real = pd.read_csv(ANYTRADING_EURUSD)
    t = pd.to_datetime(real["Time"], format="%d.%m.%Y %H:%M:%S.%f")
    parts = [real.assign(Time=(t + pd.Timedelta(weeks=52 * k)).dt.strftime("%d.%m.%Y %H:%M:%S.000")) for k in range(REPEATS)]
    big = pd.concat(parts, ignore_index=True).rename(columns={"Time": "Gmt time"})
    big.to_csv(path, index=False)
    return len(big)


def baseline(path: Path, lake_dir: Path) -> None:
    shutil.rmtree(lake_dir, ignore_errors=True)
    df = pd.read_csv(path)
    t = pd.to_datetime(df.pop("Gmt time"), format="%d.%m.%Y %H:%M:%S.%f").dt.tz_localize("UTC")
    df = df.rename(columns=str.lower).rename(columns={"volume": "tick_volume"}).set_axis(pd.DatetimeIndex(t, name="time").as_unit("ns"))
    df = df.assign(tick_volume=df.tick_volume.round().astype("int64"), spread=0, real_volume=0)
    df = df[~df.index.duplicated()].sort_index()[OHLCV_COLUMNS]
    S3OhlcvDataRepository(lake_dir).write("EURUSD", "H1", df)


def median_s(f, n=3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    work = Path(tempfile.mkdtemp())
    try:
        src = work / "EURUSD_H1_dukascopy.csv"
        rows = make_file(src)
        def axia_run():
            lake = work / "lake"
            shutil.rmtree(lake, ignore_errors=True)
            rep = import_file(src, "EURUSD", "H1", S3OhlcvDataRepository(lake), progress=False)
            assert rep.rows_read == rows and rep.stored > 0.95 * rows
        a, b = median_s(axia_run), median_s(lambda: baseline(src, work / "base_lake"))
        ok = a / b <= GOAL
        print(f"import {rows:,} rows: median {a:.2f} s, baseline median {b:.2f} s, ratio {a / b:.2f}x, goal <= {GOAL}x "
              f"({rows / a:,.0f} rows/s) {'OK' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
