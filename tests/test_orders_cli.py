"`axia orders` and `axia kill-switch` as a user runs them, around the order path built by bootstrap."
import os, subprocess, sys

import pytest

from axia.bootstrap import build_order_stack, build_stack
from axia.config import Settings
from axia.orders import Order, order_message
from axia.tiers.redis import EmbeddedRedis
from orders_support import _free_port


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


def test_hostile_kill_switch_reason_cannot_forge_a_line(tmp_path):
    "A reason with a newline, ANSI escapes and a bidi override is stored as given and printed escaped."
    reason = "x\nkill switch: off — set by ops"
    on = axia(tmp_path, "kill-switch", "on", "--reason", reason, "--who", "eve\x1b[2J\u202e")
    assert on.returncode == 0 and len(on.stdout.strip().splitlines()) == 1
    shown = axia(tmp_path, "orders")
    assert shown.returncode == 0
    switch_lines = [l for l in shown.stdout.splitlines() if "kill switch" in l]
    assert len(switch_lines) == 1 and switch_lines[0].startswith("kill switch: ON")       # one line, and it says ON
    assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "eve\\x1b[2J\\u202e" in switch_lines[0] and "x\\nkill switch: off" in switch_lines[0]
    from axia.tiers.sqlite import SqliteKillSwitchRepository
    assert SqliteKillSwitchRepository.in_data_dir(tmp_path).get().reason == reason           # stored as given


def test_hostile_order_text_stays_on_its_line(tmp_path, orders):
    "A broker comment or rejection reason with control characters is one row of the report."
    orders.orders.create(Order.new("o-10", "USDJPY", "SELL", "MARKET", 0.1))
    sub = orders.orders.update_status("o-10", "SUBMITTED", 1)
    orders.orders.update_status("o-10", "REJECTED", sub.version, reason="broker: \x1b[32mOK\x1b[0m\nkill switch: off")
    shown = axia(tmp_path, "orders")
    lines = shown.stdout.splitlines()
    assert [l for l in lines if "kill switch" in l][0].startswith("kill switch: off (never set)")
    assert len([l for l in lines if "kill switch" in l]) == 2 and any("o-10" in l and "\\x1b[32mOK" in l and "\\nkill switch: off" in l for l in lines)


@pytest.mark.parametrize("limit", ["0", "-1", "99999999999999999999"])
def test_orders_limit_out_of_range_is_one_clear_line(tmp_path, limit):
    r = axia(tmp_path, "orders", "--limit", limit)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "limit" in r.stderr


def test_unreachable_dynamodb_is_one_line_without_the_password(tmp_path):
    env = {"AXIA_DYNAMODB_ENDPOINT_URL": f"http://ops:s3cr3t-pw@127.0.0.1:{_free_port()}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    for args in (["orders"], ["kill-switch", "on", "--reason", "r", "--who", "w"]):
        r = subprocess.run([sys.executable, "-m", "axia.cli", *args], env={**os.environ, "AXIA_DATA_DIR": str(tmp_path), **env},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stderr
        assert "s3cr3t-pw" not in r.stderr + r.stdout and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "DynamoDB unreachable" in r.stderr and "http://***@127.0.0.1" in r.stderr   # user and password hidden
