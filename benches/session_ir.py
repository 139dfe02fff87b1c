#!/usr/bin/env python3
"""Instructions per iteration of every `session` benchmark, under callgrind (noise-free).

Runs the bench binary once per benchmark in criterion's profile mode under
`valgrind --tool=callgrind`, and divides the inclusive instruction count (Ir) of the
iteration's function (`publish_cycle` or `receive`, never inlined) by its call count.
Setup (rumqttc's `Publish::new`) is outside it, as in the timing.

Caveat: callgrind counts instructions, not time. rumqttc's `Instant::now()` reads are a
vDSO call (~15 ns each natively) that valgrind runs as a syscall counted at a few Ir, and
cache misses and branch mispredictions do not show. Use it for where the work goes and for
ratios that do not move with the machine's load, next to the criterion medians.

Usage (python3 standard library only, valgrind installed):
    cargo bench -p mqtt-benches --bench session --no-run
    python3 benches/session_ir.py [BENCH_BINARY]
BENCH_BINARY defaults to the newest target/release/deps/session-*.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

GROUPS = {"session_v311": "3.1.1", "session_v5": "5.0"}
CASES = [
    "publish_qos0",
    "publish_qos1",
    "publish_qos2",
    "receive_qos0",
    "receive_qos1",
    "receive_qos2",
]
IMPLS = ["mqtt-session", "mqtt-session-vec", "rumqttc"]

# The timed routine of every case calls exactly one of these, once per iteration (both are
# `#[inline(never)]` in session.rs).
ROUTINE = re.compile(
    r"^\s*([0-9,]+) \([ 0-9.]+%\)\s+>\s+\S*:session::(?:publish_cycle|receive) "
    r"\(([0-9,]+)x\)"
)


def bench_binary() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    deps = Path(__file__).resolve().parent.parent / "target" / "release" / "deps"
    bins = [p for p in deps.glob("session-*") if p.suffix == "" and p.is_file()]
    if not bins:
        sys.exit("no bench binary: run `cargo bench -p mqtt-benches --bench session --no-run`")
    return max(bins, key=lambda p: p.stat().st_mtime)


def ir_per_iteration(binary: Path, bench_id: str) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                str(binary),
                "--bench",
                "--profile-time",
                "1",
                f"^{re.escape(bench_id)}$",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        tree = subprocess.run(
            ["callgrind_annotate", "--tree=calling", "--inclusive=yes", str(out)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    # The checks before timing call the same functions a few dozen times (with a recording
    # tap); the timed loop is the entry with by far the most calls.
    best = None
    for line in tree.splitlines():
        m = ROUTINE.match(line)
        if m:
            ir, calls = (int(g.replace(",", "")) for g in m.groups())
            if best is None or calls > best[1]:
                best = (ir, calls)
    return best[0] / best[1] if best else None


def main() -> int:
    binary = bench_binary()
    print(f"callgrind Ir per iteration, {binary.name}")
    print()
    print("| version | case | mqtt-session | mqtt-session (VecStore) | rumqttc MqttState | rumqttc/ours |")
    print("|---|---|---:|---:|---:|---:|")
    for group, version in GROUPS.items():
        for case in CASES:
            irs = [ir_per_iteration(binary, f"{group}/{case}/{impl}") for impl in IMPLS]
            ours, vec, theirs = irs
            cells = [f"{x:,.0f}" if x else "n/a" for x in irs]
            ratio = f"{theirs / ours:.2f}x" if ours and theirs else "n/a"
            print(f"| {version} | {case} | {' | '.join(cells)} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
