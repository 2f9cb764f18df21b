"""The order path: queue → kill switch → validate → persist → claim → execute → record → delete."""
from __future__ import annotations
import threading, time, uuid
from types import SimpleNamespace as NS

import boto3
import pandas as pd
from botocore.config import Config
import pytest

from axia.core import TierUnavailable
from axia.orders import Order, OrderStatus as S, QueueMessage, order_message
from axia.order_path import (KILL_SWITCH_REASON, Mt5OrderExecutor, PaperOrderExecutor, ProcessSqsOrderUseCase,
                             SqsOrderQueue, format_orders, mt5_comment, orders_report, set_kill_switch)
from axia.tiers.dynamodb import DynamoDBKillSwitchRepository, DynamoDBOrderRepository, dynamodb_client
from axia.tiers.sqlite import SqliteKillSwitchRepository, SqliteOrderQueue, SqliteOrderRepository
from orders_support import IPC_ERRORS, AtomicMotoServer, Mt5OrderStandIn

PRICES = {"USDJPY": 150.00, "EURUSD": 1.1000}


@pytest.fixture(scope="module")
def atomic_moto():
    srv = AtomicMotoServer().start()
    yield srv.url
    srv.stop()


def embedded(tmp_path, executor=None, visibility_timeout=0.5):
    orders, ks = SqliteOrderRepository.in_data_dir(tmp_path), SqliteKillSwitchRepository.in_data_dir(tmp_path)
    queue = SqliteOrderQueue.in_data_dir(tmp_path, visibility_timeout=visibility_timeout, poll_interval=0.02)
    executor = executor or PaperOrderExecutor(PRICES.__getitem__)
    return NS(orders=orders, kill_switch=ks, queue=queue, executor=executor,
              path=ProcessSqsOrderUseCase(queue, orders, ks, executor))


def on_aws(endpoint, executor=None, visibility_timeout=1):
    client, prefix = dynamodb_client(endpoint), f"p{uuid.uuid4().hex[:10]}"
    orders = DynamoDBOrderRepository(prefix, client=client); orders.create_tables()
    ks = DynamoDBKillSwitchRepository(prefix, client=client)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", config=Config(max_pool_connections=32))
    url = sqs.create_queue(QueueName=f"{prefix}-orders", Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]
    queue = SqsOrderQueue(url, endpoint_url=endpoint)
    executor = executor or PaperOrderExecutor(PRICES.__getitem__)
    return NS(orders=orders, kill_switch=ks, queue=queue, executor=executor, sqs=sqs, url=url,
              path=ProcessSqsOrderUseCase(queue, orders, ks, executor))


@pytest.fixture(params=["embedded", "aws"])
def system(request, tmp_path):
    return embedded(tmp_path) if request.param == "embedded" else on_aws(request.getfixturevalue("atomic_moto"))


def msg(oid, symbol="USDJPY", side="BUY", typ="MARKET", volume=0.1, **kw):
    return order_message(oid, symbol, side, typ, volume, kw.get("price"), kw.get("stop_loss"), kw.get("take_profit"))


