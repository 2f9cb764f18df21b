"""Many writers on one S3 partition: 8 processes save overlapping bars into one partition of a lake on moto's S3
server, 50 rounds (each round all 8 start together). Figures: bars lost, duplicates, partial objects (all goal 0),
and the conditional-write conflicts the writers retried.

The commit protocol is S3's conditional PUT (`If-None-Match: *` for a new partition, `If-Match: <ETag read>` for a
replacement; a 412 makes the writer re-read, merge and retry). moto 5 implements both headers, but checks the
condition and stores the object in two steps without a lock, so two PUTs can both pass the check (real S3 decides
atomically). With `--moto-as-is` the bench runs moto unchanged and reports what that race costs; by default it
serialises moto's PUT handler (one lock around check + store), which is what S3 guarantees, and its GET
handler with it (an S3 GET sees one whole version).
Run: `python bench/lake_writers.py [--writers 8] [--rounds 50] [--moto-as-is]`; exits 1 on any loss.
"""
from __future__ import annotations
import argparse, io, logging, multiprocessing as mp, os, socket, sys, threading, time
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from lake_support import bars   # noqa: E402

DAYS = ("2026-10-05", "2026-10-31")         # one FX month: October 2026


def slice_for(df: pd.DataFrame, rnd: int, w: int, writers: int) -> pd.DataFrame:
    "Writer w's bars in round rnd: a window that overlaps its neighbours' and the previous round's."
    step = max(1, (len(df) - 1200) // 60)
    start = rnd * step + w * 60
    return df.iloc[start:start + 240]


def writer(endpoint, root, w, writers, rounds, barrier, out):
    from axia.tiers.s3 import S3OhlcvDataRepository
    df = bars(*DAYS)
    repo = S3OhlcvDataRepository(root, endpoint_url=endpoint)
    for r in range(rounds):
        barrier.wait()
        repo.save_ohlcv_data("USDJPY", "M1", slice_for(df, r, w, writers))
    out.put((w, repo.stats["conflicts"]))


def serialise_moto_puts():
    """One lock around moto's S3 PUT handler: condition check and store become one step, as on S3. Its GET handler
    takes the same lock: on S3 a GET returns one whole version of an object, while moto's reads (for the ETag) the
    value buffer that a concurrent PUT of the same key closes, and fails with a traceback on the server's thread."""
    from moto.s3.responses import S3Response
    lock = threading.Lock()
    def locked(real):
        def handler(self, *a, **kw):
            with lock: return real(self, *a, **kw)
        return handler
    S3Response.put_object, S3Response.get_object = locked(S3Response.put_object), locked(S3Response.get_object)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--moto-as-is", action="store_true")
    args = ap.parse_args()
    import boto3, pyarrow.parquet as pq
    from moto.server import ThreadedMotoServer
    from axia.tiers.s3 import S3OhlcvDataRepository
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench"); os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    if not args.moto_as_is: serialise_moto_puts()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="axia-writers")
        root = "s3://axia-writers/lake"
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(args.writers), ctx.Queue()
        t0 = time.perf_counter()
        procs = [ctx.Process(target=writer, args=(endpoint, root, w, args.writers, args.rounds, barrier, out))
                 for w in range(args.writers)]
        for p in procs: p.start()
        # a reader meanwhile: every object it fetches must be a complete Parquet file
        partial_reads, reads = 0, 0
        key = "lake/ohlcv/symbol=USDJPY/timeframe=M1/year=2026/month=10/data.parquet"
        while any(p.is_alive() for p in procs):
            try: body = s3.get_object(Bucket="axia-writers", Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey: time.sleep(0.05); continue
            reads += 1
            try: pq.read_table(io.BytesIO(body))
            except Exception: partial_reads += 1
            time.sleep(0.05)
        for p in procs: p.join()
        elapsed = time.perf_counter() - t0
        conflicts = sum(out.get()[1] for _ in procs)
        df = bars(*DAYS)
        expected = pd.DatetimeIndex(sorted(set().union(*(slice_for(df, r, w, args.writers).index
                                                          for r in range(args.rounds) for w in range(args.writers)))))
        got = S3OhlcvDataRepository(root, endpoint_url=endpoint).load_ohlcv("USDJPY", "M1")
        objects = [o["Key"] for o in s3.list_objects_v2(Bucket="axia-writers", Prefix="lake/ohlcv/")["Contents"]]
        partial_objects = 0
        for k in objects:
            try: pq.read_table(io.BytesIO(s3.get_object(Bucket="axia-writers", Key=k)["Body"].read()))
            except Exception: partial_objects += 1
        lost = len(expected.difference(got.index))
        dups = int(got.index.duplicated().sum())
        wrong = int((got.reindex(expected).close.to_numpy() != df.reindex(expected).close.to_numpy()).sum())
        saves = args.writers * args.rounds
        print(f"writers: {args.writers} processes x {args.rounds} rounds = {saves} saves into one partition in {elapsed:.1f} s "
              f"({'moto as is' if args.moto_as_is else 'moto PUT serialised like S3'})")
        print(f"writers bars lost: {lost}, baseline 0, goal 0")
        print(f"writers duplicate bars: {dups}, baseline 0, goal 0")
        print(f"writers wrong values: {wrong}, baseline 0, goal 0")
        print(f"writers partial objects: {partial_objects} of {len(objects)} at the end, {partial_reads} of {reads} concurrent reads, goal 0")
        print(f"writers conflicts retried: {conflicts} ({conflicts / saves:.2f} per save)")
        return 0 if lost == dups == wrong == partial_objects == partial_reads == 0 else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
