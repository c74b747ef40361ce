package detach

import (
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Policy is the function's blast radius: which key pairs it may detach, in which
// regions, from which instances, and how widely a Targets selector may reach. It is
// checked before any cloud call that changes state, for every trigger and for dry runs
// too (a dry run shows what would be refused):
//
//   - at the start of a request, before any cloud call: the region (Regions; on a
//     cloud without API regions, ENS, a Targets selection's edge regions), an
//     unscoped Targets selector (ScopedTargets), a tag rule the cloud cannot check
//     (Limits.InstanceTags), and a key pair that no rule could allow whatever the cloud
//     says (the request names it by name and only ids are allowed, or the reverse);
//   - once the key pair is resolved (a read): KeyPairNames and KeyPairIDs;
//   - for each instance, as soon as it is described and before it can be batched:
//     ProtectedTag and RequiredTag, and, on a cloud without API regions (ENS), the
//     instance's own region (Regions), each refused instance alone (the others go on).
//
// Refusals of the request are 403 Forbidden.Policy, of an instance 403
// Forbidden.Protected; each message names the setting that refused.
//
// The zero Policy allows everything, as the function did before it had guardrails;
// settings.Load builds the deployed one (PROTECTED_TAG and scoped Targets by default).
type Policy struct {
	KeyPairNames  []string // ALLOWED_KEY_PAIRS names; '*' matches any run of characters
	KeyPairIDs    []string // ALLOWED_KEY_PAIRS ids; with KeyPairNames empty too, any key pair
	Regions       []string // ALLOWED_REGIONS (API regions, and ENS edge regions); empty: any region
	ProtectedTag  *Tag     // PROTECTED_TAG: an instance carrying it is never touched
	RequiredTag   *Tag     // REQUIRED_TAG: only instances carrying it may be touched
	ScopedTargets bool     // not ALLOW_UNSCOPED_TARGETS: Targets must name a tag or a resource group
}

// Codes of the guard's refusals.
const (
	CodeForbiddenPolicy = "Forbidden.Policy"    // the request as a whole; nothing was detached
	CodeProtected       = "Forbidden.Protected" // one instance; the others went on
)

// A Tag of a rule matches an instance tag with its key and, unless the rule's Value is
// empty, its value.
func (t Tag) matches(tags []Tag) bool {
	return slices.ContainsFunc(tags, func(x Tag) bool { return x.Key == t.Key && (t.Value == "" || x.Value == t.Value) })
}

// carriesAll reports whether tags hold every tag of rules (each as matches says).
func carriesAll(tags, rules []Tag) bool {
	for _, t := range rules {
		if !t.matches(tags) {
			return false
		}
	}
	return true
}

// String shows a tag rule as its setting is written: key, or key=value.
func (t Tag) String() string {
	if t.Value == "" {
		return t.Key
	}
	return t.Key + "=" + t.Value
}

// keyPairPatternShape is a key pair name in which '*' may stand for any run of
// characters (no other character of path.Match's syntax can occur in a name).
var keyPairPatternShape = regexp.MustCompile(`^[A-Za-z0-9\p{Han}:_.*-]{1,128}$`)

// ValidKeyPairPattern reports whether s is a key pair name or a name pattern with '*'
// wildcards, as ALLOWED_KEY_PAIRS takes them.
func ValidKeyPairPattern(s string) bool {
	if !keyPairPatternShape.MatchString(s) {
		return false
	}
	_, err := path.Match(s, "")
	return err == nil
}

func forbidden(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbiddenPolicy, Message: fmt.Sprintf(format, args...)}
}

// checkRequest refuses, before any cloud call, what the request's own fields and the
// cloud's limits already show to be outside the policy.
func (p Policy) checkRequest(req Request, lim Limits) *Error {
	if err := p.checkRegions(req, lim); err != nil {
		return err
	}
	if p.ScopedTargets && req.Targets != nil && len(req.Targets.Tags) == 0 && req.Targets.ResourceGroupId == "" && len(req.Targets.EnsRegionIds) == 0 {
		return forbidden("Targets names no tag and no resource group (ENS: no edge region), so it would select every instance bound to the key pair, " +
			"and ALLOW_UNSCOPED_TARGETS is not true: name at least one tag or a resource group (ENS: or edge regions); nothing was detached")
	}
	if !lim.InstanceTags {
		setting := ""
		switch {
		case p.ProtectedTag != nil:
			setting = "PROTECTED_TAG"
		case p.RequiredTag != nil:
			setting = "REQUIRED_TAG"
		case req.Targets != nil && len(req.Targets.Tags) > 0:
			return forbidden("Targets selects by tags, but %s does not tell the tags of its instances, so the function cannot check the selection; nothing was detached", lim.Product)
		}
		if setting != "" {
			return forbidden("%s is set, but %s does not tell the tags of its instances: the function refuses rather than guess which instances it may touch; nothing was detached",
				setting, lim.Product)
		}
	}
	if allowed, decided := p.keyPairVerdict(KeyPair{ID: req.KeyPairId, Name: req.KeyPairName}); decided && !allowed {
		return keyPairRefused(req.KeyPairName, req.KeyPairId)
	}
	return nil
}

