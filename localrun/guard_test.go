package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// The guardrails end to end: the built function under the FC runner against the
// emulator. For each one, the refusal's code, that the emulator got no DetachKeyPair call
// for what was refused (its call counters, and its state: a Stopped instance bound to
// the key pair that a call had named would have lost it), and that the rest went on.

// fleetWith returns the shipped fleet with the tags of some instances replaced.
func fleetWith(tags map[int][]emulator.Tag) *emulator.Fixture {
	fix := emulator.DefaultFixture()
	for i, in := range fix.Instances {
		for n, t := range tags {
			if in.InstanceId == instance(n) {
				fix.Instances[i].Tags = t
			}
		}
	}
	return fix
}

// invokeAnswer invokes the function and returns its one answer and HTTP status (0 for
// other triggers); the invocation must succeed (a refusal is a 4xx, never retried).
func invokeAnswer(t *testing.T, env *localrun.Env, payload []byte) (answer, int) {
	t.Helper()
	res, err := env.Invoke(context.Background(), payload)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation %v: %v %v", res.Outcome, err, res.Error)
	}
	status, got := answers(t, res.Payload)
	if len(got) != 1 {
		t.Fatalf("%d answers: %s", len(got), res.Payload)
	}
	return got[0], status
}

// wantRefusal checks a request-level refusal by the policy, naming setting.
func wantRefusal(t *testing.T, a answer, setting string) {
	t.Helper()
	if a.Code != detach.CodeForbiddenPolicy || !strings.Contains(a.Message, setting) {
		t.Errorf("answer %s %q, want %s naming %s", a.Code, a.Message, detach.CodeForbiddenPolicy, setting)
	}
}

// wantCalls checks the emulator's counters of the three ECS APIs.
func wantCalls(t *testing.T, emu *emulator.Server, keyPairs, instances, detaches int) {
	t.Helper()
	if got, want := calls(emu), [3]int{keyPairs, instances, detaches}; got != want {
		t.Errorf("calls DescribeKeyPairs, DescribeInstances, DetachKeyPair = %v, want %v", got, want)
	}
}

// codes shows results as "200" or "403 Forbidden.Protected".
func codes(results []detach.InstanceResult) []string {
	var out []string
	for _, r := range results {
		out = append(out, strings.TrimSpace(fmt.Sprint(r.Code, " ", r.ErrorCode)))
	}
	return out
}

