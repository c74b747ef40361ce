package detach

import (
	"context"
	"fmt"
	"sync"
	"testing"
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
	var out []Outcome
	for _, id := range ids {
		if c.bound[id] == name {
			c.bound[id] = ""
			out = append(out, Outcome{InstanceID: id, Code: 200, Success: true})
		} else {
			out = append(out, Outcome{InstanceID: id, Code: 400, ErrorCode: CodeNotAttached, Message: "not attached"})
		}
	}
	if c.calls == 1 {
		return nil, &CloudError{Status: 0, Message: "read: connection reset by peer"}
	}
	return out, nil
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
// instances in time fails as a whole with a 503, so that its trigger retries it.
func TestOutOfTimeWhileChecking(t *testing.T) {
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
}
