package settings

import (
	"log/slog"
	"strings"
	"testing"
)

func load(vars map[string]string) (Settings, error) {
	return Load(func(k string) string { return vars[k] })
}

func TestDefaults(t *testing.T) {
	s, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.BatchSize != 50 || s.Concurrency != 4 || s.ECSQPS != 20 || s.MaxAttempts != 5 || s.MaxInstances != 1000 ||
		s.MaxBodyBytes != 1<<20 || s.EventSource != "acs.fc.detach-keypair" || s.LogLevel != slog.LevelInfo || s.EventBus != "" || s.DryRun ||
		s.DefaultProduct != "ECS" || s.ENSQPS != 20 || s.ENSEndpoint != "" || s.MaxParts != DefaultMaxParts || s.FCEndpoint != "" {
		t.Fatalf("defaults %+v", s)
	}
}

func TestValues(t *testing.T) {
	s, err := load(map[string]string{"REGION_ID": "ap-southeast-1", "BATCH_SIZE": "20", "ECS_QPS": "0", "ECS_ENDPOINT": "http://127.0.0.1:8300",
		"EVENTBRIDGE_ENDPOINT": "123.eventbridge.cn-hangzhou.aliyuncs.com", "EVENT_BUS": "ops-results", "KEY_PAIR_NAME": "ops-2026", "LOG_LEVEL": "DEBUG", "DRY_RUN": "true",
		"DEFAULT_PRODUCT": "ENS", "ENS_ENDPOINT": "ens.ap-southeast-1.aliyuncs.com", "ENS_QPS": "7.5",
		"MAX_PARTS": "7", "FC_ENDPOINT": "http://127.0.0.1:8300"})
	if err != nil {
		t.Fatal(err)
	}
	if s.RegionID != "ap-southeast-1" || s.BatchSize != 20 || s.ECSQPS != 0 || s.EventBus != "ops-results" || s.KeyPairName != "ops-2026" || s.LogLevel != slog.LevelDebug || !s.DryRun ||
		s.DefaultProduct != "ENS" || s.ENSEndpoint != "ens.ap-southeast-1.aliyuncs.com" || s.ENSQPS != 7.5 ||
		s.MaxParts != 7 || s.FCEndpoint != "http://127.0.0.1:8300" {
		t.Fatalf("%+v", s)
	}
}

// TestBadSettings: every bad setting is named in the error, all at once.
func TestBadSettings(t *testing.T) {
	bad := map[string]string{
		"REGION_ID": "Hangzhou", "ECS_ENDPOINT": "ftp://x", "BATCH_SIZE": "51", "CONCURRENCY": "zero", "ECS_QPS": "-1",
		"MAX_ATTEMPTS": "0", "MAX_INSTANCES": "x", "MAX_BODY_BYTES": "1", "EVENT_BUS": "bad bus", "EVENTBRIDGE_ENDPOINT": "http://h/p",
		"KEY_PAIR_ID": "key-1", "KEY_PAIR_NAME": "*", "LOG_LEVEL": "loud", "DRY_RUN": "yes",
		"ALLOWED_KEY_PAIRS": "ops-2026,,x", "ALLOWED_REGIONS": "Hangzhou", "PROTECTED_TAG": "acs:x", "REQUIRED_TAG": "env=",
		"ALLOW_UNSCOPED_TARGETS": "yes", "JWT_CLAIM_PASS_BY": "query:sub:uid",
		"DEFAULT_PRODUCT": "ens", "ENS_ENDPOINT": "http://h/path", "ENS_QPS": "fast",
		"MAX_PARTS": "0", "FC_ENDPOINT": "http://h/path",
		"API_QPS": "DetachKeyPair=10", "MAX_FUNCTION_INSTANCES": "0",
	}
	_, err := load(bad)
	if err == nil {
		t.Fatal("no error")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), "setting "+name+"=") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	for _, name := range Names {
		if _, ok := bad[name]; !ok && name != "EVENT_SOURCE" {
			t.Errorf("%s has no bad-value case here", name)
		}
	}
}

// TestSDKDebugRefused: DEBUG=tea (or dara, sdk, credential) makes the SDKs print request
// headers with the security token; the function refuses to start with it. Other DEBUG
// values are not the SDKs' and pass.
func TestSDKDebugRefused(t *testing.T) {
	for _, v := range []string{"tea", "dara", "myapp, sdk", "credential"} {
		_, err := load(map[string]string{"DEBUG": v})
		if err == nil || !strings.Contains(err.Error(), "DEBUG=") || !strings.Contains(err.Error(), "security token") {
			t.Errorf("DEBUG=%q: %v", v, err)
		}
	}
	if _, err := load(map[string]string{"DEBUG": "myapp"}); err != nil {
		t.Errorf("DEBUG=myapp: %v", err)
	}
}
