package emulator

import (
	_ "embed"
	"fmt"
	"os"

	"detachkeypair/emulator/ecs"
	"detachkeypair/emulator/eventbridge"
)

// The state of the emulated cloud, in the layout of testdata/fleet.json: see
// package emulator/ecs.
type (
	Fixture  = ecs.Fixture  // regions, SSH key pairs and ECS instances
	KeyPair  = ecs.KeyPair  // an SSH key pair of one region
	Instance = ecs.Instance // an ECS instance and the key pair bound to it
	Tag      = ecs.Tag      // a resource tag
	Event    = eventbridge.Event
)

// Instance statuses that the emulator knows.
const (
	StatusRunning  = ecs.StatusRunning
	StatusStopped  = ecs.StatusStopped
	StatusStarting = ecs.StatusStarting
	StatusStopping = ecs.StatusStopping
)

// fleetJSON is the default fleet, see testdata/fleet.json and README.md.
//
//go:embed testdata/fleet.json
var fleetJSON []byte

// DefaultFixture returns the embedded fleet (testdata/fleet.json), a fresh
// deep copy on each call so that callers may change it freely.
func DefaultFixture() *Fixture {
	f, err := ecs.ParseFixture(fleetJSON)
	if err != nil {
		panic("emulator: embedded testdata/fleet.json is invalid: " + err.Error())
	}
	return f
}

// LoadFixture reads and checks a fixture file in the layout of
// testdata/fleet.json.
func LoadFixture(path string) (*Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("emulator: read fixture: %w", err)
	}
	f, err := ecs.ParseFixture(b)
	if err != nil {
		return nil, fmt.Errorf("emulator: fixture %s: %w", path, err)
	}
	return f, nil
}
