"""The chart app at the test instant: `apps/axia_app.py`'s `axia.app.main`, with a clock frozen at AXIA_TEST_NOW
(tests only; `tests/test_app.py` runs it with Streamlit's AppTest).

Production has no such setting: the instant reaches the app through `main(clock=...)`, the parameter every part
of axia takes from `axia.bootstrap`. Without AXIA_TEST_NOW this is the production script."""
import os
from axia.app import main
from axia.core import fixed_clock, utc_now

main(clock=fixed_clock(os.environ["AXIA_TEST_NOW"]) if os.environ.get("AXIA_TEST_NOW") else utc_now)
