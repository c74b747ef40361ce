package emulatortest

import (
	"fmt"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
)

// recorder is a testing.TB that keeps the failures it is told of.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

// TestAssertChanges: the check fails on each way a run can disagree with its answer,
// and passes when they agree.
func TestAssertChanges(t *testing.T) {
	before := map[string]string{"i-1": "k", "i-2": "k", "i-3": "", "i-4": "other"}
	ok := func(id string) detach.InstanceResult { return detach.InstanceResult{InstanceId: id, Success: true} }
	refused := func(id string) detach.InstanceResult { return detach.InstanceResult{InstanceId: id, Code: 400} }
	for _, tc := range []struct {
		name    string
		after   map[string]string
		results []detach.InstanceResult
		fails   int
	}{
		{"agree", map[string]string{"i-1": "", "i-2": "k", "i-3": "", "i-4": "other"}, []detach.InstanceResult{ok("i-1"), refused("i-2")}, 0},
		{"nothing asked, nothing changed", before, nil, 0},
		{"reported detached, still bound", before, []detach.InstanceResult{ok("i-1")}, 1},
		{"detached without a success", map[string]string{"i-1": "", "i-2": "k", "i-3": "", "i-4": "other"}, []detach.InstanceResult{refused("i-1")}, 1},
		{"another instance changed", map[string]string{"i-1": "", "i-2": "k", "i-3": "", "i-4": ""}, []detach.InstanceResult{ok("i-1")}, 1},
		{"reported detached, had none", before, []detach.InstanceResult{ok("i-3")}, 1},
		{"reported detached, unknown", before, []detach.InstanceResult{ok("i-9")}, 1},
	} {
		r := &recorder{TB: t}
		AssertChanges(r, before, tc.after, tc.results)
		if len(r.errs) != tc.fails {
			t.Errorf("%s: %d failures %q, want %d", tc.name, len(r.errs), r.errs, tc.fails)
		}
	}
}

// TestBindings: Server.Bindings holds ECS's and ENS's instances.
func TestBindings(t *testing.T) {
	srv, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := srv.Bindings()
	if want := len(srv.Instances()) + len(srv.ENSInstances()); len(b) != want {
		t.Errorf("%d bindings, want %d", len(b), want)
	}
	if b["i-bp1d6tsvznfghy7y0001"] != "ops-2026" || b["i-5iqczfxps7csjrxeca0700001"] != "edge-ops-2026" {
		t.Errorf("bindings of the first ECS and ENS instances: %q, %q", b["i-bp1d6tsvznfghy7y0001"], b["i-5iqczfxps7csjrxeca0700001"])
	}
}
