package localrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// checkLogs fails the test if a JSON line the function wrote repeats a key within one
// object: a log search keyed on it would see one value of two. Every end-to-end test
// runs it on everything its function logged (start and startLogged).
func checkLogs(t *testing.T, logs *fcruntime.Logs) {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the FC SDK's own lines are text
		}
		dups, err := duplicateKeys([]byte(line))
		if err != nil {
			t.Errorf("a log line that is not JSON (%v): %.300s", err, line)
		} else if len(dups) > 0 {
			t.Errorf("duplicate keys %v in the log line %.500s", dups, line)
		}
	}
}

// duplicateKeys returns the keys that appear twice in one object of a JSON text.
func duplicateKeys(text []byte) ([]string, error) {
	type frame struct {
		object    bool
		keys      map[string]bool
		expectKey bool
	}
	var stack []*frame
	var dups []string
	dec := json.NewDecoder(bytes.NewReader(text))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return dups, nil
		}
		if err != nil {
			return nil, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.expectKey = true // this object or array is the value of a key
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, expectKey: true})
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			switch {
			case top == nil || !top.object:
			case top.expectKey:
				key := v.(string)
				if top.keys[key] {
					dups = append(dups, key)
				}
				top.keys[key], top.expectKey = true, false
			default:
				top.expectKey = true
			}
		}
	}
}

// TestDuplicateKeys checks the checker.
func TestDuplicateKeys(t *testing.T) {
	for text, want := range map[string]string{
		`{"a":1,"b":{"a":2,"c":[{"a":3}]},"d":[1,{"e":1}]}`: "[]",
		`{"a":1,"b":2,"a":3}`:                               "[a]",
		`{"a":{"x":1,"x":2},"b":[{"y":1,"y":2}],"c":3}`:     "[x y]",
	} {
		got, err := duplicateKeys([]byte(text))
		if err != nil || strings.Join(got, " ") != strings.Trim(want, "[]") {
			t.Errorf("duplicateKeys(%s) = %v, %v; want %s", text, got, err, want)
		}
	}
}

// TestEventBridgeStatusInLogs: when EventBridge refuses a result event, the log line
// shows the HTTP status the bus really answered (the emulator answers AccessDenied with
// 403 and TooManyRequests with 429, as EventBridge does); the detach itself is done and
// answered as without the fault.
func TestEventBridgeStatusInLogs(t *testing.T) {
	for fault, want := range map[string]string{
		"forbidden": "AccessDenied (HTTP 403)",
		"throttled": "TooManyRequests (HTTP 429)",
	} {
		t.Run(fault, func(t *testing.T) {
			f := emulator.Fault{ForbiddenRate: 1}
			if fault == "throttled" {
				f = emulator.Fault{ThrottleRate: 1}
			}
			env, logs := startLogged(t, localrun.Options{Env: []string{"MAX_ATTEMPTS=2"}, Faults: map[string]emulator.Fault{"PutEvents": f}})
			payload, _ := os.ReadFile("../events/http.json")
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), payload)
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation: %v %v", err, res.Error)
			}
			_, got := answers(t, res.Payload)
			if len(got) != 1 || got[0].Code != "" || got[0].TotalCount == 0 || got[0].EventEmitted == nil || *got[0].EventEmitted {
				t.Fatalf("answer %s: want a result that says no event was emitted", res.Payload)
			}
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), got[0].Results)
			if !logs.WaitEnd(res.RequestID, 5*time.Second) {
				t.Fatal("no end line")
			}
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "not emitted") {
					found = true
					if !strings.Contains(line, want) {
						t.Errorf("log line %s: want %q", line, want)
					}
				}
			}
			if !found {
				t.Fatalf("no log line says the event was not emitted:\n%s", logs.String())
			}
		})
	}
}
