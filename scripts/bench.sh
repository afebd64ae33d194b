#!/usr/bin/env bash
# `make bench` / `make bench-quick`: build the benchmark tool and run the
# scenarios of BENCHMARKS.md (M1–M8, and S1–S3 side by side with Centrifugo)
# against a private stack it starts on free ports with fresh bench_* databases
# and its own Redis/NATS prefix, so tests and `make run` on the same machine
# are not disturbed.
#   scripts/bench.sh quick|full [extra flags for bench/cmd/bench, e.g. -scenarios M1,M5]
#   scripts/bench.sh side|side-quick [extra flags]   only S1–S3 (full or quick sizes),
#       written to the bench-side / bench-side-quick section of BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
shift || true
case "$mode" in
  side) mode=full; set -- -scenarios S1,S2,S3 -section bench-side "$@" ;;
  side-quick) mode=quick; set -- -scenarios S1,S2,S3 -section bench-side-quick "$@" ;;
esac

./scripts/deps.sh   # PostgreSQL, Redis, NATS up (no browser needed here)

# Every process here is capped at 20,000 open files; the generator opens at
# most 18,000 sockets per process and says so when a scenario would need more.
if [ "$(ulimit -n)" -lt 20000 ]; then
  ulimit -n 20000 2>/dev/null || echo "bench: open-file limit is $(ulimit -n); socket-heavy scenarios may fail" >&2
fi

# The comparison target of S1–S3, built once from the Go module proxy into a
# git-ignored cache (a large module: minutes on two cores the first time).
centrifugo_version=v6.9.1
cache=bench/.cache/bin
if [ ! -x "$cache/centrifugo" ] || [ "$(cat "$cache/centrifugo.version" 2>/dev/null)" != "$centrifugo_version" ]; then
  echo "bench: building Centrifugo $centrifugo_version into $cache (first run only)" >&2
  mkdir -p "$cache"
  if GOWORK=off GOBIN="$PWD/$cache" timeout 1800 go install "github.com/centrifugal/centrifugo/v6@$centrifugo_version"; then
    echo "$centrifugo_version" > "$cache/centrifugo.version"
  else
    echo "bench: building Centrifugo failed; S1–S3 will report it as not measured" >&2
  fi
fi

mkdir -p bench/.work
go build -o bench/.work/cobra-bench ./bench/cmd/bench
exec bench/.work/cobra-bench -mode "$mode" -root . "$@"
