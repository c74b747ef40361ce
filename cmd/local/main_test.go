package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDryRunFlag: --dry-run runs the function with DRY_RUN=true, on any sample (a
// base64 HTTP body included), and wins over --env DRY_RUN=false; nothing is detached.
func TestDryRunFlag(t *testing.T) {
	if err := newFlags().Parse([]string{"--env", "DRY_RUN=false", "--dry-run", "-e", "x.json"}); err != nil {
		t.Fatal(err)
	}
	if env := opts.settings(); env[len(env)-1] != "DRY_RUN=true" {
		t.Fatalf("settings %v: DRY_RUN=true must come last", env)
	}
	if testing.Short() {
		t.Skip("builds the function")
	}
	t.Chdir("../..")
	var out, logs bytes.Buffer
	code, err := invoke([]string{"-quiet", "--dry-run", "-e", "events/http-base64.json"}, &out, &logs)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, logs.String(), out.String())
	}
	if !strings.Contains(out.String(), `"DryRun": true`) || strings.Count(out.String(), "dry run: would be detached") < 2 ||
		strings.Contains(out.String(), `"Message": "successful"`) {
		t.Fatalf("not a dry run:\n%s", out.String())
	}
}
