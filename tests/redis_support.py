"Helpers for the Redis fault tests: a server that never answers, a stalling proxy, probe counting, a local cluster."
from __future__ import annotations
import os, signal, socket, subprocess, threading, time
from contextlib import contextmanager
from pathlib import Path

from conftest import redis_server_binary
from proc_support import redis_processes_on  # noqa: F401  (the Redis fault tests import it from here)


class SilentServer:
    "A TCP server that accepts connections, reads what it is sent and never answers (a black-holed Redis)."
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port, self.accepted, self._conns, self._stop = self.sock.getsockname()[1], 0, [], False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str: return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while not self._stop:
            try: conn, _ = self.sock.accept()
            except OSError: return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn):
        try:
            while conn.recv(65536): pass
        except OSError: pass

    def close(self):
        self._stop = True
        self.sock.close()
        for c in self._conns:
            try: c.close()
            except OSError: pass


class StallingProxy:
    "A TCP proxy to a real Redis that, once `stall` is set, forwards a connection's WATCH and then goes silent on it."
    def __init__(self, upstream_port: int):
        self.upstream, self.stall, self.watches = upstream_port, False, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port, self._socks = self.sock.getsockname()[1], []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str: return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while True:
            try: client, _ = self.sock.accept()
            except OSError: return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            self._socks += [client, up]
            threading.Thread(target=self._pump, args=(client, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client):
        watched = False
        try:
            while data := src.recv(65536):
                if from_client and watched: continue                    # swallowed: the server "hangs"
                if from_client and self.stall and b"$5\r\nWATCH\r\n" in data.upper():
                    self.watches += 1
                    watched = True
                dst.sendall(data)
        except OSError: pass

    def close(self):
        self.sock.close()
        for s in self._socks:
            try: s.close()
            except OSError: pass


def count_probes(breaker) -> list[float]:
    "Wrap `breaker.allow` so that calls let through while it is open are counted (monotonic time of each)."
    probes, allow = [], breaker.allow
    def counting():
        was_open = breaker._opened_at is not None
        verdict = allow()
        if was_open and verdict is None: probes.append(time.monotonic())
        return verdict
    breaker.allow = counting
    return probes


@contextmanager
def stopped(pid: int):
    "The process `pid` SIGSTOPped for the duration of the block (always continued after)."
    os.kill(pid, signal.SIGSTOP)
    try: yield
    finally: os.kill(pid, signal.SIGCONT)




class LocalCluster:
    "A real Redis Cluster on free ports: `primaries` primaries with `replicas` replica each, made by redis-cli."
    def __init__(self, workdir: Path, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000):
        self.workdir, self.node_timeout_ms = workdir, node_timeout_ms
        self.ports = _node_ports(primaries * (1 + replicas))
        self.primaries, self.replicas, self.procs = primaries, replicas, {}

    @property
    def url(self) -> str: return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def _start_node(self, port: int):
        d = self.workdir / str(port)
        d.mkdir(exist_ok=True)
        args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", str(d / "nodes.conf"), "--cluster-node-timeout", str(self.node_timeout_ms),
                "--cluster-replica-validity-factor", "0",
                "--save", "", "--appendonly", "no", "--dir", str(d), "--daemonize", "no"]
        self.procs[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cli(self, *args, port=None, timeout=60) -> str:
        import shutil
        cli = shutil.which("redis-cli") or str(Path(redis_server_binary()).with_name("redis-cli"))
        out = subprocess.run([cli, "-p", str(port or self.ports[0]), *args], capture_output=True, text=True, timeout=timeout)
        return out.stdout + out.stderr

    def start(self) -> "LocalCluster":
        try: return self._create()
        except BaseException:
            self.stop()                                    # a failed start leaves no node behind
            raise

    def _create(self) -> "LocalCluster":
        for p in self.ports: self._start_node(p)
        for p in self.ports: _wait_port(p)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        out = self.cli("--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas), "--cluster-yes")
        if "[OK] All 16384 slots covered" not in out: raise RuntimeError(f"cluster create failed: {out[-500:]}")
        self.wait_ok()
        deadline = time.monotonic() + 30                   # replicas synced: a failover has something to promote
        while time.monotonic() < deadline:
            infos = [self.cli("info", "replication", port=p) for p in self.ports]
            if sum("master_link_status:up" in i for i in infos) == self.primaries * self.replicas: break
            time.sleep(0.1)
        else: raise RuntimeError("replicas did not sync")
        return self

    def wait_ok(self, timeout: float = 30, port=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [p for p in self.ports if self.procs[p].poll() is None]
            if all("cluster_state:ok" in self.cli("cluster", "info", port=p) for p in ([port] if port else alive)): return
            time.sleep(0.1)
        raise RuntimeError("cluster did not reach state ok")

    def wait_replicated(self, timeout: float = 30):
        "Until every replica has acknowledged all its primary has written (offsets equal): a failover then loses nothing."
        import re
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = [self.cli("info", "replication", port=p) for p in self.primary_ports()]
            def caught_up(info):
                primary = re.search(r"master_repl_offset:(\d+)", info)
                offsets = re.findall(r"slave\d+:.*?offset=(\d+)", info)
                return primary and len(offsets) >= self.replicas and all(o == primary.group(1) for o in offsets)
            if all(caught_up(i) for i in infos): return
            time.sleep(0.05)
        raise RuntimeError(f"replicas did not catch up within {timeout:g} s")

    def primary_ports(self) -> list[int]:
        out = self.cli("cluster", "nodes")
        return sorted(int(ln.split()[1].split(":")[1].split("@")[0]) for ln in out.splitlines()
                      if "master" in ln.split()[2] and "fail" not in ln.split()[2])

    def kill(self, port: int):
        self.procs[port].kill(); self.procs[port].wait(5)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None: p.kill(); p.wait(5)


def _node_ports(n: int) -> list[int]:
    "`n` distinct free ports whose cluster-bus ports (+10000) are free too."
    held, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
            p = s.getsockname()[1]
            if p + 10000 > 65535: continue
            try:
                b = socket.socket(); b.bind(("127.0.0.1", p + 10000)); held.append(b)
            except OSError: continue
            ports.append(p)
    finally:
        for s in held: s.close()
    return ports


def _wait_port(port: int, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2): return
        except OSError: time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")
