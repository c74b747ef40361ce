package localrun_test

import (
	"context"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/localrun"
)

// TestRunningEmulator: the function runs against an emulator that is already
// running (make emulator), signing with its documented local key.
func TestRunningEmulator(t *testing.T) {
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	env := start(t, localrun.Options{Emulator: emu.URL()})
	if env.Emulator != nil || env.EmulatorURL != emu.URL() {
		t.Fatalf("env emulator %v %q", env.Emulator, env.EmulatorURL)
	}
	before := emu.Bindings()
	a := invokeOne(t, env, directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(5), instance(6)}}))
	if a.FailCount != 0 || len(a.Results) != 2 {
		t.Fatalf("answer %+v", a)
	}
	emulatortest.AssertChanges(t, before, emu.Bindings(), a.Results)
	evs, err := env.Events(context.Background(), env.EventBus)
	if err != nil || len(evs) != 1 || evs[0].Type != detach.EventCompleted {
		t.Errorf("events %+v %v", evs, err)
	}

	for _, o := range []localrun.Options{
		{Emulator: emu.URL(), Faults: map[string]emulator.Fault{"*": {ErrorRate: 1}}},
		{Emulator: "http://127.0.0.1:1"},
		{Emulator: "127.0.0.1:8300"},
	} {
		o.Binary = binary
		if env, err := localrun.Start(context.Background(), o); err == nil {
			env.Close()
			t.Errorf("started with %+v", o)
		}
	}
}
