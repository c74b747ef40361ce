package localrun_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

func startLogged(t *testing.T, o localrun.Options) (*localrun.Env, *fcruntime.Logs) {
	t.Helper()
	logs := &fcruntime.Logs{}
	o.Binary, o.FunctionLogs = binary, logs
	env, err := localrun.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		env.Close()
		checkLogs(t, logs)
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return env, logs
}

func directRequest(fields map[string]any) []byte {
	req := map[string]any{"RegionId": "cn-hangzhou"}
	for k, v := range fields {
		req[k] = v
	}
	b, _ := json.Marshal(req)
	return b
}

// TestResultEvents: for success, partial failure, request-level failure and dry run,
// the bus records one CloudEvent with the contract's attributes and the answer as data.
func TestResultEvents(t *testing.T) {
	httpSample, _ := os.ReadFile("../events/http.json")
	directSample, _ := os.ReadFile("../events/direct.json")
	cases := []struct {
		name, typ, keyPair string
		payload            []byte
		failCount          int
		errCode            string
		dryRun             bool
	}{
		{name: "success", payload: httpSample, typ: detach.EventCompleted, keyPair: "ops-2026"},
		{name: "partial failure", payload: directSample, typ: detach.EventCompleted, keyPair: "ops-2026", failCount: 2},
		{name: "request-level failure", payload: directRequest(map[string]any{"KeyPairName": "no-such-key", "InstanceIds": []string{instance(1)}}),
			typ: detach.EventFailed, keyPair: "no-such-key", errCode: "InvalidKeyPair.NotFound"},
		{name: "invalid request", payload: directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{"I-1"}}),
			typ: detach.EventFailed, keyPair: "ops-2026", errCode: "InvalidParameter.InstanceIds"},
		{name: "dry run", payload: directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1), instance(2)}, "DryRun": true}),
			typ: detach.EventCompleted, keyPair: "ops-2026", dryRun: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, _ := startLogged(t, localrun.Options{})
			res, err := env.Invoke(context.Background(), c.payload)
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation: %v %v", err, res.Error)
			}
			_, got := answers(t, res.Payload)
			a := got[0]
			evs := env.Emulator.Events(env.EventBus)
			if len(evs) != 1 {
				t.Fatalf("%d events on the bus, want 1", len(evs))
			}
			ev := evs[0]
			want := detach.NewEvent(detach.EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: fcruntime.DefaultAccountID, RequestID: res.RequestID}, nil, &detach.ErrorResponse{}, c.keyPair)
			if ev.Id != want.ID || ev.Type != c.typ || ev.Source != "acs.fc.detach-keypair" || ev.Subject != want.Subject {
				t.Errorf("event id=%s type=%s source=%s subject=%s; want id=%s type=%s subject=%s", ev.Id, ev.Type, ev.Source, ev.Subject, want.ID, c.typ, want.Subject)
			}
			if a.EventEmitted == nil || !*a.EventEmitted {
				t.Errorf("answer says EventEmitted %v", a.EventEmitted)
			}
			var data answer
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatalf("event data %s: %v", ev.Data, err)
			}
			if c.errCode != "" {
				if data.Code != c.errCode || a.Code != c.errCode || data.Message != a.Message || data.RequestId != res.RequestID {
					t.Errorf("event data %s, answer code %s; want %s", ev.Data, a.Code, c.errCode)
				}
				return
			}
			if data.FailCount != c.failCount || data.TotalCount != len(a.Results) || data.DryRun != c.dryRun || len(data.Results) != len(a.Results) {
				t.Errorf("event data %s", ev.Data)
			}
			for i, r := range data.Results {
				if r != a.Results[i] {
					t.Errorf("event result %d = %+v, answer has %+v", i, r, a.Results[i])
				}
			}
			if c.dryRun && !strings.Contains(string(ev.Data), "dry run: would be detached") {
				t.Errorf("dry run not said in the data: %s", ev.Data)
			}
		})
	}
}

// TestEventBusDown: with EventBridge failing, the answer is intact, says
// EventEmitted false, and the failure is logged with the request id.
func TestEventBusDown(t *testing.T) {
	httpSample, _ := os.ReadFile("../events/http.json")
	env, logs := startLogged(t, localrun.Options{
		Env:    []string{"MAX_ATTEMPTS=3"},
		Faults: map[string]emulator.Fault{"PutEvents": {ErrorRate: 1}},
	})
	before := env.Emulator.Bindings()
	res, err := env.Invoke(context.Background(), httpSample)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v", err, res.Error)
	}
	status, got := answers(t, res.Payload)
	a := got[0]
	if status != 200 || a.FailCount != 0 || len(a.Results) != 2 || a.EventEmitted == nil || *a.EventEmitted {
		t.Fatalf("answer %s", res.Payload)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	if n := env.Emulator.Calls("PutEvents"); n != 3 {
		t.Errorf("PutEvents tried %d times, want 3 (MAX_ATTEMPTS)", n)
	}
	if len(env.Emulator.Events(env.EventBus)) != 0 {
		t.Error("an event was recorded though every PutEvents failed")
	}
	if !logs.WaitEnd(res.RequestID, 5*time.Second) {
		t.Fatalf("the function's end line for %s never arrived", res.RequestID)
	}
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "result event not emitted") && strings.Contains(line, res.RequestID) {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line says the event was not emitted, with request id %s", res.RequestID)
	}
}

