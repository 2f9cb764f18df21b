"Processes, seen through /proc (stdlib only: the tests and tools/fault_table.py use these)."
from __future__ import annotations
import os
from pathlib import Path


def alive(pid: int) -> bool:
    "Whether `pid` is a live process (not gone, not a zombie)."
    try: os.kill(pid, 0)
    except OSError: return False
    try: return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError: return False


def redis_processes_on(socket_path: Path) -> list[int]:
    "Pids of live redis-server processes started with `socket_path` as their unix socket."
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit(): continue
        try: cmd = (d / "cmdline").read_bytes()
        except OSError: continue
        if b"redis-server" in cmd and str(socket_path).encode() in cmd: pids.append(int(d.name))
    return pids
