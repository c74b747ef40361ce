// Package inventory is what the emulated services keep of their instances and how their
// batch APIs go through them: instances by id, listed in id order as the Describe APIs
// answer them, and one result per id of a batch call.
package inventory

import (
	"iter"
	"slices"
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

// Batch runs op on each id of a batch call (AttachKeyPair, DetachKeyPair), in the
// request's order, and counts the results that failed reports failed.
func Batch[R any](ids []string, op func(id string) R, failed func(R) bool) (results []R, fails int) {
	results = make([]R, 0, len(ids))
	for _, id := range ids {
		r := op(id)
		if failed(r) {
			fails++
		}
		results = append(results, r)
	}
	return results, fails
}
