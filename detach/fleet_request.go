package detach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// AllRegions is the RegionIds entry that stands for every region of the account.
const AllRegions = "*"

// maxRegionIds bounds RegionIds (Alibaba Cloud has a few dozen regions).
const maxRegionIds = 100

// IsFleet reports whether a request (its product settled, see ForProduct) is a fleet
// run (fleet.go): an ECS request that selects its instances by Targets, in one region
// or several (RegionIds), or a part of such a run (Continuation). ENS keeps the capped
// selection of Service.Detach (Result.Truncated): it has no API regions, and its
// DescribeInstances cannot select by key pair.
func IsFleet(r Request) bool {
	return r.Product != ProductENS && (r.Targets != nil || r.RegionIds != nil || r.Continuation != nil)
}

// Continuation is what one part of a fleet run hands the next, in the request of the
// asynchronous invocation that runs it (fleet_part.go): the run, the part's number, the
// instances it takes (its window, listed by the part before, or by the run's first
// invocation for a first part), where the region's listing goes on after them, and
// the region's totals so far. The request also carries the run's key pair (by name,
// as resolved), RegionId, Targets and DryRun.
type Continuation struct {
	RunId       string   `json:"RunId"`
	Part        int      `json:"Part"`
	KeyPairId   string   `json:"KeyPairId,omitempty"` // as resolved by the run's first invocation, if the cloud told it
	InstanceIds []string `json:"InstanceIds,omitempty"`
	Cursor      Cursor   `json:"Cursor"`
	Totals      Totals   `json:"Totals"`
}

// runIDPattern is the form of a RunId (newRunID): it goes into FC task ids.
var runIDPattern = regexp.MustCompile(`^run-[a-f0-9]{1,32}$`)

// decodeContinuation decodes a Continuation, refusing unknown fields.
func decodeContinuation(raw json.RawMessage) (*Continuation, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Continuation
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("Continuation is not one a part of a fleet run writes: %s", Clip(err.Error()))
	}
	return &c, nil
}

// validateFleet checks RegionIds and Continuation: RegionIds is ["*"] or distinct
// region ids, with Targets, without RegionId, and with KeyPairId only for one region
// (key pairs are regional: the same name is a different key pair, with another id, in
// each region); a Continuation comes with Targets, RegionId and KeyPairName. Whether
// the regions exist is the cloud's to say (DescribeRegions, when the run starts).
func (r *Request) validateFleet(maxInstances int) *Error {
	if r.RegionIds != nil {
		if err := r.validateRegionIds(); err != nil {
			return err
		}
	}
	c := r.Continuation
	if c == nil {
		return nil
	}
	bad := func(format string, args ...any) *Error {
		return invalidParameter("Continuation", fmt.Sprintf(format, args...))
	}
	switch {
	case r.Targets == nil || r.RegionId == "" || r.KeyPairName == "" || r.RegionIds != nil:
		return bad("a continuation comes with Targets, RegionId and KeyPairName, without RegionIds")
	case !runIDPattern.MatchString(c.RunId):
		return bad("RunId %s is not a run id such as run-3f2a9c0d1e4b5a6f", Echo(c.RunId))
	case c.Part < 1:
		return bad("Part counts from 1")
	case c.KeyPairId != "" && !ValidKeyPairID(c.KeyPairId):
		return bad("KeyPairId %s is not a key pair id", Echo(c.KeyPairId))
	case maxInstances > 0 && len(c.InstanceIds) > maxInstances:
		return bad("%d instance ids, more than MAX_INSTANCES (%d)", len(c.InstanceIds), maxInstances)
	}
	for _, ids := range [][]string{c.InstanceIds, c.Cursor.Pending} {
		for _, id := range ids {
			if !instanceIDPattern.MatchString(id) {
				return bad("%s is not an instance id", Echo(id))
			}
		}
	}
	if d := firstDuplicate(c.InstanceIds); d != "" {
		return bad("duplicate instance id %s", d)
	}
	return nil
}

// validateRegionIds checks RegionIds' own rules.
func (r *Request) validateRegionIds() *Error {
	bad := func(detail string) *Error { return invalidParameter("RegionIds", detail) }
	ids := r.RegionIds
	switch {
	case len(ids) == 0:
		return bad(`RegionIds must name at least one region, or be ["*"] for every region of the account`)
	case len(ids) > maxRegionIds:
		return bad(fmt.Sprintf("%d regions named, at most %d are allowed", len(ids), maxRegionIds))
	case r.RegionId != "":
		return bad("give RegionId or RegionIds, not both")
	case r.Targets == nil:
		return bad("RegionIds selects instances in several regions: use it with Targets (InstanceIds name the instances of one region, with RegionId)")
	}
	var malformed []string
	for _, id := range ids {
		if id != AllRegions && !ValidRegionID(id) {
			malformed = append(malformed, Echo(id))
		}
	}
	if len(malformed) > 0 {
		return bad("not region ids such as cn-hangzhou: " + strings.Join(firstN(malformed, 10), ", "))
	}
	if slices.Contains(ids, AllRegions) && len(ids) > 1 {
		return bad(`"*" stands for every region of the account: give it alone, or name the regions`)
	}
	if d := firstDuplicate(ids); d != "" {
		return bad("region " + d + " is named twice")
	}
	if r.KeyPairId != "" && (len(ids) > 1 || ids[0] == AllRegions) {
		return bad("a KeyPairId names a key pair of one region (each region's key pair of the same name has an id of its own): name the key pair by KeyPairName to run in several regions")
	}
	return nil
}

// unknownRegions refuses the regions of RegionIds that the account does not have.
func unknownRegions(named, known []string) *Error {
	var unknown []string
	for _, id := range named {
		if id != AllRegions && !slices.Contains(known, id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return invalidParameter("RegionIds", fmt.Sprintf("the account has no region %s (its regions: %s)",
		strings.Join(firstN(unknown, 10), ", "), strings.Join(firstN(known, 40), ", ")))
}

// firstN returns at most n elements of list, and says how many more there are.
func firstN(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(slices.Clone(list[:n]), fmt.Sprintf("and %d more", len(list)-n))
}
