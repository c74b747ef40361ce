package detach

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestKeyPairVerdict(t *testing.T) {
	names := Policy{KeyPairNames: []string{"ops-*", "deploy-ci"}}
	ids := Policy{KeyPairIDs: []string{"ssh-k1"}}
	both := Policy{KeyPairNames: []string{"ops-*"}, KeyPairIDs: []string{"ssh-k1"}}
	cases := []struct {
		name             string
		p                Policy
		kp               KeyPair // "" fields: not known yet (before resolution)
		allowed, decided bool
	}{
		{"no rule allows all", Policy{}, KeyPair{Name: "x"}, true, true},
		{"name by wildcard", names, KeyPair{Name: "ops-2026"}, true, true},
		{"wildcard matches the empty run", names, KeyPair{Name: "ops-"}, true, true},
		{"exact name", names, KeyPair{Name: "deploy-ci"}, true, true},
		{"other name: refused before any call", names, KeyPair{Name: "deploy-cd"}, false, true},
		{"a suffix match is not a match", names, KeyPair{Name: "legacy-ops-2026"}, false, true},
		{"by id, names only: wait for the name", names, KeyPair{ID: "ssh-k9"}, false, false},
		{"listed id", ids, KeyPair{ID: "ssh-k1"}, true, true},
		{"by name, ids only: wait for the id", ids, KeyPair{Name: "ops-2026"}, false, false},
		{"resolved, neither", both, KeyPair{ID: "ssh-k2", Name: "legacy"}, false, true},
		{"resolved, the id allows it", both, KeyPair{ID: "ssh-k1", Name: "legacy"}, true, true},
	}
	for _, c := range cases {
		if allowed, decided := c.p.keyPairVerdict(c.kp); allowed != c.allowed || decided != c.decided {
			t.Errorf("%s: allowed %v decided %v, want %v %v", c.name, allowed, decided, c.allowed, c.decided)
		}
	}
	for pattern, valid := range map[string]bool{"ops-*": true, "*": true, "ops-2026": true, "": false, "ops[1]": false, "a?b": false, "a b": false} {
		if ValidKeyPairPattern(pattern) != valid {
			t.Errorf("ValidKeyPairPattern(%q) = %v", pattern, !valid)
		}
	}
}

