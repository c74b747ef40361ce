package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// ensInstance is instance n of the emulator's ENS fleet.
func ensInstance(n int) string { return fmt.Sprintf("i-5iqczfxps7csjrxeca07%05d", n) }

// cloudCalls is the number of calls of every ECS and ENS API the emulator counted.
func cloudCalls(emu *emulator.Server) int {
	n := 0
	for _, api := range []string{emulator.APIDescribeKeyPairs, emulator.APIDescribeInstances, emulator.APIDetachKeyPair,
		emulator.APIENSDescribeKeyPairs, emulator.APIENSDescribeInstances, emulator.APIENSDetachKeyPair} {
		n += emu.Calls(api)
	}
	return n
}

// httpEvent is an FC HTTP trigger event POSTing body.
func httpEvent(body any) []byte {
	b, _ := json.Marshal(body)
	ev, _ := json.Marshal(map[string]any{"version": "v1", "rawPath": "/", "body": string(b), "isBase64Encoded": false,
		"requestContext": map[string]any{"http": map[string]string{"method": "POST", "path": "/"}}})
	return ev
}

// TestENSEndToEnd: the built binary under the runner, against the emulator's ENS. By
// KeyPairId, the stopped bound instances lose the key pair and every other is reported
// on its own; by KeyPairName, one unbound instance refuses the whole request before any
// detach. The emulator's state is checked, and the result event names ENS.
func TestENSEndToEnd(t *testing.T) {
	t.Run("by id", func(t *testing.T) {
		env := start(t, localrun.Options{})
		before := env.Emulator.Bindings()
		ids := []string{ensInstance(3), ensInstance(4), ensInstance(7), ensInstance(8), ensInstance(9), ensInstance(10),
			ensInstance(11), ensInstance(15), ensInstance(5)}
		res, err := env.Invoke(context.Background(), httpEvent(map[string]any{"Product": "ENS", "KeyPairId": "ssh-5lywanlkih1zo9yl8eg0001", "InstanceIds": ids}))
		if err != nil || res.Outcome != fcruntime.Succeeded {
			t.Fatalf("invocation: %v %v", err, res.Error)
		}
		status, got := answers(t, res.Payload)
		a := got[0]
		if status != 200 || a.Code != "" || a.KeyPairName != "edge-ops-2026" || a.KeyPairId != "ssh-5lywanlkih1zo9yl8eg0001" || a.TotalCount != 9 || a.FailCount != 6 {
			t.Fatalf("HTTP %d, answer %s", status, res.Payload)
		}
		want := []string{"200 ", "200 ", "400 IncorrectInstanceStatus", "400 IncorrectInstanceStatus", "400 IncorrectInstanceStatus",
			"400 IncorrectInstanceStatus", "400 PublicKeyNotAttachWithInstance", "400 PublicKeyNotAttachWithInstance", "200 "}
		for i, r := range a.Results {
			if r.InstanceId != ids[i] || fmt.Sprintf("%d %s", r.Code, r.ErrorCode) != want[i] {
				t.Errorf("result %d: %+v, want %s for %s", i, r, want[i], ids[i])
			}
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
		if n := env.Emulator.Calls(emulator.APIDetachKeyPair) + env.Emulator.Calls(emulator.APIDescribeInstances); n != 0 {
			t.Errorf("%d ECS calls for an ENS request", n)
		}
		if n := env.Emulator.Calls(emulator.APIENSDetachKeyPair); n != 1 {
			t.Errorf("%d ENS DetachKeyPair calls, want 1 (3 eligible instances, 30 a call)", n)
		}
		evs := env.Emulator.Events(env.EventBus)
		if len(evs) != 1 || evs[0].Subject != "acs:ens::"+fcruntime.DefaultAccountID+":keypair/edge-ops-2026" {
			t.Errorf("result events %+v, want one with subject acs:ens::<account>:keypair/edge-ops-2026", evs)
		}
	})

	t.Run("by name, one unbound", func(t *testing.T) {
		env := start(t, localrun.Options{})
		before := env.Emulator.Bindings()
		res, err := env.Invoke(context.Background(), directRequestENS(map[string]any{"KeyPairName": "edge-ops-2026",
			"InstanceIds": []string{ensInstance(1), ensInstance(2), ensInstance(14)}}))
		if err != nil || res.Outcome != fcruntime.Succeeded {
			t.Fatalf("invocation: %v %v", err, res.Error)
		}
		_, got := answers(t, res.Payload)
		if got[0].Code != "PublicKeyNotAttachWithInstance" || !strings.Contains(got[0].Message, ensInstance(14)) {
			t.Fatalf("answer %s, want PublicKeyNotAttachWithInstance naming %s", res.Payload, ensInstance(14))
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)
		if n := env.Emulator.Calls(emulator.APIENSDetachKeyPair); n != 0 {
			t.Errorf("%d DetachKeyPair calls; the request should be refused before any", n)
		}
	})
}

// directRequestENS is a direct invocation's request for ENS.
func directRequestENS(fields map[string]any) []byte {
	fields["Product"] = "ENS"
	b, _ := json.Marshal(fields)
	return b
}

// TestENSRefusals: fields that do not apply to the product, and unknown products, are
// refused with InvalidParameter.<Field> before any cloud call; DEFAULT_PRODUCT=ENS makes
// a request without Product an ENS one.
func TestENSRefusals(t *testing.T) {
	env := start(t, localrun.Options{})
	for _, c := range []struct {
		req  map[string]any
		code string
	}{
		{map[string]any{"Product": "ENS", "RegionId": "cn-hangzhou", "KeyPairName": "edge-ops-2026", "InstanceIds": []string{ensInstance(1)}}, "InvalidParameter.RegionId"},
		{map[string]any{"Product": "ECS", "KeyPairName": "ops-2026", "Targets": map[string]any{"EnsRegionIds": []string{"cn-beijing-cmcc"}}}, "InvalidParameter.Targets"},
		{map[string]any{"Product": "ENS", "KeyPairName": "edge-ops-2026", "Targets": map[string]any{"ResourceGroupId": "rg-acfmzstaging001"}}, "InvalidParameter.Targets"},
		{map[string]any{"Product": "RDS", "KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}}, "InvalidParameter.Product"},
	} {
		b, _ := json.Marshal(c.req)
		res, err := env.Invoke(context.Background(), b)
		if err != nil || res.Outcome != fcruntime.Succeeded {
			t.Fatalf("%s: invocation %v %v", c.code, err, res.Error)
		}
		if _, got := answers(t, res.Payload); got[0].Code != c.code {
			t.Errorf("%v: answer %s, want %s", c.req, res.Payload, c.code)
		}
	}
	if n := cloudCalls(env.Emulator); n != 0 {
		t.Errorf("%d cloud calls for refused requests", n)
	}

	def := start(t, localrun.Options{Env: []string{"DEFAULT_PRODUCT=ENS"}})
	before := def.Emulator.Bindings()
	a := invokeOne(t, def, []byte(`{"KeyPairId":"ssh-5lywanlkih1zo9yl8eg0002","InstanceIds":["`+ensInstance(12)+`"]}`))
	if len(a.Results) != 1 || !a.Results[0].Success {
		t.Fatalf("answer %+v", a)
	}
	emulatortest.AssertChanges(t, before, def.Emulator.Bindings(), a.Results)
}

// TestENSHollowTagAnswer: ListTagResources answers with no count, so an answer that lists
// no tags cannot be told from a hollow one. With every ListTagResources answer emptied,
// an instance that carries the protected tag (and one that carries other tags) must not
// lose its key pair under the default PROTECTED_TAG, whether named by id or selected by
// Targets: each is refused with 403 Forbidden.Protected, and the emulator's bindings do
// not change. (Before the guard knew of Limits.EmptyTagsUnclear, both were detached.)
func TestENSHollowTagAnswer(t *testing.T) {
	hollow := map[string]emulator.Fault{emulator.APIENSListTagResources: {EmptyRate: 1}}
	protected, tagged := ensInstance(266), ensInstance(1)
	for name, req := range map[string]map[string]any{
		"by id":   {"KeyPairName": "edge-ops-2026", "InstanceIds": []string{protected, tagged}},
		"targets": {"KeyPairName": "edge-ops-2026", "Targets": map[string]any{"EnsRegionIds": []string{"cn-beijing-cmcc"}}},
	} {
		t.Run(name, func(t *testing.T) {
			env := start(t, localrun.Options{Faults: hollow})
			before := env.Emulator.Bindings()
			a := invokeOne(t, env, directRequestENS(req))
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
			if a.Code != "" || len(a.Results) == 0 || env.Emulator.Calls(emulator.APIENSListTagResources) == 0 {
				t.Fatalf("answer %+v, want per-instance results after ListTagResources calls", a)
			}
			seen := map[string]bool{}
			for _, r := range a.Results {
				seen[r.InstanceId] = true
				if r.Success || r.ErrorCode != "Forbidden.Protected" || !strings.Contains(r.Message, "listed no tags") {
					t.Errorf("%s: %+v, want 403 Forbidden.Protected saying ENS listed no tags", r.InstanceId, r)
				}
			}
			if !seen[protected] || !seen[tagged] {
				t.Errorf("results %+v lack %s or %s", a.Results, protected, tagged)
			}
			if n := env.Emulator.Calls(emulator.APIENSDetachKeyPair); n != 0 {
				t.Errorf("%d ENS DetachKeyPair calls, want none", n)
			}
		})
	}
}

// TestENSTagRulesOff: with PROTECTED_TAG=none and no REQUIRED_TAG, tags do not matter,
// so an ENS instance whose tags ListTagResources lost is detached: the refusal above
// is the tag rules', and the way out for an ENS fleet without tags.
func TestENSTagRulesOff(t *testing.T) {
	hollow := map[string]emulator.Fault{emulator.APIENSListTagResources: {EmptyRate: 1}}
	env := start(t, localrun.Options{Faults: hollow, Env: []string{"PROTECTED_TAG=none"}})
	before := env.Emulator.Bindings()
	a := invokeOne(t, env, directRequestENS(map[string]any{"KeyPairName": "edge-ops-2026", "InstanceIds": []string{ensInstance(1)}}))
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	if a.Code != "" || len(a.Results) != 1 || !a.Results[0].Success {
		t.Fatalf("answer %+v, want %s detached", a, ensInstance(1))
	}
}
