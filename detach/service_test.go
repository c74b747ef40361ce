package detach

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// lossyCloud is an in-memory ECS whose first DetachKeyPair call detaches and then loses
// its answer (a timeout after the cloud acted), the case the emulator cannot show.
type lossyCloud struct {
	mu    sync.Mutex
	bound map[string]string
	calls int
}

func (c *lossyCloud) Limits() Limits {
	return Limits{Product: ProductECS, Region: "cn-hangzhou", KeyPairPage: ECSKeyPairPage, DescribeIDs: ECSDescribeIDs, Batch: ECSBatch}
}

func (c *lossyCloud) DescribeKeyPairs(context.Context, KeyPairQuery) (KeyPairPage, error) {
	return KeyPairPage{KeyPairs: []KeyPair{{ID: "ssh-k1", Name: "k"}}, TotalCount: 1}, nil
}

func (c *lossyCloud) DescribeInstances(_ context.Context, q InstanceQuery) (InstancePage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p InstancePage
	for _, id := range q.IDs {
		if kp, ok := c.bound[id]; ok {
			p.Instances = append(p.Instances, Instance{ID: id, Status: StatusStopped, KeyPairName: kp})
		}
	}
	return p, nil
}

func (c *lossyCloud) DetachKeyPair(_ context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	name := kp.Name
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	out := c.detachNamed(name, ids)
	if c.calls == 1 {
		return nil, &CloudError{Status: 0, Message: "read: connection reset by peer"}
	}
	return out, nil
}

// detachNamed detaches key pair name from those of ids bound to it, and says so for each
// id; the caller holds mu.
func (c *lossyCloud) detachNamed(name string, ids []string) []Outcome {
	var out []Outcome
	for _, id := range ids {
		if c.bound[id] == name {
			c.bound[id] = ""
			out = append(out, Outcome{InstanceID: id, Code: 200, Success: true})
		} else {
			out = append(out, Outcome{InstanceID: id, Code: 400, ErrorCode: CodeNotAttached, Message: "not attached"})
		}
	}
	return out
}

