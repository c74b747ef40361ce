package ecs

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/rpc"
)

// gatewayParams are the parameters of the OpenAPI gateway that any request
// may carry: the RPC signature's and the answer format.
var gatewayParams = []string{"Action", "Version", "Format", "AccessKeyId", "Signature", "SignatureMethod",
	"SignatureVersion", "SignatureNonce", "Timestamp", "SecurityToken"}

// unimplemented refuses the first parameter (in name order) that is neither
// the gateway's nor one of the API's that the emulator implements, or that
// is given more than once (assumption: undocumented; harsher). ECS
// would act on it (filter by it, change what it does), so ignoring it would
// answer what the cloud would not. Parameters are named up to their first
// dot, so "Tag" covers Tag.N.Key and Tag.N.Value. The gateway's Format must
// be JSON, the only format the emulator writes.
//
// Assumption (undocumented): ECS itself ignores parameters it does not know;
// the emulator is harsher and refuses them too, with 400 InvalidParameter.
func unimplemented(p url.Values, implemented []string) *rpc.Error {
	names := slices.Sorted(maps.Keys(p))
	for _, name := range names {
		base, _, _ := strings.Cut(name, ".")
		if !slices.Contains(gatewayParams, base) && !slices.Contains(implemented, base) {
			return rpc.Errorf(http.StatusBadRequest, "InvalidParameter",
				"The parameter %q is not implemented by the emulator; it is refused rather than ignored, since ECS would act on it.", name)
		}
		if len(p[name]) > 1 {
			return rpc.Errorf(http.StatusBadRequest, "InvalidParameter",
				"The parameter %q is given %d times; the emulator takes each parameter once rather than pick one.", name, len(p[name]))
		}
	}
	if f := p.Get("Format"); f != "" && !strings.EqualFold(f, "JSON") {
		return rpc.Errorf(http.StatusBadRequest, "InvalidParameter",
			"The parameter \"Format\" is %q, which the emulator does not implement: it answers JSON only.", f)
	}
	return nil
}

// errDryRun is the answer to a request with DryRun=true that passed the
// checks (400, as in the error tables of Alibaba Cloud's OpenAPIs).
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
