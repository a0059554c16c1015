#!/usr/bin/env bash
# Debian's real Kannel 1.4.5 (bearerbox + smsbox) with fakesmsc as the SMSC, for `make run` and the
# tests.  Usage: deploy/local/kannel.sh start|stop|status|logs
#   start   renders deploy/gateways/kannel/kannel.conf.template and starts whatever of bearerbox,
#           fakesmsc, smsbox is not running (so after killing one, `start` brings it back).
# Env: ADUAN_STATE_DIR (default <repo>/.local; Kannel's files go to $ADUAN_STATE_DIR/kannel),
#   ADUAN_KANNEL_ADMIN_PORT (13000), ADUAN_KANNEL_SMSBOX_PORT (13001), ADUAN_KANNEL_SENDSMS_PORT (13013),
#   ADUAN_KANNEL_FAKESMSC_PORT (13010), ADUAN_KANNEL_INTAKE_URL (http://127.0.0.1:8081),
#   ADUAN_KANNEL_USER (aduan), ADUAN_KANNEL_PASSWORD (local-kannel-password),
#   ADUAN_KANNEL_ADMIN_PASSWORD (local-kannel-admin), ADUAN_KANNEL_HTTP_RETRY (3),
#   ADUAN_KANNEL_HTTP_QUEUE_DELAY (5 s).
# Inject an MO: write one fakesmsc line ("sender receiver text|ucs2|udh-text ... data") into the
# FIFO $ADUAN_STATE_DIR/kannel/fakesmsc.in (tests/support/kannel.py does it for you).
# The MT that Kannel sends appear as "Got message N: <...>" lines in fakesmsc.log.
# All ports are below Linux's ephemeral range (32768-60999) so no outgoing connection can take them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TEMPLATE="$REPO/deploy/gateways/kannel/kannel.conf.template"
DIR="${ADUAN_STATE_DIR:-$REPO/.local}/kannel"
ADMIN_PORT="${ADUAN_KANNEL_ADMIN_PORT:-13000}"
SMSBOX_PORT="${ADUAN_KANNEL_SMSBOX_PORT:-13001}"
SENDSMS_PORT="${ADUAN_KANNEL_SENDSMS_PORT:-13013}"
SMSC_PORT="${ADUAN_KANNEL_FAKESMSC_PORT:-13010}"
INTAKE_URL="${ADUAN_KANNEL_INTAKE_URL:-http://127.0.0.1:8081}"
SENDSMS_USER="${ADUAN_KANNEL_USER:-aduan}"
SENDSMS_PASSWORD="${ADUAN_KANNEL_PASSWORD:-local-kannel-password}"
ADMIN_PASSWORD="${ADUAN_KANNEL_ADMIN_PASSWORD:-local-kannel-admin}"
HTTP_RETRY="${ADUAN_KANNEL_HTTP_RETRY:-3}"
HTTP_QUEUE_DELAY="${ADUAN_KANNEL_HTTP_QUEUE_DELAY:-5}"
FAKESMSC=/usr/lib/kannel/test/fakesmsc
WAIT=30  # seconds, for each readiness wait

log() { echo "kannel: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install_kannel() {
  command -v bearerbox >/dev/null && command -v smsbox >/dev/null && [[ -x $FAKESMSC ]] && return 0
  [[ $EUID -eq 0 ]] || die "Kannel is not installed; run as root: apt-get update && apt-get install -y kannel kannel-extras"
  log "installing Kannel from Debian packages (kannel, kannel-extras for fakesmsc)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras >/dev/null
  command -v bearerbox >/dev/null && [[ -x $FAKESMSC ]] || die "apt-get ran but bearerbox or $FAKESMSC is missing"
}