def drain(system, workers=1, deadline_s=20.0, wait_seconds=0.0):
    "Process until every message is deleted (messages left in flight come back after the visibility timeout)."
    outcomes, lock, deadline = [], threading.Lock(), time.monotonic() + deadline_s

    def left():
        if isinstance(system.queue, SqliteOrderQueue): return len(system.queue)
        a = system.sqs.get_queue_attributes(QueueUrl=system.url, AttributeNames=["ApproximateNumberOfMessages",
                                                                              "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    def work():
        while time.monotonic() < deadline:
            got = system.path.run_once(max_messages=1, wait_seconds=wait_seconds)
            with lock: outcomes.extend(got)
            if not got and left() == 0: return
            if not got: time.sleep(0.05)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert left() == 0, "messages left in the queue"
    return outcomes


def by_order(outcomes) -> dict[str, list[str]]:
    "The actions each order's deliveries ended in, in order."
    got = {}
    for o in outcomes: got.setdefault(o.order_id, []).append(o.action)
    return got


def handled_once(actions: list[str], first: str) -> bool:
    """One delivery did `first`; any others were redeliveries of a message whose visibility timeout ran out
    under load before it was deleted (SQS and the local queue are at-least-once), and found it done."""
    return actions[0] == first and set(actions[1:]) <= {"duplicate"}


# --- the lifecycle -----------------------------------------------------------------------------------
def test_lifecycle_end_to_end(system):
    for body in [msg("a-1", stop_loss=149.5, take_profit=151.0),
                 msg("a-2", "EURUSD", "SELL", "LIMIT", 0.2, price=1.0990, stop_loss=1.1050),
                 msg("a-3", "USDJPY", "BUY", "LIMIT", 0.1, price=149.0),           # not marketable on paper
                 msg("a-4", volume=0)]:                                            # invalid terms
        system.queue.send(body)
    outs = drain(system)
    firsts = {k: a[0] for k, a in by_order(outs).items()}
    assert firsts == {"a-1": "executed", "a-2": "executed", "a-3": "executed", "a-4": "rejected"}
    assert all(handled_once(a, firsts[k]) for k, a in by_order(outs).items())
    assert {k: system.orders.get(k).status for k in firsts} == {"a-1": S.FILLED, "a-2": S.FILLED, "a-3": S.REJECTED, "a-4": S.REJECTED}
    a1 = system.orders.get("a-1")
    assert (a1.fill_price, a1.filled_volume, a1.version, a1.broker_ticket) == (150.0, 0.1, 3, "paper-1")
    assert "not marketable at 150.0" in system.orders.get("a-3").reason
    assert "volume 0" in system.orders.get("a-4").reason
    assert sorted(system.executor.executions) == ["a-1", "a-2", "a-3"]
    assert all(o.deleted for o in outs)


# --- duplicates --------------------------------------------------------------------------------------
def test_same_message_processed_by_100_threads_executes_once(tmp_path):
    s = embedded(tmp_path)
    s.queue.send(msg("dup-1"))
    [m] = s.queue.receive()
    results, barrier = [], threading.Barrier(100)

    def deliver():
        barrier.wait(); results.append(s.path.process(m))

    threads = [threading.Thread(target=deliver) for _ in range(100)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert s.executor.executions == ["dup-1"]
    assert [o.order_id for o in s.orders.recent()] == ["dup-1"] and s.orders.get("dup-1").status == S.FILLED
    actions = [r.action for r in results]
    assert actions.count("executed") == 1 and set(actions) <= {"executed", "duplicate", "in_flight"}


@pytest.mark.parametrize("where", ["embedded", "aws"])
def test_one_order_message_delivered_100_times_concurrently(where, tmp_path, request):
    s = embedded(tmp_path) if where == "embedded" else on_aws(request.getfixturevalue("atomic_moto"))
    for _ in range(100): s.queue.send(msg("dup-2", stop_loss=149.0))
    outcomes = drain(s, workers=16, deadline_s=40)
    assert s.executor.executions == ["dup-2"]                          # one execution
    assert [o.order_id for o in s.orders.recent()] == ["dup-2"]        # one order
    got = s.orders.get("dup-2")
    assert (got.status, got.version) == (S.FILLED, 3)
    # every message deleted; SQS may hand one out again if its visibility timeout lapses under load (at-least-once)
    assert len({o.message_id for o in outcomes if o.deleted}) == 100
    assert sum(o.action == "executed" for o in outcomes) == 1


# --- the kill switch ---------------------------------------------------------------------------------
def test_kill_switch_turned_on_mid_stream(tmp_path):
    calls = []
    def price(symbol):
        calls.append(symbol)
        if len(calls) == 5: set_kill_switch(s.kill_switch, True, "drawdown limit", "risk-bot")   # while order 5 executes
        return PRICES[symbol]
    s = embedded(tmp_path, PaperOrderExecutor(price))
    for i in range(20): s.queue.send(msg(f"k-{i:02d}"))
    out = drain(s)
    assert s.executor.executions == [f"k-{i:02d}" for i in range(5)]   # nothing executes after the switch
    after = [s.orders.get(f"k-{i:02d}") for i in range(5, 20)]
    assert all(o.status == S.REJECTED and o.reason == KILL_SWITCH_REASON for o in after)
    later = by_order(out)
    assert all(handled_once(later[f"k-{i:02d}"], "rejected") for i in range(5, 20)) and all(o.deleted for o in out)


def test_kill_switch_refuses_everything_for_concurrent_workers(system):
    set_kill_switch(system.kill_switch, True, "maintenance", "ops")
    for i in range(10): system.queue.send(msg(f"m-{i}"))
    out = drain(system, workers=4)
    assert system.executor.executions == []
    ids = [f"m-{i}" for i in range(10)]
    assert sorted(by_order(out)) == ids and all(handled_once(a, "rejected") for a in by_order(out).values())
    assert {(o.status, o.reason) for o in out} == {(S.REJECTED, KILL_SWITCH_REASON)}      # every delivery saw it refused
    assert all((system.orders.get(i).status, system.orders.get(i).version) == (S.REJECTED, 2) for i in ids)  # refused once each
    set_kill_switch(system.kill_switch, False, "done", "ops")
    system.queue.send(msg("m-after"))
    drain(system)
    assert system.executor.executions == ["m-after"]


def test_kill_switch_checked_again_right_before_execution(tmp_path):
    s = embedded(tmp_path)
    s.orders.create(Order.new("late", "USDJPY", "BUY", "MARKET", 0.1))
    claim = s.orders.update_status
    def claim_then_switch(order_id, status, expected_version, **kw):   # the switch goes on between claim and execution
        out = claim(order_id, status, expected_version, **kw)
        if status == S.SUBMITTED: s.kill_switch.set(True, "now", "ops")
        return out
    s.orders.update_status = claim_then_switch
    s.queue.send(msg("late"))
    [o] = s.path.run_once()
    assert s.executor.executions == [] and (o.status, o.reason) == (S.REJECTED, KILL_SWITCH_REASON)


# --- validation and bad messages ---------------------------------------------------------------------
def test_bad_messages(tmp_path):
    s = embedded(tmp_path)
    for body in ["{not json", '{"client_order_id": "../../x", "symbol": "USDJPY"}', msg("h-1", "EUR/USD"),
                 msg("h-2", side="HOLD"), msg("v-1", volume=-1), msg("v-2", typ="STOP"),
                 msg("v-3", side="SELL", price=150.0, stop_loss=149.0)]:
        s.queue.send(body)
    out = {(o.order_id or "-") + str(i): o for i, o in enumerate(drain(s))}
    actions = [o.action for o in out.values()]
    assert actions == ["invalid", "invalid", "invalid", "invalid", "rejected", "rejected", "rejected"]
    assert {o.order_id for o in s.orders.recent()} == {"v-1", "v-2", "v-3"}     # hostile or unusable: never stored
    assert "needs a price" in s.orders.get("v-2").reason and "must be above the price" in s.orders.get("v-3").reason
    assert s.executor.executions == [] and len(s.queue) == 0


# --- a message goes only after its outcome is stored -------------------------------------------------
def test_message_kept_until_outcome_is_stored_and_never_executed_twice(tmp_path):
    s = embedded(tmp_path, visibility_timeout=0.2)
    s.path.max_receives = 3
    real = s.orders.update_status
    def store_fails_once(order_id, status, expected_version, **kw):
        if status == S.FILLED and not getattr(store_fails_once, "failed", False):
            store_fails_once.failed = True
            raise TierUnavailable("DynamoDB unreachable: simulated")
        return real(order_id, status, expected_version, **kw)
    s.orders.update_status = store_fails_once
    s.queue.send(msg("f-1"))
    with pytest.raises(TierUnavailable):
        s.path.run_once()
    assert len(s.queue) == 1 and s.executor.executions == ["f-1"]        # not deleted: its outcome is not stored
    outs = []
    while len(s.queue):
        time.sleep(0.25); outs += s.path.run_once()
    assert s.executor.executions == ["f-1"]                                # redelivery executed nothing
    # after max_receives deliveries the order is in doubt (it may have been sent) and goes to reconciliation;
    # the paper executor keeps no history, so it stays UNKNOWN, saying why
    assert [o.action for o in outs] == ["in_flight", "in_doubt"]
    got = s.orders.get("f-1")
    assert got.status == S.UNKNOWN and "worker stopped after claiming it" in got.reason and "cannot look orders up" in got.reason


# --- MetaTrader 5 ------------------------------------------------------------------------------------
T0 = pd.Timestamp("2026-11-26 14:30:00", tz="UTC")     # a fixed Thursday: nothing here depends on "now"


class Clock:
    "One clock the test moves, for the repository, the use case, the executor, the queue and the terminal."
    def __init__(self, t=T0): self.t = t
    def __call__(self): return self.t
    def epoch(self) -> float: return self.t.timestamp()
    def advance(self, **kw): self.t += pd.Timedelta(**kw)


def mt5_exec(script=(), clock=None, **kw):
    clock = clock or Clock()
    mt5 = Mt5OrderStandIn(script, now_epoch=int(clock.epoch()), history=kw.pop("history", "ok"), error=kw.pop("error", (-10004, "No IPC connection")))
    return mt5, Mt5OrderExecutor(mt5, clock=clock, **kw)


def rig(tmp_path, script=(), settle_after="30s", max_receives=3, **kw):
    "The order path on SQLite with the MT5 stand-in, all on one test clock."
    clock = Clock()
    mt5, ex = mt5_exec(script, clock, settle_after=pd.Timedelta(settle_after), **kw)
    orders, ks = SqliteOrderRepository.in_data_dir(tmp_path, clock=clock), SqliteKillSwitchRepository.in_data_dir(tmp_path, clock=clock)
    queue = SqliteOrderQueue.in_data_dir(tmp_path, visibility_timeout=30, visibility_timer=clock.epoch)
    return NS(clock=clock, mt5=mt5, executor=ex, orders=orders, kill_switch=ks, queue=queue,
              path=ProcessSqsOrderUseCase(queue, orders, ks, ex, max_receives=max_receives, clock=clock))


def test_mt5_request_shape():
    mt5, ex = mt5_exec()
    buy = ex.request(Order.new("r1", "USDJPY", "BUY", "MARKET", 0.1, stop_loss=149.0))
    sell = ex.request(Order.new("r2", "USDJPY", "SELL", "MARKET", 0.1))
    lim = ex.request(Order.new("r3-with-a-very-long-client-order-id", "EURUSD", "SELL", "LIMIT", 0.2, price=1.12, take_profit=1.10))
    assert (buy["action"], buy["type"], buy["price"], buy["sl"], buy["tp"]) == (1, 0, 150.02, 149.0, 0.0)
    assert (sell["type"], sell["price"], sell["type_filling"]) == (1, 150.00, mt5.ORDER_FILLING_IOC)
    assert (lim["action"], lim["type"], lim["price"], lim["type_filling"]) == (5, 3, 1.12, mt5.ORDER_FILLING_RETURN)
    assert len(lim["comment"]) <= 31 and buy["magic"] == lim["magic"] and buy["type_time"] == mt5.ORDER_TIME_GTC
    assert buy["comment"] == "axia r1" and lim["comment"] == mt5_comment("r3-with-a-very-long-client-order-id")
    stop = ex.request(Order.new("r4", "USDJPY", "BUY", "STOP", 0.1, price=151.0))
    assert stop["type"] == mt5.ORDER_TYPE_BUY_STOP


@pytest.mark.parametrize("script, status, reason, attempts", [
    ([10009], S.FILLED, "retcode 10009 DONE: Request executed", 1),
    ([10004, 10004, 10009], S.FILLED, "10009 DONE", 3),
    ([10004, 10004, 10004], S.REJECTED, "retcode 10004 REQUOTE after 3 attempts: Requote", 3),
    ([10006], S.REJECTED, "retcode 10006 REJECT: Request rejected", 1),
    ([10018], S.REJECTED, "retcode 10018 MARKET_CLOSED: Market is closed", 1),
    ([10010], S.PARTIALLY_FILLED, "10010 DONE_PARTIAL", 1),
    ([10004, 10012], S.UNKNOWN, "retcode 10012 TIMEOUT: Request canceled by timeout — in doubt", 2),
    ([10031], S.UNKNOWN, "retcode 10031 CONNECTION: No connection with the trade server — in doubt", 1),
    ([None], S.UNKNOWN, "order_send returned None: (-10004, 'No IPC connection') — in doubt", 1),
    ([EOFError("stream has been closed")], S.UNKNOWN, "order_send raised EOFError: stream has been closed — in doubt", 1),
    ([TimeoutError("result expired")], S.UNKNOWN, "order_send raised TimeoutError", 1),
    ([ConnectionResetError(104, "reset")], S.UNKNOWN, "order_send raised ConnectionResetError", 1),
])
def test_mt5_retcodes(script, status, reason, attempts):
    mt5, ex = mt5_exec(script)
    out = ex.execute(Order.new("x", "USDJPY", "BUY", "MARKET", 0.2))
    assert (out.status, out.attempts) == (status, attempts) and reason in out.reason
    assert len(mt5.requests) == attempts
    if attempts > 1: assert mt5.requests[-1]["price"] > mt5.requests[0]["price"]     # retried at a fresh price
    if status == S.FILLED: assert (out.fill_price, out.filled_volume, out.broker_ticket) == (mt5.requests[-1]["price"], 0.2, str(mt5.history_orders[-1].ticket))


@pytest.mark.parametrize("code, status", [(c, S.UNKNOWN) for c in (-1, -10000, -10001, -10002, -10003, -10004, -10005)]
                         + [(-2, S.REJECTED), (-6, S.REJECTED), (-8, S.REJECTED)])
def test_mt5_none_answers_by_last_error(code, status):
    mt5, ex = mt5_exec([None], error=(code, IPC_ERRORS.get(code, "Terminal: refused")))
    out = ex.execute(Order.new("x", "USDJPY", "BUY", "MARKET", 0.2))
    assert out.status == status and f"({code}, " in out.reason


def test_mt5_terminal_gone_before_sending_is_rejected():
    mt5, ex = mt5_exec()
    mt5.symbol_info_tick = lambda s: (_ for _ in ()).throw(EOFError("stream has been closed"))
    out = ex.execute(Order.new("x", "USDJPY", "BUY", "MARKET", 0.2))
    assert out.status == S.REJECTED and "before sending" in out.reason and mt5.requests == []


def test_mt5_unknown_symbol_and_placed():
    mt5, ex = mt5_exec([10008])
    assert "no price for GBPUSD" in ex.execute(Order.new("u", "GBPUSD", "BUY", "MARKET", 0.1)).reason
    placed = ex.execute(Order.new("p", "USDJPY", "BUY", "LIMIT", 0.1, price=149.0))
    assert (placed.status, placed.broker_ticket) == (S.SUBMITTED, "5000001")


# --- orders in doubt: reconciled against the terminal's history --------------------------------------
IN_DOUBT = [10012, 10031, None, EOFError("stream has been closed")]
FATES = {"filled": S.FILLED, "partial": S.PARTIALLY_FILLED, "placed": S.SUBMITTED, "rejected": S.REJECTED}


@pytest.mark.parametrize("fate", list(FATES))
@pytest.mark.parametrize("answer", IN_DOUBT, ids=["timeout", "connection", "none", "eoferror"])
def test_in_doubt_order_is_settled_from_history_and_never_sent_twice(tmp_path, answer, fate):
    r = rig(tmp_path, [(answer, fate)])
    typ = "LIMIT" if fate == "placed" else "MARKET"
    r.queue.send(msg("d-1", typ=typ, price=149.0 if typ == "LIMIT" else None, volume=0.2))
    [out] = r.path.run_once()
    got = r.orders.get("d-1")
    assert (out.action, got.status, out.deleted) == ("reconciled", FATES[fate], True)
    assert got.reason.startswith(("retcode", "order_send")) and " | reconcile: reconciled: " in got.reason   # cause kept
    [sent] = r.mt5.requests
    if fate in ("filled", "partial"):
        deal = r.mt5.deals[0]
        assert (got.fill_price, got.filled_volume, got.broker_ticket) == (sent["price"], deal.volume, str(deal.order))
        assert got.filled_volume == (0.2 if fate == "filled" else 0.1)
    if fate == "placed": assert got.broker_ticket == str(r.mt5.active_orders[0].ticket)
    if fate == "rejected": assert "REJECTED with no deal" in got.reason
    r.queue.send(msg("d-1", typ=typ, price=149.0 if typ == "LIMIT" else None, volume=0.2))   # a late duplicate
    [dup] = r.path.run_once()
    assert dup.action == "duplicate" and len(r.mt5.requests) == 1 and len(r.queue) == 0


@pytest.mark.parametrize("answer", IN_DOUBT, ids=["timeout", "connection", "none", "eoferror"])
def test_in_doubt_order_that_never_arrived_waits_then_is_rejected(tmp_path, answer):
    r = rig(tmp_path, [(answer, "lost")], settle_after="30s")
    r.queue.send(msg("d-2"))
    [first] = r.path.run_once()
    assert (first.action, first.status, first.deleted) == ("in_doubt", S.UNKNOWN, False)        # kept: look again later
    assert "not in the terminal's history 0 s after the send" in r.orders.get("d-2").reason
    r.clock.advance(seconds=31)                                                                   # visibility timeout passed too
    [again] = r.path.run_once()
    got = r.orders.get("d-2")
    assert (again.action, got.status, again.deleted) == ("reconciled", S.REJECTED, True)
    assert "never reached the trade server" in got.reason and len(r.mt5.requests) == 1 and len(r.queue) == 0


@pytest.mark.parametrize("history, why", [("none", "history cannot be read: (-10002, 'IPC recv failed')"),
                                          ("raise", "history cannot be read: EOFError: connection closed by peer"),
                                          ("disconnected", "not connected to the trade server")])
def test_unreadable_history_keeps_the_order_unknown_with_the_reason(tmp_path, history, why):
    r = rig(tmp_path, [(10012, "filled")], history=history, max_receives=3)
    r.queue.send(msg("d-3"))
    outs = []
    for _ in range(3):
        outs += r.path.run_once(); r.clock.advance(seconds=31)
    assert [(o.action, o.status, o.deleted) for o in outs] == [("in_doubt", S.UNKNOWN, False)] * 2 + [("in_doubt", S.UNKNOWN, True)]
    got = r.orders.get("d-3")
    assert got.status == S.UNKNOWN and why in got.reason and got.reason.startswith("retcode 10012 TIMEOUT")
    assert len(r.mt5.requests) == 1 and len(r.queue) == 0        # given up on the message, never re-sent
    r.mt5.history = "ok"                                         # the terminal is back: an operator reconciles
    settled = r.path.reconcile_order("d-3")
    assert (settled.status, settled.filled_volume) == (S.FILLED, 0.1) and len(r.mt5.requests) == 1


def test_reconcile_reads_the_terminal_as_documented(tmp_path):
    "Dates are tz-aware UTC datetimes one day around the order's life; the group is the broker symbol."
    oid = "a-long-client-order-id-from-the-strategy-0001"
    r = rig(tmp_path, [(10031, "filled")], symbol_suffix=".pro")
    r.mt5.symbols = {"USDJPY.pro"}
    # another axia order of the same symbol, filled in the window: it must not be taken for this one
    r.mt5._record(dict(action=1, symbol="USDJPY.pro", volume=0.3, type=0, price=150.5, magic=r.executor.magic,
                       comment=mt5_comment(oid[:-1] + "2")), "filled")
    r.queue.send(msg(oid))
    [out] = r.path.run_once()
    got = r.orders.get(oid)
    assert (out.action, got.status, got.filled_volume) == ("reconciled", S.FILLED, 0.1)
    calls = {c[0]: c for c in r.mt5.history_calls}
    name, lo, hi, group, ticket, position = calls["history_deals_get"]
    assert group == "USDJPY.pro" and ticket is None and position is None
    assert lo.tzinfo is not None and lo.utcoffset() == pd.Timedelta(0)
    assert pd.Timestamp(lo) == T0 - pd.Timedelta(days=1) and pd.Timestamp(hi) == T0 + pd.Timedelta(days=1)


def test_deals_are_matched_through_their_order_when_the_server_rewrites_the_comment(tmp_path):
    r = rig(tmp_path, [(10012, "filled")])
    r.mt5.deal_comment = "[server] filled"
    r.queue.send(msg("d-5", volume=0.2))
    [out] = r.path.run_once()
    got = r.orders.get("d-5")
    assert (out.action, got.status, got.filled_volume, got.broker_ticket) == ("reconciled", S.FILLED, 0.2, str(r.mt5.history_orders[0].ticket))


def test_kill_switch_does_not_stop_reconciliation(tmp_path):
    r = rig(tmp_path, [(10012, "lost")])
    r.queue.send(msg("d-4"))
    [first] = r.path.run_once()                                  # sent; in doubt; nothing in the history yet
    assert first.action == "in_doubt"
    set_kill_switch(r.kill_switch, True, "broker outage", "ops")
    r.clock.advance(seconds=31)
    [again] = r.path.run_once()                                  # looking up is not sending: it goes on
    assert (again.action, again.status) == ("reconciled", S.REJECTED) and len(r.mt5.requests) == 1


def test_mt5_through_the_order_path(tmp_path):
    r = rig(tmp_path, [10009, 10004, 10009, 10006, 10031, 10008], settle_after="0s")
    for i, typ in enumerate(["MARKET"] * 4 + ["LIMIT"]):
        r.queue.send(msg(f"t-{i}", typ=typ, price=149.0 if typ == "LIMIT" else None))
    out = r.path.run_once()
    got = {f"t-{i}": r.orders.get(f"t-{i}") for i in range(5)}
    assert {k: o.status for k, o in got.items()} == {"t-0": S.FILLED, "t-1": S.FILLED, "t-2": S.REJECTED,
                                                     "t-3": S.REJECTED, "t-4": S.SUBMITTED}
    assert [o.action for o in out] == ["executed"] * 3 + ["reconciled", "executed"]
    assert "REJECT" in got["t-2"].reason and "never reached the trade server" in got["t-3"].reason
    assert got["t-4"].broker_ticket and got["t-4"].version == 3          # resting at the broker, ticket recorded
    r.queue.send(msg("t-4", typ="LIMIT", price=149.0))                   # a late duplicate of the resting order
    [dup] = r.path.run_once()
    assert dup.action == "duplicate" and len(r.mt5.requests) == 6 and len(r.queue) == 0


# --- executors and CLI helpers -----------------------------------------------------------------------
def test_paper_executor_prices():
    ex = PaperOrderExecutor(lambda s: {"USDJPY": 150.0}[s] if s == "USDJPY" else float("nan"))
    assert ex.execute(Order.new("a", "USDJPY", "SELL", "LIMIT", 1, price=149.0)).fill_price == 150.0   # marketable
    assert ex.execute(Order.new("b", "USDJPY", "BUY", "STOP", 1, price=149.0)).status == S.FILLED
    assert "no price for EURUSD: nan" in ex.execute(Order.new("c", "EURUSD", "BUY", "MARKET", 1)).reason


def test_cli_helpers(tmp_path):
    s = embedded(tmp_path)
    assert format_orders([]) == "no orders"
    s.queue.send(msg("c-1")); drain(s)
    report = orders_report(s.orders, s.kill_switch, limit=5)
    assert report.startswith("kill switch: off (never set)") and "c-1" in report and "FILLED" in report
    st = set_kill_switch(s.kill_switch, True, " broker outage ", "alice")
    assert (st.active, st.reason, st.who) == (True, "broker outage", "alice")
    assert "ON — set by alice" in orders_report(s.orders, s.kill_switch)
    for bad in [dict(reason="x", who=""), dict(reason="  ", who="bob")]:
        with pytest.raises(ValueError, match="say"):
            set_kill_switch(s.kill_switch, True, **bad)


def test_sqs_queue_adapter(atomic_moto):
    s = on_aws(atomic_moto, visibility_timeout=1)
    mid = s.queue.send("hello")
    [m] = s.queue.receive(wait_seconds=1)
    assert (m.body, m.message_id, m.receive_count) == ("hello", mid, 1) and isinstance(m, QueueMessage)
    assert s.queue.receive() == []                              # hidden while in flight
    time.sleep(1.1)
    [again] = s.queue.receive(wait_seconds=1)
    assert again.receive_count == 2
    s.queue.delete(again.receipt_handle)
    time.sleep(1.1)
    assert s.queue.receive() == []
