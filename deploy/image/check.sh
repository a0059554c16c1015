#!/usr/bin/env bash
# `make image-check`: the image run as the manifests run it, against `make infra`'s Kafka and PostgreSQL
# (the work is in deploy/image/check.py). Env: ADUAN_KAFKA_PORT, ADUAN_PG_PORT (as deploy/local/*.sh),
# ADUAN_IMAGE_CHECK_TIMEOUT (120 s per container).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
log() { echo "image-check: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=deploy/image/podman.sh
source "$HERE/podman.sh"
ensure_tools podman runc

# check.py removes its containers itself; this catches what it cannot (killed, or failing before its
# `finally`), so nothing is left listening on the ports whatever happens.
remove_containers() {
  local names; names="$(podman ps -a --filter label=aduan.image-check=1 --format '{{.Names}}')"
  [[ -z "$names" ]] || { log "removing $names"; xargs podman rm -f -t 5 <<<"$names" >/dev/null; }
}
trap remove_containers EXIT
remove_containers  # a previous run's, killed before it could

cd "$REPO"
# tests.support.processes has the passwords the suite gives the shared Kafka users and database roles.
PYTHONPATH="$REPO" "$REPO/.venv/bin/python" "$HERE/check.py"
