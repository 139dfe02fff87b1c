#!/usr/bin/env bash
# The long fuzz run: every target for SECONDS (default 600, ten minutes) each, printing
# executions and coverage from libFuzzer's final stats; non-zero exit on a crash. The
# corpus grows in fuzz/corpus/<target>/ across runs.
#   fuzz/run-deep.sh [SECONDS]       (environment: see fuzz/run.sh)
set -euo pipefail
exec "$(dirname "$0")/run.sh" "${1:-600}"
