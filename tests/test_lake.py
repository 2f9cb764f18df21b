"L4 Parquet lake: the same tests on a local directory and on S3 (moto's real HTTP server)."
from __future__ import annotations
import io, json, logging, os, threading, time
import boto3
import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pandas.testing import assert_frame_equal

from axia.core import InvalidBars, InvalidSymbol, is_synthetic, mark_synthetic
from axia.ports import IOhlcvDataRepository
from axia.tiers import s3 as lake
from axia.tiers.s3 import S3OhlcvDataRepository
from lake_support import bars

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class Lake:
    "One backend: how to build a repository on it and how to look at what it stores."
    def __init__(self, kind, root, endpoint=None):
        self.kind, self.root, self.endpoint = kind, root, endpoint

    def repo(self, **kw) -> S3OhlcvDataRepository:
        return S3OhlcvDataRepository(self.root, endpoint_url=self.endpoint, **kw)

    def objects(self) -> list[str]:
        "Every stored file (local) or object (S3), relative to the root."
        if self.kind == "local":
            return sorted(os.path.relpath(os.path.join(d, f), self.root) for d, _, fs in os.walk(self.root) for f in fs)
        bucket = self.root[len("s3://"):]
        resp = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").list_objects_v2(Bucket=bucket)
        return sorted(o["Key"] for o in resp.get("Contents", []))

    def data_files(self) -> list[str]: return [p for p in self.objects() if p.endswith("/data.parquet")]

    def path(self, rel: str) -> str: return rel if self.kind == "local" else f"{self.root[len('s3://'):]}/{rel}"

    def put_bytes(self, rel: str, data: bytes):
        repo = self.repo()
        with repo.fs.open_output_stream(f"{repo.base}/{rel}") as f: f.write(data)

    def get_bytes(self, rel: str) -> bytes:
        repo = self.repo()
        with repo.fs.open_input_stream(f"{repo.base}/{rel}") as f: return f.read()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Lake:
    if request.param == "local": return Lake("local", str(tmp_path / "lake"))
    return Lake("s3", request.getfixturevalue("s3_bucket"), request.getfixturevalue("moto_server"))


M1_KEY = "ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month=10/data.parquet"


def test_is_a_repository(store):
    repo = store.repo()
    assert isinstance(repo, IOhlcvDataRepository) and repo.name == "s3"
    assert store.objects() == []            # construction touches nothing


def test_round_trip_exact(store):
    repo, df = store.repo(), bars("2026-09-28", "2026-11-03")
    assert repo.save_ohlcv_data("USDJPY", "M1", df) == len(df)
    back = repo.load_ohlcv("USDJPY", "M1")
    assert_frame_equal(back, df, check_exact=True)
    assert back.index.name == "time" and str(back.index.dtype) == "datetime64[ns, UTC]"
    assert back.attrs == {"synthetic": False}
    assert store.data_files() == [f"ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month={m}/data.parquet" for m in (10, 11, 9)]
    assert_frame_equal(repo.read("USDJPY", "M1", pd.Timestamp("2026-10-05 10:00", tz="UTC"), pd.Timestamp("2026-10-06 10:00")),
                       df.loc["2026-10-05 10:00":"2026-10-06 09:59"])


@pytest.mark.parametrize("tf, freq", [("H1", "1h"), ("D1", "1D"), ("W1", "7D"), ("MN1", "30D")])
def test_every_timeframe_is_partitioned_by_year_and_month(store, tf, freq):
    layout = "year=2026/month=10"
    repo, df = store.repo(), bars("2026-10-05", "2026-10-30", freq=freq, trading_only=False)
    repo.save_ohlcv_data("USDJPY", tf, df)
    assert store.data_files() == [f"ohlcv/symbol=USDJPY/timeframe={tf}/{layout}/data.parquet"]
    assert_frame_equal(repo.load_ohlcv("USDJPY", tf), df)


def test_overlap_never_duplicates_and_newer_wins(store):
    repo, df = store.repo(), bars("2026-10-01", "2026-11-10")
    repo.save_ohlcv_data("USDJPY", "M1", df.loc[:"2026-10-20"])
    newer = df.loc["2026-10-15":].copy()
    newer[["open", "high", "low", "close"]] += 1.0
    repo.save_ohlcv_data("USDJPY", "M1", newer)
    repo.save_ohlcv_data("USDJPY", "M1", newer)           # the same save again changes nothing
    back = repo.load_ohlcv("USDJPY", "M1")
    assert back.index.is_unique and back.index.is_monotonic_increasing
    assert_frame_equal(back, pd.concat([df.loc[:"2026-10-14"], newer]))


