package ecs

import (
	"fmt"

	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
)

// Fixture is the initial state of the emulated cloud: the regions that exist,
// the SSH key pairs and the ECS instances in them.
type Fixture struct {
	Regions   []string   `json:"Regions"`
	KeyPairs  []KeyPair  `json:"KeyPairs"`
	Instances []Instance `json:"Instances"`
}

// KeyPair is an SSH key pair of one region. KeyPairName is unique in its
// region; KeyPairId ("ssh-…") is unique everywhere.
type KeyPair struct {
	RegionId        string `json:"RegionId"`
	KeyPairId       string `json:"KeyPairId"`
	KeyPairName     string `json:"KeyPairName"`
	FingerPrint     string `json:"FingerPrint"`
	ResourceGroupId string `json:"ResourceGroupId,omitempty"`
	Tags            []Tag  `json:"Tags,omitempty"`
	// CreationTime is answered as is by DescribeKeyPairs (ECS uses the form
	// "2026-01-05T08:00Z"); empty means a fixed date.
	CreationTime string `json:"CreationTime,omitempty"`
	// PublicKey is answered by DescribeKeyPairs with IncludePublicKey=true
	// (an OpenSSH public key; the fleet's are made up, with no private key).
	PublicKey string `json:"PublicKey,omitempty"`
}

// Instance is an ECS instance. KeyPairName is the key pair bound to it, empty
// when none is (always for a Windows instance: SSH key pairs are for Linux).
// Status is one of Running, Stopped, Starting, Stopping.
type Instance struct {
	RegionId        string `json:"RegionId"`
	InstanceId      string `json:"InstanceId"`
	InstanceName    string `json:"InstanceName"`
	ZoneId          string `json:"ZoneId"`
	Status          string `json:"Status"`
	KeyPairName     string `json:"KeyPairName,omitempty"`
	ResourceGroupId string `json:"ResourceGroupId,omitempty"`
	Tags            []Tag  `json:"Tags,omitempty"`
	// InstanceType is answered by DescribeInstances; empty means ecs.g7.large.
	InstanceType string `json:"InstanceType,omitempty"`
	// OSType is "linux" or "windows"; empty means linux.
	OSType string `json:"OSType,omitempty"`
	// PendingRestart says that the key pair binding changed while the
	// instance was Running: ECS applies a bound or unbound key pair at the
	// next start (DetachKeyPair's API reference: restart the instance for
	// the change to take effect), so the running system still honours the
	// key it booted with. Stopping or starting the instance clears it.
	PendingRestart bool `json:"PendingRestart,omitempty"`
}

// Operating system types of OSType.
const (
	OSLinux   = "linux"
	OSWindows = "windows"
)

// Tag is a resource tag.
type Tag = rpc.Tag

// Instance statuses that the emulator knows.
const (
	StatusRunning  = "Running"
	StatusStopped  = "Stopped"
	StatusStarting = "Starting"
	StatusStopping = "Stopping"
)

// ParseFixture reads and checks a fixture in the layout of the emulator's
// testdata/fleet.json.
func ParseFixture(b []byte) (*Fixture, error) { return inventory.ParseFixture[Fixture](b) }

// Validate reports the first inconsistency of the fixture: an unknown region,
// a duplicate id or name, an unknown status or OS type, an instance bound to
// a key pair that its region does not have, a Windows instance with a key
// pair.
func (f *Fixture) Validate() error {
	regions := map[string]bool{}
	for _, r := range f.Regions {
		if r == "" || regions[r] {
			return fmt.Errorf("region %q is empty or listed twice", r)
		}
		regions[r] = true
	}
	ids := map[string]bool{}
	names := map[[2]string]bool{}
	for _, kp := range f.KeyPairs {
		switch {
		case !regions[kp.RegionId]:
			return fmt.Errorf("key pair %q: unknown region %q", kp.KeyPairName, kp.RegionId)
		case kp.KeyPairId == "" || kp.KeyPairName == "":
			return fmt.Errorf("key pair %q/%q: KeyPairId and KeyPairName are required", kp.KeyPairId, kp.KeyPairName)
		case ids[kp.KeyPairId]:
			return fmt.Errorf("key pair id %q listed twice", kp.KeyPairId)
		case names[[2]string{kp.RegionId, kp.KeyPairName}]:
			return fmt.Errorf("key pair name %q listed twice in %s", kp.KeyPairName, kp.RegionId)
		}
		ids[kp.KeyPairId] = true
		names[[2]string{kp.RegionId, kp.KeyPairName}] = true
	}
	for _, in := range f.Instances {
		switch {
		case !regions[in.RegionId]:
			return fmt.Errorf("instance %q: unknown region %q", in.InstanceId, in.RegionId)
		case in.InstanceId == "":
			return fmt.Errorf("instance without InstanceId in %s", in.RegionId)
		case ids[in.InstanceId]:
			return fmt.Errorf("instance id %q listed twice", in.InstanceId)
		case !validStatus(in.Status):
			return fmt.Errorf("instance %q: unknown status %q", in.InstanceId, in.Status)
		case in.OSType != "" && in.OSType != OSLinux && in.OSType != OSWindows:
			return fmt.Errorf("instance %q: OSType %q is neither %s nor %s", in.InstanceId, in.OSType, OSLinux, OSWindows)
		case in.KeyPairName != "" && in.OSType == OSWindows:
			return fmt.Errorf("instance %q: a Windows instance cannot have an SSH key pair", in.InstanceId)
		case in.KeyPairName != "" && !names[[2]string{in.RegionId, in.KeyPairName}]:
			return fmt.Errorf("instance %q: bound to key pair %q that %s does not have", in.InstanceId, in.KeyPairName, in.RegionId)
		}
		ids[in.InstanceId] = true
	}
	return nil
}

// Clone returns a deep copy of the fixture.
func (f *Fixture) Clone() *Fixture {
	c := &Fixture{Regions: append([]string(nil), f.Regions...)}
	for _, kp := range f.KeyPairs {
		c.KeyPairs = append(c.KeyPairs, kp.clone())
	}
	for _, in := range f.Instances {
		c.Instances = append(c.Instances, in.clone())
	}
	return c
}

func (kp KeyPair) clone() KeyPair {
	kp.Tags = append([]Tag(nil), kp.Tags...)
	return kp
}

func (in Instance) clone() Instance {
	in.Tags = append([]Tag(nil), in.Tags...)
	return in
}

func validStatus(s string) bool {
	switch s {
	case StatusRunning, StatusStopped, StatusStarting, StatusStopping:
		return true
	}
	return false
}
