package detach

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRetriedInvocation: on a retry of the invocation, an instance of the request with
// no key pair any more is reported detached (an earlier attempt may have done it), also
// by name, where a first attempt refuses the whole request; one bound to another key
// pair still fails, alone.
func TestRetriedInvocation(t *testing.T) {
	c := newScripted()
	c.instances["i-a1"].KeyPairName = ""        // detached by the first attempt
	c.instances["i-a3"].KeyPairName = "another" // never had it, or rebound since
	s := NewService(Options{Backoff: time.Millisecond})
	req := Request{RegionId: "cn-hangzhou", KeyPairName: "k", InstanceIds: []string{"i-a1", "i-a2", "i-a3"}}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Detach(ctx, c, req); err == nil || err.Code != CodeNotAttached || len(c.calls) != 0 {
		t.Fatalf("first attempt: %v after %d detach calls, want the request refused before any", err, len(c.calls))
	}

	res, err := s.Detach(WithRetryCount(ctx, 1), c, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r := res.Results[0]; !r.Success || !strings.Contains(r.Message, "already detached") {
		t.Errorf("unbound on the retry: %+v", r)
	}
	if r := res.Results[1]; !r.Success || r.Message != MessageSuccessful || c.bound("i-a2") {
		t.Errorf("bound on the retry: %+v", r)
	}
	if r := res.Results[2]; r.Success || r.ErrorCode != CodeNotAttached || !c.bound("i-a3") {
		t.Errorf("bound to another key pair: %+v", r)
	}
	if len(c.calls) != 1 || len(c.calls[0]) != 1 {
		t.Errorf("DetachKeyPair calls %v, want one for i-a2", c.calls)
	}

	req.DryRun = true // a dry run detached nothing the first time: first-attempt rules
	if _, err := s.Detach(WithRetryCount(ctx, 1), c, req); err == nil || err.Code != CodeNotAttached {
		t.Errorf("retried dry run: %v, want the request refused", err)
	}
}
