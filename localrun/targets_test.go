package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"detachkeypair/detach"
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

// TestTargetsContinue: more matches than MAX_INSTANCES are taken in parts of
// MAX_INSTANCES, in the listing's order, each part an invocation that the one before
// started through FC: the first answer has the first part and says the region goes on;
// each part's result event has its instances, the last says Final.
func TestTargetsContinue(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"MAX_INSTANCES=4"}, Async: fcruntime.AsyncConfig{RetryBackoff: 10 * time.Millisecond}})
	payload, err := os.ReadFile("../events/timer-targets.json")
	if err != nil {
		t.Fatal(err)
	}
	before := env.Emulator.Bindings()
	first, regions := runFleetPayload(t, env, payload)
	if len(first.Results) != 4 || !first.Continues || first.Final || len(first.Regions) != 1 || !first.Regions[0].Continues || first.MatchedCount != nil {
		t.Fatalf("first answer: %+v", first)
	}
	rp := regions["cn-hangzhou"]
	var all []detach.InstanceResult
	for n, want := range [][]int{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15}} {
		p := rp.Parts[n+1]
		if p == nil {
			t.Fatalf("no part %d", n+1)
		}
		var got []int
		for _, r := range p.Results {
			var k int
			fmt.Sscanf(r.InstanceId, "i-bp1d6tsvznfghy7y%04d", &k)
			got = append(got, k)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || p.Final != (n == 3) {
			t.Errorf("part %d took %v (Final %v), want %v", n+1, got, p.Final, want)
		}
		all = append(all, p.Results...)
	}
	if len(rp.Parts) != 4 || rp.Parts[4].Totals.TotalCount != 15 || rp.Parts[4].Totals.Codes[detach.CodeSuccess] != 10 {
		t.Errorf("%d parts, the last's totals %+v", len(rp.Parts), rp.Parts[4].Totals)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), all)
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
