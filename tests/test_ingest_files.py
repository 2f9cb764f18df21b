"import_file and export_series on real bars: every format, idempotent re-import, exports read back by plain pandas."
from __future__ import annotations
import json
import numpy as np, pandas as pd, pyarrow.parquet as pq, pytest
from pandas.testing import assert_frame_equal

from axia.core import ConfigError, InvalidBars, mark_synthetic
from axia.ingest import FORMATS, export_series, import_file, ingest, server_clock, sniff_format
from axia.tiers.s3 import S3OhlcvDataRepository
import axia.ingest as ingest_mod
from ingest_support import ANYTRADING_EURUSD, BACKTESTING_EURUSD


@pytest.fixture(scope="module")
def bt() -> pd.DataFrame:
    return ingest(pd.read_csv(BACKTESTING_EURUSD, index_col=0, parse_dates=True), "H1")[0]


@pytest.fixture
def lake(tmp_path):
    return S3OhlcvDataRepository(tmp_path / "lake")


def write_mt5(path, bars, tz="America/New_York+7"):
    "Real bars as MetaTrader 5's 'Export bars' writes them: tab-separated, server time."
    wall = server_clock(tz).from_utc(bars.index)
    rows = [f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{r.open!r}\t{r.high!r}\t{r.low!r}\t{r.close!r}\t{r.tick_volume}\t{r.real_volume}\t{r.spread}"
            for t, r in zip(wall, bars.itertuples())]
    path.write_text("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n" + "\r\n".join(rows) + "\r\n")
    return path


def write_histdata(path, bars):
    "Real bars as histdata.com's ASCII bar files: `20170102 170000;o;h;l;c;v`, EST without DST, no header."
    wall = server_clock("UTC-5").from_utc(bars.index)
    path.write_text("".join(f"{t:%Y%m%d %H%M%S};{r.open!r};{r.high!r};{r.low!r};{r.close!r};{r.tick_volume}\n"
                            for t, r in zip(wall, bars.itertuples())))
    return path


def write_dukascopy(path, bars):
    "Real bars as Dukascopy's CSV: `Gmt time` as dd.mm.yyyy HH:MM:SS.fff, UTC."
    path.write_text("Gmt time,Open,High,Low,Close,Volume\n" + "".join(
        f"{t:%d.%m.%Y %H:%M:%S}.000,{r.open!r},{r.high!r},{r.low!r},{r.close!r},{r.tick_volume}\n"
        for t, r in zip(bars.index, bars.itertuples())))
    return path


def only_prices_and_ticks(df):
    "What every format carries (histdata and Dukascopy have no spread or real volume)."
    return df.assign(spread=0, real_volume=0)


# --- formats -----------------------------------------------------------------------------------------------

def test_formats_are_sniffed(tmp_path, bt):
    assert sniff_format(BACKTESTING_EURUSD) == "csv"
    assert sniff_format(ANYTRADING_EURUSD) == "dukascopy"
    assert sniff_format(write_mt5(tmp_path / "a.csv", bt.head(3))) == "mt5"
    assert sniff_format(write_histdata(tmp_path / "b.csv", bt.head(3))) == "histdata"
    assert sniff_format(write_dukascopy(tmp_path / "c.csv", bt.head(3))) == "dukascopy"
    bt.head(3).to_parquet(tmp_path / "d.bin")
    assert sniff_format(tmp_path / "d.bin") == "parquet"


def test_generic_csv_real_file_end_to_end(lake):
    report = import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake)
    assert (report.rows_read, report.stored, report.unchanged, len(report.ingest.dropped)) == (5000, 4998, 0, 2)
    assert report.format == "csv" and report.tz == "UTC" and report.synthetic is False
    held = lake.read("EURUSD", "H1")
    assert len(held) == 4998 and held.attrs.get("synthetic") is False
    text = str(report)
    assert text.splitlines()[0] == ("EURUSD H1 ← EURUSD.csv (CSV with a header; naive times read as UTC, the format's "
                                    "default): real bars")
    assert "rows read 5,000 · valid 4,998 · stored 4,998 · already in the lake 0 · dropped 2" in text
    assert "dropped 2: market closed (weekly closure) [2017-10-06 21:00, 2017-10-20 21:00]" in text


def test_reimport_writes_nothing(lake):
    import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake)
    again = import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake)
    assert (again.stored, again.unchanged) == (0, 4998)


def test_a_changed_bar_is_rewritten_and_only_it(tmp_path, lake, bt):
    import_file(write_dukascopy(tmp_path / "a.csv", bt), "EURUSD", "H1", lake)
    changed = bt.copy()
    changed.iloc[100, 3] = changed.iloc[100, 1]                 # close := high
    report = import_file(write_dukascopy(tmp_path / "b.csv", changed), "EURUSD", "H1", lake)
    assert (report.stored, report.unchanged) == (1, len(bt) - 1)
    assert lake.read("EURUSD", "H1").iloc[100].close == changed.iloc[100].close


