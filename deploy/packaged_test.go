package deploy

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestPackagedBinaryRuns runs `make package` and the binary taken out of its zip
// under the FC runtime-API runner, against the emulator, on a sample event: what is
// deployed is what was tested.
func TestPackagedBinaryRuns(t *testing.T) {
	zipPath := makePackage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	bin := filepath.Join(t.TempDir(), BinaryName)
	for _, f := range zr.File {
		if f.Name != BinaryName {
			continue
		}
		if f.Mode().Perm() != 0o755 {
			t.Fatalf("%s has mode %v in the zip", f.Name, f.Mode())
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, f.Mode().Perm())
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(out, r)
		r.Close()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	env, err := localrun.Start(ctx, localrun.Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	payload, err := os.ReadFile("../events/direct.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Invoke(ctx, payload)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v", err, res.Error)
	}
	var answer struct{ TotalCount, FailCount int }
	if err := json.Unmarshal(res.Payload, &answer); err != nil || answer.TotalCount != 4 || answer.FailCount != 2 {
		t.Fatalf("answer %s", res.Payload)
	}
	if in, _ := env.Emulator.Instance("i-bp1d6tsvznfghy7y0001"); in.KeyPairName != "" {
		t.Fatalf("i-bp1d6tsvznfghy7y0001 still has %q", in.KeyPairName)
	}
}
