package detach

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fault is what scriptedCloud does wrong on one DetachKeyPair call.
type fault int

const (
	noFault        fault = iota
	lostBefore           // no answer; nothing done
	lostAfter            // done, then no answer
	errorAfter           // done, then a 503
	emptyAfter           // done, then a 200 without results
	nullAfter            // done, then a 200 whose first result is missing
	throttled            // Throttling.User; nothing done
	unavailable          // a 503; nothing done
	claimsUnbound        // a 200 whose results say "not attached", all instances untouched
	slowErrorAfter       // done after sleeping slow, then a 503
)

// slow is how long a slowErrorAfter call takes.
const slow = 700 * time.Millisecond

// scriptedCloud is an in-memory ECS region whose DetachKeyPair calls go wrong as
// scripted (call n meets faults[n-1]), and where someone else may start an
// instance right after a call (starts[n]), or tag it protected (tags[n]).
type scriptedCloud struct {
	mu                   sync.Mutex
	instances            map[string]*Instance
	faults               []fault
	starts               map[int]string
	tags                 map[int]string // instance tagged "protected" right after call n
	calls                [][]string     // the ids of each DetachKeyPair call
	describes            int
	detachedWhileRunning []string
}

func newScripted(faults ...fault) *scriptedCloud {
	c := &scriptedCloud{instances: map[string]*Instance{}, faults: faults, starts: map[int]string{}, tags: map[int]string{}}
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("i-a%d", i)
		c.instances[id] = &Instance{ID: id, Status: StatusStopped, KeyPairName: "k"}
	}
	return c
}

func (c *scriptedCloud) Limits() Limits {
	return Limits{Product: ProductECS, Region: "cn-hangzhou", KeyPairPage: ECSKeyPairPage, DescribeIDs: ECSDescribeIDs, Batch: ECSBatch, InstanceTags: true}
}

func (c *scriptedCloud) DescribeKeyPairs(context.Context, KeyPairQuery) (KeyPairPage, error) {
	return KeyPairPage{KeyPairs: []KeyPair{{Name: "k"}}, TotalCount: 1}, nil
}

func (c *scriptedCloud) DescribeInstances(_ context.Context, q InstanceQuery) (InstancePage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.describes++
	var p InstancePage
	for _, id := range q.IDs {
		if in, ok := c.instances[id]; ok {
			p.Instances = append(p.Instances, *in)
		}
	}
	return p, nil
}

func (c *scriptedCloud) DetachKeyPair(_ context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	c.mu.Lock()
	c.calls = append(c.calls, slices.Clone(ids))
	n := len(c.calls)
	f := noFault
	if n <= len(c.faults) {
		f = c.faults[n-1]
	}
	defer func() {
		if id, ok := c.starts[n]; ok {
			c.instances[id].Status = "Running"
		}
		if id, ok := c.tags[n]; ok {
			c.instances[id].Tags = []Tag{{Key: "protected", Value: "true"}}
		}
		c.mu.Unlock()
	}()
	switch f {
	case lostBefore:
		return nil, &CloudError{Message: "connection reset by peer"}
	case throttled:
		return nil, &CloudError{Status: 400, Code: "Throttling.User"}
	case unavailable:
		return nil, &CloudError{Status: 503, Code: "ServiceUnavailable"}
	case slowErrorAfter:
		c.mu.Unlock()
		time.Sleep(slow)
		c.mu.Lock()
	}
	var out []Outcome
	for _, id := range ids {
		in := c.instances[id]
		switch {
		case f == claimsUnbound:
			out = append(out, Outcome{InstanceID: id, Code: 400, ErrorCode: CodeNotAttached, Message: "PublicKeyNotAttachWithInstance"})
		case in.KeyPairName == kp.Name:
			if in.Status != StatusStopped {
				c.detachedWhileRunning = append(c.detachedWhileRunning, id)
			}
			in.KeyPairName = ""
			out = append(out, Outcome{InstanceID: id, Code: 200, Success: true})
		default:
			out = append(out, Outcome{InstanceID: id, Code: 400, ErrorCode: CodeNotAttached, Message: "PublicKeyNotAttachWithInstance"})
		}
	}
	switch f {
	case lostAfter:
		return nil, &CloudError{Message: "connection reset by peer"}
	case errorAfter, slowErrorAfter:
		return nil, &CloudError{Status: 503, Code: "ServiceUnavailable"}
	case emptyAfter:
		return []Outcome{}, nil
	case nullAfter:
		return out[1:], nil
	}
	return out, nil
}

