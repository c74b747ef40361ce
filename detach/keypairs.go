package detach

import (
	"sync"
	"time"
)

// DefaultKeyPairTTL is how long a process reuses a key pair it resolved: long enough
// for a burst of events (a fleet stopping), short enough that a key pair deleted, or
// deleted and created again, is soon resolved afresh.
const DefaultKeyPairTTL = 30 * time.Second

// keyPairs remembers the key pairs the process resolved (DescribeKeyPairs), by name and
// by id, for KeyPairTTL, so that a warm instance serving a stream of small requests
// (one ECS event per stopped instance) does not resolve the same key pair every time.
// It is safe for concurrent use.
//
// What a cached key pair decides, and why a stale one cannot make the function detach
// anything it would not have detached without the cache:
//
//   - By name, the key pair's name is what the instance check compares (it is all
//     DescribeInstances tells) and, where DetachKeyPair names key pairs by name (ECS),
//     what is detached: the cache only saves asking whether the name exists. A key pair
//     deleted meanwhile (ECS refuses to delete one that is bound) shows as instances not
//     bound to it; a run that took its key pair from the cache and meets an instance not
//     bound to it, or a cloud that says the key pair does not exist, before anything was
//     detached, forgets the entry and runs again with the key pair resolved afresh
//     (Service.Detach), so its answer is the one the cloud gives now.
//   - By id, the id is mapped to a name, which decides which instances are detached: a
//     key pair deleted and created again under the same name would be taken for the old
//     one. So a request by id is served from the cache only where DetachKeyPair names the
//     key pair by its id (Limits.DetachByID, ENS): there the cloud refuses a stale id,
//     and the run is repeated as above.
//
// Any answer that a key pair does not exist drops it (forget).
type keyPairs struct {
	ttl time.Duration // <= 0: nothing is kept
	now func() time.Time

	mu sync.Mutex
	m  map[keyPairKey]keyPairEntry
}

// keyPairKey names a key pair in one place (a product, an ECS region) by id or by name.
type keyPairKey struct {
	product, region string
	byID            bool
	value           string
}

type keyPairEntry struct {
	kp    KeyPair
	until time.Time
}

// maxKeyPairEntries bounds the cache: past it, expired entries are dropped.
const maxKeyPairEntries = 256

func newKeyPairs(ttl time.Duration) *keyPairs {
	return &keyPairs{ttl: ttl, now: time.Now, m: map[keyPairKey]keyPairEntry{}}
}

// get returns the key pair the request names, if the cache holds it and may serve it
// (see keyPairs).
func (c *keyPairs) get(lim Limits, req Request) (KeyPair, bool) {
	k := keyPairKey{product: lim.Product, region: lim.Region, value: req.KeyPairName}
	if req.KeyPairId != "" {
		if !lim.DetachByID {
			return KeyPair{}, false
		}
		k.byID, k.value = true, req.KeyPairId
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	switch {
	case !ok:
		return KeyPair{}, false
	case !c.now().Before(e.until):
		delete(c.m, k)
		return KeyPair{}, false
	case req.KeyPairName != "" && e.kp.Name != req.KeyPairName: // both given: resolving says which is wrong
		return KeyPair{}, false
	}
	return e.kp, true
}

// put remembers a key pair the cloud answered, by name and, if it has one, by id.
func (c *keyPairs) put(lim Limits, kp KeyPair) {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxKeyPairEntries {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
	}
	e := keyPairEntry{kp: kp, until: now.Add(c.ttl)}
	c.m[keyPairKey{product: lim.Product, region: lim.Region, value: kp.Name}] = e
	if kp.ID != "" {
		c.m[keyPairKey{product: lim.Product, region: lim.Region, byID: true, value: kp.ID}] = e
	}
}

// forget drops a key pair, by its name and its id (either may be empty).
func (c *keyPairs) forget(lim Limits, kp KeyPair) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if k.product == lim.Product && k.region == lim.Region &&
			(kp.Name != "" && e.kp.Name == kp.Name || kp.ID != "" && e.kp.ID == kp.ID) {
			delete(c.m, k)
		}
	}
}
