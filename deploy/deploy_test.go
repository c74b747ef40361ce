package deploy

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/settings"
)

// TestHandlerIsThePackagedBinary: FC runs the file the handler names, so the handler of
// both deployment files, the binary `make package` builds and the entry cmd/package
// requires must all be BinaryName, and s.yaml must deploy the zip `make package` writes.
func TestHandlerIsThePackagedBinary(t *testing.T) {
	s := loadS(t)
	_, fn := s.function(t)
	if got := strAt(fn, "runtime"); got != "go1" {
		t.Errorf("s.yaml: runtime %q, want go1", got)
	}
	if got := strAt(fn, "handler"); got != BinaryName {
		t.Errorf("s.yaml: handler %q, want %q, the binary in the zip", got, BinaryName)
	}
	if got, want := strAt(fn, "code"), "./"+ZipPath; got != want {
		t.Errorf("s.yaml: code %q, want %q, the zip of `make package`", got, want)
	}
	r := loadROS(t)
	_, f := r.one(t, "ALIYUN::FC3::Function")
	if got := strAt(f, "Properties", "Runtime"); got != "go1" {
		t.Errorf("template.yaml: Runtime %q, want go1", got)
	}
	if got := strAt(f, "Properties", "Handler"); got != BinaryName {
		t.Errorf("template.yaml: Handler %q, want %q, the binary in the zip", got, BinaryName)
	}

	rules, vars := makeRules(t)
	if got, want := vars["DIST"], filepath.Dir(ZipPath); got != want {
		t.Errorf("Makefile: DIST ?= %q, want %q (s.yaml deploys %s)", got, want, ZipPath)
	}
	pkg, ok := rules["package"]
	if !ok {
		t.Fatal("Makefile: no package target")
	}
	recipe := strings.Join(pkg.recipe, "\n")
	binary := "$(DIST)/" + BinaryName
	for _, want := range []string{
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", " build ", "-trimpath", "-buildvcs=false",
		"-ldflags='-s -w -buildid='", "-o " + binary + " .",
		"./cmd/package -o $(DIST)/" + filepath.Base(ZipPath) + " " + binary,
	} {
		if !strings.Contains(recipe, want) {
			t.Errorf("Makefile: the package recipe lacks %q:\n%s", want, recipe)
		}
	}
	dep, ok := rules["deploy"]
	if !ok {
		t.Fatal("Makefile: no deploy target")
	}
	if !slices.Contains(dep.prereqs, "package") {
		t.Errorf("Makefile: deploy depends on %v, want package first", dep.prereqs)
	}
	if !slices.Contains(dep.recipe, "s deploy -y") {
		t.Errorf("Makefile: the deploy recipe %q does not run `s deploy -y`", dep.recipe)
	}
}

