#!/usr/bin/env bash
# Runs golangci-lint with the repository's .golangci.yml over the packages given as
# arguments (the Makefile passes every module of go.work: ./platform/... ./services/chat/... ...).
# The tool's version is pinned by tools/go.mod, a module of its own outside go.work so that
# the linters' dependencies never change the versions the services build with; the first
# build on a fresh machine fetches it from the Go module proxy (a few minutes), later ones
# come from the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd tools && GOWORK=off go build -o "$bin/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
"$bin/golangci-lint" run "$@"