// TestGuardProtectedTag: an instance carrying PROTECTED_TAG (by default the key
// detach-keypair:protected, any value) gets its own 403 Forbidden.Protected naming the
// setting and keeps its key pair; the others of the request are detached, also when the
// key pair is named by name; a dry run shows the refusal and detaches nothing; a Targets
// selection reports it too; with PROTECTED_TAG=key=value only that value protects.
func TestGuardProtectedTag(t *testing.T) {
	fix := fleetWith(map[int][]emulator.Tag{
		3: {{Key: "env", Value: "staging"}, {Key: "detach-keypair:protected", Value: "payments-bastion"}},
		4: {{Key: "env", Value: "staging"}, {Key: "keep", Value: "yes"}},
		5: {{Key: "env", Value: "staging"}, {Key: "keep", Value: "no"}},
	})
	req := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1), instance(2), instance(3)}})

	t.Run("named by name", func(t *testing.T) {
		env := start(t, localrun.Options{Fixture: fix})
		before := env.Emulator.Bindings()
		a, _ := invokeAnswer(t, env, req)
		if got := fmt.Sprint(codes(a.Results)); got != "[200 200 403 Forbidden.Protected]" || !strings.Contains(a.Results[2].Message, "PROTECTED_TAG") || a.FailCount != 1 {
			t.Fatalf("results %s, FailCount %d: %+v", got, a.FailCount, a.Results)
		}
		after := env.Emulator.Bindings()
		emulatortest.AssertChanges(t, before, after, a.Results)
		if after[instance(3)] != "ops-2026" {
			t.Errorf("the protected instance has %q, want ops-2026 still", after[instance(3)])
		}
		wantCalls(t, env.Emulator, 1, 1, 1)
	})
	t.Run("dry run", func(t *testing.T) {
		env := start(t, localrun.Options{Fixture: fix})
		before := env.Emulator.Bindings()
		dry := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1), instance(3)}, "DryRun": true})
		a, _ := invokeAnswer(t, env, dry)
		if got := fmt.Sprint(codes(a.Results)); got != "[200 403 Forbidden.Protected]" {
			t.Fatalf("dry run results %s", got)
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil) // a dry run: nothing changes
		wantCalls(t, env.Emulator, 1, 1, 0)
	})
	t.Run("targets", func(t *testing.T) {
		env := start(t, localrun.Options{Fixture: fix})
		before := env.Emulator.Bindings()
		a := invokeOne(t, env, timerEvent(map[string]any{"KeyPairName": "ops-2026", "Targets": map[string]any{"Tags": []map[string]string{{"Key": "env", "Value": "staging"}}}}))
		refused := 0
		for _, r := range a.Results {
			if r.ErrorCode == detach.CodeProtected {
				refused++
				if r.InstanceId != instance(3) {
					t.Errorf("%s refused: %s", r.InstanceId, r.Message)
				}
			}
		}
		if refused != 1 || *a.MatchedCount != 15 {
			t.Errorf("%d refused of %d matched, want instance 3 of 15", refused, *a.MatchedCount)
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	})
	t.Run("key=value", func(t *testing.T) {
		env := start(t, localrun.Options{Fixture: fix, Env: []string{"PROTECTED_TAG=keep=yes"}})
		before := env.Emulator.Bindings()
		a, _ := invokeAnswer(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(3), instance(4), instance(5)}}))
		// 3 carries detach-keypair:protected, which this setting does not name.
		if got := fmt.Sprint(codes(a.Results)); got != "[200 403 Forbidden.Protected 200]" || !strings.Contains(a.Results[1].Message, "keep=yes") {
			t.Fatalf("results %s: %+v", got, a.Results)
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	})
}

// TestGuardRequiredTag: with REQUIRED_TAG, a Stopped bound instance without the tag gets
// 403 Forbidden.Protected naming it and keeps its key pair while the others go on; a
// Targets selection asks ECS for the tag too, so that instances without it are not taken.
func TestGuardRequiredTag(t *testing.T) {
	fix := fleetWith(map[int][]emulator.Tag{8: {{Key: "env", Value: "staging"}}}) // no team=payments
	env := start(t, localrun.Options{Fixture: fix, Env: []string{"REQUIRED_TAG=team=payments"}})
	before := env.Emulator.Bindings()
	a, _ := invokeAnswer(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(7), instance(8), instance(9)}}))
	if got := fmt.Sprint(codes(a.Results)); got != "[200 403 Forbidden.Protected 200]" || !strings.Contains(a.Results[1].Message, "REQUIRED_TAG") {
		t.Fatalf("results %s: %+v", got, a.Results)
	}
	after := env.Emulator.Bindings()
	emulatortest.AssertChanges(t, before, after, a.Results)
	if after[instance(8)] != "ops-2026" {
		t.Errorf("the instance without the required tag has %q, want ops-2026 still", after[instance(8)])
	}
	wantCalls(t, env.Emulator, 1, 1, 1)

	// env=staging and bound to ops-2026: 1-15, of which 1-10 carry team=payments; 7 and 9
	// are detached already and 8 lacks the tag: 1-6 and 10 are left.
	env.Emulator.ResetCounters()
	before = env.Emulator.Bindings()
	b := invokeOne(t, env, timerEvent(map[string]any{"KeyPairName": "ops-2026", "Targets": map[string]any{"Tags": []map[string]string{{"Key": "env", "Value": "staging"}}}}))
	var taken []string
	for _, r := range b.Results {
		taken = append(taken, strings.TrimPrefix(r.InstanceId, "i-bp1d6tsvznfghy7y"))
		if !r.Success {
			t.Errorf("%s: %+v", r.InstanceId, r)
		}
	}
	if got := strings.Join(taken, ","); got != "0001,0002,0003,0004,0005,0006,0010" {
		t.Errorf("Targets took %s, want the staging instances with team=payments", got)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), b.Results)
}

