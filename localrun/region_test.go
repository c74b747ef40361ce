package localrun_test

import (
	"context"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestUnknownRegion: a RegionId the cloud does not know (the emulator answers 404
// InvalidRegionId.NotFound, as ECS does) is the caller's mistake: 400
// InvalidParameter.RegionId, answered, not a failed invocation that the platform would
// retry, and by HTTP a 400.
func TestUnknownRegion(t *testing.T) {
	env, _ := startLogged(t, localrun.Options{})
	before := env.Emulator.Bindings()
	req := directRequest(map[string]any{"RegionId": "cn-nowhere", "KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}})
	res, err := env.Invoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation %s (a retry cannot help): %s", res.Outcome, res.Error)
	}
	_, got := answers(t, res.Payload)
	if got[0].Code != "InvalidParameter.RegionId" || !strings.Contains(got[0].Message, "cn-nowhere") {
		t.Fatalf("answer %s", res.Payload)
	}
	res, err = env.Invoke(context.Background(), []byte(httpRequest("POST", string(req))))
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v", err, res.Error)
	}
	if status, got := answers(t, res.Payload); status != 400 || got[0].Code != "InvalidParameter.RegionId" {
		t.Fatalf("HTTP %d %s", status, res.Payload)
	}
	evs := env.Emulator.Events(env.EventBus)
	if len(evs) != 2 || evs[0].Type != detach.EventFailed || !strings.Contains(evs[0].Subject, ":cn-nowhere:") {
		t.Fatalf("events %+v", evs)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)
}
