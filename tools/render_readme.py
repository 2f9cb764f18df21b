"""Render nbs/index.ipynb to README.md: hidden cells dropped, `#|` directives stripped, plain-text outputs.

Used by `make readme` and by tests/test_readme.py, so the README is always exactly this rendering."""
from __future__ import annotations
import sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]


def _visible(cell) -> bool:
    return not (cell.cell_type == "code" and any(l.strip() in ("#| hide", "#|hide") for l in cell.source.splitlines()))


def _strip_directives(cell):
    if cell.cell_type == "code":
        cell.source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith("#|")).strip("\n")
    return cell


def render(nb_path: Path = ROOT / "nbs/index.ipynb") -> str:
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells = [_strip_directives(c) for c in nb.cells if _visible(c)]
    nb.metadata["language_info"] = {"name": "python"}
    exporter = MarkdownExporter()
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    exporter.config.NbConvertBase.display_data_priority = ["text/markdown", "text/plain", "image/png", "text/html"]
    exporter = MarkdownExporter(config=exporter.config)
    body, _ = exporter.from_notebook_node(nb)
    return "<!-- Generated from nbs/index.ipynb by `make readme`; edit the notebook, not this file. -->\n\n" + body


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "README.md"
    out.write_text(render())
    print(f"wrote {out}")