// TestGuardAllowedKeyPairs: a key pair outside ALLOWED_KEY_PAIRS is refused as a whole
// request (403 Forbidden.Policy), dry runs too: before any call when the request's own
// name already rules it out, after resolving it (a read) when an id could still allow
// it; the allowed ones, by wildcard or by id, are detached. An id can allow a key pair
// named by name only where the cloud tells ids (the emulator's undocumented case): where
// it does not, as ECS documents, the refusal says to list the name.
func TestGuardAllowedKeyPairs(t *testing.T) {
	ops := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	opsDry := directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}, "DryRun": true})

	env := start(t, localrun.Options{Env: []string{"ALLOWED_KEY_PAIRS=deploy-*"}})
	before := env.Emulator.Bindings()
	for _, payload := range [][]byte{ops, opsDry} {
		a, _ := invokeAnswer(t, env, payload)
		wantRefusal(t, a, "ALLOWED_KEY_PAIRS")
	}
	wantCalls(t, env.Emulator, 0, 0, 0)
	a, _ := invokeAnswer(t, env, directRequest(map[string]any{"KeyPairName": "deploy-ci", "InstanceIds": []string{instance(16), instance(17)}}))
	if a.Code != "" || a.FailCount != 0 {
		t.Fatalf("deploy-ci (allowed by deploy-*): %s %s %+v", a.Code, a.Message, a.Results)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)

	byID := []string{"ALLOWED_KEY_PAIRS=deploy-*, ssh-bp67acfmxazb4p0003"}
	env = start(t, localrun.Options{Env: byID})
	backup := directRequest(map[string]any{"KeyPairName": "ops-2026-backup", "InstanceIds": []string{instance(26)}})
	r, _ := invokeAnswer(t, env, backup)
	wantRefusal(t, r, "list its name")
	wantCalls(t, env.Emulator, 1, 0, 0)

	env = start(t, localrun.Options{Env: byID, ExposeKeyPairIDs: true})
	before = env.Emulator.Bindings()
	r, _ = invokeAnswer(t, env, ops)
	wantRefusal(t, r, "ALLOWED_KEY_PAIRS")
	wantCalls(t, env.Emulator, 1, 0, 0) // its id had to be known: an id is listed
	a, _ = invokeAnswer(t, env, backup)
	if a.Code != "" || a.FailCount != 0 {
		t.Fatalf("ops-2026-backup (allowed by its id): %s %s %+v", a.Code, a.Message, a.Results)
	}
	after := env.Emulator.Bindings()
	emulatortest.AssertChanges(t, before, after, a.Results)
	if after[instance(1)] != "ops-2026" {
		t.Errorf("%s lost ops-2026", instance(1))
	}
}

// TestGuardAllowedRegions: a request for a region outside ALLOWED_REGIONS is refused
// before any cloud call, over HTTP with status 403; one for an allowed region runs.
func TestGuardAllowedRegions(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"ALLOWED_REGIONS=cn-shanghai"}})
	before := env.Emulator.Bindings()
	body, _ := json.Marshal(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	httpReq, _ := json.Marshal(map[string]any{
		"version": "v1", "rawPath": "/", "body": string(body), "isBase64Encoded": false, "headers": map[string]string{},
		"requestContext": map[string]any{"http": map[string]string{"method": "POST", "sourceIp": "198.51.100.4"}},
	})
	a, status := invokeAnswer(t, env, httpReq) // no RegionId: the function's own, cn-hangzhou
	if status != 403 {
		t.Errorf("HTTP status %d, want 403", status)
	}
	wantRefusal(t, a, "ALLOWED_REGIONS")
	wantCalls(t, env.Emulator, 0, 0, 0)

	const shanghai = "i-uf6bkqbwbwwj8y0001"
	a, _ = invokeAnswer(t, env, directRequest(map[string]any{"RegionId": "cn-shanghai", "KeyPairName": "ops-2026", "InstanceIds": []string{shanghai}}))
	if a.Code != "" || a.FailCount != 0 {
		t.Fatalf("cn-shanghai: %s %s %+v", a.Code, a.Message, a.Results)
	}
	after := env.Emulator.Bindings()
	emulatortest.AssertChanges(t, before, after, a.Results)
	if after[shanghai] != "" {
		t.Errorf("%s still has %q", shanghai, after[shanghai])
	}
}