func TestCheckRequest(t *testing.T) {
	ecs := Limits{Product: ProductECS, Region: "cn-hangzhou", InstanceTags: true}
	ens := Limits{Product: ProductENS}
	untagged := Limits{Product: ProductECS, Region: "cn-hangzhou"}
	byName := Request{KeyPairName: "ops-2026", InstanceIds: []string{"i-1"}}
	unscoped := Request{KeyPairName: "ops-2026", Targets: &Targets{}}
	scopedByGroup := Request{KeyPairName: "ops-2026", Targets: &Targets{ResourceGroupId: "rg-a"}}
	protected := &Tag{Key: "keep"}
	cases := []struct {
		name    string
		p       Policy
		req     Request
		lim     Limits
		setting string // the setting the refusal names; "" = allowed
	}{
		{"zero policy", Policy{}, unscoped, untagged, ""},
		{"allowed region", Policy{Regions: []string{"cn-shanghai", "cn-hangzhou"}}, byName, ecs, ""},
		{"other region", Policy{Regions: []string{"cn-shanghai"}}, byName, ecs, "ALLOWED_REGIONS"},
		{"ENS by ids: each instance's region is checked later", Policy{Regions: []string{"cn-beijing-cmcc"}}, byName, ens, ""},
		{"ENS targets without edge regions", Policy{Regions: []string{"cn-beijing-cmcc"}}, Request{KeyPairName: "ops-2026", Targets: &Targets{Tags: []Tag{{Key: "env"}}}}, ens, "ALLOWED_REGIONS"},
		{"ENS targets in an edge region not allowed", Policy{Regions: []string{"cn-beijing-cmcc"}},
			Request{KeyPairName: "ops-2026", Targets: &Targets{EnsRegionIds: []string{"cn-beijing-cmcc", "cn-hangzhou-telecom"}}}, ens, "cn-hangzhou-telecom are not in ALLOWED_REGIONS"},
		{"ENS targets in allowed edge regions", Policy{Regions: []string{"cn-hangzhou", "cn-beijing-cmcc"}},
			Request{KeyPairName: "ops-2026", Targets: &Targets{EnsRegionIds: []string{"cn-beijing-cmcc"}}}, ens, ""},
		{"unscoped targets", Policy{ScopedTargets: true}, unscoped, ecs, "ALLOW_UNSCOPED_TARGETS"},
		{"targets by group", Policy{ScopedTargets: true}, scopedByGroup, ecs, ""},
		{"ENS targets by edge region", Policy{ScopedTargets: true}, Request{KeyPairName: "ops-2026", Targets: &Targets{EnsRegionIds: []string{"cn-beijing-cmcc"}}}, ens, ""},
		{"ENS unscoped targets", Policy{ScopedTargets: true}, unscoped, ens, "ALLOW_UNSCOPED_TARGETS"},
		{"instance ids are scoped", Policy{ScopedTargets: true}, byName, ecs, ""},
		{"protected tag, cloud tells no tags", Policy{ProtectedTag: protected}, byName, untagged, "PROTECTED_TAG"},
		{"required tag, cloud tells no tags", Policy{RequiredTag: protected}, byName, untagged, "REQUIRED_TAG"},
		{"protected tag, cloud tells tags", Policy{ProtectedTag: protected}, byName, ecs, ""},
		{"tag selector, cloud tells no tags", Policy{}, Request{KeyPairName: "ops-2026", Targets: &Targets{Tags: []Tag{{Key: "env"}}}}, untagged, "Targets selects by tags"},
		{"key pair refused before any call", Policy{KeyPairNames: []string{"deploy-*"}}, byName, ecs, "ALLOWED_KEY_PAIRS"},
		{"key pair decided after resolution", Policy{KeyPairIDs: []string{"ssh-k1"}}, byName, ecs, ""},
	}
	for _, c := range cases {
		err := c.p.checkRequest(c.req, c.lim)
		switch {
		case c.setting == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.setting != "" && (err == nil || err.Code != CodeForbiddenPolicy || err.Status != 403 || !strings.Contains(err.Message, c.setting)):
			t.Errorf("%s: %v, want 403 %s naming %s", c.name, err, CodeForbiddenPolicy, c.setting)
		}
	}
}