def test_reads_only_the_partitions_of_the_range(store, monkeypatch):
    repo = store.repo(clock=lambda: pd.Timestamp("2026-11-20", tz="UTC"))
    repo.save_ohlcv_data("USDJPY", "M1", bars("2026-06-01", "2026-11-20"))
    opened = []
    real = repo._open
    monkeypatch.setattr(repo, "_open", lambda key, *a, **k: opened.append(key) or real(key, *a, **k))
    window = repo.load_ohlcv("USDJPY", "M1", start_date="2026-09-20", end_date="2026-10-20")
    assert [k.rsplit("/", 1)[1] for k in opened] == ["month=9", "month=10"]
    assert window.index[0] >= pd.Timestamp("2026-09-20", tz="UTC") and window.index[-1] < pd.Timestamp("2026-10-20", tz="UTC")
    opened.clear()
    last = repo.load_ohlcv("USDJPY", "M1", days=3)           # the last 3 days by the repository's clock
    assert [k.rsplit("/", 1)[1] for k in opened] == ["month=11"]
    assert last.index[0] >= pd.Timestamp("2026-11-17", tz="UTC")
    assert repo._generate_partition_keys("USDJPY", "M1", "2026-10-31 20:00", "2026-10-31 21:00") == \
        ["ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month=10"]          # the FX month ends 17:00 New York, Oct 31
    assert repo._generate_partition_keys("USDJPY", "M1", "2026-10-31 20:00", "2026-10-31 21:01") == \
        ["ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month=10", "ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month=11"]


def test_empty_results_are_empty_frames(store):
    repo = store.repo()
    for df in [repo.load_ohlcv("USDJPY", "M1"), repo.load_ohlcv("USDJPY", "M1", start_date="2026-01-01", end_date="2026-02-01"),
               repo.get("USDJPY", "M1", hours=24)]:
        assert df.empty and list(df.columns) == ["open", "high", "low", "close", "tick_volume", "spread", "real_volume"]
        assert str(df.index.dtype) == "datetime64[ns, UTC]" and df.index.name == "time"
    repo.save_ohlcv_data("USDJPY", "M1", bars("2026-10-05", "2026-10-06"))
    assert repo.load_ohlcv("USDJPY", "M1", start_date="2026-10-07", end_date="2026-10-08").empty
    assert repo.load_ohlcv("USDJPY", "M1", start_date="2026-10-06", end_date="2026-10-05").empty
    assert repo.save_ohlcv_data("USDJPY", "M1", bars("2026-10-10", "2026-10-10")) == 0


@pytest.mark.parametrize("how", ["truncated", "garbage", "foreign schema"])
def test_corrupt_partition_is_reported_not_a_silent_hole(store, how, caplog, tmp_path):
    repo = store.repo()
    df = bars("2026-09-01", "2026-12-01")
    repo.save_ohlcv_data("USDJPY", "M1", df)
    good = store.get_bytes(M1_KEY)
    if how == "truncated": bad = good[: len(good) // 2]
    elif how == "garbage": bad = b"not parquet at all"
    else:
        pq.write_table(pq.read_table(io.BytesIO(good)).drop_columns(["spread"]), tmp_path / "x.parquet")
        bad = (tmp_path / "x.parquet").read_bytes()
    store.put_bytes(M1_KEY, bad)
    with caplog.at_level(logging.WARNING, logger="axia.tiers.s3"):
        back = repo.load_ohlcv("USDJPY", "M1", start_date="2026-09-01", end_date="2026-12-01")
    assert repo.stats["corrupt_partitions"] == 1
    assert "month=10" in caplog.text
    key = M1_KEY.rsplit("/", 1)[0]
    assert back.attrs == {"synthetic": False, "corrupt_partitions": [key]}
    october = lake._partition_ids(lake.Timeframe.M1, df.index.asi8) == 202610
    assert_frame_equal(back, df[~october])
    assert repo.corrupt_partitions() == [key] == repo.corrupt_partitions("USDJPY", "M1")
    assert repo.corrupt_partitions("EURUSD") == []
    assert repo.coverage()[["bars", "partitions", "corrupt"]].values.tolist() == [[len(df) - october.sum(), 4, 1]]
    # a later save rewrites the partition and keeps the unreadable file aside
    repo.save_ohlcv_data("USDJPY", "M1", df[october])
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), df)
    assert any(".data.parquet.corrupt-" in p for p in store.objects())
    assert repo.corrupt_partitions() == [] and repo.coverage().corrupt.tolist() == [0]


HOSTILE = ["../x", "a/b", "sym=1", "*", "EUR USD", "", "A" * 33, "..", "x\x00", "/etc/passwd", "a\\b", None]


@pytest.mark.parametrize("symbol", HOSTILE)
def test_hostile_symbols_touch_nothing(store, symbol):
    repo, df = store.repo(), bars("2026-10-05", "2026-10-06")
    with pytest.raises(InvalidSymbol):
        repo.save_ohlcv_data(symbol, "M1", df)
    with pytest.raises(InvalidSymbol):
        repo.load_ohlcv(symbol, "M1")
    if symbol is not None:                        # coverage(None) means every symbol
        with pytest.raises(InvalidSymbol):
            repo.coverage(symbol)
    assert store.objects() == []
    if store.kind == "local": assert not os.path.exists(store.root)


