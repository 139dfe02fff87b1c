#!/usr/bin/env python3
"""Markdown tables of the criterion benchmarks (python3 standard library only).

Reads every `<criterion dir>/**/new/estimates.json` (median point estimate) together with
the `benchmark.json` beside it (group / function / parameter ids), and prints, for the
benchmarks found:

- `codec` bench: packet | op | mqtt-proto median | rumqttc median | memcpy | rumqttc/ours ratio
- `session` bench: case | mqtt-session median | mqtt-session (VecStore) | rumqttc MqttState
  median | rumqttc/ours ratio, per protocol version

each followed by a check of its performance targets.

Usage: python3 benches/report.py [CRITERION_DIR...]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else <workspace>/target/criterion.
With several directories (one per round, as `benches/rounds.sh` leaves them), each
benchmark's figure is the median of its per-round medians: on a shared machine a
neighbour's burst then moves one round, not the table.
"""

import json
import os
import statistics
import sys
from pathlib import Path

PACKETS = ["publish_64", "publish_4k", "publish_v5_props", "subscribe_10", "connect_v5"]
PACKET_LABEL = {
    "publish_64": "PUBLISH 3.1.1 QoS 1, 30 B topic, 64 B payload",
    "publish_4k": "PUBLISH 3.1.1 QoS 1, 30 B topic, 4 KiB payload",
    "publish_v5_props": "PUBLISH 5.0 QoS 1, 3 properties, 64 B payload",
    "subscribe_10": "SUBSCRIBE 3.1.1, 10 filters",
    "connect_v5": "CONNECT 5.0, will + credentials + properties",
}
OPS = ["decode", "encode"]
IMPLS = ["mqtt-proto", "rumqttc", "memcpy"]

# Absolute ceilings (ns) for mqtt-proto, and the minimum rumqttc/ours ratio for decode.
DECODE_MIN_RATIO = 4.0
DECODE_MAX_NS = {"publish_64": 20.0, "subscribe_10": 100.0, "connect_v5": 150.0}
ENCODE_MAX_NS = {"publish_64": 10.0}
# PUBLISH decode is "independent of payload size" if 4 KiB costs at most this much more.
PAYLOAD_INDEPENDENCE_TOLERANCE = 1.25

# The `session` bench: groups (protocol versions), cases and implementations.
SESSION_GROUPS = {"session_v311": "3.1.1", "session_v5": "5.0"}
SESSION_CASES = [
    "publish_qos0",
    "publish_qos1",
    "publish_qos2",
    "receive_qos0",
    "receive_qos1",
    "receive_qos2",
]
SESSION_CASE_LABEL = {
    "publish_qos0": "publish QoS 0 (publish + transmit)",
    "publish_qos1": "publish QoS 1 cycle (+ PUBACK in, Published)",
    "publish_qos2": "publish QoS 2 cycle (+ PUBREC in, PUBREL out, PUBCOMP in, Published)",
    "receive_qos0": "receive QoS 0 (PUBLISH in, Message)",
    "receive_qos1": "receive QoS 1 (PUBLISH in, Message, PUBACK out)",
    "receive_qos2": "receive QoS 2 (+ PUBREC out, PUBREL in, PUBCOMP out)",
}
SESSION_IMPLS = ["mqtt-session", "mqtt-session-vec", "rumqttc"]
# Ceilings (ns) for mqtt-session with the ArenaStore, in every protocol version.
SESSION_MAX_NS = {"publish_qos0": 100.0, "publish_qos1": 300.0}


def criterion_dirs() -> list:
    if len(sys.argv) > 1:
        return [Path(a) for a in sys.argv[1:]]
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return [Path(target) / "criterion"]
    return [Path(__file__).resolve().parent.parent / "target" / "criterion"]


def load_rounds(roots: list) -> dict:
    """{key: median over the rounds of each round's median ns}."""
    per_key = {}
    for root in roots:
        for key, ns in load(root).items():
            per_key.setdefault(key, []).append(ns)
    return {key: statistics.median(v) for key, v in per_key.items()}


def load(root: Path) -> dict:
    """{(op, packet, impl): median ns} from every new/estimates.json under root."""
    medians = {}
    for est in root.glob("**/new/estimates.json"):
        meta_path = est.parent / "benchmark.json"
        if not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        key = (meta.get("group_id"), meta.get("function_id"), meta.get("value_str"))
        if key[0] not in OPS and key[0] not in SESSION_GROUPS:
            continue
        medians[key] = json.loads(est.read_text())["median"]["point_estimate"]
    return medians


