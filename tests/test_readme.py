"README.md is rendered from nbs/index.ipynb; the two must not drift apart."
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from render_readme import render  # noqa: E402


def test_readme_is_the_rendered_index_notebook():
    assert (ROOT / "README.md").read_text() == render(), "README.md is stale: run `make readme` and commit it"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()
