# shellcheck shell=bash
# Redis (127.0.0.1:6379) and a 3-node Redis Cluster (127.0.0.1:7000-7002),
# from Debian's redis-server package, started by hand (not by systemd).
# Sourced by up.sh / down.sh / status.sh after lib.sh.

REDIS_PORT=6379
REDIS_CLUSTER_PORTS=(7000 7001 7002)

redis_ensure_installed() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return 0; fi
  apt_install redis-server # brings redis-tools (redis-cli) along
}

redis_ping() { [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# redis_start_node NAME DIR PORT [EXTRA_ARGS...]: idempotent start of one server.
redis_start_node() {
  local name="$1" dir="$2" port="$3" pid
  shift 3
  local pidfile="$dir/redis.pid" logfile="$dir/redis.log"
  mkdir -p "$dir"
  if pid="$(read_pid "$pidfile" redis-server)"; then
    wait_until "$name" 30 "$pid" "$logfile" redis_ping "$port" || die "$name: pid $pid does not answer PING"
    log "$name: already running (pid $pid, 127.0.0.1:$port)"
    return 0
  fi
  rm -f "$pidfile"
  if redis_ping "$port"; then
    log "$name: a Redis not started by these scripts answers on 127.0.0.1:$port; using it as is"
    return 0
  fi
  port_open "$port" && die "$name: 127.0.0.1:$port is taken by something that is not Redis"
  spawn "$pidfile" "$logfile" redis-server --bind 127.0.0.1 --port "$port" \
    --dir "$dir" --daemonize no "$@"
  pid="$(cat "$pidfile")"
  wait_until "$name" 30 "$pid" "$logfile" redis_ping "$port" || die "$name: did not start"
  log "$name: ready on 127.0.0.1:$port (pid $pid)"
}

redis_node_status() {
  local name="$1" dir="$2" port="$3" pid
  if pid="$(read_pid "$dir/redis.pid" redis-server)" && redis_ping "$port"; then
    printf '%-18s running  pid %-7s 127.0.0.1:%s\n' "$name" "$pid" "$port"
  elif redis_ping "$port"; then
    printf '%-18s running  (not ours) 127.0.0.1:%s\n' "$name" "$port"
  elif [ -n "${pid:-}" ]; then
    printf '%-18s UNHEALTHY pid %s does not answer on 127.0.0.1:%s\n' "$name" "$pid" "$port"
    return 1
  else
    printf '%-18s stopped\n' "$name"
    return 1
  fi
}

# ------------------------------------------------------------ single node

# Durable by default: an append-only file fsynced every second (at most about one second of acknowledged
# writes lost on a crash or kill -9; without it, everything since the last snapshot was).
REDIS_DURABILITY=(--appendonly yes --appendfsync everysec)

redis_up() {
  redis_ensure_installed
  redis_start_node redis "$PRISM_DATA/redis" "$REDIS_PORT" "${REDIS_DURABILITY[@]}"
}

redis_down() { stop_pid redis "$PRISM_DATA/redis/redis.pid" redis-server 20; }

redis_status() { redis_node_status redis "$PRISM_DATA/redis" "$REDIS_PORT"; }

# ------------------------------------------------------------ cluster

redis_cluster_dir() { printf '%s/redis-cluster/%s\n' "$PRISM_DATA" "$1"; }

redis_cluster_info() { timeout 3 redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r'; }

redis_cluster_ok() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis_cluster_info "$port" | grep -q '^cluster_state:ok$' || return 1
  done
}

# True while no node has joined another or owns a slot: a brand-new cluster.
redis_cluster_blank() {
  local port info
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    info="$(redis_cluster_info "$port")"
    grep -q '^cluster_known_nodes:1$' <<<"$info" || return 1
    grep -q '^cluster_slots_assigned:0$' <<<"$info" || return 1
  done
}

redis_cluster_up() {
  local port seeds=() first
  redis_ensure_installed
  first="${REDIS_CLUSTER_PORTS[0]}"
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    # No RDB/AOF: cluster tests want speed; the slot layout survives in nodes.conf.
    redis_start_node "redis-cluster:$port" "$(redis_cluster_dir "$port")" "$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --save '' --appendonly no
    seeds+=("127.0.0.1:$port")
  done
  if redis_cluster_ok; then
    log "redis-cluster: cluster_state:ok (${seeds[*]})"
    return 0
  fi
  if redis_cluster_blank; then
    log "redis-cluster: creating the cluster over ${seeds[*]}"
    timeout 60 redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes \
      >>"$(redis_cluster_dir "$first")/cluster-create.log" 2>&1 \
      || die "redis-cli --cluster create failed; see $(redis_cluster_dir "$first")/cluster-create.log"
  fi
  # After a restart the nodes find each other again from nodes.conf.
  wait_until redis-cluster 30 "" "$(redis_cluster_dir "$first")/redis.log" redis_cluster_ok \
    || die "redis-cluster: cluster_state is not ok (reset it with: down.sh --wipe redis-cluster)"
  log "redis-cluster: cluster_state:ok (${seeds[*]})"
}

redis_cluster_down() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    stop_pid "redis-cluster:$port" "$(redis_cluster_dir "$port")/redis.pid" redis-server 20
  done
}

redis_cluster_status() {
  local port rc=0
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis_node_status "redis-cluster:$port" "$(redis_cluster_dir "$port")" "$port" || rc=1
  done
  if [ "$rc" -eq 0 ] && ! redis_cluster_ok; then
    printf '%-18s UNHEALTHY cluster_state is not ok\n' redis-cluster
    rc=1
  fi
  return "$rc"
}

redis_wipe() { rm -rf "$PRISM_DATA/redis"; }
redis_cluster_wipe() { rm -rf "$PRISM_DATA/redis-cluster"; }
