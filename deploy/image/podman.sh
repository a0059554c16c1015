# shellcheck shell=bash
# Sourced by deploy/image/build.sh and check.sh: podman as this project runs it, and its installation.
# podman from Debian (4.3), as root, with runc: crun fails on this kind of host's hybrid cgroups, and the
# sandbox lacks CAP_SYS_RESOURCE, so containers.conf here sets no default ulimits (podman would raise
# them). CONTAINERS_CONF points podman at the project's file instead of /etc.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$HERE/containers.conf}"

pm() { podman --runtime runc "$@"; }

ensure_tools() {  # ensure_tools DEBIAN_PACKAGE...: installs what is missing (CI starts from a clean machine)
  local missing=() pkg
  for pkg in "$@"; do dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  [[ $EUID -eq 0 ]] || die "${missing[*]} not installed: apt-get install -y ${missing[*]}"
  log "installing ${missing[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
