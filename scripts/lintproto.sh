#!/usr/bin/env bash
# Lints the .proto files under proto/ with buf (rules: proto/buf.yaml) and
# checks that they make no breaking change against the proto/ committed on a
# base ref: main, or $PROTO_BREAKING_AGAINST (any commit-ish, e.g. origin/main).
#
# buf is pinned in tools/buf/go.mod and built from the Go module proxy by
# `go tool`, which caches the binary: the first run on a machine takes a few
# minutes (about 4.5 min from empty Go caches), later runs about a second.
# tools/buf is a module of its own, outside go.work, so buf's many
# dependencies never change the versions the services are built with.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${PROTO_BREAKING_AGAINST:-main}

buf=$(GOWORK=off go -C "$root/tools/buf" tool -n buf)
cd "$root/proto"
"$buf" lint

# The base side is the committed tree of the base ref, unpacked with
# git archive: unlike buf's own .git input this works the same in a clone,
# in a git worktree (where .git is a file) and in a shallow clone, as long as
# the base commit itself was fetched. The current side is the working tree.
if ! git -C "$root" rev-parse -q --verify "$base^{commit}" >/dev/null 2>&1; then
  if git -C "$root" rev-parse -q --verify "origin/$base^{commit}" >/dev/null 2>&1; then
    base=origin/$base
  else
    echo "lint-proto: buf breaking SKIPPED: no '$base' ref here (not a git clone, or a shallow/single-branch" \
      "clone without it). Fetch it (git fetch --depth=1 origin $base:$base) or set PROTO_BREAKING_AGAINST." >&2
    exit 0
  fi
fi
against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git -C "$root" archive "$base" proto | tar -x -C "$against"
echo "lint-proto: buf breaking against $base ($(git -C "$root" rev-parse --short "$base^{commit}"))"
"$buf" breaking --against "$against/proto"
