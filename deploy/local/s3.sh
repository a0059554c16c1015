#!/usr/bin/env bash
# The evidence store for `make run` and the tests: SeaweedFS (Apache-2.0), a real S3-compatible object
# store, built from the Go module proxy and run as one `weed mini` process (master, volume, filer, S3
# gateway) on 127.0.0.1 only.  Usage: deploy/local/s3.sh install|start|stop|status
#   install  builds weed into .local/bin (once; deploy/local/seaweedfs/ pins every dependency in go.sum).
#   start    starts it if it is not running and waits until its S3 API answers; the bucket is made at start.
#   stop     stops it (the data stays in $DIR/data; `reset` deletes it).
# Env: ADUAN_STATE_DIR (default <repo>/.local; files go to $ADUAN_STATE_DIR/s3), ADUAN_S3_PORT (17833),
#   ADUAN_S3_ACCESS_KEY (local-evidence), ADUAN_S3_SECRET_KEY (local-evidence-secret),
#   ADUAN_S3_BUCKET (aduan-evidence). Its other ports are the S3 port's neighbours (see PORTS below).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="$REPO/.local/bin"
MODULE="$HERE/seaweedfs"
DIR="${ADUAN_STATE_DIR:-$REPO/.local}/s3"
S3_PORT="${ADUAN_S3_PORT:-17833}"
ACCESS_KEY="${ADUAN_S3_ACCESS_KEY:-local-evidence}"
SECRET_KEY="${ADUAN_S3_SECRET_KEY:-local-evidence-secret}"
BUCKET="${ADUAN_S3_BUCKET:-aduan-evidence}"
VERSION="$(awk '$1 == "require" && $2 == "github.com/seaweedfs/seaweedfs" {print $3}' "$MODULE/go.mod")"
# weed mini listens on many ports; each gRPC port is its HTTP port + 10000 (all below 32768, see ports.sh).
MASTER_PORT=$((S3_PORT - 500)) VOLUME_PORT=$((S3_PORT - 493)) FILER_PORT=$((S3_PORT + 55))
ICEBERG_PORT=$((S3_PORT + 1)) LANCE_PORT=$((S3_PORT + 2)) ADMIN_PORT=$((S3_PORT - 300))
PORTS=("$S3_PORT" "$((S3_PORT + 10000))" "$MASTER_PORT" "$((MASTER_PORT + 10000))" "$VOLUME_PORT"
       "$((VOLUME_PORT + 10000))" "$FILER_PORT" "$((FILER_PORT + 10000))" "$ICEBERG_PORT" "$LANCE_PORT"
       "$ADMIN_PORT" "$((ADMIN_PORT + 10000))")
WAIT=60  # seconds

# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
log() { echo "s3: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install() {
  local built="$BIN/.weed-$VERSION"
  [[ -x "$BIN/weed" && -f "$built" ]] && return 0
  log "building SeaweedFS $VERSION from the Go module proxy (minutes; cached after)"
  # go install refuses the module (its go.mod has a replace); $MODULE requires it with that replace.
  mkdir -p "$BIN"
  (cd "$MODULE" && GOFLAGS="-mod=readonly -p=2" go build -trimpath -ldflags "-s -w" -o "$BIN/weed" \
      github.com/seaweedfs/seaweedfs/weed)
  touch "$built"
}

pid() {  # the pid in $DIR/weed.pid if that process is still weed (pids are reused)
  local p
  [[ -f "$DIR/weed.pid" ]] && p="$(cat "$DIR/weed.pid")" && [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == weed ]] \
    && echo "$p"
}

s3_answers() {  # any HTTP answer from the S3 port (403 without credentials) means the gateway is up
  [[ "$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" 2>/dev/null)" =~ ^[1-5] ]]
}

config() {  # one identity with every right on our bucket: the services' (their S3 client signs as it)
  local v
  for v in "$ACCESS_KEY" "$SECRET_KEY" "$BUCKET"; do [[ "$v" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad value '$v'"; done
  cat >"$DIR/s3.json" <<EOF
{"identities": [{"name": "aduan", "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
                 "actions": ["Read:$BUCKET", "Write:$BUCKET", "List:$BUCKET", "Tagging:$BUCKET", "Admin:$BUCKET"]}]}
EOF
  chmod 600 "$DIR/s3.json"
}

start() {
  [[ -x "$BIN/weed" ]] || die "not built: run deploy/local/s3.sh install"
  mkdir -p "$DIR/data"
  if pid >/dev/null; then
    s3_answers && return 0
  else
    local p
    for p in "${PORTS[@]}"; do [[ -z "$(ss -Hltn "sport = :$p")" ]] || die "$(port_holder "$p")"; done
    config
    # Telemetry, WebDAV and the admin UI off: nothing leaves the machine, nothing listens that we do not use.
    setsid "$BIN/weed" mini -dir "$DIR/data" -ip 127.0.0.1 -ip.bind 127.0.0.1 \
      -master.port "$MASTER_PORT" -volume.port "$VOLUME_PORT" -filer.port "$FILER_PORT" \
      -s3.port "$S3_PORT" -s3.port.iceberg "$ICEBERG_PORT" -s3.port.lance "$LANCE_PORT" \
      -s3.config "$DIR/s3.json" -bucket "$BUCKET" \
      -admin.port "$ADMIN_PORT" -admin.port.legacy 0 \
      -master.telemetry=false -webdav=false -admin.ui=false \
      >>"$DIR/weed.log" 2>&1 </dev/null &
    echo $! >"$DIR/weed.pid"
    await_exec $!
  fi
  local i
  for ((i = 0; i < WAIT * 5; i++)); do
    s3_answers && { log "S3 on http://127.0.0.1:$S3_PORT, bucket $BUCKET"; return 0; }
    pid >/dev/null || break
    sleep 0.2
  done
  tail -n 30 "$DIR/weed.log" >&2 || true
  die "SeaweedFS S3 did not answer on 127.0.0.1:$S3_PORT (log: $DIR/weed.log)"
}

stop() {
  local p i
  p="$(pid)" || return 0
  kill "$p" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if pid >/dev/null && s3_answers; then echo "running"; else echo "stopped"; exit 1; fi ;;
  reset) stop; rm -rf "$DIR" ;;
  *) echo "usage: $0 install|start|stop|status|reset" >&2; exit 2 ;;
esac