// TestGuardAllowedRegionsENS: ALLOWED_REGIONS may list ENS edge regions next to API
// regions. Named by id, an ENS instance in an edge region it does not list is refused on
// its own (403 Forbidden.Protected, naming ALLOWED_REGIONS), the others detached; a
// Targets selection must name allowed edge regions (Targets.EnsRegionIds), else it is
// refused before any cloud call (403 Forbidden.Policy). The emulator's state is checked.
func TestGuardAllowedRegionsENS(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"ALLOWED_REGIONS=cn-hangzhou,cn-chengdu-telecom-4"}})
	before := env.Emulator.Bindings()
	chengdu1, hangzhou, chengdu2 := ensInstance(16), ensInstance(17), ensInstance(18) // edge-fleet, Stopped
	a, _ := invokeAnswer(t, env, directRequestENS(map[string]any{"KeyPairId": "ssh-5lywanlkih1zo9yl8eg0003", "InstanceIds": []string{chengdu1, hangzhou, chengdu2}}))
	if a.Code != "" || len(a.Results) != 3 {
		t.Fatalf("by id: %s %s %+v", a.Code, a.Message, a.Results)
	}
	for i, want := range []string{"200 ", "403 Forbidden.Protected", "200 "} {
		r := a.Results[i]
		if got := fmt.Sprintf("%d %s", r.Code, r.ErrorCode); got != want || r.ErrorCode != "" && !strings.Contains(r.Message, "cn-hangzhou-telecom, which is not in ALLOWED_REGIONS") {
			t.Errorf("%s: %+v, want %s", r.InstanceId, r, want)
		}
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)

	before = env.Emulator.Bindings()
	calls := cloudCalls(env.Emulator)
	for _, sel := range []map[string]any{
		{"Tags": []map[string]string{{"Key": "team", "Value": "cdn"}}},
		{"EnsRegionIds": []string{"cn-chengdu-telecom-4", "cn-hangzhou-telecom"}},
	} {
		a, status := invokeAnswer(t, env, httpEvent(map[string]any{"Product": "ENS", "KeyPairName": "edge-fleet", "Targets": sel}))
		if status != 403 {
			t.Errorf("Targets %v: HTTP status %d, want 403", sel, status)
		}
		wantRefusal(t, a, "ALLOWED_REGIONS")
	}
	if n := cloudCalls(env.Emulator); n != calls {
		t.Errorf("%d cloud calls for refused requests", n-calls)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)

	a, _ = invokeAnswer(t, env, directRequestENS(map[string]any{"KeyPairName": "edge-fleet",
		"Targets": map[string]any{"EnsRegionIds": []string{"cn-chengdu-telecom-4"}, "Tags": []map[string]string{{"Key": "team", "Value": "cdn"}}}}))
	if a.Code != "" || a.TotalCount == 0 || a.TotalCount == a.FailCount {
		t.Fatalf("Targets in an allowed edge region: %s %s, %d results, %d failed", a.Code, a.Message, a.TotalCount, a.FailCount)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
}

// TestGuardUnscopedTargets: Targets without a tag or a resource group is refused before
// any call unless ALLOW_UNSCOPED_TARGETS=true; a scoped one runs.
func TestGuardUnscopedTargets(t *testing.T) {
	unscoped := timerEvent(map[string]any{"KeyPairName": "deploy-ci", "Targets": map[string]any{}})
	env := start(t, localrun.Options{})
	before := env.Emulator.Bindings()
	a, _ := invokeAnswer(t, env, unscoped)
	wantRefusal(t, a, "ALLOW_UNSCOPED_TARGETS")
	wantCalls(t, env.Emulator, 0, 0, 0)
	a = invokeOne(t, env, timerEvent(map[string]any{"KeyPairName": "deploy-ci", "Targets": map[string]any{"ResourceGroupId": "rg-acfmzprod00001"}}))
	if *a.MatchedCount != 5 || a.FailCount != 0 {
		t.Fatalf("deploy-ci in the prod group: matched %d failed %d", *a.MatchedCount, a.FailCount)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
}
