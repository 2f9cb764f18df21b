"""Real FX bars shipped inside public packages (the `dev` extra installs them), located without importing them.

- backtesting 0.6.6 (AGPL-3.0, https://pypi.org/project/backtesting/): `backtesting/test/EURUSD.csv`, 5,000 EURUSD
  H1 bars 2017-04-19 09:00 → 2018-02-07 15:00, times in UTC, columns `,Open,High,Low,Close,Volume`.
- gym-anytrading 2.0.0 (MIT, https://pypi.org/project/gym-anytrading/):
  `gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv`, 6,225 EURUSD H1 ask bars 2017-01-01 22:00 → 2017-12-29
  21:00 in Dukascopy's CSV (`Time` as `dd.mm.yyyy HH:MM:SS.fff`, UTC), fractional volumes.
"""
from __future__ import annotations
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path


def package_file(dist: str, relpath: str) -> Path:
    "Path of a data file inside an installed distribution (its package is not imported)."
    try: path = Path(distribution(dist).locate_file(relpath))
    except PackageNotFoundError:
        raise RuntimeError(f"{dist} is not installed: `pip install -e '.[dev]'` (make setup) brings it") from None
    if not path.is_file(): raise RuntimeError(f"{relpath} not found in {dist}; was the package's layout changed?")
    return path


BACKTESTING_EURUSD = package_file("backtesting", "backtesting/test/EURUSD.csv")
ANYTRADING_EURUSD = package_file("gym-anytrading", "gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv")
