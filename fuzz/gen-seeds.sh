#!/usr/bin/env bash
# Regenerates the seed corpus fuzz/seeds/ from packets built with mqtt-proto
# (fuzz/src/seeds.rs, written out by fuzz/examples/gen_seeds.rs), then checks every raw
# seed with the dissector: each must print `ok <TYPE> <its size>`.
#
#   fuzz/gen-seeds.sh           regenerate and check
#   fuzz/gen-seeds.sh --check   only check the committed seeds with the dissector
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--check" ]]; then
    cargo run -q --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/seeds
fi

cargo build -q -p mqtt-proto --example dissect
dissect=target/debug/examples/dissect
fail=0
count=0
for dir in v4 v5; do
    protocol=${dir#v}
    files=(fuzz/seeds/"$dir"/*.bin)
    # One hex line per seed, in the order of $files.
    results=$(for f in "${files[@]}"; do od -An -tx1 -v "$f" | tr -d '\n'; echo; done |
        "$dissect" --protocol "$protocol")
    mapfile -t lines <<<"$results"
    for i in "${!files[@]}"; do
        f=${files[$i]}
        name=$(basename "$f" .bin)          # NN-type[-variant]
        type=${name#*-}
        type=${type%%-*}
        want="ok ${type^^} $(stat -c %s "$f")"
        got=${lines[$i]:-<no output>}
        count=$((count + 1))
        if [[ "$got" == "$want" ]]; then
            printf '%-45s %s\n' "$f" "$got"
        else
            printf '%-45s %s   (expected: %s)\n' "$f" "$got" "$want"
            fail=1
        fi
    done
done
if ((fail)); then
    echo "gen-seeds: some seeds do not dissect as expected" >&2
    exit 1
fi
echo "gen-seeds: all $count raw seeds dissect as whole packets of their type"
