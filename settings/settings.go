// Package settings reads the function's settings from its environment and checks them,
// so that a bad setting stops the function at start with a message naming it.
package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"detachkeypair/detach"
	"detachkeypair/endpoint"
)

// Settings are the function's settings; each field names its environment variable.
type Settings struct {
	RegionID       string  // REGION_ID: region when neither the request nor FC gives one
	DefaultProduct string  // DEFAULT_PRODUCT: ECS or ENS, for requests without Product
	ECSEndpoint    string  // ECS_ENDPOINT: overrides the region's ECS endpoint
	ENSEndpoint    string  // ENS_ENDPOINT: overrides ens.aliyuncs.com
	BatchSize      int     // BATCH_SIZE: ids per DetachKeyPair call, 1 to 50 (and at most the product's limit: ENS 30)
	Concurrency    int     // CONCURRENCY: cloud calls in flight per API
	ECSQPS         float64 // ECS_QPS: the account's quota of each ECS API, calls a second (0 = unpaced)
	ENSQPS         float64 // ENS_QPS: the same for ENS's APIs
	// APIQPS is API_QPS: the quotas of single APIs, in place of ECS_QPS or ENS_QPS.
	APIQPS map[detach.QuotaKey]float64
	// MaxFunctionInstances is MAX_FUNCTION_INSTANCES: the most instances of the function
	// at once (its reserved concurrency), among which the quotas are divided (quota.go).
	MaxFunctionInstances int
	MaxAttempts          int        // MAX_ATTEMPTS: tries per cloud call, retries included
	MaxInstances         int        // MAX_INSTANCES: most instances one request may name
	MaxBodyBytes         int        // MAX_BODY_BYTES: largest request body accepted
	EventBus             string     // EVENT_BUS: EventBridge bus for result events ("" = none)
	EventSource          string     // EVENT_SOURCE: source attribute of result events
	EventBridgeEndpoint  string     // EVENTBRIDGE_ENDPOINT: overrides the EventBridge endpoint
	KeyPairID            string     // KEY_PAIR_ID: key pair for ECS instance events
	KeyPairName          string     // KEY_PAIR_NAME: key pair for ECS instance events
	DryRun               bool       // DRY_RUN: every request only plans, whatever it says
	LogLevel             slog.Level // LOG_LEVEL: debug, info, warn or error

	// Fleet runs (detach/fleet.go).
	MaxParts   int    // MAX_PARTS: most parts of a region's chain in a fleet run
	FCEndpoint string // FC_ENDPOINT: overrides FC's endpoint, <account>.<region>.fc.aliyuncs.com (local only)

	// Policy is the guardrails (guard.go): ALLOWED_KEY_PAIRS, ALLOWED_REGIONS,
	// PROTECTED_TAG, REQUIRED_TAG and ALLOW_UNSCOPED_TARGETS.
	Policy detach.Policy
	// JWTClaims are the claims of a verified JWT that the HTTP trigger passes on in
	// headers (JWT_CLAIM_PASS_BY), recorded as the caller's identity.
	JWTClaims []ClaimHeader
}

// Names lists every environment variable the function reads, in the contract's order.
var Names = []string{
	"REGION_ID", "ECS_ENDPOINT", "BATCH_SIZE", "CONCURRENCY", "ECS_QPS", "MAX_ATTEMPTS",
	"DEFAULT_PRODUCT", "ENS_ENDPOINT", "ENS_QPS", "API_QPS", "MAX_FUNCTION_INSTANCES",
	"MAX_INSTANCES", "MAX_BODY_BYTES", "EVENT_BUS", "EVENT_SOURCE", "EVENTBRIDGE_ENDPOINT",
	"KEY_PAIR_ID", "KEY_PAIR_NAME", "DRY_RUN", "LOG_LEVEL",
	"ALLOWED_KEY_PAIRS", "ALLOWED_REGIONS", "PROTECTED_TAG", "REQUIRED_TAG", "ALLOW_UNSCOPED_TARGETS", "JWT_CLAIM_PASS_BY",
	"MAX_PARTS", "FC_ENDPOINT",
}

// Defaults of the settings that have one.
const (
	DefaultBatchSize    = detach.DefaultBatchSize
	DefaultConcurrency  = detach.DefaultConcurrency
	DefaultECSQPS       = 20
	DefaultENSQPS       = 20 // ENS publishes no quota for its key pair APIs; ECS's default
	DefaultMaxAttempts  = detach.DefaultMaxAttempts
	DefaultMaxInstances = detach.DefaultMaxInstances
	DefaultMaxBodyBytes = 1 << 20
	DefaultEventSource  = "acs.fc.detach-keypair"
	DefaultMaxParts     = detach.DefaultMaxParts
)

var busPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$`)

// Load reads the settings through getenv (os.Getenv, or a map in tests) and checks
// them. The error names every bad setting and says what it must be.
func Load(getenv func(string) string) (Settings, error) {
	s := Settings{
		RegionID:            strings.TrimSpace(getenv("REGION_ID")),
		ECSEndpoint:         strings.TrimSpace(getenv("ECS_ENDPOINT")),
		ENSEndpoint:         strings.TrimSpace(getenv("ENS_ENDPOINT")),
		DefaultProduct:      strings.TrimSpace(getenv("DEFAULT_PRODUCT")),
		EventBus:            strings.TrimSpace(getenv("EVENT_BUS")),
		EventSource:         strings.TrimSpace(getenv("EVENT_SOURCE")),
		EventBridgeEndpoint: strings.TrimSpace(getenv("EVENTBRIDGE_ENDPOINT")),
		KeyPairID:           strings.TrimSpace(getenv("KEY_PAIR_ID")),
		KeyPairName:         strings.TrimSpace(getenv("KEY_PAIR_NAME")),
		FCEndpoint:          strings.TrimSpace(getenv("FC_ENDPOINT")),
	}
	var errs []error
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Errorf("setting %s=%q is invalid: %s", name, value, want))
	}
	intSetting := func(name string, def, lo, hi int) int {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			bad(name, v, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
			return def
		}
		return n
	}
	s.BatchSize = intSetting("BATCH_SIZE", DefaultBatchSize, 1, detach.ECSBatch)
	s.Concurrency = intSetting("CONCURRENCY", DefaultConcurrency, 1, 256)
	s.MaxAttempts = intSetting("MAX_ATTEMPTS", DefaultMaxAttempts, 1, 20)
	s.MaxInstances = intSetting("MAX_INSTANCES", DefaultMaxInstances, 1, 100000)
	s.MaxBodyBytes = intSetting("MAX_BODY_BYTES", DefaultMaxBodyBytes, 1024, 64<<20)
	s.MaxParts = intSetting("MAX_PARTS", DefaultMaxParts, 1, 1000000)

	qpsSetting := func(name string, def float64) float64 {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		q, err := strconv.ParseFloat(v, 64)
		if err != nil || q < 0 || q > 10000 {
			bad(name, v, "want a number of calls a second from 0 (unpaced) to 10000")
			return def
		}
		return q
	}
	s.ECSQPS = qpsSetting("ECS_QPS", DefaultECSQPS)
	s.ENSQPS = qpsSetting("ENS_QPS", DefaultENSQPS)
	s.APIQPS = apiQPS(strings.TrimSpace(getenv("API_QPS")), bad)
	s.MaxFunctionInstances = intSetting("MAX_FUNCTION_INSTANCES", DefaultMaxFunctionInstances, 1, MaxMaxFunctionInstances)
	s.checkInstances(bad)
	switch {
	case s.DefaultProduct == "":
		s.DefaultProduct = detach.ProductECS
	case !detach.ValidProduct(s.DefaultProduct):
		bad("DEFAULT_PRODUCT", s.DefaultProduct, "want ECS or ENS")
	}
	if s.RegionID != "" && !detach.ValidRegionID(s.RegionID) {
		bad("REGION_ID", s.RegionID, "want a region id such as cn-hangzhou")
	}
	for name, v := range map[string]string{"ECS_ENDPOINT": s.ECSEndpoint, "ENS_ENDPOINT": s.ENSEndpoint, "EVENTBRIDGE_ENDPOINT": s.EventBridgeEndpoint, "FC_ENDPOINT": s.FCEndpoint} {
		if _, _, err := endpoint.Parse(v); v != "" && err != nil {
			bad(name, v, "want a URL such as http://127.0.0.1:8300 or a bare host name (https)")
		}
	}
	if s.EventBus != "" && !busPattern.MatchString(s.EventBus) {
		bad("EVENT_BUS", s.EventBus, "want an event bus name (letters, digits, '-', '_', '.')")
	}
	if s.EventSource == "" {
		s.EventSource = DefaultEventSource
	}
	if s.KeyPairID != "" && !detach.ValidKeyPairID(s.KeyPairID) {
		bad("KEY_PAIR_ID", s.KeyPairID, "want a key pair id such as ssh-bp67acfmxazb4p****")
	}
	if s.KeyPairName != "" && !detach.ValidKeyPairName(s.KeyPairName) {
		bad("KEY_PAIR_NAME", s.KeyPairName, "want a key pair name (2 to 128 letters, digits, ':', '_', '.', '-')")
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("DRY_RUN"))); v {
	case "", "false":
	case "true":
		s.DryRun = true
	default:
		bad("DRY_RUN", v, "want true (every request only plans) or false")
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("LOG_LEVEL"))); v {
	case "", "info":
		s.LogLevel = slog.LevelInfo
	case "debug":
		s.LogLevel = slog.LevelDebug
	case "warn", "warning":
		s.LogLevel = slog.LevelWarn
	case "error":
		s.LogLevel = slog.LevelError
	default:
		bad("LOG_LEVEL", v, "want debug, info, warn or error")
	}
	s.Policy, s.JWTClaims = loadGuard(getenv, bad)
	if flags := sdkDebugFlags(getenv("DEBUG")); flags != "" {
		errs = append(errs, fmt.Errorf("environment DEBUG=%q turns on the Alibaba Cloud SDKs' own debug output (%s), which prints every request's headers, the security token among them, to the function's logs: remove DEBUG (use LOG_LEVEL=debug)", getenv("DEBUG"), flags))
	}
	return s, errors.Join(errs...)
}

// sdkDebugFlags returns the flags of a DEBUG variable that the SDKs the function is built
// from obey (github.com/alibabacloud-go/debug: tea, dara, sdk, credential). The SDKs read
// DEBUG when their packages are initialised, before main, so it cannot be unset in time:
// the function refuses to start instead.
func sdkDebugFlags(debug string) string {
	var on []string
	for _, f := range strings.Split(debug, ",") {
		switch f = strings.TrimSpace(f); f {
		case "tea", "dara", "sdk", "credential":
			on = append(on, f)
		}
	}
	return strings.Join(on, ", ")
}
