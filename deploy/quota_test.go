package deploy

import (
	"fmt"
	"strconv"
	"testing"
)

// The function's most instances at once: FC's reserved concurrency in both deployment
// files, and MAX_FUNCTION_INSTANCES in both environments, by which the function divides
// the account's quotas among its instances (README.md, "One quota for every instance").
// A number in one place only would let FC run more instances than the function counts
// on, each pacing at too large a share: the account past its quota.

// maxInstancesProblems checks that s.yaml and template.yaml declare the function's most
// instances and tell the function the same number, MaxFunctionInstances.
func maxInstancesProblems(s sFile, r rosFile) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	want := strconv.Itoa(MaxFunctionInstances)

	fns := s.resources("fc3")
	if len(fns) != 1 {
		return []string{fmt.Sprintf("s.yaml: %d fc3 resources, want one", len(fns))}
	}
	for _, props := range fns {
		reserved := get(props, "concurrencyConfig", "reservedConcurrency")
		switch {
		case reserved == nil:
			bad("s.yaml: concurrencyConfig.reservedConcurrency is not set: FC could run more instances than MAX_FUNCTION_INSTANCES, each pacing at its share of the quota")
		case fmt.Sprint(reserved) != want:
			bad("s.yaml: concurrencyConfig.reservedConcurrency is %v, want deploy.MaxFunctionInstances, %s", reserved, want)
		}
		env, set := get(props, "environmentVariables", "MAX_FUNCTION_INSTANCES").(string)
		env = expandS(env, func(name string) (string, bool) { v, ok := s.vars[name]; return v, ok })
		switch {
		case !set:
			bad("s.yaml: the environment does not set MAX_FUNCTION_INSTANCES: the function would pace each instance at the whole quota")
		case env != fmt.Sprint(reserved):
			bad("s.yaml: MAX_FUNCTION_INSTANCES is %q, but concurrencyConfig.reservedConcurrency is %v: the function would divide the quotas among another number of instances than FC runs", env, reserved)
		}
	}

	var fnName string
	var fnCondition any
	for name, res := range r.ofType("ALIYUN::FC3::Function") {
		fnName, fnCondition = name, res["Condition"]
	}
	configs := r.ofType("ALIYUN::FC3::ConcurrencyConfig")
	if len(configs) != 1 {
		bad("template.yaml: %d resources of type ALIYUN::FC3::ConcurrencyConfig, want one for the function: without it, FC could run more instances than MAX_FUNCTION_INSTANCES", len(configs))
	}
	var reserved any
	for name, cc := range configs {
		props := mapAt(cc, "Properties")
		if fn := props["FunctionName"]; !isGetAtt(fn, fnName, "FunctionName") && strAt(fn, "Ref") != "FunctionName" {
			bad("template.yaml: %s is for function %v, want the stack's %s", name, fn, fnName)
		}
		if cc["Condition"] != fnCondition {
			bad("template.yaml: %s has Condition %v, the function %v: want the same, so that each stack with the function limits it", name, cc["Condition"], fnCondition)
		}
		var ok bool
		if reserved, ok = r.resolve(props["ReservedConcurrency"]); !ok || fmt.Sprint(reserved) != want {
			bad("template.yaml: %s.ReservedConcurrency is %v, want deploy.MaxFunctionInstances, %s", name, props["ReservedConcurrency"], want)
		}
	}
	for _, f := range r.ofType("ALIYUN::FC3::Function") {
		raw := get(f, "Properties", "EnvironmentVariables", "MAX_FUNCTION_INSTANCES")
		env, ok := r.resolve(raw)
		_, isString := env.(string)
		switch {
		case raw == nil || !ok || !isString:
			bad("template.yaml: the environment does not set MAX_FUNCTION_INSTANCES to a string: the function would pace each instance at the whole quota")
		case reserved != nil && env != fmt.Sprint(reserved):
			bad("template.yaml: MAX_FUNCTION_INSTANCES is %q, but ReservedConcurrency is %v: the function would divide the quotas among another number of instances than FC runs", env, reserved)
		}
	}
	return problems
}

// TestMaxFunctionInstances: both files limit the function to MaxFunctionInstances
// instances and tell it so; each way of breaking a copy of either is reported.
func TestMaxFunctionInstances(t *testing.T) {
	s, r := loadS(t), loadROS(t)
	fc := func(path ...any) []any { return append([]any{"resources", "detach-keypair", "props"}, path...) }
	sCases := []breakCase{
		{name: "s.yaml: another reserved concurrency", want: []string{"s.yaml: concurrencyConfig.reservedConcurrency is 20, want deploy.MaxFunctionInstances",
			`s.yaml: MAX_FUNCTION_INSTANCES is "10", but concurrencyConfig.reservedConcurrency is 20`},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, 20, fc("concurrencyConfig", "reservedConcurrency")...) }},
		{name: "s.yaml: no reserved concurrency", want: []string{"s.yaml: concurrencyConfig.reservedConcurrency is not set"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, nil, fc("concurrencyConfig")...) }},
		{name: "s.yaml: no setting", want: []string{"s.yaml: the environment does not set MAX_FUNCTION_INSTANCES"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, nil, fc("environmentVariables", "MAX_FUNCTION_INSTANCES")...)
			}},
		{name: "s.yaml: another setting", want: []string{`s.yaml: MAX_FUNCTION_INSTANCES is "5", but concurrencyConfig.reservedConcurrency is 10`},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "5", fc("environmentVariables", "MAX_FUNCTION_INSTANCES")...)
			}},
	}
	runBreakCases(t, s.doc, sCases, func(doc map[string]any) []string { return maxInstancesProblems(sFile{doc: doc, vars: s.vars}, r) })

	fn := func(path ...any) []any { return append([]any{"Resources", "Function", "Properties"}, path...) }
	rCases := []breakCase{
		{name: "template.yaml: another reserved concurrency", want: []string{"template.yaml: ConcurrencyConfig.ReservedConcurrency is 20, want deploy.MaxFunctionInstances",
			`template.yaml: MAX_FUNCTION_INSTANCES is "10", but ReservedConcurrency is 20`},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, 20, "Resources", "ConcurrencyConfig", "Properties", "ReservedConcurrency")
			}},
		{name: "template.yaml: no concurrency config", want: []string{"template.yaml: 0 resources of type ALIYUN::FC3::ConcurrencyConfig"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, nil, "Resources", "ConcurrencyConfig") }},
		{name: "template.yaml: for another function", want: []string{"template.yaml: ConcurrencyConfig is for function other, want the stack's Function"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "other", "Resources", "ConcurrencyConfig", "Properties", "FunctionName")
			}},
		{name: "template.yaml: in other stacks than the function", want: []string{"template.yaml: ConcurrencyConfig has Condition WithBase, the function IsAll"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "WithBase", "Resources", "ConcurrencyConfig", "Condition")
			}},
		{name: "template.yaml: no setting", want: []string{"template.yaml: the environment does not set MAX_FUNCTION_INSTANCES"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, nil, fn("EnvironmentVariables", "MAX_FUNCTION_INSTANCES")...)
			}},
		{name: "template.yaml: another setting", want: []string{`template.yaml: MAX_FUNCTION_INSTANCES is "20", but ReservedConcurrency is 10`},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "20", fn("EnvironmentVariables", "MAX_FUNCTION_INSTANCES")...)
			}},
	}
	runBreakCases(t, r.doc, rCases, func(doc map[string]any) []string { return maxInstancesProblems(s, rosFile{doc: doc}) })
}
