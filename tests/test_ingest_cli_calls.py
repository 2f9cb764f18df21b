"The calls `axia import` / `axia export` are meant to wrap (the CLI is the lead's; it passes `build_lake(settings)`), on real bars."
from __future__ import annotations
import sys
import pandas as pd

from axia.tiers.s3 import S3OhlcvDataRepository
from axia.ingest import export_series, import_file
from ingest_support import BACKTESTING_EURUSD


def axia_import(lake, file, symbol, timeframe, tz=None, broker_clock=None, fmt="auto", out=None) -> int:
    "What `axia import FILE --symbol S --timeframe TF [--tz …|--broker-clock …] [--format …]` does."
    report = import_file(file, symbol, timeframe, lake, fmt=fmt, tz=tz, broker_clock=broker_clock,
                         progress=sys.stderr.isatty())
    print(report, file=out)
    return 0


def axia_export(lake, symbol, timeframe, start, end, fmt, output, tz="UTC", out=None) -> int:
    "What `axia export SYMBOL TF --start … --end … --format parquet|csv|mt5 -o FILE [--tz …]` does."
    report = export_series(lake, output, fmt, symbol=symbol, timeframe=timeframe,
                           start=start, end=end, tz=tz)
    print(report, file=out)
    return 0


def test_import_then_export_as_the_cli_would(tmp_path, capsys):
    lake = S3OhlcvDataRepository(tmp_path / "lake")
    assert axia_import(lake, BACKTESTING_EURUSD, "EURUSD", "H1") == 0
    assert axia_import(lake, BACKTESTING_EURUSD, "EURUSD", "H1") == 0
    first, second = capsys.readouterr().out.split("EURUSD H1 ← ")[1:]
    assert "stored 4,998" in first and "stored 0 · already in the lake 4,998" in second
    assert axia_export(lake, "EURUSD", "H1", "2017-05-01", "2017-06-01", "csv", tmp_path / "may.csv") == 0
    back = pd.read_csv(tmp_path / "may.csv", index_col="time", parse_dates=["time"])
    assert back.index.min() >= pd.Timestamp("2017-05-01", tz="UTC") and back.index.max() < pd.Timestamp("2017-06-01", tz="UTC")
    assert "real bars from s3" in capsys.readouterr().out