def test_invalid_bars_touch_nothing(store):
    repo, df = store.repo(), bars("2026-10-05", "2026-10-06")
    broken = df.copy(); broken.iloc[3, 1] = 1.0     # high below open
    for bad in [broken, df.iloc[::-1], df.tz_convert("Asia/Tokyo"), df.set_axis(df.index.as_unit("us"))]:
        with pytest.raises(InvalidBars):
            repo.save_ohlcv_data("USDJPY", "M1", bad)
    assert store.objects() == []


def test_synthetic_flag_round_trip_and_no_mixing(store):
    repo = store.repo()
    fake = mark_synthetic(bars("2026-10-05", "2026-10-07"))
    real = bars("2026-10-06", "2026-10-08", seed=3)
    repo.save_ohlcv_data("DEMO", "M1", fake)
    assert is_synthetic(repo.load_ohlcv("DEMO", "M1"))
    repo.save_ohlcv_data("USDJPY", "M1", real)
    assert not is_synthetic(repo.load_ohlcv("USDJPY", "M1"))
    with pytest.raises(InvalidBars, match="refusing to merge synthetic bars"):
        repo.save_ohlcv_data("USDJPY", "M1", fake)
    with pytest.raises(InvalidBars, match="refusing to merge real bars"):
        repo.save_ohlcv_data("DEMO", "M1", real)
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), real)       # nothing of the refused saves landed
    meta = pq.ParquetFile(io.BytesIO(store.get_bytes("ohlcv/symbol=DEMO/timeframe=M1/year=2026/month=10/data.parquet"))).schema_arrow.metadata
    assert meta[b"axia.synthetic"] == b"1"


def test_refused_save_writes_no_partition(store):
    "A save spanning two partitions, refused in the second, leaves the first untouched."
    repo = store.repo()
    repo.save_ohlcv_data("USDJPY", "M1", mark_synthetic(bars("2026-11-02", "2026-11-03")))
    with pytest.raises(InvalidBars):
        repo.save_ohlcv_data("USDJPY", "M1", bars("2026-10-28", "2026-11-03"))
    assert [p.rsplit("/", 2)[1] for p in store.data_files()] == ["month=11"]


def test_readable_without_axia(store):
    repo = store.repo()
    df = bars("2026-10-26", "2026-11-03")
    repo.save_ohlcv_data("USDJPY", "M1", df)
    repo.save_ohlcv_data("EURUSD", "D1", bars("2026-01-01", "2026-10-01", freq="1D", trading_only=False))
    dataset = ds.dataset(f"{repo.base}/ohlcv", filesystem=repo.fs, format="parquet", partitioning="hive")
    t = dataset.to_table(filter=(ds.field("symbol") == "USDJPY") & (ds.field("timeframe") == "M1"))
    assert t.num_rows == len(df) and str(t.schema.field("time").type) == "timestamp[us, tz=UTC]"
    pf = pq.ParquetFile(io.BytesIO(store.get_bytes(store.data_files()[0])))
    assert pf.schema.column(0).physical_type == "INT64"
    lt = json.loads(pf.schema.column(0).logical_type.to_json())
    assert (lt["Type"], lt["isAdjustedToUTC"], lt["timeUnit"]) == ("Timestamp", True, "microseconds")
    if store.kind == "local":
        # one glob with hive partitioning reads the whole lake: every file sits at the same depth
        q = "select symbol, timeframe, count(*) n from read_parquet('{}', hive_partitioning=true) group by all order by all"
        assert duckdb.sql(q.format(f"{store.root}/ohlcv/**/*.parquet")).fetchall() == [("EURUSD", "D1", 273), ("USDJPY", "M1", len(df))]
        nov = "select count(*) from read_parquet('{}', hive_partitioning=true) where timeframe = 'D1' and year = 2026 and month = 9"
        assert duckdb.sql(nov.format(f"{store.root}/ohlcv/**/*.parquet")).fetchall() == [(30,)]
        assert duckdb.sql(q.format(f"{store.root}/ohlcv/symbol=USDJPY/**/*.parquet")).fetchall() == [("USDJPY", "M1", len(df))]
        p = pd.read_parquet(f"{store.root}/ohlcv/symbol=USDJPY/timeframe=M1")
        assert len(p) == len(df) and str(p["time"].dtype) in ("datetime64[us, UTC]", "datetime64[ns, UTC]")
        assert (p.set_index("time")["close"].sort_index().to_numpy() == df["close"].to_numpy()).all()


