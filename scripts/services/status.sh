#!/usr/bin/env bash
# One line per service: running (with pid and address), stopped or UNHEALTHY.
# Exit status 0 when every listed service answers requests, 1 otherwise.
#
# Usage: scripts/services/status.sh [redis|redis-cluster|nats|kafka|postgres|all]...   (default: all)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
. "$here/redis.sh"
. "$here/nats.sh"
. "$here/kafka.sh"
. "$here/postgres.sh"

expand_services "$@"
rc=0
for svc in "${SERVICES[@]}"; do
  "$(service_fn status "$svc")" || rc=1
done
exit "$rc"
