# shellcheck shell=bash
# A multi-node Prism topology on loopback (issue 24 item 5), beside the single-node services of make services:
#   redis   Redis Cluster, 3 masters + 3 replicas    127.0.0.1:7100-7105 (AOF everysec; node timeout 2 s)
#   nats    3 nodes, JetStream (streams R3)          clients 127.0.0.1:4301-4303, routes 6301-6303
#   kafka   3 brokers, KRaft (each also a voter)     127.0.0.1:9291/9293/9295, controllers 9292/9294/9296;
#           default replication factor 3, min.insync.replicas 2
#   proxy   3 proxies                                127.0.0.1:8991-8993, admin 127.0.0.1:9391-9393
#   postgres  the single server of make services (127.0.0.1:5433): a second one would only cost memory here
# Memory bounds for a 2-core, 24 GiB machine: Kafka heaps 384 MiB each, Redis maxmemory 256 MiB each, NATS
# JetStream 64 MiB memory / 1 GiB file each. Sourced by up.sh, down.sh and status.sh after scripts/services/lib.sh.

CLUSTER_DIR="$PRISM_DATA"
REDIS_NODES=(7100 7101 7102 7103 7104 7105)
NATS_NODES=(4301 4302 4303)
NATS_ROUTES=(6301 6302 6303)
KAFKA_NODES=(9291 9293 9295)
KAFKA_CONTROLLERS=(9292 9294 9296)
PROXY_PORTS=(8991 8992 8993)
PROXY_ADMIN=(9391 9392 9393)
CLUSTER_KAFKA_JVM_OPTS="${PRISM_CLUSTER_KAFKA_JVM_OPTS:--Xms128m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true}"

join_by() { local IFS="$1"; shift; printf '%s' "$*"; }
redis_seeds() { local p out=(); for p in "${REDIS_NODES[@]}"; do out+=("127.0.0.1:$p"); done; join_by , "${out[@]}"; }
nats_urls() { local p out=(); for p in "${NATS_NODES[@]}"; do out+=("nats://127.0.0.1:$p"); done; join_by , "${out[@]}"; }
kafka_brokers() { local p out=(); for p in "${KAFKA_NODES[@]}"; do out+=("127.0.0.1:$p"); done; join_by , "${out[@]}"; }
proxy_addresses() { local p out=(); for p in "${PROXY_PORTS[@]}"; do out+=("127.0.0.1:$p"); done; join_by , "${out[@]}"; }

# ---------------------------------------------------------------- Redis Cluster

cluster_redis_ping() { [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }
cluster_redis_ok() {
  local p
  for p in "${REDIS_NODES[@]}"; do
    timeout 3 redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$' || return 1
  done
}
cluster_redis_blank() {
  local p
  for p in "${REDIS_NODES[@]}"; do
    timeout 3 redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_known_nodes:1$' || return 1
  done
}

cluster_redis_node_up() {
  local port="$1" dir="$CLUSTER_DIR/redis/$1" pid
  mkdir -p "$dir"
  if pid="$(read_pid "$dir/redis.pid" redis-server)"; then return 0; fi
  port_open "$port" && die "redis:$port: 127.0.0.1:$port is taken"
  spawn "$dir/redis.pid" "$dir/redis.log" redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --appendonly yes --appendfsync everysec --maxmemory 256mb --save ''
  wait_until "redis:$port" 30 "$(cat "$dir/redis.pid")" "$dir/redis.log" cluster_redis_ping "$port" || die "redis:$port did not start"
}

cluster_redis_up() {
  local p seeds=()
  for p in "${REDIS_NODES[@]}"; do cluster_redis_node_up "$p"; seeds+=("127.0.0.1:$p"); done
  if ! cluster_redis_ok && cluster_redis_blank; then
    log "redis: creating the cluster (3 masters + 3 replicas) over ${seeds[*]}"
    timeout 60 redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >>"$CLUSTER_DIR/redis/create.log" 2>&1 \
      || die "redis-cli --cluster create failed; see $CLUSTER_DIR/redis/create.log"
  fi
  wait_until redis 60 "" "$CLUSTER_DIR/redis/create.log" cluster_redis_ok || die "redis: cluster_state is not ok"
  log "redis: cluster ok ($(redis_seeds))"
}

cluster_redis_down() {
  local p
  for p in "${REDIS_NODES[@]}"; do stop_pid "redis:$p" "$CLUSTER_DIR/redis/$p/redis.pid" redis-server 20; done
}

# ---------------------------------------------------------------- NATS

cluster_nats_ping() {
  # shellcheck disable=SC2016 # the inner script expands its own $1
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r info <&3 || exit 1
    [[ $info == INFO* && $info == *"\"jetstream\":true"* ]] || exit 1
    printf "CONNECT {\"verbose\":false}\r\nPING\r\n" >&3
    while IFS= read -r line <&3; do case "$line" in PONG*) exit 0 ;; -ERR*) exit 1 ;; esac; done
    exit 1' nats-ping "$1" 2>/dev/null
}
# JetStream has a meta leader once the three nodes have met.
cluster_nats_js_ok() { curl -fsS "http://127.0.0.1:$1/jsz" 2>/dev/null | grep -q '"leader"'; }

