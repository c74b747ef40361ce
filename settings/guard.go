package settings

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"detachkeypair/detach"
)

// The guardrail settings (detach.Policy) and the audit setting JWT_CLAIM_PASS_BY.

// DefaultProtectedTag is PROTECTED_TAG unless set: an instance carrying a tag with this
// key, whatever its value, is never touched.
const DefaultProtectedTag = "detach-keypair:protected"

// NoProtectedTag is the PROTECTED_TAG that turns the rule off: for an account with no
// instance to protect, and for ENS fleets without tags, whose instances the function
// refuses to touch while a tag rule is set (ENS's tag answers cannot tell "no tags"
// from a lost answer: detach.Limits.EmptyTagsUnclear). A tag key "none" can therefore
// not be the protected tag.
const NoProtectedTag = "none"

// ClaimHeader is one claim of a verified JWT that the HTTP trigger passes to the
// function in a request header (JWT_CLAIM_PASS_BY).
type ClaimHeader struct {
	Claim  string // the claim's name in the token, e.g. sub
	Header string // the header FC puts it in, e.g. x-jwt-sub
}

// loadGuard reads the guardrail settings into a policy and the claims the HTTP trigger
// passes on, calling bad for each invalid setting.
func loadGuard(getenv func(string) string, bad func(name, value, want string)) (detach.Policy, []ClaimHeader) {
	var p detach.Policy
	if v := strings.TrimSpace(getenv("ALLOWED_KEY_PAIRS")); v != "" {
		for _, entry := range list("ALLOWED_KEY_PAIRS", v, bad) {
			switch {
			case strings.HasPrefix(entry, "ssh-") && detach.ValidKeyPairID(entry):
				p.KeyPairIDs = append(p.KeyPairIDs, entry)
			case detach.ValidKeyPairPattern(entry):
				p.KeyPairNames = append(p.KeyPairNames, entry)
			default:
				bad("ALLOWED_KEY_PAIRS", v, fmt.Sprintf("%q is neither a key pair id (ssh-…) nor a key pair name, in which '*' stands for any characters (letters, digits, ':', '_', '.', '-')", entry))
			}
		}
	}
	if v := strings.TrimSpace(getenv("ALLOWED_REGIONS")); v != "" {
		for _, entry := range list("ALLOWED_REGIONS", v, bad) {
			if !detach.ValidRegionID(entry) {
				bad("ALLOWED_REGIONS", v, fmt.Sprintf("%q is not a region id such as cn-hangzhou", entry))
				continue
			}
			p.Regions = append(p.Regions, entry)
		}
	}
	protected := strings.TrimSpace(getenv("PROTECTED_TAG"))
	if protected == "" {
		protected = DefaultProtectedTag
	}
	if protected != NoProtectedTag {
		p.ProtectedTag = tagRule("PROTECTED_TAG", protected, bad)
	}
	if v := strings.TrimSpace(getenv("REQUIRED_TAG")); v != "" {
		p.RequiredTag = tagRule("REQUIRED_TAG", v, bad)
	}
	if p.ProtectedTag != nil && p.RequiredTag != nil && p.ProtectedTag.Key == p.RequiredTag.Key &&
		(p.ProtectedTag.Value == "" || p.ProtectedTag.Value == p.RequiredTag.Value) {
		bad("REQUIRED_TAG", p.RequiredTag.String(), "every instance carrying it also carries PROTECTED_TAG "+p.ProtectedTag.String()+", so no instance could be touched: require another tag")
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("ALLOW_UNSCOPED_TARGETS"))); v {
	case "", "false":
		p.ScopedTargets = true
	case "true":
	default:
		bad("ALLOW_UNSCOPED_TARGETS", v, "want true or false")
		p.ScopedTargets = true
	}
	return p, claimHeaders(strings.TrimSpace(getenv("JWT_CLAIM_PASS_BY")), bad)
}

// list splits a comma-separated setting into its entries; an empty entry is an error.
func list(name, v string, bad func(name, value, want string)) []string {
	var out []string
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			bad(name, v, "an entry is empty: remove the stray comma")
			continue
		}
		out = append(out, entry)
	}
	return out
}

// tagRule reads key or key=value, under ECS's rules for tags: a key of 1 to 128
// characters that does not start with aliyun or acs:, a value of up to 128; neither
// holds http:// or https://.
func tagRule(name, v string, bad func(name, value, want string)) *detach.Tag {
	key, value, hasValue := strings.Cut(v, "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	lower := strings.ToLower(key)
	switch {
	case key == "" || len(key) > 128 || strings.HasPrefix(lower, "aliyun") || strings.HasPrefix(lower, "acs:"):
		bad(name, v, "want a tag key (1 to 128 characters, not starting with aliyun or acs:), or key=value")
	case hasValue && (value == "" || len(value) > 128):
		bad(name, v, "want key=value with a value of 1 to 128 characters, or the key alone for any value")
	case strings.Contains(lower+strings.ToLower(value), "http://") || strings.Contains(lower+strings.ToLower(value), "https://"):
		bad(name, v, "a tag may not contain http:// or https://")
	default:
		return &detach.Tag{Key: key, Value: value}
	}
	return nil
}

// headerToken is an HTTP header name (RFC 9110 token).
var headerToken = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")

// secretHeader reports whether h is a header a claim may not be mapped to: one that
// carries credentials or tokens (FC's own x-fc- headers include the role's security
// token).
func secretHeader(h string) bool {
	h = strings.ToLower(h)
	return slices.Contains([]string{"authorization", "proxy-authorization", "cookie", "set-cookie"}, h) ||
		strings.HasPrefix(h, "x-fc-") || strings.HasPrefix(h, "x-acs-")
}

// claimHeaders reads JWT_CLAIM_PASS_BY, in the syntax of the HTTP trigger's own
// claimPassBy (FC's authConfig): header:<claim>:<header>[,...]. Only headers: the
// function reads no cookies, and a form field would change the request's body.
func claimHeaders(v string, bad func(name, value, want string)) []ClaimHeader {
	if v == "" {
		return nil
	}
	var out []ClaimHeader
	for _, entry := range list("JWT_CLAIM_PASS_BY", v, bad) {
		parts := strings.Split(entry, ":")
		switch {
		case len(parts) != 3 || parts[0] != "header" || parts[1] == "" || !headerToken.MatchString(parts[2]):
			bad("JWT_CLAIM_PASS_BY", v, fmt.Sprintf("%q: want header:<claim>:<header name>, as the trigger's claimPassBy (the function reads claims from headers only)", entry))
		case secretHeader(parts[2]):
			bad("JWT_CLAIM_PASS_BY", v, fmt.Sprintf("%q: header %s carries credentials or tokens; pass the claim in a header of its own, such as x-jwt-%s", entry, parts[2], parts[1]))
		case slices.ContainsFunc(out, func(c ClaimHeader) bool { return c.Claim == parts[1] || strings.EqualFold(c.Header, parts[2]) }):
			bad("JWT_CLAIM_PASS_BY", v, fmt.Sprintf("%q: the claim or the header is given twice", entry))
		default:
			out = append(out, ClaimHeader{Claim: parts[1], Header: parts[2]})
		}
	}
	return out
}
