#!/usr/bin/env bash
# make docker-engine: a Docker engine that answers on /var/run/docker.sock, or a clear reason why there is none.
#   scripts/docker-engine.sh [up|down|status]        (default up)
# up: nothing to do when an engine already answers (Docker Desktop, a system service, ...). Otherwise, as root
# on Debian, installs Debian's docker.io when dockerd is missing and starts
#   dockerd --storage-driver=vfs --iptables=false --bridge=none
# in the background (its own session, like the backends of scripts/services/), pid and log in
# $PRISM_DATA/docker/. vfs needs no overlay support from the kernel; without iptables and a bridge, containers
# run with --network host, which is how the Prism container suites run them.
# Exit 0 when an engine answers at the end, 1 (with the reason on stderr) when it cannot.
set -euo pipefail
# shellcheck source=services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

DIR="$PRISM_DATA/docker"
PIDFILE="$DIR/dockerd.pid"
LOGFILE="$DIR/dockerd.log"
START_TIMEOUT_S="${PRISM_DOCKER_START_TIMEOUT:-90}"

say() { printf '[docker-engine] %s\n' "$*" >&2; }
cannot() { say "no Docker engine: $*"; exit 1; }

engine_answers() { command -v docker >/dev/null && timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }
engine_version() { timeout 10 docker info --format '{{.ServerVersion}} (storage {{.Driver}})' 2>/dev/null; }

up() {
  if engine_answers; then
    say "an engine answers: Docker $(engine_version)"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || cannot "none answers and starting one needs root (this is uid $(id -u)); start Docker yourself (Docker Desktop, systemctl start docker) and rerun"
  [ "$(uname -s)" = Linux ] || cannot "none answers, and this script only starts one on Linux"
  if ! command -v dockerd >/dev/null; then
    command -v apt-get >/dev/null || cannot "dockerd is not installed and there is no apt-get to install Debian's docker.io here"
    apt_has_candidate docker.io || cannot "dockerd is not installed and apt offers no docker.io package"
    apt_install docker.io
    command -v dockerd >/dev/null || cannot "docker.io is installed but dockerd is not on PATH"
  fi
  command -v docker >/dev/null || cannot "dockerd is installed but the docker client is not"
  lock_services
  mkdir -p "$DIR"
  if pid="$(read_pid "$PIDFILE" dockerd)"; then
    say "dockerd pid $pid (started earlier) is not answering yet; waiting"
  else
    say "starting dockerd --storage-driver=vfs --iptables=false --bridge=none (log $LOGFILE)"
    spawn "$PIDFILE" "$LOGFILE" dockerd --storage-driver=vfs --iptables=false --bridge=none
    pid="$(cat "$PIDFILE")"
  fi
  if ! wait_until dockerd "$START_TIMEOUT_S" "$pid" "$LOGFILE" engine_answers; then
    cannot "dockerd did not answer within ${START_TIMEOUT_S}s (last lines of $LOGFILE above; a container without the privileges to run containers cannot host an engine)"
  fi
  say "engine up: Docker $(engine_version), pid $pid"
}

down() {
  lock_services
  stop_pid dockerd "$PIDFILE" dockerd 30
}

status() {
  if engine_answers; then
    say "answers: Docker $(engine_version)$(pid="$(read_pid "$PIDFILE" dockerd)" && printf ', started by this script, pid %s' "$pid")"
  else
    say "no engine answers"
    return 1
  fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 [up|down|status]" ;;
esac
