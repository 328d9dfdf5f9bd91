# shellcheck shell=bash
# PostgreSQL on 127.0.0.1:5433 (not 5432, where Debian's own cluster "main" starts when the package is
# installed), from the machine's PostgreSQL binaries or Debian's `postgresql` package, initdb'd into
# $PRISM_DATA/postgres/data. Password authentication only (scram-sha-256, no Unix socket), a project role
# and database (prism / prism, password prism), TLS on with a CA and server certificate made here
# (tls/ca.crt, tls/server.crt for localhost and 127.0.0.1) so clients can test require and verify-full.
# PostgreSQL refuses to run as root: as root, the server runs as the system user `postgres` (the package's)
# or, when there is none, as a system user `prism-pg` created here.
# Sourced by up.sh / down.sh / status.sh after lib.sh.

PG_PORT="${PRISM_POSTGRES_PORT:-5433}"
PG_DB=prism
PG_USER=prism
PG_PASSWORD=prism
PG_SUPERUSER=postgres

# Durable by default: every commit is acknowledged only once its WAL is flushed (synchronous_commit=on, fsync=on),
# so a crash or kill -9 loses no acknowledged write (with synchronous_commit=off, kill -9 lost 9 of 3,971 in the
# hostile re-test of issue 18).
PG_DURABILITY=(-c synchronous_commit=on -c fsync=on)
# Logical decoding for the CDC pattern (pgoutput, permanent slots); a running server without it is restarted.
PG_REPLICATION=(-c wal_level=logical -c max_replication_slots=32 -c max_wal_senders=32 -c max_slot_wal_keep_size=1GB)

pg_dir() { printf '%s/postgres\n' "$PRISM_DATA"; }

# pg_bindir: the folder with initdb, postgres and pg_ctl (PRISM_PG_BINDIR, the ones on PATH, the newest under
# /usr/lib/postgresql), installing Debian's package when there is none.
pg_bindir() {
  local d
  for d in "${PRISM_PG_BINDIR:-}" \
    "$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || echo /nonexistent)")")" \
    "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_isready" ]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  apt_install postgresql >&2
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] || die "postgres: no initdb after installing Debian's postgresql package"
  printf '%s\n' "$d"
}

# pg_run_user: sets PG_OS_USER/PG_UID/PG_GID, the account the server runs as (root: a dedicated system user).
pg_run_user() {
  if [ "$(id -u)" -ne 0 ]; then
    PG_OS_USER="$(id -un)"
  elif getent passwd postgres >/dev/null; then
    PG_OS_USER=postgres
  else
    if ! getent passwd prism-pg >/dev/null; then
      log "postgres: creating system user prism-pg (PostgreSQL does not run as root)"
      useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin prism-pg \
        || die "postgres: useradd prism-pg failed"
    fi
    PG_OS_USER=prism-pg
  fi
  PG_UID="$(id -u "$PG_OS_USER")"
  PG_GID="$(id -g "$PG_OS_USER")"
  pg_as_prefix
}

# pg_as_prefix: sets PG_AS, the command prefix that runs a program as the server's account (setpriv execs in
# place, so a spawned server's pid is the server's own).
pg_as_prefix() {
  PG_AS=()
  if [ "$(id -u)" -eq 0 ] && [ "$PG_UID" -ne 0 ]; then
    PG_AS=(setpriv --reuid="$PG_UID" --regid="$PG_GID" --clear-groups --)
  fi
}

as_pg() { "${PG_AS[@]}" "$@"; }

# pg_datadir: where the cluster lives. $PRISM_DATA/postgres/data when the server's account can reach it;
# otherwise (a checkout under /root, mode 700) a folder of its own under /var/lib/prism, named after PRISM_DATA.
pg_datadir() {
  local dir want
  dir="$(pg_dir)"
  want="$dir/data"
  mkdir -p "$want"
  [ "$(id -u)" -eq 0 ] && chown "$PG_UID:$PG_GID" "$want" && chmod 700 "$want"
  if as_pg test -w "$want" -a -x "$want"; then
    printf '%s\n' "$want"
    return 0
  fi
  want="/var/lib/prism/postgres-$(printf '%s' "$PRISM_DATA" | sha1sum | cut -c1-12)"
  mkdir -p "$want"
  chown "$PG_UID:$PG_GID" "$want"
  chmod 700 "$want"
  printf '%s\n' "$want"
}

