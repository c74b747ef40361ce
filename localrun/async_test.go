package localrun_test

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestAsyncInvocationRetriedThenLost: an event whose request fails with a
// 5xx (the cloud unreachable) fails the invocation; FC retries it with the
// same request id (so both result events carry one event id), then records
// it lost as its on-failure destination would get it. Nothing was detached.
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
	before := bindings(env.Emulator)
	payload := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	id, err := env.InvokeAsync(payload)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}

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
	if len(evs) != 2 || evs[0].Id == "" || evs[0].Id != evs[1].Id || evs[0].Type != detach.EventFailed || evs[1].Type != detach.EventFailed {
		t.Errorf("result events %+v: want two failures with one id", evs)
	}
	if after := bindings(env.Emulator); !maps.Equal(before, after) {
		t.Errorf("bindings changed: %v -> %v", before, after)
	}
	if st := env.Runner.Stats(); st.AsyncRetried != 1 || st.AsyncLost != 1 || st.InstancesStarted != 1 {
		t.Errorf("stats %+v: want one retry in the one instance, one lost", st)
	}
}
