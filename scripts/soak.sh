#!/usr/bin/env bash
# make soak: sustained chat load against a private stack (two gateways,
# fresh databases, own Redis/NATS prefix) for SOAK_DURATION (default 10m),
# sampling goroutines, open fds and RSS of every process every SOAK_SAMPLE
# (default 10s); fails on monotonic growth or any lost/duplicated message.
# Not part of `make test`. See RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_DURATION="${SOAK_DURATION:-10m}"
export SOAK_SAMPLE="${SOAK_SAMPLE:-10s}"
echo "soak: SOAK_DURATION=$SOAK_DURATION SOAK_SAMPLE=$SOAK_SAMPLE"
cd services/gateway
go test -count=1 -run '^TestSoak$' -v -timeout 6h ./internal/faults/ 2>&1 |
	grep -v -e '^=== ' -e '^\s*stack:' | sed -e 's/^ *soak_test.go:[0-9]*: //' -e 's/^ *checker_test.go:[0-9]*: //' -e 's/^ *faults_test.go:[0-9]*: //'
exit "${PIPESTATUS[0]}"
