"""`axia` at the test instant: the CLI's `main` with a clock frozen at AXIA_TEST_NOW (tests only).

    AXIA_TEST_NOW=2026-11-07T12:00Z python tests/axia_at.py get USDJPY H1

Production has no such setting: the instant reaches the CLI through `main(argv, clock=...)`, the same
parameter every part of axia takes from `axia.bootstrap`."""
import os, sys
from axia.cli import main
from axia.core import fixed_clock

if __name__ == "__main__":
    now = os.environ.get("AXIA_TEST_NOW")
    sys.exit(main(sys.argv[1:], clock=fixed_clock(now) if now else None))
