#!/usr/bin/env bash
# Load test: the exporter (memory-only, durable with group commit, durable without it) and the
# lean baseline receiver, at 1, 16 and 64 connections, each delivery with a unique id.
# Prints throughput, latency p50/p99, the server's CPU time per delivery (user + system, from
# /proc: less moved than throughput by where the scheduler puts wrk), idle and peak RSS.
# Needs wrk (apt-get install wrk).
#
#   scripts/loadtest.sh [duration, default 10s] [body: seed|1mb, default seed]
#   API=1 scripts/loadtest.sh   # webhook latency with the Platform.sh API hanging or down
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
BODY=${2:-seed}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --bin platformsh-exporter --example lean_receiver
EXPORTER=target/release/platformsh-exporter
LEAN=target/release/examples/lean_receiver
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

BODY_FILE=tests/fixtures/push-success-seed.json
if [ "$BODY" = 1mb ]; then
  BODY_FILE=$WORK/body-1mb.json
  python3 - "$BODY_FILE" <<'PY'
import json, sys
body = json.load(open("tests/fixtures/push-success-seed.json"))
line = "Building application 'app' (runtime type: php:8.3, tree: 8d2e600)\n"
body["log"] = (line * (1048576 // len(line) + 1))[:1048576]
json.dump(body, open(sys.argv[1], "w"))
PY
fi
export BODY_FILE

rss_kb() { awk -v f="$2" '$1 == f":" { print $2 }' "/proc/$1/status"; }

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

printf '%-24s %5s %12s %9s %9s %9s %9s %9s\n' server conns "deliveries/s" p50 p99 CPU/deliv idle_RSS peak_RSS
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run() { # name, port, command...
  local name=$1 port=$2; shift 2
  for conns in ${CONNS:-1 16 64}; do
    rm -rf "$WORK/store"; mkdir -p "$WORK/store"
    "$@" >"$WORK/server.log" 2>&1 &
    local pid=$!
    wait_ready "$port"
    local idle; idle=$(rss_kb "$pid" VmRSS)
    local threads=2; [ "$conns" = 1 ] && threads=1
    local ticks; ticks=$(cpu_ticks "$pid")
    RUN_ID="$name-$conns-$$" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency \
      -s scripts/unique_ids.lua "http://127.0.0.1:$port/webhook" >"$WORK/wrk.txt"
    local peak; peak=$(rss_kb "$pid" VmHWM)
    ticks=$(( $(cpu_ticks "$pid") - ticks ))
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if grep -q "Non-2xx" "$WORK/wrk.txt"; then
      echo "$name: some answers were not 2xx:" >&2; cat "$WORK/wrk.txt" >&2; exit 1
    fi
    local rps p50 p99 requests
    rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
    requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
    local cpu; cpu=$(echo "$ticks * 1000000 / $(getconf CLK_TCK) / $requests" | bc -l)
    printf '%-24s %5s %12s %9s %9s %7.1fus %8.1fM %8.1fM\n' "$name" "$conns" "$rps" "$p50" "$p99" \
      "$cpu" "$(echo "$idle / 1024" | bc -l)" "$(echo "$peak / 1024" | bc -l)"
    echo "$rps" >"$WORK/last_rps"
    echo "$cpu" >"$WORK/last_cpu"
  done
}

if [ "${API:-}" = 1 ]; then
  # Does a slow or down Platform.sh API slow the webhook? The memory-only exporter without
  # reconciliation, reconciling against an API that accepts connections and never answers,
  # and against one that refuses them; 16 connections, alternating rounds.
  python3 - 19911 <<'PY' &
import socket, sys, threading
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1]))); server.listen(1024)
held = []
while True:
    connection, _ = server.accept()
    held.append(connection)  # read nothing, answer nothing
PY
  API_FLAGS=(--platformsh.api-token=t --platformsh.projects=p --platformsh.poll-interval=1s)
  for round in 1 2 3; do
    CONNS=16 run no-reconciliation 19912 "$EXPORTER" --web.listen-address=127.0.0.1:19912 --storage.in-memory --log.level=error
    CONNS=16 run api-hanging 19913 "$EXPORTER" --web.listen-address=127.0.0.1:19913 --storage.in-memory --log.level=error \
      "${API_FLAGS[@]}" --platformsh.api-url=http://127.0.0.1:19911 --platformsh.auth-url=http://127.0.0.1:19911
    CONNS=16 run api-down 19914 "$EXPORTER" --web.listen-address=127.0.0.1:19914 --storage.in-memory --log.level=error \
      "${API_FLAGS[@]}" --platformsh.api-url=http://127.0.0.1:1 --platformsh.auth-url=http://127.0.0.1:1
  done
  exit 0
fi

LEAN_CMD=("$LEAN" 127.0.0.1:19901)
MEMORY_CMD=("$EXPORTER" --web.listen-address=127.0.0.1:19902 --storage.in-memory --log.level=warn)
run lean-receiver 19901 "${LEAN_CMD[@]}"
run exporter-in-memory 19902 "${MEMORY_CMD[@]}"
run exporter-durable 19903 "$EXPORTER" --web.listen-address=127.0.0.1:19903 --storage.path="$WORK/store/db" --log.level=warn
run exporter-durable-batch1 19904 "$EXPORTER" --web.listen-address=127.0.0.1:19904 --storage.path="$WORK/store/db" --storage.max-batch=1 --log.level=warn

# The ratio to the lean receiver, from alternating runs at 16 connections: this machine's noise
# (another VM's load, wrk on the same two cores) moves single runs by ±10 %.
echo
echo "memory-only exporter / lean receiver, 16 connections, alternating runs:"
ratios=()
for round in 1 2 3; do
  CONNS=16 run lean-receiver 19901 "${LEAN_CMD[@]}" >/dev/null
  lean=$(cat "$WORK/last_rps"); lean_cpu=$(cat "$WORK/last_cpu")
  CONNS=16 run exporter-in-memory 19902 "${MEMORY_CMD[@]}" >/dev/null
  ours=$(cat "$WORK/last_rps"); ours_cpu=$(cat "$WORK/last_cpu")
  ratio=$(echo "$ours / $lean" | bc -l)
  ratios+=("$ratio")
  printf '  round %d: lean %s/s (%.1f us CPU each), exporter %s/s (%.1f us), ratio %.2f\n' \
    "$round" "$lean" "$lean_cpu" "$ours" "$ours_cpu" "$ratio"
done
printf '  median ratio %.2f\n' "$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)"
