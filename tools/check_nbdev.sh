#!/usr/bin/env bash
# Fails when nbdev-export or nbdev-clean would change the tree: notebooks and axia/ must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin
copy=$(mktemp -d); trap 'rm -rf "$copy"' EXIT
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$copy"
(cd "$copy" && "$bin/nbdev-export" && "$bin/nbdev-clean") >/dev/null
drift=$( { diff -rq -x ".*" -x __pycache__ axia "$copy/axia"; diff -rq -x ".*" -x __pycache__ nbs "$copy/nbs"; } 2>&1 || true)
if [ -n "$drift" ]; then
  echo "nbdev drift: run nbdev-export and nbdev-clean, and commit notebooks and axia/ together:"
  echo "$drift" | sed "s#$copy/##g"
  exit 1
fi
echo "nbdev: notebooks and axia/ agree; notebooks are clean"
