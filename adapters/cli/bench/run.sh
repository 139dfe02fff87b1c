#!/usr/bin/env bash
# The client benchmark: mqttc (our tokio adapter), rumqttc 0.25 and mosquitto_pub /
# mosquitto_sub against a mosquitto on loopback (and against `mqttc sink`), round by
# round, interleaved; prints medians as a Markdown table.
#
#   adapters/cli/bench/run.sh            # full: 3 rounds, the issue's message counts
#   adapters/cli/bench/run.sh --smoke    # tiny, < 60 s, for CI
#
# Rates are taken the same way for every client: publisher = messages / its wall time
# (process start to exit, connect included, read from the clock around it), subscriber =
# messages / (its exit - the publisher's start). CPU per message = user+sys of the client
# process / N, from the client's own getrusage when it reports one (`cpu_ns=` in its
# RESULT line: mqttc, the rumqttc harness, the floor), else from GNU time (mosquitto's
# tools; 10 ms resolution).
# Clients `mqttc-1t` and `rumqttc-1t` are the same two on tokio's current-thread runtime
# (`mqttc bench --threads 1`, `BENCH_THREADS=1`) instead of the two-worker one.
# Row `floor` (sink only, QoS 0 and 1) is the issue's reference, not a client: a plain
# loop over rumqttc's codec writing 256 PUBLISHes per system call (`mqttc-rumqttc floor`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p mqttc --features rumqttc-bench
BIN=$CARGO_TARGET_DIR/release
if [ $SMOKE = 1 ]; then ROUNDS=1; N0=5000; N1=1000; N2=500; NM=500; NRTT=100; NIDLE=100; NMAX=200
else ROUNDS=${ROUNDS:-3}; N0=1000000; N1=200000; N2=100000; NM=60000; NRTT=10000; NIDLE=10000; NMAX=19900; fi
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
ulimit -n 20000 2>/dev/null || true
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
MP=$(port); printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\nmax_queued_messages 0\nmax_inflight_messages 100\npersistence false\nuser root\n' "$MP" > "$W/m.conf"
mosquitto -c "$W/m.conf" > "$W/m.log" 2>&1 & sleep 0.5
SP=$(port); "$BIN/mqttc" sink -p "$SP" > /dev/null & sleep 0.3
now() { date +%s.%N; }
# timed <outfile> cmd... : runs with GNU time; appends "cpu_s maxrss_kib wall_s"
timed() { local o=$1; shift; /usr/bin/time -f "TIME %U %S %M %e" -o "$o.t" "$@" > "$o" 2>/dev/null || true; }
# CPU seconds of a run: its own getrusage figure if it printed one, else GNU time's.
cpu() { local c; c=$(grep -o 'cpu_ns=[0-9]*' "$1" | tail -1 | cut -d= -f2 || true)
        if [ -n "$c" ]; then awk -v c="$c" 'BEGIN{printf "%.6f", c/1e9}'; else awk '/^TIME/{printf "%.6f", $2+$3}' "$1.t"; fi; }