def test_coverage_and_listing(store):
    repo = store.repo()
    a, b = bars("2026-09-28", "2026-11-03"), bars("2025-12-01", "2026-02-01", freq="1D", trading_only=False)
    repo.save_ohlcv_data("USDJPY", "M1", a)
    repo.save_ohlcv_data("EURUSD", "D1", b)
    assert repo.symbols() == ["EURUSD", "USDJPY"] and repo.series() == [("EURUSD", "D1"), ("USDJPY", "M1")]
    cov = repo.coverage()
    assert cov[["symbol", "timeframe", "bars", "partitions"]].values.tolist() == [["EURUSD", "D1", len(b), 2],
                                                                                ["USDJPY", "M1", len(a), 3]]
    assert cov.loc[1, "first"] == a.index[0] and cov.loc[1, "last"] == a.index[-1] and (cov.bytes > 0).all()
    assert repo.coverage("USDJPY", "M1").bars.tolist() == [len(a)]
    assert repo.coverage(timeframe="D1").symbol.tolist() == ["EURUSD"]


def test_crash_before_commit_keeps_old_file(store, monkeypatch):
    repo, df = store.repo(), bars("2026-10-05", "2026-10-10")
    repo.save_ohlcv_data("USDJPY", "M1", df)
    before = store.objects()
    def crash(*a, **k): raise RuntimeError("simulated crash while encoding")
    monkeypatch.setattr(lake, "_encode", crash)
    with pytest.raises(RuntimeError):
        repo.save_ohlcv_data("USDJPY", "M1", bars("2026-10-08", "2026-10-20", seed=5))
    assert store.objects() == before
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), df)


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_local_crash_midway_keeps_old_file(tmp_path, monkeypatch, where):
    "The temp file is written (partly, or wholly) but never renamed: the old file is intact and readable."
    repo, df = S3OhlcvDataRepository(tmp_path), bars("2026-10-05", "2026-10-10")
    repo.save_ohlcv_data("USDJPY", "M1", df)
    old = (tmp_path / M1_KEY).read_bytes()
    def crash(*a, **k): raise OSError(f"simulated crash in {where}")
    monkeypatch.setattr(lake.os, where, crash)
    with pytest.raises(OSError, match="simulated crash"):
        repo.save_ohlcv_data("USDJPY", "M1", bars("2026-10-08", "2026-10-20", seed=5))
    monkeypatch.undo()
    assert (tmp_path / M1_KEY).read_bytes() == old
    assert_frame_equal(S3OhlcvDataRepository(tmp_path).load_ohlcv("USDJPY", "M1"), df)
    assert not [f for f in os.listdir((tmp_path / M1_KEY).parent) if f.endswith(".tmp")]


def test_concurrent_local_writers_lose_nothing(tmp_path):
    "Eight writers, each with its own repository, save disjoint days into the same partition at once."
    days = [bars(f"2026-10-{d:02d}", f"2026-10-{d + 1:02d}", seed=d) for d in (5, 6, 7, 8, 9, 12, 13, 14)]
    barrier = threading.Barrier(len(days))
    def save(df):
        barrier.wait()
        S3OhlcvDataRepository(tmp_path).save_ohlcv_data("USDJPY", "M1", df)
    threads = [threading.Thread(target=save, args=(d,)) for d in days]
    for t in threads: t.start()
    for t in threads: t.join()
    assert_frame_equal(S3OhlcvDataRepository(tmp_path).load_ohlcv("USDJPY", "M1"), pd.concat(days))


def test_a_first_writer_between_marker_read_and_listing_is_not_layout_1(tmp_path, monkeypatch):
    "The order CI once hit: B finds no marker, A writes marker and data, B then lists A's data."
    a, b = S3OhlcvDataRepository(tmp_path), S3OhlcvDataRepository(tmp_path)
    first, second = bars("2026-10-05", "2026-10-06", seed=1), bars("2026-10-06", "2026-10-07", seed=2)
    real_read = S3OhlcvDataRepository._read_marker
    def read_then_let_a_write(self):
        marker = real_read(self)
        if self is b and marker is None and not (tmp_path / "ohlcv").exists():
            a.save_ohlcv_data("USDJPY", "M1", first)    # A's whole first write lands right after B's read
        return marker
    monkeypatch.setattr(S3OhlcvDataRepository, "_read_marker", read_then_let_a_write)
    b.save_ohlcv_data("USDJPY", "M1", second)
    assert_frame_equal(S3OhlcvDataRepository(tmp_path).load_ohlcv("USDJPY", "M1"), pd.concat([first, second]))


def test_racing_first_readers_share_one_pool_and_a_forked_child_gets_its_own(tmp_path, monkeypatch):
    made = []
    class SlowPool(lake.ThreadPoolExecutor):          # widens the window between "no pool yet" and "pool stored"
        def __init__(self, *a, **k):
            time.sleep(0.05); made.append(self); super().__init__(*a, **k)
    monkeypatch.setattr(lake, "ThreadPoolExecutor", SlowPool)
    monkeypatch.setattr(lake, "_POOLS", {})
    barrier, got = threading.Barrier(6), []
    def first_use(): barrier.wait(); got.append(lake._pool())
    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(made) == 1 and {id(p) for p in got} == {id(made[0])}
    df = bars("2026-06-01", "2026-10-01", seed=3)                     # > PARALLEL_ROWS: decoded on the pool
    repo = S3OhlcvDataRepository(tmp_path); repo.save_ohlcv_data("USDJPY", "M1", df)
    assert len(df) >= lake.PARALLEL_ROWS and len(repo.load_ohlcv("USDJPY", "M1")) == len(df)
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=lambda: q.put(len(S3OhlcvDataRepository(tmp_path).load_ohlcv("USDJPY", "M1"))))
    child.start(); child.join(60)
    if child.is_alive(): child.kill(); child.join()      # hung on the parent's threads: fail, leave nothing behind
    assert child.exitcode == 0 and q.get(timeout=5) == len(df)   # the parent's threads are not in the child