func TestInstanceRefusal(t *testing.T) {
	p := Policy{ProtectedTag: &Tag{Key: "detach-keypair:protected"}, RequiredTag: &Tag{Key: "env", Value: "staging"}}
	tagged := func(tags ...Tag) Instance { return Instance{ID: "i-1", Tags: tags} }
	staging := Tag{Key: "env", Value: "staging"}
	cases := []struct {
		in      Instance
		setting string
	}{
		{tagged(staging), ""},
		{tagged(staging, Tag{Key: "detach-keypair:protected", Value: "anything"}), "PROTECTED_TAG"},
		{tagged(staging, Tag{Key: "detach-keypair:protected"}), "PROTECTED_TAG"},
		{tagged(Tag{Key: "env", Value: "prod"}), "REQUIRED_TAG"},
		{tagged(), "REQUIRED_TAG"},
	}
	ecs := Limits{Product: ProductECS, InstanceTags: true}
	for i, c := range cases {
		got := p.instanceRefusal(c.in, ecs)
		if c.setting == "" && got != "" || c.setting != "" && !strings.Contains(got, c.setting) {
			t.Errorf("case %d (%v): refusal %q, want one naming %q", i, c.in.Tags, got, c.setting)
		}
	}
	keep := Policy{ProtectedTag: &Tag{Key: "keep", Value: "yes"}}
	if got := keep.instanceRefusal(tagged(Tag{Key: "keep", Value: "no"}), ecs); got != "" {
		t.Errorf("key=value rule refused another value: %q", got)
	}

	// ALLOWED_REGIONS on a cloud without API regions (ENS) applies to each instance's own
	// region; on one with API regions, the request's region was checked before.
	regions := Policy{Regions: []string{"cn-beijing-cmcc"}}
	edge := Limits{Product: ProductENS, InstanceTags: true}
	for _, c := range []struct {
		in      Instance
		lim     Limits
		refusal string
	}{
		{Instance{ID: "i-1", Region: "cn-beijing-cmcc"}, edge, ""},
		{Instance{ID: "i-1", Region: "cn-hangzhou-telecom"}, edge, "cn-hangzhou-telecom, which is not in ALLOWED_REGIONS"},
		{Instance{ID: "i-1"}, edge, "did not tell the instance's region"},
		{Instance{ID: "i-1"}, Limits{Product: ProductECS, Region: "cn-hangzhou", InstanceTags: true}, ""},
	} {
		got := regions.instanceRefusal(c.in, c.lim)
		if c.refusal == "" && got != "" || c.refusal != "" && !strings.Contains(got, c.refusal) {
			t.Errorf("%s, region %q: refusal %q, want %q", c.lim.Product, c.in.Region, got, c.refusal)
		}
	}

	// A cloud whose tag answers cannot tell "no tags" from a lost answer (ENS): an
	// instance without tags is refused under a tag rule, naming the rule; with tags,
	// or without a rule, the rules apply as on ECS.
	ens := Limits{Product: ProductENS, InstanceTags: true, EmptyTagsUnclear: true}
	for _, c := range []struct {
		p       Policy
		in      Instance
		setting string
	}{
		{keep, tagged(), "PROTECTED_TAG"},
		{Policy{RequiredTag: &Tag{Key: "env"}}, tagged(), "REQUIRED_TAG"},
		{p, tagged(), "PROTECTED_TAG"},
		{keep, tagged(Tag{Key: "env", Value: "staging"}), ""},
		{keep, tagged(Tag{Key: "keep", Value: "yes"}), "PROTECTED_TAG"},
		{Policy{}, tagged(), ""},
	} {
		got := c.p.instanceRefusal(c.in, ens)
		if c.setting == "" && got != "" || c.setting != "" && !strings.Contains(got, c.setting) {
			t.Errorf("ENS, rules %+v, tags %v: refusal %q, want one naming %q", c.p, c.in.Tags, got, c.setting)
		}
		if c.setting != "" && len(c.in.Tags) == 0 && !strings.Contains(got, "listed no tags") {
			t.Errorf("ENS, no tags: refusal %q does not say why", got)
		}
	}
}

func TestNarrowTargets(t *testing.T) {
	env := Tag{Key: "env", Value: "staging"}
	p := Policy{RequiredTag: &Tag{Key: "owner", Value: "ops"}}
	if got := p.narrowTargets([]Tag{env}); !slices.Equal(got, []Tag{env, {Key: "owner", Value: "ops"}}) {
		t.Errorf("narrowed to %v", got)
	}
	own := []Tag{{Key: "owner", Value: "platform"}}
	if got := p.narrowTargets(own); !slices.Equal(got, own) {
		t.Errorf("the request's own filter on the key was changed: %v", got)
	}
	full := make([]Tag, maxTagFilters)
	for i := range full {
		full[i] = Tag{Key: fmt.Sprint("k", i)}
	}
	if got := p.narrowTargets(full); len(got) != maxTagFilters {
		t.Errorf("%d tag filters, the cloud takes %d", len(got), maxTagFilters)
	}
	if got := (Policy{}).narrowTargets(nil); got != nil {
		t.Errorf("no rule: %v", got)
	}
}

