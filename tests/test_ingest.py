"Ingest of frames: schema, times in any resolution and clock, refusals, volumes, market calendar, clock hints (real bars)."
from __future__ import annotations
import numpy as np, pandas as pd, pytest
from pandas.testing import assert_frame_equal, assert_index_equal

from axia.core import (FxCalendar, InvalidBars, ConfigError, OHLCV_COLUMNS, bar_grid, is_market_open, mark_synthetic,
                       validate_ohlcv)
from axia.ingest import (IngestReport, as_ohlcv, column_map, infer_clock, ingest, server_clock)
from ingest_support import ANYTRADING_EURUSD, BACKTESTING_EURUSD


@pytest.fixture(scope="module")
def bt_raw() -> pd.DataFrame:
    "backtesting 0.6.6's EURUSD H1 CSV as pandas reads it (datetime64[us] index, capitalised columns)."
    return pd.read_csv(BACKTESTING_EURUSD, index_col=0, parse_dates=True)


@pytest.fixture(scope="module")
def bt(bt_raw) -> pd.DataFrame:
    return ingest(bt_raw, "H1")[0]


# --- times -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_resolution_becomes_ns_utc_without_loss(bt_raw, unit):
    df = bt_raw.set_axis(bt_raw.index.as_unit(unit))
    out = as_ohlcv(df)
    assert str(out.index.dtype) == "datetime64[ns, UTC]" and out.index.name == "time"
    assert_index_equal(out.index, pd.DatetimeIndex(bt_raw.index.as_unit("ns").tz_localize("UTC"), name="time"))
    validate_ohlcv(out)


def test_the_real_file_as_pandas_3_reads_it_is_accepted(bt_raw):
    assert str(bt_raw.index.dtype) == "datetime64[us]"   # pandas 3's default resolution
    bars, report = ingest(bt_raw, "H1")
    assert report.rows_in == 5000 and report.rows_out == len(bars) == 4998
    assert (bars.tick_volume.to_numpy() == bt_raw.Volume.drop(report.dropped.time.dt.tz_localize(None)).to_numpy()).all()
    assert report.filled_zero == ["spread", "real_volume"]


def test_tz_aware_input_is_converted_whatever_tz_says(bt):
    athens = bt.set_axis(bt.index.tz_convert("Europe/Athens"))
    out, report = ingest(athens, "H1", tz="America/New_York+7")
    assert report.tz_aware_input
    assert_frame_equal(out, bt)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Athens", "America/New_York+7", "UTC+2", "UTC-5", "EST", "Asia/Tokyo"])
def test_naive_times_are_read_in_the_given_clock(bt, tz):
    wall = server_clock(tz).from_utc(bt.index)
    out, _ = ingest(bt.set_axis(wall), "H1", tz=tz)
    assert_frame_equal(out, bt)


def test_default_clock_is_utc(bt):
    assert_frame_equal(as_ohlcv(bt.set_axis(bt.index.tz_localize(None))), bt, check_freq=False)


def test_time_column_named_or_found(bt_raw):
    df = bt_raw.reset_index(names="Date")
    assert_index_equal(as_ohlcv(df).index, as_ohlcv(bt_raw).index)
    assert_index_equal(as_ohlcv(df.rename(columns={"Date": "when"}), time_column="WHEN").index, as_ohlcv(bt_raw).index)


def test_mt5_date_and_time_columns_are_joined():
    df = pd.DataFrame({"<DATE>": ["2017.04.19", "2017.04.19"], "<TIME>": ["12:00:00", "13:00:00"], "<OPEN>": [1.0, 1.1],
                       "<HIGH>": [1.2, 1.2], "<LOW>": [0.9, 1.0], "<CLOSE>": [1.1, 1.1], "<TICKVOL>": [5, 6], "<VOL>": [0, 0],
                       "<SPREAD>": [3, 4]})
    out = as_ohlcv(df, tz="America/New_York+7", time_format="%Y.%m.%d %H:%M:%S")
    assert list(out.index) == [pd.Timestamp("2017-04-19 09:00", tz="UTC"), pd.Timestamp("2017-04-19 10:00", tz="UTC")]
    assert out.spread.tolist() == [3, 4] and out.real_volume.tolist() == [0, 0]


