package rpc

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// GatewayParams are the parameters of the OpenAPI gateway that any RPC-style request may
// carry: the RPC signature's and the answer format.
var GatewayParams = []string{"Action", "Version", "Format", "AccessKeyId", "Signature", "SignatureMethod",
	"SignatureVersion", "SignatureNonce", "Timestamp", "SecurityToken"}

// Params are the parameters of one RPC-style request of a product, read the way the
// product refuses what it cannot use.
type Params struct {
	url.Values
	Product string // the product's name, for messages ("ECS")
	// Invalid is the product's answer to a parameter whose value cannot be used.
	Invalid func(name, why string) *Error
}

// Unimplemented refuses the first parameter (in name order) that is neither the
// gateway's nor one of implemented, or that is given more than once. An entry "Tag.*"
// of implemented stands for every parameter that starts with "Tag.". The gateway's Format
// must be JSON, the only format the emulator writes.
//
// Assumption (undocumented): the cloud ignores parameters it does not know; the emulator
// is harsher and refuses them, with 400 InvalidParameter: the product would act on a
// parameter it has (filter by it, change what it does), so ignoring it would answer what
// the cloud would not. A parameter given twice (in the query and the form body, say) is
// refused too, rather than one of its values picked.
func (p Params) Unimplemented(implemented []string) *Error {
	known := func(name string) bool {
		if slices.Contains(GatewayParams, name) || slices.Contains(implemented, name) {
			return true
		}
		base, _, dotted := strings.Cut(name, ".")
		return dotted && slices.Contains(implemented, base+".*")
	}
	for _, name := range slices.Sorted(maps.Keys(p.Values)) {
		if !known(name) {
			return Errorf(http.StatusBadRequest, "InvalidParameter",
				"The parameter %q is not implemented by the emulator; it is refused rather than ignored, since %s would act on it.", name, p.Product)
		}
		if len(p.Values[name]) > 1 {
			return Errorf(http.StatusBadRequest, "InvalidParameter",
				"The parameter %q is given %d times; the emulator takes each parameter once rather than pick one.", name, len(p.Values[name]))
		}
	}
	if f := p.Get("Format"); f != "" && !strings.EqualFold(f, "JSON") {
		return Errorf(http.StatusBadRequest, "InvalidParameter",
			"The parameter \"Format\" is %q, which the emulator does not implement: it answers JSON only.", f)
	}
	return nil
}

// Int reads an optional integer parameter in [lo, hi]; def when it is absent.
func (p Params) Int(name string, def, lo, hi int) (int, *Error) {
	v := p.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, p.Invalid(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// Page reads PageNumber (from 1, default 1) and PageSize (1 to max, default def).
func (p Params) Page(def, max int) (page, size int, e *Error) {
	if page, e = p.Int("PageNumber", 1, 1, 1<<30); e != nil {
		return 0, 0, e
	}
	size, e = p.Int("PageSize", def, 1, max)
	return page, size, e
}

// JSONList reads a parameter that holds a JSON array of strings, such as
// InstanceIds=["i-a","i-b"], of at most max entries; given reports whether it was there.
func (p Params) JSONList(name string, max int) (list []string, given bool, e *Error) {
	v, ok := p.Values[name]
	if !ok || len(v) == 0 {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(v[0]), &list); err != nil {
		return nil, true, p.Invalid(name, `must be a JSON array of strings such as ["i-a","i-b"]`)
	}
	if len(list) > max {
		return nil, true, p.Invalid(name, fmt.Sprintf("at most %d ids are allowed, got %d", max, len(list)))
	}
	return list, true, nil
}

// BatchIDs reads the InstanceIds of a batch call (AttachKeyPair, DetachKeyPair): a
// JSON array of 1 to max ids, required.
func (p Params) BatchIDs(max int) ([]string, *Error) {
	ids, given, e := p.JSONList("InstanceIds", max)
	switch {
	case e != nil:
		return nil, e
	case !given:
		return nil, Missing("InstanceIds")
	case len(ids) == 0:
		return nil, p.Invalid("InstanceIds", fmt.Sprintf("it must hold from 1 to %d ids", max))
	}
	return ids, nil
}

// MatchPattern matches a name against a pattern in which "*" stands for any run of
// characters, as the key pair APIs' KeyPairName does.
func MatchPattern(pattern, name string) bool {
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

// Tag is a resource tag, and a tag filter: a filter without Value matches any value of
// its key.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// HasTags reports whether tags match every filter.
func HasTags(tags, filters []Tag) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(tags, func(t Tag) bool { return t.Key == f.Key && (f.Value == "" || t.Value == f.Value) }) {
			return false
		}
	}
	return true
}
