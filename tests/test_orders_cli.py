"`axia orders` and `axia kill-switch` as a user runs them, around the order path built by bootstrap."
import os, subprocess, sys

import pytest

from axia.bootstrap import build_order_stack, build_stack
from axia.config import Settings
from axia.orders import order_message
from axia.tiers.redis import EmbeddedRedis


def axia(data_dir, *args):
    env = {**os.environ, "AXIA_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "axia.cli", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def orders(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, source="dummy")
    stack = build_stack(settings)
    yield build_order_stack(settings, provider=stack.provider)
    EmbeddedRedis(tmp_path).stop()


def test_kill_switch_from_the_command_line_stops_the_order_path(tmp_path, orders):
    on = axia(tmp_path, "kill-switch", "on", "--reason", "NFP in 5 minutes", "--who", "desk")
    assert on.returncode == 0 and "ON" in on.stdout and "NFP in 5 minutes" in on.stdout
    orders.queue.send(order_message("o-1", "USDJPY", "BUY", "MARKET", 0.1))
    (outcome,) = orders.use_case().run_once()
    assert outcome.action == "rejected" and "kill switch" in outcome.reason

    off = axia(tmp_path, "kill-switch", "off", "--reason", "released", "--who", "desk")
    assert off.returncode == 0 and "off" in off.stdout.lower()
    orders.queue.send(order_message("o-2", "EURUSD", "SELL", "MARKET", 0.2))
    (outcome,) = orders.use_case().run_once()
    assert outcome.action == "executed"

    shown = axia(tmp_path, "orders")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert any("o-1" in l and "REJECTED" in l for l in lines) and any("o-2" in l and "FILLED" in l for l in lines)


def test_kill_switch_needs_a_reason(tmp_path):
    r = axia(tmp_path, "kill-switch", "on")
    assert r.returncode == 2 and "reason" in r.stderr and "Traceback" not in r.stderr