// checkRegions applies ALLOWED_REGIONS to a request. On a cloud with API regions, the
// request's region must be allowed. A cloud without them (ENS) has its instances in
// regions of their own (edge regions, which ALLOWED_REGIONS may list too): a Targets
// selection must name its edge regions (Targets.EnsRegionIds), each allowed; the
// instances named by id are checked one by one once described (instanceRefusal).
func (p Policy) checkRegions(req Request, lim Limits) *Error {
	switch {
	case len(p.Regions) == 0:
		return nil
	case lim.Region != "":
		if !p.allowsRegion(lim.Region) {
			return forbidden("region %s is not in ALLOWED_REGIONS: the function may not detach key pairs there; nothing was detached", lim.Region)
		}
		return nil
	case req.Targets == nil:
		return nil
	case len(req.Targets.EnsRegionIds) == 0:
		return forbidden("ALLOWED_REGIONS is set, and a %s Targets selection without Targets.EnsRegionIds would take instances in any edge region: "+
			"name the edge regions, each one ALLOWED_REGIONS lists; nothing was detached", lim.Product)
	}
	if refused := p.refusedRegions(req.Targets.EnsRegionIds); len(refused) > 0 {
		return forbidden("edge regions %s are not in ALLOWED_REGIONS: the function may not detach key pairs there; nothing was detached", strings.Join(refused, ", "))
	}
	return nil
}

// allowsRegion reports whether ALLOWED_REGIONS allows a region (an API region, or an
// ENS edge region): any, when it lists none.
func (p Policy) allowsRegion(id string) bool {
	return len(p.Regions) == 0 || slices.Contains(p.Regions, id)
}

// refusedRegions returns the regions of ids that ALLOWED_REGIONS does not allow.
func (p Policy) refusedRegions(ids []string) []string {
	var refused []string
	for _, id := range ids {
		if !p.allowsRegion(id) {
			refused = append(refused, id)
		}
	}
	return refused
}

// checkKeyPair refuses a resolved key pair that ALLOWED_KEY_PAIRS does not allow. A
// cloud that does not tell key pair ids (ECS's DescribeKeyPairs documents none) leaves
// kp.ID empty: then only a name can allow it, and the refusal says so.
func (p Policy) checkKeyPair(kp KeyPair) *Error {
	if allowed, _ := p.keyPairVerdict(kp); !allowed {
		err := keyPairRefused(kp.Name, kp.ID)
		if kp.ID == "" && len(p.KeyPairIDs) > 0 {
			err.Message += " (the cloud did not tell its id, so the ids of ALLOWED_KEY_PAIRS cannot match it: list its name)"
		}
		return err
	}
	return nil
}

func keyPairRefused(name, id string) *Error {
	what := name
	if id != "" && name != "" {
		what = name + " (" + id + ")"
	} else if id != "" {
		what = id
	}
	return forbidden("key pair %s is not in ALLOWED_KEY_PAIRS: the function may not detach it; nothing was detached", what)
}

// keyPairVerdict says whether the policy allows kp, of which ID or Name may be unknown
// (""). decided is false when the unknown field could still allow it.
func (p Policy) keyPairVerdict(kp KeyPair) (allowed, decided bool) {
	if len(p.KeyPairNames) == 0 && len(p.KeyPairIDs) == 0 {
		return true, true
	}
	if kp.ID != "" && slices.Contains(p.KeyPairIDs, kp.ID) {
		return true, true
	}
	if kp.Name != "" && slices.ContainsFunc(p.KeyPairNames, func(pattern string) bool {
		ok, _ := path.Match(pattern, kp.Name)
		return ok
	}) {
		return true, true
	}
	unknownCouldAllow := kp.ID == "" && len(p.KeyPairIDs) > 0 || kp.Name == "" && len(p.KeyPairNames) > 0
	return false, !unknownCouldAllow
}

