#!/usr/bin/env bash
# System packages the test suite needs (idempotent). Chromium drives the app in the browser test; Java runs Spark.
set -euo pipefail
need=()
command -v make >/dev/null || need+=(make)
command -v chromium >/dev/null || need+=(chromium)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)   # Spark reads the lake in tests/test_spark_lake.py
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