// TestAnswerLostAfterDetach: when a call's answer is lost, the check that follows finds
// the key pair gone from the instances: they are reported detached, with no retry.
func TestAnswerLostAfterDetach(t *testing.T) {
	cloud := &lossyCloud{bound: map[string]string{}}
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("i-a%d", i)
		ids = append(ids, id)
		cloud.bound[id] = "k"
	}
	s := NewService(Options{Backoff: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.Detach(ctx, cloud, Request{RegionId: "cn-hangzhou", KeyPairName: "k", InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	if res.FailCount != 0 || cloud.calls != 1 {
		t.Fatalf("FailCount %d after %d calls: %+v", res.FailCount, cloud.calls, res.Results)
	}
	for _, r := range res.Results {
		if !r.Success || r.Message != MessageDetachedEarlier || cloud.bound[r.InstanceId] != "" {
			t.Errorf("%+v (bound to %q)", r, cloud.bound[r.InstanceId])
		}
	}
}

// slowCloud answers DescribeInstances only after delay (or when the call is cut).
type slowCloud struct {
	lossyCloud
	delay time.Duration
}

func (c *slowCloud) DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error) {
	select {
	case <-time.After(c.delay):
		return c.lossyCloud.DescribeInstances(ctx, q)
	case <-ctx.Done():
		return InstancePage{}, fmt.Errorf("cut short: %w", ctx.Err())
	}
}

// TestOutOfTimeWhileChecking: a check cut by the deadline leaves every instance
// NotAttempted (nothing was detached), and a Targets request that could not select its
// instances in time fails as a whole with a 503, so that its trigger retries it. It
// runs on synctest's fake clock: the calls take exactly the time the fake cloud says.
func TestOutOfTimeWhileChecking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := &slowCloud{lossyCloud: lossyCloud{bound: map[string]string{"i-a1": "k", "i-a2": "k"}}, delay: time.Minute}
		s := NewService(Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		res, err := s.Detach(ctx, cloud, Request{RegionId: "cn-hangzhou", KeyPairId: "ssh-k1", InstanceIds: []string{"i-a1", "i-a2"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Results {
			if r.Code != 504 || r.ErrorCode != CodeNotAttempted {
				t.Errorf("%+v", r)
			}
		}
		if res.FailCount != 2 || cloud.calls != 0 {
			t.Fatalf("FailCount %d, DetachKeyPair calls %d", res.FailCount, cloud.calls)
		}

		ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = s.Detach(ctx, cloud, Request{RegionId: "cn-hangzhou", KeyPairName: "k", Targets: &Targets{}})
		if err == nil || err.Status != 503 || !err.Retryable() {
			t.Fatalf("Targets out of time: %v", err)
		}
	})
}

// unavailableCloud answers every DetachKeyPair call with a 503 after delay, detaching
// nothing, and counts the calls the deadline cut short.
type unavailableCloud struct {
	lossyCloud
	delay time.Duration
	mu    sync.Mutex
	cut   int
}

func (c *unavailableCloud) DetachKeyPair(ctx context.Context, _ KeyPair, _ []string) ([]Outcome, error) {
	select {
	case <-time.After(c.delay):
		c.mu.Lock()
		c.calls++
		c.mu.Unlock()
		return nil, &CloudError{Status: 503, Code: "ServiceUnavailable", Message: "try later"}
	case <-ctx.Done():
		c.mu.Lock()
		c.cut++
		c.mu.Unlock()
		return nil, fmt.Errorf("cut short: %w", ctx.Err())
	}
}

// TestNoTryPastTheDeadline: neither a retry after its backoff wait nor a call after its
// pacer's wait is started unless it can finish before the deadline (twice the slowest
// call seen): no call is cut short, so no instance ends DeadlineExceeded; a retry not
// made leaves the last answer standing, a first call not made leaves NotAttempted.
//
// Both run on synctest's fake clock, which moves only when every goroutine waits: a
// fake call takes exactly its delay, however loaded the machine, so the tries made are
// the same on every run.
func TestNoTryPastTheDeadline(t *testing.T) {
	t.Run("retries", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// calls of 150ms until 600ms: after two (300ms), the 300ms left do not
			// cover twice the slowest call, so no third is started
			cloud := &unavailableCloud{lossyCloud: lossyCloud{bound: map[string]string{"i-a1": "k"}}, delay: 150 * time.Millisecond}
			s := NewService(Options{MaxAttempts: 10, Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			res, err := s.Detach(ctx, cloud, Request{RegionId: "cn-hangzhou", KeyPairId: "ssh-k1", InstanceIds: []string{"i-a1"}})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Results[0]; r.ErrorCode != CodeServiceUnavailable || cloud.cut != 0 || cloud.calls != 2 {
				t.Fatalf("%+v after %d calls, %d cut short by the deadline; want 2 calls, none cut", r, cloud.calls, cloud.cut)
			}
		})
	})
	t.Run("pacer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// two batches of one; the second waits for the pacer (one call a second),
			// and when its wait ends, a call as slow as the first (long done by then)
			// could not finish in time
			cloud := &unavailableCloud{lossyCloud: lossyCloud{bound: map[string]string{"i-a1": "k", "i-a2": "k"}}, delay: 250 * time.Millisecond}
			s := NewService(Options{MaxAttempts: 1, BatchSize: 1, QPS: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 1300*time.Millisecond)
			defer cancel()
			res, err := s.Detach(ctx, cloud, Request{RegionId: "cn-hangzhou", KeyPairId: "ssh-k1", InstanceIds: []string{"i-a1", "i-a2"}})
			if err != nil {
				t.Fatal(err)
			}
			codes := []string{res.Results[0].ErrorCode, res.Results[1].ErrorCode}
			slices.Sort(codes) // either batch may get the pacer first
			if cloud.cut != 0 || cloud.calls != 1 || fmt.Sprint(codes) != "[NotAttempted ServiceUnavailable]" {
				t.Fatalf("codes %v after %d calls, %d cut short by the deadline; want one call, none cut", codes, cloud.calls, cloud.cut)
			}
		})
	})
}
