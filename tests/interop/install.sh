#!/usr/bin/env bash
# Installs the brokers of the interop matrix (tests/tests/interop.rs) into one cache
# directory, each from its own registry. Idempotent: a broker already there is skipped, so
# a cached re-run takes about a second.
#
#   tests/interop/install.sh            # into ${MQTT_INTEROP_CACHE:-$HOME/.cache/mqtt-interop}
#   MQTT_INTEROP_CACHE=/some/dir tests/interop/install.sh
#
# What lands where (the tests look in the same place, see tests/src/brokers.rs):
#   mosquitto   apt (Debian `mosquitto`), installed by .ci/run itself; only checked here
#   rumqttd     $CACHE/rumqttd/bin/rumqttd      cargo install rumqttd 0.20.0 (~2.5 min cold)
#   aedes       $CACHE/aedes/node_modules        npm install aedes@1.2.0 (needs Node >= 20)
#   amqtt       $CACHE/amqtt-venv/bin/amqtt      pip install amqtt==0.12.1 in a venv
#
# rumqttd is a cargo-installed binary rather than a library dependency of mqtt-tests: as a
# library it would add ~240 crates (its own tokio/rustls/axum versions) to the workspace's
# Cargo.lock and to every `cargo test -p mqtt-tests` build, for every developer, while the
# binary is built once per cache and pinned independently of our dependency versions.
#
# A broker that cannot be installed (no Node, no python3-venv, registry down) is reported and
# skipped; the matrix then shows it as "not installed" (and fails if
# MQTT_INTEROP_REQUIRE_ALL=1). Exit status: 0 unless MQTT_INTEROP_REQUIRE_ALL=1 and one failed.
set -uo pipefail
cache=${MQTT_INTEROP_CACHE:-$HOME/.cache/mqtt-interop}
mkdir -p "$cache"
export PATH="$HOME/.cargo/bin:$PATH"
failed=0
say() { echo "==== interop/install: $*"; }

# ---- mosquitto (apt; .ci/run installs it) -------------------------------------------------
if command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; then
    say "mosquitto: $( (mosquitto -h 2>/dev/null || /usr/sbin/mosquitto -h 2>/dev/null) | head -1)"
else
    say "mosquitto: MISSING (apt-get install -y mosquitto mosquitto-clients)"
    failed=1
fi

# ---- rumqttd (crates.io) -------------------------------------------------------------------
rumqttd_version=0.20.0
if [[ -x $cache/rumqttd/bin/rumqttd ]] && [[ -f $cache/rumqttd/.version-$rumqttd_version ]]; then
    say "rumqttd $rumqttd_version: cached"
else
    say "rumqttd $rumqttd_version: cargo install (about 2.5 minutes on 2 cores)"
    start=$(date +%s)
    # Its own target dir, so it never shares (or invalidates) the workspace's build. Not
    # --locked: rumqttd 0.20.0's lock file pins metrics 0.22.1, which current rustc (1.95)
    # rejects (E0521, rust-lang/rust#141402); the newest semver-compatible versions build.
    if CARGO_TARGET_DIR=$cache/rumqttd-build cargo install rumqttd --version "$rumqttd_version" \
        --root "$cache/rumqttd" --quiet; then
        touch "$cache/rumqttd/.version-$rumqttd_version"
        rm -rf "$cache/rumqttd-build"
        say "rumqttd: installed in $(($(date +%s) - start))s"
    else
        say "rumqttd: install FAILED"
        failed=1
    fi
fi

# ---- aedes (npm) ---------------------------------------------------------------------------
aedes_version=1.2.0
if [[ -f $cache/aedes/node_modules/aedes/package.json ]] &&
    grep -q "\"version\": \"$aedes_version\"" "$cache/aedes/node_modules/aedes/package.json"; then
    say "aedes $aedes_version: cached"
elif ! command -v node >/dev/null || (($(node -p 'process.versions.node.split(".")[0]') < 20)); then
    say "aedes: SKIPPED (needs Node.js >= 20)"
    failed=1
else
    mkdir -p "$cache/aedes"
    (
        cd "$cache/aedes" &&
            { [[ -f package.json ]] || echo '{"name":"mqtt-interop-aedes","private":true}' >package.json; } &&
            npm install --silent --no-audit --no-fund "aedes@$aedes_version"
    ) && say "aedes $aedes_version: installed" || {
        say "aedes: install FAILED"
        failed=1
    }
fi

# ---- amqtt (PyPI) --------------------------------------------------------------------------
amqtt_version=0.12.1
if [[ -x $cache/amqtt-venv/bin/amqtt ]] &&
    "$cache/amqtt-venv/bin/pip" show amqtt 2>/dev/null | grep -q "^Version: $amqtt_version$"; then
    say "amqtt $amqtt_version: cached"
else
    if python3 -m venv "$cache/amqtt-venv" &&
        "$cache/amqtt-venv/bin/pip" install --quiet --disable-pip-version-check "amqtt==$amqtt_version"; then
        say "amqtt $amqtt_version: installed"
    else
        say "amqtt: install FAILED (needs python3 with venv)"
        failed=1
    fi
fi

if ((failed)) && [[ ${MQTT_INTEROP_REQUIRE_ALL:-0} == 1 ]]; then
    exit 1
fi
exit 0
