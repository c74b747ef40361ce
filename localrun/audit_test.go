package localrun_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// A fake JWT (header, claims {"sub":"alice@example.com"}, a made-up signature) and a
// fake session cookie: what a client sends that must never reach an answer, an event or
// a log line.
const (
	fakeJWT    = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZUBleGFtcGxlLmNvbSJ9.ZmFrZS1zaWduYXR1cmUtbm90LXJlYWw"
	fakeCookie = "session=fake-session-cookie-0001"
)

// httpWithCredentials is events/http.json as it reaches the function from a trigger
// with JWT authentication: the token still in the Authorization header, a cookie, and the
// sub claim FC passed on in x-jwt-sub.
func httpWithCredentials(t *testing.T) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(sample(t, "http.json"), &ev); err != nil {
		t.Fatal(err)
	}
	headers := ev["headers"].(map[string]any)
	headers["Authorization"] = "Bearer " + fakeJWT
	headers["Cookie"] = fakeCookie
	headers["X-Jwt-Sub"] = "alice@example.com"
	b, _ := json.Marshal(ev)
	return b
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditEveryTrigger: for each kind of trigger, the answer, the result event's data
// and every log line of the request say who asked, as far as the trigger tells; and no
// credential of the function's role, no token, no cookie and no body is in any of them.
func TestAuditEveryTrigger(t *testing.T) {
	cases := []struct {
		name    string
		payload func(t *testing.T) []byte
		env     []string
		want    detach.Caller
		logKey  string // a field of the caller group its log lines must show
	}{
		{"http", httpWithCredentials, []string{"JWT_CLAIM_PASS_BY=header:sub:x-jwt-sub"},
			detach.Caller{Trigger: "http", SourceIP: "203.0.113.7", UserAgent: "curl/8.5.0", Identity: map[string]string{"sub": "alice@example.com"}}, "source_ip"},
		{"eventbridge", func(t *testing.T) []byte { return sample(t, "eventbridge.json") }, nil,
			detach.Caller{Trigger: "eventbridge", EventSource: "acs.custom.ops-portal", EventID: "7f3b1c2e-0d4a-4e5b-9c6d-8e7f9a0b1c2d", AccountID: "1234567890123456", EventBus: "ops-requests"}, "event_bus"},
		{"ecs event", func(t *testing.T) []byte { return sample(t, "ecs-instance-stopped.json") }, []string{"KEY_PAIR_NAME=ops-2026"},
			detach.Caller{Trigger: "eventbridge", EventSource: "acs.ecs", EventID: "5a9c2f4e-3b1d-4e6f-8a7b-9c0d1e2f3a4b", AccountID: "1234567890123456", EventBus: "default"}, "event_source"},
		{"timer", func(t *testing.T) []byte { return sample(t, "timer.json") }, nil,
			detach.Caller{Trigger: "timer", TriggerName: "nightly-revoke-backup-key"}, "trigger_name"},
		{"direct", func(t *testing.T) []byte { return sample(t, "direct.json") }, nil,
			detach.Caller{Trigger: "direct"}, "trigger"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, logs := startLogged(t, localrun.Options{Env: c.env})
			payload := c.payload(t)
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), payload)
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation %v: %v %v", res.Outcome, err, res.Error)
			}
			_, got := answers(t, res.Payload)
			if len(got) != 1 || got[0].Caller == nil || !reflect.DeepEqual(*got[0].Caller, c.want) {
				t.Fatalf("answer's Caller %+v, want %+v (%s)", got[0].Caller, c.want, res.Payload)
			}
			if got[0].Code != "" || got[0].TotalCount == 0 {
				t.Errorf("the request did not run: %s %s", got[0].Code, got[0].Message)
			}
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), got[0].Results)

			evs := env.Emulator.Events(env.EventBus)
			if len(evs) != 1 {
				t.Fatalf("%d result events, want 1", len(evs))
			}
			var data answer
			if err := json.Unmarshal(evs[0].Data, &data); err != nil || data.Caller == nil || !reflect.DeepEqual(*data.Caller, c.want) {
				t.Errorf("the event's Caller %+v (%v), want %+v", data.Caller, err, c.want)
			}

			if !logs.WaitEnd(res.RequestID, 5*time.Second) {
				t.Fatalf("no end line for %s", res.RequestID)
			}
			lines := requestLogLines(t, logs.String(), res.RequestID)
			if len(lines) < 2 {
				t.Fatalf("%d log lines of the request", len(lines))
			}
			for _, line := range lines {
				caller, _ := line["caller"].(map[string]any)
				if caller["trigger"] != c.want.Trigger || caller[c.logKey] == nil {
					t.Errorf("log line %q: caller %v, want trigger %s and %s", line["msg"], caller, c.want.Trigger, c.logKey)
				}
			}
			if c.want.Identity != nil {
				caller, _ := lines[len(lines)-1]["caller"].(map[string]any)
				if id, _ := caller["identity"].(map[string]any); id["sub"] != c.want.Identity["sub"] {
					t.Errorf("log line: identity %v, want sub %s", caller["identity"], c.want.Identity["sub"])
				}
			}

			secrets := []string{env.Credentials.AccessKeyID, env.Credentials.AccessKeySecret, env.Credentials.SecurityToken,
				fakeJWT, strings.Split(fakeJWT, ".")[2], fakeCookie, "fake-session-cookie"}
			if body := bodyOf(payload); body != "" {
				secrets = append(secrets, body) // the request as a whole: never echoed
			}
			for where, text := range map[string]string{"answer": string(res.Payload), "event": string(evs[0].Raw), "logs": logs.String()} {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("the %s holds a secret or the whole body: %.40q", where, s)
					}
				}
			}
		})
	}
}

// requestLogLines returns the function's JSON log lines of one request.
func requestLogLines(t *testing.T, logs, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["request_id"] == requestID {
			out = append(out, line)
		}
	}
	return out
}

// bodyOf returns the request an envelope carries as raw text: an HTTP body, a timer's
// payload, or "" for the others (the request is the event's data or the payload).
func bodyOf(payload []byte) string {
	var ev struct {
		Body    string `json:"body"`
		Payload string `json:"payload"`
	}
	json.Unmarshal(payload, &ev)
	return ev.Body + ev.Payload
}
