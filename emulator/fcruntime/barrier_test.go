package fcruntime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
)

// barrier is an HTTP endpoint that testdata/echofn calls (its "barrier"
// field) and that holds every call until the test opens it, so that a test
// knows, without timing, how many invocations are inside the function.
type barrier struct {
	srv     *httptest.Server
	arrived chan string // the id of each call, as it arrives
	release chan struct{}
	once    sync.Once
}

func newBarrier(t *testing.T) *barrier {
	t.Helper()
	b := &barrier{arrived: make(chan string, 100), release: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b.arrived <- req.URL.Query().Get("id")
		select {
		case <-b.release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(func() {
		b.open()
		b.srv.Close()
	})
	return b
}

// request is an echofn payload that waits at the barrier, under id.
func (b *barrier) request(id string) []byte {
	p, _ := json.Marshal(map[string]any{"barrier": b.srv.URL + "/?id=" + url.QueryEscape(id)})
	return p
}

// wait waits until n more calls have arrived, and returns their ids.
func (b *barrier) wait(t *testing.T, n int) []string {
	t.Helper()
	guard := time.NewTimer(20 * time.Second) // a hang guard, not a measure
	defer guard.Stop()
	var ids []string
	for len(ids) < n {
		select {
		case id := <-b.arrived:
			ids = append(ids, id)
		case <-guard.C:
			t.Fatalf("%d of %d calls arrived at the barrier: %v", len(ids), n, ids)
		}
	}
	return ids
}

// open lets every call through, now and later.
func (b *barrier) open() { b.once.Do(func() { close(b.release) }) }

// drain waits until every invocation of r has settled.
func drain(t *testing.T, r *fcruntime.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v (stats %+v)", err, r.Stats())
	}
}
