package ecs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/rpc"
)

// region checks the RegionId parameter. The caller holds s.mu.
func (s *Service) region(p url.Values) (string, *rpc.Error) {
	region := p.Get("RegionId")
	if region == "" {
		return "", rpc.Missing("RegionId")
	}
	if !slices.Contains(s.regions, region) {
		return "", rpc.Errorf(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId does not exist.")
	}
	return region, nil
}

// intParam reads an optional integer parameter in [lo, hi].
func intParam(p url.Values, name string, def, lo, hi int) (int, *rpc.Error) {
	v := p.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, rpc.Invalid(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// idList reads a JSON array of ids, such as InstanceIds=["i-a","i-b"].
func idList(p url.Values, name string, max int) ([]string, bool, *rpc.Error) {
	v, ok := p[name]
	if !ok || len(v) == 0 {
		return nil, false, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(v[0]), &ids); err != nil {
		return nil, true, rpc.Invalid(name, `must be a JSON array of strings such as ["i-a","i-b"]`)
	}
	if len(ids) > max {
		return nil, true, rpc.Invalid(name, fmt.Sprintf("at most %d ids are allowed, got %d", max, len(ids)))
	}
	return ids, true, nil
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

// hasTags reports whether tags match every filter.
func hasTags(tags, filters []Tag) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(tags, func(t Tag) bool { return t.Key == f.Key && (f.Value == "" || t.Value == f.Value) }) {
			return false
		}
	}
	return true
}

// matchPattern matches a name against a pattern in which "*" stands for any
// run of characters, as DescribeKeyPairs' KeyPairName and DescribeInstances'
// InstanceName do.
func matchPattern(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return strings.HasSuffix(name, last)
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
