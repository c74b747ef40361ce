package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// timerEvent wraps a request in a timer trigger's event, as FC delivers it.
func timerEvent(req map[string]any) []byte {
	p, _ := json.Marshal(req)
	b, _ := json.Marshal(map[string]string{"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "nightly", "payload": string(p)})
	return b
}

func invokeOne(t *testing.T, env *localrun.Env, payload []byte) answer {
	t.Helper()
	res, err := env.Invoke(context.Background(), payload)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v", err, res.Error)
	}
	_, got := answers(t, res.Payload)
	if got[0].Code != "" {
		t.Fatalf("request failed: %s %s", got[0].Code, got[0].Message)
	}
	return got[0]
}

// TestTargetsByTag: a tag selector detaches exactly the matching bound Stopped
// instances and reports the running ones.
func TestTargetsByTag(t *testing.T) {
	env := start(t, localrun.Options{})
	before := env.Emulator.Bindings()
	a := invokeOne(t, env, timerEvent(map[string]any{"KeyPairName": "ops-2026", "Targets": map[string]any{"Tags": []map[string]string{{"Key": "env", "Value": "staging"}}}}))
	if a.MatchedCount == nil || *a.MatchedCount != 15 || a.Truncated == nil || *a.Truncated || a.TotalCount != 15 || a.FailCount != 5 {
		t.Fatalf("answer: matched %v truncated %v total %d failed %d", a.MatchedCount, a.Truncated, a.TotalCount, a.FailCount)
	}
	for i, r := range a.Results {
		n := i + 1
		if r.InstanceId != instance(n) {
			t.Fatalf("result %d is %s, want %s (instance-id order)", i, r.InstanceId, instance(n))
		}
		if running := n >= 11; running != (r.ErrorCode == "IncorrectInstanceStatus") || running == r.Success {
			t.Errorf("%s: %+v", r.InstanceId, r)
		}
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	// other instances of ops-2026 (none here) and other key pairs are untouched: AssertChanges
	// checked every instance of the fleet.
}

// TestTargetsCapAndContinue: more matches than MAX_INSTANCES are cut at the cap in id
// order with Truncated and MatchedCount, and the next run continues with the rest.
func TestTargetsCapAndContinue(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"MAX_INSTANCES=4"}})
	payload, err := os.ReadFile("../events/timer-targets.json")
	if err != nil {
		t.Fatal(err)
	}
	for run, want := range [][]int{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}} {
		before := env.Emulator.Bindings()
		a := invokeOne(t, env, payload)
		matched := 15 - 4*run
		if a.MatchedCount == nil || *a.MatchedCount != matched || a.Truncated == nil || !*a.Truncated || a.TotalCount != 4 {
			t.Fatalf("run %d: matched %v truncated %v total %d", run+1, a.MatchedCount, a.Truncated, a.TotalCount)
		}
		var got []int
		for _, r := range a.Results {
			var n int
			fmt.Sscanf(r.InstanceId, "i-bp1d6tsvznfghy7y%04d", &n)
			got = append(got, n)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("run %d took %v, want %v", run+1, got, want)
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	}
}

// TestTargetsResourceGroupAndEmpty: the resource group narrows the selection; an empty
// Targets selects every instance bound to the key pair (where ALLOW_UNSCOPED_TARGETS
// allows it: guard_test.go shows the refusal).
func TestTargetsResourceGroupAndEmpty(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"ALLOW_UNSCOPED_TARGETS=true"}})
	a := invokeOne(t, env, timerEvent(map[string]any{"RegionId": "cn-hangzhou", "KeyPairName": "deploy-ci", "DryRun": true,
		"Targets": map[string]any{"ResourceGroupId": "rg-acfmzstaging001"}}))
	if *a.MatchedCount != 0 || a.TotalCount != 0 {
		t.Fatalf("deploy-ci in the staging group: matched %d", *a.MatchedCount)
	}
	a = invokeOne(t, env, timerEvent(map[string]any{"KeyPairName": "deploy-ci", "Targets": map[string]any{}}))
	if *a.MatchedCount != 5 || a.FailCount != 0 {
		t.Fatalf("every deploy-ci instance: matched %d failed %d", *a.MatchedCount, a.FailCount)
	}
}
