#!/usr/bin/env bash
# make cluster: starts the multi-node topology of scripts/cluster/cluster.sh on loopback and waits until every
# part answers (Redis cluster_state ok, a JetStream leader, a Kafka metadata round trip, every proxy /ready).
# Safe to run again: running parts are kept. Stop with make cluster-down (scripts/cluster/down.sh [--wipe]).
# Environment: PRISM_CLUSTER_DATA (default <repo>/.cluster), PRISM_CACHE (Kafka jars, shared with make services).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PRISM_DATA="${PRISM_CLUSTER_DATA:-$(cd "$here/../.." && pwd)/.cluster}"
. "$here/../services/lib.sh"
. "$here/../services/kafka.sh"
. "$here/cluster.sh"

for exe in proxy redis multicast-registry nats kafka postgres; do
  [ -x "$REPO_ROOT/dist/$exe" ] || die "dist/$exe is missing: make -o node_modules/.installed build-plugins"
done
command -v redis-server >/dev/null || apt_install redis-server
command -v nats-server >/dev/null || apt_install nats-server
lock_services
started=$SECONDS
cluster_redis_up
cluster_nats_up
cluster_kafka_up
cluster_proxies_up
log "cluster: up in $(( SECONDS - started ))s — clients: $(proxy_addresses); data and logs in $CLUSTER_DIR"
