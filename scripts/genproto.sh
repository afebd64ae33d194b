#!/usr/bin/env bash
# Regenerates the Go code of every .proto under proto/ with pinned plugins:
# protoc-gen-go and protoc-gen-go-grpc come from proto/go.mod's tool directives,
# protoc from Debian's protobuf-compiler package.
set -euo pipefail
cd "$(dirname "$0")/../proto"
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
find . -name '*.proto' -print0 | xargs -0 protoc -I . \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" --go_out=. --go_opt=paths=source_relative \
  --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" --go-grpc_out=. --go-grpc_opt=paths=source_relative
