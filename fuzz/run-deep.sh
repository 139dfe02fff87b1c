#!/usr/bin/env bash
# The long fuzz run (not in CI): every target for SECONDS (default 600, ten minutes) each,
# one after the other (4 targets: 40 minutes), printing executions and coverage from
# libFuzzer's final stats; non-zero exit on a crash. Measured on 2 cores with the address
# sanitizer (30 s per target): decode_v4 ~46k/s, decode_v5 ~50k/s, roundtrip ~58k/s, so ten
# minutes is ~28-35 million executions each; session ~2.8k/s, so ten minutes is ~1.7
# million (the issue's bar is 10 minutes OR 10 million: ten minutes meets it).
# The corpus grows in fuzz/corpus/<target>/ across runs.
#
#   fuzz/run-deep.sh [SECONDS] [TARGET...]       (environment: see fuzz/run.sh)
#
# A crash input (fuzz/artifacts/<target>/crash-*, oom-*, timeout-*) is copied into
# fuzz/regressions/<target>/ so that `cargo test --manifest-path fuzz/Cargo.toml --lib`
# (the CI replay stage) keeps it as a regression test once the bug is fixed; commit it.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
status=0
fuzz/run.sh "$seconds" "$@" || status=$?
for dir in fuzz/artifacts/*/; do
    t=$(basename "$dir")
    [[ $t == logs ]] && continue
    for f in "$dir"crash-* "$dir"oom-* "$dir"timeout-*; do
        [[ -e $f ]] || continue
        mkdir -p "fuzz/regressions/$t"
        # Skip an input already kept under any name (a renamed regression, or an old
        # artifact left over from an earlier run).
        known=0
        for k in fuzz/regressions/"$t"/*; do
            [[ -e $k ]] && cmp -s "$f" "$k" && known=1 && break
        done
        if (( ! known )); then
            cp "$f" "fuzz/regressions/$t/"
            echo "fuzz/run-deep.sh: kept $f as fuzz/regressions/$t/$(basename "$f") (commit it)"
        fi
    done
done
exit "$status"
