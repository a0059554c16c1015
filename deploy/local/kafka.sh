#!/usr/bin/env bash
# Local single-node Kafka (KRaft) for `make run`, `make test` and CI.
# Usage: deploy/local/kafka.sh fetch|start|stop|status|reset|tool CLASS [ARGS...]
# Env: ADUAN_STATE_DIR (default <repo>/.local), ADUAN_KAFKA_PORT (9092),
#      ADUAN_KAFKA_CONTROLLER_PORT (9093), ADUAN_KAFKA_VERSION (4.1.1),
#      ADUAN_KAFKA_HEAP (-Xms256m -Xmx1g), ADUAN_KAFKA_START_TIMEOUT (90 s),
#      ADUAN_KAFKA_LIBS (default $ADUAN_STATE_DIR/kafka/libs: where the jars are fetched to and
#      run from; a second broker, e.g. the fault suite's, points it at the first one's jars),
#      ADUAN_KAFKA_ADMIN_PASSWORD (local-kafka-admin: the SCRAM user `admin`, a super user, made at format),
#      ADUAN_KAFKA_CONTROLLER_PASSWORD (local-kafka-controller: the controller listener's PLAIN login).
# Clients log in with SASL/SCRAM-SHA-512; the services' users and ACLs: shared/kafka_access.py. Tools run
# through `tool` log in as admin with $ADUAN_STATE_DIR/kafka/admin.properties (--command-config).
# Topics are NOT created here: the Python code owns them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${ADUAN_STATE_DIR:-$REPO/.local}/kafka"
PORT="${ADUAN_KAFKA_PORT:-9092}"
CPORT="${ADUAN_KAFKA_CONTROLLER_PORT:-9093}"
VERSION="${ADUAN_KAFKA_VERSION:-4.1.1}"
HEAP="${ADUAN_KAFKA_HEAP:--Xms256m -Xmx1g}"  # 512 MB ran out holding a full test run's partitions
TIMEOUT="${ADUAN_KAFKA_START_TIMEOUT:-90}"
ADMIN_PASSWORD="${ADUAN_KAFKA_ADMIN_PASSWORD:-local-kafka-admin}"
CONTROLLER_PASSWORD="${ADUAN_KAFKA_CONTROLLER_PASSWORD:-local-kafka-controller}"
LIBS="${ADUAN_KAFKA_LIBS:-$STATE/libs}" DATA="$STATE/data" LOGS="$STATE/logs" PIDFILE="$STATE/kafka.pid"
ADMIN_PROPERTIES="$STATE/admin.properties"
# The marker records what the jars were fetched for: a version or pom change re-fetches.
STAMP="$VERSION $(sha256sum "$HERE/kafka/pom.xml" | cut -c1-16)"

