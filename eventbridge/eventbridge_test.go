package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/eventbridge"
)

// bus is a fake EventBridge data plane: it answers PutEvents after delay with status
// and body (200 and a result for every event when status is 0), and counts the
// connections its clients open. With arrived set, it tells of each call there as it
// comes, and answers none (until the caller gives up).
type bus struct {
	*httptest.Server
	delay   time.Duration
	status  int
	body    string
	conns   atomic.Int32
	calls   atomic.Int32
	arrived chan struct{}
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
	if b.arrived != nil {
		io.Copy(io.Discard, r.Body) // read it all, so that the server sees the client go
		b.arrived <- struct{}{}
		<-r.Context().Done()
		return
	}
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
	p, err := eventbridge.New(eventbridge.Config{Bus: "detach-results", Region: "cn-hangzhou", Endpoint: b.URL, Timeout: time.Minute,
		Credentials: &credentials.AccessKey{AccessKeyID: "STS.TestOnly0001", AccessKeySecret: "TestOnlySecret0001", SecurityToken: "CAISTestOnlyToken0001"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func event(n int) detach.Event {
	return detach.NewEvent(detach.EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: "1", RequestID: "r", Seq: n},
		&detach.Result{KeyPairName: "ops-2026"}, nil, "")
}

// TestPublishKeepsItsDeadline: concurrent publishes to a bus that never answers all
// reach it at once (none waits for another), and each returns, cut short, when its own
// context ends, while the others still wait. It waits on the bus and the publishes, not
// on the clock: the generous bounds only catch a publish that never returns.
func TestPublishKeepsItsDeadline(t *testing.T) {
	b := newBus(t, 0, 0, "")
	b.arrived = make(chan struct{})
	p := publisher(t, b)
	const n = 4
	cancels := make([]context.CancelFunc, n)
	done := make([]chan error, n)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i], done[i] = cancel, make(chan error, 1)
		t.Cleanup(cancel)
		go func() { done[i] <- p.Publish(ctx, []detach.Event{event(i)}) }()
	}
	for i := range n {
		select {
		case <-b.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d publishes reached the bus: the others wait for them", i, n)
		}
	}
	for i := range n {
		cancels[i]() // this publish's deadline
		select {
		case err := <-done[i]:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("publish %d ended with %v, want it cut short by its context", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("publish %d did not return when its context ended", i)
		}
		for j := i + 1; j < n; j++ {
			select {
			case err := <-done[j]:
				t.Fatalf("publish %d returned (%v) when publish %d's context ended", j, err, i)
			default:
			}
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
