package detach

import (
	"context"
	"errors"
	"testing"
)

// flaky fails its first calls as the cloud would, recording every event id it was sent.
type flaky struct {
	fail []error
	ids  []string
}

func (f *flaky) Publish(_ context.Context, ev Event) error {
	f.ids = append(f.ids, ev.ID)
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
	if err := Emit(context.Background(), p, ev, 5); err != nil {
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
}

func TestEmitStopsOnPermanentErrors(t *testing.T) {
	p := &flaky{fail: []error{&CloudError{Status: 403, Code: "Forbidden.RAM"}, nil}}
	err := Emit(context.Background(), p, Event{ID: "x"}, 5)
	var ce *CloudError
	if !errors.As(err, &ce) || ce.Code != "Forbidden.RAM" || len(p.ids) != 1 {
		t.Fatalf("err %v after %d calls, want Forbidden.RAM after 1", err, len(p.ids))
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
