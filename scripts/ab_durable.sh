#!/usr/bin/env bash
# A/B of two exporter builds in durable mode (every 2xx fsynced, group commit), alternating
# runs at 16 connections so that this machine's drift hits both alike. Needs wrk.
#
#   scripts/ab_durable.sh OLD_BINARY NEW_BINARY [rounds, default 3] [duration, default 5s]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1 NEW=$2 ROUNDS=${3:-3} DURATION=${4:-5s}
export BODY_FILE=tests/fixtures/push-success-seed.json
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
one() { # binary: prints deliveries/s and p99
  rm -rf "$WORK/store"; mkdir -p "$WORK/store"
  "$1" --web.listen-address=127.0.0.1:19905 --storage.path="$WORK/store/db" --log.level=error 2>/dev/null &
  local pid=$!
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:19905/-/ready >/dev/null 2>&1 && break; sleep 0.1; done
  RUN_ID="ab-$RANDOM-$$" wrk -t2 -c16 -d"$DURATION" --latency -s scripts/unique_ids.lua \
    http://127.0.0.1:19905/webhook >"$WORK/wrk.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk '/Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 } END { printf "%s/s p99 %s", rps, p99 }' "$WORK/wrk.txt"
}
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: old $(one "$OLD"), new $(one "$NEW")"
done
