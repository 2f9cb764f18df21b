"""Contended order status updates: threads race to move the same orders through their lifecycle.

    python bench/orders_contention.py [--updates 1000] [--threads 8]

Runs against the SQLite tier (a temp file) and DynamoDB (moto's HTTP server started here), each
contended (all threads on the same order at once) and uncontended (one thread, same updates) as the
baseline. Prints one line per figure. Correctness (no lost update, no illegal transition) is
asserted by `check`, which tests/test_orders_contract.py also runs.
"""
from __future__ import annotations
import argparse, os, statistics, sys, tempfile, threading, time, uuid
from collections import Counter
from pathlib import Path

from axia.orders import ConcurrentUpdate, IllegalTransition, Order, OrderStatus

PATH = [OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]   # 3 updates per order


def contend(repo, updates: int = 1000, threads: int = 8, prefix: str | None = None) -> dict:
    "Create ceil(updates/3) orders; `threads` threads all advance the same order until it is FILLED, then the next."
    prefix = prefix or uuid.uuid4().hex[:8]
    ids = [f"{prefix}-{i:05d}" for i in range(-(-updates // len(PATH)))]
    for oid in ids: repo.create(Order.new(oid, "USDJPY", "BUY", "MARKET", 1.0))
    wins, counts, lock = [], Counter(), threading.Lock()
    start = threading.Barrier(threads)

    def worker(name):
        start.wait()
        for oid in ids:
            cur = repo.get(oid)
            while True:
                if cur.status.is_terminal: break
                nxt = PATH[PATH.index(cur.status) + 1] if cur.status in PATH else PATH[0]
                fill = 0.5 if nxt == OrderStatus.PARTIALLY_FILLED else (1.0 if nxt == OrderStatus.FILLED else None)
                with lock: counts["attempts"] += 1
                try:
                    new = repo.update_status(oid, nxt, cur.version, reason=f"{name}:v{cur.version + 1}", filled_volume=fill)
                except ConcurrentUpdate as e:          # retry from the order as stored, no extra read
                    with lock: counts["conflicts_retried"] += 1
                    cur = e.current
                    continue
                except IllegalTransition:
                    with lock: counts["illegal"] += 1
                    cur = repo.get(oid)
                    continue
                with lock: wins.append((oid, cur.status, new.status, new.version, name))
                cur = new

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(threads)]
    for t in pool: t.start()
    for t in pool: t.join()
    seconds = time.perf_counter() - t0
    return dict(ids=ids, wins=wins, seconds=seconds, threads=threads, updates=len(wins), **counts)


def check(repo, result: dict) -> dict:
    "Assert no lost update and no illegal transition; returns the figures."
    by_order = {}
    for oid, old, new, version, name in result["wins"]: by_order.setdefault(oid, []).append((version, old, new, name))
    lost = 0
    for oid in result["ids"]:
        chain = sorted(by_order.get(oid, []))
        final = repo.get(oid)
        versions = [v for v, *_ in chain]
        # two winners for one version, or a final state that is not the last winner's write, is a lost update
        if versions != list(range(2, 2 + len(PATH))) or final.version != 1 + len(chain): lost += 1
        elif [(o, n) for _, o, n, _ in chain] != list(zip([OrderStatus.PENDING, *PATH[:-1]], PATH)): lost += 1
        elif final.status != OrderStatus.FILLED or final.reason != f"{chain[-1][3]}:v{chain[-1][0]}": lost += 1
    figures = dict(updates=result["updates"], attempts=result.get("attempts", 0), threads=result["threads"],
                   conflicts_retried=result.get("conflicts_retried", 0), illegal=result.get("illegal", 0),
                   lost=lost, seconds=round(result["seconds"], 3))
    assert figures["illegal"] == 0 and lost == 0, figures
    assert figures["attempts"] == figures["updates"] + figures["conflicts_retried"], figures
    return figures


def _repos(tmp: Path, endpoint: str):
    from axia.tiers.dynamodb import DynamoDBOrderRepository
    from axia.tiers.sqlite import SqliteOrderRepository
    yield "sqlite", lambda: SqliteOrderRepository(tmp / f"{uuid.uuid4().hex}.sqlite3")
    def dyn():
        r = DynamoDBOrderRepository(table_prefix=f"b{uuid.uuid4().hex[:8]}", endpoint_url=endpoint)
        r.create_tables()
        return r
    yield "dynamodb(moto)", dyn


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing"); os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from orders_support import AtomicMotoServer   # moto with requests serialised: see its docstring
    server = AtomicMotoServer().start()
    port = server.port
    try:
        with tempfile.TemporaryDirectory() as d:
            for name, make in _repos(Path(d), f"http://127.0.0.1:{port}"):
                runs = []
                for _ in range(a.runs):
                    repo = make(); runs.append(check(repo, contend(repo, a.updates, a.threads)))
                base = [check(r, contend(r, a.updates, 1))["seconds"] for r in [make() for _ in range(a.runs)]]
                med, bmed = statistics.median(r["seconds"] for r in runs), statistics.median(base)
                last = runs[-1]
                print(f"{name}: {last['updates']} contended status updates by {a.threads} threads on one order at a time; "
                      f"attempts {last['attempts']}, conflicts retried {last['conflicts_retried']}, illegal {last['illegal']}, "
                      f"lost {last['lost']} (every run: lost {sum(r['lost'] for r in runs)}, illegal {sum(r['illegal'] for r in runs)})")
                print(f"{name}: median {med:.3f} s ({last['updates'] / med:.0f} updates/s), baseline (1 thread, no contention) "
                      f"median {bmed:.3f} s, ratio {med / bmed:.2f}, goal: no lost update and no illegal transition")
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
