// Package inventory is what the emulated services keep of their instances and how their
// batch APIs go through them: instances by id, listed in id order as the Describe APIs
// answer them; the key pair batch calls, one result per id; and the reading of a
// service's fixture.
package inventory

import (
	"encoding/json"
	"iter"
	"slices"
	"sync"

	"detachkeypair/emulator/internal/rpc"
)

// Instances are a service's instances of type I, by id. The zero value is empty and
// ready to use. It is not safe for concurrent use: the service's lock guards it.
type Instances[I any] struct {
	byID map[string]*I
	ids  []string // sorted
	list []*I     // the instances of ids, in their order
}

// Put adds an instance or replaces the one with its id.
func (x *Instances[I]) Put(id string, in I) {
	if x.byID == nil {
		x.byID = map[string]*I{}
	}
	i, found := slices.BinarySearch(x.ids, id)
	if !found {
		x.ids = slices.Insert(x.ids, i, id)
		x.list = slices.Insert(x.list, i, &in)
	} else {
		x.list[i] = &in
	}
	x.byID[id] = &in
}

// Get returns the instance with the id, to read or change in place.
func (x *Instances[I]) Get(id string) (*I, bool) {
	in, ok := x.byID[id]
	return in, ok
}

// Len is the number of instances.
func (x *Instances[I]) Len() int { return len(x.ids) }

// All yields every instance in id order.
func (x *Instances[I]) All() iter.Seq[*I] {
	return func(yield func(*I) bool) {
		for _, in := range x.list {
			if !yield(in) {
				return
			}
		}
	}
}

// KeyPairCalls are a service's side of its key pair batch calls (AttachKeyPair,
// DetachKeyPair) over its key pairs K, its instances I and its results R, one an
// instance: which instance an id names, what an unknown one answers, which results
// count as failed and how the call's answer is built.
type KeyPairCalls[K, I, R any] struct {
	Lock sync.Locker // the service's lock, held for the whole call
	// Get returns the instance with the id among those the key pair can be bound to.
	Get      func(kp *K, id string) (*I, bool)
	NotFound func(id string) R // the result of an id that Get finds no instance for
	Failed   func(R) bool      // whether a result counts in the answer's FailCount
	// Answer builds the call's answer from its results, in the request's order, and the
	// number that failed.
	Answer func(kp *K, ids []string, results []R, fails int) any
}

// Run runs one call under Lock: read reads its parameters (the key pair and the
// instance ids) or refuses the whole call; then op changes each instance found, in the
// request's order, and gives its result.
func (c KeyPairCalls[K, I, R]) Run(p rpc.Params, read func(rpc.Params) (*K, []string, *rpc.Error), op func(*K, *I) R) (any, *rpc.Error) {
	c.Lock.Lock()
	defer c.Lock.Unlock()
	kp, ids, e := read(p)
	if e != nil {
		return nil, e
	}
	results, fails := make([]R, 0, len(ids)), 0
	for _, id := range ids {
		var r R
		if in, ok := c.Get(kp, id); ok {
			r = op(kp, in)
		} else {
			r = c.NotFound(id)
		}
		if c.Failed(r) {
			fails++
		}
		results = append(results, r)
	}
	return c.Answer(kp, ids, results, fails), nil
}

// Fixture is what ParseFixture needs of a service's fixture type F: *F checks itself.
type Fixture[F any] interface {
	*F
	Validate() error
}

// ParseFixture reads a service's fixture F from JSON and checks it (P's Validate).
func ParseFixture[F any, P Fixture[F]](b []byte) (*F, error) {
	var f F
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if err := P(&f).Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}
