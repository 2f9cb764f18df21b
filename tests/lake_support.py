"Helpers for the lake tests: random-walk bars and a writer of the old layout 1 (UTC months, ns timestamps, no marker)."
from __future__ import annotations
import os
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from axia.core import as_ohlcv, is_market_open


def bars(start, end, freq="1min", seed=0, trading_only=True) -> pd.DataFrame:
    t = pd.date_range(start, end, freq=freq, inclusive="left", tz="UTC", name="time").as_unit("ns")
    t = pd.DatetimeIndex(t[is_market_open(t)] if trading_only else t, freq=None)
    rng = np.random.default_rng(seed)
    close = 150 + np.cumsum(rng.normal(0, 0.01, len(t)))
    open_ = np.r_[close[0], close[:-1]] if len(t) else close
    return as_ohlcv(pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.004,
                                  "low": np.minimum(open_, close) - 0.004, "close": close,
                                  "tick_volume": rng.integers(0, 90, len(t)), "spread": rng.integers(0, 9, len(t)),
                                  "real_volume": rng.integers(0, 10**9, len(t))}, index=t))


V1_SCHEMA = pa.schema([("time", pa.timestamp("ns", tz="UTC"))] + [(c, pa.float64()) for c in ["open", "high", "low", "close"]]
                      + [(c, pa.int64()) for c in ["tick_volume", "spread", "real_volume"]])


def write_v1(root, symbol: str, tf: str, df: pd.DataFrame, synthetic=False, fs=None, base=None):
    "Write `df` the way axia wrote lakes before layout 2: UTC-month partitions, TIMESTAMP(NANOS), no marker."
    base = base or os.fspath(root)
    for (y, m), rows in df.groupby([df.index.year, df.index.month]):
        key = f"{base}/ohlcv/symbol={symbol}/timeframe={tf}/year={y}/month={m}/data.parquet"
        table = pa.Table.from_pandas(rows.reset_index(), schema=V1_SCHEMA.with_metadata({b"axia.synthetic": b"1" if synthetic else b"0"}),
                                     preserve_index=False)
        if fs is None:
            os.makedirs(os.path.dirname(key), exist_ok=True)
            pq.write_table(table, key, compression="lz4", row_group_size=10_080)
        else:
            with fs.open_output_stream(key) as f: pq.write_table(table, f, compression="lz4", row_group_size=10_080)