// instanceRefusal says why the policy refuses to touch an instance of the cloud described
// by lim, or "" if it does not. On a cloud without API regions (ENS), ALLOWED_REGIONS
// applies to each instance's own region. An instance without tags where the cloud's answer could
// have lost them (lim.EmptyTagsUnclear) is refused while a tag rule is set: its tags are
// not known, and the function refuses rather than guess.
func (p Policy) instanceRefusal(in Instance, lim Limits) string {
	switch {
	case lim.Region == "" && !p.allowsRegion(in.Region):
		if in.Region == "" {
			return fmt.Sprintf("%s did not tell the instance's region, so the function cannot check it against ALLOWED_REGIONS, and does not touch it", lim.Product)
		}
		return fmt.Sprintf("the instance is in region %s, which is not in ALLOWED_REGIONS: the function may not detach key pairs there", in.Region)
	case len(in.Tags) == 0 && lim.EmptyTagsUnclear && (p.ProtectedTag != nil || p.RequiredTag != nil):
		rule := fmt.Sprintf("the protected tag %s (PROTECTED_TAG)", p.ProtectedTag)
		if p.ProtectedTag == nil {
			rule = fmt.Sprintf("the tag %s that REQUIRED_TAG requires", p.RequiredTag)
		}
		return fmt.Sprintf("%s listed no tags for the instance, and its answer cannot tell an instance without tags from an answer that lost them: "+
			"the function cannot tell whether the instance carries %s, and does not touch it; give the instance a tag (any) and run the request again", lim.Product, rule)
	case p.ProtectedTag != nil && p.ProtectedTag.matches(in.Tags):
		return fmt.Sprintf("the instance carries the protected tag %s (PROTECTED_TAG): the function never touches it", p.ProtectedTag)
	case p.RequiredTag != nil && !p.RequiredTag.matches(in.Tags):
		return fmt.Sprintf("the instance lacks the tag %s that REQUIRED_TAG requires: the function touches only instances that carry it", p.RequiredTag)
	}
	return ""
}

// narrowTargets returns the tags a Targets selection asks the cloud for: the request's,
// and REQUIRED_TAG's unless the request already filters on its key, so that instances the
// function may not touch are not selected (and do not take the places of those it may).
// When the cloud's 20 tag filters are all taken, the selection stays as it is and each
// instance is still checked.
func (p Policy) narrowTargets(tags []Tag) []Tag {
	rt := p.RequiredTag
	if rt == nil || len(tags) >= maxTagFilters || slices.ContainsFunc(tags, func(t Tag) bool { return t.Key == rt.Key }) {
		return tags
	}
	return append(slices.Clip(tags), *rt)
}

// maxTagFilters is the most tags a DescribeInstances call filters on (Tag.1 to Tag.20),
// the limit of Targets.Tags too.
const maxTagFilters = 20

// refusal says why the policy refuses to touch an instance of the run's cloud, or "".
func (r *run) refusal(in Instance) string { return r.opts.Policy.instanceRefusal(in, r.lim) }

// guardRequest applies the checks that need no cloud call.
func (r *run) guardRequest() *Error {
	if err := r.opts.Policy.checkRequest(r.req, r.lim); err != nil {
		r.log.Warn("request refused by policy", "code", err.Code, "message", err.Message)
		return err
	}
	return nil
}

// guardKeyPair applies ALLOWED_KEY_PAIRS to the resolved key pair.
func (r *run) guardKeyPair(kp KeyPair) *Error {
	if err := r.opts.Policy.checkKeyPair(kp); err != nil {
		r.log.Warn("request refused by policy", "code", err.Code, "message", err.Message)
		return err
	}
	return nil
}

// logRefusals logs, once per request, the instances the policy refused.
func (r *run) logRefusals() {
	var refused []string
	for _, res := range r.result.Results {
		if res.ErrorCode == CodeProtected {
			refused = append(refused, res.InstanceId)
		}
	}
	if len(refused) == 0 {
		return
	}
	shown := refused[:min(len(refused), 20)]
	r.log.Warn("instances refused by policy", "refused", len(refused), "instances", strings.Join(shown, ","))
}