cluster_nats_up() {
  local i port dir routes pid
  for i in 0 1 2; do
    port="${NATS_NODES[$i]}" dir="$CLUSTER_DIR/nats/n$((i + 1))"
    mkdir -p "$dir/js"
    if pid="$(read_pid "$dir/nats.pid" nats-server)"; then continue; fi
    port_open "$port" && die "nats:$port: 127.0.0.1:$port is taken"
    routes=""
    for r in "${NATS_ROUTES[@]}"; do [ "$r" = "${NATS_ROUTES[$i]}" ] || routes+="nats-route://127.0.0.1:$r, "; done
    cat >"$dir/nats.conf" <<CONF
# Generated by scripts/cluster/cluster.sh on every start.
server_name: prism-n$((i + 1))
listen: 127.0.0.1:$port
http: 127.0.0.1:$((port + 100))
max_payload: 2MB
jetstream { store_dir: "$dir/js", max_memory_store: 64MB, max_file_store: 1GB }
cluster { name: prism-cluster, listen: 127.0.0.1:${NATS_ROUTES[$i]}, routes: [${routes%, }] }
CONF
    spawn "$dir/nats.pid" "$dir/nats.log" nats-server -c "$dir/nats.conf"
  done
  for i in 0 1 2; do
    port="${NATS_NODES[$i]}" dir="$CLUSTER_DIR/nats/n$((i + 1))"
    wait_until "nats:$port" 30 "$(cat "$dir/nats.pid")" "$dir/nats.log" cluster_nats_ping "$port" || die "nats:$port did not start"
  done
  wait_until nats 60 "" "$CLUSTER_DIR/nats/n1/nats.log" cluster_nats_js_ok "$((NATS_NODES[0] + 100))" || die "nats: no JetStream meta leader"
  log "nats: 3 nodes, JetStream leader elected ($(nats_urls))"
}

cluster_nats_down() {
  local i
  for i in 1 2 3; do stop_pid "nats:n$i" "$CLUSTER_DIR/nats/n$i/nats.pid" nats-server 20; done
}

# ---------------------------------------------------------------- Kafka

cluster_kafka_ready() {
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kafka_brokers)" \
    --list --command-config "$SERVICES_DIR/kafka/admin.properties" >/dev/null 2>&1
}

cluster_kafka_up() {
  local i port dir voters="" id pid cluster_id
  kafka_fetch_jars
  for i in 0 1 2; do voters+="$((i + 1))@127.0.0.1:${KAFKA_CONTROLLERS[$i]},"; done
  voters="${voters%,}"
  mkdir -p "$CLUSTER_DIR/kafka"
  [ -f "$CLUSTER_DIR/kafka/cluster.id" ] || kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$CLUSTER_DIR/kafka/cluster.id"
  cluster_id="$(cat "$CLUSTER_DIR/kafka/cluster.id")"
  for i in 0 1 2; do
    id=$((i + 1)) port="${KAFKA_NODES[$i]}" dir="$CLUSTER_DIR/kafka/b$id"
    mkdir -p "$dir/data" "$dir/logs"
    if pid="$(read_pid "$dir/kafka.pid" kafka.Kafka)"; then continue; fi
    port_open "$port" && die "kafka:$port: 127.0.0.1:$port is taken"
    cat >"$dir/server.properties" <<PROPS
# Generated by scripts/cluster/cluster.sh on every start.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:${KAFKA_CONTROLLERS[$i]}
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
PROPS
    [ -f "$dir/data/meta.properties" ] || kafka_java kafka.tools.StorageTool format --ignore-formatted --cluster-id="$cluster_id" \
      -c "$dir/server.properties" >>"$dir/kafka.log" 2>&1 || die "kafka:b$id: storage format failed (see $dir/kafka.log)"
    # shellcheck disable=SC2086 # a list of words on purpose
    spawn "$dir/kafka.pid" "$dir/kafka.log" java $CLUSTER_KAFKA_JVM_OPTS \
      -Dlog4j.configuration="file:$SERVICES_DIR/kafka/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
  done
  wait_until kafka 180 "$(cat "$CLUSTER_DIR/kafka/b1/kafka.pid")" "$CLUSTER_DIR/kafka/b1/kafka.log" cluster_kafka_ready || die "kafka: brokers did not answer"
  log "kafka: 3 brokers ready ($(kafka_brokers))"
}

