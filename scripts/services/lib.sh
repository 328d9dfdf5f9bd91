# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Sourced, never run directly.
#
# Layout (both roots can be overridden from the environment):
#   $PRISM_DATA  (default <repo>/.services)   one folder per service: data, pid file, log
#   $PRISM_CACHE (default ~/.cache/prism)     downloaded artifacts (Kafka jars, Go-built nats-server)

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_DIR/../.." && pwd)"
PRISM_DATA="${PRISM_DATA:-$REPO_ROOT/.services}"
PRISM_CACHE="${PRISM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prism}"

# Every service the scripts know, in start order ("all" expands to this list).
ALL_SERVICES=(redis redis-cluster nats kafka postgres)

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

now_s() { date +%s; }

# ---------------------------------------------------------------- packages

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

_APT_UPDATED=0
apt_update_once() {
  [ "$_APT_UPDATED" -eq 1 ] && return 0
  log "apt-get update"
  as_root apt-get update -qq >/dev/null || die "apt-get update failed"
  _APT_UPDATED=1
}

# apt_install PKG...: quiet install; prints apt's output only when it fails.
apt_install() {
  apt_update_once
  local out
  out="$(mktemp)"
  log "apt-get install $*"
  # policy-rc.d aside, Debian's postinst may start the packaged service on its
  # default port; the pid/port checks in up.sh cope with a foreign server.
  if ! as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "apt-get install $* failed"
  fi
  rm -f "$out"
}

# apt_has_candidate PKG: true when Debian's lists offer a version of PKG.
apt_has_candidate() {
  apt_update_once
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

# ---------------------------------------------------------------- processes

# pid_alive PID: the process exists and is not a zombie. A server we started
# is reparented to init once up.sh exits, and init may take a second or two to
# reap it: kill -0 alone would report a dead server as alive until then.
pid_alive() {
  local stat
  [ -n "${1:-}" ] || return 1
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # skip "pid (comm) ", comm may hold spaces
  [ -n "$stat" ] && [ "${stat%% *}" != Z ]
}

# read_pid FILE: prints the recorded pid when that process is alive AND its
# command line still contains MATCH (guards against a recycled pid).
read_pid() {
  local file="$1" match="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$match" || return 1
  printf '%s\n' "$pid"
}

# spawn PIDFILE LOGFILE CMD...: start CMD in the background in its own session
# (setsid), so that a Ctrl-C or a test runner killing its process group does
# not take the server down with it. Scripts run without job control, so the
# background child is not a group leader and setsid execs in place: $! is the
# server's own pid. fd 9 (the lock of up.sh/down.sh) is closed so the server
# does not hold that lock for its whole life.
spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  # Logs are appended across restarts; keep one previous generation past 10 MB.
  if [ -f "$logfile" ] && [ "$(stat -c %s "$logfile")" -gt 10485760 ]; then
    mv -f "$logfile" "$logfile.1"
  fi
  printf -- '---- %s start: %s\n' "$(date -Is)" "$*" >>"$logfile"
  setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  printf '%s\n' "$!" >"$pidfile"
}

# stop_pid NAME PIDFILE MATCH [GRACE_S]: SIGTERM the recorded pid, wait up to
# GRACE_S seconds, then SIGKILL. Never looks a process up by name.
stop_pid() {
  local name="$1" pidfile="$2" match="$3" grace="${4:-20}" pid deadline
  if ! pid="$(read_pid "$pidfile" "$match")"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(now_s) + grace ))
  while pid_alive "$pid" && [ "$(now_s)" -lt "$deadline" ]; do sleep 0.2; done
  if pid_alive "$pid"; then
    log "$name: still alive after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# ---------------------------------------------------------------- network

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_until NAME TIMEOUT_S PID LOGFILE CHECK...: poll CHECK until it succeeds.
# Fails fast if PID dies, and on failure shows the tail of LOGFILE.
wait_until() {
  local name="$1" limit="$2" pid="$3" logfile="$4" deadline
  shift 4
  deadline=$(( $(now_s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! pid_alive "$pid"; then
      log "$name: process $pid exited during startup; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    if [ "$(now_s)" -ge "$deadline" ]; then
      log "$name: not ready after ${limit}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# lock_services: one up.sh/down.sh at a time (tests may restart services
# concurrently); released when the script exits.
lock_services() {
  mkdir -p "$PRISM_DATA"
  exec 9>"$PRISM_DATA/.lock"
  flock -w 300 9 || die "another up.sh/down.sh has held $PRISM_DATA/.lock for 5 minutes"
}

# ---------------------------------------------------------------- arguments

# expand_services ARG...: sets SERVICES to the named services, validated;
# "all" (or no argument) means every service. Runs in the calling shell so
# that die() really ends the script.
expand_services() {
  local arg s
  SERVICES=()
  if [ "$#" -eq 0 ]; then set -- all; fi
  for arg in "$@"; do
    if [ "$arg" = all ]; then
      SERVICES+=("${ALL_SERVICES[@]}")
      continue
    fi
    for s in "${ALL_SERVICES[@]}"; do
      if [ "$s" = "$arg" ]; then SERVICES+=("$arg"); continue 2; fi
    done
    die "unknown service '$arg' (expected: ${ALL_SERVICES[*]} or all)"
  done
}

# service_fn ACTION SERVICE: name of the function implementing ACTION.
service_fn() { printf '%s_%s\n' "${2//-/_}" "$1"; }
