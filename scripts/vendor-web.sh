#!/usr/bin/env bash
# Fetch the web client's third-party browser libraries from the npm registry at the
# pinned versions below and copy their browser builds and licences into
# services/gateway/internal/web/static/vendor/. The result is committed, so neither
# building nor testing the gateway needs Node.js or the network; run this (via
# `make vendor-web`) only to change a version, then commit the vendor folder.
set -euo pipefail

MARKED_VERSION=18.2.1
DOMPURIFY_VERSION=3.4.18
HIGHLIGHT_VERSION=11.12.0 # @highlightjs/cdn-assets: prebuilt browser bundles of highlight.js
HIGHLIGHT_THEME=github-dark

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/services/gateway/internal/web/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v npm >/dev/null || { echo "vendor-web: npm is required (apt-get install npm)" >&2; exit 1; }

(cd "$tmp" && npm pack --silent \
  "marked@$MARKED_VERSION" \
  "dompurify@$DOMPURIFY_VERSION" \
  "@highlightjs/cdn-assets@$HIGHLIGHT_VERSION" >/dev/null)

unpack() { mkdir -p "$tmp/$1" && tar -xzf "$tmp/$2" -C "$tmp/$1" --strip-components=1; }
unpack marked "marked-$MARKED_VERSION.tgz"
unpack dompurify "dompurify-$DOMPURIFY_VERSION.tgz"
unpack hljs "highlightjs-cdn-assets-$HIGHLIGHT_VERSION.tgz"

# Source-map comments are dropped: the maps are not shipped and browsers would
# otherwise request them (404s in the console).
copy_js() { grep -v '^//# sourceMappingURL=' "$1" >"$2"; }

rm -rf "$dest"
mkdir -p "$dest/marked" "$dest/dompurify" "$dest/highlight"
copy_js "$tmp/marked/lib/marked.esm.js" "$dest/marked/marked.esm.js"
cp "$tmp/marked/LICENSE" "$dest/marked/LICENSE"
copy_js "$tmp/dompurify/dist/purify.es.mjs" "$dest/dompurify/purify.es.mjs"
cp "$tmp/dompurify/LICENSE" "$dest/dompurify/LICENSE"
copy_js "$tmp/hljs/es/highlight.min.js" "$dest/highlight/highlight.min.js"
cp "$tmp/hljs/styles/$HIGHLIGHT_THEME.min.css" "$dest/highlight/theme.min.css"
cp "$tmp/hljs/LICENSE" "$dest/highlight/LICENSE"

cat >"$dest/VERSIONS" <<VERSIONS
# Written by scripts/vendor-web.sh; do not edit by hand.
marked $MARKED_VERSION (MIT) lib/marked.esm.js
dompurify $DOMPURIFY_VERSION (MPL-2.0 OR Apache-2.0) dist/purify.es.mjs
@highlightjs/cdn-assets $HIGHLIGHT_VERSION (BSD-3-Clause) es/highlight.min.js (common languages), styles/$HIGHLIGHT_THEME.min.css
VERSIONS
echo "vendor-web: wrote $dest" >&2
