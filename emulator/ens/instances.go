package ens

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/rpc"
)

// describeInstancesParams are the parameters of DescribeInstances that the emulator
// implements; any other (ImageId, NetworkId, OrderByParams, …) is refused.
var describeInstancesParams = []string{"InstanceIds", "InstanceId", "EnsRegionId", "EnsRegionIds", "Status", "Tags",
	"PageNumber", "PageSize"}

// describeInstances lists the instances in instance-id order, filtered (all filters
// AND) by InstanceIds (a JSON array, at most 100), InstanceId, EnsRegionId, EnsRegionIds
// (a JSON array, at most 100), Status (Running, Stopped or Expired, the documented
// values) and Tags, a page at a time (PageNumber from 1; PageSize default 10, at most
// 100). An answer has no key pair filter and carries no tags (both documented).
//
// Assumptions (undocumented): unknown ids in InstanceIds are just absent from the
// answer, as in ECS; the order is by instance id; a Status other than the documented
// three is refused (400 InvalidParameter.Status) rather than matching nothing; Tags,
// a JSON array such as [{"Key":"env","Value":"prod"}], matches the instances that
// carry every tag given, a tag without Value any value of its key.
func (s *Service) describeInstances(p rpc.Params) (any, *rpc.Error) {
	ids, byIDs, e := p.JSONList("InstanceIds", maxDescribeIDs)
	if e != nil {
		return nil, e
	}
	regions, byRegions, e := p.JSONList("EnsRegionIds", maxDescribeIDs)
	if e != nil {
		return nil, e
	}
	tags, e := tagFilters(p)
	if e != nil {
		return nil, e
	}
	page, size, e := p.Page(defaultPageSize, maxInstancesPage)
	if e != nil {
		return nil, e
	}
	status := p.Get("Status")
	if status != "" && !slices.Contains([]string{StatusRunning, StatusStopped, StatusExpired}, status) {
		return nil, invalid("Status", "one of Running, Stopped, Expired")
	}
	id, region := p.Get("InstanceId"), p.Get("EnsRegionId")

	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*Instance
	for in := range s.instances.All() {
		if (byIDs && !slices.Contains(ids, in.InstanceId)) || (id != "" && in.InstanceId != id) ||
			(region != "" && in.EnsRegionId != region) || (byRegions && !slices.Contains(regions, in.EnsRegionId)) ||
			(status != "" && in.Status != status) || !rpc.HasTags(in.Tags, tags) {
			continue
		}
		matched = append(matched, in)
	}
	from := min((page-1)*size, len(matched))
	list := make([]instanceAnswer, 0, size)
	for _, in := range matched[from:min(from+size, len(matched))] {
		list = append(list, toAnswer(in))
	}
	return map[string]any{
		"Code":       0,
		"TotalCount": len(matched),
		"PageNumber": page,
		"PageSize":   size,
		"Instances":  map[string]any{"Instance": list},
	}, nil
}

// tagFilters reads Tags: a JSON array of {"Key", "Value"}, at most 20 (the tag limit of
// ListTagResources; assumption), each with a key.
func tagFilters(p rpc.Params) ([]Tag, *rpc.Error) {
	v := p.Get("Tags")
	if v == "" {
		return nil, nil
	}
	var tags []Tag
	if err := json.Unmarshal([]byte(v), &tags); err != nil {
		return nil, invalid("Tags", `must be a JSON array such as [{"Key":"env","Value":"prod"}]`)
	}
	if len(tags) > 20 {
		return nil, invalid("Tags", fmt.Sprintf("at most 20 tags, got %d", len(tags)))
	}
	for _, t := range tags {
		if t.Key == "" {
			return nil, invalid("Tags", "every tag needs a Key")
		}
	}
	return tags, nil
}

// instanceAnswer is an instance as DescribeInstances answers it: fields of the v12
// SDK's DescribeInstancesResponseBodyInstancesInstance, with its names and JSON types
// (Cpu a string, Memory and Disk integers). No Tags: the API does not return them.
type instanceAnswer struct {
	InstanceId           string
	InstanceName         string
	HostName             string
	EnsRegionId          string
	Status               string
	KeyPairName          string
	ImageId              string
	OSName               string
	SpecName             string
	InstanceResourceType string
	InstanceTypeFamily   string
	Cpu                  string
	Memory               int32
	Disk                 int32
	CreationTime         string
	ExpiredTime          string
	SpotStrategy         string
	DeletionProtection   bool
}

