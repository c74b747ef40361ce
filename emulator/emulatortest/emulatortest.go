// Package emulatortest is what the function's tests need of the emulator, as
// net/http/httptest is for net/http: the check that a run changed exactly what its
// answer says, on ECS's and ENS's instances alike, and fault settings that fail the
// test when mistyped.
//
// Take Server.Bindings before a run and after it, then AssertChanges.
package emulatortest

import (
	"maps"
	"slices"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
)

// AssertChanges checks the bindings after a run (Server.Bindings) against those before
// it and the run's per-instance results: an instance lost its key pair exactly when its
// result says it was detached (and it had one), and no other instance changed. Pass the
// results of every answer of the run; for a dry run, or a run that answered with an
// error, pass none: nothing may have changed.
func AssertChanges(t testing.TB, before, after map[string]string, results []detach.InstanceResult) {
	t.Helper()
	detached := map[string]bool{}
	for _, r := range results {
		if r.Success {
			detached[r.InstanceId] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(before)) {
		was, now := before[id], after[id]
		switch {
		case detached[id] && now != "":
			t.Errorf("%s reported detached but still has %q", id, now)
		case detached[id] && was == "":
			t.Errorf("%s reported detached but had no key pair", id)
		case !detached[id] && now != was:
			t.Errorf("%s changed from %q to %q without a successful result", id, was, now)
		}
	}
	for id := range detached {
		if _, ok := before[id]; !ok {
			t.Errorf("%s reported detached but the emulator has no such instance", id)
		}
	}
}

// SetFault sets the fault of an API on srv (Server.SetFault), failing the test at once
// when srv refuses the API's name.
func SetFault(t testing.TB, srv *emulator.Server, api string, f emulator.Fault) {
	t.Helper()
	if err := srv.SetFault(api, f); err != nil {
		t.Fatal(err)
	}
}
