"The papermill job notebook and `jobs/main_job.py`, run as cron and `make run` run them, on the embedded stack."
from __future__ import annotations
import json, subprocess, sys
from pathlib import Path
import pytest
from axia.collect import CollectFailed, last_run, run_nightly_notebook
from axia.tiers.redis import EmbeddedRedis
from axia.tiers.s3 import S3OhlcvDataRepository
from conftest import TEST_NOW, axia_env

pytestmark = pytest.mark.clock

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(source="dummy", symbols=["USDJPY", "EURUSD"], timeframes=["M5", "H1", "D1"], backfill_days=2)


@pytest.fixture
def data_dir(tmp_path):
    yield tmp_path / "axia"
    EmbeddedRedis(tmp_path / "axia").stop()           # started by the stack inside the job; leave no daemon


def test_the_nightly_notebook_runs_under_papermill_and_keeps_its_audit_trail(data_dir, clock):
    nb = run_nightly_notebook(data_dir, **SMALL, clock=clock)
    assert nb.parent == data_dir / "runs" and nb.name.startswith("nightly_collect-") and nb.suffix == ".ipynb"
    cells = json.loads(nb.read_text())["cells"]
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in cells)
    text = json.dumps(cells)
    assert "6 tasks, 6 ok, 0 failed" in text and "SYNTHETIC" in text
    for needle in ["'axia':", "'commit':", "'host':", "'packages':", "'source': 'dummy'", "bars_repaired", "corrupt partitions"]:
        assert needle in text, needle                                  # the audit trail: who, what, where, quality
    assert clock().isoformat() in text                                 # the run's instant, as given
    rep = last_run(data_dir / "runs")
    assert rep.ok and rep.bars_written > 0 and rep.redis_memory_bytes > 0
    lake = S3OhlcvDataRepository(data_dir / "lake")
    assert sorted(lake.series()) == sorted((s, tf) for s in SMALL["symbols"] for tf in SMALL["timeframes"])
    # a second run at the same instant keeps a second executed copy and writes nothing
    before = {k: len(v) for k, v in ((st, lake.read(*st)) for st in lake.series())}
    nb2 = run_nightly_notebook(data_dir, **SMALL, clock=clock)
    second = last_run(data_dir / "runs")
    assert nb2.exists() and nb2 != nb and second.ok and second.bars_written == 0
    assert {st: len(lake.read(*st)) for st in lake.series()} == before


def test_a_failing_job_raises_and_keeps_the_executed_notebook(data_dir, clock):
    data_dir.mkdir(parents=True)
    (data_dir / "lake").write_text("not a directory")    # every lake write fails
    with pytest.raises(CollectFailed, match="6 of 6 tasks failed") as e:
        run_nightly_notebook(data_dir, **SMALL, clock=clock)
    kept = list((data_dir / "runs").glob("nightly_collect-*.ipynb"))
    assert len(kept) == 1 and "CollectFailed" in kept[0].read_text()
    assert e.value.report is not None and len(e.value.report.failures) == 6


def test_main_job_collects_then_reads_back_through_the_provider(tmp_path, data_dir):
    r = subprocess.run([sys.executable, str(ROOT / "jobs" / "main_job.py"), "--data-dir", str(data_dir),
                        "--symbols", "USDJPY", "--timeframes", "M5,H1,D1", "--backfill-days", "3", "--as-of", TEST_NOW.isoformat()],
                       capture_output=True, text=True, env=axia_env(), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert out.count("SYNTHETIC") >= 3 and "3 tasks, 3 ok, 0 failed" in out
    assert "USDJPY H1, last 30 day(s), use case 'chart'" in out and '"synthetic": true' in out
    assert "tier health" in out and (data_dir / "runs").is_dir()