def test_epoch_numbers_need_an_explicit_unit(bt):
    rates = pd.DataFrame({"time": bt.index.asi8[:5] // 10**9, **{c: bt[c].to_numpy()[:5] for c in OHLCV_COLUMNS}})
    with pytest.raises(InvalidBars, match=r"column 'time' holds numbers .*epoch_unit='s'"):
        as_ohlcv(rates)
    assert_frame_equal(as_ohlcv(rates, epoch_unit="s"), bt.head(5), check_freq=False)
    with pytest.raises(InvalidBars, match="holds numbers"):       # the same frame with its epoch as the index
        as_ohlcv(rates.set_index("time"))


def test_a_range_index_is_refused(bt_raw):
    with pytest.raises(InvalidBars, match=r"RangeIndex \(row numbers\).*time_column="):
        as_ohlcv(bt_raw.reset_index(drop=True))


def test_1970_dates_are_refused(bt_raw):
    df = bt_raw.reset_index(drop=True)
    df.index = pd.to_datetime(df.index)                        # row numbers read as nanoseconds
    with pytest.raises(InvalidBars, match=r"the index: 5000 bar\(s\) dated before 1971 .* at row\(s\) 0, 1, 2, 3, 4, …"):
        as_ohlcv(df)
    rates = pd.DataFrame({"time": np.arange(3) * 3600, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0})
    with pytest.raises(InvalidBars, match="before 1971"):
        as_ohlcv(rates, epoch_unit="s")


def test_unparseable_times_name_the_column_and_rows(bt_raw):
    df = bt_raw.reset_index(names="time")
    df["time"] = df["time"].astype(str)
    df.loc[[7, 9], "time"] = "not a date"
    with pytest.raises(InvalidBars, match=r"column 'time': 2 time\(s\) cannot be parsed, first 'not a date' at row\(s\) 7, 9"):
        as_ohlcv(df)


def test_times_outside_ns_range_are_refused():
    idx = pd.DatetimeIndex(np.array(["2017-01-02", "2300-01-01"], dtype="datetime64[s]"))
    df = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}, index=idx)
    with pytest.raises(InvalidBars, match=r"outside 1677–2262 .* row\(s\) 1"):
        as_ohlcv(df)


def test_a_bad_clock_spec_is_a_config_error(bt):
    with pytest.raises(ConfigError, match="server clock"):
        ingest(bt, tz="Mars/Olympus")


# --- columns and values ------------------------------------------------------------------------------------

def test_column_mapping_is_case_insensitive_and_documented():
    assert column_map(["OPEN", "High", "low", "Close", "Vol"]) == {"OPEN": "open", "High": "high", "low": "low",
                                                                    "Close": "close", "Vol": "tick_volume"}
    assert column_map(["open", "tick_volume", "real_volume", "spread", "volume"])["volume"] == "real_volume"
    assert column_map(["<TICKVOL>", "<VOL>"]) == {"<TICKVOL>": "tick_volume", "<VOL>": "real_volume"}


def test_missing_price_column_is_named(bt_raw):
    with pytest.raises(InvalidBars, match=r"missing price column\(s\) \['close'\]; columns are \['Open', 'High', 'Low', 'Price', 'Volume'\]"):
        as_ohlcv(bt_raw.rename(columns={"Close": "Price"}))


def test_two_columns_for_one_field_are_refused(bt_raw):
    with pytest.raises(InvalidBars, match=r"\['Close', 'last'\] all map to 'close'"):
        as_ohlcv(bt_raw.assign(last=bt_raw.Close))


def test_text_in_a_price_column_names_column_and_rows(bt_raw):
    df = bt_raw.astype({"High": object})
    df.iloc[[3, 4000], 1] = "n/a"
    with pytest.raises(InvalidBars, match=r"column 'High': 2 value\(s\) are not numbers, first 'n/a' at row\(s\) 3, 4000"):
        as_ohlcv(df)


def test_fractional_volumes_are_rounded_and_counted(bt_raw):
    df = bt_raw.head(4).assign(Volume=[1.4, 1.5, 2.5, 3.0], Spread=[np.nan, 1, 2, 3])
    bars, report = ingest(df)
    assert bars.tick_volume.tolist() == [1, 2, 2, 3]          # to the nearest (half to even), never truncated
    assert report.volumes_rounded == {"tick_volume": 3}
    assert report.volumes_missing == {"spread": 1} and bars.spread.tolist() == [0, 1, 2, 3]
    assert "rounded 3 fractional tick_volume" in str(report)


def test_volumes_beyond_int64_are_refused(bt_raw):
    with pytest.raises(InvalidBars, match=r"column 'Volume': 1 volume\(s\) too large for int64 at row\(s\) 2"):
        as_ohlcv(bt_raw.head(3).assign(Volume=[1.0, 2.0, 1e20]))


def test_unknown_columns_are_ignored_and_reported(bt_raw):
    _, report = ingest(bt_raw.assign(Comment="x"))
    assert report.ignored_columns == ["Comment"]


def test_attrs_survive_and_empty_frames_are_empty(bt):
    assert as_ohlcv(mark_synthetic(bt.head(3).copy())).attrs["synthetic"] is True
    assert as_ohlcv(pd.DataFrame()).empty
    assert list(as_ohlcv(pd.DataFrame()).columns) == OHLCV_COLUMNS


