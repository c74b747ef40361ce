# The function's everyday commands. Everything needs only Go; `make run`, `make serve`
# and the tests start their own ECS/ENS/EventBridge emulator and FC runtime, so no cloud
# account is used. `make help` lists the targets.

GO      ?= go
EVENT   ?= events/http.json
ARGS    ?=
ADDR    ?= 127.0.0.1:9000
DIST    ?= dist
HOST    := $(DIST)/host

.PHONY: help run serve build test vet fuzz bench emulator clean
.PHONY: bench-storm

## help: this list
help:
	@awk 'sub(/^## /, "") { split($$0, a, ": "); printf "  make %-10s %s\n", a[1], substr($$0, length(a[1]) + 3) }' $(MAKEFILE_LIST)

## run: invoke the function once, as FC would, against the emulator, and print what happened (EVENT=file, ARGS="--dry-run ..."; ARGS="-h" lists the flags)
run: build
	$(HOST)/local invoke --binary $(HOST)/detachkeypair -e $(EVENT) $(ARGS)

## serve: the function's HTTP trigger on ADDR (127.0.0.1:9000) for curl, against the emulator; Ctrl-C stops (ARGS as for run)
serve: build
	$(HOST)/local serve --binary $(HOST)/detachkeypair --addr $(ADDR) $(ARGS)

# One go build compiles the function and the local command together, with the settings
# the function is built with (CGO_ENABLED=0), so the packages they share, the standard
# library's network stack included, are compiled once. The first build on a machine
# compiles the cloud SDKs; later ones reuse Go's build cache.
## build: the function and the local command for this machine, in dist/host/ (make package builds the function for FC)
build:
	@test -x $(HOST)/local || echo "building the function and cmd/local: the first build on a machine compiles the standard library and the cloud SDKs (2.5 min of CPU, README: How long a first run takes); later builds take seconds" >&2
	@CGO_ENABLED=0 $(GO) build -o $(HOST)/ . ./cmd/local

## test: vet, then every test with the race detector
test: vet
	$(GO) test -race -count=1 ./...

## vet: go vet ./...
vet:
	$(GO) vet ./...

## fuzz: fuzz the decoding of trigger payloads (envelopes, events, requests) for FUZZTIME (default 30s)
## (minimizing a new input stops after FUZZMINTIME, so that the fuzzer never stalls for long)
FUZZTIME ?= 30s
FUZZMINTIME ?= 2s
fuzz:
	$(GO) test ./handler -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME)

## bench: fleet-scale benchmark (ARGS: -n 30,300,3000,10000 -baseline 30,300 -latency 50ms -qps 20 -by-name -product=ens)
bench:
	CGO_ENABLED=0 $(GO) run ./cmd/bench $(ARGS)

## bench-storm: the event storm: 1000 ECS stop events as asynchronous invocations, the quota shared by the instances, then each at the whole quota (ARGS: -storm-events 1000 -storm-instances 10)
bench-storm:
	CGO_ENABLED=0 $(GO) run ./cmd/bench -storm $(ARGS)

## emulator: serve the ECS/ENS/EventBridge emulator alone on 127.0.0.1:8300 (ARGS: go run ./cmd/emulator -h)
emulator:
	$(GO) run ./cmd/emulator -addr 127.0.0.1:8300 $(ARGS)

## clean: remove dist/
clean:
	rm -rf $(DIST)

# ---- deployment: deploy/README.md ----

.PHONY: package deploy

## package: dist/detach-keypair.zip, the code FC runs: a static linux/amd64 binary `main` (the handler), reproducibly
package:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o $(DIST)/main .
	$(GO) run ./cmd/package -o $(DIST)/detach-keypair.zip $(DIST)/main

## deploy: package, then deploy s.yaml with Serverless Devs (`s`, after `s config add`)
deploy: package
	@command -v s >/dev/null || { echo 'make deploy needs Serverless Devs: npm i -g @serverless-devs/s, then s config add (deploy/README.md)' >&2; exit 1; }
	s deploy -y
