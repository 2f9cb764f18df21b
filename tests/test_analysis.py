"axia.analysis: DuckDB over the lake (local and moto S3), FX-clock resampling, a locked connection."
from __future__ import annotations
import logging, os
import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from axia.analysis import connect, query, resample
from axia.core import as_ohlcv, is_market_open, mark_synthetic, resample_ohlcv
from axia.tiers.s3 import S3OhlcvDataRepository

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def bars(start, end, freq="1min", seed=0, trading_only=True) -> pd.DataFrame:
    t = pd.date_range(start, end, freq=freq, inclusive="left", tz="UTC", name="time").as_unit("ns")
    t = pd.DatetimeIndex(t[is_market_open(t)] if trading_only else t, freq=None)
    rng = np.random.default_rng(seed)
    close = 150 + np.cumsum(rng.normal(0, 0.01, len(t)))
    open_ = np.r_[close[0], close[:-1]]
    return as_ohlcv(pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + rng.uniform(0, 0.01, len(t)),
                                  "low": np.minimum(open_, close) - rng.uniform(0, 0.01, len(t)), "close": close,
                                  "tick_volume": rng.integers(0, 90, len(t)), "spread": rng.integers(0, 9, len(t)),
                                  "real_volume": rng.integers(0, 1000, len(t))}, index=t))


# Weeks around each daylight-saving change: US 2026-03-08 / 2026-11-01, EU 2026-03-29 / 2026-10-25.
DST_WEEKS = [("2026-03-04", "2026-03-12"), ("2026-03-25", "2026-04-02"), ("2026-10-21", "2026-10-29"), ("2026-10-28", "2026-11-05")]


@pytest.fixture(scope="module")
def m1():
    return pd.concat([bars(a, b, seed=i) for i, (a, b) in enumerate(DST_WEEKS[:3])] + [bars("2026-10-29", "2026-11-05", seed=9)])


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path, m1):
    if request.param == "local": root, endpoint = str(tmp_path / "lake"), None
    else: root, endpoint = request.getfixturevalue("s3_bucket") + "/prod", request.getfixturevalue("moto_server")
    repo = S3OhlcvDataRepository(root, endpoint_url=endpoint)
    repo.save_ohlcv_data("USDJPY", "M1", m1)
    repo.save_ohlcv_data("EURUSD", "M1", bars("2026-10-28", "2026-11-05", seed=7))
    repo.save_ohlcv_data("USDJPY", "D1", resample_ohlcv(m1, "D1"))
    return root, endpoint, repo


def test_view_over_the_lake(lake, m1):
    root, endpoint, repo = lake
    for con in [connect(root, endpoint_url=endpoint), connect(repo)]:
        got = query(con, "SELECT symbol, timeframe, count(*) AS n, min(time) AS first, max(time) AS last "
                         "FROM ohlcv GROUP BY ALL ORDER BY ALL")
        assert got[["symbol", "timeframe", "n"]].values.tolist() == [["EURUSD", "M1", len(bars("2026-10-28", "2026-11-05"))],
                                                                    ["USDJPY", "D1", len(resample_ohlcv(m1, "D1"))],
                                                                    ["USDJPY", "M1", len(m1)]]
        assert got.loc[2, "first"] == m1.index[0] and got.loc[2, "last"] == m1.index[-1]
        one = query(con, "SELECT close FROM ohlcv WHERE symbol = ? AND timeframe = 'M1' AND time = ?", ["USDJPY", m1.index[100]])
        assert one.close.tolist() == [m1.close.iloc[100]]
        months = query(con, "SELECT DISTINCT year, month FROM ohlcv WHERE timeframe = 'D1' ORDER BY ALL")
        expected = sorted({(t.year, t.month) for t in resample_ohlcv(m1, "D1").index})
        assert [tuple(r) for r in months.values.tolist()] == expected   # D1 is partitioned by month like M1


def test_empty_lake(tmp_path):
    con = connect(tmp_path / "nothing-here")
    assert query(con, "SELECT count(*) AS n FROM ohlcv").n.tolist() == [0]
    assert resample(con, "USDJPY", "M1", "H1").empty


@pytest.mark.parametrize("tf", ["M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1"])
def test_resample_matches_core(lake, m1, tf):
    root, endpoint, _ = lake
    con = connect(root, endpoint_url=endpoint)
    expected = resample_ohlcv(m1, tf)
    assert_frame_equal(resample(con, "USDJPY", "M1", tf), expected, check_exact=True)
    assert_frame_equal(resample(m1, None, "M1", tf), expected, check_exact=True)


@pytest.mark.parametrize("start, end", DST_WEEKS)
@pytest.mark.parametrize("tf", ["H4", "D1"])
def test_resample_across_dst_weeks_with_a_range(tmp_path, start, end, tf):
    m1 = bars(start, end)
    repo = S3OhlcvDataRepository(tmp_path)
    repo.save_ohlcv_data("USDJPY", "M1", m1)
    lo, hi = pd.Timestamp(start, tz="UTC") + pd.Timedelta("2D"), pd.Timestamp(end, tz="UTC") - pd.Timedelta("1D")
    got = resample(connect(repo), "USDJPY", "M1", tf, start=lo, end=hi.tz_localize(None))   # naive = UTC
    assert_frame_equal(got, resample_ohlcv(m1[(m1.index >= lo) & (m1.index < hi)], tf), check_exact=True)
    opens = got.index.tz_convert("America/New_York").hour
    assert set(opens) <= ({17, 21, 1, 5, 9, 13} if tf == "H4" else {17})


