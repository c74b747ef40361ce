package handler

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/settings"
)

func TestAuditValue(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	cases := map[string]string{
		"curl/8.5.0":                          "curl/8.5.0",
		"  203.0.113.7 ":                      "203.0.113.7",
		"agent\r\nforged: line\x00":           "agentforged: line",
		"tool/1.0 (Bearer " + jwt + ")":       "tool/1.0 (Bearer [redacted])",
		"tool SecurityToken=CAISabc123 x":     "tool SecurityToken=[redacted] x",
		strings.Repeat("é", maxAuditValue):    strings.Repeat("é", maxAuditValue/2),
		strings.Repeat("a", maxAuditValue+10): strings.Repeat("a", maxAuditValue),
	}
	for in, want := range cases {
		if got := auditValue(in); got != want {
			t.Errorf("auditValue(%.40q) = %.60q, want %.60q", in, got, want)
		}
	}
}

// TestCallerOf: what each envelope tells of its caller, and nothing else: no header but
// the JWT_CLAIM_PASS_BY ones, whatever their case; no body.
func TestCallerOf(t *testing.T) {
	h := &Handler{cfg: settings.Settings{JWTClaims: []settings.ClaimHeader{{Claim: "sub", Header: "x-jwt-sub"}, {Claim: "iss", Header: "x-jwt-iss"}}}}
	httpEvent, _ := json.Marshal(map[string]any{
		"headers": map[string]string{"X-Jwt-Sub": "alice", "Authorization": "Bearer secret-token", "Cookie": "s=secret-cookie"},
		"body":    `{"KeyPairName":"secret-body"}`,
		"requestContext": map[string]any{"http": map[string]string{
			"method": "POST", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"}},
	})
	cases := []struct {
		payload string
		want    detach.Caller
	}{
		{string(httpEvent), detach.Caller{Trigger: "http", SourceIP: "203.0.113.7", UserAgent: "curl/8.5.0", Identity: map[string]string{"sub": "alice"}}},
		{`{"triggerTime":"2026-11-27T02:00:00Z","triggerName":"nightly","payload":"{}"}`, detach.Caller{Trigger: "timer", TriggerName: "nightly"}},
		{`{"KeyPairName":"k","InstanceIds":["i-1"]}`, detach.Caller{Trigger: "direct"}},
		{`[{"specversion":"1.0"}]`, detach.Caller{Trigger: "eventbridge"}},
	}
	for _, c := range cases {
		got := h.callerOf(Classify([]byte(c.payload)), []byte(c.payload))
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%.40s: %+v, want %+v", c.payload, *got, c.want)
		}
		if b, _ := json.Marshal(got); strings.Contains(string(b), "secret") {
			t.Errorf("the caller holds a secret or the body: %s", b)
		}
	}
	ev := cloudEvent{ID: "e-1", Source: "acs.custom.ops-portal", AccountID: "1234567890123456", EventBus: "ops-requests", Type: "t", Subject: "s"}
	if got, want := *eventCaller(ev), (detach.Caller{Trigger: "eventbridge", EventSource: "acs.custom.ops-portal", EventID: "e-1", AccountID: "1234567890123456", EventBus: "ops-requests"}); !reflect.DeepEqual(got, want) {
		t.Errorf("event caller %+v, want %+v", got, want)
	}
}
