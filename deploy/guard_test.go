package deploy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"detachkeypair/settings"
)

// The deployment side of the guardrails: the role's ECS resources scoped to regions,
// and the HTTP trigger's JWT option that gives the audit record a verified identity.

// ecsARN is the form of DetachKeyPair's resource types in ECS's RAM authorization table
// (deploy/README.md): acs:ecs:{#regionId}:{#accountId}:instance/{#instanceId} and
// acs:ecs:{#regionId}:{#accountId}:keypair/{#keypairName}, here for every instance and
// key pair of a region ('*': any).
var ecsARN = regexp.MustCompile(`^acs:ecs:(\*|[a-z]{2,}(?:-[a-z0-9]+)+):` + sampleAccountID + `:(instance|keypair)/\*$`)

// ecsResources returns the resources of the policy statement that allows the ECS APIs.
func ecsResources(t *testing.T, r rosFile) []string {
	t.Helper()
	statements, _ := policyStatements(t, r, resolveConditions(r.doc, nil))
	for _, st := range statements {
		if slices.Contains(asList(st["Action"]), any("ecs:DetachKeyPair")) {
			return statementResources(t, r, st)
		}
	}
	t.Fatal("template.yaml: no statement allows ecs:DetachKeyPair")
	return nil
}

// TestRoleRegionScope: the role's ECS resources are the instances and key pairs of the
// EcsRegions, in the ARN form of DetachKeyPair's resource types: any region by default,
// one pair of ARNs per region when they are listed; a malformed list is refused by the
// parameter's own pattern; and the role covers every region the function allows.
func TestRoleRegionScope(t *testing.T) {
	r := loadROS(t)
	cases := map[string][]string{
		"*":                       {"*"},
		"cn-hangzhou":             {"cn-hangzhou"},
		"cn-hangzhou,cn-shanghai": {"cn-hangzhou", "cn-shanghai"},
	}
	if def := strAt(r.doc, "Parameters", "EcsRegions", "Default"); def != "*" {
		t.Errorf("template.yaml: EcsRegions defaults to %q, want * (today's role: any region)", def)
	}
	for value, regions := range cases {
		if msg := parameterValueProblem(mapAt(r.doc, "Parameters", "EcsRegions"), value); msg != "" {
			t.Errorf("EcsRegions=%q: %s", value, msg)
			continue
		}
		got := ecsResources(t, r.withParameters(map[string]string{"EcsRegions": value}))
		var want []string
		for _, kind := range []string{"instance", "keypair"} {
			for _, region := range regions {
				want = append(want, fmt.Sprintf("acs:ecs:%s:%s:%s/*", region, sampleAccountID, kind))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("EcsRegions=%q: the role's ECS resources are %v, want %v", value, got, want)
		}
		for _, arn := range got {
			if !ecsARN.MatchString(arn) {
				t.Errorf("EcsRegions=%q: %s is not an ECS instance or key pair ARN of the account", value, arn)
			}
		}
	}
	for _, bad := range []string{"", "cn-hangzhou,", "cn-hangzhou,*", "cn-hangzhou cn-shanghai", "Hangzhou"} {
		if parameterValueProblem(mapAt(r.doc, "Parameters", "EcsRegions"), bad) == "" {
			t.Errorf("EcsRegions=%q is accepted; it would make ARNs ECS does not know", bad)
		}
	}

	// The regions the function allows must be ones the role may act in, in both files
	// (else such a request passes the function's guard and ECS refuses it: NoPermission).
	s := loadS(t)
	covered := func(file, allowed, role string) {
		if role == "*" {
			return
		}
		if allowed == "" {
			t.Errorf("%s: the role acts in %s only, but the function allows any region: set the allowed regions too", file, role)
		}
		for _, region := range strings.Split(allowed, ",") {
			if allowed != "" && !slices.Contains(strings.Split(role, ","), strings.TrimSpace(region)) {
				t.Errorf("%s: the function allows region %s, which the role may not act in (%s)", file, region, role)
			}
		}
	}
	base := stackParameters(t, s, "base")
	if got := base["EcsRegions"]; got != s.vars["ecsRegions"] {
		t.Errorf("s.yaml: the base stack's EcsRegions is %q, want vars.ecsRegions", got)
	}
	_, fn := s.function(t)
	covered("s.yaml", s.expand(t, strAt(fn, "environmentVariables", "ALLOWED_REGIONS")), base["EcsRegions"])
	allowed, _ := r.resolve(get(r.doc, "Resources", "Function", "Properties", "EnvironmentVariables", "ALLOWED_REGIONS"))
	covered("template.yaml", fmt.Sprint(allowed), strAt(r.doc, "Parameters", "EcsRegions", "Default"))
}

// jwtBlock returns the commented JWT option of s.yaml's HTTP trigger (between the
// "# jwt-begin" and "# jwt-end" lines), uncommented and parsed.
func jwtBlock(t *testing.T) map[string]any {
	t.Helper()
	lines := strings.Split(string(readRepoFile(t, "s.yaml")), "\n")
	var block []string
	in := false
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "# jwt-begin":
			in = true
		case trimmed == "# jwt-end":
			in = false
		case in:
			if !strings.HasPrefix(trimmed, "#") {
				t.Fatalf("s.yaml: %q inside the JWT option is not a comment", line)
			}
			block = append(block, strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " "))
		}
	}
	if len(block) == 0 || in {
		t.Fatal("s.yaml: no JWT option between '# jwt-begin' and '# jwt-end'")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(strings.Join(block, "\n")), &cfg); err != nil {
		t.Fatalf("s.yaml: the JWT option: %v", err)
	}
	return cfg
}