log() { echo "kafka: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A fresh machine may lack the JVM or Maven: install them from Debian (root only).
need() {  # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null && return 0
  [[ $EUID -eq 0 ]] || die "$1 not found: apt-get install -y $2"
  log "installing $2"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# One kafka.sh at a time per state dir (make run and make test may overlap).
lock() { mkdir -p "$STATE"; exec 9>"$STATE/.lock"; flock 9; }

fetch() {
  if [[ -f "$LIBS/.fetched" && "$(cat "$LIBS/.fetched")" == "$STAMP" ]]; then return 0; fi
  need mvn maven
  log "fetching Kafka $VERSION jars from Maven Central into $LIBS"
  # Download into a temp dir and swap, so an interrupted fetch never looks complete.
  rm -rf "$LIBS.tmp"
  # Maven's output goes to a log (it is long and, on Debian, full of colour codes).
  mvn -B -Dstyle.color=never -f "$HERE/kafka/pom.xml" package -Dkafka.version="$VERSION" \
      -DoutputDirectory="$LIBS.tmp" >"$STATE/fetch.log" 2>&1 \
    || { tail -n 30 "$STATE/fetch.log" >&2; die "maven could not fetch Kafka $VERSION (see $STATE/fetch.log)"; }
  echo "$STAMP" >"$LIBS.tmp/.fetched"
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS"
}

pid_alive() {  # the pid file exists and points at *our* broker (not a recycled pid)
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $STATE/"
}

# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

admin_properties() {  # the Java tools' login as admin (--command-config)
  mkdir -p "$STATE"
  cat >"$ADMIN_PROPERTIES" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
PROPS
}

tool() {  # run a Kafka CLI class with the fetched jars (quiet logging, small heap)
  java -Xmx256m -cp "$LIBS/*" -Dlog4j2.level=WARN "$@"
}

log_tail() {  # the end of the broker's output, without Java stack frames
  cat "$LOGS/stdout.log" "$LOGS/server.log" 2>/dev/null | grep -vE $'^\t(at |\.\.\. )' | tail -n 25 >&2 || true
}

start() {
  lock
  if pid_alive; then log "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return 0; fi
  port_open "$PORT" && die "$(port_holder "$PORT") (not our broker)"
  fetch; need java default-jre-headless
  mkdir -p "$DATA" "$LOGS"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CPORT|g" -e "s|@DATA_DIR@|$DATA|g" \
      -e "s|@ADMIN_PASSWORD@|$ADMIN_PASSWORD|g" -e "s|@CONTROLLER_PASSWORD@|$CONTROLLER_PASSWORD|g" \
    "$HERE/kafka/server.properties" >"$STATE/server.properties"
  admin_properties
  # Data formatted before the broker took logins has no admin user, and users are made only at format:
  # local data, so it is started afresh.
  if [[ -f "$DATA/meta.properties" && ! -f "$DATA/.scram-users" ]]; then
    log "data from before SASL logins: deleting it (local only)"; rm -rf "$DATA"; mkdir -p "$DATA"
  fi
  # Format once: a random cluster id (16 random bytes, URL-safe base64) on first start only.
  if [[ ! -f "$DATA/meta.properties" ]]; then
    local cid; cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    tool kafka.tools.StorageTool format -t "$cid" -c "$STATE/server.properties" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]" >"$LOGS/format.log" 2>&1 \
      || { cat "$LOGS/format.log" >&2; die "storage format failed"; }
    touch "$DATA/.scram-users"
    log "formatted $DATA (cluster id $cid)"
  fi
  local t0=$SECONDS
  # nohup: the broker outlives the calling shell (make, CI step); 9>&- so it does
  # not inherit (and hold forever) the lock of this script.
  # shellcheck disable=SC2086  # HEAP is a list of JVM flags
  nohup java $HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.xml" \
    -cp "$LIBS/*" kafka.Kafka "$STATE/server.properties" >"$LOGS/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  await_exec "$(cat "$PIDFILE")"
  # Ready = the port accepts connections AND a metadata request (list topics) succeeds.
  while ! { port_open "$PORT" && tool org.apache.kafka.tools.TopicCommand \
            --bootstrap-server "127.0.0.1:$PORT" --command-config "$ADMIN_PROPERTIES" --list >/dev/null 2>&1; }; do
    if ! pid_alive; then
      log "broker exited during startup; end of its logs in $LOGS:"; log_tail
      rm -f "$PIDFILE"; exit 1
    fi
    if (( SECONDS - t0 > TIMEOUT )); then
      log "not ready after ${TIMEOUT}s; end of its logs in $LOGS:"; log_tail
      stop_locked; exit 1
    fi
    sleep 0.5
  done
  log "ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), $((SECONDS - t0)) s)"
}

stop_locked() {
  if ! pid_alive; then rm -f "$PIDFILE"; log "not running"; return 0; fi
  local pid _; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"  # controlled shutdown: flushes logs, so the next start needs no recovery
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "no exit after 30 s, sending SIGKILL"; kill -KILL "$pid"; sleep 0.5; fi
  rm -f "$PIDFILE"; log "stopped"
}

case "${1:-}" in
  fetch)  lock; fetch ;;
  start)  start ;;
  stop)   lock; stop_locked ;;
  status) if pid_alive; then log "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; else log "not running"; exit 3; fi ;;
  reset)  lock; stop_locked; rm -rf "$DATA" "$LOGS" "$STATE/server.properties"; log "data deleted (jars kept)" ;;
  tool)   shift; [[ -f "$LIBS/.fetched" ]] || { lock; fetch; exec 9>&-; }; need java default-jre-headless
          admin_properties; tool "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|tool CLASS [ARGS...]" >&2; exit 2 ;;
esac
