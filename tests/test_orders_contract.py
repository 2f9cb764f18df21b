"""The order-store contract, run against every adapter: SQLite (embedded default) and DynamoDB through
moto's HTTP server. Concurrency tests use moto with serialised requests (see `AtomicMotoServer`)."""
from __future__ import annotations
import importlib.util, multiprocessing, threading, time, uuid
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace as NS

import pandas as pd
import pytest

from axia.core import InvalidSymbol, TierUnavailable, utc_now
from axia.orders import (TRANSITIONS, ConcurrentUpdate, IllegalTransition, InvalidOrder, Order, OrderNotFound,
                         OrderStatus as S)
from axia.tiers.dynamodb import DynamoDBKillSwitchRepository, DynamoDBOrderRepository, dynamodb_client
from axia.tiers.sqlite import SqliteKillSwitchRepository, SqliteOrderRepository
from orders_support import AtomicMotoServer, claim_in_process

_spec = importlib.util.spec_from_file_location("orders_contention", Path(__file__).parents[1] / "bench" / "orders_contention.py")
bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench)


class Clock:
    "A clock the test moves."
    def __init__(self): self.t = utc_now()
    def __call__(self): return self.t
    def advance(self, **kw): self.t += pd.Timedelta(**kw)


def make_stores(kind: str, tmp_path: Path, endpoint: str | None):
    clock = Clock()
    if kind == "sqlite":
        db = tmp_path / f"{uuid.uuid4().hex}.sqlite3"
        return NS(kind=kind, clock=clock, orders=SqliteOrderRepository(db, clock=clock), kill_switch=SqliteKillSwitchRepository(db, clock=clock))
    client, prefix = dynamodb_client(endpoint), f"t{uuid.uuid4().hex[:10]}"
    orders = DynamoDBOrderRepository(prefix, client=client, clock=clock)
    orders.create_tables()
    return NS(kind=kind, clock=clock, orders=orders, kill_switch=DynamoDBKillSwitchRepository(prefix, client=client, clock=clock))


@pytest.fixture(scope="module")
def atomic_moto():
    srv = AtomicMotoServer().start()
    yield srv.url
    srv.stop()


@pytest.fixture(params=["sqlite", "dynamodb"])
def stores(request, tmp_path):
    endpoint = request.getfixturevalue("moto_server") if request.param == "dynamodb" else None
    return make_stores(request.param, tmp_path, endpoint)


@pytest.fixture(params=["sqlite", "dynamodb"])
def racing_stores(request, tmp_path):
    endpoint = request.getfixturevalue("atomic_moto") if request.param == "dynamodb" else None
    return make_stores(request.param, tmp_path, endpoint)


def new(oid="o-1", symbol="USDJPY", created_at=None, **kw):
    return Order.new(oid, symbol, kw.pop("side", "BUY"), kw.pop("type", "MARKET"), kw.pop("volume", 0.1), created_at=created_at, **kw)


def advance(repo, oid, *path):
    "Move an order along `path`, returning the last stored state."
    o = repo.get(oid)
    for st in path: o = repo.update_status(oid, st, o.version)
    return o


# --- creation, reading ------------------------------------------------------------------------------
def test_create_is_idempotent(stores):
    o = new(price=150.0, stop_loss=149.0, take_profit=151.0)
    assert stores.orders.create(o) == (o, True)
    other_terms = new(volume=9.0)                      # same id, different terms: the first one stays
    assert stores.orders.create(other_terms) == (o, False)
    assert stores.orders.get("o-1") == o


def test_numbers_round_trip_exactly(stores):
    o = new(price=150.123, stop_loss=150.1, take_profit=150.2 + 0.1, volume=0.1)
    stores.orders.create(o)
    got = stores.orders.get(o.order_id)
    assert (got.price, got.stop_loss, got.take_profit, got.volume) == (150.123, 150.1, 150.2 + 0.1, 0.1)
    assert got.created_at == o.created_at and got.created_at.tz is not None


