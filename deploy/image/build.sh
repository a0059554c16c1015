#!/usr/bin/env bash
# `make image`: builds the project's Dockerfile, unchanged, with podman (no Docker engine here).
# Tags: registry.kedirikota.go.id/aduan/aduan:dev (deploy/k8s/overlays/dev) and the release the
# production overlay names (its images: newTag). Nothing is pushed.
# Env: ADUAN_IMAGE (registry.kedirikota.go.id/aduan/aduan), ADUAN_DEBIAN_MIRROR (the mirror apt uses).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMAGE="${ADUAN_IMAGE:-registry.kedirikota.go.id/aduan/aduan}"
BASE="docker.io/library/python:3.11.7-slim-bookworm"  # the Dockerfile's FROM
STANDIN_LABEL="aduan.local-standin=true"

log() { echo "image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=deploy/image/podman.sh
source "$HERE/podman.sh"

# The release tag is the production overlay's, so the image and the manifests cannot drift apart.
VERSION="$(awk '/newTag:/ {print $2; exit}' "$REPO/deploy/k8s/overlays/production/kustomization.yaml")"
[[ -n "$VERSION" ]] || die "no newTag in deploy/k8s/overlays/production/kustomization.yaml"
grep -q "FROM python:3.11.7-slim-bookworm" "$REPO/Dockerfile" || die "the Dockerfile's base changed: update BASE here"

apt_uri() {  # apt_uri PATTERN: the first archive this machine's apt uses whose URI ends so (deb822 or one-line)
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
  } | grep -E "$1" | head -n1 || true
}

# A LOCAL STAND-IN for the official python:3.11.7-slim-bookworm, used only when that image cannot be
# pulled (image registries are unreachable here). Debian bookworm minbase plus Debian's python3.11
# (3.11.2, not 3.11.7; in /usr/bin, linked as /usr/local/bin/python like the official image's) and what
# the official slim image also carries (ca-certificates, netbase, tzdata: the services use Asia/Jakarta).
# Labelled aduan.local-standin=true; an image built on it is for local checks, never for a registry.
build_standin_base() {
  local mirror security root t0=$SECONDS
  mirror="${ADUAN_DEBIAN_MIRROR:-$(apt_uri '/debian/?$')}"; mirror="${mirror:-http://deb.debian.org/debian}"
  security="$(apt_uri '/debian-security/?$')"
  root="$(mktemp -d /var/tmp/aduan-base.XXXXXX)"
  # shellcheck disable=SC2064  # expand now: the path is fixed
  trap "rm -rf '$root' '$root.log'" EXIT
  log "building a local stand-in for $BASE: debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" "$root/debootstrap/debootstrap.log" >&2; die "debootstrap failed"; }
  # Python with apt inside the tree, not debootstrap --include: its resolver cannot pick
  # python3.11-venv's dependency alternatives (python3.11-distutils).
  { echo "deb $mirror bookworm main"; echo "deb $mirror bookworm-updates main"
    [[ -z "$security" ]] || echo "deb $security bookworm-security main"; } >"$root/etc/apt/sources.list"
  { chroot "$root" apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
           python3.11 python3.11-venv ca-certificates netbase tzdata; } >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; die "apt-get install in the stand-in failed"; }
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python"
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3"
  chroot "$root" python -m venv --without-pip /tmp/venv-check || die "python -m venv does not work in the stand-in"
  # What the official image does not hold either: apt's caches and lists, logs.
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
         "$root"/var/log/* "$root"/tmp/* "$root"/tmp/.[!.]* "$root"/debootstrap
  tar -C "$root" -c . | pm import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change "LABEL $STANDIN_LABEL" \
      --change 'LABEL org.opencontainers.image.description="LOCAL STAND-IN for python:3.11.7-slim-bookworm: Debian bookworm minbase + Debian python3.11 (deploy/image/build.sh)"' \
      --change 'CMD ["python3"]' \
      --message "local stand-in for $BASE (debootstrap + Debian python3.11), not the official image" \
      - "$BASE" >/dev/null
  rm -rf "$root" "$root.log"; trap - EXIT
  log "stand-in base imported as $BASE (label $STANDIN_LABEL) in $((SECONDS - t0)) s"
}

ensure_tools podman runc debootstrap

if pm image exists "$BASE"; then
  log "base $BASE already in podman's storage"
elif timeout 120 podman --runtime runc pull -q "$BASE" >/dev/null 2>&1; then
  log "pulled $BASE"
else
  build_standin_base
fi

# This machine reaches PyPI through a TLS-inspecting proxy whose CA only the host's bundle holds (pip here
# is told so by /etc/pip.conf or PIP_CERT). The build's RUN steps get that bundle and a pip.conf naming it as
# read-only build-time mounts: nothing of them lands in a layer, and the Dockerfile stays as it is.
CA_BUNDLE="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
BUILD_MOUNTS=()
if [[ -f "$CA_BUNDLE" ]]; then
  PIPCONF="$REPO/.local/image/pip.conf"; mkdir -p "${PIPCONF%/*}"
  { echo "[global]"; echo "cert = /etc/ssl/certs/ca-certificates.crt"
    [[ -z "${PIP_INDEX_URL:-}" ]] || echo "index-url = $PIP_INDEX_URL"; } >"$PIPCONF"
  BUILD_MOUNTS=(-v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" -v "$PIPCONF:/etc/pip.conf:ro")
fi

t0=$SECONDS
# --network host: pip in the build stage reaches PyPI through the host's network (no CNI bridge needed);
# layers are cached, so an unchanged tree rebuilds in seconds.
pm build --network host --layers "${BUILD_MOUNTS[@]}" -f "$REPO/Dockerfile" \
    -t "$IMAGE:dev" -t "$IMAGE:$VERSION" "$REPO"
log "built $IMAGE:dev and $IMAGE:$VERSION in $((SECONDS - t0)) s"