// TestRetriedInvocation: FC retries an invocation with the same request id and a
// higher retry count. The retry finds the key pair already detached by the first
// attempt and reports it detached, also by name (a first attempt would refuse the
// request); its result event gets an id of its own, while the re-emits of one attempt
// (PutEvents answered a 5xx after it recorded the event) keep theirs.
func TestRetriedInvocation(t *testing.T) {
	env, _ := startLogged(t, localrun.Options{
		Seed:   putEventsLostFirstSeed,
		Faults: map[string]emulator.Fault{"PutEvents": {ErrorAfterRate: 0.5}},
	})
	const requestID = "1-6756b5c3-0a3c8ef9-b7a2c1d4e5f6"
	req := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	for i := range 2 {
		res, err := env.Runner.Invoke(context.Background(), fcruntime.Invocation{RequestID: requestID, Payload: req, RetryCount: i})
		if err != nil || res.Outcome != fcruntime.Succeeded {
			t.Fatalf("invocation: %v %v", err, res.Error)
		}
		_, got := answers(t, res.Payload)
		a := got[0]
		if a.Code != "" || a.FailCount != 0 || len(a.Results) != 1 || !a.Results[0].Success {
			t.Fatalf("attempt %d answered %s", i, res.Payload)
		}
		if msg := a.Results[0].Message; i == 1 && !strings.Contains(msg, "already detached") {
			t.Errorf("the retry says %q, want that it was already detached", msg)
		}
	}
	if in, _ := env.Emulator.Instance(instance(1)); in.KeyPairName != "" || env.Emulator.Calls("DetachKeyPair") != 1 {
		t.Errorf("%s has %q after %d DetachKeyPair calls, want detached by one", in.InstanceId, in.KeyPairName, env.Emulator.Calls("DetachKeyPair"))
	}
	if n := env.Emulator.Answered("PutEvents", "ServiceUnavailable") + env.Emulator.Answered("PutEvents", "InternalError"); n != 1 {
		t.Fatalf("%d PutEvents answered 5xx, want the first (else change putEventsLostFirstSeed)", n)
	}
	evs := env.Emulator.Events(env.EventBus)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: the first attempt's twice (its first PutEvents answered 5xx), the retry's", len(evs))
	}
	scope := detach.EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: fcruntime.DefaultAccountID, RequestID: requestID}
	first := detach.NewEvent(scope, nil, &detach.ErrorResponse{}, "").ID
	scope.Retry = 1
	retried := detach.NewEvent(scope, nil, &detach.ErrorResponse{}, "").ID
	if evs[0].Id != first || evs[1].Id != first || evs[2].Id != retried || first == retried {
		t.Errorf("event ids %s %s %s, want %s twice (one attempt), then %s", evs[0].Id, evs[1].Id, evs[2].Id, first, retried)
	}
	for _, ev := range evs {
		if ev.Type != detach.EventCompleted {
			t.Errorf("event %s is %s, want %s", ev.Id, ev.Type, detach.EventCompleted)
		}
	}
}

// putEventsLostFirstSeed makes a PutEvents fault of rate 0.5 strike the first
// call and spare the next ones (the test checks the emulator's counters).
const putEventsLostFirstSeed = 4

// TestCanarySecret: the role's secret and token appear in no log line, no answer and
// no event, whatever happens (success, throttling, failures, debug logs).
func TestCanarySecret(t *testing.T) {
	env, logs := startLogged(t, localrun.Options{
		Env:    []string{"LOG_LEVEL=debug", "MAX_ATTEMPTS=2"},
		Faults: map[string]emulator.Fault{"*": {ThrottleRate: 0.3, ErrorRate: 0.1, DropRate: 0.05}},
		Seed:   3,
	})
	secret, token := env.Credentials.AccessKeySecret, env.Credentials.SecurityToken
	var outputs []string
	files := []string{"direct.json", "http.json", "eventbridge-batch.json", "timer.json"}
	for _, f := range files {
		payload, _ := os.ReadFile("../events/" + f)
		res, err := env.Invoke(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(res.Payload))
		if !logs.WaitEnd(res.RequestID, 5*time.Second) {
			t.Fatalf("%s: the function's end line for %s never arrived", f, res.RequestID)
		}
	}
	for _, ev := range env.Emulator.Events(env.EventBus) {
		outputs = append(outputs, string(ev.Raw))
	}
	outputs = append(outputs, logs.String())
	if !strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Fatal("no debug log lines: the test would prove little")
	}
	for _, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, token) {
			t.Fatalf("a secret leaked into: %.300s", out)
		}
	}
}

// TestEventBusHangs: an EventBridge that does not answer cannot hold the answer past
// the function's deadline; the answer says EventEmitted false.
func TestEventBusHangs(t *testing.T) {
	httpSample, _ := os.ReadFile("../events/http.json")
	env, _ := startLogged(t, localrun.Options{
		Timeout: 2 * time.Second,
		Faults:  map[string]emulator.Fault{"PutEvents": {Latency: 10 * time.Second}},
	})
	res, err := env.Invoke(context.Background(), httpSample)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v (after %s)", err, res.Error, res.Duration)
	}
	_, got := answers(t, res.Payload)
	if got[0].EventEmitted == nil || *got[0].EventEmitted || got[0].FailCount != 0 || len(got[0].Results) != 2 {
		t.Fatalf("answer %s", res.Payload)
	}
}
