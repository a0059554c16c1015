#!/usr/bin/env bash
# axe-core (Deque's accessibility engine, from the npm registry) for the back-office's browser tests:
# tests/e2e inject it into each page in chromium and fail on any WCAG A/AA violation. Idempotent.
set -euo pipefail
VERSION=4.14.1
INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$REPO/.local/axe"
if [[ -f "$OUT/axe.min.js" && "$(cat "$OUT/VERSION" 2>/dev/null)" == "$VERSION" ]]; then exit 0; fi
command -v npm >/dev/null || { echo "axe: npm is missing (Debian: apt-get install -y npm)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "axe-core@$VERSION" >/dev/null)
TARBALL="$WORK/axe-core-$VERSION.tgz"
GOT="sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)"
if [[ "$GOT" != "$INTEGRITY" ]]; then
  echo "axe: axe-core-$VERSION.tgz does not match the pinned integrity ($GOT)" >&2
  exit 1
fi
tar -xzf "$TARBALL" -C "$WORK" package/axe.min.js package/LICENSE
mkdir -p "$OUT"
mv "$WORK/package/axe.min.js" "$WORK/package/LICENSE" "$OUT/"
echo "$VERSION" > "$OUT/VERSION"
echo "axe: axe-core $VERSION in $OUT" >&2