// TestJWTOption: the JWT option of the HTTP trigger, put in place of its triggerConfig,
// validates against the fc3 schema like the rest of s.yaml; it reads the token from a
// header (never the body the function parses), keeps POST only, and passes the claims of
// the same var as the function's JWT_CLAIM_PASS_BY, in a syntax settings.Load accepts.
func TestJWTOption(t *testing.T) {
	cfg := jwtBlock(t)
	if cfg["authType"] != "jwt" || !slices.Equal(listAt(cfg, "methods"), []any{"POST"}) {
		t.Errorf("the JWT option: authType %v methods %v, want jwt and [POST]", cfg["authType"], cfg["methods"])
	}
	if lookup := strAt(cfg, "authConfig", "tokenLookup"); !strings.HasPrefix(lookup, "header:") {
		t.Errorf("the JWT option reads the token from %q, want a header", lookup)
	}
	const claimsVar = "${vars.jwtClaimPassBy}"
	if got := strAt(cfg, "authConfig", "claimPassBy"); got != claimsVar {
		t.Errorf("the JWT option passes the claims %q, want %s, the var of JWT_CLAIM_PASS_BY", got, claimsVar)
	}
	s := loadS(t)
	_, fn := s.function(t)
	if got := strAt(fn, "environmentVariables", "JWT_CLAIM_PASS_BY"); got != claimsVar {
		t.Errorf("s.yaml: JWT_CLAIM_PASS_BY is %q, want %s, so that the trigger and the function read the same claims", got, claimsVar)
	}

	// The option in place, with a value a deployer would give the var.
	withJWT := sWithJWT(t, cfg, sampleClaims)
	for _, p := range validateS(t, withJWT, loadROS(t).doc) {
		t.Error("s.yaml with the JWT option: " + p)
	}
	env := map[string]string{}
	for name, v := range mapAt(fn, "environmentVariables") {
		env[name] = s.expand(t, fmt.Sprint(v))
	}
	env["JWT_CLAIM_PASS_BY"] = sampleClaims
	cfgLoaded, err := settings.Load(func(name string) string { return env[name] })
	if err != nil || len(cfgLoaded.JWTClaims) != 2 {
		t.Errorf("with JWT_CLAIM_PASS_BY=%s the function reads claims %v: %v", sampleClaims, cfgLoaded.JWTClaims, err)
	}
}

// sampleClaims is a JWT_CLAIM_PASS_BY a deployer would give.
const sampleClaims = "header:sub:x-jwt-sub,header:iss:x-jwt-iss"

// sWithJWT is s.yaml with vars.jwtClaimPassBy set to claims and the JWT option cfg in
// place of the http trigger's triggerConfig, as a deployer turns it on.
func sWithJWT(t *testing.T, cfg map[string]any, claims string) map[string]any {
	t.Helper()
	doc := loadYAML(t, "s.yaml")
	mapAt(doc, "vars")["jwtClaimPassBy"] = claims
	replaced := false
	for _, tr := range listAt(doc, "resources", "detach-keypair", "props", "triggers") {
		if strAt(tr, "triggerType") == "http" {
			mapAt(tr)["triggerConfig"] = deepCopy(cfg)
			replaced = true
		}
	}
	if !replaced {
		t.Fatal("s.yaml: no http trigger to put the JWT option in")
	}
	return doc
}

// jwtClaimProblems reports a function that takes JWT claims from request headers
// (JWT_CLAIM_PASS_BY non-empty) behind an HTTP trigger that verifies no JWT: FC then
// passes the headers as the caller sent them, and any invoker could forge the
// Caller.Identity of the audit record. authTypes are the authType of each http trigger.
func jwtClaimProblems(file, claims string, authTypes []string) []string {
	if strings.TrimSpace(claims) == "" {
		return nil
	}
	var problems []string
	for _, at := range authTypes {
		if at != "jwt" {
			problems = append(problems, fmt.Sprintf("%s: JWT_CLAIM_PASS_BY is %q but the http trigger's authType is %q: FC verifies no token, so "+
				"any invoker can send those headers and pass for anyone; use the JWT option (authType jwt) or leave it empty", file, claims, at))
		}
	}
	return problems
}