func (c *scriptedCloud) bound(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instances[id].KeyPairName != ""
}

func detachScripted(t *testing.T, c *scriptedCloud, timeout time.Duration, ids ...string) *Result {
	t.Helper()
	s := NewService(Options{Backoff: time.Millisecond, MaxAttempts: 3, Policy: Policy{ProtectedTag: &Tag{Key: "protected"}}})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := s.Detach(ctx, c, Request{RegionId: "cn-hangzhou", KeyPairName: "k", InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.detachedWhileRunning) > 0 {
		t.Errorf("detached while Running: %v", c.detachedWhileRunning)
	}
	return res
}

// TestUnclearOutcomeChecked: after a DetachKeyPair call that acted but answered
// unclearly (no answer, a 5xx, a 200 without results), the instances are checked
// again and reported as they are: detached, without a needless retry.
func TestUnclearOutcomeChecked(t *testing.T) {
	for name, f := range map[string]fault{"lost after": lostAfter, "5xx after": errorAfter, "empty": emptyAfter, "a result missing": nullAfter} {
		t.Run(name, func(t *testing.T) {
			c := newScripted(f)
			res := detachScripted(t, c, 5*time.Second, "i-a1", "i-a2")
			for _, r := range res.Results {
				if !r.Success || c.bound(r.InstanceId) {
					t.Errorf("%+v (bound: %v)", r, c.bound(r.InstanceId))
				}
			}
			if f != nullAfter && res.Results[0].Message != MessageDetachedEarlier {
				t.Errorf("message %q, want %q", res.Results[0].Message, MessageDetachedEarlier)
			}
			if len(c.calls) != 1 || c.describes != 2 {
				t.Errorf("%d DetachKeyPair and %d DescribeInstances calls, want 1 and 2 (check, check again)", len(c.calls), c.describes)
			}
		})
	}
}

// TestStartedBeforeRetry: the first call is lost before ECS acted, and someone starts
// an instance before the retry; the retry must leave it alone (ECS would detach a
// Running one) and report it IncorrectInstanceStatus.
func TestStartedBeforeRetry(t *testing.T) {
	for name, f := range map[string]fault{"lost before": lostBefore, "5xx": unavailable, "throttled": throttled} {
		t.Run(name, func(t *testing.T) {
			c := newScripted(f)
			c.starts[1] = "i-a1"
			res := detachScripted(t, c, 5*time.Second, "i-a1", "i-a2")
			if r := res.Results[0]; r.Success || r.ErrorCode != CodeIncorrectStatus || !strings.Contains(r.Message, "Running") || !c.bound("i-a1") {
				t.Errorf("started instance: %+v, bound %v", r, c.bound("i-a1"))
			}
			if r := res.Results[1]; !r.Success || c.bound("i-a2") {
				t.Errorf("stopped instance: %+v", r)
			}
			if len(c.calls) != 2 || fmt.Sprint(c.calls[1]) != "[i-a2]" {
				t.Errorf("DetachKeyPair calls %v, want the retry for i-a2 only", c.calls)
			}
		})
	}
}

// TestRetriedBatchCodesChecked: on a retry after an unclear attempt, the cloud's
// per-instance failure codes (undocumented there) are checked, not believed: a retry
// that says "not attached" about instances still bound does not make them detached.
func TestRetriedBatchCodesChecked(t *testing.T) {
	c := newScripted(unavailable, claimsUnbound)
	res := detachScripted(t, c, 5*time.Second, "i-a1", "i-a2")
	for _, r := range res.Results {
		if r.Success || !c.bound(r.InstanceId) || !strings.Contains(r.Message, "still bound") {
			t.Errorf("%+v (bound: %v): want a failure that says the key pair is still bound", r, c.bound(r.InstanceId))
		}
	}
}

// TestUnclearToTheEnd: every attempt fails unclearly; the instances are checked
// after the last one, and their failure says what the check found.
func TestUnclearToTheEnd(t *testing.T) {
	c := newScripted(unavailable, lostBefore, unavailable)
	res := detachScripted(t, c, 5*time.Second, "i-a1", "i-a2")
	for _, r := range res.Results {
		if r.Success || r.Code != 503 || !c.bound(r.InstanceId) || !strings.Contains(r.Message, "still bound") {
			t.Errorf("%+v (bound: %v)", r, c.bound(r.InstanceId))
		}
	}
	if len(c.calls) != 3 || c.describes != 4 {
		t.Errorf("%d DetachKeyPair and %d DescribeInstances calls, want 3 and 4 (check, before each retry, after the last)", len(c.calls), c.describes)
	}
}

// TestUnclearOutOfTime: an unclear answer that comes too close to the deadline to
// check the instances (twice the slowest call) reports their state unknown, never
// NotAttempted (they were attempted) nor detached or failed for sure. It runs on
// synctest's fake clock: the call takes exactly 700ms of the 1s, however loaded the
// machine.
func TestUnclearOutOfTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newScripted(slowErrorAfter)
		// the run's deadline is 1s away; the call takes 700ms, leaving 300ms for a
		// check that needs 1.42s
		res := detachScripted(t, c, time.Second, "i-a1", "i-a2")
		for _, r := range res.Results {
			if r.Success || r.ErrorCode == CodeNotAttempted || !strings.Contains(r.Message, "may already be detached") {
				t.Errorf("%+v: want a failure whose state is unknown", r)
			}
		}
		if len(c.calls) != 1 || c.describes != 1 {
			t.Errorf("%d DetachKeyPair and %d DescribeInstances calls, want 1 and 1", len(c.calls), c.describes)
		}
	})
}

