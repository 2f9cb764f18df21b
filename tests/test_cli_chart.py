"`axia chart` serves the app, as a user starts it."
import os, signal, subprocess, sys, time, urllib.request

from conftest import free_port


def test_axia_chart_serves_the_app_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "AXIA_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "axia.cli", "chart", "--port", str(port), "--source", "dummy"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, body = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not body:
            try: body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
            except OSError: time.sleep(0.5)
        assert "<title>" in body.lower() or "streamlit" in body.lower()
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read().decode()
        assert health.strip() == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"http://localhost:{port}" in out and "Traceback" not in out
