package detach

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// keyPairCloud is an in-memory region whose key pairs can be deleted and created again
// between requests, which counts its calls, and whose DetachKeyPair names the key pair
// by id when byID (as ENS) or else by name (as ECS). With overlap set, DescribeKeyPairs
// answers only once a DescribeInstances call has started: a run that made them one
// after the other would wait until its deadline.
type keyPairCloud struct {
	lossyCloud // its instances (bound: id -> key pair name) and DescribeInstances; mu guards all
	byID       bool
	overlap    chan struct{} // closed by the first DescribeInstances

	keyPairs  map[string]string // name -> id
	counts    map[string]int
	described bool
}

func newKeyPairCloud(byID bool, n int) *keyPairCloud {
	c := &keyPairCloud{lossyCloud: lossyCloud{bound: map[string]string{}}, byID: byID, keyPairs: map[string]string{"k": "ssh-k1"}, counts: map[string]int{}}
	for i := 1; i <= n; i++ {
		c.bound[fmt.Sprintf("i-a%d", i)] = "k"
	}
	return c
}

func (c *keyPairCloud) Limits() Limits {
	p := ProductECS
	if c.byID {
		p = ProductENS
	}
	return Limits{Product: p, KeyPairPage: ECSKeyPairPage, DescribeIDs: ECSDescribeIDs, Batch: ECSBatch, InstanceTags: true, DetachByID: c.byID}
}

func (c *keyPairCloud) count(api string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[api]
}

func (c *keyPairCloud) DescribeKeyPairs(ctx context.Context, q KeyPairQuery) (KeyPairPage, error) {
	if c.overlap != nil {
		select {
		case <-c.overlap:
		case <-ctx.Done():
			return KeyPairPage{}, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[APIDescribeKeyPairs]++
	var p KeyPairPage
	for name, id := range c.keyPairs {
		if q.ID == id || q.ID == "" && (q.Name == "" || q.Name == name) {
			p.KeyPairs = append(p.KeyPairs, KeyPair{ID: id, Name: name})
		}
	}
	p.TotalCount = len(p.KeyPairs)
	return p, nil
}

func (c *keyPairCloud) DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error) {
	c.mu.Lock()
	c.counts[APIDescribeInstances]++
	if c.overlap != nil && !c.described {
		c.described = true
		close(c.overlap)
	}
	c.mu.Unlock()
	return c.lossyCloud.DescribeInstances(ctx, q)
}

func (c *keyPairCloud) DetachKeyPair(_ context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[APIDetachKeyPair]++
	name := kp.Name
	if c.byID {
		name = ""
		for n, id := range c.keyPairs {
			if id == kp.ID {
				name = n
			}
		}
		if name == "" {
			return nil, &CloudError{Status: http.StatusBadRequest, Code: "InvalidParameter.KeyPairId", Message: "The specified KeyPairId does not exist."}
		}
	} else if _, ok := c.keyPairs[name]; !ok {
		return nil, &CloudError{Status: http.StatusNotFound, Code: "InvalidKeyPairName.NotFound", Message: "The specified KeyPairName does not exist."}
	}
	return c.detachNamed(name, ids), nil
}

// recreate deletes key pair k and creates it again with a new id.
func (c *keyPairCloud) recreate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keyPairs["k"] = id
}

func (c *keyPairCloud) delete() {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keyPairs, "k")
}

func (c *keyPairCloud) boundTo(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bound[id]
}

func detachWith(t *testing.T, s *Service, c Cloud, req Request) (*Result, *Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Detach(ctx, c, req)
}

// TestKeyPairCache: a warm process resolves a key pair once, by name (and by id where
// the cloud detaches by id), for its TTL: a one-instance request then costs two calls.
func TestKeyPairCache(t *testing.T) {
	for _, byID := range []bool{false, true} {
		c := newKeyPairCloud(byID, 3)
		s := NewService(Options{})
		now := time.Now()
		s.keyPairs.now = func() time.Time { return now }
		for i, req := range []Request{
			{KeyPairName: "k", InstanceIds: []string{"i-a1"}},
			{KeyPairName: "k", InstanceIds: []string{"i-a2"}},
		} {
			res, err := detachWith(t, s, c, req)
			if err != nil || res.FailCount != 0 || c.boundTo(req.InstanceIds[0]) != "" {
				t.Fatalf("by id %v, request %d: %v %+v", byID, i, err, res)
			}
		}
		if got := c.count(APIDescribeKeyPairs); got != 1 {
			t.Errorf("by name (detach by id %v): %d DescribeKeyPairs calls for two requests, want 1", byID, got)
		}
		if d, x := c.count(APIDescribeInstances), c.count(APIDetachKeyPair); d != 2 || x != 2 {
			t.Errorf("by name: %d DescribeInstances and %d DetachKeyPair calls, want 2 and 2", d, x)
		}

		// by id: from the cache only where DetachKeyPair names the key pair by id
		before := c.count(APIDescribeKeyPairs)
		if res, err := detachWith(t, s, c, Request{KeyPairId: "ssh-k1", InstanceIds: []string{"i-a3"}}); err != nil || res.FailCount != 0 {
			t.Fatalf("by id: %v %+v", err, res)
		}
		want := 1
		if byID {
			want = 0
		}
		if got := c.count(APIDescribeKeyPairs) - before; got != want {
			t.Errorf("by id, detach by id %v: %d DescribeKeyPairs calls, want %d", byID, got, want)
		}

		// past the TTL, resolved again
		now = now.Add(DefaultKeyPairTTL)
		before = c.count(APIDescribeKeyPairs)
		detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a3"}})
		if got := c.count(APIDescribeKeyPairs) - before; got != 1 {
			t.Errorf("past the TTL: %d DescribeKeyPairs calls, want 1", got)
		}
	}
}