// TestPackageCommand runs cmd/package as `make package` does, twice, on a stand-in for
// the binary (building the real one takes too long for a test): the zips are the same
// bytes and hold BinaryName with mode 0755.
func TestPackageCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, BinaryName)
	if err := os.WriteFile(bin, bytes.Repeat([]byte("\x7fELF stand-in\n"), 1000), 0o755); err != nil {
		t.Fatal(err)
	}
	zips := []string{filepath.Join(dir, "one.zip"), filepath.Join(dir, "two.zip")}
	for _, z := range zips {
		runGo(t, "run", "./cmd/package", "-o", z, bin)
	}
	a, err := os.ReadFile(zips[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(zips[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("cmd/package gave different zips for the same binary")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != BinaryName {
		t.Fatalf("zip entries %v, want just %q", zr.File, BinaryName)
	}
	if mode := zr.File[0].Mode(); mode != 0o755 {
		t.Errorf("%s: mode %v, want -rwxr-xr-x (0755) so that FC can run it", BinaryName, mode)
	}
}

// deployedSettings are the settings a deployment file must set: all the code reads,
// except the local-only ones.
func deployedSettings(t *testing.T) []string {
	t.Helper()
	for _, name := range LocalOnlySettings() {
		if !slices.Contains(settings.Names, name) {
			t.Errorf("LocalOnlySettings names %s, which the code does not read (settings.Names)", name)
		}
	}
	var names []string
	for _, name := range settings.Names {
		if !slices.Contains(LocalOnlySettings(), name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// checkEnvironment checks a deployment file's environment against the code: the names
// are the deployed settings, every value is a string (FC takes no other), and the values
// are accepted by settings.Load, as at the function's start.
func checkEnvironment(t *testing.T, file string, env map[string]string, raw map[string]any) {
	t.Helper()
	if got, want := sortedKeys(raw), deployedSettings(t); !slices.Equal(got, want) {
		for _, name := range got {
			if !slices.Contains(settings.Names, name) {
				t.Errorf("%s: environment variable %s is not a setting the code reads (settings.Names)", file, name)
			} else if slices.Contains(LocalOnlySettings(), name) {
				t.Logf("%s: sets the local-only setting %s (fine for a VPC endpoint)", file, name)
			}
		}
		for _, name := range want {
			if _, ok := raw[name]; !ok {
				t.Errorf("%s: the code reads %s, but the environment does not set it", file, name)
			}
		}
	}
	if _, err := settings.Load(func(name string) string { return env[name] }); err != nil {
		t.Errorf("%s: the function would refuse to start with this environment: %v", file, err)
	}
}

// TestEnvironmentMatchesSettings: the environment of each deployment file is exactly
// the settings the code reads (settings.Names) but the local-only endpoint overrides, with
// values the code accepts, and the two files agree.
func TestEnvironmentMatchesSettings(t *testing.T) {
	s := loadS(t)
	_, fn := s.function(t)
	sRaw := mapAt(fn, "environmentVariables")
	sEnv := map[string]string{}
	for name, v := range sRaw {
		str, ok := v.(string)
		if !ok {
			t.Errorf("s.yaml: environment %s is %T (%v), want a string: quote it", name, v, v)
			continue
		}
		sEnv[name] = s.expand(t, str)
		if strings.Contains(sEnv[name], "${") {
			t.Errorf("s.yaml: environment %s = %q, want a value or a var", name, str)
		}
	}
	checkEnvironment(t, "s.yaml", sEnv, sRaw)

	r := loadROS(t)
	_, f := r.one(t, "ALIYUN::FC3::Function")
	rRaw := mapAt(f, "Properties", "EnvironmentVariables")
	rEnv := map[string]string{}
	for name, v := range rRaw {
		val, ok := r.resolve(v)
		str, isStr := val.(string)
		if !ok || !isStr {
			t.Errorf("template.yaml: environment %s = %v, want a string or a Ref to a parameter", name, v)
			continue
		}
		rEnv[name] = str
	}
	checkEnvironment(t, "template.yaml", rEnv, rRaw)

	for _, name := range sortedKeys(sEnv) {
		if ref := strAt(rRaw, name, "Ref"); pseudoExample[ref] != "" {
			continue // the stack's region, known when deployed
		}
		if rv, ok := rEnv[name]; ok && rv != sEnv[name] {
			t.Errorf("%s is %q in s.yaml but %q in template.yaml", name, sEnv[name], rv)
		}
	}
}

// TestFunctionsAgree: s.yaml and template.yaml deploy the same function.
func TestFunctionsAgree(t *testing.T) {
	s := loadS(t)
	_, fn := s.function(t)
	r := loadROS(t)
	_, f := r.one(t, "ALIYUN::FC3::Function")
	props := mapAt(f, "Properties")
	for sKey, rKey := range map[string]string{
		"runtime": "Runtime", "handler": "Handler", "memorySize": "MemorySize", "timeout": "Timeout",
	} {
		if sv, rv := get(fn, sKey), get(props, rKey); !reflect.DeepEqual(sv, rv) {
			t.Errorf("%s is %v in s.yaml but %s is %v in template.yaml", sKey, sv, rKey, rv)
		}
	}
	if got, want := s.expand(t, strAt(fn, "functionName")), strAt(r.doc, "Parameters", "FunctionName", "Default"); got != want {
		t.Errorf("functionName is %q in s.yaml, but FunctionName defaults to %q in template.yaml", got, want)
	}
	// 1000 instances need up to 30 ECS calls paced at 20 a second, retried when throttled.
	if mem, _ := get(fn, "memorySize").(int); mem < 512 {
		t.Errorf("s.yaml: memorySize %d, want at least 512", mem)
	}
	if to, _ := get(fn, "timeout").(int); to < 300 {
		t.Errorf("s.yaml: timeout %d, want at least 300 s for %d instances", to, settings.DefaultMaxInstances)
	}
	if got := get(fn, "logConfig"); got != "auto" {
		t.Errorf("s.yaml: logConfig %v, want auto (logs to SLS)", got)
	}
	if lc := mapAt(props, "LogConfig"); !isGetAtt(lc["Project"], "LogProject", "Name") || !isGetAtt(lc["Logstore"], "LogStore", "LogstoreName") {
		t.Errorf("template.yaml: LogConfig %v, want the stack's SLS project and logstore", lc)
	}

	// Asynchronous invocations: the same retries and age, and the failures' records on the
	// result bus (the bus of the result events, EVENT_BUS).
	sAsync := mapAt(fn, "asyncInvokeConfig")
	_, ac := r.one(t, "ALIYUN::FC3::AsyncInvokeConfig")
	rAsync := mapAt(ac, "Properties")
	if !isGetAtt(rAsync["FunctionName"], "Function", "FunctionName") {
		t.Errorf("template.yaml: the async configuration is for %v, want the stack's function", rAsync["FunctionName"])
	}
	for sKey, rKey := range map[string]string{"maxAsyncRetryAttempts": "MaxAsyncRetryAttempts", "maxAsyncEventAgeInSeconds": "MaxAsyncEventAgeInSeconds"} {
		if sv, rv := get(sAsync, sKey), get(rAsync, rKey); sv == nil || !reflect.DeepEqual(sv, rv) {
			t.Errorf("%s is %v in s.yaml but %s is %v in template.yaml; want the same, set", sKey, sv, rKey, rv)
		}
	}
	sDest := s.expand(t, strAt(sAsync, "destinationConfig", "onFailure", "destination"))
	rDest, ok := r.resolve(get(rAsync, "DestinationConfig", "OnFailure", "Destination"))
	resultBus := fmt.Sprintf("acs:eventbridge:%s:%s:eventbus/%s", s.vars["region"], sampleAccountID, s.vars["resultBus"])
	if sDest != resultBus || !ok || rDest != resultBus {
		t.Errorf("the failure destination is %q in s.yaml and %v in template.yaml, want the result bus %s in both", sDest, rDest, resultBus)
	}
	if get(sAsync, "destinationConfig", "onSuccess") != nil || get(rAsync, "DestinationConfig", "OnSuccess") != nil {
		t.Errorf("an on-success destination: the function emits its own result events")
	}
}

// TestStacksOfS: s.yaml's ros resources deploy the base and routes pieces of
// template.yaml; the fc3 function uses the role the base piece creates, and the rule of
// the routes piece targets the fc3 function; flow deploys them in that order and removes
// them in the reverse one.
func TestStacksOfS(t *testing.T) {
	s := loadS(t)
	r := loadROS(t)
	parts := map[string]string{} // Part → resource name
	for name, props := range s.resources("ros") {
		parts[s.expand(t, strAt(props, "parameters", "Part"))] = name
	}
	base, routes := parts["base"], parts["routes"]
	if base == "" || routes == "" {
		t.Fatalf("s.yaml: ros resources by Part %v, want a base and a routes piece of template.yaml", parts)
	}
	fnName, fn := s.function(t)

	// The role: the one the base stack creates, named by its parameters.
	baseParams := stackParameters(t, s, base)
	_, role := r.one(t, "ALIYUN::RAM::Role")
	roleName, ok := r.withParameters(baseParams).resolve(get(role, "Properties", "RoleName"))
	if !ok {
		t.Fatalf("template.yaml: the role's name %v cannot be resolved from parameters", get(role, "Properties", "RoleName"))
	}
	if got, want := s.expand(t, strAt(fn, "role")), "acs:ram::"+sampleAccountID+":role/"+roleName.(string); got != want {
		t.Errorf("s.yaml: the function's role is %q, want %q, the role of the %s stack in the account of s config", got, want, base)
	}
	if _, f := r.one(t, "ALIYUN::FC3::Function"); !isGetAtt(get(f, "Properties", "Role"), "Role", "Arn") {
		t.Errorf("template.yaml: the function's Role is not the stack's Role")
	}
	if out := mapAt(r.doc, "Outputs", "RoleArn"); !isGetAtt(out["Value"], "Role", "Arn") || out["Condition"] != "WithBase" {
		t.Errorf("template.yaml: output RoleArn %v, want the Role's Arn whenever the base piece is deployed", out)
	}

	// The rule: it targets the function fc3 deploys.
	routeParams := stackParameters(t, s, routes)
	if got, want := routeParams["FunctionName"], s.expand(t, strAt(fn, "functionName")); got != want {
		t.Errorf("s.yaml: %s targets function %q, but %s deploys %q", routes, got, fnName, want)
	}
	for _, k := range []string{"RequestBusName", "ResultBusName", "OpsEventSource"} {
		if baseParams[k] != routeParams[k] {
			t.Errorf("s.yaml: %s is %q for %s but %q for %s; pass the same to both, so that the template's Rules see the real pair", k, baseParams[k], base, routeParams[k], routes)
		}
	}

	// The order: base, function, rule; removed the other way round. (No resource refers
	// to another's output, so the engine would otherwise run them in file order both times.)
	wantDeploy := []string{base, fnName, routes}
	if got := flowOrder(s.doc, "deploy"); !slices.Equal(got, wantDeploy) {
		t.Errorf("s.yaml: flow.deploy runs %v, want %v: the role before the function, the function before its rule", got, wantDeploy)
	}
	wantRemove := slices.Clone(wantDeploy)
	slices.Reverse(wantRemove)
	if got := flowOrder(s.doc, "remove"); !slices.Equal(got, wantRemove) {
		t.Errorf("s.yaml: flow.remove runs %v, want %v: what uses a resource goes before it", got, wantRemove)
	}
}

// stackParameters returns the parameters a ros resource of s.yaml passes, vars expanded.
func stackParameters(t *testing.T, s sFile, resource string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range mapAt(s.doc, "resources", resource, "props", "parameters") {
		str, _ := v.(string)
		out[k] = s.expand(t, str)
	}
	return out
}

// policyStatements returns the statements of the policies the template gives the
// function's role when its conditions are conds (Fn::If resolved), with the role's
// trust policy.
func policyStatements(t *testing.T, r rosFile, conds map[string]bool) (statements []map[string]any, trust map[string]any) {
	t.Helper()
	branches := &rosCheck{doc: r.doc}
	roleName, role := r.one(t, "ALIYUN::RAM::Role")
	_, f := r.one(t, "ALIYUN::FC3::Function")
	if !isGetAtt(get(f, "Properties", "Role"), roleName, "Arn") {
		t.Fatalf("template.yaml: the function's Role is not %s", roleName)
	}
	add := func(doc any) {
		for _, st := range listAt(branches.pickBranches("PolicyDocument", doc, conds), "Statement") {
			statements = append(statements, mapAt(st))
		}
	}
	for _, p := range listAt(role, "Properties", "Policies") {
		add(get(p, "PolicyDocument"))
	}
	for name, p := range r.ofType("ALIYUN::RAM::ManagedPolicy") {
		attached := false
		for _, role := range listAt(p, "Properties", "Roles") {
			attached = attached || isGetAtt(role, roleName, "RoleName") || get(role, "Ref") == roleName
		}
		if !attached {
			t.Errorf("template.yaml: managed policy %s is not attached to the function's role", name)
		}
		add(get(p, "Properties", "PolicyDocument"))
	}
	if len(r.ofType("ALIYUN::RAM::AttachPolicyToRole")) > 0 || get(role, "Properties", "PolicyAttachments") != nil {
		t.Errorf("template.yaml: the role gets a policy by name (AttachPolicyToRole, PolicyAttachments); this test can only check policies written in the template")
	}
	return statements, mapAt(role, "Properties", "AssumeRolePolicyDocument")
}

// destinationActions are the actions Function Compute performs with the function's role
// to deliver the record of an asynchronous invocation to a destination, by the
// destination's service (the service of its ARN). FC uses the function's role for this:
// "Ensure the FC Function RAM Role has necessary permissions for the destination, such as
// mns:SendMessage, mns:PublishMessage or fc:InvokeFunction" (terraform-provider-alicloud,
// website/docs/r/fc_function_async_invoke_config.html.markdown); for an EventBridge bus,
// the action that puts events on it.
var destinationActions = map[string]string{
	"eventbridge": "eventbridge:PutEvents",
	"fc":          "fc:InvokeFunction",
	"mns":         "mns:SendMessage",
}

// roleUse is an action the role must allow on a resource, and who needs it.
type roleUse struct {
	action, resource, who string
}

// platformUses are what FC does with the role besides running the code: deliver the
// records of asynchronous invocations to the destinations of the template's
// AsyncInvokeConfig resources. Resources are resolved with parameter defaults.
func platformUses(t *testing.T, r rosFile) []roleUse {
	t.Helper()
	var uses []roleUse
	for name, cfg := range r.ofType("ALIYUN::FC3::AsyncInvokeConfig") {
		for _, when := range []string{"OnSuccess", "OnFailure"} {
			dest := get(cfg, "Properties", "DestinationConfig", when, "Destination")
			if dest == nil {
				continue
			}
			arn, ok := r.resolve(dest)
			if !ok {
				t.Errorf("template.yaml: %s %s destination %v cannot be resolved from parameters", name, when, dest)
				continue
			}
			service := strings.SplitN(fmt.Sprint(arn), ":", 3)[1]
			action, known := destinationActions[service]
			if !known {
				t.Errorf("template.yaml: %s %s destination %v: no action known for service %q (destinationActions)", name, when, arn, service)
				continue
			}
			uses = append(uses, roleUse{action, fmt.Sprint(arn), fmt.Sprintf("template.yaml %s %s (FC delivers with the function's role)", name, when)})
		}
	}
	return uses
}

// gatedServices are the services whose actions the template grants only when a
// parameter says so, off by default: by RAM service code, the parameter (the products
// the function serves on request, such as ENS).
var gatedServices = map[string]string{"ens": "AllowENS"}

// TestPolicyMatchesCode: the role allows exactly the cloud APIs the code calls, found by
// reading the code (see codeCloudCalls), and what FC does with it (platformUses), for
// each value of the parameters that gate a service (gatedServices): with the service
// off, none of its actions, with it on, exactly the ones the code calls; off by
// default. Events may be put on the buses the function and FC put them on, no other;
// only Function Compute may assume the role.
func TestPolicyMatchesCode(t *testing.T) {
	r := loadROS(t)
	called := map[string][]string{}
	for _, c := range codeCloudCalls(t) {
		called[c.action] = append(called[c.action], c.where)
	}
	for _, service := range sortedKeys(gatedServices) {
		param := gatedServices[service]
		values := listAt(r.doc, "Parameters", param, "AllowedValues")
		if len(values) < 2 {
			t.Fatalf("template.yaml: parameter %s gates %s's actions; give it AllowedValues so that each is checked", param, service)
		}
		seenOn, seenOff := false, false
		for _, v := range values {
			combo := map[string]string{param: fmt.Sprint(v)}
			t.Run(comboName(combo), func(t *testing.T) {
				on := checkPolicy(t, r, resolveConditions(r.doc, combo), called, service)
				seenOn, seenOff = seenOn || on, seenOff || !on
				if def := strAt(r.doc, "Parameters", param, "Default"); on && fmt.Sprint(v) == def {
					t.Errorf("template.yaml: %s's actions are granted by default (%s=%s); want them off unless asked for", service, param, def)
				}
			})
		}
		if !seenOn || !seenOff {
			t.Errorf("template.yaml: %s does not switch %s's actions on and off (on: %v, off: %v)", param, service, seenOn, seenOff)
		}
	}
}

// checkPolicy checks the role's policy with the conditions conds against the calls of
// the code; it reports whether the gated service's actions are granted (when not, the
// code's calls of that service are left out of the comparison).
func checkPolicy(t *testing.T, r rosFile, conds map[string]bool, codeCalls map[string][]string, gated string) (granted bool) {
	t.Helper()
	statements, trust := policyStatements(t, r, conds)

	allowed := map[string]bool{}
	resources := map[string][]string{} // action → resources, resolved
	for _, st := range statements {
		if st["Effect"] != "Allow" {
			t.Errorf("template.yaml: statement %v: Effect %v, want Allow (nothing else is needed)", st, st["Effect"])
			continue
		}
		if _, hasCond := st["Condition"]; hasCond {
			t.Logf("statement %v has a Condition; not checked", st)
		}
		if res := st["Resource"]; res == "*" || slices.Contains(listAt(st, "Resource"), any("*")) {
			t.Errorf("template.yaml: statement %v applies to every resource (*); scope it", st)
		}
		res := statementResources(t, r, st)
		for _, a := range asList(st["Action"]) {
			action, _ := a.(string)
			if strings.Contains(action, "*") {
				t.Errorf("template.yaml: action %q is a wildcard; name the APIs", action)
			}
			allowed[action] = true
			resources[action] = append(resources[action], res...)
		}
	}

	for a := range allowed {
		granted = granted || strings.HasPrefix(a, gated+":")
	}
	called := map[string][]string{}
	for a, where := range codeCalls {
		if granted || !strings.HasPrefix(a, gated+":") {
			called[a] = where
		}
	}
	uses := platformUses(t, r)
	for _, u := range uses {
		called[u.action] = append(called[u.action], u.who)
	}
	adapterExists := func(service string) bool {
		_, err := os.Stat(filepath.Join(repoRoot, service))
		return !os.IsNotExist(err)
	}
	problems, notes := comparePolicy(allowed, called, adapterExists)
	for _, p := range problems {
		t.Error(p)
	}
	for _, n := range notes {
		t.Log(n)
	}
	t.Logf("cloud calls in the code, and FC's uses of the role: %v", sortedKeys(called))

	// Events go to the result bus only: the function's EVENT_BUS and FC's destination.
	buses := map[string]bool{}
	_, f := r.one(t, "ALIYUN::FC3::Function")
	if bus, ok := r.resolve(get(f, "Properties", "EnvironmentVariables", "EVENT_BUS")); ok && bus != "" {
		buses[fmt.Sprintf("acs:eventbridge:%s:%s:eventbus/%s", pseudoExample["ALIYUN::Region"], pseudoExample["ALIYUN::TenantId"], bus)] = true
	}
	for _, u := range uses {
		if u.action == "eventbridge:PutEvents" {
			buses[u.resource] = true
		}
	}
	got := slices.Clone(resources["eventbridge:PutEvents"])
	slices.Sort(got)
	got = slices.Compact(got)
	if want := sortedKeys(buses); !slices.Equal(got, want) {
		t.Errorf("template.yaml: eventbridge:PutEvents on %v, want exactly the buses events are put on: %v", got, want)
	}
	for _, u := range uses {
		if !slices.Contains(resources[u.action], u.resource) {
			t.Errorf("template.yaml: the role allows %s on %v, not on %s, which %s needs", u.action, resources[u.action], u.resource, u.who)
		}
	}

	sts := listAt(trust, "Statement")
	if len(sts) != 1 || strAt(sts[0], "Action") != "sts:AssumeRole" ||
		!reflect.DeepEqual(get(sts[0], "Principal"), map[string]any{"Service": []any{"fc.aliyuncs.com"}}) {
		t.Errorf("template.yaml: the role's trust policy is %v, want only fc.aliyuncs.com to assume it", trust)
	}
	return granted
}

// statementResources resolves the resources of a policy statement with the template's
// parameter defaults: a list of ARNs, or a function that makes one (the ECS ARNs of each
// of EcsRegions).
func statementResources(t *testing.T, r rosFile, st map[string]any) []string {
	t.Helper()
	resolved, ok := r.resolve(st["Resource"])
	if !ok {
		t.Errorf("template.yaml: resource %v cannot be resolved from parameters", st["Resource"])
		return nil
	}
	var res []string
	for _, arn := range asList(resolved) {
		res = append(res, fmt.Sprint(arn))
	}
	return res
}

// comparePolicy compares the actions a policy allows with those the code calls. The
// actions of a service whose adapter package does not exist yet (and that no code calls)
// cannot be checked: they are noted, not reported.
func comparePolicy(allowed map[string]bool, called map[string][]string, adapterExists func(service string) bool) (problems, notes []string) {
	unchecked := map[string]bool{}
	for _, service := range sortedKeys(invert(cloudSDKs)) {
		if adapterExists(service) {
			continue
		}
		callsIt := false
		for a := range called {
			callsIt = callsIt || strings.HasPrefix(a, service+":")
		}
		if !callsIt {
			unchecked[service] = true
		}
	}
	for _, a := range sortedKeys(called) {
		if !allowed[a] {
			problems = append(problems, fmt.Sprintf("the code calls %s (%s) but the role's policy does not allow it: add it to template.yaml's Policy", a, strings.Join(called[a], ", ")))
		}
	}
	for _, a := range sortedKeys(allowed) {
		service, _, _ := strings.Cut(a, ":")
		switch {
		case called[a] != nil:
		case unchecked[service]:
			notes = append(notes, fmt.Sprintf("%s is allowed but not checked: ./%s, the %s adapter, does not exist yet", a, service, service))
		default:
			problems = append(problems, fmt.Sprintf("the role's policy allows %s but no code calls it: remove it from template.yaml's Policy", a))
		}
	}
	return problems, notes
}

func TestComparePolicy(t *testing.T) {
	allowed := map[string]bool{"ecs:DetachKeyPair": true, "ecs:DescribeInstances": true, "eventbridge:PutEvents": true}
	called := map[string][]string{"ecs:DetachKeyPair": {"ecs/ecs.go:1"}, "ecs:DescribeInstances": {"ecs/ecs.go:2"}}
	all := func(string) bool { return true }
	noEventBridge := func(s string) bool { return s != "eventbridge" }

	problems, notes := comparePolicy(allowed, called, noEventBridge)
	if len(problems) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "eventbridge:PutEvents") {
		t.Errorf("before the eventbridge adapter exists: problems %q, notes %q; want one note on PutEvents", problems, notes)
	}
	problems, _ = comparePolicy(allowed, called, all)
	if len(problems) != 1 || !strings.Contains(problems[0], "allows eventbridge:PutEvents but no code calls it") {
		t.Errorf("once it exists without calling PutEvents: problems %q, want one", problems)
	}
	called["eventbridge:PutEvents"] = []string{"eventbridge/eventbridge.go:3"}
	called["ecs:StartInstance"] = []string{"ecs/ecs.go:4"}
	problems, _ = comparePolicy(allowed, called, all)
	if len(problems) != 1 || !strings.Contains(problems[0], "calls ecs:StartInstance (ecs/ecs.go:4)") {
		t.Errorf("with a call the policy lacks: problems %q, want one", problems)
	}
}

func invert(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[v] = k
	}
	return out
}

// TestTriggers: HTTP (POST only, signed), EventBridge (ECS instances that stop) and a
// disabled timer whose payload is a valid request; the same in both files; and the rule
// that routes ops requests on the custom bus.
func TestTriggers(t *testing.T) {
	s := loadS(t)
	_, fn := s.function(t)
	byType := map[string][]map[string]any{}
	sTriggers := map[string]map[string]any{}
	for _, tr := range listAt(fn, "triggers") {
		m := mapAt(tr)
		byType[strAt(m, "triggerType")] = append(byType[strAt(m, "triggerType")], m)
		sTriggers[strAt(m, "triggerName")] = m
	}
	for _, typ := range []string{"http", "eventbridge", "timer"} {
		if len(byType[typ]) != 1 {
			t.Errorf("s.yaml: %d %s triggers, want one", len(byType[typ]), typ)
		}
	}
	if len(byType) != 3 {
		t.Errorf("s.yaml: trigger types %v, want http, eventbridge and timer", sortedKeys(byType))
	}
	// fc3 stops deploying the list at the first unchanged eventbridge trigger
	// (components_test.go), so those come last, and one of them at most would ever update.
	seenEB := false
	for i, tr := range listAt(fn, "triggers") {
		isEB := strAt(tr, "triggerType") == "eventbridge"
		if seenEB && (!isEB || fc3TriggersStopAtUnchangedEventBridge) {
			t.Errorf("s.yaml: trigger %d (%s) comes after an eventbridge trigger: fc3 never updates it once that one is unchanged; put eventbridge triggers last, and one only", i, strAt(tr, "triggerName"))
		}
		seenEB = seenEB || isEB
	}

	for _, tr := range byType["http"] {
		cfg := mapAt(tr, "triggerConfig")
		if got := strAt(cfg, "authType"); got != "function" {
			t.Errorf("s.yaml: HTTP trigger authType %q, want function (callers sign their requests)", got)
		}
		if got := listAt(cfg, "methods"); !reflect.DeepEqual(got, []any{"POST"}) {
			t.Errorf("s.yaml: HTTP trigger methods %v, want [POST] only", got)
		}
	}
	for _, tr := range byType["eventbridge"] {
		cfg := mapAt(tr, "triggerConfig")
		if got := strAt(cfg, "eventSourceConfig", "eventSourceType"); got != "Default" {
			t.Errorf("s.yaml: eventbridge trigger source type %q, want Default (ECS events are on the default bus)", got)
		}
		var pattern map[string]any
		if err := json.Unmarshal([]byte(strAt(cfg, "eventRuleFilterPattern")), &pattern); err != nil {
			t.Fatalf("s.yaml: eventRuleFilterPattern: %v", err)
		}
		stopped := loadJSON(t, "events/ecs-instance-stopped.json")
		expectMatch(t, "the ECS trigger", pattern, "events/ecs-instance-stopped.json", stopped, true)
		running := loadJSON(t, "events/ecs-instance-stopped.json")
		mapAt(running, "data", "content")["state"] = "Running"
		expectMatch(t, "the ECS trigger", pattern, "an instance that starts", running, false)
		expectMatch(t, "the ECS trigger", pattern, "events/eventbridge.json", loadJSON(t, "events/eventbridge.json"), false)
	}
	for _, tr := range byType["timer"] {
		cfg := mapAt(tr, "triggerConfig")
		if enable, ok := cfg["enable"].(bool); !ok || enable {
			t.Errorf("s.yaml: timer trigger enable = %v, want false (a sample to enable deliberately)", cfg["enable"])
		}
		payload := strAt(cfg, "payload")
		req, perr := detach.ParseRequest([]byte(payload), settings.DefaultMaxInstances)
		if perr != nil {
			t.Errorf("s.yaml: the timer's payload %s is not a valid request: %v", payload, perr)
		} else if req.Targets == nil {
			t.Errorf("s.yaml: the timer's payload %s names instances; a policy run should select them by Targets", payload)
		}
	}

	// template.yaml has the same triggers.
	r := loadROS(t)
	rTriggers := map[string]map[string]any{}
	for name, res := range r.ofType("ALIYUN::FC3::Trigger") {
		p := mapAt(res, "Properties")
		if !isGetAtt(p["FunctionName"], "Function", "FunctionName") {
			t.Errorf("template.yaml: trigger %s is not on the function", name)
		}
		rTriggers[strAt(p, "TriggerName")] = p
	}
	if got, want := sortedKeys(rTriggers), sortedKeys(sTriggers); !slices.Equal(got, want) {
		t.Errorf("template.yaml has triggers %v, s.yaml %v; want the same", got, want)
	}
	for name, st := range sTriggers {
		rt := rTriggers[name]
		if rt == nil {
			continue
		}
		if st["triggerType"] != rt["TriggerType"] || st["qualifier"] != rt["Qualifier"] {
			t.Errorf("trigger %s: type/qualifier %v/%v in s.yaml, %v/%v in template.yaml", name, st["triggerType"], st["qualifier"], rt["TriggerType"], rt["Qualifier"])
		}
		if a, b := normalTriggerConfig(t, mapAt(st, "triggerConfig")), normalTriggerConfig(t, mapAt(rt, "TriggerConfig")); !reflect.DeepEqual(a, b) {
			t.Errorf("trigger %s: config %v in s.yaml, %v in template.yaml", name, a, b)
		}
	}

	// The rule on the request bus sends the ops portal's requests to the function, and
	// neither the function's result events nor ECS's events.
	ruleName, rule := r.one(t, "ALIYUN::EventBridge::Rule")
	props := mapAt(rule, "Properties")
	pattern, ok := r.resolve(props["FilterPattern"])
	if !ok {
		t.Fatalf("template.yaml: %s FilterPattern %v depends on more than parameters", ruleName, props["FilterPattern"])
	}
	opsEvent := loadJSON(t, "events/eventbridge.json")
	expectMatch(t, "the ops rule", pattern.(map[string]any), "events/eventbridge.json", opsEvent, true)
	expectMatch(t, "the ops rule", pattern.(map[string]any), "events/ecs-instance-stopped.json", loadJSON(t, "events/ecs-instance-stopped.json"), false)
	for _, typ := range []string{detach.EventCompleted, detach.EventFailed} {
		result := map[string]any{"specversion": "1.0", "source": settings.DefaultEventSource, "type": typ, "data": map[string]any{}}
		expectMatch(t, "the ops rule", pattern.(map[string]any), "a result event ("+typ+")", result, false)
	}
	if !reflect.DeepEqual(props["EventBusName"], map[string]any{"Ref": "RequestBusName"}) {
		t.Errorf("template.yaml: %s is on bus %v, want the request bus (Ref RequestBusName)", ruleName, props["EventBusName"])
	}
	params := mapAt(r.doc, "Parameters")
	if got, want := strAt(params, "RequestBusName", "Default"), strAt(opsEvent, "aliyuneventbusname"); got != want {
		t.Errorf("template.yaml: RequestBusName defaults to %q, want %q, the bus of the sample ops request", got, want)
	}
	if got, want := s.vars["opsEventSource"], strAt(opsEvent, "source"); got != want {
		t.Errorf("s.yaml: opsEventSource %q, want %q, the source of the sample ops request", got, want)
	}
	for sVar, param := range map[string]string{"requestBus": "RequestBusName", "resultBus": "ResultBusName", "opsEventSource": "OpsEventSource"} {
		if got, want := s.vars[sVar], strAt(params, param, "Default"); got != want {
			t.Errorf("s.yaml: %s %q, template.yaml's %s defaults to %q; want the same", sVar, got, param, want)
		}
	}
	if s.vars["requestBus"] == s.vars["resultBus"] {
		t.Errorf("s.yaml: requests and results on one bus %q: the function would be handed its own results", s.vars["requestBus"])
	}
	targets := listAt(props, "Targets")
	if len(targets) != 1 || strAt(targets[0], "Type") != "acs.fc.function" {
		t.Fatalf("template.yaml: %s targets %v, want the function", ruleName, targets)
	}
	keys := map[string]any{}
	for _, p := range listAt(targets[0], "ParamList") {
		keys[strAt(p, "ResourceKey")] = get(p, "Value")
	}
	if !reflect.DeepEqual(keys["functionName"], map[string]any{"Ref": "FunctionName"}) {
		t.Errorf("template.yaml: %s targets function %v, want Ref FunctionName", ruleName, keys["functionName"])
	}
	if keys["InvocationType"] != "Async" {
		t.Errorf("template.yaml: %s invokes the function %v, want Async (FC's retries and the failure destination apply)", ruleName, keys["InvocationType"])
	}
	if _, ok := keys["Body"]; !ok {
		t.Errorf("template.yaml: %s does not pass the event as the Body", ruleName)
	}
	branches := &rosCheck{doc: r.doc}
	for _, part := range []string{"all", "routes"} {
		endpoint := branches.pickBranches("Endpoint", get(targets[0], "Endpoint"), resolveConditions(r.doc, map[string]string{"Part": part}))
		arn, ok := r.resolve(endpoint)
		if ok && arn != functionARN(r) || !ok && !isGetAtt(endpoint, "Function", "ARN") {
			t.Errorf("template.yaml: with Part=%s the rule's endpoint is %v, want the function's ARN %s", part, endpoint, functionARN(r))
		}
	}
}

// functionARN is the FC 3.0 ARN of the template's function with the parameters' defaults:
// acs:fc:<region>:<account>:functions/<name> (FC API 2023-03-30: TagResource's
// ResourceId, Destination's example, GetFunction's functionArn).
func functionARN(r rosFile) string {
	return fmt.Sprintf("acs:fc:%s:%s:functions/%s", pseudoExample["ALIYUN::Region"], pseudoExample["ALIYUN::TenantId"], strAt(r.doc, "Parameters", "FunctionName", "Default"))
}

// normalTriggerConfig returns a trigger's config with its event pattern parsed, so that
// two spellings of one pattern compare equal.
func normalTriggerConfig(t *testing.T, cfg map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range cfg {
		out[k] = v
	}
	if p, ok := cfg["eventRuleFilterPattern"].(string); ok {
		var parsed any
		if err := json.Unmarshal([]byte(p), &parsed); err != nil {
			t.Errorf("eventRuleFilterPattern %q: %v", p, err)
		}
		out["eventRuleFilterPattern"] = parsed
	}
	return out
}

func expectMatch(t *testing.T, what string, pattern map[string]any, eventName string, event map[string]any, want bool) {
	t.Helper()
	got, err := matches(pattern, event)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if got != want {
		verb := "matches"
		if !got {
			verb = "does not match"
		}
		t.Errorf("%s %s %s (pattern %v)", what, verb, eventName, pattern)
	}
}
