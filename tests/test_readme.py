"README.md is rendered from nbs/index.ipynb; the two must not drift apart."
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_the_rendered_index_notebook():
    body, _ = MarkdownExporter().from_notebook_node(nbformat.read(ROOT / "nbs/index.ipynb", as_version=4))
    assert (ROOT / "README.md").read_text() == body, "README.md is stale: run `make readme` and commit it"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()