def test_rows_that_break_rules_are_dropped_and_reported(bt):
    df = bt.head(10).copy()
    df.iloc[2, df.columns.get_loc("high")] = df.iloc[2].low - 0.01
    df = pd.concat([df, df.iloc[[5]]])                         # a duplicate time, out of order
    bars, report = ingest(df, "H1")
    assert len(bars) == 9 and bars.index.is_monotonic_increasing and bars.index.is_unique
    assert report.dropped_by_rule() == {"duplicate time": 1, "high below open or close": 1}


# --- market calendar ---------------------------------------------------------------------------------------

def test_after_close_bars_of_a_real_file_are_dropped_with_their_times(bt_raw):
    bars, report = ingest(bt_raw, "H1")
    assert report.dropped_by_rule() == {"market closed (weekly closure)": 2}
    assert list(report.dropped.time) == [pd.Timestamp("2017-10-06 21:00", tz="UTC"), pd.Timestamp("2017-10-20 21:00", tz="UTC")]
    assert is_market_open(bars.index).all()
    assert "2017-10-06 21:00" in str(report) and report.closed is None


def test_keep_closed_hands_back_the_raw_closed_bars(bt_raw):
    bars, report = ingest(bt_raw, "H1", keep_closed=True)
    assert list(report.closed.index) == list(report.dropped.time)
    assert report.closed.close.tolist() == bt_raw.loc[["2017-10-06 21:00", "2017-10-20 21:00"], "Close"].tolist()


def test_holidays_are_dropped_from_real_dukascopy_bars():
    raw = pd.read_csv(ANYTRADING_EURUSD)
    bars, report = ingest(raw, "H1", time_format="%d.%m.%Y %H:%M:%S.%f")
    holiday = report.dropped[report.dropped.rule == "market closed (holiday)"].time
    assert len(holiday) == 9 and holiday.min() == pd.Timestamp("2017-12-24 23:00", tz="UTC")
    assert not ((bars.index >= "2017-12-24 18:00") & (bars.index < "2017-12-25 22:00")).any()


def test_a_broker_calendar_adds_its_own_dates(bt):
    july4 = FxCalendar(extra_dates=["2017-07-04"])             # the FX day of 4 July 2017: 3 Jul 21:00 → 4 Jul 21:00 UTC
    bars, report = ingest(bt, "H1", calendar=july4)
    assert report.dropped_by_rule() == {"market closed (holiday)": 24}
    assert is_market_open(bars.index, july4).all()


def test_off_grid_bars_are_reported(bt):
    half = bt.head(48).set_axis(bt.index[:48] + pd.Timedelta("30min"))
    bars, report = ingest(half, "H1")
    assert bars.empty and report.dropped_by_rule() == {"off the H1 grid": 48}


def test_d1_bars_in_gmt_are_off_the_new_york_grid_and_the_hint_says_why(bt):
    gmt_d1 = bt.groupby(bt.index.floor("D")).agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                                   "tick_volume": "sum", "spread": "max", "real_volume": "sum"})
    bars, report = ingest(gmt_d1, "D1")
    assert bars.empty and report.dropped_by_rule()["off the D1 grid"] > 0
    assert "pass the broker clock" in report.hints[0] and "import H1 or finer and resample" in report.hints[0]


def test_server_time_read_as_utc_is_diagnosed(bt):
    wall = server_clock("America/New_York+7").from_utc(bt.index)
    _, report = ingest(bt.set_axis(wall), "H1")
    assert report.rows_out < len(bt)
    assert "looks like server time GMT+2/+3 with US DST" in report.hints[0] and "tz='America/New_York+7'" in report.hints[0]


@pytest.mark.parametrize("tz", ["UTC-5", "Europe/Athens", "UTC+3"])
def test_infer_clock_finds_the_clock_a_file_was_written_in(bt, tz):
    wall = server_clock(tz).from_utc(bt.index)
    best, best_n, here = infer_clock(wall, "H1")
    assert best_n == 0 and here > 0
    assert ingest(bt.set_axis(wall), "H1", tz=best)[1].rows_out == len(bt)


def test_no_hint_for_a_few_genuine_after_close_ticks(bt_raw):
    assert ingest(bt_raw, "H1")[1].hints == []


def test_the_report_prints_what_the_cli_shows(bt_raw):
    text = str(ingest(bt_raw, "H1")[1])
    assert text.splitlines()[0] == "rows in 5,000, bars out 4,998 (times from the index, read as UTC)"
    assert "dropped 2: market closed (weekly closure) [2017-10-06 21:00, 2017-10-20 21:00]" in text
    assert isinstance(IngestReport(), IngestReport)


def test_output_is_on_the_grid_for_every_timeframe(bt):
    for tf in ["H1", "H4", "D1"]:
        from axia.core import resample_ohlcv
        bars, report = ingest(resample_ohlcv(bt, tf), tf)
        assert report.dropped.empty
        assert bars.index.isin(bar_grid(bars.index[0], bars.index[-1] + pd.Timedelta(1, "ns"), tf)).all()
