"""Render every notebook in nbs/ to a docs site a newcomer can read offline, without Quarto.

Each notebook goes through nbdev's own docs processors first (the ones `nbdev-docs` runs before Quarto: hidden
cells dropped, `#|` directives removed, `show_doc` added for exported names), then what Quarto would have
done with the result is done here: the YAML front matter becomes the page's title and lead, Quarto-only syntax
(`{target="_blank" …}` after links, `{#id .class}` after headings, `:::` fences) is removed, plotly figures
(stored as plotly's JSON) are drawn by one local copy of plotly.js, and nbconvert's HTML exporter writes the
page without `In [ ]:` / `Out[ ]:` prompts. Every page gets the same sidebar (every page, index first, then the
how-to recipes) and a search box over all pages (an index in `search_index.js`, so it works from `file://`).
Stored outputs are rendered as they are; `--execute` runs the notebooks again first. Exits non-zero when a
notebook fails or holds an error output.

    python tools/render_docs.py --out _docs [--execute] [--jobs 2] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import html
import json
import multiprocessing
import os
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
FIRST = ("index", "how_to")   # the sidebar's order: these, then the numbered modules


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


# ---- what Quarto would do with nbdev's processed notebook ----------------------------------------------------

_ATTRS_AFTER_LINK = re.compile(r"(\]\([^)]*\))\{[^{}\n]*\}")          # [source](url){target="_blank" style=…}
_ATTRS_AFTER_HEADING = re.compile(r"^(#{1,6} .*?)\s*\{[#.][^{}\n]*\}\s*$", re.M)   # ## Name {#id .class}
_FENCE = re.compile(r"^:::+.*$\n?", re.M)                             # ::: {.callout-note} … :::
_SPAN_ATTRS = re.compile(r"(\[[^\]\n]*\])\{[.#][^{}\n]*\}")           # [text]{.class}


def unquarto(text: str) -> str:
    "Markdown without Quarto-only syntax."
    for rx, rep in ((_ATTRS_AFTER_LINK, r"\1"), (_ATTRS_AFTER_HEADING, r"\1"), (_FENCE, ""), (_SPAN_ATTRS, r"\1")):
        text = rx.sub(rep, text)
    return text


def front_matter(nb: dict) -> dict:
    "Pop the YAML front matter nbdev writes as the first cell (`---\\ntitle: …\\n---`); {} when there is none."
    import yaml
    for i, c in enumerate(nb["cells"][:2]):
        src = "".join(c.get("source", "")).strip()
        if c["cell_type"] in ("raw", "markdown") and src.startswith("---") and src.count("---") >= 2:
            try: meta = yaml.safe_load(src.strip("-\n ")) or {}
            except yaml.YAMLError: continue
            if isinstance(meta, dict):
                del nb["cells"][i]
                return meta
    return {}


_PLOTLY = "application/vnd.plotly.v1+json"

def plotly_html(fig: dict, n: int) -> str:
    "A div and the call that draws `fig` with the site's own plotly.js."
    data = json.dumps(fig.get("data", [])).replace("</", "<\\/")
    layout = json.dumps(fig.get("layout", {})).replace("</", "<\\/")
    return (f'<div id="plotly-{n}" class="axia-plotly" style="width:100%;min-height:450px"></div>\n'
            f'<script>Plotly.newPlot("plotly-{n}", {data}, {layout}, {{"responsive": true, "displaylogo": false}});</script>')


_CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}

def for_nbconvert(nb: dict) -> tuple[dict, int]:
    "nbdev's processed notebook made plain for nbconvert; returns it and the number of plotly figures."
    figures = 0
    for c in nb["cells"]:
        for k in set(c) - _CELL_KEYS: del c[k]
        c["metadata"] = {k: v for k, v in c.get("metadata", {}).items() if k in ("tags", "jupyter")}
        src = "".join(c.get("source", ""))
        if c["cell_type"] == "markdown": c["source"] = unquarto(src)
        if c["cell_type"] != "code": continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith("#| ")]
        if directives:
            if any(l.replace(" ", "") == "#|echo:false" for l in directives):
                c["metadata"].setdefault("tags", []).append("remove_input")
            c["source"] = "\n".join(l for l in lines if not l.startswith("#| "))
        for o in c.get("outputs", []):
            data = o.get("data")
            if not data: continue
            if _PLOTLY in data:
                figures += 1
                o["data"] = {"text/html": plotly_html(data[_PLOTLY], figures)}
            elif "text/markdown" in data:
                md = data["text/markdown"]
                data["text/markdown"] = unquarto("".join(md) if isinstance(md, list) else md)
    return nb, figures


def plain_text(nb: dict, limit: int = 40_000) -> str:
    "What search looks through: markdown, code and text outputs of the processed notebook."
    parts = []
    for c in nb["cells"]:
        parts.append(re.sub(r"[#*`>|_\[\]()]", " ", "".join(c.get("source", ""))))
        for o in c.get("outputs", []):
            md = (o.get("data") or {}).get("text/markdown")
            if md: parts.append("".join(md) if isinstance(md, list) else md)
    return re.sub(r"\s+", " ", " ".join(parts))[:limit]


def render(src: Path, out: Path, execute: bool = False, nbdev: bool = True) -> dict:
    "One notebook → its page body and facts: {name, title, lead, html, body, text, figures, errors}."
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
        processed = json.loads(work.read_text())
        meta = front_matter(processed)
        title = str(meta.get("title") or title).replace("`", "")
        plain, figures = for_nbconvert(processed)
        exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
        exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), enabled=True)
        body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(plain), as_version=4),
                                              resources={"metadata": {"name": title}})
    page = src.relative_to(NBS).with_suffix(".html") if src.is_relative_to(NBS) else Path(src.stem + ".html")
    return {"name": src.stem, "title": title, "lead": str(meta.get("description") or ""), "html": str(page), "heading": bool(meta),
            "body": body, "text": plain_text(plain), "figures": figures, "errors": errors}


# ---- the site: sidebar, search, plotly.js ---------------------------------------------------------------------

CSS = """
body { margin: 0; }
#axia-nav { position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; padding: 16px 14px;
            box-sizing: border-box; background: #f6f7f9; border-right: 1px solid #e1e4e8; font: 14px/1.45 system-ui, sans-serif; z-index: 10; }
