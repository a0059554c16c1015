#!/usr/bin/env bash
# Debian's chromium and chromedriver for the web form's browser test (tests/e2e). Idempotent.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then exit 0; fi
if [[ $EUID -ne 0 ]]; then
  echo "browser: chromium is missing; as root run: apt-get update && apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
echo "browser: installing chromium and chromium-driver from Debian packages" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
