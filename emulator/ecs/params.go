package ecs

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/rpc"
)

// ecsParams reads the parameters of an ECS request: unusable values are answered
// 400 InvalidParameter naming the parameter.
func ecsParams(p url.Values) rpc.Params {
	return rpc.Params{Values: p, Product: "ECS", Invalid: rpc.Invalid}
}

// errDryRun is the answer to a request with DryRun=true that passed the
// checks. The SDK model's documentation of DryRun names the code; the status
// and message are those of other Alibaba Cloud OpenAPIs' error tables (GWLB,
// VPC peering): assumption, ECS answers the same.
var errDryRun = &rpc.Error{Status: http.StatusBadRequest, Code: "DryRunOperation", Message: "Request validation has been passed with DryRun flag set."}

// boolParam reads an optional boolean parameter ("true" or "false").
func boolParam(p url.Values, name string) (bool, *rpc.Error) {
	switch v := strings.ToLower(p.Get(name)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, rpc.Invalid(name, fmt.Sprintf("%q is neither true nor false", p.Get(name)))
	}
}

// region checks the RegionId parameter. The caller holds s.mu.
func (s *Service) region(p rpc.Params) (string, *rpc.Error) {
	region := p.Get("RegionId")
	if region == "" {
		return "", rpc.Missing("RegionId")
	}
	if !slices.Contains(s.regions, region) {
		return "", rpc.Errorf(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId does not exist.")
	}
	return region, nil
}

// tagFilters reads Tag.N.Key / Tag.N.Value (N from 1 to 20). A filter
// without a value matches any value of the key.
func tagFilters(p url.Values) ([]Tag, *rpc.Error) {
	byN := map[int]*Tag{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		ns, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > maxTagFilters || (field != "Key" && field != "Value") {
			return nil, rpc.Invalid(k, fmt.Sprintf("tags are Tag.N.Key and Tag.N.Value with N from 1 to %d", maxTagFilters))
		}
		if byN[n] == nil {
			byN[n] = &Tag{}
		}
		if field == "Key" {
			byN[n].Key = p.Get(k)
		} else {
			byN[n].Value = p.Get(k)
		}
	}
	var tags []Tag
	for n := 1; n <= maxTagFilters; n++ {
		if t := byN[n]; t != nil {
			if t.Key == "" {
				return nil, rpc.Invalid(fmt.Sprintf("Tag.%d.Key", n), "a tag filter needs a key")
			}
			tags = append(tags, *t)
		}
	}
	return tags, nil
}

type ecsTags struct {
	Tag []ecsTag
}

type ecsTag struct {
	TagKey, TagValue string
}

func toECSTags(tags []Tag) ecsTags {
	out := ecsTags{Tag: []ecsTag{}}
	for _, t := range tags {
		out.Tag = append(out.Tag, ecsTag{t.Key, t.Value})
	}
	return out
}
