package main

import (
	"io"
	"path/filepath"
	"testing"
)

// TestDryRunEverySample: --dry-run runs the function with DRY_RUN=true (winning over
// --env DRY_RUN=false), so that no sample, whatever its trigger (a base64 HTTP body, an
// ECS event, a timer included), changes the cloud.
func TestDryRunEverySample(t *testing.T) {
	o, _, ok := parse("invoke", []string{"--env", "DRY_RUN=false", "--dry-run", "x.json"}, io.Discard)
	if env := o.settings(); !ok || env[len(env)-1] != "DRY_RUN=true" {
		t.Fatalf("settings %v: DRY_RUN=true must come last", env)
	}
	files, _ := filepath.Glob("../../events/*.json")
	if len(files) == 0 {
		t.Fatal("no samples")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := local(t, "", "invoke", f, "--dry-run", "--quiet", "--env", "KEY_PAIR_NAME=ops-2026")
			if r.code != exitOK && r.code != exitRefused {
				t.Fatalf("exit %d:\n%s%s", r.code, r.stderr, r.stdout)
			}
			if r.after == nil {
				t.Fatal("the emulator's state was not seen")
			}
			if d := diff(fleet(), r.after); len(d) > 0 {
				t.Errorf("a dry run changed the cloud: %v\n%s", d, r.stdout)
			}
		})
	}
}