# One pub+sub run of client $1 at QoS $2 with $3 messages against port $4 (sub if $5=1).
run() {
  local c=$1 q=$2 n=$3 p=$4 withsub=$5 tag=$W/$1-$2-$4-$RANDOM
  local sub=() pub=()
  case $c in
    mqttc|mqttc-1t) local th=2; [ "$c" = mqttc-1t ] && th=1
           sub=("$BIN/mqttc" bench --threads $th --quiet --no-latency -V 311 -p "$p" --publishers 0 --subscribers 1 -n "$n" -q "$q")
           pub=("$BIN/mqttc" bench --threads $th --quiet --no-latency -V 311 -p "$p" --publishers 1 --subscribers 0 -n "$n" -q "$q" --inflight 100);;
    rumqttc|rumqttc-1t) local th=2; [ "$c" = rumqttc-1t ] && th=1
           sub=(env BENCH_THREADS=$th "$BIN/mqttc-rumqttc" sub "$p" "$n" "$q"); pub=(env BENCH_THREADS=$th "$BIN/mqttc-rumqttc" pub "$p" "$n" "$q" 64 100);;
    mosquitto) sub=(mosquitto_sub -p "$p" -t bench/t -q "$q" -C "$n")
               head -c $((n*65)) /dev/zero | tr '\0' 'x' | fold -w 64 | head -n "$n" > "$W/lines"
               pub=(sh -c "exec mosquitto_pub -p $p -t bench/t -q $q -l < $W/lines");;
    floor) pub=("$BIN/mqttc-rumqttc" floor "$p" "$n" "$q");;  # no subscriber: sink only
  esac
  if [ "$withsub" = 1 ]; then ( timed "$tag.sub" timeout 120 "${sub[@]}"; now > "$tag.subend" ) & local sp=$!; sleep 0.5; fi
  local t0; t0=$(now); timed "$tag.pub" timeout 120 "${pub[@]}"
  # Wall time from the clock around it (GNU time's %e has 10 ms steps: 5 % of a 0.2 s run).
  local pw; pw=$(awk -v a=$t0 -v b=$(now) 'BEGIN{printf "%.6f", b-a}')
  local line="$c q$q n=$n pub_rate=$(awk -v n=$n -v w=$pw 'BEGIN{printf "%.0f", n/(w>0?w:1e-9)}') pub_ns=$(awk -v c=$(cpu "$tag.pub") -v n=$n 'BEGIN{printf "%.0f", c*1e9/n}')"
  if [ "$withsub" = 1 ]; then wait $sp || true
    local got; got=$(grep -o 'received=[0-9]*' "$tag.sub" | cut -d= -f2 || true); [ -z "$got" ] && got=$(wc -l < "$tag.sub")
    line="$line sub_rate=$(awk -v n=$got -v a=$t0 -v b=$(cat $tag.subend) 'BEGIN{printf "%.0f", n/(b-a)}') sub_ns=$(awk -v c=$(cpu "$tag.sub") -v n=$got 'BEGIN{printf "%.0f", c*1e9/(n>0?n:1)}') received=$got"
  fi
  echo "$line"
}
R=$W/results; : > "$R"
for r in $(seq 1 $ROUNDS); do
  for c in mqttc rumqttc mosquitto mqttc-1t rumqttc-1t; do
    for q in 0 1 2; do
      n=$([ $q = 0 ] && echo $N0 || ([ $q = 1 ] && echo $N1 || echo $N2))
      [ $c = mosquitto ] && [ $q != 0 ] && [ $n -gt $NM ] && n=$NM
      echo "round $r broker $(run $c $q $n $MP 1)" | tee -a "$R" >&2
      echo "round $r sink $(run $c $q $n $SP 0)" | tee -a "$R" >&2
    done
    for q in 0 1; do
      case $c in
        mqttc) out=$("$BIN/mqttc" bench --quiet -V 311 -p $MP --roundtrip -n $NRTT -q $q | grep RESULT);;
        rumqttc) out=$("$BIN/mqttc-rumqttc" rtt $MP $NRTT $q | grep RESULT);;
        rumqttc-1t) out=$(BENCH_THREADS=1 "$BIN/mqttc-rumqttc" rtt $MP $NRTT $q | grep RESULT);;
        *) continue;;  # mqttc's round trip runs on one thread already
      esac
      echo "round $r rtt $c q$q $(echo "$out" | grep -o 'p50_us=[0-9]* .*p99_us=[0-9]*')" | tee -a "$R" >&2
    done
  done
  for q in 0 1; do  # the floor, timed like the publishers above
    echo "round $r sink $(run floor $q $([ $q = 0 ] && echo $N0 || echo $N1) $SP 0)" | tee -a "$R" >&2
  done
done
for c in mqttc rumqttc; do
  case $c in
    mqttc) a=("$BIN/mqttc" bench --quiet -V 311 -p $MP --idle); ;;
    rumqttc) a=("$BIN/mqttc-rumqttc" idle $MP); ;;
  esac
  echo "idle $c $("${a[@]}" $NIDLE | grep RESULT)" | tee -a "$R" >&2
  echo "max $c $("${a[@]}" $NMAX | grep RESULT)" | tee -a "$R" >&2
done
python3 - "$R" <<'PY'
import sys, re, statistics as st
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    kv = dict(x.split('=') for x in f if '=' in x)
    if f[0] == 'round' and f[2] in ('broker', 'sink'):
        rows.setdefault((f[2], f[3], f[4]), []).append(kv)
    elif f[0] == 'round' and f[2] == 'rtt':
        rows.setdefault(('rtt', f[3], f[4]), []).append(kv)
    else:
        rows.setdefault((f[0], f[1], ''), []).append(kv)
med = lambda rs, k: str(int(st.median(float(r[k]) for r in rs))) if all(k in r for r in rs) else '-'
def got(rs):
    # The fewest messages the subscriber received in any round, of those sent: a loss
    # shows here instead of hiding in a rate.
    if not all('received' in r for r in rs):
        return '-'
    return f'{min(int(r["received"]) for r in rs)}/{rs[0]["n"]}'
print('| run | client | QoS | pub msg/s | pub CPU ns/msg | sub msg/s | sub CPU ns/msg | received (worst round) |')
print('|---|---|---|---|---|---|---|---|')
for (kind, c, q), rs in rows.items():
    if kind in ('broker', 'sink'):
        print(f'| {kind} | {c} | {q[1:]} | {med(rs,"pub_rate")} | {med(rs,"pub_ns")} | {med(rs,"sub_rate")} | {med(rs,"sub_ns")} | {got(rs)} |')
print()
print('| round trip | client | QoS | p50 us | p90 us | p99 us |')
print('|---|---|---|---|---|---|')
for (kind, c, q), rs in rows.items():
    if kind == 'rtt':
        print(f'| rtt | {c} | {q[1:]} | {med(rs,"p50_us")} | {med(rs,"p90_us")} | {med(rs,"p99_us")} |')
print()
print('| connections | client | up | bytes per connection (RSS) |')
print('|---|---|---|---|')
for (kind, c, q), rs in rows.items():
    if kind in ('idle', 'max'):
        print(f'| {kind} | {c} | {med(rs,"connections")} | {med(rs,"bytes_per_conn")} |')
PY