pg_psql() { # pg_psql USER PASSWORD DB SQL: one statement, unaligned tuples only.
  PGPASSWORD="$2" PGCONNECT_TIMEOUT=3 timeout 10 "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$1" -d "$3" \
    -v ON_ERROR_STOP=1 -tAc "$4" 2>/dev/null
}

# pg_ready: accepts connections and the project role logs in to the project database.
pg_ready() { [ "$(pg_psql "$PG_USER" "$PG_PASSWORD" "$PG_DB" 'select 1')" = 1 ]; }
pg_durable() { [ "$(pg_psql "$PG_USER" "$PG_PASSWORD" "$PG_DB" "select current_setting('synchronous_commit') || ',' || current_setting('fsync') || ',' || current_setting('wal_level')")" = on,on,logical ]; }
pg_accepting() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3; }

# pg_tls DIR: a CA and a server certificate signed by it (localhost, 127.0.0.1), made once.
pg_tls() {
  local t="$1/tls"
  [ -f "$t/server.key" ] && [ -f "$t/server.crt" ] && [ -f "$t/ca.crt" ] && return 0
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$t"
  (
    cd "$t" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Prism test CA" \
      -keyout ca.key -out ca.crt >/dev/null 2>&1 &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr >/dev/null 2>&1 &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile server.ext -out server.crt >/dev/null 2>&1
  ) || die "postgres: openssl could not make the TLS certificates in $t"
  rm -f "$t/server.csr" "$t/server.ext" "$t/ca.srl"
  chmod 644 "$t/ca.crt" "$t/server.crt"
  chmod 600 "$t/server.key" "$t/ca.key"
}

# pg_initdb DATADIR: a new cluster with a random superuser password kept in the service folder.
pg_initdb() {
  local data="$1" dir pwfile
  dir="$(pg_dir)"
  [ -f "$data/PG_VERSION" ] && return 0
  log "postgres: initdb $data (as $PG_OS_USER)"
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/superuser.password"
  chmod 600 "$dir/superuser.password"
  pwfile="$(mktemp)"
  cp "$dir/superuser.password" "$pwfile"
  [ "$(id -u)" -eq 0 ] && chown "$PG_UID:$PG_GID" "$pwfile"
  if ! as_pg "$PG_BIN/initdb" -D "$data" --username="$PG_SUPERUSER" --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >>"$dir/postgres.log" 2>&1; then
    rm -f "$pwfile"
    tail -n 30 "$dir/postgres.log" >&2
    die "postgres: initdb failed"
  fi
  rm -f "$pwfile"
}

