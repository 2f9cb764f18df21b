"""Render every notebook in nbs/ to an HTML page, without Quarto.

Each notebook goes through nbdev's own docs processors first (the ones `nbdev-docs` runs before Quarto:
hidden cells dropped, `#|` directives removed, `show_doc` added for exported names), then nbconvert's HTML
exporter. Stored outputs are rendered as they are; `--execute` runs the notebooks again first.
Writes <out>/<notebook>.html per notebook, and <out>/index.html linking them all (unless nbs/index.ipynb
provides one). Exits non-zero when a notebook fails or holds an error output.

    python tools/render_docs.py --out _docs [--execute] [--jobs 2] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import html
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"


def notebooks(names: list[str]) -> list[Path]:
    "The notebooks to render: those named, or every notebook in nbs/ (not in hidden or _ folders)."
    if names: return [Path(n).resolve() for n in names]
    return sorted(p for p in NBS.rglob("*.ipynb")
                  if not any(part.startswith((".", "_")) for part in p.relative_to(NBS).parts))


def error_outputs(nb: dict) -> list[str]:
    "Error outputs stored in a notebook, as 'cell N: Ename: value'."
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
            for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def title_of(nb: dict, fallback: str) -> str:
    for c in nb.get("cells", []):
        if c.get("cell_type") == "markdown":
            for line in "".join(c.get("source", "")).splitlines():
                if line.startswith("# "): return line[2:].strip()
    return fallback


_CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}

def for_nbconvert(nb: dict) -> dict:
    "nbdev's processed notebook made plain: extra keys dropped, Quarto's `#| echo: false` turned into a tag."
    for c in nb["cells"]:
        for k in set(c) - _CELL_KEYS: del c[k]
        c["metadata"] = {k: v for k, v in c.get("metadata", {}).items() if k in ("tags", "jupyter")}
        src = "".join(c.get("source", ""))
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith("#| ")]
        if c["cell_type"] == "code" and directives:
            if any(l.replace(" ", "") == "#|echo:false" for l in directives):
                c.setdefault("metadata", {}).setdefault("tags", []).append("remove_input")
            c["source"] = "\n".join(l for l in lines if not l.startswith("#| "))
    return nb


def render(src: Path, out: Path, execute: bool = False, nbdev: bool = True) -> dict:
    "One notebook → <out>/<name>.html. Returns {name, title, html, errors}."
    os.chdir(ROOT)                    # nbdev reads pyproject.toml from the working directory
    os.environ["IN_TEST"] = "1"       # what nbdev sets while it processes notebooks for the docs
    import tempfile
    import nbformat
    from fastcore.nbio import read_nb, write_nb
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor, TagRemovePreprocessor
    from nbdev.processors import FilterDefaults

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / src.name
        nb = nbformat.read(src, as_version=4)
        if execute:
            ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(src.parent)}})
        nbformat.write(nb, work)
        raw = json.loads(work.read_text())
        errors, title = error_outputs(raw), title_of(raw, src.stem)
        if nbdev:
            try:
                doc = read_nb(work)
                FilterDefaults()(doc)     # nbdev's docs processing (what nbdev-docs does before Quarto), in place
                write_nb(doc, work)
            except Exception as e:        # a processor failing is a docs failure, reported per notebook
                errors.append(f"nbdev processing: {type(e).__name__}: {e}")
        exporter = HTMLExporter()
        exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), enabled=True)
        body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(for_nbconvert(json.loads(work.read_text()))), as_version=4),
                                              resources={"metadata": {"name": title}})
    dest = out / src.relative_to(NBS).with_suffix(".html") if src.is_relative_to(NBS) else out / (src.stem + ".html")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body)
    return {"name": src.stem, "title": title, "html": str(dest.relative_to(out)), "errors": errors}


def write_index(out: Path, pages: list[dict]):
    items = "\n".join(f'<li><a href="{html.escape(p["html"])}">{html.escape(p["title"])}</a> '
                      f'<code>{html.escape(p["name"])}</code></li>' for p in pages)
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>axia docs</title>"
        "<h1>axia</h1><p>Notebook pages (rendered without Quarto by tools/render_docs.py).</p>"
        f"<ul>\n{items}\n</ul>\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every notebook in nbs/")
    ap.add_argument("--out", default=str(ROOT / "_docs"))
    ap.add_argument("--execute", action="store_true", help="run each notebook before rendering it")
    ap.add_argument("--plain", action="store_true",
                    help="skip nbdev's docs processing: nbconvert alone (fast; directives and hidden cells stay)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    nbs = notebooks(args.notebooks)
    if args.plain and not args.execute:
        pages = [render(nb, out, nbdev=False) for nb in nbs]
    else:  # one fresh interpreter per page: nbdev runs the import and show_doc cells in a borrowed __main__
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max(1, args.jobs), mp_context=ctx, max_tasks_per_child=1) as pool:
            n = len(nbs)
            pages = list(pool.map(render, nbs, [out] * n, [args.execute] * n, [not args.plain] * n))
    if not any(p["name"] == "index" for p in pages): write_index(out, pages)
    failed = [p for p in pages if p["errors"]]
    for p in pages: print(f"{'FAIL' if p['errors'] else 'ok  '} {p['html']}" + "".join(f"\n     {e}" for e in p["errors"]))
    print(f"{len(pages)} page(s) in {out}; {len(failed)} with errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