// fleetCloud is an in-memory ECS region of tagged instances that counts its calls and
// records which instances DetachKeyPair was asked to touch.
type fleetCloud struct {
	tags    bool // Limits().InstanceTags
	mu      sync.Mutex
	in      map[string]Instance
	calls   map[string]int
	touched []string
}

func newFleetCloud(tags bool, instances ...Instance) *fleetCloud {
	c := &fleetCloud{tags: tags, in: map[string]Instance{}, calls: map[string]int{}}
	for _, in := range instances {
		c.in[in.ID] = in
	}
	return c
}

func (c *fleetCloud) Limits() Limits {
	return Limits{Product: ProductECS, Region: "cn-hangzhou", KeyPairPage: ECSKeyPairPage, DescribeIDs: ECSDescribeIDs, Batch: ECSBatch, InstanceTags: c.tags}
}

func (c *fleetCloud) count(api string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[api]++
}

func (c *fleetCloud) DescribeKeyPairs(context.Context, KeyPairQuery) (KeyPairPage, error) {
	c.count(APIDescribeKeyPairs)
	return KeyPairPage{KeyPairs: []KeyPair{{ID: "ssh-k1", Name: "ops-2026"}}, TotalCount: 1}, nil
}

// DescribeInstances answers the instances of q.IDs; without ids, every instance, as a
// cloud that ignores its filters (key pair, tags) would, in id order.
func (c *fleetCloud) DescribeInstances(_ context.Context, q InstanceQuery) (InstancePage, error) {
	c.count(APIDescribeInstances)
	c.mu.Lock()
	defer c.mu.Unlock()
	var p InstancePage
	ids := q.IDs
	if len(ids) == 0 {
		ids = slices.Sorted(maps.Keys(c.in))
	}
	for _, id := range ids {
		if in, ok := c.in[id]; ok {
			if !c.tags {
				in.Tags = nil
			}
			p.Instances = append(p.Instances, in)
		}
	}
	return p, nil
}

func (c *fleetCloud) DetachKeyPair(_ context.Context, kp KeyPair, ids []string) ([]Outcome, error) {
	c.count(APIDetachKeyPair)
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Outcome
	for _, id := range ids {
		c.touched = append(c.touched, id)
		in := c.in[id]
		in.KeyPairName = ""
		c.in[id] = in
		out = append(out, Outcome{InstanceID: id, Code: 200, Success: true})
	}
	return out, nil
}

// TestGuardInService: a protected instance and one without the required tag get their
// own 403 Forbidden.Protected, named by key pair name as well (the others go on), in a
// dry run too; no DetachKeyPair call names them. A request-level refusal makes no call.
func TestGuardInService(t *testing.T) {
	fleet := func(tags bool) *fleetCloud {
		return newFleetCloud(tags,
			Instance{ID: "i-1", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{{Key: "env", Value: "staging"}}},
			Instance{ID: "i-2", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{{Key: "env", Value: "staging"}, {Key: "keep", Value: "1"}}},
			Instance{ID: "i-3", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{{Key: "env", Value: "prod"}}},
		)
	}
	policy := Policy{ProtectedTag: &Tag{Key: "keep"}, RequiredTag: &Tag{Key: "env", Value: "staging"}}
	s := NewService(Options{Policy: policy})
	for _, dry := range []bool{false, true} {
		cloud := fleet(true)
		res, err := s.Detach(context.Background(), cloud, Request{KeyPairName: "ops-2026", InstanceIds: []string{"i-1", "i-2", "i-3"}, DryRun: dry})
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		want := []string{"200", "403 Forbidden.Protected PROTECTED_TAG", "403 Forbidden.Protected REQUIRED_TAG"}
		for i, r := range res.Results {
			got := fmt.Sprint(r.Code)
			if !r.Success {
				got += " " + r.ErrorCode + " " + map[bool]string{true: "PROTECTED_TAG", false: "REQUIRED_TAG"}[strings.Contains(r.Message, "PROTECTED_TAG")]
			}
			if got != want[i] {
				t.Errorf("dry run %v: %s: %s (%s), want %s", dry, r.InstanceId, got, r.Message, want[i])
			}
		}
		wantTouched := []string{"i-1"}
		if dry {
			wantTouched = nil
		}
		if !slices.Equal(cloud.touched, wantTouched) {
			t.Errorf("dry run %v: DetachKeyPair touched %v, want %v", dry, cloud.touched, wantTouched)
		}
	}

	cloud := fleet(false)
	_, err := s.Detach(context.Background(), cloud, Request{KeyPairName: "ops-2026", InstanceIds: []string{"i-1"}})
	if err == nil || err.Code != CodeForbiddenPolicy || len(cloud.calls) != 0 {
		t.Errorf("a cloud that tells no tags, with tag rules: %v, calls %v; want Forbidden.Policy before any call", err, cloud.calls)
	}
	cloud = fleet(true)
	s = NewService(Options{Policy: Policy{KeyPairIDs: []string{"ssh-other"}}})
	_, err = s.Detach(context.Background(), cloud, Request{KeyPairName: "ops-2026", InstanceIds: []string{"i-1"}})
	if err == nil || err.Code != CodeForbiddenPolicy || cloud.calls[APIDescribeKeyPairs] != 1 || cloud.calls[APIDescribeInstances]+cloud.calls[APIDetachKeyPair] != 0 {
		t.Errorf("key pair not allowed by id: %v, calls %v; want Forbidden.Policy after resolving it, nothing else", err, cloud.calls)
	}
}

