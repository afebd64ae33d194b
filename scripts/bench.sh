#!/usr/bin/env bash
# `make bench` / `make bench-quick`: build the benchmark tool and run the
# scenarios of BENCHMARKS.md (M1–M8) against a private stack it starts on
# free ports with fresh bench_* databases and its own Redis/NATS prefix, so
# tests and `make run` on the same machine are not disturbed.
#   scripts/bench.sh quick|full [extra flags for bench/cmd/bench, e.g. -scenarios M1,M5]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
shift || true

./scripts/deps.sh   # PostgreSQL, Redis, NATS up (no browser needed here)

# Every process here is capped at 20,000 open files; the generator opens at
# most 18,000 sockets per process and says so when a scenario would need more.
if [ "$(ulimit -n)" -lt 20000 ]; then
  ulimit -n 20000 2>/dev/null || echo "bench: open-file limit is $(ulimit -n); socket-heavy scenarios may fail" >&2
fi

mkdir -p bench/.work
go build -o bench/.work/cobra-bench ./bench/cmd/bench
exec bench/.work/cobra-bench -mode "$mode" -root . "$@"
