# shellcheck shell=bash
# NATS with JetStream on 127.0.0.1:4222 (monitoring on 127.0.0.1:8222).
# Binary: Debian's nats-server package; where Debian has none (or with
# PRISM_NATS_SOURCE=go), built by `go install` from the Go module proxy into
# $PRISM_CACHE. Sourced by up.sh / down.sh / status.sh after lib.sh.

NATS_PORT=4222
NATS_HTTP_PORT=8222
NATS_GO_VERSION="${PRISM_NATS_VERSION:-v2.15.2}"
NATS_GO_BIN="$PRISM_CACHE/nats-server-$NATS_GO_VERSION/bin/nats-server"

nats_dir() { printf '%s/nats\n' "$PRISM_DATA"; }

# nats_bin: path of the nats-server to run, installing one if needed.
nats_bin() {
  if [ "${PRISM_NATS_SOURCE:-apt}" = go ]; then
    nats_go_install
    printf '%s\n' "$NATS_GO_BIN"
    return 0
  fi
  if command -v nats-server >/dev/null; then command -v nats-server; return 0; fi
  if apt_has_candidate nats-server; then
    apt_install nats-server
    command -v nats-server
  else
    log "nats: Debian has no nats-server package; building it from the Go module proxy"
    nats_go_install
    printf '%s\n' "$NATS_GO_BIN"
  fi
}

nats_go_install() {
  [ -x "$NATS_GO_BIN" ] && return 0
  command -v go >/dev/null || die "nats: go is needed to build nats-server $NATS_GO_VERSION"
  log "nats: go install github.com/nats-io/nats-server/v2@$NATS_GO_VERSION (takes a minute or two)"
  GOBIN="$(dirname "$NATS_GO_BIN")" GOFLAGS=-mod=mod \
    go install "github.com/nats-io/nats-server/v2@$NATS_GO_VERSION" >&2 \
    || die "nats: go install of nats-server $NATS_GO_VERSION failed"
}

# nats_ping: a real protocol exchange: INFO (with JetStream on), CONNECT, PING -> PONG.
nats_ping() {
  # shellcheck disable=SC2016 # the inner script expands its own $1
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r info <&3 || exit 1
    [[ $info == INFO* && $info == *"\"jetstream\":true"* ]] || exit 1
    printf "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n" >&3
    while IFS= read -r line <&3; do
      case "$line" in PONG*) exit 0 ;; -ERR*) exit 1 ;; esac
    done
    exit 1' nats-ping "$NATS_PORT" 2>/dev/null
}

# nats_ready: protocol PING plus JetStream health from the monitoring port.
nats_ready() {
  nats_ping || return 1
  command -v curl >/dev/null || return 0
  curl -fsS -m 3 "http://127.0.0.1:$NATS_HTTP_PORT/healthz?js-enabled-only=true" >/dev/null
}

nats_up() {
  local dir pid bin
  dir="$(nats_dir)"
  mkdir -p "$dir/jetstream"
  bin="$(nats_bin)"
  if pid="$(read_pid "$dir/nats.pid" nats-server)"; then
    wait_until nats 30 "$pid" "$dir/nats.log" nats_ready || die "nats: pid $pid is not healthy"
    log "nats: already running (pid $pid, 127.0.0.1:$NATS_PORT)"
    return 0
  fi
  rm -f "$dir/nats.pid"
  if nats_ping; then
    log "nats: a NATS server not started by these scripts answers on 127.0.0.1:$NATS_PORT; using it as is"
    return 0
  fi
  port_open "$NATS_PORT" && die "nats: 127.0.0.1:$NATS_PORT is taken by something that is not NATS with JetStream"
  spawn "$dir/nats.pid" "$dir/nats.log" "$bin" -n prism-dev -a 127.0.0.1 -p "$NATS_PORT" \
    -m "$NATS_HTTP_PORT" -js -sd "$dir/jetstream"
  pid="$(cat "$dir/nats.pid")"
  wait_until nats 30 "$pid" "$dir/nats.log" nats_ready || die "nats: did not start"
  log "nats: ready on 127.0.0.1:$NATS_PORT with JetStream (pid $pid, $("$bin" --version 2>/dev/null || true))"
}

nats_down() { stop_pid nats "$(nats_dir)/nats.pid" nats-server 20; }

nats_status() {
  local pid
  if pid="$(read_pid "$(nats_dir)/nats.pid" nats-server)" && nats_ready; then
    printf '%-18s running  pid %-7s 127.0.0.1:%s (JetStream)\n' nats "$pid" "$NATS_PORT"
  elif nats_ping; then
    printf '%-18s running  (not ours) 127.0.0.1:%s\n' nats "$NATS_PORT"
  elif [ -n "${pid:-}" ]; then
    printf '%-18s UNHEALTHY pid %s does not answer on 127.0.0.1:%s\n' nats "$pid" "$NATS_PORT"
    return 1
  else
    printf '%-18s stopped\n' nats
    return 1
  fi
}

nats_wipe() { rm -rf "$(nats_dir)"; }
