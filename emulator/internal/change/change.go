// Package change is what the emulated services share of the state changes that someone
// else makes in the cloud between a client's calls (emulator.Server.Schedule): the
// actions, and the rules that do not depend on the service.
package change

import "fmt"

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
