#!/usr/bin/env bash
# The embedded proof: builds the mps2-an386 firmware, starts its own mosquitto on a free
# loopback port and a mosquitto_sub on the firmware's topics, runs each firmware under
# QEMU with its UART0 connected to mosquitto (-serial tcp:127.0.0.1:PORT, QEMU connects
# as a TCP client straight to the broker), and checks that every run exits 0 through
# semihosting and that mosquitto_sub saw exactly the messages each firmware published.
#
#   adapters/embedded/qemu-test.sh            full (async client, MQTT 5.0, QoS 0/1/2), minimal
#                                             (async, 3.1.1, QoS 1), minimal-blocking (blocking
#                                             client, 3.1.1, QoS 1)
#   adapters/embedded/qemu-test.sh --minimq   also the minimq comparison build
#
# Needs: the thumbv7em-none-eabihf target, qemu-system-arm, mosquitto, mosquitto-clients,
# python3 (for a free port). Every process it starts is stopped on exit. With QEMU_TEST_OUT
# set to a directory, each firmware's console output is kept there (footprint.sh reads the
# measured stack use from it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fw="$here/firmware"
export PATH="$HOME/.cargo/bin:$PATH"

with_minimq=0
[[ ${1:-} == --minimq ]] && with_minimq=1

for tool in qemu-system-arm mosquitto mosquitto_sub mosquitto_pub python3; do
    command -v "$tool" >/dev/null || { echo "qemu-test: $tool not found" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "qemu-test: building the firmware"
bins=(--bin minimal --bin minimal-blocking)
features=()
if ((with_minimq)); then
    bins+=(--bin minimal-minimq)
    features=(--features minimq)
fi
# The firmware's own workspace, target directory and flags (.cargo/config.toml); flags
# from the environment would replace the linker script argument.
# `full` speaks 5.0 (feature v5); the minimal builds are 3.1.1 only, built on their own
# so that feature unification does not put 5.0 back into them.
(cd "$fw" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR="$fw/target" \
    cargo build --locked --release --bin full --features v5)
(cd "$fw" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR="$fw/target" \
    cargo build --locked --release "${bins[@]}" "${features[@]}")
elf="$fw/target/thumbv7em-none-eabihf/release"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
CONF
mosquitto -c "$work/mosquitto.conf" 2> "$work/mosquitto.log" &
pids+=($!)
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
done

# Subscribe, then wait until a probe message shows the subscription is live.
mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'mqtt-embedded/qemu/#' > "$work/sub.txt" &
pids+=($!)
for _ in $(seq 100); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -t mqtt-embedded/qemu/probe -m ready
    grep -q '^mqtt-embedded/qemu/probe ready$' "$work/sub.txt" && break
    sleep 0.1
done
grep -q '^mqtt-embedded/qemu/probe ready$' "$work/sub.txt" || { echo "qemu-test: mosquitto_sub never subscribed" >&2; exit 1; }

passed=0
failed=0
# run NAME EXPECTED_LINE...: runs one firmware and checks what mosquitto_sub saw.
run() {
    local name=$1
    shift
    echo "qemu-test: running $name under QEMU (mosquitto on 127.0.0.1:$port)"
    local status=0
    timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none \
        -semihosting-config enable=on,target=native \
        -serial "tcp:127.0.0.1:$port" \
        -kernel "$elf/$name" > "$work/$name.out" 2>&1 || status=$?
    sed 's/^/    /' "$work/$name.out"
    if [[ -n ${QEMU_TEST_OUT:-} ]]; then cp "$work/$name.out" "$QEMU_TEST_OUT/$name.out"; fi
    local ok=1
    if ((status != 0)); then
        echo "qemu-test: $name: QEMU exited with $status (124: timeout)" >&2
        ok=0
    fi
    grep -q "^PASS" "$work/$name.out" || ok=0
    # mosquitto_sub prints each message as "topic payload".
    local line
    for line in "$@"; do
        for _ in $(seq 50); do
            grep -qxF "$line" "$work/sub.txt" && break
            sleep 0.1
        done
        if ! grep -qxF "$line" "$work/sub.txt"; then
            echo "qemu-test: $name: mosquitto_sub did not see '$line'" >&2
            ok=0
        fi
    done
    if ((ok)); then
        passed=$((passed + 1))
        echo "qemu-test: $name ok"
    else
        failed=$((failed + 1))
        echo "qemu-test: $name FAILED" >&2
    fi
}

run full \
    "mqtt-embedded/qemu/full full qos0" \
    "mqtt-embedded/qemu/full full qos1" \
    "mqtt-embedded/qemu/full full qos2"
run minimal "mqtt-embedded/qemu/minimal minimal qos1"
run minimal-blocking "mqtt-embedded/qemu/blocking blocking qos1"
if ((with_minimq)); then
    run minimal-minimq "mqtt-embedded/qemu/minimq minimq qos1"
fi

# Each firmware published each message once: no duplicates reached the subscriber.
dups=$(grep -v '^mqtt-embedded/qemu/probe ' "$work/sub.txt" | sort | uniq -d)
if [[ -n $dups ]]; then
    echo "qemu-test: duplicate deliveries: $dups" >&2
    failed=$((failed + 1))
fi
if ((failed > 0)); then
    echo "qemu-test: mosquitto log:" >&2
    sed 's/^/    /' "$work/mosquitto.log" >&2 || true
fi
echo "qemu: $passed passed, $failed failed"
((failed == 0))
