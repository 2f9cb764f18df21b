"""The CLI as users run it: the `axia` console script of this venv, a fresh process per command.

- `axia --help`: seconds (goal <= 0.15 s) and whether it imported pandas (goal: no);
- `axia get USDJPY H1 --days 1`, answered by the embedded Redis of a data directory filled by `axia collect
  --source dummy`, against `python -c 'import pandas'` (goal <= 1.15x);
- for the record, no goal: the same `get` against `python -c 'import pandas, redis'` (every command that reads
  Redis through redis-py pays that import: redis-py 8 loads its asyncio client on `import redis`), and against
  the same imports loaded the way `axia.cli.run` loads them (the cyclic GC paused while they load, the heap
  frozen before exit): the floor of `get`, what is left being axia's own modules and work;
- zoneinfo's tree walk (`available_timezones`) in a `get`: calls per process (goal <= 1);
- where a `get`'s import time goes, by top-level package (`-X importtime`), for the record.
All four commands are timed in alternating rounds, so load on the machine falls on each alike.

    python bench/cli_startup.py
One line per figure: median, baseline median, ratio, goal; exits 1 when a goal is missed.
"""
from __future__ import annotations
import os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

BIN = Path(sys.executable).parent
AXIA = str(BIN / "axia")
ROUNDS = 15
missed: list[str] = []


def line(what, value, base, goal=None, unit="s"):
    ratio = value / base if base else float("nan")
    ok = goal is None or goal(value, ratio)
    if not ok: missed.append(what)
    print(f"{what}: median {value:.3f} {unit}; baseline median {base:.3f} {unit}; ratio {ratio:.2f}"
          + ("" if goal is None else f"; goal {goal.__doc__}") + ("" if ok else "  MISSED"))


def timed(cmd, env) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if out.returncode: raise RuntimeError(f"{cmd} failed ({out.returncode}): {out.stderr[-500:]}")
    return dt


def import_profile(cmd, env, top: int = 8) -> list[tuple[str, float]]:
    "Self import time of one run of `cmd` (-X importtime), summed by top-level package, largest first, in ms."
    out = subprocess.run(cmd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True, check=True)
    by: dict[str, float] = {}
    for ln in out.stderr.splitlines():
        if not ln.startswith("import time:") or "self [us]" in ln: continue
        us, _, name = ln[len("import time:"):].split("|")
        pkg = name.strip().split(".")[0]
        by[pkg] = by.get(pkg, 0) + int(us) / 1000
    total = sum(by.values())
    return sorted(by.items(), key=lambda kv: -kv[1])[:top] + [("all", total)]


def main():
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "AXIA_DATA_DIR": f"{d}/.axia"}
        env.pop("AXIA_REDIS_URL", None)
        subprocess.run([AXIA, "collect", "--source", "dummy", "--symbols", "USDJPY", "--timeframes", "H1"],
                       env=env, check=True, capture_output=True, cwd=d)
        try:
            cmds = {"pandas": [sys.executable, "-c", "import pandas"],
                    "pandas+redis": [sys.executable, "-c", "import pandas, redis"],
                    "floor": [sys.executable, "-c", "import gc; gc.disable(); import pandas, redis; gc.freeze(); gc.enable(); gc.freeze()"],
                    "help": [AXIA, "--help"],
                    "get": [AXIA, "get", "USDJPY", "H1", "--days", "1"]}
            runs = {k: [] for k in cmds}
            for c in cmds.values(): timed(c, env)                       # warm the page cache and the server
            for _ in range(ROUNDS):
                for k, c in cmds.items(): runs[k].append(timed(c, env))
            med = {k: statistics.median(v) for k, v in runs.items()}

            probe = ("import sys, zoneinfo\nn = [0]; walk = zoneinfo.available_timezones\n"
                     "def counted(): n[0] += 1; return walk()\nzoneinfo.available_timezones = counted\n"
                     "from axia.cli import main\ntry: main(sys.argv[1:])\nexcept SystemExit: pass\n"
                     "print('PROBE', 'pandas' in sys.modules, n[0], file=sys.stderr)")
            def probe_run(*args):
                out = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True)
                return out.stderr.strip().splitlines()[-1].split()[1:]
            help_pandas, _ = probe_run("--help")
            _, walks = probe_run("get", "USDJPY", "H1", "--days", "1")
            imports = import_profile(cmds["get"], env)
        finally:
            subprocess.run([AXIA, "stop"], env=env, capture_output=True)

    print(f"CLI start-up, {ROUNDS} alternating rounds (load average {os.getloadavg()[0]:.2f}):")
    def help_goal(v, r): "<= 0.15 s"; return v <= 0.15
    line("axia --help", med["help"], med["pandas"], help_goal)
    print(f"axia --help imports pandas: {help_pandas}; goal False" + ("" if help_pandas == "False" else "  MISSED"))
    if help_pandas != "False": missed.append("axia --help imports pandas")
    def get_goal(v, r): "ratio <= 1.15"; return r <= 1.15
    line("axia get USDJPY H1 --days 1 vs import pandas", med["get"], med["pandas"], get_goal)
    line("axia get USDJPY H1 --days 1 vs import pandas, redis", med["get"], med["pandas+redis"])
    line("axia get USDJPY H1 --days 1 vs import pandas, redis loaded as axia.cli.run loads them", med["get"], med["floor"])
    line("import pandas, redis vs import pandas", med["pandas+redis"], med["pandas"])
    print(f"zoneinfo walks in one axia get: {walks}; goal <= 1" + ("" if int(walks) <= 1 else "  MISSED"))
    print("where one axia get's imports go (python -X importtime, self time summed by top-level package, ms): "
          + ", ".join(f"{k} {v:.0f}" for k, v in imports))
    if int(walks) > 1: missed.append("zoneinfo walks")
    if missed:
        print(f"missed: {', '.join(missed)}"); sys.exit(1)


if __name__ == "__main__":
    main()
