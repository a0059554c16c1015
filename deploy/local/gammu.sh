#!/usr/bin/env bash
# Debian's real Gammu SMSD with the `dummy` phone driver (the "SIM" is a directory of files), storing
# into its own database in our local PostgreSQL cluster: the SMS gateway for `make run` and tests.
# Usage: deploy/local/gammu.sh install|start|stop|status|reset
# Env: ADUAN_STATE_DIR (default <repo>/.local; this gateway lives in $ADUAN_STATE_DIR/gammu),
#      ADUAN_PG_PORT (15432), ADUAN_GAMMU_DB_NAME (gammu),
#      ADUAN_GAMMU_PHONE_ID (modem1), ADUAN_GAMMU_TZ (Asia/Jakarta: the zone the SMS intake reads
#      ReceivingDateTime in), ADUAN_GAMMU_START_TIMEOUT (30 s).
# After start: postgresql://aduan:aduan@127.0.0.1:$PORT/$DB; incoming SMS are files dropped into
# $ADUAN_STATE_DIR/gammu/dummy/sms/1 (tests/support/gammu.py writes them).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${ADUAN_STATE_DIR:-$REPO/.local}/gammu"
DB="${ADUAN_GAMMU_DB_NAME:-gammu}"
PORT="${ADUAN_PG_PORT:-15432}"
PHONE_ID="${ADUAN_GAMMU_PHONE_ID:-modem1}"
ZONE="${ADUAN_GAMMU_TZ:-Asia/Jakarta}"
TIMEOUT="${ADUAN_GAMMU_START_TIMEOUT:-30}"
TEMPLATE="$REPO/deploy/gateways/gammu/smsdrc.template"
INDEX="$REPO/deploy/gateways/gammu/aduan-indexes.sql"
CONF="$STATE/smsdrc" PIDFILE="$STATE/smsd.pid" LOG="$STATE/smsd.log" DEVICE="$STATE/dummy"

