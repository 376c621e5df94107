# tradestream — the two commands a new user runs are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/tradestream

.PHONY: all build demo test test-short soak bench stack-up stack-down stack-status vet fmt clean

all: build

## build: the tradestream binary (with the dashboard's assets embedded)
build:
	scripts/build

## demo: bring up Kafka and PostgreSQL, build, and run the whole pipeline with example alert
## rules, a market scenario every few minutes (TRADESTREAM_GEN_SCENARIO=none: off) and the
## file holding the dashboard token named (scripts/demo token prints it)
demo: stack-up build
	set -a; source .stack/env; set +a; BIN=$(BIN) exec scripts/demo up

## test: bring up the stack, run every test against the real services, stop what was started
test:
	scripts/test

## test-short: unit tests only, no services needed
test-short:
	$(GO) test -short ./...

## soak: the broker fault scenarios of the 3-broker cluster (internal/sink's TestFault*
## on the cluster), each run 3 minutes with its fault repeated 4 times (TRADESTREAM_SOAK=1;
## TRADESTREAM_TEST_FAULT_RATE sets the generator's events/s, 20000 by default). Needs the
## stack up with --brokers 3; never part of `make test`.
soak:
	set -a; source .stack/env; set +a; TRADESTREAM_SOAK=1 TRADESTREAM_TEST_REQUIRE_SERVICES=1 \
		$(GO) test -tags faults -p 1 -count=1 -v -timeout 3h -run 'TestFault(LeaderLoss|HungBroker|ControllerLoss|RollingRestart|QuorumLost|ConsumerFailover)$$' ./internal/sink/

## bench: the benchmarks behind BENCHMARKS.md (needs the stack)
bench: stack-up build
	set -a; source .stack/env; set +a; $(BIN) bench produce --json && $(BIN) bench sink --json

stack-up:
	scripts/stack up

stack-down:
	scripts/stack down

stack-status:
	scripts/stack status

vet:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
