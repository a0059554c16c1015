#!/usr/bin/env bash
# Local PostgreSQL cluster of our own (not Debian's "main" cluster) for `make run`,
# `make test` and CI.  Usage: deploy/local/postgres.sh start|stop|status|reset|psql [ARGS...]
# Env: ADUAN_STATE_DIR (default <repo>/.local), ADUAN_PG_PORT (15432).
# After start: postgresql://aduan:aduan@127.0.0.1:$ADUAN_PG_PORT/aduan
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE_ROOT="${ADUAN_STATE_DIR:-$REPO/.local}"
PORT="${ADUAN_PG_PORT:-15432}"
cd /  # under runuser the caller's cwd may be unreadable for the postgres user

# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
log() { echo "postgres: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# initdb/postgres refuse to run as root: as root, run them as the postgres system user.
if [[ $EUID -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

find_bin() {  # newest installed server version (sort -V: 9 < 15); false if none
  # shellcheck disable=SC2012  # the paths are fixed and plain
  BIN="$( (ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null || true) | sort -V | tail -n1)"
  BIN="${BIN%/initdb}"; [[ -n "$BIN" ]]
}

install_pg() {
  find_bin && return 0
  [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed; run as root: apt-get update && apt-get install -y postgresql"
  log "installing PostgreSQL from Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  find_bin || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb"
}

pick_dir() {  # sets PG (our cluster's directory); as root it must be usable by the postgres user
  mkdir -p "$STATE_ROOT"
  PG="$STATE_ROOT/postgres"
  if [[ $EUID -eq 0 ]]; then
    # The state dir is ours to fix; its parents (/root, a CI checkout...) are not.
    as_pg test -x "$STATE_ROOT" || chmod a+x "$STATE_ROOT"
    # A unix socket path must stay under 108 bytes.
    if ! as_pg test -x "$STATE_ROOT" || (( ${#PG} + 25 > 107 )); then
      PG="/var/tmp/aduan-pg-$(printf %s "$STATE_ROOT" | sha256sum | cut -c1-12)"
      log "$STATE_ROOT is not reachable for the postgres user (or too long): using $PG"
    fi
    mkdir -p "$PG"
    [[ "$(stat -c %U "$PG")" == postgres ]] || chown -R postgres:postgres "$PG"
  else
    mkdir -p "$PG"
  fi
  DATA="$PG/data" RUN="$PG/run" LOGFILE="$PG/postgres.log"
}

running() { [[ -f "$DATA/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_su() {  # superuser over the private unix socket (trust there: the socket dir is 0700)
  as_pg "$BIN/psql" -X -q -h "$RUN" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

start() {
  if running; then log "already running on 127.0.0.1:$PORT ($DATA)"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "$(port_holder "$PORT")"
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      rm -rf "$DATA"  # a half-done initdb from an interrupted run
      as_pg mkdir -p "$RUN"
      as_pg "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG/initdb.log" 2>&1 \
        || { cat "$PG/initdb.log" >&2; die "initdb failed"; }
      echo "include 'aduan.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
      log "initialised $DATA"
    fi
    local want have; want="$(basename "$(dirname "$BIN")")"; have="$(cat "$DATA/PG_VERSION")"
    [[ "$want" == "$have" ]] || die "$DATA is PostgreSQL $have but the binaries are $want: run '$0 reset'"
    as_pg chmod 700 "$RUN"
    # Rewritten on every start so a changed ADUAN_PG_PORT takes effect.
    as_pg tee "$DATA/aduan.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
max_connections = 200
shared_buffers = 128MB
fsync = on                  # tests check durability: never turn this off
CONF
    # 9>&- : the server must not inherit (and hold forever) this script's lock.
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start >/dev/null 9>&- \
      || { tail -n 30 "$LOGFILE" >&2; die "server did not start (log: $LOGFILE)"; }
  fi
  local _; for _ in $(seq 1 60); do "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.5; done
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { tail -n 30 "$LOGFILE" >&2; die "not ready after 30 s"; }
  [[ "$(psql_su -tAc "select 1 from pg_roles where rolname = 'aduan'")" == 1 ]] \
    || psql_su -c "create role aduan login createdb password 'aduan'"
  # The owner makes the per-service roles (services/migrate.py); in production the database operator does.
  psql_su -qc "alter role aduan createrole"
  # The tests drop their databases WITH (FORCE) as aduan: a service role's connection still closing must not
  # fail the drop (seen once in CI: "must be a member of the role whose process is being terminated").
  psql_su -qc "grant pg_signal_backend to aduan"
  [[ "$(psql_su -tAc "select 1 from pg_database where datname = 'aduan'")" == 1 ]] \
    || psql_su -c "create database aduan owner aduan"
  log "ready: postgresql://aduan:aduan@127.0.0.1:$PORT/aduan"
}

stop() {
  if ! running; then log "not running"; return 0; fi
  # fast = roll back sessions, checkpoint, exit cleanly; immediate only if that hangs.
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null \
    || as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null
  log "stopped"
}

cmd="${1:-}"; [[ $# -gt 0 ]] && shift
case "$cmd" in
  start|stop|status|reset|psql) ;;
  *) echo "usage: $0 start|stop|status|reset|psql [ARGS...]" >&2; exit 2 ;;
esac
if [[ "$cmd" == start ]]; then install_pg
elif ! find_bin; then [[ "$cmd" == psql ]] && die "PostgreSQL is not installed (run '$0 start')"; log "not installed"; [[ "$cmd" == status ]] && exit 3; exit 0
fi
pick_dir
# One postgres.sh at a time (make run and make test may overlap).
exec 9>"$STATE_ROOT/.postgres.lock"; flock 9
case "$cmd" in
  start)  start ;;
  stop)   stop ;;
  status) if running; then log "running on 127.0.0.1:$PORT ($DATA)"; else log "not running"; exit 3; fi ;;
  reset)  stop; rm -rf "$PG"; log "deleted $PG" ;;
  psql)   exec 9>&-; exec "$BIN/psql" "postgresql://aduan:aduan@127.0.0.1:$PORT/aduan" "$@" ;;
esac
