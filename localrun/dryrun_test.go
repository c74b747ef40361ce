package localrun_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestDryRunSetting: with DRY_RUN=true, every sample (ECS events and timers included)
// only plans: the emulator's state is unchanged, every answer says DryRun, and what
// would be detached says so.
func TestDryRunSetting(t *testing.T) {
	files, _ := filepath.Glob("../events/*.json")
	if len(files) == 0 {
		t.Fatal("no samples")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			payload, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := startLogged(t, localrun.Options{Env: []string{"DRY_RUN=true", "KEY_PAIR_NAME=ops-2026"}})
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), payload)
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation: %v %v", err, res.Error)
			}
			_, got := answers(t, res.Payload)
			wouldDetach := 0
			for i, a := range got {
				if a.Code != "" {
					t.Fatalf("answer %d is an error: %s %s", i, a.Code, a.Message)
				}
				if !a.DryRun {
					t.Errorf("answer %d says DryRun false", i)
				}
				for _, r := range a.Results {
					if r.Success {
						wouldDetach++
						if !strings.Contains(r.Message, "dry run") {
							t.Errorf("%s: %q", r.InstanceId, r.Message)
						}
					}
				}
			}
			if wouldDetach == 0 {
				t.Error("nothing would be detached: the sample proves little")
			}
			after := env.Emulator.Bindings()
			for id, kp := range before {
				if after[id] != kp {
					t.Errorf("%s changed from %q to %q in a dry run", id, kp, after[id])
				}
			}
			if n := env.Emulator.Calls("DetachKeyPair"); n != 0 {
				t.Errorf("%d DetachKeyPair calls in a dry run", n)
			}
		})
	}
}
