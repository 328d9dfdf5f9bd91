#!/usr/bin/env bash
# Install (if needed) and start Prism's real backends on loopback; waits until
# each one really answers requests. Safe to run again: live services are kept.
#
# Usage: scripts/services/up.sh [redis|redis-cluster|nats|kafka|postgres|all]...   (default: all)
#   redis          127.0.0.1:6379
#   redis-cluster  127.0.0.1:7000-7002 (3 masters, no replicas)
#   nats           127.0.0.1:4222 with JetStream, monitoring on 127.0.0.1:8222
#   kafka          127.0.0.1:9092 (KRaft, controller on 127.0.0.1:9093)
#   postgres       127.0.0.1:5433, database prism, user prism, password prism (scram, TLS on)
# Environment: PRISM_DATA (data, pid files, logs; default <repo>/.services),
#   PRISM_CACHE (downloads; default ~/.cache/prism), PRISM_KAFKA_VERSION,
#   PRISM_NATS_SOURCE=go (build nats-server with go install instead of apt).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
. "$here/redis.sh"
. "$here/nats.sh"
. "$here/kafka.sh"
. "$here/postgres.sh"

expand_services "$@"
lock_services
for svc in "${SERVICES[@]}"; do
  started=$SECONDS
  "$(service_fn up "$svc")"
  log "$svc: up ($(( SECONDS - started ))s)"
done
