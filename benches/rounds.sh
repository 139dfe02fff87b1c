#!/usr/bin/env bash
# The codec and session benchmarks in ROUNDS rounds (default 5), each round a short
# criterion run of both benches into its own directory, then one report of the median
# of each benchmark's round medians (benches/report.py). On a shared, noisy machine a
# neighbour's burst then spoils one round of a row, not the row; our rows and rumqttc's
# are measured minutes apart at most, in every round. Each round also runs the codec's
# paired measurement (`--paired`: both libraries back to back per pair), which
# report.py prints as a table of its own.
#
#   bash benches/rounds.sh [ROUNDS] [MEASUREMENT_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
secs="${2:-1}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/criterion-rounds"
rm -rf "$out"
mkdir -p "$out"
cargo bench -p mqtt-benches --bench codec --bench session --no-run
dirs=()
for i in $(seq "$rounds"); do
  dir="$out/$i"
  dirs+=("$dir")
  for bench in codec session; do
    CRITERION_HOME="$dir" cargo bench -q -p mqtt-benches --bench "$bench" -- \
      --warm-up-time 1 --measurement-time "$secs" --noplot > "$dir.$bench.log" 2>&1 \
      || { cat "$dir.$bench.log" >&2; exit 1; }
  done
  # The paired measurement of the codec (both libraries back to back per pair).
  cargo bench -q -p mqtt-benches --bench codec -- --paired > "$dir.paired.log" 2>&1 \
    || { cat "$dir.paired.log" >&2; exit 1; }
  echo "round $i of $rounds done" >&2
done
python3 benches/report.py "${dirs[@]}"
