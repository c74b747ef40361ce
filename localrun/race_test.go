package localrun_test

import (
	"fmt"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/localrun"
)

// lostFirstSeed makes a DetachKeyPair fault of rate 0.5 strike the first call
// and spare the next ones (the emulator's faults are drawn from a source
// seeded by it); each test checks the emulator's counters, so a change of the
// random source fails it instead of testing something else.
const lostFirstSeed = 6

// unknownState are the words of the function's messages for an instance whose
// outcome it could not learn.
var unknownState = []string{"may already be detached", "may or may not be detached"}

// untruths checks the answer against the emulator's final state: an
// instance reported detached is unbound, and was not Running when it was
// detached (the emulator marks those PendingRestart; the function's contract
// detaches from Stopped instances only); one reported failed is still bound,
// or its message says that its state is unknown. It returns what is not so.
func untruths(emu *emulator.Server, keyPair string, results []detach.InstanceResult) []string {
	var out []string
	for _, r := range results {
		in, ok := emu.Instance(r.InstanceId)
		if !ok {
			continue
		}
		unbound := in.KeyPairName != keyPair
		switch {
		case r.Success && !unbound:
			out = append(out, fmt.Sprintf("%s reported detached, but still has %s", r.InstanceId, keyPair))
		case r.Success && in.PendingRestart:
			out = append(out, fmt.Sprintf("%s reported detached (%d %q), but it was detached while %s: the running system keeps the key until it restarts", r.InstanceId, r.Code, r.Message, in.Status))
		case !r.Success && unbound && !containsAny(r.Message, unknownState):
			out = append(out, fmt.Sprintf("%s reported failed (%s: %q), but it is detached, and the message does not say the state is unknown", r.InstanceId, r.ErrorCode, r.Message))
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestLostAnswerAfterDetach: ECS detaches, then the answer is lost; the
// function checks the instances (through the real SDK, the built binary and
// the runner), finds them detached, and must report the truth without
// calling DetachKeyPair again.
func TestLostAnswerAfterDetach(t *testing.T) {
	env := start(t, localrun.Options{Seed: lostFirstSeed, Faults: map[string]emulator.Fault{"DetachKeyPair": {DropAfterRate: 0.5}}})
	emu := env.Emulator
	a := invokeOne(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1), instance(2)}}))
	if emu.Answered("DetachKeyPair", emulator.CodeDroppedAfter) != 1 || emu.Calls("DetachKeyPair") != 1 {
		t.Fatalf("%d DetachKeyPair calls, %d lost after the action: want the one call, lost (else change lostFirstSeed, or the function retried what it could have checked)",
			emu.Calls("DetachKeyPair"), emu.Answered("DetachKeyPair", emulator.CodeDroppedAfter))
	}
	for _, n := range []int{1, 2} {
		if in, _ := emu.Instance(instance(n)); in.KeyPairName != "" {
			t.Fatalf("%s still has %q: the first call should have detached it", in.InstanceId, in.KeyPairName)
		}
	}
	for _, u := range untruths(emu, "ops-2026", a.Results) {
		t.Error(u)
	}
	if a.FailCount != 0 {
		t.Errorf("FailCount %d: both instances were detached, and a retry can tell (%+v)", a.FailCount, a.Results)
	}
}

// TestUnclearAnswerAfterDetach: ECS detaches, then answers a 5xx, or a 200
// whose results are empty or null; the function must report the truth.
func TestUnclearAnswerAfterDetach(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault emulator.Fault
	}{
		{name: "5xx", fault: emulator.Fault{ErrorAfterRate: 0.5}},
		{name: "empty results", fault: emulator.Fault{EmptyRate: 0.5}},
		{name: "null results", fault: emulator.Fault{NullRate: 0.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := start(t, localrun.Options{Seed: lostFirstSeed, Faults: map[string]emulator.Fault{"DetachKeyPair": c.fault}})
			emu := env.Emulator
			a := invokeOne(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1), instance(2)}}))
			for _, n := range []int{1, 2} {
				if in, _ := emu.Instance(instance(n)); in.KeyPairName != "" {
					t.Fatalf("%s still has %q: the first call should have detached it", in.InstanceId, in.KeyPairName)
				}
			}
			for _, u := range untruths(emu, "ops-2026", a.Results) {
				t.Error(u)
			}
			if a.FailCount != 0 || emu.Calls("DetachKeyPair") != 1 {
				t.Errorf("FailCount %d after %d DetachKeyPair calls: the check after the first shows both detached (%+v)", a.FailCount, emu.Calls("DetachKeyPair"), a.Results)
			}
		})
	}
}

// TestStartedBetweenLostAnswerAndRetry: the answer of the first DetachKeyPair is
// lost, and someone else starts the instance before the function retries.
func TestStartedBetweenLostAnswerAndRetry(t *testing.T) {
	for _, c := range []struct {
		name    string
		fault   emulator.Fault
		calls   int  // DetachKeyPair calls
		started bool // whether the instance started meanwhile ends detached
	}{
		// The first call detached (while the instance was Stopped), then the
		// answer was lost: the check finds it Running and unbound, the other
		// one unbound too, and there is nothing to retry.
		{name: "lost after the detach", fault: emulator.Fault{DropAfterRate: 0.5}, calls: 1, started: true},
		// The first call was lost before ECS acted: the check finds the instance
		// Running and bound. ECS detaches Running instances, so the function must
		// not retry it; it retries the other one.
		{name: "lost before the detach", fault: emulator.Fault{DropRate: 0.5}, calls: 2, started: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := start(t, localrun.Options{Seed: lostFirstSeed, Faults: map[string]emulator.Fault{"DetachKeyPair": c.fault}})
			emu := env.Emulator
			if err := emu.Schedule(emulator.Change{API: "DetachKeyPair", Call: 1, InstanceId: instance(3), Action: emulator.ActionStart}); err != nil {
				t.Fatal(err)
			}
			a := invokeOne(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(3), instance(4)}}))
			lost := emu.Answered("DetachKeyPair", emulator.CodeDropped) + emu.Answered("DetachKeyPair", emulator.CodeDroppedAfter)
			if lost != 1 || emu.Calls("DetachKeyPair") != c.calls {
				t.Fatalf("%d DetachKeyPair calls, %d lost: want %d, the first lost (else change lostFirstSeed)", emu.Calls("DetachKeyPair"), lost, c.calls)
			}
			if ch := emu.Scheduled()[0]; !ch.Done || ch.Error != "" {
				t.Fatalf("the instance was not started: %+v", ch)
			}
			if in, _ := emu.Instance(instance(3)); in.Status != emulator.StatusRunning {
				t.Fatalf("%s is %s", in.InstanceId, in.Status)
			}
			if in, _ := emu.Instance(instance(4)); in.KeyPairName != "" || !a.Results[1].Success {
				t.Errorf("%s, Stopped throughout: %+v, key pair %q", in.InstanceId, a.Results[1], in.KeyPairName)
			}
			in, _ := emu.Instance(instance(3))
			if r := a.Results[0]; r.Success != c.started || (in.KeyPairName == "") != c.started ||
				!c.started && (r.ErrorCode != detach.CodeIncorrectStatus || !strings.Contains(r.Message, "started after the function checked it")) {
				t.Errorf("%s, started meanwhile: %+v, key pair %q", in.InstanceId, r, in.KeyPairName)
			}
			for _, u := range untruths(emu, "ops-2026", a.Results) {
				t.Error(u)
			}
		})
	}
}