def test_unknown_order(stores):
    assert stores.orders.get("nope") is None
    with pytest.raises(OrderNotFound, match="no live order 'nope'"):
        stores.orders.update_status("nope", S.SUBMITTED, 1)


# --- optimistic locking and the lifecycle -----------------------------------------------------------
def test_optimistic_locking(stores):
    repo = stores.orders
    repo.create(new())
    first = repo.update_status("o-1", S.SUBMITTED, expected_version=1, broker_ticket="T1")
    assert (first.status, first.version, first.broker_ticket) == (S.SUBMITTED, 2, "T1")
    with pytest.raises(ConcurrentUpdate, match="at version 2") as e:   # a second writer that read version 1
        repo.update_status("o-1", S.CANCELLED, expected_version=1)
    assert e.value.current == first                                       # retry from here without reading again
    assert repo.get("o-1") == first
    done = repo.update_status("o-1", S.FILLED, expected_version=2, fill_price=150.01, filled_volume=0.1)
    assert (done.version, done.fill_price, done.broker_ticket) == (3, 150.01, "T1")


@pytest.mark.parametrize("frm", list(S))
def test_illegal_transitions_refused(stores, frm):
    path = {S.PENDING: [], S.SUBMITTED: [S.SUBMITTED], S.PARTIALLY_FILLED: [S.SUBMITTED, S.PARTIALLY_FILLED],
            S.FILLED: [S.SUBMITTED, S.FILLED], S.REJECTED: [S.REJECTED], S.CANCELLED: [S.CANCELLED],
            S.UNKNOWN: [S.SUBMITTED, S.UNKNOWN]}[frm]
    illegal = [to for to in S if to not in TRANSITIONS[frm]]
    for i, to in enumerate(illegal):
        oid = f"o-{frm}-{i}"
        stores.orders.create(new(oid))
        before = advance(stores.orders, oid, *path)
        with pytest.raises(IllegalTransition, match=f"{frm} → {to} is not allowed"):
            stores.orders.update_status(oid, to, before.version)
        assert stores.orders.get(oid) == before


def test_amend_records_broker_facts_without_a_status_change(stores):
    stores.orders.create(new())
    sub = advance(stores.orders, "o-1", S.SUBMITTED)
    placed = stores.orders.amend("o-1", sub.version, broker_ticket="778", reason="placed")
    assert (placed.status, placed.version, placed.broker_ticket) == (S.SUBMITTED, 3, "778")
    final = stores.orders.update_status("o-1", S.CANCELLED, placed.version, reason=None)
    assert final.reason is None and final.broker_ticket == "778"
    with pytest.raises(IllegalTransition, match="final order cannot be amended"):
        stores.orders.amend("o-1", final.version, reason="late")
    with pytest.raises(InvalidOrder, match="cannot change"):
        stores.orders.amend("o-1", final.version, status="FILLED")


# --- history -----------------------------------------------------------------------------------------
def test_list_by_symbol_and_time(stores):
    t0 = pd.Timestamp("2026-11-02 10:00", tz="UTC")
    for i in range(6):
        stores.orders.create(new(f"u{i}", "USDJPY", created_at=t0 + pd.Timedelta(minutes=i)))
        stores.orders.create(new(f"e{i}", "EURUSD", created_at=t0 + pd.Timedelta(minutes=i)))
    got = stores.orders.list_by_symbol("USDJPY", t0 + pd.Timedelta(minutes=1), t0 + pd.Timedelta(minutes=4))
    assert [o.order_id for o in got] == ["u1", "u2", "u3"]                 # [start, end), oldest first
    assert stores.orders.list_by_symbol("GBPUSD", t0, t0 + pd.Timedelta("1h")) == []
    with pytest.raises(InvalidSymbol):
        stores.orders.list_by_symbol("USDJPY#2026", t0, t0 + pd.Timedelta("1h"))


