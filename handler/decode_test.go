package handler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"detachkeypair/detach"
	"detachkeypair/settings"
)

// FuzzDecode feeds the decoding of trigger payloads (envelope classification, event
// parsing, request validation) arbitrary input, as any trigger could deliver it. It
// calls no cloud, so it runs thousands of inputs a second. Whatever the input: no
// panic, at least one item, each a valid request or an error that answers it with a
// bounded message, and a failure subject only from a valid key pair. The seed corpus is
// the samples in events/ and testdata/fuzz/FuzzDecode; TestSeeds runs the same seeds
// through the whole handler against the emulator.
func FuzzDecode(f *testing.F) {
	for _, b := range samples(f) {
		f.Add(b)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		env := Classify(payload)
		items, many := h.decode(payload, env)
		checkItems(t, h, env, items, many)
	})
}

// samples are the trigger samples in events/.
func samples(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("../events/*.json")
	if len(files) == 0 {
		tb.Fatal("no samples in ../events")
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func fuzzHandler(tb testing.TB) *Handler {
	vars := map[string]string{"MAX_BODY_BYTES": "65536", "KEY_PAIR_NAME": "ops-2026", "MAX_INSTANCES": "100"}
	cfg, err := settings.Load(func(k string) string { return vars[k] })
	if err != nil {
		tb.Fatal(err)
	}
	return New(Config{Settings: cfg})
}

// checkItems fails unless items are what decode promises.
func checkItems(t *testing.T, h *Handler, env Envelope, items []item, many bool) {
	t.Helper()
	if len(items) == 0 {
		t.Fatal("no item: the invocation would have no answer")
	}
	if many && env != CloudEvent && env != EventBatch {
		t.Fatalf("a %s payload answered as an array", env)
	}
	for i, it := range items {
		if it.keyPair != "" && !detach.ValidKeyPairName(it.keyPair) && !detach.ValidKeyPairID(it.keyPair) {
			t.Fatalf("item %d: subject from raw input %q", i, it.keyPair)
		}
		for _, a := range it.attrs {
			if s, ok := a.(string); ok && len(s) > 200 {
				t.Fatalf("item %d: a %d-byte log attribute", i, len(s))
			}
		}
		if it.err == nil {
			r := it.req
			if err := r.Validate(h.cfg.MaxInstances); err != nil {
				t.Fatalf("item %d: invalid request let through: %v", i, err)
			}
			if len(r.InstanceIds) == 0 && r.Targets == nil || r.KeyPairId == "" && r.KeyPairName == "" {
				t.Fatalf("item %d: request without instances or key pair: %+v", i, r)
			}
			continue
		}
		e := it.err
		if e.Status != 400 && e.Status != 413 || e.Code == "" || e.Message == "" {
			t.Fatalf("item %d: error %d %s %q", i, e.Status, e.Code, e.Message)
		}
		if len(e.Message) > 1000 || len(e.Code) > 100 {
			t.Fatalf("item %d: a %d-byte message: %.200s", i, len(e.Message), e.Message)
		}
		if !utf8.ValidString(e.Message) || strings.ContainsFunc(e.Message, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("item %d: control or invalid characters in %q", i, e.Message)
		}
	}
}

// BenchmarkDecode measures the decoding of the samples in events/, what FuzzDecode
// runs for each input (go test ./handler -run '^$' -bench Decode).
func BenchmarkDecode(b *testing.B) {
	h := fuzzHandler(b)
	payloads := samples(b)
	b.ResetTimer()
	for i := range b.N {
		p := payloads[i%len(payloads)]
		h.decode(p, Classify(p))
	}
}