#axia-nav .site { font-weight: 700; font-size: 20px; text-decoration: none; color: #1f2328; }
#axia-nav input { width: 100%; box-sizing: border-box; margin: 12px 0 8px; padding: 6px 8px; border: 1px solid #c9ced6; border-radius: 6px; }
#axia-nav ul { list-style: none; padding: 0; margin: 0; }
#axia-nav li a { display: block; padding: 3px 6px; border-radius: 5px; color: #1f2328; text-decoration: none; }
#axia-nav li a:hover { background: #e8ebef; }
#axia-nav li a.current { background: #dde7ff; font-weight: 600; }
#axia-results { margin-bottom: 10px; }
#axia-results a { display: block; padding: 4px 6px; color: #0b57d0; text-decoration: none; }
#axia-results small { display: block; color: #57606a; }
#axia-main { margin-left: 250px; padding: 8px 24px 40px; max-width: 1100px; }
#axia-main .lead { font-size: 1.15em; color: #57606a; margin: 18px 0 0 0; }
"""

SEARCH_JS = """
(function () {
  const box = document.getElementById('axia-search'), out = document.getElementById('axia-results');
  function show(q) {
    out.innerHTML = '';
    const words = q.toLowerCase().split(/\\s+/).filter(Boolean);
    if (!words.length) return;
    const hits = (window.AXIA_SEARCH || []).map(p => {
      const t = (p.title + ' ' + p.text).toLowerCase();
      if (!words.every(w => t.includes(w))) return null;
      const at = t.indexOf(words[0]);
      return {p, score: (p.title.toLowerCase().includes(words[0]) ? 1000 : 0) - at,
              snippet: p.text.slice(Math.max(0, at - p.title.length - 40), at - p.title.length + 80)};
    }).filter(Boolean).sort((a, b) => b.score - a.score).slice(0, 12);
    if (!hits.length) { out.textContent = 'No page mentions that.'; return; }
    for (const h of hits) {
      const a = document.createElement('a'); a.href = h.p.url; a.textContent = h.p.title;
      const s = document.createElement('small'); s.textContent = '…' + h.snippet + '…'; a.appendChild(s); out.appendChild(a);
    }
  }
  box.addEventListener('input', () => show(box.value));
  const q = new URLSearchParams(location.search).get('q'); if (q) { box.value = q; show(q); }
})();
"""


def nav_html(pages: list[dict], current: str) -> str:
    items = "\n".join(f'<li><a href="{html.escape(p["html"])}"{" class=current" if p["html"] == current else ""}>'
                      f'{html.escape(p["title"])}</a></li>' for p in pages)
    return (f'<nav id="axia-nav"><a class="site" href="index.html">axia</a>'
            f'<input id="axia-search" type="search" placeholder="Search the docs" aria-label="Search the docs">'
            f'<div id="axia-results"></div><ul>\n{items}\n</ul></nav>')


_CDN = r"(?:cdnjs\.cloudflare\.com|unpkg\.com|cdn\.jsdelivr\.net)"
_REMOTE_SCRIPT = re.compile(rf"<script\b[^>]*{_CDN}[^>]*>.*?</script>\s*|<script\b[^>]*>(?:(?!</script>).)*?{_CDN}(?:(?!</script>).)*?</script>\s*",
                            re.S)

def offline(body: str, pages: list[dict], doc_url: str) -> str:
    "nbconvert's page without its CDN scripts (require.js, MathJax, mermaid, widgets), and nbdev's links to the online docs made local."
    body = _REMOTE_SCRIPT.sub("", body)
    local = {re.sub(r"^\d+_", "", p["name"]) + ".html": p["html"] for p in pages}
    def link(m):
        target = local.get(m.group(1))
        return f'href="{target}{m.group(2) or ""}"' if target else m.group(0)
    return re.sub(rf'href="{re.escape(doc_url)}/([^"#]+\.html)(#[^"]*)?"', link, body) if doc_url else body


def _doc_url() -> str:
    try:
        from nbdev.config import get_config
        cfg = get_config(ROOT)
        return (cfg.doc_host.rstrip("/") + "/" + cfg.doc_baseurl.strip("/")).rstrip("/")
    except Exception: return ""


def site_page(page: dict, pages: list[dict], doc_url: str = "") -> str:
    "The exported page with the site's head, sidebar and search around nbconvert's body."
    body = offline(page["body"], pages, doc_url)
    head = ('<link rel="stylesheet" href="axia-docs.css">'
            + ('<script src="plotly.min.js"></script>' if page["figures"] else "")
            + '<script src="search_index.js"></script>')
    body = body.replace("</head>", head + "</head>", 1)
    lead = (f'<h1 class="title">{html.escape(page["title"])}</h1>' if page.get("heading") else "") + \
           (f'<p class="lead">{html.escape(page["lead"])}</p>' if page["lead"] else "")
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav_html(pages, page["html"]) + '<main id="axia-main">' + lead,
                  body, count=1)
    return body.replace("</body>", '</main><script src="axia-docs.js"></script></body>', 1)


def order(pages: list[dict]) -> list[dict]:
    rank = {n: i for i, n in enumerate(FIRST)}
    return sorted(pages, key=lambda p: (rank.get(p["name"], len(FIRST)), p["name"]))


def write_site(out: Path, pages: list[dict]):
    "Every page with the sidebar, an index when nbs/ has none, the search index, the CSS/JS and plotly.js."
    pages = order(pages)
    if not any(p["name"] == "index" for p in pages):
        items = "".join(f'<li><a href="{html.escape(p["html"])}">{html.escape(p["title"])}</a></li>' for p in pages)
        pages.insert(0, {"name": "index", "title": "axia", "lead": "", "html": "index.html", "figures": 0, "errors": [],
                         "text": "", "body": "<!doctype html><html><head><meta charset='utf-8'><title>axia docs</title></head>"
                                             f"<body><h1>axia</h1><ul>{items}</ul></body></html>"})
    doc_url = _doc_url()
    for p in pages:
        dest = out / p["html"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(site_page(p, pages, doc_url))
    index = [{"url": p["html"], "title": p["title"], "text": p["text"]} for p in pages]
    (out / "search_index.js").write_text("window.AXIA_SEARCH = " + json.dumps(index) + ";\n")
    (out / "axia-docs.css").write_text(CSS)
    (out / "axia-docs.js").write_text(SEARCH_JS)
    if any(p["figures"] for p in pages):
        import plotly
        shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "plotly.min.js")
    return pages


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
    pages = write_site(out, pages)
    failed = [p for p in pages if p["errors"]]
    for p in pages: print(f"{'FAIL' if p['errors'] else 'ok  '} {p['html']}" + "".join(f"\n     {e}" for e in p["errors"]))
    print(f"{len(pages)} page(s) in {out}; {len(failed)} with errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
