package emulator

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// FleetSpec describes a generated fleet (GenerateFleet): how many instances, in which
// regions, and what share of them is in each state. Zero fields take the defaults.
type FleetSpec struct {
	Seed      int64    // the random source of the draws: the same spec gives the same fleet
	Regions   []string // regions with instances (default cn-hangzhou, cn-shanghai, cn-beijing)
	Empty     []string // more regions the account has, without instances or key pairs
	Instances int      // instances in all, spread evenly over Regions (the first ones get the rest)
	KeyPair   string   // the key pair bound to the instances, in every region of Regions (default "fleet-key")
	Tag       Tag      // a tag every instance carries (default env=fleet), for a Targets selector

	// Shares of the instances (drawn independently, in this order of precedence):
	Unbound   float64 // without a key pair
	OtherKey  float64 // bound to another key pair ("other-key", in every region)
	Running   float64 // Running (the others are Stopped)
	Protected float64 // tagged detach-keypair:protected, the function's default PROTECTED_TAG
}

// Defaults of a FleetSpec.
var (
	DefaultFleetRegions = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"}
	DefaultFleetKeyPair = "fleet-key"
	DefaultFleetTag     = Tag{Key: "env", Value: "fleet"}
)

// OtherFleetKeyPair is the key pair of FleetSpec.OtherKey instances.
const OtherFleetKeyPair = "other-key"

// ProtectedTagKey is the tag of FleetSpec.Protected instances (the function's default
// PROTECTED_TAG).
const ProtectedTagKey = "detach-keypair:protected"

// GenerateFleet makes a fleet of spec.Instances instances for the emulator, as
// large as a test or a benchmark needs, instead of a hand-written fixture. Instance
// ids are "i-", a prefix of the region (as ECS's ids start with one) and the region's
// place in Regions, then a number: i-bp10fleet0000001 in cn-hangzhou, the first. Every region of Regions has the key pair
// spec.KeyPair and "other-key".
func GenerateFleet(spec FleetSpec) *Fixture {
	if len(spec.Regions) == 0 {
		spec.Regions = DefaultFleetRegions
	}
	if spec.KeyPair == "" {
		spec.KeyPair = DefaultFleetKeyPair
	}
	if spec.Tag.Key == "" {
		spec.Tag = DefaultFleetTag
	}
	rng := rand.New(rand.NewPCG(uint64(spec.Seed), 0x666c656574))
	f := &Fixture{Regions: append(append([]string(nil), spec.Regions...), spec.Empty...)}
	for i, region := range spec.Regions {
		for j, name := range []string{spec.KeyPair, OtherFleetKeyPair} {
			f.KeyPairs = append(f.KeyPairs, KeyPair{RegionId: region, KeyPairName: name,
				KeyPairId: fmt.Sprintf("ssh-%sflt%02d%02d", regionPrefix(region), i, j), FingerPrint: fmt.Sprintf("f1:ee:%02x:%02x", i, j)})
		}
	}
	per, rest := spec.Instances/len(spec.Regions), spec.Instances%len(spec.Regions)
	for i, region := range spec.Regions {
		n := per
		if i < rest {
			n++
		}
		for k := 1; k <= n; k++ {
			in := Instance{RegionId: region, InstanceId: fmt.Sprintf("i-%s%dfleet%07d", regionPrefix(region), i, k),
				InstanceName: fmt.Sprintf("fleet-%s-%06d", region, k), ZoneId: region + "-a",
				Status: StatusStopped, KeyPairName: spec.KeyPair, Tags: []Tag{spec.Tag}}
			switch u := rng.Float64(); {
			case u < spec.Unbound:
				in.KeyPairName = ""
			case u < spec.Unbound+spec.OtherKey:
				in.KeyPairName = OtherFleetKeyPair
			}
			if rng.Float64() < spec.Running {
				in.Status = StatusRunning
			}
			if rng.Float64() < spec.Protected {
				in.Tags = append(in.Tags, Tag{Key: ProtectedTagKey, Value: "true"})
			}
			f.Instances = append(f.Instances, in)
		}
	}
	return f
}

// regionPrefix is the prefix of a region's instance ids: ECS's own for the regions
// whose prefix is known, else three letters made from the region id.
func regionPrefix(region string) string {
	switch region {
	case "cn-hangzhou":
		return "bp1"
	case "cn-shanghai":
		return "uf6"
	case "cn-beijing":
		return "2ze"
	case "ap-southeast-1":
		return "t4n"
	}
	h := fnv.New32a()
	h.Write([]byte(region))
	n := h.Sum32()
	const letters = "abcdefghijklmnopqrstuvwxyz"
	return string([]byte{letters[n%26], letters[n/26%26], letters[n/676%26]})
}
