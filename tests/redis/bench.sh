#!/usr/bin/env bash
# The Redis pattern beside redis-benchmark, in one run on one machine (the ratio is the figure that matters).
# Starts its own redis-server (no persistence) on a free loopback port, then measures, 50 in flight, 100-byte values:
#   1. redis-benchmark -t get,set -c 50 -n 100000 -d 100        (Redis itself, RESP, C client)
#   2. dist/prism-load --direct → dist/redis, set then get     (gRPC → pattern → ioredis → Redis)
#   3. dist/prism-load --direct → dist/memstore, set then get  (the same gRPC path with no backend: the ceiling)
#   4. tests/redis/bench_driver.ts                             (the driver and bare ioredis, no gRPC)
# Usage: tests/redis/bench.sh [duration, default 10s]. Needs dist/redis, dist/memstore and dist/prism-load built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${1:-10s}"
BUN="$ROOT/node_modules/.bin/bun"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done

# start_pattern NAME CONFIG: starts dist/NAME (its pid kept for cleanup) and sets $addr once it listens.
start_pattern() {
  printf '%s\n' "$2" >"$dir/$1.yaml"
  "$ROOT/dist/$1" --config "$dir/$1.yaml" --grpc-port 0 >"$dir/$1.log" 2>&1 &
  pids+=($!)
  addr=""
  for _ in $(seq 200); do
    addr="$(grep -o 'listening on [0-9.:]*' "$dir/$1.log" | cut -d' ' -f3 || true)"
    [ -n "$addr" ] && return
    sleep 0.05
  done
  echo "$1 did not start: $(cat "$dir/$1.log")" >&2
  exit 1
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== redis-benchmark -h 127.0.0.1 -p $port -t get,set -c 50 -n 100000 -d 100"
redis-benchmark -h 127.0.0.1 -p "$port" -t get,set -c 50 -n 100000 -d 100 --csv

start_pattern redis "{address: \"127.0.0.1:$port\", namespace: bench}"
redis_addr="$addr"
load=("$ROOT/dist/prism-load" --direct "$redis_addr" --concurrency 50 --duration "$DURATION" --value-size 100 --progress never)
echo "== prism-load --direct dist/redis --operation set --concurrency 50 --duration $DURATION --value-size 100"
"${load[@]}" --operation set
echo "== prism-load --direct dist/redis --operation get --concurrency 50 --duration $DURATION --value-size 100"
"${load[@]}" --operation get

start_pattern memstore "{}"
mem_addr="$addr"
for op in set get; do
  echo "== prism-load --direct dist/memstore --operation $op --concurrency 50 --duration $DURATION --value-size 100"
  "$ROOT/dist/prism-load" --direct "$mem_addr" --concurrency 50 --duration "$DURATION" --value-size 100 --progress never --operation "$op"
done

echo "== bun tests/redis/bench_driver.ts 127.0.0.1:$port 200000 (no gRPC)"
"$BUN" "$ROOT/tests/redis/bench_driver.ts" "127.0.0.1:$port" 200000
echo "== machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