def test_recent_newest_first_across_months(stores):
    now = stores.clock()
    for i, back in enumerate(["0min", "1D", "40D", "200D"]):
        stores.orders.create(new(f"r{i}", "EURUSD" if i % 2 else "USDJPY", created_at=now - pd.Timedelta(back)))
    assert [o.order_id for o in stores.orders.recent(3)] == ["r0", "r1", "r2"]
    assert [o.order_id for o in stores.orders.recent(10)] == ["r0", "r1", "r2", "r3"]


# --- retention ---------------------------------------------------------------------------------------
def test_expired_item_is_not_returned(stores):
    t = stores.clock()
    stores.orders.create(new("gone", created_at=t), expires_at=t - pd.Timedelta("1s"))
    stores.orders.create(new("kept", created_at=t))
    assert stores.orders.get("gone") is None
    assert [o.order_id for o in stores.orders.list_by_symbol("USDJPY", t, t + pd.Timedelta("1s"))] == ["kept"]
    assert [o.order_id for o in stores.orders.recent()] == ["kept"]
    with pytest.raises(OrderNotFound):
        stores.orders.update_status("gone", S.SUBMITTED, 1)
    again = new("gone", volume=2.0, created_at=t)              # an expired id is free again
    assert stores.orders.create(again) == (again, True)


def test_retention_is_one_year_by_the_clock(stores):
    stores.orders.create(new())
    stores.clock.advance(days=364)
    assert stores.orders.get("o-1") is not None
    stores.clock.advance(days=2)
    assert stores.orders.get("o-1") is None and stores.orders.recent() == []


# --- kill switch -------------------------------------------------------------------------------------
def test_kill_switch_get_set(stores):
    ks = stores.kill_switch
    assert (ks.get().active, ks.get().at) == (False, None)
    on = ks.set(True, "broker outage", "alice")
    assert (on.active, on.reason, on.who) == (True, "broker outage", "alice") and on.at is not None
    assert ks.get() == on and ks.is_active()
    stores.clock.advance(minutes=5)
    off = ks.set(False, "resolved", "bob")
    assert ks.get() == off and not ks.is_active() and off.at - on.at == pd.Timedelta(minutes=5)


# --- concurrency -------------------------------------------------------------------------------------
def test_one_claim_wins_among_100_threads(racing_stores):
    repo = racing_stores.orders
    repo.create(new())
    wins, conflicts, barrier = [], [], threading.Barrier(100)

    def claim(i):
        barrier.wait()
        try: wins.append(repo.update_status("o-1", S.SUBMITTED, 1, broker_ticket=f"w{i}"))
        except ConcurrentUpdate: conflicts.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(100)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert (len(wins), len(conflicts)) == (1, 99)
    assert repo.get("o-1") == wins[0] and wins[0].version == 2


def test_concurrent_creates_make_one_order(racing_stores):
    repo, results, barrier = racing_stores.orders, [], threading.Barrier(50)

    def create(i):
        barrier.wait(); results.append(repo.create(new(volume=1.0 + i)))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert sum(created for _, created in results) == 1
    assert len({o for o, _ in results}) == 1 and repo.get("o-1") == results[0][0]


