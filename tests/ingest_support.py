"""Real FX bars shipped inside public packages (the `dev` extra installs them): see `axia.testing.real_eurusd_h1`
for their origin (backtesting 0.6.6, AGPL-3.0; gym-anytrading 2.0.0, MIT)."""
from axia.testing import real_eurusd_h1

BACKTESTING_EURUSD = real_eurusd_h1("backtesting")
ANYTRADING_EURUSD = real_eurusd_h1("dukascopy")
