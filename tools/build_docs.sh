#!/usr/bin/env bash
# Build the docs site: every notebook in nbs/ is a page.
#   With Quarto on PATH: `nbdev-docs` (the real site, into _docs/ as pyproject.toml's doc_path says).
#   Without Quarto:      tools/render_docs.py: every notebook through nbdev's docs processors, Quarto syntax and
#                        front matter handled, nbconvert without prompts, a sidebar to every page, search,
#                        plotly.js shipped with the site (offline); into _docs/ (or $AXIA_DOCS_OUT).
#                        Open _docs/index.html in a browser (file:// works).
# Options (environment): AXIA_DOCS_MODE=auto|quarto|nbconvert  (auto: quarto when installed)
#                        AXIA_DOCS_OUT=dir   (nbconvert mode only)
#                        AXIA_DOCS_PLAIN=1   (nbconvert mode: skip nbdev's processing; fast)
#                        AXIA_DOCS_EXECUTE=1 (nbconvert mode: run the notebooks first)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin; [ -x "$bin/python" ] || bin=$(dirname "$(command -v python3)")
mode=${AXIA_DOCS_MODE:-auto}
if [ "$mode" = auto ]; then
  if command -v quarto >/dev/null; then mode=quarto; else mode=nbconvert; fi
fi
case "$mode" in
  quarto)
    command -v quarto >/dev/null || { echo "quarto is not on PATH (https://quarto.org/docs/get-started/)"; exit 1; }
    "$bin/nbdev-docs"
    echo "docs: _docs/ (Quarto)";;
  nbconvert)
    args=(--out "${AXIA_DOCS_OUT:-_docs}")
    [ "${AXIA_DOCS_PLAIN:-0}" = 1 ] && args+=(--plain)
    [ "${AXIA_DOCS_EXECUTE:-0}" = 1 ] && args+=(--execute)
    echo "quarto not found: rendering the notebooks with tools/render_docs.py (nbdev processing + nbconvert)"
    "$bin/python" tools/render_docs.py "${args[@]}";;
  *) echo "AXIA_DOCS_MODE must be auto, quarto or nbconvert (got '$mode')"; exit 2;;
esac
