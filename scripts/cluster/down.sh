#!/usr/bin/env bash
# make cluster-down: stops what scripts/cluster/up.sh started, by the pids it recorded (proxies first, so their
# patterns drain while the backends are still there). --wipe also removes the data directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PRISM_DATA="${PRISM_CLUSTER_DATA:-$(cd "$here/../.." && pwd)/.cluster}"
. "$here/../services/lib.sh"
. "$here/../services/kafka.sh"
. "$here/cluster.sh"

lock_services
cluster_proxies_down
cluster_kafka_down
cluster_nats_down
cluster_redis_down
if [ "${1:-}" = --wipe ]; then
  find "$PRISM_DATA" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  log "cluster: data removed"
fi
