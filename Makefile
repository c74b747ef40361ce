# The function's everyday commands. Everything needs only Go; `make run` and the tests
# start their own ECS/EventBridge emulator and FC runtime, so no cloud account is used.

GO      ?= go
EVENT   ?= events/http.json
ARGS    ?=
DIST    ?= dist

.PHONY: run test vet race fuzz bench build emulator clean

## run: invoke the built function once, as FC would, against the embedded emulator (EVENT=file, ARGS=flags)
run:
	$(GO) run ./cmd/local invoke -e $(EVENT) $(ARGS)

## test: vet, then every test with the race detector
test: vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

## fuzz: fuzz the decoding of trigger payloads (envelopes, events, requests) for FUZZTIME (default 30s)
## (minimizing a new input stops after FUZZMINTIME, so that the fuzzer never stalls for long)
FUZZTIME ?= 30s
FUZZMINTIME ?= 2s
fuzz:
	$(GO) test ./handler -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME)

## bench: fleet-scale benchmark (N = 30..10000, 50 ms latency, 20 calls/s quota per API)
bench:
	$(GO) run ./cmd/bench $(ARGS)

## build: the function binary, as FC runs it (linux, static)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(DIST)/main .

## emulator: serve the ECS/EventBridge emulator alone on 127.0.0.1:8300
emulator:
	$(GO) run ./cmd/emulator -addr 127.0.0.1:8300

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