// sJWTProblems applies jwtClaimProblems to a parsed s.yaml: its fc3 function's
// JWT_CLAIM_PASS_BY, vars expanded, and its http triggers.
func sJWTProblems(doc map[string]any) []string {
	vars := func(name string) (string, bool) {
		v, ok := get(doc, "vars", name).(string)
		return v, ok
	}
	var problems []string
	for name, res := range mapAt(doc, "resources") {
		if strAt(res, "component") != "fc3" {
			continue
		}
		claims, _ := get(res, "props", "environmentVariables", "JWT_CLAIM_PASS_BY").(string)
		claims = expandS(claims, vars)
		var authTypes []string
		for _, tr := range listAt(res, "props", "triggers") {
			if strAt(tr, "triggerType") == "http" {
				authTypes = append(authTypes, strAt(tr, "triggerConfig", "authType"))
			}
		}
		problems = append(problems, jwtClaimProblems("s.yaml: resources."+name, claims, authTypes)...)
	}
	return problems
}

// rosJWTProblems applies jwtClaimProblems to a parsed template.yaml: the Function's
// JWT_CLAIM_PASS_BY (parameters at their defaults) and the http triggers.
func rosJWTProblems(doc map[string]any) []string {
	r := rosFile{doc: doc}
	raw := get(doc, "Resources", "Function", "Properties", "EnvironmentVariables", "JWT_CLAIM_PASS_BY")
	claims := ""
	if raw != nil {
		v, ok := r.resolve(raw)
		if !ok {
			return []string{"template.yaml: JWT_CLAIM_PASS_BY cannot be resolved from the parameters' defaults"}
		}
		claims = fmt.Sprint(v)
	}
	var authTypes []string
	for _, tr := range r.ofType("ALIYUN::FC3::Trigger") {
		if strAt(tr, "Properties", "TriggerType") == "http" {
			authTypes = append(authTypes, strAt(tr, "Properties", "TriggerConfig", "authType"))
		}
	}
	return jwtClaimProblems("template.yaml", claims, authTypes)
}

// TestJWTClaimsNeedJWTAuth: the function takes JWT claims from headers only behind an
// http trigger with authType jwt, in s.yaml and in template.yaml: the files as they are
// pass, and so does s.yaml with the JWT option turned on; a copy that sets the claims
// while the trigger keeps authType function is reported.
func TestJWTClaimsNeedJWTAuth(t *testing.T) {
	runBreakCases(t, loadS(t).doc, []breakCase{
		{name: "claims in vars, authType function", want: []string{"s.yaml: resources.detach-keypair: JWT_CLAIM_PASS_BY is \"" + sampleClaims + "\" but the http trigger's authType is \"function\""},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, sampleClaims, "vars", "jwtClaimPassBy") }},
		{name: "claims in the function, authType function", want: []string{"authType is \"function\""},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "header:sub:x-jwt-sub", "resources", "detach-keypair", "props", "environmentVariables", "JWT_CLAIM_PASS_BY")
			}},
		{name: "the JWT option with another authType", want: []string{"authType is \"anonymous\""},
			mutate: func(t *testing.T, d map[string]any) {
				jwt := sWithJWT(t, jwtBlock(t), sampleClaims)
				set(t, jwt, "anonymous", "resources", "detach-keypair", "props", "triggers", 0, "triggerConfig", "authType")
				clear(d)
				maps.Copy(d, jwt)
			}},
	}, sJWTProblems)
	if p := sJWTProblems(sWithJWT(t, jwtBlock(t), sampleClaims)); len(p) != 0 {
		t.Errorf("s.yaml with the JWT option turned on: %v", p)
	}

	runBreakCases(t, loadROS(t).doc, []breakCase{
		{name: "claims, authType function", want: []string{"template.yaml: JWT_CLAIM_PASS_BY is \"" + sampleClaims + "\" but the http trigger's authType is \"function\""},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, sampleClaims, "Resources", "Function", "Properties", "EnvironmentVariables", "JWT_CLAIM_PASS_BY")
			}},
	}, rosJWTProblems)
	withJWT := deepCopy(loadROS(t).doc).(map[string]any)
	set(t, withJWT, sampleClaims, "Resources", "Function", "Properties", "EnvironmentVariables", "JWT_CLAIM_PASS_BY")
	set(t, withJWT, "jwt", "Resources", "HttpTrigger", "Properties", "TriggerConfig", "authType")
	if p := rosJWTProblems(withJWT); len(p) != 0 {
		t.Errorf("template.yaml with claims behind authType jwt: %v", p)
	}
}
