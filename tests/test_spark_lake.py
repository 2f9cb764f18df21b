"Spark reads the lake axia writes: per series the same rows, first/last time and close checksum as load_ohlcv and DuckDB."
from __future__ import annotations
import math, os, shutil
import numpy as np
import pandas as pd
import pytest

from axia.analysis import connect, query
from axia.core import resample_ohlcv
from axia.tiers.s3 import S3OhlcvDataRepository
from lake_support import bars

pyspark = pytest.importorskip("pyspark", reason="pyspark is in the dev extra")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime: run tools/install_system_deps.sh", allow_module_level=True)

# The lake contract (nbs/13_tiers.s3.ipynb) as a Spark schema: data columns, then the hive partition columns.
SPARK_SCHEMA = ("time TIMESTAMP, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, tick_volume BIGINT, spread BIGINT, "
                "real_volume BIGINT, symbol STRING, timeframe STRING, year INT, month INT")
SERIES = {("USDJPY", "M1"): bars("2026-09-28", "2026-11-04", seed=1), ("EURUSD.pro", "M5"): bars("2026-01-26", "2026-03-03", "5min", 2)}
SERIES[("USDJPY", "H1")] = resample_ohlcv(SERIES[("USDJPY", "M1")], "H1")
SERIES[("USDJPY", "D1")] = resample_ohlcv(SERIES[("USDJPY", "M1")], "D1")
SERIES[("USDJPY", "MN1")] = resample_ohlcv(SERIES[("USDJPY", "M1")], "MN1")
SERIES[("EURUSD.pro", "W1")] = resample_ohlcv(SERIES[("EURUSD.pro", "M5")], "W1")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[1]").appName("axia-lake-test")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    repo = S3OhlcvDataRepository(root)
    for (sym, tf), df in SERIES.items(): repo.save_ohlcv_data(sym, tf, df)
    return root, repo


def checksum(close: np.ndarray) -> int:
    "Sum of closes in micro-units: the same integer in every engine."
    return int(np.sum(np.floor(close * 1e6 + 0.5).astype("int64")))


def test_spark_reads_the_lake_like_axia_and_duckdb(spark, lake):
    root, repo = lake
    from pyspark.sql import functions as F
    df = spark.read.schema(SPARK_SCHEMA).option("basePath", f"{root}/ohlcv").parquet(f"{root}/ohlcv")
    rows = (df.groupBy("symbol", "timeframe")
              .agg(F.count("*").alias("n"), F.expr("unix_micros(min(time))").alias("first"),
                   F.expr("unix_micros(max(time))").alias("last"),
                   F.expr("sum(cast(floor(close * 1000000 + 0.5) as bigint))").alias("chk"), F.sum("close").alias("total"))
              .collect())
    got_spark = {(r.symbol, r.timeframe): (r.n, r.first, r.last, r.chk) for r in rows}
    totals_spark = {(r.symbol, r.timeframe): r.total for r in rows}
    duck = query(connect(root), "SELECT symbol, timeframe, count(*) AS n, epoch_us(min(time)) AS first, "
                                "epoch_us(max(time)) AS last, sum(floor(close * 1000000 + 0.5)::BIGINT) AS chk "
                                "FROM ohlcv GROUP BY ALL")
    got_duck = {(r.symbol, r.timeframe): (r.n, r.first, r.last, r.chk) for r in duck.itertuples()}
    got_axia = {}
    for (sym, tf) in SERIES:
        a = repo.load_ohlcv(sym, tf)
        got_axia[(sym, tf)] = (len(a), a.index[0].value // 1000, a.index[-1].value // 1000, checksum(a.close.to_numpy()))
        assert math.isclose(totals_spark[(sym, tf)], math.fsum(a.close), rel_tol=1e-12)
    expected = {k: (len(v), v.index[0].value // 1000, v.index[-1].value // 1000, checksum(v.close.to_numpy()))
                for k, v in SERIES.items()}
    print("\nseries            rows   first (UTC)           last (UTC)            close checksum   axia = DuckDB = Spark")
    for k in sorted(expected):
        n, f, l, c = expected[k]
        print(f"{k[0]:>10} {k[1]:<4} {n:>6}   {pd.Timestamp(f, unit='us')}   {pd.Timestamp(l, unit='us')}   {c:>16}   "
              f"{got_axia[k] == got_duck[k] == got_spark[k] == expected[k]}")
    assert got_axia == expected and got_duck == expected and got_spark == expected


def test_spark_partition_filter_is_the_fx_month(spark, lake):
    "month=10 on the FX clock: October's MN1 bar opens 2026-09-30 21:00 UTC (17:00 New York)."
    root, _ = lake
    df = spark.read.schema(SPARK_SCHEMA).option("basePath", f"{root}/ohlcv").parquet(f"{root}/ohlcv")
    r = df.where("symbol = 'USDJPY' AND timeframe = 'MN1' AND year = 2026 AND month = 10").selectExpr("unix_micros(time) AS t").collect()
    assert [x.t for x in r] == [pd.Timestamp("2026-09-30 21:00", tz="UTC").value // 1000]
