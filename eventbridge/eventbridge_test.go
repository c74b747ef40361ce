package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
	"detachkeypair/eventbridge"
)

// bus is a fake EventBridge data plane: it answers PutEvents after delay with status
// and body (200 and a result for every event when status is 0), and counts the
// connections its clients open.
type bus struct {
	*httptest.Server
	delay  time.Duration
	status int
	body   string
	conns  atomic.Int32
	calls  atomic.Int32
}

func newBus(t *testing.T, delay time.Duration, status int, body string) *bus {
	b := &bus{delay: delay, status: status, body: body}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	b.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *bus) serve(w http.ResponseWriter, r *http.Request) {
	b.calls.Add(1)
	select {
	case <-time.After(b.delay):
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if b.status != 0 {
		w.WriteHeader(b.status)
		fmt.Fprint(w, b.body)
		return
	}
	var evs []map[string]any
	json.NewDecoder(r.Body).Decode(&evs)
	var entries []map[string]string
	for _, ev := range evs {
		entries = append(entries, map[string]string{"EventId": fmt.Sprint(ev["id"]), "TraceId": "t"})
	}
	json.NewEncoder(w).Encode(map[string]any{"RequestId": "R1", "FailedEntryCount": 0, "EntryList": entries})
}

func publisher(t *testing.T, b *bus) *eventbridge.Publisher {
	t.Helper()
	p, err := eventbridge.New(eventbridge.Config{Bus: "detach-results", Region: "cn-hangzhou", Endpoint: b.URL,
		Credentials: &aliyun.Credentials{AccessKeyID: "STS.TestOnly0001", AccessKeySecret: "TestOnlySecret0001", SecurityToken: "CAISTestOnlyToken0001"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func event(n int) detach.Event {
	return detach.NewEvent(detach.EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: "1", RequestID: "r", Seq: n},
		&detach.Result{KeyPairName: "ops-2026"}, nil, "")
}

// TestPublishKeepsItsDeadline: concurrent publishes to a bus that answers after a
// second each return by their own deadline: none waits for another past it.
func TestPublishKeepsItsDeadline(t *testing.T) {
	b := newBus(t, time.Second, 0, "")
	p := publisher(t, b)
	const n = 4
	var wg sync.WaitGroup
	late := make(chan time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			dl, _ := ctx.Deadline()
			err := p.Publish(ctx, []detach.Event{event(i)})
			if err == nil {
				t.Error("published to a bus that answers after the deadline")
			}
			late <- time.Since(dl)
		}()
	}
	wg.Wait()
	close(late)
	for d := range late {
		if d > 250*time.Millisecond {
			t.Errorf("a publish returned %s after its deadline", d.Round(time.Millisecond))
		}
	}
}

// TestPublishReusesConnections: publishes with different deadlines share the
// process's connections to the bus, rather than opening (and keeping) one each.
func TestPublishReusesConnections(t *testing.T) {
	b := newBus(t, 0, 0, "")
	p := publisher(t, b)
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2000+137*i)*time.Millisecond)
		err := p.Publish(ctx, []detach.Event{event(i)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := b.conns.Load(); n > 2 {
		t.Errorf("%d connections for 10 sequential publishes", n)
	}
}

// TestPublishErrorStatus: an error answer is reported with the HTTP status the bus
// really answered, not one guessed from its code.
func TestPublishErrorStatus(t *testing.T) {
	for _, c := range []struct {
		status    int
		code      string
		retryable bool
	}{
		{429, "TooManyRequests", true},
		{403, "AccessDenied", false},
		{500, "InternalError", true},
		{409, "EventBusNotExist", false},
	} {
		b := newBus(t, 0, c.status, fmt.Sprintf(`{"requestId":"R2","code":%q,"message":"m","success":false}`, c.code))
		err := publisher(t, b).Publish(context.Background(), []detach.Event{event(1)})
		var ce *detach.CloudError
		if !errors.As(err, &ce) || ce.Status != c.status || ce.Code != c.code || ce.Retryable() != c.retryable || ce.RequestID != "R2" {
			t.Errorf("answer %d %s: error %#v", c.status, c.code, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", c.status)) {
			t.Errorf("error %q does not show HTTP %d", err, c.status)
		}
	}
}
