package localrun_test

import (
	"context"
	"os"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestResultEventNotConsumed closes the loop a too-broad rule would make: the result
// event the built function put on its bus is handed back to it, as such a rule would.
// The function refuses it (InvalidParameter.Event, a successful invocation, so nothing
// retries it), logs why, calls no cloud API and puts no further event on the bus.
func TestResultEventNotConsumed(t *testing.T) {
	env, logs := startLogged(t, localrun.Options{})
	request, err := os.ReadFile("../events/eventbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Invoke(context.Background(), request)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("the ops request: %v %v", err, res.Error)
	}
	evs := env.Emulator.Events(env.EventBus)
	if len(evs) != 1 {
		t.Fatalf("%d result events after the ops request, want 1", len(evs))
	}
	env.Emulator.ResetCounters()

	back, err := env.Invoke(context.Background(), evs[0].Raw)
	if err != nil || back.Outcome != fcruntime.Succeeded {
		t.Fatalf("the result event handed back: %v %v (a refusal must not fail the invocation)", err, back.Error)
	}
	_, got := answers(t, back.Payload)
	if len(got) != 1 || got[0].Code != "InvalidParameter.Event" {
		t.Fatalf("answer %s, want one InvalidParameter.Event", back.Payload)
	}
	if n := len(env.Emulator.Events(env.EventBus)); n != 1 {
		t.Errorf("%d result events on the bus, want still 1: the refusal must not emit another", n)
	}
	for _, api := range []string{"DescribeKeyPairs", "DescribeInstances", "DetachKeyPair"} {
		if n := env.Emulator.Calls(api); n != 0 {
			t.Errorf("%d %s calls for the refused event, want none", n, api)
		}
	}
	if !logs.WaitFor("own EVENT_SOURCE", 5*time.Second) {
		t.Errorf("the refusal is not in the function's logs:\n%s", logs.String())
	}
}
