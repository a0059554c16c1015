#!/usr/bin/env bash
# Debian's real Kannel 1.4.5 (bearerbox + smsbox) with fakesmsc as the SMSC, for `make run` and the
# tests.  Usage: deploy/local/kannel.sh install|start|stop|status|logs
#   start   renders deploy/gateways/kannel/kannel.conf.template and starts whatever of bearerbox,
#           fakesmsc, smsbox is not running (so after killing one, `start` brings it back).
# Env: ADUAN_STATE_DIR (default <repo>/.local; Kannel's files go to $ADUAN_STATE_DIR/kannel),
#   ADUAN_KANNEL_ADMIN_PORT (13000), ADUAN_KANNEL_SMSBOX_PORT (13001), ADUAN_KANNEL_SENDSMS_PORT (13013),
#   ADUAN_KANNEL_FAKESMSC_PORT (13010), ADUAN_KANNEL_INTAKE_URL (http://127.0.0.1:8081),
#   ADUAN_KANNEL_USER (aduan), ADUAN_KANNEL_PASSWORD (local-kannel-password),
#   ADUAN_KANNEL_ADMIN_PASSWORD (local-kannel-admin), ADUAN_KANNEL_HTTP_RETRY (5),
#   ADUAN_KANNEL_HTTP_QUEUE_DELAY (10 s).
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
INBOUND_SECRET="${ADUAN_KANNEL_INBOUND_SECRET:-local-kannel-inbound-secret}"  # = the intake's ADUAN_SMS_KANNEL_SECRET
HTTP_RETRY="${ADUAN_KANNEL_HTTP_RETRY:-5}"
HTTP_QUEUE_DELAY="${ADUAN_KANNEL_HTTP_QUEUE_DELAY:-10}"
FAKESMSC=/usr/lib/kannel/test/fakesmsc
WAIT=30  # seconds, for each readiness wait

# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
log() { echo "kannel: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install_kannel() {
  command -v bearerbox >/dev/null && command -v smsbox >/dev/null && [[ -x $FAKESMSC ]] && return 0
  [[ $EUID -eq 0 ]] || die "Kannel is not installed; run as root: apt-get update && apt-get install -y kannel kannel-extras"
  log "installing Kannel from Debian packages (kannel, kannel-extras for fakesmsc)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras >/dev/null
  if ! command -v bearerbox >/dev/null || [[ ! -x $FAKESMSC ]]; then die "apt-get ran but bearerbox or $FAKESMSC is missing"; fi
}

