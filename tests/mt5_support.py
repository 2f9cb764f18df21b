"A local mt5linux-style bridge for tests: an rpyc classic server (a subprocess on 127.0.0.1) whose `MetaTrader5` module is the stand-in."
from __future__ import annotations
import json, os, socket, subprocess, sys, textwrap, time

# What mt5linux's own server is (mt5linux/__main__.py: `rpyc.cli.rpyc_classic.ClassicServer.run()`): a classic rpyc
# server in whose Python `import MetaTrader5` finds the terminal's package. Here that module is a FakeMT5 in core mode:
# the server side sees what the real core would (the client's mt5linux code does the `astimezone()` and `repr`).
SERVER = textwrap.dedent("""
    import json, sys
    import pandas as pd
    from rpyc.core.service import ClassicService
    from rpyc.utils.server import ThreadedServer
    from axia.testing import FakeMT5
    cfg = json.loads(sys.argv[1])
    sys.modules["MetaTrader5"] = FakeMT5(now=pd.Timestamp(cfg["now"]), server_tz=cfg.get("server_tz", "America/New_York+7"),
                                         call_delay=cfg.get("call_delay", 0.0))
    server = ThreadedServer(ClassicService, hostname="127.0.0.1", port=cfg.get("port", 0), reuse_addr=True,
                            protocol_config={"allow_public_attrs": True, "allow_pickle": True})
    print(server.port, flush=True)
    server.start()
""")


class Bridge:
    "One rpyc classic server process hosting a FakeMT5; `kill()` and `start()` again on the same port."
    def __init__(self, now, **cfg):
        self.cfg, self.port, self.proc = dict(now=str(now), **cfg), 0, None

    def start(self) -> "Bridge":
        cfg = {**self.cfg, "port": self.port}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(cfg)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "TZ": "UTC"})
        line = self.proc.stdout.readline()
        if not line: raise RuntimeError("bridge server did not start")
        self.port = int(line)
        deadline = time.monotonic() + 20
        while True:                     # bound before it listens: wait until it accepts
            try: socket.create_connection(("127.0.0.1", self.port), timeout=1).close(); return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None: raise RuntimeError("bridge server did not listen")
                time.sleep(0.05)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill(); self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, tries: int = 50):
        self.kill()
        for _ in range(tries):          # the port may linger for a moment
            try: return self.start()
            except (RuntimeError, ValueError): time.sleep(0.1)
        raise RuntimeError("bridge server did not restart")


class Bridges:
    "`with Bridges() as make:` start bridges with `make(now, server_tz=..., call_delay=...)`; all stop at the end."
    def __enter__(self):
        self.made = []
        return self.make

    def make(self, now, **cfg) -> Bridge:
        b = Bridge(now, **cfg).start(); self.made.append(b); return b

    def __exit__(self, *exc):
        for b in self.made: b.kill()
