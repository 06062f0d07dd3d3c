#!/usr/bin/env bash
# Instructions per delivery through the whole server (hyper, axum, the handler; not the kernel),
# for the exporter in memory-only mode and the lean baseline receiver, counted by valgrind's
# callgrind. Unlike throughput, the counts do not move with the machine's load, so the ratio of
# the two is the same from one run to the next. Needs valgrind (apt-get install valgrind).
#
#   scripts/instructions.sh [deliveries, default 2000]
#
# Each server runs twice under callgrind, answering 0 and N deliveries (unique ids, the seed
# payload, one keep-alive connection); the difference of the totals over N is the cost of one.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release --quiet --bin platformsh-exporter --example lean_receiver
WORK=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

send() { # port, count: POSTs the seed with unique ids on one connection
  python3 - "$1" "$2" <<'PY'
import http.client, re, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = open("tests/fixtures/push-success-seed.json", "rb").read()
at = re.search(rb'"id": *"[^"]*"', body)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for i in range(n):
    conn.request("POST", "/webhook", body=body[:at.start()] + b'"id": "i-%d"' % i + body[at.end():],
                 headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status in (200, 202), answer.status
PY
}

count() { # port, deliveries, command...: prints the instructions callgrind counted
  local port=$1 n=$2; shift 2
  rm -f "$WORK"/cg.out*
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$@" >"$WORK/valgrind.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  send "$port" "$n"
  # Dump while the server still runs: the lean receiver has no signal handling to exit cleanly.
  callgrind_control --dump "$pid" >/dev/null 2>&1
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^summary:/ { print $2 }' "$WORK"/cg.out.*
}

per_delivery() { # port, command...
  local base total
  base=$(count "$1" 0 "${@:2}")
  total=$(count "$1" "$N" "${@:2}")
  echo $(( (total - base) / N ))
}

lean=$(per_delivery 19911 target/release/examples/lean_receiver 127.0.0.1:19911)
ours=$(per_delivery 19912 target/release/platformsh-exporter \
  --web.listen-address=127.0.0.1:19912 --storage.in-memory --log.level=warn)
printf 'instructions per delivery: lean receiver %d, exporter (memory-only) %d, ratio %.2f\n' \
  "$lean" "$ours" "$(echo "$lean / $ours" | bc -l)"
