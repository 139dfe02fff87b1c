#!/usr/bin/env bash
# The footprint table of the embedded client: builds the firmware (thumbv7em-none-eabihf,
# opt-level "z", LTO, one codegen unit, panic = abort) and prints, per build, flash
# (.text + .rodata) and static RAM (.data + .bss + .uninit) from the ELF section headers
# (binutils `size -A`), the flash above the baseline firmware (same runtime, UART, SysTick,
# executor, panic handler and semihosting reports, no MQTT), and the peak stack measured
# by stack painting in a QEMU run against mosquitto (through qemu-test.sh).
#
#   adapters/embedded/footprint.sh             the table (runs QEMU for the stack column)
#   adapters/embedded/footprint.sh --no-run    without the QEMU run (stack: n/a)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fw="$here/firmware"
export PATH="$HOME/.cargo/bin:$PATH"
run=1
for arg in "$@"; do
    case $arg in
        --no-run) run=0 ;;
        *) echo "usage: $0 [--no-run]" >&2; exit 2 ;;
    esac
done

build() { # build TARGET_DIR DIR ARGS...: a release build of the firmware in DIR
    local target=$1 dir=$2
    shift 2
    (cd "$dir" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR="$target" \
        cargo build --release --quiet "$@")
}

echo "footprint: building the firmware" >&2
# Two builds: `full` with 5.0; everything else (minimal builds 3.1.1 only) without it, so
# that feature unification does not compile 5.0 into them.
build "$fw/target" "$fw" --locked --bin full --features v5
build "$fw/target" "$fw" --locked --bins --features minimq
elf="$fw/target/thumbv7em-none-eabihf/release"

sec() { # sec ELF SECTION: the section's size in bytes (0 if absent)
    size -A -d "$1" | awk -v s="$2" '$1 == s { n = $2 } END { print n + 0 }'
}
flash() { echo $(($(sec "$1" .text) + $(sec "$1" .rodata))); }
sram() { echo $(($(sec "$1" .data) + $(sec "$1" .bss) + $(sec "$1" .uninit))); }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ((run)); then
    echo "footprint: running the firmware under QEMU for the stack figures" >&2
    QEMU_TEST_OUT="$out" "$here/qemu-test.sh" --minimq >&2 || echo "footprint: qemu-test failed; stack figures missing" >&2
    # The baseline needs no broker.
    timeout 30 qemu-system-arm -M mps2-an386 -nographic -monitor none \
        -semihosting-config enable=on,target=native -kernel "$elf/baseline" > "$out/baseline.out" 2>&1 || true
fi
stack() { # stack NAME: the measured peak stack, or n/a
    local n
    n=$(sed -n 's/^stack used: \([0-9]*\) bytes.*/\1/p' "$out/$1.out" 2>/dev/null | head -1)
    echo "${n:-n/a}"
}

base=$(flash "$elf/baseline")
coremqtt=5700
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
ratio() { awk -v b="$1" -v c="$coremqtt" 'BEGIN { printf "%.1fx", b / c }'; }
row() { # row LABEL PROTOCOL ELF STACKNAME
    local f
    f=$(flash "$3")
    printf '| %s | %s | %d (%s) | %d (%s) | %s | %d | %s |\n' "$1" "$2" "$f" "$(kib "$f")" \
        $((f - base)) "$(kib $((f - base)))" "$(ratio $((f - base)))" "$(sram "$3")" "$(stack "$4")"
}

echo "| build | protocol | flash .text+.rodata, bytes | above baseline (the MQTT client) | vs coreMQTT 5.7 KB | static RAM .data+.bss, bytes | peak stack, bytes (measured) |"
echo "|---|---|---|---|---|---|---|"
printf '| baseline (runtime, UART, SysTick, executor, panic, semihosting; no MQTT) | - | %d (%s) | 0 | - | %d | %s |\n' \
    "$base" "$(kib "$base")" "$(sram "$elf/baseline")" "$(stack baseline)"
row "mqtt-embedded minimal: connect, subscribe, publish QoS 1" "3.1.1 only (no \`v5\` feature)" "$elf/minimal" minimal
row "mqtt-embedded minimal, blocking client (no executor)" "3.1.1 only (no \`v5\` feature)" "$elf/minimal-blocking" minimal-blocking
row "mqtt-embedded full: + QoS 0/1/2 round trip, disconnect" "5.0" "$elf/full" full
row "minimq 0.13.5 minimal: connect, subscribe, publish QoS 1" "5.0 (only)" "$elf/minimal-minimq" minimal-minimq

printf '| coreMQTT (C, published: core_mqtt + serializer + state, -Os, Cortex-M) | 3.1.1 only | - | %d (5.6 KiB) | 1.0x | - | - |\n' "$coremqtt"