def test_dukascopy_real_file(lake):
    report = import_file(ANYTRADING_EURUSD, "EURUSD", "H1", lake)
    assert report.format == "dukascopy" and report.rows_read == 6225
    assert report.dropped_by_rule() == {"market closed (holiday)": 9}
    assert report.ingest.volumes_rounded["tick_volume"] == 30
    assert report.stored == 6216


def test_mt5_export_needs_its_broker_clock_and_the_refusal_names_the_likely_one(tmp_path, lake, bt):
    path = write_mt5(tmp_path / "EURUSD_H1.csv", bt)
    with pytest.raises(ConfigError, match=r"are the broker.s server time — pass broker_clock .* fit 'America/New_York\+7' best"):
        import_file(path, "EURUSD", "H1", lake)
    report = import_file(path, "EURUSD", "H1", lake, broker_clock="America/New_York+7")
    assert report.stored == len(bt) and report.ingest.dropped.empty
    assert_frame_equal(lake.read("EURUSD", "H1"), bt, check_freq=False)
    with pytest.raises(ConfigError, match="pass one"):
        import_file(path, "EURUSD", "H1", lake, tz="UTC", broker_clock="America/New_York+7")


def test_mt5_export_with_the_wrong_clock_is_diagnosed(tmp_path, lake, bt):
    report = import_file(write_mt5(tmp_path / "x.csv", bt), "EURUSD", "H1", lake, broker_clock="UTC")
    assert report.ingest.dropped_by_rule().get("market closed (weekly closure)", 0) > 50
    assert "--broker-clock America/New_York+7" in str(report)


def test_histdata_is_est_without_dst(tmp_path, lake, bt):
    report = import_file(write_histdata(tmp_path / "DAT_ASCII_EURUSD_H1_2017.csv", bt), "EURUSD", "H1", lake)
    assert report.format == "histdata" and report.tz == "UTC-5" and report.ingest.dropped.empty
    assert_frame_equal(lake.read("EURUSD", "H1"), only_prices_and_ticks(bt), check_freq=False)


def test_parquet_file_of_any_frame(tmp_path, lake, bt):
    bt.rename(columns=str.title).set_axis(bt.index.as_unit("ms")).to_parquet(tmp_path / "bars.parquet")
    report = import_file(tmp_path / "bars.parquet", "EURUSD", "H1", lake)
    assert report.format == "parquet" and report.stored == len(bt)


def test_unknown_format_and_missing_file_are_config_errors(tmp_path, lake):
    with pytest.raises(ConfigError, match="no such file"):
        import_file(tmp_path / "nope.csv", "EURUSD", "H1", lake)
    with pytest.raises(ConfigError, match="one of auto, mt5, histdata"):
        import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake, fmt="xlsx")


def test_a_corrupt_cell_is_refused_with_its_row(tmp_path, lake, bt):
    path = write_dukascopy(tmp_path / "a.csv", bt.head(50))
    lines = path.read_text().splitlines()
    lines[11] = lines[11].replace(lines[11].split(",")[2], "1.07x")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidBars, match=r"column 'High': 1 value\(s\) are not numbers, first '1.07x' at row\(s\) 10"):
        import_file(path, "EURUSD", "H1", lake)
    assert lake.read("EURUSD", "H1").empty


def test_synthetic_bars_are_never_mixed_with_an_import(tmp_path, lake, bt):
    lake.write("EURUSD", "H1", mark_synthetic(bt.head(10).copy()))
    with pytest.raises(InvalidBars, match="refusing to merge"):
        import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake)


def test_large_files_are_read_in_chunks_with_a_progress_bar(tmp_path, lake, bt, monkeypatch, capsys):
    monkeypatch.setattr(ingest_mod, "PROGRESS_MIN_BYTES", 0)
    report = import_file(write_dukascopy(tmp_path / "a.csv", bt), "EURUSD", "H1", lake, chunk_rows=500)
    assert report.stored == len(bt)
    assert "reading a.csv" in capsys.readouterr().err
    import_file(write_dukascopy(tmp_path / "b.csv", bt), "EURUSD", "H1", lake, progress=False)
    assert "reading b.csv" not in capsys.readouterr().err


def test_utf16_mt5_export(tmp_path, lake, bt):
    path = write_mt5(tmp_path / "u.csv", bt.head(100))
    path.write_bytes(path.read_text().encode("utf-16"))
    assert sniff_format(path) == "mt5"
    assert import_file(path, "EURUSD", "H1", lake, broker_clock="America/New_York+7").stored == 100


# --- export ------------------------------------------------------------------------------------------------