# --- properties ---------------------------------------------------------------------------------

YEAR_NS = pd.Timestamp("2026-01-01", tz="UTC").value


@st.composite
def frames(draw, max_bars=60):
    "Valid bars at random unique minutes spread over ~14 months (so across many partitions)."
    n = draw(st.integers(1, max_bars))
    minutes = draw(st.lists(st.integers(-60 * 24 * 40, 60 * 24 * 400), min_size=n, max_size=n, unique=True))
    t = pd.DatetimeIndex(YEAR_NS + np.sort(np.array(minutes, dtype="int64")) * 60_000_000_000, tz="UTC", name="time")
    price = st.floats(0.5, 500, allow_nan=False, allow_infinity=False)
    o, c = np.array(draw(st.lists(price, min_size=n, max_size=n))), np.array(draw(st.lists(price, min_size=n, max_size=n)))
    up = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    vol = st.lists(st.integers(0, 2**62), min_size=n, max_size=n)
    return pd.DataFrame({"open": o, "high": np.maximum(o, c) + up, "low": np.minimum(o, c) * (1 - up / 2), "close": c,
                         "tick_volume": np.array(draw(vol), dtype="int64"), "spread": np.array(draw(vol), dtype="int64"),
                         "real_volume": np.array(draw(vol), dtype="int64")}, index=t)


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPS
@given(df=frames())
def test_any_valid_frame_round_trips_bit_for_bit(tmp_path_factory, df):
    repo = S3OhlcvDataRepository(tmp_path_factory.mktemp("lake"))
    repo.save_ohlcv_data("USDJPY", "H1", df)
    back = repo.load_ohlcv("USDJPY", "H1")
    assert_frame_equal(back, df, check_exact=True)
    for c in df.columns:                                   # same bits, not just equal values
        assert (back[c].to_numpy().view("int64") == df[c].to_numpy().view("int64")).all()


@PROPS
@given(a=frames(), b=frames())
def test_overlapping_saves_never_duplicate(tmp_path_factory, a, b):
    repo = S3OhlcvDataRepository(tmp_path_factory.mktemp("lake"))
    repo.save_ohlcv_data("USDJPY", "M1", a)
    repo.save_ohlcv_data("USDJPY", "M1", b)
    expected = pd.concat([a[~a.index.isin(b.index)], b]).sort_index()
    back = repo.load_ohlcv("USDJPY", "M1")
    assert back.index.is_unique
    assert_frame_equal(back, expected, check_exact=True)


# --- layout 2: FX-month partitions, the marker, migration ------------------------------------------

from axia.core import AxiaError, ConfigError, resample_ohlcv   # noqa: E402
from axia.tiers.s3 import CorruptPartition, LakeLayoutError, migrate_lake   # noqa: E402
from lake_support import write_v1   # noqa: E402


def test_partitions_follow_the_fx_month(store):
    "October's trading starts Wednesday 2026-09-30 17:00 New York (21:00 UTC): its MN1, first D1 and M1 bars are in month=10."
    repo, m1 = store.repo(), bars("2026-09-28", "2026-10-03")
    for tf in ["M1", "D1", "MN1"]: repo.save_ohlcv_data("USDJPY", tf, resample_ohlcv(m1, tf) if tf != "M1" else m1)
    first_october = pd.Timestamp("2026-09-30 21:00", tz="UTC")
    for tf in ["M1", "D1", "MN1"]:
        october = repo.load_ohlcv("USDJPY", tf, start_date=first_october, end_date="2026-10-03")
        f = pq.ParquetFile(io.BytesIO(store.get_bytes(f"ohlcv/symbol=USDJPY/timeframe={tf}/year=2026/month=10/data.parquet")))
        assert f.read().column("time")[0].as_py() == first_october == october.index[0]
    assert resample_ohlcv(m1, "MN1").index.tolist() == [pd.Timestamp("2026-08-31 21:00", tz="UTC"), first_october]
    if store.kind == "local":
        q = f"select min(time) t from read_parquet('{store.root}/ohlcv/**/*.parquet', hive_partitioning=true) " \
            "where timeframe = 'MN1' and year = 2026 and month = 10"
        assert duckdb.sql(q).fetchall()[0][0] == first_october


