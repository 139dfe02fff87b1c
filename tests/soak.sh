#!/usr/bin/env bash
# The soak (not in CI): tokio adapter -> proxy with random cuts -> mosquitto -> proxy ->
# tokio subscriber, QoS 1/2 at a steady rate; prints RSS at start and end and the
# losses; exit 1 if a QoS 1/2 message was lost.
#
#   tests/soak.sh              # 600 s (ten minutes)
#   tests/soak.sh 120          # two minutes
#   SOAK_RATE=500 SOAK_CUT_MS=1000 tests/soak.sh 300
#
# Needs mosquitto (apt). Builds tests/examples/soak.rs in release.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECONDS="${1:-600}"
cargo build --release -p mqtt-tests --example soak
exec cargo run --release -q -p mqtt-tests --example soak