def fmt_time(ns) -> str:
    if ns is None:
        return "n/a"
    if ns < 100:
        return f"{ns:.1f} ns"
    if ns < 10_000:
        return f"{ns:.0f} ns"
    return f"{ns / 1000:.1f} µs"


def main() -> int:
    roots = criterion_dirs()
    medians = load_rounds(roots)
    if not medians:
        print(f"no criterion results under {', '.join(map(str, roots))}", file=sys.stderr)
        return 1
    if len(roots) > 1:
        print(f"Medians of {len(roots)} rounds' criterion medians.\n")
    if any(k[0] in OPS for k in medians):
        codec_report(medians)
    paired = load_paired(roots)
    if paired:
        print()
        paired_report(paired)
    if any(k[0] in SESSION_GROUPS for k in medians):
        if any(k[0] in OPS for k in medians):
            print()
        session_report(medians)
    return 0


def load_paired(roots: list) -> dict:
    """{(op, packet): [per-round dict of the PAIRED line's fields]} from `<round>.paired.log`
    beside each round directory (or `paired.log` inside it), as `benches/rounds.sh` writes
    them from `cargo bench --bench codec -- --paired`."""
    found = {}
    for root in roots:
        for path in (Path(str(root) + ".paired.log"), root / "paired.log"):
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                if not line.startswith("PAIRED "):
                    continue
                f = dict(kv.split("=", 1) for kv in line.split()[1:])
                found.setdefault((f["op"], f["packet"]), []).append(f)
    return found


def paired_report(paired: dict) -> None:
    rounds = max(len(v) for v in paired.values())
    print(
        "Paired: each pair times both libraries on the same packet back to back (which one "
        "first alternates), 1,000 pairs per row per round; ratio = median over the pairs of "
        f"rumqttc time / mqtt-proto time, then the median over {rounds} round(s)."
    )
    print()
    print("| packet | op | mqtt-proto | rumqttc | paired ratio | per round | interquartile (pairs) |")
    print("|---|---|---:|---:|---:|---|---|")
    verdicts = []
    for packet in PACKETS:
        for op in OPS:
            rows = paired.get((op, packet))
            if not rows:
                continue
            med = lambda k: statistics.median(float(r[k]) for r in rows)
            ratio = med("ratio")
            per_round = ", ".join(f"{float(r['ratio']):.2f}" for r in rows)
            iqr = ", ".join(f"{float(r['ratio_q1']):.2f}-{float(r['ratio_q3']):.2f}" for r in rows)
            print(
                f"| {PACKET_LABEL[packet]} | {op} | {fmt_time(med('ours_ns'))} "
                f"| {fmt_time(med('theirs_ns'))} | {ratio:.2f}x | {per_round} | {iqr} |"
            )
            need = DECODE_MIN_RATIO if op == "decode" else 1.0
            verdicts.append((ratio >= need, f"{op} {packet}: paired ratio {ratio:.2f}x (target >= {need:g}x)"))
    print()
    for ok, text in verdicts:
        print(f"- {'met' if ok else '**MISSED**'}: {text}")
    print()
    print(f"{sum(ok for ok, _ in verdicts)} of {len(verdicts)} paired targets met.")