def test_february_mn1_bar_is_in_month_2(tmp_path):
    repo = S3OhlcvDataRepository(tmp_path)
    mn1 = bars("2026-01-31 22:00", "2026-01-31 22:01", freq="1min", trading_only=False)   # the bar's open, a Saturday
    repo.save_ohlcv_data("USDJPY", "MN1", mn1)
    assert [p.parent.name for p in tmp_path.glob("ohlcv/**/data.parquet")] == ["month=2"]


def v1_lake(store) -> pd.DataFrame:
    "A layout-1 lake with two series whose month ends carry bars of the next FX month."
    m1, repo = bars("2026-09-25", "2026-11-03"), store.repo()
    h1 = bars("2025-12-20", "2026-03-05", freq="1h", seed=2)
    fs, base = (None, None) if store.kind == "local" else (repo.fs, repo.base)
    write_v1(store.root, "USDJPY", "M1", m1, fs=fs, base=base)
    write_v1(store.root, "EURUSD", "H1", h1, fs=fs, base=base)
    return m1, h1


def test_old_layout_is_refused_then_migrated(store):
    m1, h1 = v1_lake(store)
    repo = store.repo()
    for call in [lambda: repo.load_ohlcv("USDJPY", "M1"), lambda: repo.save_ohlcv_data("USDJPY", "M1", m1.iloc[:5]),
                 lambda: repo.coverage()]:
        with pytest.raises(LakeLayoutError, match="run `axia lake migrate`") as e:
            call()
        assert "\n" not in str(e.value) and isinstance(e.value, AxiaError)
    report = migrate_lake(store.root, endpoint_url=store.endpoint)
    assert report["layout_before"] == 1 and report["layout_after"] == 2 and report["bars_moved"] > 0 and not report["corrupt"]
    repo = store.repo()
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), m1)
    assert_frame_equal(repo.load_ohlcv("EURUSD", "H1"), h1)
    for key in store.data_files():                     # every file in layout 2: us, own FX month only
        t = pq.read_table(io.BytesIO(store.get_bytes(key)))
        assert str(t.schema.field("time").type) == "timestamp[us, tz=UTC]"
        month = int(key.split("month=")[1].split("/")[0])
        assert set(lake._partition_ids(lake.Timeframe.M1, t.column("time").cast("int64").to_numpy() * 1000) % 100) == {month}
    before = {k: store.get_bytes(k) for k in store.data_files()}
    again = migrate_lake(store.root, endpoint_url=store.endpoint)          # idempotent
    assert again["files_rewritten"] == 0 and {k: store.get_bytes(k) for k in store.data_files()} == before
    repo.save_ohlcv_data("USDJPY", "M1", bars("2026-11-03", "2026-11-04", seed=4))
    assert len(repo.load_ohlcv("USDJPY", "M1")) == len(m1) + 1440


def test_optional_columns_of_an_early_layout_2_lake_are_read_then_rewritten(store, monkeypatch):
    "Layout-2 files written before columns were required: read as they are; `migrate_lake` rewrites only those."
    m1 = bars("2026-09-28", "2026-11-03", seed=8)
    monkeypatch.setattr(lake, "ARROW_SCHEMA", lake._OPTIONAL_SCHEMA)   # the writer as it was before 2026-12-01
    monkeypatch.setattr(lake, "LAYOUT", {k: v for k, v in lake.LAYOUT.items() if k != "columns"})
    store.repo().save_ohlcv_data("USDJPY", "M1", m1)
    monkeypatch.undo()
    def levels(): return {max(c.max_definition_level for c in pq.ParquetFile(io.BytesIO(store.get_bytes(k))).schema)
                          for k in store.data_files()}
    assert levels() == {1} and len(store.data_files()) == 3
    assert_frame_equal(store.repo().load_ohlcv("USDJPY", "M1"), m1)
    assert "`axia lake migrate` rewrites them" in store.repo().upgrade_hint()
    report = migrate_lake(store.root, endpoint_url=store.endpoint)
    assert (report["files_rewritten"], report["bars_moved"], report["corrupt"]) == (3, 0, [])
    assert levels() == {0}
    assert_frame_equal(store.repo().load_ohlcv("USDJPY", "M1"), m1)
    assert migrate_lake(store.root, endpoint_url=store.endpoint)["files_checked"] == 0   # current now: nothing to do
    assert store.repo().upgrade_hint() is None


def test_axia_info_says_an_early_layout_2_lake_would_gain_from_a_migration(tmp_path, monkeypatch, capsys):
    from axia.cli import main
    from axia.core import fixed_clock
    from conftest import TEST_NOW
    at = fixed_clock(TEST_NOW)                         # the test instant, not the wall clock
    monkeypatch.setattr(lake, "ARROW_SCHEMA", lake._OPTIONAL_SCHEMA)
    monkeypatch.setattr(lake, "LAYOUT", {k: v for k, v in lake.LAYOUT.items() if k != "columns"})
    S3OhlcvDataRepository(tmp_path / "lake").save_ohlcv_data("USDJPY", "M1", bars("2026-10-05", "2026-10-06"))
    monkeypatch.undo()
    monkeypatch.setenv("AXIA_DATA_DIR", str(tmp_path)); monkeypatch.setenv("AXIA_REDIS_URL", "redis://127.0.0.1:1/0")
    main(["info", "--no-gaps"], clock=at)
    assert "predate required columns (2026-12-01) — `axia lake migrate` rewrites them" in capsys.readouterr().out
    migrate_lake(tmp_path / "lake")
    main(["info", "--no-gaps"], clock=at)
    assert "axia lake migrate" not in capsys.readouterr().out


