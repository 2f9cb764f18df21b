"""`axia chart` and `run_app`, as a user starts and stops them: the URL only after the port is known free, 127.0.0.1
unless told otherwise, and no Streamlit left behind on SIGTERM."""
import os, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

from conftest import free_port
from chart_support import like_a_terminal
from proc_support import alive


def wait_health(port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r: return r.read().decode().strip() == "ok"
        except OSError: time.sleep(0.3)
    return False


def children(pid: int) -> list[int]:
    "Child process ids of `pid` (Linux /proc)."
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try: out += [int(c) for c in (task / "children").read_text().split()]
        except OSError: pass
    return out




def run_app_proc(tmp_path, port: int, host: str | None = None) -> subprocess.Popen:
    host_arg = f", host={host!r}" if host else ""
    code = f"import sys; from axia.app import run_app; sys.exit(run_app(port={port}, data_dir={str(tmp_path)!r}{host_arg}))"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "AXIA_SOURCE": "dummy"})


def test_axia_chart_serves_the_app_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "AXIA_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "axia.cli", "chart", "--port", str(port), "--source", "dummy"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=like_a_terminal)
    try:
        assert wait_health(port)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "<title>" in body.lower() or "streamlit" in body.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"http://localhost:{port}" in out and "Traceback" not in out


def test_sigterm_reaches_streamlit_and_nothing_outlives_the_command(tmp_path):
    port = free_port()
    proc = run_app_proc(tmp_path, port)
    try:
        assert wait_health(port)
        kids = children(proc.pid)
        assert kids, "run_app should have started streamlit as its child"
        proc.send_signal(signal.SIGTERM)                  # what a service manager or `timeout` sends: to axia only
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None: proc.kill(); proc.wait(5)
    deadline = time.monotonic() + 10
    while any(alive(k) for k in kids) and time.monotonic() < deadline: time.sleep(0.1)
    assert not any(alive(k) for k in kids), "streamlit outlived `axia chart`"
    assert "Traceback" not in out, out
    from axia.app import check_port
    check_port("127.0.0.1", port)                          # the port can be served again (as Streamlit binds it)


def test_a_taken_port_is_one_line_and_no_url(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0)); busy.listen()
        port = busy.getsockname()[1]
        proc = run_app_proc(tmp_path, port)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in out and f"--port {port + 1}" in out
    assert "http://" not in out.split("PortInUse")[-1] and "axia chart: http" not in out


def test_the_app_listens_on_loopback_by_default(tmp_path):
    from axia.app import streamlit_command
    assert streamlit_command("a.py", 8600)[streamlit_command("a.py", 8600).index("--server.address") + 1] == "127.0.0.1"
    port = free_port()
    proc = run_app_proc(tmp_path, port)
    try:
        assert wait_health(port)
        listening = [l.split() for l in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        local = {l[1] for l in listening if l[3] == "0A" and int(l[1].split(":")[1], 16) == port}
        assert local == {f"0100007F:{port:04X}"}, local          # 127.0.0.1 only, not 0.0.0.0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert "no authentication" not in out


def test_another_host_warns_that_there_is_no_authentication(tmp_path):
    port = free_port()
    proc = run_app_proc(tmp_path, port, host="0.0.0.0")
    try:
        assert wait_health(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    warning = next(l for l in out.splitlines() if "no authentication" in l)
    assert f"0.0.0.0:{port}" in warning and "ssh -L" in warning and "reverse proxy" in warning
    assert out.index("no authentication") < out.index(f"axia chart: http://localhost:{port}")