def test_resample_leaves_out_bars_in_closures():
    "Bars every minute of a weekend (the 2026-11-01 change) and of Christmas: no resampled bar is labelled in a closure, as in core."
    for a, b in [("2026-10-30 18:00", "2026-11-02 03:00"), ("2026-12-24 12:00", "2026-12-27 00:00")]:
        m1 = bars(a, b, trading_only=False)
        for tf in ["H1", "H4", "D1", "W1"]:
            got = resample(m1, None, "M1", tf)
            assert_frame_equal(got, resample_ohlcv(m1, tf), check_exact=True)
            assert len(got) and is_market_open(got.index).all()


def test_resample_keeps_provenance_of_a_frame():
    m1 = mark_synthetic(bars("2026-11-02", "2026-11-03"))
    assert resample(m1, None, "M1", "H1").attrs == {"synthetic": True}


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('{root}/ohlcv/*/*/year=*/month=*/*.parquet')",
    "COPY (SELECT * FROM ohlcv) TO '{root}/out.csv'",
    "COPY (SELECT 1) TO '{root}/out.parquet' (FORMAT parquet)",
    "ATTACH '{root}/x.duckdb'",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "INSTALL httpfs",
    "LOAD httpfs",
])
def test_locked_connection_refuses_files(tmp_path, sql):
    root = str(tmp_path)
    S3OhlcvDataRepository(root).save_ohlcv_data("USDJPY", "M1", bars("2026-11-02", "2026-11-03"))
    con = connect(root)
    before = sorted(os.listdir(root))
    with pytest.raises(duckdb.Error):
        con.execute(sql.format(root=root)).fetchall()
    assert sorted(os.listdir(root)) == before
    assert query(con, "SELECT count(*) AS n FROM ohlcv").n.tolist() == [1440]     # the view still works


# --- the connection sees the lake as it is now ---------------------------------------------------

import threading   # noqa: E402
from axia import analysis   # noqa: E402
from axia.core import FX_CLOCK_SHIFT, NEW_YORK   # noqa: E402
from axia.tiers.s3 import LakeLayoutError   # noqa: E402


def test_next_query_after_a_save_counts_every_bar(lake):
    root, endpoint, repo = lake
    con = connect(root, endpoint_url=endpoint)
    count = "SELECT count(*) AS n FROM ohlcv WHERE symbol = 'USDJPY' AND timeframe = 'M1'"
    n0 = query(con, count).n[0]
    more = bars("2026-11-09", "2026-11-12", seed=11)              # a new partition's worth and more bars in an old one
    repo.save_ohlcv_data("USDJPY", "M1", more)
    assert query(con, count).n[0] == n0 + len(more)
    assert con.execute(count).fetchall() == [(n0 + len(more),)]
    assert con.sql(count).fetchall() == [(n0 + len(more),)]


def test_queries_while_a_writer_replaces_files(tmp_path):
    "A writer keeps replacing the partitions a connection reads: no IOError, and each count is a whole save's."
    repo = S3OhlcvDataRepository(tmp_path)
    days = [bars(f"2026-10-{d:02d}", f"2026-10-{d + 1:02d}", seed=d) for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16)]
    repo.save_ohlcv_data("USDJPY", "M1", days[0])
    con, done, errors = connect(tmp_path), threading.Event(), []
    def writer():
        try:
            for d in days[1:]: S3OhlcvDataRepository(tmp_path).save_ohlcv_data("USDJPY", "M1", d)
        except Exception as e: errors.append(e)
        finally: done.set()
    t = threading.Thread(target=writer); t.start()
    seen = []
    while not done.is_set() or len(seen) < 3:
        seen.append(query(con, "SELECT count(*) AS n FROM ohlcv").n[0])
    t.join()
    assert not errors
    totals = np.cumsum([len(d) for d in days])
    assert seen == sorted(seen) and set(seen) <= set(totals)
    assert query(con, "SELECT count(*) AS n FROM ohlcv").n[0] == totals[-1]


def test_sql_uses_cores_fx_clock():
    src = open(analysis.__file__).read()
    assert "INTERVAL 7 HOUR" not in src and src.count("America/New_York") == 1    # the comment naming core's value
    assert analysis._ZONE == NEW_YORK.key and str(FX_CLOCK_SHIFT.seconds // 60) in analysis._SHIFT


def test_old_layout_lake_is_refused(tmp_path):
    from lake_support import write_v1
    write_v1(tmp_path, "USDJPY", "M1", bars("2026-10-05", "2026-10-06"))
    with pytest.raises(LakeLayoutError, match="axia lake migrate"):
        connect(tmp_path)