// TestProtectedBeforeRetry: an instance that gets the protected tag between an unclear
// attempt and the retry is not retried (the guard holds for retries too).
func TestProtectedBeforeRetry(t *testing.T) {
	c := newScripted(lostBefore)
	c.tags[1] = "i-a1"
	res := detachScripted(t, c, 5*time.Second, "i-a1", "i-a2")
	if r := res.Results[0]; r.Success || r.ErrorCode != CodeProtected || !c.bound("i-a1") {
		t.Errorf("tagged instance: %+v, bound %v", r, c.bound("i-a1"))
	}
	if len(c.calls) != 2 || fmt.Sprint(c.calls[1]) != "[i-a2]" {
		t.Errorf("DetachKeyPair calls %v, want the retry for i-a2 only", c.calls)
	}
}

// slowDetachCloud is a scriptedCloud whose DetachKeyPair calls take a second.
type slowDetachCloud struct{ *scriptedCloud }

func (c slowDetachCloud) DetachKeyPair(ctx context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	time.Sleep(time.Second)
	return c.scriptedCloud.DetachKeyPair(ctx, kp, ids)
}

// TestPanicWhileChecking: a bug that panics in the main goroutine while instances are
// being judged (here: the third of a Targets selection) must not leave the batches
// already handed on running after the request ends: they are waited for, the
// instances they detached are reported detached, and the rest failed (InternalError),
// none without a result. The calls are slow (fake time, synctest), so a run that did
// not wait would end with them in flight.
func TestPanicWhileChecking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := slowDetachCloud{newScripted()}
		s := NewService(Options{BatchSize: 1, Concurrency: 4, Backoff: time.Millisecond, MaxAttempts: 3})
		r := s.newRun(context.Background(), c, Request{RegionId: "cn-hangzhou", KeyPairName: "k", Targets: &Targets{}})
		ids := []string{"i-a1", "i-a2", "i-a3"}
		c.instances["i-a3"].Status = "Running" // judged IncorrectInstanceStatus: a result to set
		r.known = map[string]Instance{}
		for _, id := range ids {
			r.known[id] = *c.instances[id]
		}
		r.setInstances(ids)
		r.pos["i-a3"] = len(ids) // the bug: setting i-a3's result indexes past the results

		var err *Error
		panicked := func() (p any) {
			defer func() { p = recover() }()
			err = r.checkAndDetach(KeyPair{Name: "k"}, nil)
			return nil
		}()
		results := slices.Clone(r.result.Results)
		time.Sleep(time.Minute) // whatever still runs finishes now
		synctest.Wait()

		if panicked != nil || err != nil {
			t.Errorf("checkAndDetach: panic %v, error %v; want per-instance results", panicked, err)
		}
		for i, id := range ids {
			res, bound := results[i], c.bound(id)
			switch {
			case res.Code == 0:
				t.Errorf("%s: no result when the run ended (bound afterwards: %v)", id, bound)
			case res.Success == bound:
				t.Errorf("%s: result %+v, but bound afterwards: %v", id, res, bound)
			}
		}
		if r := results[2]; r.ErrorCode != CodeInternalError || !c.bound("i-a3") {
			t.Errorf("i-a3: %+v, want InternalError and still bound", r)
		}
	})
}