def codec_report(medians: dict) -> None:
    def get(op, packet, impl):
        return medians.get((op, packet, impl))

    print("| packet | op | mqtt-proto median | rumqttc median | memcpy | rumqttc/ours ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for packet in PACKETS:
        for op in OPS:
            ours, theirs, floor = (get(op, packet, i) for i in IMPLS)
            if ours is None and theirs is None:
                continue
            ratio = f"{theirs / ours:.1f}x" if ours and theirs else "n/a"
            print(
                f"| {PACKET_LABEL[packet]} | {op} | {fmt_time(ours)} | {fmt_time(theirs)} "
                f"| {fmt_time(floor)} | {ratio} |"
            )

    print()
    print(
        "Times are criterion medians; ratio = rumqttc median / mqtt-proto median "
        "(above 1: mqtt-proto is faster). memcpy: copying the encoded packet into a "
        "preallocated buffer through the same harness, the floor."
    )
    print()
    print(
        "Targets: decode >= 4x faster than rumqttc on every packet (<= ~20 ns for the 64 B "
        "PUBLISH, <= ~100 ns for the 10-filter SUBSCRIBE, <= ~150 ns for the 5.0 CONNECT); "
        "PUBLISH decode independent of payload size (64 B vs 4 KiB); encode no slower than "
        "rumqttc (~10 ns for the 64 B PUBLISH)."
    )
    print()
    verdicts = []

    def verdict(ok, text):
        verdicts.append(ok)
        print(f"- {'met' if ok else '**MISSED**'}: {text}")

    for packet in PACKETS:
        ours, theirs = get("decode", packet, "mqtt-proto"), get("decode", packet, "rumqttc")
        if ours and theirs:
            verdict(
                theirs / ours >= DECODE_MIN_RATIO,
                f"decode {packet}: rumqttc/ours = {theirs / ours:.1f}x (target >= 4x)",
            )
        if ours and packet in DECODE_MAX_NS:
            limit = DECODE_MAX_NS[packet]
            verdict(ours <= limit, f"decode {packet} {fmt_time(ours)} (target <= ~{limit:.0f} ns)")
    small, large = get("decode", "publish_64", "mqtt-proto"), get("decode", "publish_4k", "mqtt-proto")
    if small and large:
        verdict(
            large <= small * PAYLOAD_INDEPENDENCE_TOLERANCE,
            f"PUBLISH decode 64 B {fmt_time(small)} vs 4 KiB {fmt_time(large)} "
            f"(target: independent of payload size, within {PAYLOAD_INDEPENDENCE_TOLERANCE:.2f}x)",
        )
    for packet in PACKETS:
        ours, theirs = get("encode", packet, "mqtt-proto"), get("encode", packet, "rumqttc")
        if ours and theirs:
            verdict(
                ours <= theirs,
                f"encode {packet} {fmt_time(ours)} vs rumqttc {fmt_time(theirs)} (target: no slower)",
            )
        if ours and packet in ENCODE_MAX_NS:
            limit = ENCODE_MAX_NS[packet]
            verdict(ours <= limit, f"encode {packet} {fmt_time(ours)} (target <= ~{limit:.0f} ns)")
    print()
    print(f"{sum(verdicts)} of {len(verdicts)} targets met.")


def session_report(medians: dict) -> None:
    def get(group, case, impl):
        return medians.get((group, case, impl))

    print(
        "| version | case | mqtt-session median | mqtt-session (VecStore) | "
        "rumqttc MqttState median | rumqttc/ours ratio |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for group, version in SESSION_GROUPS.items():
        for case in SESSION_CASES:
            ours, vec, theirs = (get(group, case, i) for i in SESSION_IMPLS)
            if ours is None and vec is None and theirs is None:
                continue
            ratio = f"{theirs / ours:.1f}x" if ours and theirs else "n/a"
            print(
                f"| {version} | {SESSION_CASE_LABEL[case]} | {fmt_time(ours)} | "
                f"{fmt_time(vec)} | {fmt_time(theirs)} | {ratio} |"
            )

    print()
    print(
        "Times are criterion medians per iteration; mqtt-session is "
        "`Session<ArenaStore<64, 16384>, [u8; 4096], 32, 32>`, the VecStore column the same "
        "with `VecStore`; rumqttc is 0.25.1's `MqttState` (`v5::MqttState` for 5.0) plus its "
        "codec into/out of reused `BytesMut`s. Ratio = rumqttc median / mqtt-session (ArenaStore) "
        "median (above 1: mqtt-session is faster)."
    )
    print()
    print("Targets: < 100 ns per QoS 0 publish, < 300 ns per QoS 1 cycle (ArenaStore).")
    print()
    verdicts = []
    for group, version in SESSION_GROUPS.items():
        for case, limit in SESSION_MAX_NS.items():
            ours = get(group, case, "mqtt-session")
            if ours is None:
                continue
            ok = ours < limit
            verdicts.append(ok)
            print(
                f"- {'met' if ok else '**MISSED**'}: {version} {case} {fmt_time(ours)} "
                f"(target < {limit:.0f} ns)"
            )
    print()
    print(f"{sum(verdicts)} of {len(verdicts)} targets met.")


if __name__ == "__main__":
    sys.exit(main())