log() { echo "gammu: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The name goes into SQL and the config unquoted: keep it a plain identifier.
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "ADUAN_GAMMU_DB_NAME must match [a-z_][a-z0-9_]*: $DB"
[[ "$PHONE_ID" =~ ^[A-Za-z0-9_.-]+$ ]] || die "ADUAN_GAMMU_PHONE_ID must match [A-Za-z0-9_.-]+: $PHONE_ID"

install_gammu() {  # a fresh machine lacks them: Debian packages, root only
  command -v gammu-smsd >/dev/null && return 0
  [[ $EUID -eq 0 ]] || die "gammu-smsd is not installed; run as root: apt-get install -y gammu gammu-smsd"
  log "installing gammu and gammu-smsd from Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gammu gammu-smsd >/dev/null
  command -v gammu-smsd >/dev/null || die "apt-get ran but there is no gammu-smsd"
}

schema_file() {  # Gammu's own PostgreSQL schema, as the package ships it (gzipped or not)
  local f
  for f in /usr/share/doc/gammu-smsd/examples/pgsql.sql /usr/share/doc/gammu-smsd/examples/pgsql.sql.gz; do
    [[ -f "$f" ]] && { echo "$f"; return 0; }
  done
  die "Gammu's pgsql.sql is not where gammu-smsd installs it (dpkg -L gammu-smsd | grep pgsql)"
}

sql() {  # sql DATABASE ARGS...: as aduan over TCP, the way gammu-smsd itself connects
  PGPASSWORD=aduan PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U aduan -d "$1" "${@:2}"
}

prepare_db() {
  sql postgres -c 'select 1' >/dev/null 2>&1 \
    || die "cannot log in as aduan to PostgreSQL on 127.0.0.1:$PORT (run: deploy/local/postgres.sh start)"
  [[ "$(sql postgres -tAc "select 1 from pg_database where datname = '$DB'")" == 1 ]] \
    || sql postgres -c "create database $DB owner aduan"
  if [[ "$(sql "$DB" -tAc "select to_regclass('inbox') is not null")" != t ]]; then
    local f; f="$(schema_file)"
    # The file still says CREATE LANGUAGE plpgsql, which fails since PostgreSQL 9.0 ships it
    # installed; everything else loads as is, in one transaction so a failure leaves nothing.
    { if [[ "$f" == *.gz ]]; then zcat "$f"; else cat "$f"; fi; } \
      | grep -v '^CREATE LANGUAGE plpgsql;' | sql "$DB" -1 -f - >/dev/null
    log "loaded Gammu schema $(sql "$DB" -tAc 'select "Version" from gammu') from $f into $DB"
  fi
  sql "$DB" -f "$INDEX"
}

render() {
  mkdir -p "$DEVICE/sms/1"
  sed -e "s|@DEVICE@|$DEVICE|g" -e "s|@CONNECTION@|none|g" -e "s|@MODEL@|dummy|g" \
      -e "s|@DB_HOST@|127.0.0.1|g" -e "s|@DB_PORT@|$PORT|g" -e "s|@DB_USER@|aduan|g" \
      -e "s|@DB_PASSWORD@|aduan|g" -e "s|@DB_NAME@|$DB|g" -e "s|@PHONE_ID@|$PHONE_ID|g" \
      -e "s|@STATE_DIR@|$STATE|g" "$TEMPLATE" >"$CONF"
  ! grep -n '@[A-Z_]*@' "$CONF" || die "placeholders left in $CONF"
}

pid_alive() {  # the pid file points at *our* daemon (not a recycled pid)
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "gammu-smsd -c $CONF"
}

# Up = it logged in to the database and initialised the phone: InitAfterConnect then wrote its
# phones row (IMEI of the dummy is 999999999999999), newer than this start.
ready() {
  [[ "$(sql "$DB" -tAc "select 1 from phones where \"ID\" = '$PHONE_ID' and \"InsertIntoDB\" >= '$1'" 2>/dev/null)" == 1 ]]
}

start() {
  if pid_alive; then log "already running (pid $(cat "$PIDFILE")), database $DB on 127.0.0.1:$PORT"; return 0; fi
  install_gammu; prepare_db; render
  local t0=$SECONDS since; since="$(sql "$DB" -tAc "select localtimestamp(0)")"
  # nohup + setsid: outlives the calling shell; 9>&- so it does not hold this script's lock.
  TZ="$ZONE" nohup setsid gammu-smsd -c "$CONF" >>"$STATE/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  await_exec $!
  until ready "$since"; do
    pid_alive || { log "gammu-smsd exited during startup; end of $LOG:"; tail -n 20 "$LOG" >&2 || true; rm -f "$PIDFILE"; exit 1; }
    (( SECONDS - t0 > TIMEOUT )) && { log "not up after ${TIMEOUT}s; end of $LOG:"; tail -n 20 "$LOG" >&2 || true; stop_locked; exit 1; }
    sleep 0.2
  done
  log "ready (pid $(cat "$PIDFILE"), $((SECONDS - t0)) s): database $DB on 127.0.0.1:$PORT, SIM inbox $DEVICE/sms/1"
}

stop_locked() {
  if ! pid_alive; then rm -f "$PIDFILE"; log "not running"; return 0; fi
  local pid _; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"  # finishes the current step, removes its shared memory, says goodbye in the log
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "no exit after 10 s, sending SIGKILL"; kill -KILL "$pid"; fi
  rm -f "$PIDFILE"; log "stopped"
}

cmd="${1:-}"
case "$cmd" in
  install) install_gammu; exit 0 ;;
  start|stop|status|reset) ;;
  *) echo "usage: $0 install|start|stop|status|reset" >&2; exit 2 ;;
esac
mkdir -p "$STATE"
exec 9>"$STATE/.lock"; flock 9  # one gammu.sh per state dir at a time
case "$cmd" in
  start)  start ;;
  stop)   stop_locked ;;
  status) if pid_alive; then log "running (pid $(cat "$PIDFILE")), config $CONF"; else log "not running"; exit 3; fi ;;
  reset)  stop_locked
          sql postgres -c "drop database if exists $DB with (force)"
          rm -rf "$DEVICE" "$CONF" "$LOG" "$STATE/stdout.log"; log "deleted database $DB and $STATE" ;;
esac
