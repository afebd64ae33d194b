# Cobra Space developer commands. `make run` starts the whole system locally,
# `make test` runs every test. See README.md.
SHELL := /bin/bash
MODULES := deploy platform proto services/user services/chat services/post services/gateway bench
PKGS := $(MODULES:%=./%/...)
GO_TEST_FLAGS ?= -count=1 -timeout 15m

.PHONY: run test deps proto proto-check fmt lint lint-go build bench vendor-web

## run: start PostgreSQL/Redis/NATS if needed, every service and two gateways (Ctrl-C stops them)
run: deps
	./scripts/run.sh

## test: every test against the real PostgreSQL, Redis, NATS and Chromium
test: deps proto-check lint
	go test $(GO_TEST_FLAGS) $(PKGS)

deps:
	./scripts/deps.sh --browser

## proto: regenerate Go code from proto/**/*.proto with pinned plugins
proto:
	./scripts/genproto.sh

## proto-check: fail when the committed generated code is stale
proto-check:
	./scripts/genproto.sh
	@git diff --exit-code -- proto || { echo "generated code is stale: run make proto and commit" >&2; exit 1; }

## vendor-web: re-fetch the web client's pinned browser libraries from npm (commit the result)
vendor-web:
	./scripts/vendor-web.sh

fmt:
	gofmt -w $(MODULES)

## lint: golangci-lint (lint-go), go mod verify
lint: lint-go
	@for m in $(MODULES); do (cd $$m && go mod verify >/dev/null) || exit 1; done

## lint-go: golangci-lint with .golangci.yml (gofmt, goimports, go vet, staticcheck, gosec, ...) over every module
lint-go:
	./scripts/lint.sh $(PKGS)

## lint-proto: buf lint and buf breaking (against main) for proto/; part of lint. See proto/README.md
.PHONY: lint-proto
lint: lint-proto
lint-proto:
	./scripts/lintproto.sh

## build: build every binary into bin/
build:
	@mkdir -p bin
	go build -o bin/ ./services/user ./services/chat ./services/post ./services/gateway ./platform/cmd/keygen

## bench: M1–M8 and S1–S3 (side by side with Centrifugo v6.9.1, built once into bench/.cache) of BENCHMARKS.md
## against a private stack it starts (two gateways; up to ~45 min);
## writes bench/results/<date>T<time>Z.json and the bench-full section of BENCHMARKS.md. Not part of `make test`.
bench:
	./scripts/bench.sh full

## bench-quick: the same scenarios at small sizes, once each (a few minutes); bench/results/<date>T<time>Z-quick.json
.PHONY: bench-quick
bench-quick:
	./scripts/bench.sh quick

## bench-side: only S1–S3, Cobra Space vs Centrifugo at full size, 3 runs (~15 min); the bench-side section of BENCHMARKS.md
.PHONY: bench-side bench-side-quick
bench-side:
	./scripts/bench.sh side

## bench-side-quick: S1–S3 at small sizes, once (~2 min); the bench-side-quick section of BENCHMARKS.md
bench-side-quick:
	./scripts/bench.sh side-quick

## soak: sustained chat load for SOAK_DURATION (default 10m) on a private stack, sampling RSS, goroutines
## and open fds of every process every 10 s; fails on monotonic growth or lost messages. Not part of `make test`.
.PHONY: soak
soak: deps
	./scripts/soak.sh

## images: build every service image (cobraspace/<svc>:$(VERSION)) with Docker, context = repository root
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
IMAGE_PREFIX ?= cobraspace
.PHONY: images
images:
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
	  echo "make images: no Docker engine here (docker info failed); the Dockerfile is checked by 'cd deploy && go test ./...' instead" >&2; exit 1; fi
	@for svc in user post chat gateway; do \
	  echo "building $(IMAGE_PREFIX)/$$svc:$(VERSION)"; \
	  docker build -f deploy/Dockerfile --build-arg SERVICE=$$svc --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
	    -t $(IMAGE_PREFIX)/$$svc:$(VERSION) . || exit 1; \
	done
	docker build -f deploy/compose/keygen.Dockerfile -t $(IMAGE_PREFIX)/keygen:$(VERSION) .
