#!/usr/bin/env bash
# System packages the test suite needs (idempotent). Chromium drives the app in the browser test.
set -euo pipefail
need=()
command -v make >/dev/null || need+=(make)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