# pg_bootstrap: the project role and database (idempotent).
pg_bootstrap() {
  local su
  su="$(cat "$(pg_dir)/superuser.password")"
  if [ "$(pg_psql "$PG_SUPERUSER" "$su" postgres "select 1 from pg_roles where rolname = '$PG_USER'")" != 1 ]; then
    pg_psql "$PG_SUPERUSER" "$su" postgres "create role $PG_USER login password '$PG_PASSWORD'" >/dev/null ||
      die "postgres: could not create role $PG_USER"
  fi
  # The CDC pattern opens logical replication connections as the project role.
  pg_psql "$PG_SUPERUSER" "$su" postgres "alter role $PG_USER replication" >/dev/null ||
    die "postgres: could not grant replication to $PG_USER"
  if [ "$(pg_psql "$PG_SUPERUSER" "$su" postgres "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    pg_psql "$PG_SUPERUSER" "$su" postgres "create database $PG_DB owner $PG_USER" >/dev/null ||
      die "postgres: could not create database $PG_DB"
  fi
}

postgres_up() {
  local dir data pid
  dir="$(pg_dir)"
  mkdir -p "$dir"
  PG_BIN="$(pg_bindir)"
  pg_run_user
  if pid="$(read_pid "$dir/postgres.pid" postgres)"; then
    wait_until postgres 30 "$pid" "$dir/postgres.log" pg_ready || die "postgres: pid $pid does not let $PG_USER in"
    if pg_durable; then
      log "postgres: already running (pid $pid, 127.0.0.1:$PG_PORT)"
      return 0
    fi
    # Started by an older version of this script (not durable, or without logical decoding): restart it.
    log "postgres: pid $pid runs without synchronous_commit=on, fsync=on and wal_level=logical; restarting it"
    postgres_down
  fi
  rm -f "$dir/postgres.pid"
  if pg_ready; then
    log "postgres: a PostgreSQL not started by these scripts answers on 127.0.0.1:$PG_PORT with role $PG_USER; using it as is"
    return 0
  fi
  port_open "$PG_PORT" && die "postgres: 127.0.0.1:$PG_PORT is taken by something that does not let $PG_USER/$PG_PASSWORD into database $PG_DB"
  data="$(pg_datadir)"
  pg_initdb "$data"
  pg_tls "$dir"
  # The server reads its certificate from its data folder (the service folder may be out of its reach).
  install -m 600 "$dir/tls/server.key" "$data/server.key"
  install -m 644 "$dir/tls/server.crt" "$data/server.crt"
  [ "$(id -u)" -eq 0 ] && chown "$PG_UID:$PG_GID" "$data/server.key" "$data/server.crt"
  # No Unix socket (TCP + scram only); durable commits (PG_DURABILITY).
  spawn "$dir/postgres.pid" "$dir/postgres.log" "${PG_AS[@]}" "$PG_BIN/postgres" -D "$data" \
    -c listen_addresses=127.0.0.1 -c port="$PG_PORT" -c unix_socket_directories= \
    -c max_connections=300 -c shared_buffers=64MB "${PG_DURABILITY[@]}" "${PG_REPLICATION[@]}" \
    -c password_encryption=scram-sha-256 \
    -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key \
    -c logging_collector=off -c log_min_messages=warning
  pid="$(cat "$dir/postgres.pid")"
  wait_until postgres 60 "$pid" "$dir/postgres.log" pg_accepting || die "postgres: did not start"
  pg_bootstrap
  wait_until postgres 30 "$pid" "$dir/postgres.log" pg_ready || die "postgres: $PG_USER cannot log in"
  log "postgres: ready on 127.0.0.1:$PG_PORT, database $PG_DB, user $PG_USER (pid $pid, runs as $PG_OS_USER, $("$PG_BIN/postgres" --version))"
}

# SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
postgres_down() {
  local pidfile pid deadline
  pidfile="$(pg_dir)/postgres.pid"
  if ! pid="$(read_pid "$pidfile" postgres)"; then
    rm -f "$pidfile"
    log "postgres: not running"
    return 0
  fi
  log "postgres: stopping pid $pid (SIGINT, fast shutdown)"
  kill -INT "$pid" 2>/dev/null || true
  deadline=$(($(now_s) + 20))
  while pid_alive "$pid" && [ "$(now_s)" -lt "$deadline" ]; do sleep 0.2; done
  if pid_alive "$pid"; then
    stop_pid postgres "$pidfile" postgres 10
  else
    rm -f "$pidfile"
    log "postgres: stopped"
  fi
}

postgres_status() {
  local pid
  PG_BIN="$(pg_bindir)"
  if pid="$(read_pid "$(pg_dir)/postgres.pid" postgres)" && pg_ready; then
    printf '%-18s running  pid %-7s 127.0.0.1:%s (database %s, user %s)\n' postgres "$pid" "$PG_PORT" "$PG_DB" "$PG_USER"
  elif pg_ready; then
    printf '%-18s running  (not ours) 127.0.0.1:%s\n' postgres "$PG_PORT"
  elif [ -n "${pid:-}" ]; then
    printf '%-18s UNHEALTHY pid %s does not let %s in on 127.0.0.1:%s\n' postgres "$pid" "$PG_USER" "$PG_PORT"
    return 1
  else
    printf '%-18s stopped\n' postgres
    return 1
  fi
}

postgres_wipe() {
  rm -rf "$(pg_dir)"
  rm -rf "/var/lib/prism/postgres-$(printf '%s' "$PRISM_DATA" | sha1sum | cut -c1-12)"
}