// toAnswer renders an instance, making up the details the fixture does not hold from a
// hash of its id, so that they are stable.
func toAnswer(in *Instance) instanceAnswer {
	h := fnv.New32a()
	h.Write([]byte(in.InstanceId))
	n := h.Sum32()
	a := instanceAnswer{
		InstanceId:           in.InstanceId,
		InstanceName:         in.InstanceName,
		HostName:             fmt.Sprintf("edge-%05d", n%100000),
		EnsRegionId:          in.EnsRegionId,
		Status:               in.Status,
		KeyPairName:          in.KeyPairName,
		ImageId:              "m-5sa1uvgh4cxhpfmzqmg4pbqpd",
		OSName:               "centos 7.9 x86_64",
		SpecName:             cmp.Or(in.SpecName, "ens.sn1.stiny"),
		InstanceResourceType: "EnsInstance",
		InstanceTypeFamily:   "x86_vm",
		Cpu:                  "2",
		Memory:               4096,
		Disk:                 40960,
		CreationTime:         "2025-11-03T02:15:00Z",
		ExpiredTime:          "2099-12-31T15:59:00Z",
		SpotStrategy:         "NoSpot",
	}
	if in.Status == StatusExpired {
		a.ExpiredTime = "2026-03-01T00:00:00Z"
	}
	return a
}

// listTagResourcesParams are the parameters of ListTagResources (all of the API's):
// ResourceId.N and Tag.N.Key/Value are repeat lists, unlike DescribeInstances' JSON ones.
var listTagResourcesParams = []string{"ResourceType", "ResourceId.*", "Tag.*", "NextToken"}

// maxTagResources is how many tags a ListTagResources page holds (assumption: ENS
// documents no page size).
const maxTagResources = 100

// tagResource is one tag of one resource, as ListTagResources answers it.
type tagResource struct {
	ResourceId, ResourceType, TagKey, TagValue string
}

// listTagResources lists the tags of instances: ResourceType must be "instance" (the
// only value documented), ResourceId.1 to ResourceId.50 name them (documented), and
// Tag.N.Key/Value keep the instances that carry every tag given; a page holds at most
// 100 tags (assumption), the next one asked for with NextToken. In resource-id order,
// each instance's tags in their order.
//
// Assumptions (undocumented): unknown ids are just absent; without ResourceId.N every
// instance is listed.
func (s *Service) listTagResources(p rpc.Params) (any, *rpc.Error) {
	switch t := p.Get("ResourceType"); {
	case t == "":
		return nil, rpc.Missing("ResourceType")
	case t != "instance":
		return nil, invalid("ResourceType", "the only resource type is instance")
	}
	ids, e := repeatList(p, "ResourceId", 50)
	if e != nil {
		return nil, e
	}
	var filters []Tag
	for n := 1; n <= 21; n++ {
		key, value := p.Get(fmt.Sprintf("Tag.%d.Key", n)), p.Get(fmt.Sprintf("Tag.%d.Value", n))
		if key == "" && value == "" {
			break
		}
		if key == "" || n > 20 {
			return nil, invalid("Tag", "Tag.N.Key is required, N from 1 to 20")
		}
		filters = append(filters, Tag{Key: key, Value: value})
	}
	from := 0
	if tok := p.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "tags-"))
		if err != nil || !strings.HasPrefix(tok, "tags-") || n < 0 {
			return nil, invalid("NextToken", "it is not a token this API returned")
		}
		from = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []tagResource
	for in := range s.instances.All() {
		if (len(ids) > 0 && !slices.Contains(ids, in.InstanceId)) || !rpc.HasTags(in.Tags, filters) {
			continue
		}
		for _, t := range in.Tags {
			all = append(all, tagResource{ResourceId: in.InstanceId, ResourceType: "instance", TagKey: t.Key, TagValue: t.Value})
		}
	}
	from = min(from, len(all))
	to := min(from+maxTagResources, len(all))
	next := ""
	if to < len(all) {
		next = fmt.Sprintf("tags-%d", to)
	}
	return map[string]any{"NextToken": next, "TagResources": all[from:to]}, nil
}

// repeatList reads a repeat-list parameter, Name.1 to Name.max, numbered from 1
// without gaps.
func repeatList(p rpc.Params, name string, max int) ([]string, *rpc.Error) {
	given := 0
	for k := range p.Values {
		if rest, ok := strings.CutPrefix(k, name+"."); ok {
			if n, err := strconv.Atoi(rest); err != nil || n < 1 || n > max {
				return nil, invalid(name, fmt.Sprintf("%s.N takes N from 1 to %d", name, max))
			}
			given++
		}
	}
	out := make([]string, 0, given)
	for n := 1; n <= given; n++ {
		v := p.Get(fmt.Sprintf("%s.%d", name, n))
		if !p.Has(fmt.Sprintf("%s.%d", name, n)) {
			return nil, invalid(name, fmt.Sprintf("%s.N must be numbered from 1 without gaps", name))
		}
		out = append(out, v)
	}
	return out, nil
}
