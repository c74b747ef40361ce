package emulator

import (
	_ "embed"
	"fmt"
	"os"

	"detachkeypair/emulator/ecs"
	"detachkeypair/emulator/ens"
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

// The state of the emulated ENS account, in the layout of
// ens/testdata/fleet.json: see package emulator/ens.
type (
	ENSFixture  = ens.Fixture  // edge regions, SSH key pairs and ENS instances
	ENSKeyPair  = ens.KeyPair  // an SSH key pair of the account
	ENSInstance = ens.Instance // an ENS instance in an edge region
)

// ENS instance statuses beyond ECS's.
const StatusExpired = ens.StatusExpired

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
func LoadFixture(path string) (*Fixture, error) { return load(path, "fixture", ecs.ParseFixture) }

// DefaultENSFixture returns the embedded ENS fleet (ens/testdata/fleet.json), a
// fresh copy on each call.
func DefaultENSFixture() *ENSFixture { return ens.DefaultFixture() }

// LoadENSFixture reads and checks an ENS fixture file in the layout of
// ens/testdata/fleet.json.
func LoadENSFixture(path string) (*ENSFixture, error) {
	return load(path, "ENS fixture", ens.ParseFixture)
}

// load reads a fixture file (what it is, for messages) and parses it.
func load[F any](path, what string, parse func([]byte) (*F, error)) (*F, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("emulator: read %s: %w", what, err)
	}
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("emulator: %s %s: %w", what, path, err)
	}
	return f, nil
}
