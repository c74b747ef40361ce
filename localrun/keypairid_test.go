package localrun_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestKeyPairIDOnECS: ECS, as documented, answers DescribeKeyPairs without key pair
// ids, so a request by KeyPairId is refused (InvalidParameter.KeyPairId, pointing to
// KeyPairName), never answered with a misleading InvalidKeyPair.NotFound; where the
// answers carry ids (the undocumented case), the key pair is found by id and detached.
func TestKeyPairIDOnECS(t *testing.T) {
	req := directRequest(map[string]any{"KeyPairId": "ssh-bp67acfmxazb4p0001", "InstanceIds": []string{instance(1), instance(2)}})
	t.Run("documented", func(t *testing.T) {
		env := start(t, localrun.Options{})
		before := env.Emulator.Bindings()
		res, err := env.Invoke(context.Background(), req)
		if err != nil || res.Outcome != fcruntime.Succeeded {
			t.Fatalf("invocation: %v %v (a 4xx is an answer, not a failed invocation)", err, res.Error)
		}
		_, got := answers(t, res.Payload)
		if a := got[0]; a.Code != "InvalidParameter.KeyPairId" || !strings.Contains(a.Message, "use KeyPairName") || !strings.Contains(a.Message, `"Product": "ENS"`) {
			t.Fatalf("answer %s", res.Payload)
		}
		if !maps.Equal(before, env.Emulator.Bindings()) {
			t.Error("bindings changed")
		}
		if n := env.Emulator.Calls("DescribeInstances") + env.Emulator.Calls("DetachKeyPair"); n != 0 {
			t.Errorf("%d calls past DescribeKeyPairs", n)
		}
		if evs := env.Emulator.Events(env.EventBus); len(evs) != 1 || evs[0].Type != detach.EventFailed {
			t.Errorf("result events %+v, want one failure", evs)
		}
	})
	t.Run("undocumented ids", func(t *testing.T) {
		env := start(t, localrun.Options{ExposeKeyPairIDs: true})
		before := env.Emulator.Bindings()
		a := invokeOne(t, env, req)
		if a.FailCount != 0 || a.KeyPairId != "ssh-bp67acfmxazb4p0001" || a.KeyPairName != "ops-2026" {
			t.Fatalf("answer %+v", a)
		}
		emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
	})
}
