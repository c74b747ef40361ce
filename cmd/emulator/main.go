// Command emulator runs the local ECS, ENS and EventBridge API emulator alone,
// for the function, the SDKs or the aliyun CLI to talk to.
//
//	go run ./cmd/emulator -addr 127.0.0.1:8300 [-fixture fleet.json] [-ens-fixture ens.json] [-seed N]
//	    [-api DetachKeyPair] [-latency 50ms] [-jitter 20ms] [-qps 20]
//	    [-throttle-rate 0.1] [-error-rate 0.05] [-drop-rate 0.01] [-forbidden-rate 0]
//	    [-drop-after-rate 0.01] [-error-after-rate 0.01] [-empty-rate 0] [-null-rate 0]
//	    [-expose-key-pair-ids] [-buses detach-results] [-log json]
//
// It logs one line per request (API, status, error code, duration) and never
// logs secrets. See emulator/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"detachkeypair/emulator"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8300", "address to listen on")
	fixture := flag.String("fixture", "", "fixture JSON file (default: the embedded fleet)")
	ensFixture := flag.String("ens-fixture", "", "ENS fixture JSON file (default: the embedded ENS fleet)")
	seed := flag.Int64("seed", 1, "seed of the fault injection's random source")
	api := flag.String("api", "*", "API the fault flags apply to: "+strings.Join(emulator.APIs(), ", ")+`, or "*" for all`)
	var f emulator.Fault
	f.RegisterFlags(flag.CommandLine)
	buses := flag.String("buses", "", "comma-separated EventBridge buses that exist (default: any)")
	keyID := flag.String("access-key-id", emulator.DefaultAccessKeyID, "AccessKey id to accept")
	keySecret := flag.String("access-key-secret", "", "AccessKey secret to accept (default: the local one, or $EMULATOR_ACCESS_KEY_SECRET)")
	token := flag.String("security-token", "", "STS token that requests must carry (for an STS.… key id)")
	exposeIDs := flag.Bool("expose-key-pair-ids", false, "DescribeKeyPairs answers KeyPairId (undocumented: the API reference and the SDK's model have no such field)")
	logFormat := flag.String("log", "text", "log format: text or json")
	flag.Parse()

	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(os.Stderr, nil)
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, nil)
	default:
		return fmt.Errorf("-log %q: want text or json", *logFormat)
	}
	logger := slog.New(handler)

	cfg := emulator.Config{Seed: *seed, Logger: logger, ExposeKeyPairIDs: *exposeIDs}
	if *fixture != "" {
		fx, err := emulator.LoadFixture(*fixture)
		if err != nil {
			return err
		}
		cfg.Fixture = fx
	}
	if *ensFixture != "" {
		fx, err := emulator.LoadENSFixture(*ensFixture)
		if err != nil {
			return err
		}
		cfg.ENSFixture = fx
	}
	if f != (emulator.Fault{}) {
		cfg.Faults = map[string]emulator.Fault{*api: f}
	}
	if *buses != "" {
		cfg.Buses = strings.Split(*buses, ",")
	}
	secret := *keySecret
	if secret == "" {
		secret = os.Getenv("EMULATOR_ACCESS_KEY_SECRET")
	}
	localKey := secret == "" && *keyID == emulator.DefaultAccessKeyID
	if secret == "" {
		secret = emulator.DefaultAccessKeySecret
	}
	cfg.Credentials = []emulator.Credential{{AccessKeyID: *keyID, AccessKeySecret: secret, SecurityToken: *token}}

	srv, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(*addr); err != nil {
		return err
	}
	defer srv.Close()

	shownSecret := "<the secret you gave>"
	if localKey {
		shownSecret = emulator.DefaultAccessKeySecret // the fake local key, documented in README.md
	}
	ep := srv.Endpoint()
	ensState := srv.ENSState()
	fmt.Printf(`ECS (2014-05-26), ENS (2017-11-10) and EventBridge emulator listening on %s
  state: %d regions, %d key pairs, %d instances; ENS: %d edge regions, %d key pairs, %d instances; faults: %s
  credential:  AccessKeyId %s  AccessKeySecret %s

  Go SDK:      openapi.Config{Endpoint: "%s", Protocol: "http", AccessKeyId, AccessKeySecret, RegionId}
  EventBridge: eventbridge.Config{Endpoint: "%s", Protocol: "http", AccessKeyId, AccessKeySecret}
  function:    ECS_ENDPOINT=%s ENS_ENDPOINT=%s EVENTBRIDGE_ENDPOINT=%s
               make run ARGS="--emulator %s" (signs with the local key above)
  aliyun CLI:  aliyun configure set --profile emulator --mode AK --region cn-hangzhou --access-key-id %s --access-key-secret …
               aliyun ecs DescribeInstances --profile emulator --endpoint %s --insecure --RegionId cn-hangzhou
  admin:       curl %s/_emulator/state   (also ens/state, calls, events?bus=NAME, faults, schedule, POST reset)
`, srv.URL(), len(srv.State().Regions), len(srv.KeyPairs()), len(srv.Instances()),
		len(ensState.EnsRegions), len(ensState.KeyPairs), len(ensState.Instances), describeFaults(srv.Faults()),
		*keyID, shownSecret, ep, ep, srv.URL(), srv.URL(), srv.URL(), srv.URL(), *keyID, ep, srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

func describeFaults(faults map[string]emulator.Fault) string {
	if len(faults) == 0 {
		return "none"
	}
	var parts []string
	for api, f := range faults {
		parts = append(parts, fmt.Sprintf("%s %+v", api, f))
	}
	return strings.Join(parts, "; ")
}
