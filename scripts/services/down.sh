#!/usr/bin/env bash
# Stop services started by up.sh, by the pid each one recorded: SIGTERM, then
# SIGKILL if it is still alive after a bound (20 s, 45 s for Kafka).
#
# Usage: scripts/services/down.sh [--wipe] [redis|redis-cluster|nats|kafka|postgres|all]...   (default: all)
#   --wipe  also delete the services' data folders under $PRISM_DATA
#           (a fresh Kafka cluster id, an empty Redis, a new Redis Cluster).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
. "$here/redis.sh"
. "$here/nats.sh"
. "$here/kafka.sh"
. "$here/postgres.sh"

wipe=0
if [ "${1:-}" = --wipe ]; then wipe=1; shift; fi
expand_services "$@"
lock_services
# Reverse start order: Kafka first, Redis last.
for (( i = ${#SERVICES[@]} - 1; i >= 0; i-- )); do
  svc="${SERVICES[$i]}"
  "$(service_fn down "$svc")"
  if [ "$wipe" -eq 1 ]; then
    "$(service_fn wipe "$svc")"
    log "$svc: data wiped"
  fi
done
