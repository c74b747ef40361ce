package detach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// flaky fails its first calls as the cloud would, recording every event id it was sent.
type flaky struct {
	fail []error
	ids  []string
}

func (f *flaky) Limits() PublishLimits { return PublishLimits{Events: 16} }

func (f *flaky) Publish(_ context.Context, evs []Event) error {
	for _, ev := range evs {
		f.ids = append(f.ids, ev.ID)
	}
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return err
	}
	return nil
}

func TestEmitRetriesWithTheSameID(t *testing.T) {
	scope := EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: "123", RequestID: "1-abc"}
	ev := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, "")
	p := &flaky{fail: []error{&CloudError{Status: 503, Code: "ServiceUnavailable"}, &CloudError{Status: 400, Code: "Throttling.User"}}}
	if err := Emit(context.Background(), p, []Event{ev}, EmitOptions{Attempts: 5})[0]; err != nil {
		t.Fatal(err)
	}
	if len(p.ids) != 3 || p.ids[0] != ev.ID || p.ids[1] != ev.ID || p.ids[2] != ev.ID {
		t.Fatalf("ids sent %v, want %s three times", p.ids, ev.ID)
	}
	again := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, "")
	if again.ID != ev.ID {
		t.Fatalf("the same request gave ids %s and %s", ev.ID, again.ID)
	}
	scope.Seq = 1
	if other := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, ""); other.ID == ev.ID {
		t.Fatal("the second event of a batch has the first's id")
	}
	if ev.Subject != "acs:ecs:cn-hangzhou:123:keypair/ops-2026" || ev.Type != EventCompleted {
		t.Fatalf("event %+v", ev)
	}
	scope.Product = ProductENS
	if ens := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, ""); ens.Subject != "acs:ens::123:keypair/ops-2026" {
		t.Fatalf("ENS event subject %q, want acs:ens::123:keypair/ops-2026 (no API region)", ens.Subject)
	}
}

func TestEmitStopsOnPermanentErrors(t *testing.T) {
	p := &flaky{fail: []error{&CloudError{Status: 403, Code: "Forbidden.RAM"}, nil}}
	err := Emit(context.Background(), p, []Event{{ID: "x"}}, EmitOptions{Attempts: 5})[0]
	var ce *CloudError
	if !errors.As(err, &ce) || ce.Code != "Forbidden.RAM" || len(p.ids) != 1 {
		t.Fatalf("err %v after %d calls, want Forbidden.RAM after 1", err, len(p.ids))
	}
}

// bus records the events of each Publish call and refuses, once, the events whose id
// is in refuse, with the error given.
type bus struct {
	mu     sync.Mutex
	calls  [][]string
	refuse map[string]error
}

func (b *bus) Limits() PublishLimits { return PublishLimits{Events: 3, Bytes: 200} } // an event of no data: 58 bytes (Event.Size)

func (b *bus) Publish(_ context.Context, evs []Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	refused := &RefusedEvents{Errs: make([]error, len(evs))}
	n := 0
	for i, ev := range evs {
		ids = append(ids, ev.ID)
		if err := b.refuse[ev.ID]; err != nil {
			refused.Errs[i] = err
			delete(b.refuse, ev.ID)
			n++
		}
	}
	b.calls = append(b.calls, ids)
	if n > 0 {
		return refused
	}
	return nil
}

// TestEmitBatches: events go out in as few calls as the publisher's limits allow (by
// count and by size), in order; events the bus refused for a passing reason are sent
// again, alone, and those it refused for good are reported.
func TestEmitBatches(t *testing.T) {
	var evs []Event
	for i := range 8 {
		data := `{}`
		if i == 4 {
			data = `{"big":"` + strings.Repeat("x", 160) + `"}` // over the byte limit: goes alone
		}
		evs = append(evs, Event{ID: fmt.Sprint(i), Data: json.RawMessage(data)})
	}
	b := &bus{refuse: map[string]error{
		"1": &CloudError{Status: 200, Code: "TooManyRequests", Message: "try again"},
		"6": &CloudError{Status: 200, Code: "InvalidArgument", Message: "bad event"},
	}}
	errs := Emit(context.Background(), b, evs, EmitOptions{Attempts: 3, Concurrency: 1})
	want := "[[0 1 2] [1] [3] [4] [5 6 7]]"
	if got := fmt.Sprint(b.calls); got != want {
		t.Errorf("calls %s, want %s", got, want)
	}
	for i, err := range errs {
		if (err != nil) != (i == 6) {
			t.Errorf("event %d: %v", i, err)
		}
	}
}

// TestEventIDPerAttempt: a retried invocation (the same request id, a higher retry
// count) gets a new event id: its result may differ from the earlier attempt's.
func TestEventIDPerAttempt(t *testing.T) {
	scope := EventScope{Source: "acs.fc.detach-keypair", Region: "cn-hangzhou", AccountID: "123", RequestID: "1-abc"}
	first := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, "")
	scope.Retry = 1
	retried := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, "")
	if retried.ID == first.ID {
		t.Fatalf("attempts 0 and 1 of one invocation share event id %s", first.ID)
	}
	if again := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, ""); again.ID != retried.ID {
		t.Fatalf("one attempt gave ids %s and %s", retried.ID, again.ID)
	}
	scope.Seq = 1
	if other := NewEvent(scope, &Result{KeyPairName: "ops-2026"}, nil, ""); other.ID == retried.ID {
		t.Fatal("the second event of a retried batch has the first's id")
	}
}