def test_a_lake_newer_than_this_axia_is_not_migrated_down(tmp_path):
    S3OhlcvDataRepository(tmp_path).save_ohlcv_data("USDJPY", "M1", bars("2026-10-05", "2026-10-06"))
    (tmp_path / lake.LAYOUT_FILE).write_text(json.dumps({**lake.LAYOUT, "layout": lake.LAYOUT_VERSION + 1}))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    with pytest.raises(LakeLayoutError, match="newer than this axia"):
        migrate_lake(tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before


def test_migration_crash_at_every_step_leaves_a_readable_lake(tmp_path, monkeypatch):
    "Crash after the k-th file replacement, for every k: the lake answers every bar once; a second run finishes."
    src = tmp_path / "v1"
    m1, h1 = v1_lake(Lake("local", str(src)))
    total = migrate_lake(S3OhlcvDataRepository(tmp_path / "count", ))   # empty: 0 steps
    import shutil
    shutil.copytree(src, tmp_path / "probe")
    real_commit, real_remove = S3OhlcvDataRepository._commit, S3OhlcvDataRepository._remove
    total = migrate_lake(str(tmp_path / "probe"))
    steps = total["files_rewritten"] + total["files_removed"]
    assert steps > 4
    for k in range(steps):
        root = tmp_path / f"crash{k}"
        shutil.copytree(src, root)
        n = [0]
        def counted(real):
            def f(self, *a, **kw):
                if n[0] == k: raise KeyboardInterrupt("simulated crash")
                n[0] += 1
                return real(self, *a, **kw)
            return f
        monkeypatch.setattr(S3OhlcvDataRepository, "_commit", counted(real_commit))
        monkeypatch.setattr(S3OhlcvDataRepository, "_remove", counted(real_remove))
        with pytest.raises(KeyboardInterrupt):
            migrate_lake(str(root))
        monkeypatch.undo()
        repo = S3OhlcvDataRepository(root)
        assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), m1)
        assert_frame_equal(repo.load_ohlcv("USDJPY", "M1", start_date="2026-09-30 20:00", end_date="2026-10-01"),
                           m1.loc["2026-09-30 20:00":"2026-09-30 23:59"])
        assert_frame_equal(repo.load_ohlcv("EURUSD", "H1", start_date="2026-01-15"), h1.loc["2026-01-15":])
        with pytest.raises(LakeLayoutError, match="being migrated"):
            repo.save_ohlcv_data("USDJPY", "M1", m1.iloc[:3])
        migrate_lake(str(root))
        repo = S3OhlcvDataRepository(root)
        assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), m1)
        assert_frame_equal(repo.load_ohlcv("EURUSD", "H1"), h1)


KILL_MIGRATION = """
import os, signal, sys
from axia.tiers.s3 import migrate_lake
seen = []
def progress(key):
    seen.append(key)
    if len(seen) == int(sys.argv[2]): os.kill(os.getpid(), signal.SIGKILL)
migrate_lake(sys.argv[1], progress=progress)
"""


def test_sigkill_mid_migration(tmp_path):
    import subprocess, sys
    m1, h1 = v1_lake(Lake("local", str(tmp_path)))
    proc = subprocess.run([sys.executable, "-c", KILL_MIGRATION, str(tmp_path), "2"], capture_output=True)
    assert proc.returncode == -9
    repo = S3OhlcvDataRepository(tmp_path)
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), m1)
    assert_frame_equal(repo.load_ohlcv("EURUSD", "H1"), h1)
    assert migrate_lake(tmp_path)["layout_before"] == 2
    assert_frame_equal(S3OhlcvDataRepository(tmp_path).load_ohlcv("USDJPY", "M1"), m1)


def test_stale_temp_files_are_removed_by_the_next_writer(tmp_path):
    now = pd.Timestamp.now(tz="UTC")
    repo = S3OhlcvDataRepository(tmp_path, clock=lambda: now)
    df = bars("2026-10-05", "2026-10-06")
    repo.save_ohlcv_data("USDJPY", "M1", df)
    folder = (tmp_path / M1_KEY).parent
    old, fresh = folder / ".data.parquet.dead1.tmp", folder / ".data.parquet.alive.tmp"
    old.write_bytes(b"half a file"); fresh.write_bytes(b"being written")
    os.utime(old, (now.timestamp() - 7200, now.timestamp() - 7200))
    repo.save_ohlcv_data("USDJPY", "M1", df.iloc[:10])
    assert not old.exists() and fresh.exists()
    assert_frame_equal(repo.load_ohlcv("USDJPY", "M1"), df)


