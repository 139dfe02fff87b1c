#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each, one after the other, and prints
# each one's executions and coverage from libFuzzer's final stats. Exits non-zero if any
# target crashed, timed out or ran out of memory; the input is then under
# fuzz/artifacts/<target>/ and the tail of the log is printed.
#
#   fuzz/run.sh SECONDS [TARGET...]        (fuzz/run-smoke.sh and fuzz/run-deep.sh call this)
#
# Environment:
#   FUZZ_TOOLCHAIN   rustup toolchain (default: nightly if installed, else stable)
#   FUZZ_SANITIZER   cargo fuzz --sanitizer (default: address on nightly, none on stable,
#                    which cannot build sanitizers; the codec has no unsafe code, so "none"
#                    loses little and runs about twice as many inputs)
#   FUZZ_JOBS        cargo build jobs (default: cargo's)
#
# Corpora: fuzz/corpus/<target>/ is the writable corpus (kept between runs, not committed);
# the committed seeds fuzz/seeds/ are read as extra corpus folders. Logs: fuzz/artifacts/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: SECONDS must be a number" >&2; exit 2; }

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
if [[ -z "${FUZZ_TOOLCHAIN:-}" ]]; then
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        FUZZ_TOOLCHAIN=nightly
    else
        FUZZ_TOOLCHAIN=stable
        echo "fuzz/run.sh: no nightly toolchain; fuzzing on stable without a sanitizer" >&2
    fi
fi
if [[ -z "${FUZZ_SANITIZER:-}" ]]; then
    if [[ "$FUZZ_TOOLCHAIN" == nightly* ]]; then FUZZ_SANITIZER=address; else FUZZ_SANITIZER=none; fi
fi
fuzz=(cargo "+$FUZZ_TOOLCHAIN" fuzz)
# Release build with debug assertions and overflow checks (the encoder debug-asserts that it
# wrote exactly encoded_len bytes).
flags=(--fuzz-dir fuzz --sanitizer "$FUZZ_SANITIZER" --debug-assertions)
[[ -n "${FUZZ_JOBS:-}" ]] && flags+=(--jobs "$FUZZ_JOBS")

if (($# > 0)); then targets=("$@"); else mapfile -t targets < <("${fuzz[@]}" list --fuzz-dir fuzz); fi

echo "== fuzz: ${targets[*]} for ${seconds}s each (toolchain $FUZZ_TOOLCHAIN, sanitizer $FUZZ_SANITIZER)"
"${fuzz[@]}" build "${flags[@]}"

# The committed seed folders each target reads besides its corpus.
seed_dirs() {
    case "$1" in
        roundtrip) seeds=(fuzz/seeds/roundtrip) ;;
        session) seeds=(fuzz/seeds/session) ;;
        *) seeds=(fuzz/seeds/v4 fuzz/seeds/v5) ;;
    esac
}

mkdir -p fuzz/artifacts/logs
failed=()
rows=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/artifacts/logs/$t.log"
    seed_dirs "$t"
    set +e
    "${fuzz[@]}" run "${flags[@]}" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -dict=fuzz/mqtt.dict >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # The last status line: "#N DONE cov: C ft: F corp: U/SIZE ...".
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[^ ]*\).*/\1/p' <<<"$last")
    if ((status == 0)); then
        verdict=ok
    else
        verdict="FAILED (exit $status)"
        failed+=("$t")
        echo "---- $t: last lines of $log" >&2
        tail -n 60 "$log" >&2
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        [[ -n "$artifact" ]] && echo "---- $t: input saved as $artifact; replay: cargo +$FUZZ_TOOLCHAIN fuzz run --fuzz-dir fuzz $t $artifact" >&2
    fi
    rows+=("$(printf '%-10s %14s %10s %7s %7s %12s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")")
    echo "   $t: ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}: $verdict"
done

echo "== fuzz summary (${seconds}s per target)"
printf '%-10s %14s %10s %7s %7s %12s  %s\n' target executions exec/s cov ft corpus result
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    echo "fuzz: ${#failed[@]} of ${#targets[@]} targets FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a crash"