render() {  # the config is rewritten on every start so changed env values take effect
  local v
  for v in "$INTAKE_URL" "$SENDSMS_USER" "$SENDSMS_PASSWORD" "$ADMIN_PASSWORD" "$INBOUND_SECRET" "$DIR"; do
    [[ "$v" != *[\|\"\&\\]* ]] || die "values must not contain | \" & or \\: '$v'"
  done
  sed -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@SMSBOX_PORT@|$SMSBOX_PORT|g" \
      -e "s|@SENDSMS_PORT@|$SENDSMS_PORT|g" -e "s|@SMSC_PORT@|$SMSC_PORT|g" \
      -e "s|@INTAKE_URL@|${INTAKE_URL%/}|g" -e "s|@SENDSMS_USER@|$SENDSMS_USER|g" \
      -e "s|@SENDSMS_PASSWORD@|$SENDSMS_PASSWORD|g" -e "s|@ADMIN_PASSWORD@|$ADMIN_PASSWORD|g" \
      -e "s|@INBOUND_SECRET@|$INBOUND_SECRET|g" \
      -e "s|@HTTP_RETRY@|$HTTP_RETRY|g" -e "s|@HTTP_QUEUE_DELAY@|$HTTP_QUEUE_DELAY|g" \
      -e "s|@STATE_DIR@|$DIR|g" "$TEMPLATE" >"$DIR/kannel.conf.new"
  ! grep -n '^[^#]*@[A-Z_]*@' "$DIR/kannel.conf.new" || die "unrendered placeholder in $TEMPLATE"
  mv "$DIR/kannel.conf.new" "$DIR/kannel.conf"
  chmod 600 "$DIR/kannel.conf"  # it holds the passwords
}

# A pid file counts only if that pid still runs the same program (pids are reused) and is
# not a zombie waiting for its reaper (kill -0 succeeds on those).
pid_of() {
  local f="$DIR/$1.pid" pid stat
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" && "${stat##*) }" != Z* ]] && echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

# smsbox that loses its bearerbox waits 10 s, then forks a copy of itself (a new pid, not in our
# pid file) that connects again.  Such copies are found by their exact command line (this
# instance's config path) and killed with SIGKILL, which, unlike SIGTERM, stops the chain.
SMSBOX_CMD=(smsbox -v 3 "$DIR/kannel.conf")
kill_stray_smsboxes() {
  local want p pass found
  want="$(printf '%s\n' "${SMSBOX_CMD[@]}")"
  for ((pass = 0; pass < 5; pass++)); do
    found=0
    for p in /proc/[0-9]*; do
      [[ "$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null)" == "$want" ]] || continue
      kill -9 "${p#/proc/}" 2>/dev/null && found=1
    done
    ((found)) || return 0
    sleep 0.2
  done
}

port_free() {  # a Debian `kannel` service, for one, holds 13000 (its admin port)
  local p="$1" what="$2"
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || listening "$p"; then
    die "$(port_holder "$p") (wanted for $what; a system Kannel? 'systemctl stop kannel', or set ADUAN_KANNEL_*_PORT)"
  fi
}

listening() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }

wait_for() {  # wait_for <what> <process> <command...>: bounded; on failure shows that process's logs
  local what="$1" name="$2" i; shift 2
  for ((i = 0; i < WAIT * 5; i++)); do
    "$@" && return 0
    running "$name" || break  # it died (bad config, port taken...): no point waiting
    sleep 0.2
  done
  tail -n 15 "$DIR/$name.out" "$DIR/$name.log" >&2 2>/dev/null || true
  running "$name" || die "$name exited; $what never happened (logs: $DIR/$name.out, $DIR/$name.log)"
  die "$what: not after ${WAIT}s (logs: $DIR/$name.out, $DIR/$name.log)"
}

admin_up() { admin_status >/dev/null; }
admin_status() { curl -fsS --max-time 2 "http://127.0.0.1:$ADMIN_PORT/status.txt?password=$ADMIN_PASSWORD" 2>/dev/null; }
smsc_online() { admin_status | grep -q 'fake.*(online'; }
smsbox_connected() { admin_status | grep -qE 'smsbox:.*on-line'; }
sendsms_answers() { curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$SENDSMS_PORT/" 2>/dev/null; }

spawn() {  # spawn <name> <command...>: own session (Ctrl-C in a terminal does not reach it), pid file
  local name="$1"; shift
  setsid "$@" >>"$DIR/$name.out" 2>&1 </dev/null 9>&- &
  echo $! >"$DIR/$name.pid"
  await_exec $!
}

start() {
  local pid
  render
  if ! running bearerbox; then
    # fakesmsc exits when its bearerbox goes away, and smsbox restarts itself 10 s later: a new
    # bearerbox gets a new fakesmsc and a new smsbox.
    if pid="$(pid_of fakesmsc)"; then kill "$pid"; fi
    if pid="$(pid_of smsbox)"; then kill -9 "$pid"; fi
  fi
  running smsbox || kill_stray_smsboxes
  # Check every port first, so that a taken one does not leave half a Kannel running.
  if ! running bearerbox; then
    port_free "$ADMIN_PORT" admin; port_free "$SMSBOX_PORT" smsbox-port; port_free "$SMSC_PORT" fakesmsc
  fi
  running smsbox || port_free "$SENDSMS_PORT" sendsms
  if ! running bearerbox; then
    spawn bearerbox bearerbox -v 3 "$DIR/kannel.conf"
    wait_for "bearerbox admin port $ADMIN_PORT answers" bearerbox admin_up
    wait_for "fake SMSC listens on $SMSC_PORT" bearerbox listening "$SMSC_PORT"
  fi
  if ! running fakesmsc; then
    # The FIFO is fakesmsc's stdin, opened read-write (<>) so that it never sees EOF when a
    # writer closes it.  -i 0: no pause between messages; -m -1: no limit.  fakesmsc logs the
    # MT it receives at debug level, hence no -v.
    [[ -p "$DIR/fakesmsc.in" ]] || { rm -f "$DIR/fakesmsc.in"; mkfifo -m 600 "$DIR/fakesmsc.in"; }
    setsid "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -i 0 -m -1 <>"$DIR/fakesmsc.in" \
      >>"$DIR/fakesmsc.log" 2>&1 9>&- &
    echo $! >"$DIR/fakesmsc.pid"
    wait_for "fakesmsc connected to bearerbox" fakesmsc smsc_online
  fi
  if ! running smsbox; then
    spawn smsbox "${SMSBOX_CMD[@]}"
    wait_for "smsbox sendsms port $SENDSMS_PORT answers" smsbox sendsms_answers
  fi
  wait_for "smsbox connected to bearerbox" smsbox smsbox_connected
  log "ready: sendsms http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms, MO -> $INTAKE_URL, files in $DIR"
}

stop_one() {  # SIGTERM lets bearerbox flush its store (it takes up to ~10 s); SIGKILL only if it hangs
  local name="$1" pid i
  pid="$(pid_of "$name")" || { rm -f "$DIR/$name.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do running "$name" || break; sleep 0.1; done
  if running "$name"; then log "$name ($pid) ignored SIGTERM for 30s: SIGKILL"; kill -9 "$pid" || true; fi
  rm -f "$DIR/$name.pid"
}

stop() {
  stop_one smsbox; kill_stray_smsboxes; stop_one bearerbox; stop_one fakesmsc
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
  for f in bearerbox.log smsbox.log fakesmsc.log access.log smsbox-access.log; do
    [[ -f "$DIR/$f" ]] && { echo "==> $DIR/$f <=="; tail -n "${LINES_PER_LOG:-30}" "$DIR/$f"; }
  done
  return 0
}

cmd="${1:-}"
case "$cmd" in
  install) install_kannel; exit 0 ;;
  start|stop|status|logs) ;;
  *) echo "usage: $0 install|start|stop|status|logs" >&2; exit 2 ;;
esac
[[ "$cmd" == start ]] && install_kannel
mkdir -p "$DIR"
# One kannel.sh at a time per state dir (make run and make test may overlap).
exec 9>"$DIR/.lock"; flock -w 120 9 || die "another kannel.sh holds $DIR/.lock"
"$cmd"
