#!/usr/bin/env bash
# shellcheck disable=SC2317 # the *_smoke functions are called by name
# End-to-end check of running services: a write and a read-back on each.
#   redis          SET then GET
#   redis-cluster  SET through one node, GET through another (follows MOVED)
#   nats           core PUB/SUB round trip and a JetStream API request
#   kafka          create a topic, produce one record, consume it back, delete the topic
#   postgres       over TLS (verify-full): create a table, insert, select, drop
#
# Usage: scripts/services/smoke.sh [redis|redis-cluster|nats|kafka|postgres|all]...   (default: all)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
. "$here/redis.sh"
. "$here/nats.sh"
. "$here/kafka.sh"
. "$here/postgres.sh"

token="smoke-$$-$(date +%s%N)"

redis_smoke() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" set prism:smoke "$token" EX 60 >/dev/null
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" get prism:smoke)" = "$token" ]
}

redis_cluster_smoke() {
  local a="${REDIS_CLUSTER_PORTS[0]}" b="${REDIS_CLUSTER_PORTS[2]}" key
  for key in "{a}prism:smoke" "{b}prism:smoke" "{c}prism:smoke"; do # spread over slots
    redis-cli -c -h 127.0.0.1 -p "$a" set "$key" "$token" EX 60 >/dev/null
    [ "$(redis-cli -c -h 127.0.0.1 -p "$b" get "$key")" = "$token" ] || return 1
  done
}

# nats_smoke: core PUB/SUB to ourselves, then $JS.API.INFO answered to an inbox
nats_smoke() {
  # shellcheck disable=SC2016 # the inner script expands its own $1..$3
  timeout 10 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    IFS= read -r _ <&3
    printf "CONNECT {\"verbose\":false}\r\nSUB prism.smoke 1\r\nSUB _INBOX.%s 2\r\n" "$3" >&3
    printf "PUB prism.smoke %d\r\n%s\r\n" "${#2}" "$2" >&3
    printf "PUB \$JS.API.INFO _INBOX.%s 0\r\n\r\nPING\r\n" "$3" >&3
    got_core=0 got_js=0
    while IFS= read -r line <&3; do
      line="${line%$'\''\r'\''}"
      case "$line" in
        "MSG prism.smoke 1 "*) IFS= read -r body <&3; [ "${body%$'\''\r'\''}" = "$2" ] && got_core=1 ;;
        "MSG _INBOX."*) IFS= read -r body <&3
          case "$body" in *account_info_response*) got_js=1 ;; *) echo "JetStream said: $body" >&2; exit 1 ;; esac ;;
        -ERR*) echo "$line" >&2; exit 1 ;;
      esac
      [ "$got_core$got_js" = 11 ] && exit 0
    done
    exit 1' nats-smoke "$NATS_PORT" "$token" "$$"
}

kafka_smoke() {
  local topic="prism-smoke-$$" got
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --create --if-not-exists --topic "$topic" --partitions 1 --replication-factor 1 >/dev/null
  printf '%s\n' "$token" | kafka_java kafka.tools.ConsoleProducer \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --topic "$topic" >/dev/null
  got="$(kafka_java org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --topic "$topic" \
    --from-beginning --max-messages 1 --timeout-ms 30000 2>/dev/null)"
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --delete --topic "$topic" >/dev/null
  [ "$got" = "$token" ]
}

# postgres_smoke: as the project role, over TLS: create a table, write a row, read it back, drop it.
postgres_smoke() {
  local table="prism_smoke_$$"
  PG_BIN="$(pg_bindir)"
  [ "$(PGSSLMODE=verify-full PGSSLROOTCERT="$(pg_dir)/tls/ca.crt" pg_psql "$PG_USER" "$PG_PASSWORD" "$PG_DB" \
    "create table $table (v text); insert into $table values ('$token'); select v from $table; drop table $table")" = "$token" ]
}

expand_services "$@"
rc=0
for svc in "${SERVICES[@]}"; do
  started=$SECONDS
  if "$(service_fn smoke "$svc")"; then
    log "$svc: smoke OK ($(( SECONDS - started ))s)"
  else
    log "$svc: smoke FAILED"
    rc=1
  fi
done
exit "$rc"
