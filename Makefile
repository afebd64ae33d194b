# Cobra Space developer commands. `make run` starts the whole system locally,
# `make test` runs every test. See README.md.
SHELL := /bin/bash
MODULES := deploy platform proto services/user services/chat services/post services/gateway
PKGS := $(MODULES:%=./%/...)
GO_TEST_FLAGS ?= -count=1 -timeout 15m

.PHONY: run test deps proto proto-check fmt lint build bench

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

fmt:
	gofmt -w $(MODULES)

## lint: gofmt, go vet, go mod verify
lint:
	@bad=$$(gofmt -l $(MODULES) | grep -v '\.pb\.go$$' || true); \
	  if [ -n "$$bad" ]; then echo "not gofmt-formatted:"; echo "$$bad"; exit 1; fi
	go vet $(PKGS)
	@for m in $(MODULES); do (cd $$m && go mod verify >/dev/null) || exit 1; done

## build: build every binary into bin/
build:
	@mkdir -p bin
	go build -o bin/ ./services/user ./services/chat ./services/post ./services/gateway ./platform/cmd/keygen

bench:
	@echo "make bench: the load generator lands with the performance issue (#8)" >&2; exit 1
