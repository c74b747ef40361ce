package ens

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"

	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
)

// Fixture is the initial state of the emulated ENS account: the edge regions that
// exist, the SSH key pairs (ENS's are the account's, not a region's) and the instances.
type Fixture struct {
	EnsRegions []string   `json:"EnsRegions"`
	KeyPairs   []KeyPair  `json:"KeyPairs"`
	Instances  []Instance `json:"Instances"`
}

// KeyPair is an SSH key pair. KeyPairId ("ssh-…") and KeyPairName are each unique.
type KeyPair struct {
	KeyPairId   string `json:"KeyPairId"`
	KeyPairName string `json:"KeyPairName"`
	FingerPrint string `json:"FingerPrint"`
	// CreationTime is answered as is by DescribeKeyPairs (ISO 8601 UTC,
	// "2026-01-05T08:00:00Z"); empty means a fixed date.
	CreationTime string `json:"CreationTime,omitempty"`
}

// Instance is an ENS instance in an edge region. KeyPairName is the key pair bound to
// it, empty when none is. Status is one of Running, Stopped, Starting, Stopping,
// Expired.
type Instance struct {
	InstanceId   string `json:"InstanceId"`
	InstanceName string `json:"InstanceName"`
	EnsRegionId  string `json:"EnsRegionId"`
	Status       string `json:"Status"`
	KeyPairName  string `json:"KeyPairName,omitempty"`
	Tags         []Tag  `json:"Tags,omitempty"`
	// SpecName is answered by DescribeInstances; empty means ens.sn1.stiny.
	SpecName string `json:"SpecName,omitempty"`
}

// Tag is a resource tag.
type Tag = rpc.Tag

// Instance statuses: DescribeInstances documents Running, Stopped and Expired;
// StartInstance and StopInstance document the transitions Starting and Stopping.
const (
	StatusRunning  = "Running"
	StatusStopped  = "Stopped"
	StatusStarting = "Starting"
	StatusStopping = "Stopping"
	StatusExpired  = "Expired"
)

var statuses = []string{StatusRunning, StatusStopped, StatusStarting, StatusStopping, StatusExpired}

// Identifiers as ENS shows them: instance ids are "i-" and 25 lower-case letters or
// digits in every unmasked example; key pair ids "ssh-" and lower-case letters or
// digits; edge regions <country>-<city>-<carrier>, optionally with a number.
var (
	instanceIDPattern  = regexp.MustCompile(`^i-[a-z0-9]{25}$`)
	keyPairIDPattern   = regexp.MustCompile(`^ssh-[a-z0-9]{1,60}$`)
	ensRegionIDPattern = regexp.MustCompile(`^[a-z]{2}-[a-z]+-[a-z]+(-[0-9]+)?$`)
)

// fleetJSON is the default ENS fleet, see testdata/fleet.json and emulator/README.md;
// the emulator package's TestFleetFixture generates it.
//
//go:embed testdata/fleet.json
var fleetJSON []byte

// DefaultFixture returns the embedded ENS fleet (testdata/fleet.json), a fresh copy on
// each call.
func DefaultFixture() *Fixture {
	f, err := ParseFixture(fleetJSON)
	if err != nil {
		panic("emulator/ens: embedded testdata/fleet.json is invalid: " + err.Error())
	}
	return f
}

// ParseFixture reads and checks a fixture in the layout of testdata/fleet.json.
func ParseFixture(b []byte) (*Fixture, error) { return inventory.ParseFixture[Fixture](b) }

// Validate reports the first inconsistency of the fixture: a malformed or duplicate
// id, a duplicate name, an unknown edge region or status, an instance bound to a key
// pair that does not exist.
func (f *Fixture) Validate() error {
	for i, r := range f.EnsRegions {
		if !ensRegionIDPattern.MatchString(r) || slices.Contains(f.EnsRegions[:i], r) {
			return fmt.Errorf("edge region %q is malformed or listed twice", r)
		}
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for _, kp := range f.KeyPairs {
		switch {
		case !keyPairIDPattern.MatchString(kp.KeyPairId) || kp.KeyPairName == "":
			return fmt.Errorf("key pair %q/%q: want an id ssh-… and a name", kp.KeyPairId, kp.KeyPairName)
		case ids[kp.KeyPairId] || names[kp.KeyPairName]:
			return fmt.Errorf("key pair %q/%q listed twice", kp.KeyPairId, kp.KeyPairName)
		}
		ids[kp.KeyPairId], names[kp.KeyPairName] = true, true
	}
	for _, in := range f.Instances {
		switch {
		case !instanceIDPattern.MatchString(in.InstanceId):
			return fmt.Errorf("instance id %q: want i- and 25 lower-case letters or digits", in.InstanceId)
		case ids[in.InstanceId]:
			return fmt.Errorf("instance id %q listed twice", in.InstanceId)
		case !slices.Contains(f.EnsRegions, in.EnsRegionId):
			return fmt.Errorf("instance %q: unknown edge region %q", in.InstanceId, in.EnsRegionId)
		case !slices.Contains(statuses, in.Status):
			return fmt.Errorf("instance %q: unknown status %q", in.InstanceId, in.Status)
		case in.KeyPairName != "" && !names[in.KeyPairName]:
			return fmt.Errorf("instance %q: bound to key pair %q, which does not exist", in.InstanceId, in.KeyPairName)
		}
		ids[in.InstanceId] = true
	}
	return nil
}

// Clone returns a deep copy of the fixture.
func (f *Fixture) Clone() *Fixture {
	c := &Fixture{EnsRegions: slices.Clone(f.EnsRegions), KeyPairs: slices.Clone(f.KeyPairs)}
	for _, in := range f.Instances {
		c.Instances = append(c.Instances, in.clone())
	}
	return c
}

func (in Instance) clone() Instance {
	in.Tags = slices.Clone(in.Tags)
	return in
}
