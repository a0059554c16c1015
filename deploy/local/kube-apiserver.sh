#!/usr/bin/env bash
# A real Kubernetes API server for checking deploy/k8s: kube-apiserver and kubectl v1.37.2 built from
# the Go module proxy, on Debian's etcd, on 127.0.0.1 only.  There is no scheduler, controller manager
# or kubelet: objects are validated, defaulted, admitted (PodSecurity included) and stored, never run.
# Usage: deploy/local/kube-apiserver.sh install|start|stop
#   install  apt-get etcd-server; build both binaries into .local/bin (once; ~7 min cold, ~4 with Go's
#            build cache). The module in deploy/local/kube-apiserver/ pins every dependency (go.sum).
#   start    a fresh etcd and kube-apiserver; writes $DIR/kubeconfig (an admin in system:masters).
#   stop     stops both.
# Env: ADUAN_STATE_DIR (default <repo>/.local; files go to $ADUAN_STATE_DIR/kube-apiserver),
#   ADUAN_KUBE_APISERVER_PORT (16443), ADUAN_KUBE_ETCD_PORT (23790; peer port is it + 10).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="$REPO/.local/bin"
MODULE="$HERE/kube-apiserver"
DIR="${ADUAN_STATE_DIR:-$REPO/.local}/kube-apiserver"
PORT="${ADUAN_KUBE_APISERVER_PORT:-16443}"
ETCD_PORT="${ADUAN_KUBE_ETCD_PORT:-23790}"
ETCD_PEER_PORT=$((ETCD_PORT + 10))
VERSION=v1.37.2  # = the k8s.io/kubernetes that $MODULE/go.mod requires
WAIT=60          # seconds, for each readiness wait

# shellcheck source=deploy/local/ports.sh
source "$HERE/ports.sh"
log() { echo "kube-apiserver: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install() {
  if ! command -v etcd >/dev/null || ! command -v openssl >/dev/null; then
    [[ $EUID -eq 0 ]] || die "etcd is not installed; run as root: apt-get update && apt-get install -y etcd-server openssl"
    log "installing Debian's etcd-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server openssl >/dev/null
  fi
  local built="$BIN/.kube-apiserver-$VERSION"
  [[ -x "$BIN/kube-apiserver" && -x "$BIN/kubectl" && -f "$built" ]] && return 0
  log "building kube-apiserver and kubectl $VERSION from the Go module proxy (minutes; cached after)"
  # go install refuses k8s.io/kubernetes (its go.mod replaces the staging modules with local
  # paths), so $MODULE requires it and replaces each staging module with its published v0.37.2.
  # Without the -X flags both binaries report a placeholder version.
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitTreeState=clean"
  done
  mkdir -p "$BIN"
  (cd "$MODULE" && GOFLAGS="-mod=readonly -p=2" go build -trimpath -ldflags "$ld" -o "$BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
  "$BIN/kube-apiserver" --version | grep -qF "$VERSION" || die "built kube-apiserver is not $VERSION"
  touch "$built"
}

pid_of() {  # the pid in $DIR/<name>.pid if that process still runs <name> (pids are reused)
  local f="$DIR/$1.pid" pid
  [[ -f "$f" ]] && pid="$(cat "$f")" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]] && echo "$pid"
}

wait_for() {  # wait_for <what> <log> <command...>: bounded, shows the log on failure
  local what="$1" logfile="$2" i; shift 2
  for ((i = 0; i < WAIT * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  tail -n 30 "$logfile" >&2 || true
  die "$what: not after ${WAIT}s (log: $logfile)"
}

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_ready() {
  [[ "$(curl -sS --max-time 2 --cacert "$DIR/certs/apiserver.crt" -H "Authorization: Bearer $(token)" \
      -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/readyz" 2>/dev/null)" == 200 ]]
}
token() { cut -d, -f1 "$DIR/tokens.csv"; }

start() {
  [[ -x "$BIN/kube-apiserver" ]] || die "not built: run deploy/local/kube-apiserver.sh install"
  stop
  local p
  for p in "$PORT" "$ETCD_PORT" "$ETCD_PEER_PORT"; do
    [[ -z "$(ss -Hltn "sport = :$p")" ]] || die "$(port_holder "$p")"
  done
  rm -rf "$DIR" && mkdir -p "$DIR/certs" && chmod 700 "$DIR"
  # Service-account signing key and a static token: the least kube-apiserver starts with.
  openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DIR/sa.key" -pubout -out "$DIR/sa.pub" 2>/dev/null
  echo "$(openssl rand -hex 24),admin,admin,\"system:masters\"" >"$DIR/tokens.csv"

  setsid etcd --name aduan-check --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "aduan-check=http://127.0.0.1:$ETCD_PEER_PORT" >"$DIR/etcd.log" 2>&1 </dev/null &
  echo $! >"$DIR/etcd.pid"
  await_exec $!
  wait_for "etcd healthy" "$DIR/etcd.log" etcd_healthy

  # The serving certificate is self-signed into certs/ with 127.0.0.1 among its names, so the
  # kubeconfig can verify it.
  setsid "$BIN/kube-apiserver" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT" \
    --cert-dir "$DIR/certs" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$DIR/sa.pub" --service-account-signing-key-file "$DIR/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
    --token-auth-file "$DIR/tokens.csv" --authorization-mode RBAC \
    >"$DIR/kube-apiserver.log" 2>&1 </dev/null &
  echo $! >"$DIR/kube-apiserver.pid"
  await_exec $!
  wait_for "certificate written" "$DIR/kube-apiserver.log" test -s "$DIR/certs/apiserver.crt"
  wait_for "kube-apiserver ready" "$DIR/kube-apiserver.log" apiserver_ready

  local kubeconfig="$DIR/kubeconfig"
  "$BIN/kubectl" --kubeconfig "$kubeconfig" config set-cluster check --server "https://127.0.0.1:$PORT" \
    --certificate-authority "$DIR/certs/apiserver.crt" --embed-certs >/dev/null
  "$BIN/kubectl" --kubeconfig "$kubeconfig" config set-credentials admin --token "$(token)" >/dev/null
  "$BIN/kubectl" --kubeconfig "$kubeconfig" config set-context check --cluster check --user admin >/dev/null
  "$BIN/kubectl" --kubeconfig "$kubeconfig" config use-context check >/dev/null
  log "ready on https://127.0.0.1:$PORT (KUBECONFIG=$kubeconfig)"
}

stop() {
  local name comm pid i
  for name in kube-apiserver:kube-apiserver etcd:etcd; do
    comm="${name#*:}"; name="${name%%:*}"
    pid="$(pid_of "$name" "$comm")" || continue
    kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
