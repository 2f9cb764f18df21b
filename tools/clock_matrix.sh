#!/usr/bin/env bash
# Run the tests marked `clock` at every instant of tests/clock_matrix.txt (AXIA_TEST_NOW; see tests/conftest.py).
# Prints one line per instant and a summary; fails if any instant fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin
fail=0; summary=()
while read -r instant label; do
  [[ -z "$instant" || "$instant" == \#* ]] && continue
  out=$(AXIA_TEST_NOW="$instant" "$bin/python" -m pytest -m clock -n 2 --dist load -q -p no:cacheprovider "$@" 2>&1)
  rc=$?
  line=$(echo "$out" | grep -E "^[0-9]+ (passed|failed)|passed|failed" | tail -1)
  summary+=("$(printf '%-22s %-62s %s' "$instant" "$label" "$line")")
  if [ $rc -ne 0 ]; then fail=1; echo "$out" | tail -40; fi
  echo "clock matrix: $instant  $line"
done < tests/clock_matrix.txt
echo; echo "clock matrix (instant × tests marked clock):"; printf '  %s\n' "${summary[@]}"
exit $fail