// TestResolveWhileChecking: named by name, the key pair is resolved while the instances
// are described (DescribeKeyPairs answers here only once DescribeInstances was called).
func TestResolveWhileChecking(t *testing.T) {
	c := newKeyPairCloud(false, 2)
	c.overlap = make(chan struct{})
	res, err := detachWith(t, NewService(Options{}), c, Request{KeyPairName: "k", InstanceIds: []string{"i-a1", "i-a2"}})
	if err != nil || res.FailCount != 0 || c.boundTo("i-a1")+c.boundTo("i-a2") != "" {
		t.Fatalf("%v %+v", err, res)
	}
	if d, x := c.count(APIDescribeInstances), c.count(APIDetachKeyPair); d != 1 || x != 1 {
		t.Errorf("%d DescribeInstances and %d DetachKeyPair calls, want 1 and 1", d, x)
	}
}

// TestStaleKeyPairDeleted: a key pair deleted after a warm process resolved it is
// answered as without the cache (404 InvalidKeyPair.NotFound), and forgotten.
func TestStaleKeyPairDeleted(t *testing.T) {
	c := newKeyPairCloud(false, 2)
	s := NewService(Options{})
	if _, err := detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a1"}}); err != nil {
		t.Fatal(err)
	}
	// ECS deletes only a key pair that no instance is bound to
	c.mu.Lock()
	c.bound["i-a2"] = ""
	c.mu.Unlock()
	c.delete()
	_, err := detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a2"}})
	if err == nil || err.Code != CodeKeyPairNotFound || err.Status != http.StatusNotFound {
		t.Fatalf("got %+v, want 404 %s", err, CodeKeyPairNotFound)
	}
	if got := c.count(APIDescribeKeyPairs); got != 2 {
		t.Errorf("%d DescribeKeyPairs calls, want 2: the stale entry is checked again", got)
	}
	if _, ok := s.keyPairs.get(c.Limits(), Request{KeyPairName: "k"}); ok {
		t.Error("the deleted key pair is still cached")
	}
}

// TestStaleKeyPairID: a key pair created again under the same name (a new id) while
// cached is refused by a cloud that detaches by id; the request runs again with the new
// id and detaches, and the old id is forgotten.
func TestStaleKeyPairID(t *testing.T) {
	c := newKeyPairCloud(true, 3)
	s := NewService(Options{})
	if _, err := detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a1"}}); err != nil {
		t.Fatal(err)
	}
	c.recreate("ssh-k2")
	res, err := detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a2"}})
	if err != nil || res.FailCount != 0 || res.KeyPairId != "ssh-k2" || c.boundTo("i-a2") != "" {
		t.Fatalf("%+v %+v, i-a2 bound to %q", err, res, c.boundTo("i-a2"))
	}
	if d, x := c.count(APIDescribeKeyPairs), c.count(APIDetachKeyPair); d != 2 || x != 3 {
		t.Errorf("%d DescribeKeyPairs, %d DetachKeyPair calls; want 2 and 3 (one refused)", d, x)
	}
	if _, ok := s.keyPairs.get(c.Limits(), Request{KeyPairId: "ssh-k1"}); ok {
		t.Error("the old id is still cached")
	}

	// a cached id the cloud no longer knows, and no key pair of its name: 404, forgotten
	c.delete()
	res, err = detachWith(t, s, c, Request{KeyPairId: "ssh-k2", InstanceIds: []string{"i-a3"}})
	if err == nil || err.Code != CodeKeyPairNotFound {
		t.Fatalf("deleted: %+v %+v", err, res)
	}
	if _, ok := s.keyPairs.get(c.Limits(), Request{KeyPairId: "ssh-k2"}); ok {
		t.Error("the deleted key pair is still cached")
	}
}

// TestNotFoundWhileDetaching: a key pair that the cloud says no longer exists when it
// is detached (not from the cache: resolved a moment before) fails its instances with
// 404 InvalidKeyPair.NotFound, not an internal error. (By id, so that the key pair is
// resolved before the instances are described.)
func TestNotFoundWhileDetaching(t *testing.T) {
	c := &vanishingCloud{keyPairCloud: newKeyPairCloud(false, 1)}
	res, err := detachWith(t, NewService(Options{}), c, Request{KeyPairId: "ssh-k1", InstanceIds: []string{"i-a1"}})
	if err != nil || res.FailCount != 1 {
		t.Fatalf("%+v %+v", err, res)
	}
	if r := res.Results[0]; r.Code != http.StatusNotFound || r.ErrorCode != CodeKeyPairNotFound {
		t.Errorf("%+v", r)
	}
}

// vanishingCloud deletes its key pair once the instances are checked.
type vanishingCloud struct{ *keyPairCloud }

func (c *vanishingCloud) DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error) {
	p, err := c.keyPairCloud.DescribeInstances(ctx, q)
	c.delete()
	return p, err
}

// TestCachedOutOfTime: a request whose key pair is cached but that has no time left for
// its check is answered as one whose key pair could not be resolved in time: not
// started (Unstarted), so that the invocation's later requests are not started either.
func TestCachedOutOfTime(t *testing.T) {
	c := newKeyPairCloud(false, 2)
	s := NewService(Options{})
	if _, err := detachWith(t, s, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a1"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond) // less than a call needs (timing)
	defer cancel()
	before := c.count(APIDescribeInstances)
	res, err := s.Detach(ctx, c, Request{KeyPairName: "k", InstanceIds: []string{"i-a2"}})
	if err != nil || !Unstarted(res, err) || res.Results[0].ErrorCode != CodeNotAttempted || c.count(APIDescribeInstances) != before {
		t.Fatalf("%+v %+v: want NotAttempted, not started, no call", res, err)
	}
}