def test_parquet_export_reads_back_with_plain_pandas(tmp_path, lake, bt):
    import_file(BACKTESTING_EURUSD, "EURUSD", "H1", lake)
    rep = export_series(lake, tmp_path / "out.parquet", symbol="EURUSD", timeframe="H1",
                        start="2017-12-18", end="2018-01-08")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert_frame_equal(back, lake.read("EURUSD", "H1", start=pd.Timestamp("2017-12-18", tz="UTC"),
                                       end=pd.Timestamp("2018-01-08", tz="UTC")), check_freq=False, check_like=True)
    meta = json.loads(pq.read_schema(tmp_path / "out.parquet").metadata[b"axia"])
    assert {k: meta[k] for k in ("symbol", "timeframe", "source", "synthetic", "clock")} == \
        {"symbol": "EURUSD", "timeframe": "H1", "source": "s3", "synthetic": False, "clock": "UTC"}
    assert meta["rows"] == rep.rows == len(back) and "→" in str(rep)


def test_csv_export_reads_back_with_plain_pandas_and_has_a_sidecar(tmp_path, bt):
    rep = export_series(bt, tmp_path / "out.csv", "csv", symbol="EURUSD", timeframe="H1", source="backtesting 0.6.6")
    back = pd.read_csv(tmp_path / "out.csv", index_col="time", parse_dates=["time"])
    assert str(back.index.tz) == "UTC"
    assert_frame_equal(back.set_axis(back.index.as_unit("ns")), bt, check_freq=False, check_names=False)
    meta = json.loads((tmp_path / "out.csv.json").read_text())
    assert rep.sidecar.endswith("out.csv.json") and meta["source"] == "backtesting 0.6.6" and meta["synthetic"] is False


def test_mt5_export_is_what_mt5_imports(tmp_path, bt):
    export_series(bt, tmp_path / "mt5.csv", "mt5", symbol="EURUSD", timeframe="H1", tz="America/New_York+7")
    back = pd.read_csv(tmp_path / "mt5.csv", sep="\t")
    assert list(back.columns) == ["<DATE>", "<TIME>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>", "<TICKVOL>", "<VOL>", "<SPREAD>"]
    assert back.iloc[0, :2].tolist() == ["2017.04.19", "12:00:00"]          # 09:00 UTC is 12:00 on a GMT+3 summer server
    assert np.array_equal(back["<CLOSE>"].to_numpy(), bt.close.to_numpy())


def test_export_refusals(tmp_path, bt):
    with pytest.raises(ConfigError, match="one of parquet, csv, mt5"):
        export_series(bt, tmp_path / "x", "xlsx", symbol="EURUSD", timeframe="H1")
    with pytest.raises(ConfigError, match="hold UTC instants"):
        export_series(bt, tmp_path / "x", "csv", symbol="EURUSD", timeframe="H1", tz="Europe/Athens")
    with pytest.raises(InvalidBars):
        export_series(bt.rename(columns={"close": "Close"}), tmp_path / "x", symbol="EURUSD", timeframe="H1")


SOURCES = {  # import format → a real file in it
    "csv": lambda tmp, bt: BACKTESTING_EURUSD,
    "dukascopy": lambda tmp, bt: ANYTRADING_EURUSD,
    "mt5": lambda tmp, bt: write_mt5(tmp / "mt5_in.csv", bt),
    "histdata": lambda tmp, bt: write_histdata(tmp / "hd_in.csv", bt),
    "parquet": lambda tmp, bt: (bt.to_parquet(tmp / "in.parquet"), tmp / "in.parquet")[1],
}


@pytest.mark.parametrize("out_fmt", ["parquet", "csv", "mt5"])
@pytest.mark.parametrize("in_fmt", list(FORMATS))
def test_every_import_format_round_trips_through_export(tmp_path, bt, in_fmt, out_fmt):
    first = S3OhlcvDataRepository(tmp_path / "one")
    clock = "America/New_York+7" if in_fmt == "mt5" else None
    import_file(SOURCES[in_fmt](tmp_path, bt), "EURUSD", "H1", first, broker_clock=clock)
    bars = first.read("EURUSD", "H1")
    out = tmp_path / f"out.{out_fmt}"
    export_series(first, out, out_fmt, symbol="EURUSD", timeframe="H1", tz="Europe/Athens" if out_fmt == "mt5" else "UTC")
    second = S3OhlcvDataRepository(tmp_path / "two")
    report = import_file(out, "EURUSD", "H1", second)           # the clock comes from the file's metadata
    assert report.ingest.dropped.empty and report.stored == len(bars)
    assert_frame_equal(second.read("EURUSD", "H1"), bars)


def test_synthetic_bars_say_so_in_their_export(tmp_path, bt):
    rep = export_series(mark_synthetic(bt.head(24).copy()), tmp_path / "s.parquet", symbol="EURUSD", timeframe="H1",
                        source="dummy")
    meta = json.loads(pq.read_schema(tmp_path / "s.parquet").metadata[b"axia"])
    assert meta["synthetic"] is True and meta["source"] == "dummy" and "SYNTHETIC" in str(rep)


def test_an_empty_range_exports_an_empty_file(tmp_path, lake):
    rep = export_series(lake, tmp_path / "e.csv", "csv", symbol="EURUSD", timeframe="H1", start="2030-01-01", end="2030-02-01")
    assert rep.rows == 0 and len(pd.read_csv(tmp_path / "e.csv")) == 0 and "no bars" in str(rep)
