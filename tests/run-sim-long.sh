#!/usr/bin/env bash
# The long simulation run: 100,000 seeds (or $1) in release, with the time taken.
#
#   tests/run-sim-long.sh            # seeds 0..100000
#   tests/run-sim-long.sh 500000     # more
#   SIM_SEED_START=100000 tests/run-sim-long.sh
#   SIM_STRICT=all tests/run-sim-long.sh   # also fail on the known bugs (mqtt_tests::sim::KNOWN_BUGS)
#
# A failing seed prints its number and its last steps; rerun it alone with
#   SIM_SEED=<n> cargo test -p mqtt-tests --test simulation
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-100000}"
cargo test --release -p mqtt-tests --test simulation --no-run
start=$(date +%s%N)
status=0
SIM_SEEDS="$seeds" cargo test --release -p mqtt-tests --test simulation simulation_seeds -- --nocapture || status=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'simulation: %s seeds in %d.%03d s (release, wall clock, excluding the build)\n' "$seeds" $((ms / 1000)) $((ms % 1000))
exit "$status"