// TestTargetsCheckTags: a Targets selection keeps only the instances that carry the
// request's tags by their own tags, also when the cloud's tag filter lets others through
// (ENS documents its filter loosely): the cloud here ignores every filter.
func TestTargetsCheckTags(t *testing.T) {
	staging := Tag{Key: "env", Value: "staging"}
	cloud := newFleetCloud(true,
		Instance{ID: "i-1", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{staging, {Key: "team", Value: "video"}}},
		Instance{ID: "i-2", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{{Key: "env", Value: "prod"}}},
		Instance{ID: "i-3", Status: StatusStopped, KeyPairName: "ops-2026"},
		Instance{ID: "i-4", Status: StatusStopped, KeyPairName: "other", Tags: []Tag{staging}},
		Instance{ID: "i-5", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{staging, {Key: "team", Value: "cdn"}}},
	)
	s := NewService(Options{})
	res, err := s.Detach(context.Background(), cloud, Request{KeyPairName: "ops-2026",
		Targets: &Targets{Tags: []Tag{staging, {Key: "team"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Results {
		got = append(got, fmt.Sprintf("%s %d", r.InstanceId, r.Code))
	}
	if want := []string{"i-1 200", "i-5 200"}; !slices.Equal(got, want) || *res.MatchedCount != 2 {
		t.Errorf("results %v (matched %d), want %v", got, *res.MatchedCount, want)
	}
	if want := []string{"i-1", "i-5"}; !slices.Equal(cloud.touched, want) {
		t.Errorf("DetachKeyPair touched %v, want %v", cloud.touched, want)
	}

	// REQUIRED_TAG narrows the selection the same way: by the instances' own tags
	cloud = newFleetCloud(true,
		Instance{ID: "i-1", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{staging, {Key: "owner", Value: "ops"}}},
		Instance{ID: "i-2", Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{staging}},
	)
	s = NewService(Options{Policy: Policy{RequiredTag: &Tag{Key: "owner", Value: "ops"}}})
	res, err = s.Detach(context.Background(), cloud, Request{KeyPairName: "ops-2026", Targets: &Targets{Tags: []Tag{staging}}})
	if err != nil || len(res.Results) != 1 || res.Results[0].InstanceId != "i-1" || !slices.Equal(cloud.touched, []string{"i-1"}) {
		t.Errorf("with REQUIRED_TAG: %v %+v, touched %v; want i-1 alone", err, res, cloud.touched)
	}
}
