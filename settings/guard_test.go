package settings

import (
	"reflect"
	"strings"
	"testing"

	"detachkeypair/detach"
)

// TestGuardDefaults: by default any key pair and region, the protected tag, no required
// tag, scoped Targets, no JWT claims: today's behaviour but the last two rules.
func TestGuardDefaults(t *testing.T) {
	s, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := detach.Policy{ProtectedTag: &detach.Tag{Key: DefaultProtectedTag}, ScopedTargets: true}
	if !reflect.DeepEqual(s.Policy, want) || s.JWTClaims != nil {
		t.Fatalf("policy %+v claims %v, want %+v and none", s.Policy, s.JWTClaims, want)
	}
}

// TestProtectedTagOff: PROTECTED_TAG=none turns the rule off (no protected tag in the
// policy), and nothing else does: unset and empty mean the default.
func TestProtectedTagOff(t *testing.T) {
	for v, want := range map[string]*detach.Tag{
		"none": nil, " none ": nil, "": {Key: DefaultProtectedTag}, "None": {Key: "None"}, "none=x": {Key: "none", Value: "x"},
	} {
		s, err := load(map[string]string{"PROTECTED_TAG": v})
		if err != nil {
			t.Fatalf("PROTECTED_TAG=%q: %v", v, err)
		}
		if !reflect.DeepEqual(s.Policy.ProtectedTag, want) {
			t.Errorf("PROTECTED_TAG=%q: protected tag %v, want %v", v, s.Policy.ProtectedTag, want)
		}
	}
}

func TestGuardValues(t *testing.T) {
	s, err := load(map[string]string{
		"ALLOWED_KEY_PAIRS":      " ops-*, ssh-bp67acfmxazb4p0001 ,deploy-ci",
		"ALLOWED_REGIONS":        "cn-hangzhou,cn-shanghai",
		"PROTECTED_TAG":          "keep=yes",
		"REQUIRED_TAG":           "env=staging",
		"ALLOW_UNSCOPED_TARGETS": "TRUE",
		"JWT_CLAIM_PASS_BY":      "header:sub:x-jwt-sub,header:iss:X-Jwt-Iss",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := detach.Policy{
		KeyPairNames: []string{"ops-*", "deploy-ci"}, KeyPairIDs: []string{"ssh-bp67acfmxazb4p0001"},
		Regions:      []string{"cn-hangzhou", "cn-shanghai"},
		ProtectedTag: &detach.Tag{Key: "keep", Value: "yes"}, RequiredTag: &detach.Tag{Key: "env", Value: "staging"},
	}
	if !reflect.DeepEqual(s.Policy, want) {
		t.Errorf("policy %+v, want %+v", s.Policy, want)
	}
	if claims := []ClaimHeader{{"sub", "x-jwt-sub"}, {"iss", "X-Jwt-Iss"}}; !reflect.DeepEqual(s.JWTClaims, claims) {
		t.Errorf("claims %v, want %v", s.JWTClaims, claims)
	}
}

// TestBadGuardSettings: each malformed guardrail setting stops the function at start,
// named in the error.
func TestBadGuardSettings(t *testing.T) {
	cases := []struct{ name, value, says string }{
		{"ALLOWED_KEY_PAIRS", "ops-2026,", "empty"},
		{"ALLOWED_KEY_PAIRS", ",", "empty"},
		{"ALLOWED_KEY_PAIRS", "ops key", "neither"},
		{"ALLOWED_KEY_PAIRS", "ops-[12]", "neither"},
		{"ALLOWED_REGIONS", "cn-hangzhou,Shanghai", "region id"},
		{"ALLOWED_REGIONS", "cn-hangzhou,,cn-shanghai", "empty"},
		{"PROTECTED_TAG", "=x", "tag key"},
		{"PROTECTED_TAG", "aliyun-x", "tag key"},
		{"PROTECTED_TAG", "keep=", "value"},
		{"REQUIRED_TAG", "url=https://x", "http"},
		{"REQUIRED_TAG", strings.Repeat("k", 129), "tag key"},
		{"ALLOW_UNSCOPED_TARGETS", "1", "true or false"},
		{"JWT_CLAIM_PASS_BY", "header:sub", "header:<claim>"},
		{"JWT_CLAIM_PASS_BY", "cookie:sub:s", "header:<claim>"},
		{"JWT_CLAIM_PASS_BY", "header::x-jwt-sub", "header:<claim>"},
		{"JWT_CLAIM_PASS_BY", "header:sub:Authorization", "credentials"},
		{"JWT_CLAIM_PASS_BY", "header:sub:x-fc-security-token", "credentials"},
		{"JWT_CLAIM_PASS_BY", "header:sub:x-a,header:sub:x-b", "twice"},
	}
	for _, c := range cases {
		_, err := load(map[string]string{c.name: c.value})
		if err == nil || !strings.Contains(err.Error(), "setting "+c.name+"=") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s=%q: %v, want an error naming it that says %q", c.name, c.value, err, c.says)
		}
	}
	// A required tag that the protected tag covers leaves nothing to touch.
	_, err := load(map[string]string{"REQUIRED_TAG": DefaultProtectedTag + "=yes"})
	if err == nil || !strings.Contains(err.Error(), "setting REQUIRED_TAG=") {
		t.Errorf("REQUIRED_TAG under PROTECTED_TAG: %v", err)
	}
}
