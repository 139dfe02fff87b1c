#!/usr/bin/env bash
# Fuzz smoke test: every target for SECONDS (default 60) each; non-zero exit on a crash.
#   fuzz/run-smoke.sh [SECONDS]      (environment: see fuzz/run.sh)
set -euo pipefail
exec "$(dirname "$0")/run.sh" "${1:-60}"
