#!/bin/bash
# Syscalls per call of dist/memstore (direct) or dist/proxy (the proxy process, not the pattern it launches):
# after 2,000 unmeasured Gets, `strace -c -f` is attached for prism-load's 5,000 Gets (plus its pre-load of 100
# keys) at the given number in flight; the table goes to OUT. Counts, not timings (strace slows the server, which
# may batch more calls per event-loop turn than it would unobserved).
#   bash bench/profile/strace_calls.sh memstore|proxy CONCURRENCY OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
subject=$1 concurrency=$2 out=$3
log=$(mktemp)
if [ "$subject" = memstore ]; then
  ./dist/memstore --grpc-port 0 >"$log" 2>&1 & srv=$!; ready='grpc listening on'; flag=--direct
else
  ./dist/proxy --config bench/configs/proxy-memstore.yaml >"$log" 2>&1 & srv=$!; ready='prism proxy listening on'; flag=--proxy
fi
trap 'kill $srv 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 150); do grep -q "$ready" "$log" && break; sleep 0.2; done
sleep 1
addr=$(grep -o "$ready [^ ]*" "$log" | awk '{print $NF}')
./dist/prism-load $flag "$addr" --operation get --requests 2000 --concurrency 64 --keys 100 --warmup 0s --progress never >/dev/null 2>&1
strace -c -f -p $srv -o "$out" & st=$!
sleep 1
./dist/prism-load $flag "$addr" --operation get --requests 5000 --concurrency "$concurrency" --keys 100 --warmup 0s --progress never 2>&1 | grep -o "[0-9]* ok, [0-9]* errors"
kill -INT $st
wait $st || true