cluster_kafka_down() {
  local i
  for i in 1 2 3; do stop_pid "kafka:b$i" "$CLUSTER_DIR/kafka/b$i/kafka.pid" kafka.Kafka 45; done
}

# ---------------------------------------------------------------- proxies

# The namespaces every proxy serves: the same file for all three (proxies share nothing).
cluster_proxy_config() {
  local i="$1"
  cat <<YAML
# Generated by scripts/cluster/cluster.sh on every start.
listen: 127.0.0.1:${PROXY_PORTS[$i]}
admin: { port: ${PROXY_ADMIN[$i]} }
patterns_dir: $REPO_ROOT/dist
namespaces:
  - name: kv
    pattern: redis
    replicas: 2
    # Redis Cluster replicates asynchronously (the pattern refuses WAIT in cluster mode): a failover may lose the
    # writes of its last moments; the chaos run counts them.
    config: { cluster: [$(redis_seeds)] }
    settings: { health_interval: 1s, restart_initial_delay: 100ms, restart_max_delay: 2s }
  - name: registry
    pattern: multicast-registry
    replicas: 2
    slots:
      registry: { driver: redis, config: { cluster: [$(redis_seeds)] } }
      messaging: { driver: nats, config: { url: "$(nats_urls)" } }
    settings: { health_interval: 1s, restart_initial_delay: 100ms, restart_max_delay: 2s }
  - name: events
    pattern: nats
    replicas: 2
    config: { url: "$(nats_urls)", jetstream: { replicas: 3 } }
    settings: { health_interval: 1s, restart_initial_delay: 100ms, restart_max_delay: 2s }
  - name: log
    pattern: kafka
    replicas: 2
    config: { brokers: [$(kafka_brokers)], replication_factor: 3 }
    settings: { health_interval: 1s, restart_initial_delay: 100ms, restart_max_delay: 2s }
  - name: tables
    pattern: postgres
    config: { host: 127.0.0.1, port: 5433, database: prism, user: prism, password: prism }
    settings: { health_interval: 1s, restart_initial_delay: 100ms, restart_max_delay: 2s }
YAML
}

# Every namespace ready (plain /ready says only that the proxy can route, which it can while its patterns start).
cluster_proxy_ready() {
  local ns
  for ns in kv registry events log tables; do curl -fsS "http://127.0.0.1:$1/ready?namespace=$ns" >/dev/null 2>&1 || return 1; done
}

cluster_proxies_up() {
  local i dir pid
  for i in 0 1 2; do
    dir="$CLUSTER_DIR/proxy/p$((i + 1))"
    mkdir -p "$dir"
    cluster_proxy_config "$i" >"$dir/proxy.yaml"
    if pid="$(read_pid "$dir/proxy.pid" dist/proxy)"; then continue; fi
    port_open "${PROXY_PORTS[$i]}" && die "proxy:${PROXY_PORTS[$i]}: 127.0.0.1:${PROXY_PORTS[$i]} is taken"
    spawn "$dir/proxy.pid" "$dir/proxy.log" "$REPO_ROOT/dist/proxy" --config "$dir/proxy.yaml"
  done
  for i in 0 1 2; do
    dir="$CLUSTER_DIR/proxy/p$((i + 1))"
    wait_until "proxy:${PROXY_PORTS[$i]}" 90 "$(cat "$dir/proxy.pid")" "$dir/proxy.log" cluster_proxy_ready "${PROXY_ADMIN[$i]}" \
      || die "proxy:${PROXY_PORTS[$i]} is not ready"
  done
  log "proxies: ready on $(proxy_addresses) (admin 127.0.0.1:${PROXY_ADMIN[0]}-${PROXY_ADMIN[2]})"
}

# A proxy's SIGTERM drains and stops the patterns it launched.
cluster_proxies_down() {
  local i
  for i in 1 2 3; do stop_pid "proxy:p$i" "$CLUSTER_DIR/proxy/p$i/proxy.pid" dist/proxy 30; done
}
