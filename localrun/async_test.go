package localrun_test

import (
	"context"
	"encoding/json"
	"maps"
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

// invokeAsync queues an asynchronous invocation of payload, waits until it has
// settled (retries included), and returns its request id.
func invokeAsync(t *testing.T, env *localrun.Env, payload []byte) string {
	t.Helper()
	id, err := env.InvokeAsync(payload)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAsyncInvocationRetriedThenLost: an event whose request fails with a
// 5xx (the cloud unreachable) fails the invocation; FC retries it with the
// same request id (each attempt's result event has an id of its own), then
// records it lost as its on-failure destination would get it. Nothing was
// detached.
func TestAsyncInvocationRetriedThenLost(t *testing.T) {
	lost := make(chan fcruntime.DestinationRecord, 1)
	env := start(t, localrun.Options{
		Env:    []string{"MAX_ATTEMPTS=1"},
		Faults: map[string]emulator.Fault{"DescribeKeyPairs": {DropRate: 1}},
		Async: fcruntime.AsyncConfig{
			MaxRetryAttempts: 1,
			RetryBackoff:     time.Millisecond,
			OnFailure:        func(rec fcruntime.DestinationRecord) { lost <- rec },
		},
	})
	before := env.Emulator.Bindings()
	payload := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	id := invokeAsync(t, env, payload)

	recs := env.Runner.FailureRecords()
	if len(recs) != 1 {
		t.Fatalf("failure records %+v, want 1", recs)
	}
	rec := recs[0]
	if rec.RequestContext.RequestID != id || rec.RequestContext.ApproximateInvokeCount != 2 || rec.RequestContext.Condition != fcruntime.ErrorTypeUnhandled ||
		rec.RequestPayload != string(payload) || rec.ResponseContext.FunctionError != fcruntime.ErrorTypeUnhandled {
		t.Errorf("record %+v: want request %s lost after 2 attempts", rec, id)
	}
	var fnErr fcruntime.FunctionError
	if err := json.Unmarshal([]byte(rec.ResponsePayload), &fnErr); err != nil || fnErr.Type != "ServiceUnavailable" {
		t.Errorf("response payload %s: want the function's ServiceUnavailable failure", rec.ResponsePayload)
	}
	if got := <-lost; got != rec {
		t.Errorf("OnFailure got %+v, want %+v", got, rec)
	}
	if n := env.Emulator.Calls("DescribeKeyPairs"); n != 2 {
		t.Errorf("DescribeKeyPairs called %d times, want 2 (one per attempt, MAX_ATTEMPTS=1)", n)
	}
	evs := env.Emulator.Events(env.EventBus)
	if len(evs) != 2 || evs[0].Id == "" || evs[0].Id == evs[1].Id || evs[0].Type != detach.EventFailed || evs[1].Type != detach.EventFailed {
		t.Errorf("result events %+v: want two failures, one per attempt, with ids of their own", evs)
	}
	if after := env.Emulator.Bindings(); !maps.Equal(before, after) {
		t.Errorf("bindings changed: %v -> %v", before, after)
	}
	if st := env.Runner.Stats(); st.AsyncRetried != 1 || st.AsyncLost != 1 || st.InstancesStarted != 1 {
		t.Errorf("stats %+v: want one retry in the one instance, one lost", st)
	}
}

// describeKeyPairsLostSecondSeed makes a DescribeKeyPairs fault of rate 0.5
// strike the second call only of the first three (the test checks the counters).
const describeKeyPairsLostSecondSeed = 18

// TestAsyncBatchRetriedAfterDetaching: an EventBridge batch (the trigger invokes
// asynchronously) whose first event detaches by name while the second fails with a
// 5xx (its DescribeKeyPairs unanswered): the invocation fails, and FC runs the whole
// batch again with retry count 1. The first event's instances are no longer bound;
// on the retry they are reported detached (a first attempt by name would refuse
// the request), and nothing is detached twice.
func TestAsyncBatchRetriedAfterDetaching(t *testing.T) {
	payload, err := os.ReadFile("../events/eventbridge-batch.json") // ops-2026 on 7, 8; deploy-ci on 19
	if err != nil {
		t.Fatal(err)
	}
	env := start(t, localrun.Options{
		Env:    []string{"MAX_ATTEMPTS=1"},
		Seed:   describeKeyPairsLostSecondSeed,
		Faults: map[string]emulator.Fault{"DescribeKeyPairs": {DropRate: 0.5}},
		Async:  fcruntime.AsyncConfig{MaxRetryAttempts: 1, RetryBackoff: time.Millisecond},
	})
	before := env.Emulator.Bindings()
	id := invokeAsync(t, env, payload)
	// the retry, in the same warm instance, takes the first event's key pair from its cache
	if n, lost := env.Emulator.Calls("DescribeKeyPairs"), env.Emulator.Answered("DescribeKeyPairs", emulator.CodeDropped); n != 3 || lost != 1 {
		t.Fatalf("DescribeKeyPairs: %d calls, %d unanswered; want 3 (two events, then the retry's second: the first's key pair is cached), the second unanswered (else change describeKeyPairsLostSecondSeed)", n, lost)
	}
	recs := env.Runner.SuccessRecords()
	if len(recs) != 1 || recs[0].RequestContext.RequestID != id || recs[0].RequestContext.ApproximateInvokeCount != 2 {
		t.Fatalf("success records %+v, failures %+v: want the retry to succeed", recs, env.Runner.FailureRecords())
	}
	_, got := answers(t, []byte(recs[0].ResponsePayload))
	if len(got) != 2 || got[0].Code != "" || got[1].Code != "" {
		t.Fatalf("the retry answered %s", recs[0].ResponsePayload)
	}
	for _, r := range got[0].Results {
		if !r.Success || r.Code != 200 || !strings.Contains(r.Message, "already detached") {
			t.Errorf("first event, detached by the first attempt: %+v", r)
		}
	}
	if r := got[1].Results; len(r) != 1 || !r[0].Success || r[0].Message != detach.MessageSuccessful {
		t.Errorf("second event, detached by the retry: %+v", r)
	}
	after := env.Emulator.Bindings()
	for _, n := range []int{7, 8, 19} {
		if after[instance(n)] != "" {
			t.Errorf("%s still has %q", instance(n), after[instance(n)])
		}
	}
	emulatortest.AssertChanges(t, before, after, append(got[0].Results, got[1].Results...))
	if n := env.Emulator.Calls("DetachKeyPair"); n != 2 {
		t.Errorf("%d DetachKeyPair calls, want 2: one per event, none repeated", n)
	}
}
