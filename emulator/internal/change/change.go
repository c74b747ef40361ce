// Package change is what the emulated services share of the state changes that someone
// else makes in the cloud between a client's calls (emulator.Server.Schedule): the
// actions, the rules that do not depend on the service, and how a change is checked and
// made over a service's own Rules.
package change

import (
	"fmt"
	"sync"
)

// Actions of a Change.
const (
	Start = "Start" // a Stopped instance starts (as StartInstance would)
	Stop  = "Stop"  // a Running instance stops (as StopInstance would)
	Bind  = "Bind"  // a key pair is bound ("" unbinds), as AttachKeyPair or DetachKeyPair would
)

// Change is a change of an instance made by someone else than the API's caller
// (another automation, the console), to reproduce races.
type Change struct {
	InstanceId  string
	Action      string // Start, Stop or Bind
	KeyPairName string // for Bind: the key pair to bind, "" to unbind
}

// Check reports why c could never apply to any instance: an unknown action, or a key
// pair named for a start or a stop.
func (c Change) Check() error {
	switch {
	case c.Action != Start && c.Action != Stop && c.Action != Bind:
		return fmt.Errorf("action %q: want %s, %s or %s", c.Action, Start, Stop, Bind)
	case c.Action != Bind && c.KeyPairName != "":
		return fmt.Errorf("%s takes no KeyPairName", c.Action)
	}
	return nil
}

// Status is the status an instance in status takes by a Start or a Stop, or why it
// cannot take it (a Start of an instance that is not Stopped, a Stop of one that is not
// Running).
func (c Change) Status(status string) (string, error) {
	from, to := "Stopped", "Running"
	if c.Action == Stop {
		from, to = to, from
	}
	if status != from {
		return status, fmt.Errorf("%s: instance %s is %s, not %s", c.Action, c.InstanceId, status, from)
	}
	return to, nil
}

// Rules are a service's side of the changes: where its instances are, what it refuses,
// and how a start or a stop and a binding change one of its instances. Check and Apply
// hold Lock, the service's lock, while they run; the functions run under it.
type Rules[I any] struct {
	Lock sync.Locker
	Noun string                     // what the service calls an instance in errors: "instance", "ENS instance"
	Get  func(id string) (*I, bool) // the instance with the id, to change in place
	// Refuse says why the instance can never be bound to the key pair named (one the
	// service does not have, an instance that takes no key pair), or nil.
	Refuse func(in *I, keyPairName string) error
	Status func(in *I) *string             // the instance's status, to read and set
	Bind   func(in *I, keyPairName string) // binds the key pair ("" unbinds) as the service does
	// Restarted, when set, is what a start or a stop changes beyond the status.
	Restarted func(in *I)
}

// Check reports why c could never apply: an unknown action or instance, a key pair the
// service refuses for the instance.
func (r Rules[I]) Check(c Change) error {
	r.Lock.Lock()
	defer r.Lock.Unlock()
	_, err := r.target(c)
	return err
}

// Apply makes c: a Bind binds (or unbinds) the key pair, a Start or a Stop moves the
// instance from Stopped to Running or back, with no status on the way.
func (r Rules[I]) Apply(c Change) error {
	r.Lock.Lock()
	defer r.Lock.Unlock()
	in, err := r.target(c)
	if err != nil {
		return err
	}
	if c.Action == Bind {
		r.Bind(in, c.KeyPairName)
		return nil
	}
	status := r.Status(in)
	if *status, err = c.Status(*status); err != nil {
		return err
	}
	if r.Restarted != nil {
		r.Restarted(in)
	}
	return nil
}

// target returns the instance c changes, or why it cannot. The caller holds r.Lock.
func (r Rules[I]) target(c Change) (*I, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	in, ok := r.Get(c.InstanceId)
	if !ok {
		return nil, fmt.Errorf("no %s %q", r.Noun, c.InstanceId)
	}
	if c.KeyPairName != "" {
		if err := r.Refuse(in, c.KeyPairName); err != nil {
			return nil, err
		}
	}
	return in, nil
}
