package emulator

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"detachkeypair/emulator/internal/change"
)

// Actions of a scheduled Change.
const (
	ActionStart = change.Start // a Stopped instance starts (as StartInstance would)
	ActionStop  = change.Stop  // a Running instance stops (as StopInstance would)
	ActionBind  = change.Bind  // a key pair is bound to the instance ("" unbinds)
)

// Change is a state change that someone else makes in the cloud right after
// the Call-th call of an API (counted as Calls counts, since the start or
// the last ResetCounters), before that call is answered: so it happens
// between a call and the client's next one, whatever the call's answer (a
// dropped connection included). It reproduces races such as "started by
// someone else between the lost answer and the retry".
type Change struct {
	API         string // the API whose call it follows
	Call        int    // that call's number, 1 for the first
	InstanceId  string
	Action      string // ActionStart, ActionStop or ActionBind
	KeyPairName string // for ActionBind: the key pair to bind, "" to unbind
	// Done is set once the change was attempted; Error says why it could not
	// be made (e.g. Start of an instance that is not Stopped).
	Done  bool   `json:",omitempty"`
	Error string `json:",omitempty"`
}

// schedule holds the scheduled changes.
type schedule struct {
	mu      sync.Mutex // guards changes and hooks
	changes []Change   // in the order they were scheduled
	hooks   map[string][]func(n int)
}

// Schedule plans c. It is refused when it could never apply (unknown API,
// instance, action or key pair) or when the API's call number Call was
// already made.
func (s *Server) Schedule(c Change) error {
	c.Done, c.Error = false, ""
	switch {
	case !slices.Contains(APIs(), c.API):
		return fmt.Errorf("emulator: schedule: API %q: want one of %v", c.API, APIs())
	case c.Call < 1:
		return errors.New("emulator: schedule: Call counts from 1")
	}
	if err := s.checkChange(c); err != nil {
		return fmt.Errorf("emulator: schedule: %w", err)
	}
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	if made := s.Calls(c.API); c.Call <= made {
		return fmt.Errorf("emulator: schedule: %s has been called %d times already", c.API, made)
	}
	s.sched.changes = append(s.sched.changes, c)
	return nil
}

// Scheduled returns the scheduled changes, in the order they were
// scheduled, done or not.
func (s *Server) Scheduled() []Change {
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	return slices.Clone(s.sched.changes)
}

// OnCall has f run after every call of api, with the call's number (as Calls counts),
// before the call is answered, as the scheduled changes are: for a test that acts at a
// given point of a run (crashes the function's instance in the middle of its detaching,
// say). f runs on the request's goroutine: it must not wait for the caller.
func (s *Server) OnCall(api string, f func(n int)) {
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	if s.sched.hooks == nil {
		s.sched.hooks = map[string][]func(int){}
	}
	s.sched.hooks[api] = append(s.sched.hooks[api], f)
}

// afterCall makes the changes scheduled after call n of api, then runs its OnCall hooks.
func (s *Server) afterCall(api string, n int) {
	s.sched.mu.Lock()
	hooks := slices.Clone(s.sched.hooks[api])
	defer func() {
		for _, f := range hooks {
			f(n)
		}
	}()
	defer s.sched.mu.Unlock()
	for i := range s.sched.changes {
		c := &s.sched.changes[i]
		if c.Done || c.API != api || c.Call != n {
			continue
		}
		c.Done = true
		if err := s.applyChange(*c); err != nil {
			c.Error = err.Error()
		}
	}
}

// changer is what a service's rules for a change (change.Rules) do.
type changer interface {
	Check(change.Change) error // why the change could never apply
	Apply(change.Change) error // make it
}

// changer returns the rules of the service whose instance c changes, and c as they
// take it: ENS's for an ENS instance (ENS ids differ from ECS's), else ECS's.
func (s *Server) changer(c Change) (changer, change.Change) {
	ch := change.Change{InstanceId: c.InstanceId, Action: c.Action, KeyPairName: c.KeyPairName}
	if s.ens.Has(c.InstanceId) {
		return s.ens.Changes(), ch
	}
	return s.ecs.Changes(), ch
}

// checkChange reports why c could never apply.
func (s *Server) checkChange(c Change) error {
	rules, ch := s.changer(c)
	return rules.Check(ch)
}

// applyChange makes c in the service whose instance it changes.
func (s *Server) applyChange(c Change) error {
	rules, ch := s.changer(c)
	return rules.Apply(ch)
}
