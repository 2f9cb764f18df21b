"The docs: every notebook becomes an HTML page without errors; the Quarto/nbdev configuration is what nbdev-docs expects."
from __future__ import annotations
import contextlib, io, json, os, re, subprocess, sys
from pathlib import Path
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb"))


def build_docs(out: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "tools" / "build_docs.sh")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "AXIA_DOCS_OUT": str(out), **env}, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    "The whole no-Quarto site, built once through `tools/build_docs.sh` (what `make docs` runs)."
    out = tmp_path_factory.mktemp("site")
    r = build_docs(out, AXIA_DOCS_MODE="nbconvert")
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_every_notebook_renders_to_a_page_without_errors(site):
    "The no-Quarto build, through nbdev's own docs processing (which runs every import cell and show_doc)."
    pages = {p.stem for p in site.glob("*.html")}
    assert pages == {nb.stem for nb in NOTEBOOKS} | {"index"}     # index: nbs/index.ipynb, or a generated list
    for nb in NOTEBOOKS:
        html = (site / f"{nb.stem}.html").read_text()
        title = next(l[2:] for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown"
                     for l in "".join(c["source"]).splitlines() if l.startswith("# "))
        assert f"<title>{title.replace('`', '')}</title>" in html.replace("&amp;", "&"), nb.name
        assert "Traceback (most recent call last)" not in html and 'class="ansi-red-fg"' not in html, nb.name
        assert not re.search(r"<script[^>]*(cdnjs|unpkg|jsdelivr)", html), nb.name   # nothing fetched: offline
    assert (site / "plotly.min.js").stat().st_size > 1_000_000 and (site / "search_index.js").exists()


def test_no_notebook_stores_an_error_output():
    sys.path.insert(0, str(ROOT / "tools"))
    from render_docs import error_outputs
    assert {nb.name: errs for nb in NOTEBOOKS if (errs := error_outputs(json.loads(nb.read_text())))} == {}


def test_a_failing_notebook_fails_the_build(tmp_path):
    bad = json.loads((NBS / "50_charts.ipynb").read_text())
    bad["cells"].append({"cell_type": "code", "id": "boom", "metadata": {}, "execution_count": 1, "source": "1/0",
                         "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                                      "traceback": []}]})
    nb = tmp_path / "bad.ipynb"
    nb.write_text(json.dumps(bad))
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "render_docs.py"), "--plain", "--out", str(tmp_path / "o"), str(nb)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "ZeroDivisionError" in r.stdout


@pytest.mark.parametrize("name", ["50_charts", "51_app"])
def test_nbdev_docs_processing_of_the_chart_pages(site, name):
    "What nbdev-docs does before Quarto (hidden cells dropped, show_doc for every export), here without Quarto."
    html = (site / f"{name}.html").read_text()
    assert "#| export" not in html and "#| hide" not in html and "from nbdev.showdoc import" not in html
    shown = {"50_charts": ["candlestick_figure", "lightweight_spec", "chart_data_source", "fresh_until"],
             "51_app": ["run_app", "main", "chart_page", "streamlit_command"]}[name]   # the public API; helpers are `exporti`
    for fn in shown: assert re.search(rf"<h[1-6][^>]*>{fn}<", html) or f">{fn}</h" in html, fn


def test_quarto_syntax_is_removed():
    sys.path.insert(0, str(ROOT / "tools"))
    from render_docs import front_matter, unquarto
    assert unquarto('[source](https://x/y.py#L3){target="_blank" style="float:right; font-size:smaller"}') == "[source](https://x/y.py#L3)"
    assert unquarto("## run_app {#run_app .doc}\ntext") == "## run_app\ntext"
    assert unquarto("::: {.callout-note}\nnote\n:::\n") == "note\n"
    nb = {"cells": [{"cell_type": "raw", "source": "---\ntitle: Charts\ndescription: Candles\n---\n"}, {"cell_type": "markdown", "source": "x"}]}
    assert front_matter(nb) == {"title": "Charts", "description": "Candles"} and len(nb["cells"]) == 1


def test_the_site_in_chromium(site):
    "Every page is reachable from the index through the sidebar, reads without leaked syntax or prompts, the charts page draws its figures, search finds pages."
    import shutil
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        failed = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("pageerror", lambda e: failed.append(str(e)))
        page.goto((site / "index.html").as_uri())
        links = page.eval_on_selector_all("#axia-nav li a", "as => as.map(a => a.href)")
        reached = {Path(u.split("#")[0]).stem for u in links}
        assert reached == {p.stem for p in site.glob("*.html")}                  # every page, from the index
        page.screenshot(path=str(artifacts / "docs_index.png"))
        for url in links:
            page.goto(url)
            text = page.inner_text("#axia-main")
            name = Path(url).stem
            assert page.locator("#axia-nav li a.current").count() == 1, name
            for leak in ('{target=', "Out[", "In [", "output-file:", "title: ", ":::", "{#"):
                assert leak not in text, (name, leak)
        assert failed == []                                                       # nothing missing, nothing remote
        page.goto((site / "50_charts.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .trace.boxes path", timeout=30_000)   # candlesticks drawn by the bundled plotly.js
        assert page.locator(".js-plotly-plot").count() >= 1
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "docs_charts.png"))
        page.goto((site / "index.html").as_uri() + "?q=duckdb")
        hits = page.eval_on_selector_all("#axia-results a", "as => as.map(a => a.getAttribute('href'))")
        assert "41_analysis.html" in hits and "how_to.html" in hits
        browser.close()


def test_quarto_config_is_what_nbdev_docs_expects():
    q = yaml.safe_load((NBS / "_quarto.yml").read_text())
    assert q["project"]["type"] == "website"
    assert q["metadata-files"] == ["nbdev.yml", "sidebar.yml"]
    assert q["format"]["html"]["css"] == "styles.css" and (NBS / "styles.css").exists()
    from nbdev.config import get_config
    from nbdev.quarto import _nbdev_yml
    cfg = get_config(ROOT)
    vals = {k: cfg[k] for k in ["title", "description", "branch", "git_url", "doc_host", "doc_baseurl"]}
    # nbdev-docs rewrites nbdev.yml from pyproject.toml: the committed file must already be that text
    assert (NBS / "nbdev.yml").read_text() == _nbdev_yml.format(doc_path=cfg.doc_path.name, **vals)
    assert yaml.safe_load((NBS / "nbdev.yml").read_text())["project"]["output-dir"] == "_docs"


def test_the_generated_sidebar_lists_every_notebook():
    from nbdev.quarto import nbdev_sidebar
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf): nbdev_sidebar.__wrapped__(path=str(NBS), printit=True, force=True)
    finally: os.chdir(cwd)
    sidebar = yaml.safe_load(buf.getvalue())["website"]["sidebar"]["contents"]
    assert sorted(sidebar) == sorted(nb.name for nb in NOTEBOOKS)


def test_quarto_mode_says_what_is_missing(tmp_path):
    env_path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "quarto").exists())
    r = build_docs(tmp_path, AXIA_DOCS_MODE="quarto", PATH=env_path)
    assert r.returncode == 1 and "quarto is not on PATH" in r.stdout
    assert build_docs(tmp_path, AXIA_DOCS_MODE="sphinx").returncode == 2