# 1,000 on SQLite; fewer on DynamoDB because moto answers ~10 ms per request (the bench runs 1,000 on both).
@pytest.mark.parametrize("updates_by_kind", [{"sqlite": 1000, "dynamodb": 150}])
def test_contended_status_updates_lose_nothing(racing_stores, updates_by_kind, capsys):
    n = updates_by_kind[racing_stores.kind]
    figures = bench.check(racing_stores.orders, bench.contend(racing_stores.orders, updates=n, threads=8 if n >= 1000 else 4))
    with capsys.disabled():
        print(f"\n[orders contention] {racing_stores.kind}: {figures}")
    assert figures["updates"] == 3 * -(-n // 3) and figures["lost"] == 0 and figures["illegal"] == 0
    assert figures["conflicts_retried"] > 0                     # the threads really raced


def test_sqlite_processes_race_safely(tmp_path):
    db = tmp_path / "orders.sqlite3"
    repo, ids = SqliteOrderRepository(db), [f"p{i}" for i in range(60)]
    for oid in ids: repo.create(new(oid))
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        won = [w for ws in pool.map(claim_in_process, [str(db)] * 3, [ids] * 3) for w in ws]
    assert sorted(won) == sorted(ids) and len(won) == len(set(won))   # each order claimed by exactly one process
    assert all(repo.get(oid).status == S.SUBMITTED and repo.get(oid).version == 2 for oid in ids)
    assert repo.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- DynamoDB specifics ------------------------------------------------------------------------------
def test_dynamodb_table_design(moto_server, tmp_path):
    st = make_stores("dynamodb", tmp_path, moto_server)
    c, table = st.orders.client, st.orders.table
    st.orders.create_tables()                                   # again: nothing breaks
    ttl = c.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    desc = c.describe_table(TableName=table)["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "order_id", "KeyType": "HASH"}]
    gsis = {g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in desc["GlobalSecondaryIndexes"]}
    assert gsis == {"by_symbol": ["symbol", "created_key"], "by_month": ["created_month", "created_key"]}
    o = new(price=150.1, stop_loss=149.9)
    st.orders.create(o)
    item = c.get_item(TableName=table, Key={"order_id": {"S": "o-1"}})["Item"]
    assert item["price"] == {"N": "150.1"} and item["version"] == {"N": "1"} and "take_profit" not in item
    assert item["created_key"]["S"] == f"{o.created_at:%Y-%m-%dT%H:%M:%S.%f}Z#o-1"
    year_ahead = (st.clock() + pd.Timedelta(days=365)).timestamp()
    assert abs(Decimal(item["expires_at"]["N"]) - Decimal(int(year_ahead))) <= 1


def test_dynamodb_unreachable_is_tier_unavailable():
    repo = DynamoDBOrderRepository("x", client=dynamodb_client("http://127.0.0.1:9", max_attempts=1, connect_timeout=0.5))
    t = time.monotonic()
    with pytest.raises(TierUnavailable, match="DynamoDB unreachable"):
        repo.get("o-1")
    assert time.monotonic() - t < 10


def test_dynamodb_missing_table_says_what_to_do(moto_server):
    repo = DynamoDBOrderRepository(f"missing{uuid.uuid4().hex[:6]}", client=dynamodb_client(moto_server))
    with pytest.raises(TierUnavailable, match="run create_tables"):
        repo.get("o-1")


# --- the domain --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, reason", [
    (dict(volume=0), "volume 0 — must be a number above 0"),
    (dict(volume=-0.1), "volume -0.1"),
    (dict(side="BUY", price=150.0, stop_loss=150.5), "stop_loss 150.5 must be below the price 150.0 for a BUY"),
    (dict(side="BUY", price=150.0, take_profit=149.0), "take_profit 149.0 must be above the price 150.0 for a BUY"),
    (dict(side="SELL", price=150.0, stop_loss=149.0), "stop_loss 149.0 must be above the price 150.0 for a SELL"),
    (dict(side="SELL", price=150.0, take_profit=151.0), "take_profit 151.0 must be below the price 150.0 for a SELL"),
    (dict(type="LIMIT"), "a LIMIT order needs a price"),
    (dict(type="STOP"), "a STOP order needs a price"),
    (dict(symbol="../../etc"), "symbols are"),
    (dict(side="HOLD"), "side 'HOLD'"),
])
def test_invalid_orders_say_why(kw, reason):
    symbol = kw.pop("symbol", "USDJPY")
    with pytest.raises(InvalidOrder, match=reason.replace("(", r"\(").replace(".", r"\.")) as e:
        new("bad", symbol, **kw)
    assert isinstance(e.value, ValueError) and e.value.reasons


def test_valid_orders_pass():
    assert new(side="SELL", type="LIMIT", price=150.0, stop_loss=150.5, take_profit=149.0).status == S.PENDING
    assert new(side="BUY", type="STOP", price=150.0, stop_loss=149.5, take_profit=151.0).version == 1