render() {  # the config is rewritten on every start so changed env values take effect
  mkdir -p "$DIR/store"
  local v
  for v in "$INTAKE_URL" "$SENDSMS_USER" "$SENDSMS_PASSWORD" "$ADMIN_PASSWORD" "$DIR"; do
    [[ "$v" != *[\|\"\&\\]* ]] || die "values must not contain | \" & or \\: '$v'"
  done
  sed -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@SMSBOX_PORT@|$SMSBOX_PORT|g" \
      -e "s|@SENDSMS_PORT@|$SENDSMS_PORT|g" -e "s|@SMSC_PORT@|$SMSC_PORT|g" \
      -e "s|@INTAKE_URL@|${INTAKE_URL%/}|g" -e "s|@SENDSMS_USER@|$SENDSMS_USER|g" \
      -e "s|@SENDSMS_PASSWORD@|$SENDSMS_PASSWORD|g" -e "s|@ADMIN_PASSWORD@|$ADMIN_PASSWORD|g" \
      -e "s|@HTTP_RETRY@|$HTTP_RETRY|g" -e "s|@HTTP_QUEUE_DELAY@|$HTTP_QUEUE_DELAY|g" \
      -e "s|@STATE_DIR@|$DIR|g" "$TEMPLATE" >"$DIR/kannel.conf.new"
  ! grep -n '^[^#]*@[A-Z_]*@' "$DIR/kannel.conf.new" || die "unrendered placeholder in $TEMPLATE"
  mv "$DIR/kannel.conf.new" "$DIR/kannel.conf"
  chmod 600 "$DIR/kannel.conf"  # it holds the passwords
}

# A pid file counts only if that pid still runs the same program (pids are reused).
pid_of() {
  local f="$DIR/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$1" && echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

port_free() {  # dies naming the holder: a Debian `kannel` service, for one, takes 13000
  local p="$1" what="$2"
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || [[ -n "$(ss -Hltn "sport = :$p")" ]]; then
    die "127.0.0.1:$p ($what) is taken: $(ss -Hltnp "sport = :$p" | awk '{print $NF}' | tr '\n' ' ')
  (a system Kannel? 'systemctl stop kannel'; or set ADUAN_KANNEL_*_PORT)"
  fi
}

listening() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }

wait_for() {  # wait_for <what> <log file> <command...>: bounded, names the log on failure
  local what="$1" logfile="$2" i; shift 2
  for ((i = 0; i < WAIT * 5; i++)); do "$@" && return 0; sleep 0.2; done
  tail -n 20 "$logfile" >&2 || true
  die "$what not ready after ${WAIT}s (log: $logfile)"
}

admin_status() { curl -fsS --max-time 2 "http://127.0.0.1:$ADMIN_PORT/status.txt?password=$ADMIN_PASSWORD" 2>/dev/null; }
smsc_online() { admin_status | grep -q 'fake.*(online'; }
smsbox_connected() { admin_status | grep -qE 'smsbox:.*on-line'; }
sendsms_answers() { curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$SENDSMS_PORT/" 2>/dev/null; }

spawn() {  # spawn <name> <command...>: own session (Ctrl-C in a terminal does not reach it), pid file
  local name="$1"; shift
  setsid "$@" >>"$DIR/$name.out" 2>&1 </dev/null 9>&- &
  echo $! >"$DIR/$name.pid"
}

start() {
  render
  if ! running bearerbox; then
    port_free "$ADMIN_PORT" admin; port_free "$SMSBOX_PORT" smsbox-port; port_free "$SMSC_PORT" fakesmsc
    # fakesmsc exits when its bearerbox goes away: a new bearerbox needs a new fakesmsc.
    if pid="$(pid_of fakesmsc)"; then kill "$pid"; fi
    spawn bearerbox bearerbox "$DIR/kannel.conf"
    wait_for "bearerbox admin port $ADMIN_PORT" "$DIR/bearerbox.log" admin_status
    wait_for "fake SMSC port $SMSC_PORT" "$DIR/bearerbox.log" listening "$SMSC_PORT"
  fi
  if ! running fakesmsc; then
    # The FIFO is fakesmsc's stdin, opened read-write (<>) so that it never sees EOF when a
    # writer closes it.  -i 0: no pause between messages; -m -1: no limit.  fakesmsc logs the
    # MT it receives at debug level, hence no -v.
    [[ -p "$DIR/fakesmsc.in" ]] || { rm -f "$DIR/fakesmsc.in"; mkfifo -m 600 "$DIR/fakesmsc.in"; }
    setsid "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -i 0 -m -1 <>"$DIR/fakesmsc.in" \
      >>"$DIR/fakesmsc.log" 2>&1 9>&- &
    echo $! >"$DIR/fakesmsc.pid"
    wait_for "fakesmsc connected to bearerbox" "$DIR/fakesmsc.log" smsc_online
  fi
  if ! running smsbox; then
    port_free "$SENDSMS_PORT" sendsms
    spawn smsbox smsbox "$DIR/kannel.conf"
    wait_for "smsbox sendsms port $SENDSMS_PORT" "$DIR/smsbox.log" sendsms_answers
    wait_for "smsbox connected to bearerbox" "$DIR/smsbox.log" smsbox_connected
  fi
  log "ready: sendsms http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms, MO -> $INTAKE_URL, files in $DIR"
}

stop_one() {  # SIGTERM lets bearerbox flush its store; SIGKILL only if it hangs
  local name="$1" pid i
  pid="$(pid_of "$name")" || { rm -f "$DIR/$name.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) ignored SIGTERM for 10s: SIGKILL"; kill -9 "$pid" || true; fi
  rm -f "$DIR/$name.pid"
}

stop() {
  stop_one smsbox; stop_one bearerbox; stop_one fakesmsc
  log "stopped"
}

status() {
  local name rc=0
  for name in bearerbox fakesmsc smsbox; do
    if pid="$(pid_of "$name")"; then log "$name running (pid $pid)"; else log "$name not running"; rc=3; fi
  done
  return $rc
}

logs() {
  local f
  for f in bearerbox.log smsbox.log fakesmsc.log access.log; do
    [[ -f "$DIR/$f" ]] && { echo "==> $DIR/$f <=="; tail -n "${LINES_PER_LOG:-30}" "$DIR/$f"; }
  done
  return 0
}

cmd="${1:-}"
case "$cmd" in
  start|stop|status|logs) ;;
  *) echo "usage: $0 start|stop|status|logs" >&2; exit 2 ;;
esac
[[ "$cmd" == start ]] && install_kannel
mkdir -p "$DIR"
# One kannel.sh at a time per state dir (make run and make test may overlap).
exec 9>"$DIR/.lock"; flock -w 120 9 || die "another kannel.sh holds $DIR/.lock"
"$cmd"
