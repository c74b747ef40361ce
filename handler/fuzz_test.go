package handler_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
)

// TestSeeds runs the seed corpus of FuzzDecode (testdata/fuzz/FuzzDecode and the
// samples in events/) through the whole handler, against the emulator over HTTP, one
// after the other in name order: every seed must be answered in one of the contract's
// forms, and change in the emulator exactly what its answer says it detached.
func TestSeeds(t *testing.T) {
	seeds := map[string][]byte{}
	files, _ := filepath.Glob("../events/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds[filepath.Base(f)] = b
	}
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, f := range corpus {
		seeds[filepath.Base(f)] = corpusValue(t, f)
	}
	if len(corpus) == 0 || len(seeds) == len(corpus) {
		t.Fatalf("%d corpus files and %d samples: the test would prove little", len(corpus), len(seeds)-len(corpus))
	}
	e := newEnv(t, emulator.DefaultFixture(), map[string]string{"MAX_ATTEMPTS": "1", "MAX_BODY_BYTES": "65536", "KEY_PAIR_NAME": "ops-2026"})
	detached := 0
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		t.Run(name, func(t *testing.T) {
			before := e.emu.Bindings()
			ctx, cancel := fcContext(5 * time.Second)
			defer cancel()
			out, err := e.h.Invoke(ctx, seeds[name])
			results := checkAnswer(t, out, err)
			emulatortest.AssertChanges(t, before, e.emu.Bindings(), results)
			for _, r := range results {
				if r.Success {
					detached++
				}
			}
		})
	}
	if detached == 0 {
		t.Error("no seed detached anything: the state checks prove little")
	}
}

// corpusValue reads a corpus file of a []byte fuzz target ("go test fuzz v1" and one
// []byte("...") line).
func corpusValue(t *testing.T, file string) []byte {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	header, line, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	quoted, ok := strings.CutPrefix(line, "[]byte(")
	if header != "go test fuzz v1" || !ok || !strings.HasSuffix(quoted, ")") {
		t.Fatalf("%s: not a corpus file of a []byte target", file)
	}
	v, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return []byte(v)
}

// checkAnswer fails unless out/err is a contract answer: a result, a request-level
// error, an HTTP trigger response holding one, or an array of them; or a failed
// invocation whose message is a request-level error. It returns the per-instance
// results of the answers that may have changed the cloud (not dry runs), for
// emulatortest.AssertChanges.
func checkAnswer(t *testing.T, out []byte, err error) []detach.InstanceResult {
	t.Helper()
	if err != nil {
		var ie messages.InvokeResponse_Error
		if !errors.As(err, &ie) {
			t.Fatalf("invocation failed with %T %v", err, err)
		}
		out = []byte(ie.Message)
	}
	var http struct {
		StatusCode *int    `json:"statusCode"`
		Body       *string `json:"body"`
	}
	if json.Unmarshal(out, &http) == nil && http.StatusCode != nil {
		if http.Body == nil || *http.StatusCode < 200 || *http.StatusCode > 599 {
			t.Fatalf("bad HTTP answer %s", out)
		}
		out = []byte(*http.Body)
	}
	if bytes.HasPrefix(bytes.TrimSpace(out), []byte("[")) {
		var items []json.RawMessage
		if err := json.Unmarshal(out, &items); err != nil || len(items) == 0 {
			t.Fatalf("bad array answer %s", out)
		}
		var results []detach.InstanceResult
		for _, it := range items {
			results = append(results, checkOne(t, it)...)
		}
		return results
	}
	return checkOne(t, out)
}

// checkOne checks one answer and returns its results, none for a dry run.
func checkOne(t *testing.T, out []byte) []detach.InstanceResult {
	t.Helper()
	var a struct {
		detach.Result
		Code    string
		Message string
	}
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("answer is not JSON: %s", out)
	}
	if a.Code != "" {
		if a.Message == "" || a.Results != nil {
			t.Fatalf("bad error answer %s", out)
		}
		return nil
	}
	if a.KeyPairName == "" || a.TotalCount != len(a.Results) || a.TotalCount == 0 && a.MatchedCount == nil {
		t.Fatalf("bad result answer %s", out)
	}
	failed := 0
	for _, r := range a.Results {
		if !r.Success {
			failed++
		}
		if r.InstanceId == "" || r.Code == 0 || r.Success != (r.Code == 200) || r.Message == "" {
			t.Fatalf("bad instance result %+v in %s", r, out)
		}
	}
	if failed != a.FailCount {
		t.Fatalf("FailCount %d, counted %d: %s", a.FailCount, failed, out)
	}
	if a.DryRun {
		return nil
	}
	return a.Results
}