@pytest.mark.parametrize("uri", ["file:///etc", "gs://bucket/x", "http://host/x", "s3://KEY:SECRET@bucket/x", "s3://ab"])
def test_other_lake_uris_are_refused(tmp_path, monkeypatch, uri):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        S3OhlcvDataRepository(uri)
    assert "\n" not in str(e.value) and "SECRET" not in str(e.value)
    assert os.listdir(tmp_path) == []


def test_corrupt_partition_is_an_axia_error():
    assert issubclass(CorruptPartition, AxiaError) and issubclass(LakeLayoutError, AxiaError)


def test_s3_writer_that_lost_the_race_merges_again(s3_bucket, moto_server, monkeypatch):
    "Writer A reads the partition, B commits before A: A's conditional PUT gets 412, A re-reads and merges."
    a, b = (S3OhlcvDataRepository(s3_bucket, endpoint_url=moto_server) for _ in range(2))
    df = bars("2026-10-05", "2026-10-08")
    day1, day2, day3 = df.loc["2026-10-05"], df.loc["2026-10-06"], df.loc["2026-10-07"]
    a.save_ohlcv_data("USDJPY", "M1", day1)
    real = a._read_stored
    calls = []
    def read_then_b_writes(key):
        got = real(key)
        if not calls: b.save_ohlcv_data("USDJPY", "M1", day2)    # B slips in between A's read and A's PUT
        calls.append(key)
        return got
    monkeypatch.setattr(a, "_read_stored", read_then_b_writes)
    a.save_ohlcv_data("USDJPY", "M1", day3)
    assert a.stats["conflicts"] == 1 and len(calls) == 2
    assert_frame_equal(b.load_ohlcv("USDJPY", "M1"), pd.concat([day1, day2, day3]))


WRITER = """
import sys, numpy as np, pandas as pd
sys.path.insert(0, sys.argv[4])
from lake_support import bars
from axia.tiers.s3 import S3OhlcvDataRepository
df = bars("2026-10-05", "2026-10-10")
repo = S3OhlcvDataRepository(sys.argv[1], endpoint_url=sys.argv[2])
rng = np.random.default_rng(int(sys.argv[3]))
for _ in range(int(sys.argv[5])):
    i = int(rng.integers(0, len(df) - 600)); repo.save_ohlcv_data("USDJPY", "M1", df.iloc[i:i + int(rng.integers(1, 600))])
print(repo.stats["conflicts"])
"""


def test_concurrent_s3_writer_processes_lose_nothing(s3_bucket, moto_server):
    "Four processes save overlapping slices of one partition at once: the union, once each (bench/lake_writers.py: 8 x 50)."
    import subprocess, sys
    tests_dir = os.path.dirname(__file__)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, s3_bucket, moto_server, str(i), tests_dir, "4"],
                              stdout=subprocess.PIPE) for i in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    df = bars("2026-10-05", "2026-10-10")
    rng_slices = []
    for i in range(4):
        rng = np.random.default_rng(i)
        for _ in range(4):
            j = int(rng.integers(0, len(df) - 600)); rng_slices.append(df.iloc[j:j + int(rng.integers(1, 600))].index)
    expected = df.loc[sorted(set().union(*rng_slices))]
    got = S3OhlcvDataRepository(s3_bucket, endpoint_url=moto_server).load_ohlcv("USDJPY", "M1")
    assert_frame_equal(got, expected, check_freq=False)
    print("conflicts retried:", [o.strip() for o in outs])


def test_athena_ddl_follows_the_contract():
    from axia.tiers.s3 import athena_ddl
    ddl = athena_ddl("s3://bucket/axia/")
    for col in ["`time` timestamp", "`open` double", "`close` double", "`tick_volume` bigint", "`real_volume` bigint"]:
        assert col in ddl
    assert "PARTITIONED BY (`symbol` string, `timeframe` string, `year` int, `month` int)" in ddl
    assert "LOCATION 's3://bucket/axia/ohlcv/'" in ddl and "'projection.symbol.type' = 'injected'" in ddl
    assert "'projection.timeframe.values' = 'M1,M5,M15,M30,H1,H4,D1,W1,MN1'" in ddl
    assert ("'storage.location.template' = 's3://bucket/axia/ohlcv/symbol=${symbol}/timeframe=${timeframe}/year=${year}/month=${month}/'"
            in ddl)
    assert "'projection.symbol.values' = 'USDJPY,EURUSD.pro'" in athena_ddl("s3://b12/x", symbols=["USDJPY", "EURUSD.pro"])
    with pytest.raises(ConfigError):
        athena_ddl("/local/lake")
    with pytest.raises(InvalidSymbol):
        athena_ddl("s3://b12/x", symbols=["a'b"])
