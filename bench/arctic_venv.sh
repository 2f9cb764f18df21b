#!/usr/bin/env bash
# A second environment for the ArcticDB baseline of bench/lake_read.py: ArcticDB 6 needs pandas < 3, axia's
# venv has pandas 3. Idempotent; prints the venv's python. Usage: bash bench/arctic_venv.sh [DIR]
set -euo pipefail
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/axia/venv-arctic}"   # outside the checkout: not a file of the tree
if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import arcticdb" 2>/dev/null; then
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q "arcticdb>=6,<7" "pandas<3" "pyarrow>=17" >&2
fi
echo "$dir/bin/python"
