package deploy

import (
	"strings"
	"testing"
)

// The validators must fail on broken files: each case below breaks a copy of the parsed
// template.yaml or s.yaml in one way, and the validator must report it (and report
// nothing on the unbroken copy).

// deepCopy copies a parsed YAML document.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// set puts value at a path of keys and list indexes ("Resources", "Function", ...).
func set(t *testing.T, doc any, value any, path ...any) {
	t.Helper()
	cur := doc
	for i, p := range path {
		last := i == len(path)-1
		switch key := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %v", path, key)
			}
			if last {
				if value == nil {
					delete(m, key)
				} else {
					m[key] = value
				}
				return
			}
			cur = m[key]
		case int:
			l, ok := cur.([]any)
			if !ok || key >= len(l) {
				t.Fatalf("%v: no element %d", path, key)
			}
			if last {
				l[key] = value
				return
			}
			cur = l[key]
		}
	}
}

// rename moves the value of key from to key to in the map at path.
func rename(t *testing.T, doc any, from, to string, path ...any) {
	t.Helper()
	m, ok := get(doc, toKeys(t, path)...).(map[string]any)
	if !ok {
		t.Fatalf("%v is not a map", path)
	}
	v, had := m[from]
	if !had {
		t.Fatalf("%v has no %s", path, from)
	}
	delete(m, from)
	m[to] = v
}

func toKeys(t *testing.T, path []any) []string {
	t.Helper()
	var keys []string
	for _, p := range path {
		s, ok := p.(string)
		if !ok {
			t.Fatalf("rename takes map keys only: %v", path)
		}
		keys = append(keys, s)
	}
	return keys
}

type breakCase struct {
	name   string
	mutate func(t *testing.T, doc map[string]any)
	want   []string // substrings of one problem each
}

// runBreakCases checks that validate finds nothing in orig and, in a copy broken by each
// case, the problems the case names.
func runBreakCases(t *testing.T, orig map[string]any, cases []breakCase, validate func(doc map[string]any) []string) {
	t.Helper()
	if p := validate(orig); len(p) != 0 {
		t.Fatalf("the unbroken file has problems: %v", p)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := deepCopy(orig).(map[string]any)
			c.mutate(t, doc)
			expectProblems(t, validate(doc), c.want)
		})
	}
}

func expectProblems(t *testing.T, problems []string, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("no problem says %q; the validator reported:\n%s", w, strings.Join(problems, "\n"))
		}
	}
}

// TestROSValidatorCatchesBrokenTemplates: each way of breaking template.yaml is reported.
func TestROSValidatorCatchesBrokenTemplates(t *testing.T) {
	specs := loadROSSpecs(t)
	region := maxRegionLen(t)
	orig := loadROS(t).doc
	fn := func(path ...any) []any { return append([]any{"Resources", "Function", "Properties"}, path...) }
	cases := []breakCase{
		{name: "wrong property name", want: []string{"Part=all: Resources.Function.Properties: unknown property MemorySizes"},
			mutate: func(t *testing.T, d map[string]any) { rename(t, d, "MemorySize", "MemorySizes", fn()...) }},
		{name: "missing required property", want: []string{"Part=all: Resources.Function.Properties: missing required property Handler"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, nil, fn("Handler")...) }},
		{name: "missing required nested property",
			want: []string{"Part=routes: Resources.OpsRequestRule.Properties.Targets[0].ParamList[3]: missing required property Value"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, nil, "Resources", "OpsRequestRule", "Properties", "Targets", 0, "ParamList", 3, "Value")
			}},
		{name: "unknown type", want: []string{"Resources.Function: type ALIYUN::FC3::Functions is not in the resource specifications"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "ALIYUN::FC3::Functions", "Resources", "Function", "Type")
			}},
		{name: "a type ROS does not have", want: []string{"Part=base: Resources.Bus: type ALIYUN::EventBridge::EventBus is not a ROS resource type"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Type": "ALIYUN::EventBridge::EventBus", "Condition": "WithBase",
					"Properties": map[string]any{"EventBusName": map[string]any{"Ref": "ResultBusName"}}}, "Resources", "Bus")
			}},
		{name: "wrong GetAtt attribute", want: []string{"Fn::GetAtt Role.ARN: ALIYUN::RAM::Role has no attribute ARN"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Fn::GetAtt": []any{"Role", "ARN"}}, fn("Role")...)
			}},
		{name: "unknown Ref", want: []string{"EnvironmentVariables.EVENT_BUS: EventBusName names no parameter, resource or pseudo parameter"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Ref": "EventBusName"}, fn("EnvironmentVariables", "EVENT_BUS")...)
			}},
		{name: "unknown Fn::Sub variable", want: []string{"Resources.Policy.Properties.PolicyName: ResultBus names no parameter"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Fn::Sub": "${FunctionName}-${ResultBus}"}, "Resources", "Policy", "Properties", "PolicyName")
			}},
		{name: "a resource missing in one combination",
			want: []string{"Part=routes: Resources.OpsRequestRule.Properties.Targets[0].Endpoint: refers to Function, which is not in the stack"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Fn::GetAtt": []any{"Function", "ARN"}}, "Resources", "OpsRequestRule", "Properties", "Targets", 0, "Endpoint")
			}},
		{name: "literal out of range", want: []string{"Resources.Function.Properties.MemorySize: 64 is less than 128"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, 64, fn("MemorySize")...) }},
		{name: "literal of the wrong type", want: []string{"Resources.Function.Properties.Timeout: string 300, want a number"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "300", fn("Timeout")...) }},
		{name: "literal against a pattern", want: []string{`Resources.LogStore.Properties.LogstoreName: "function log" does not match`},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "function log", "Resources", "LogStore", "Properties", "LogstoreName")
			}},
		{name: "executor's account in an ARN", want: []string{"names ALIYUN::AccountId, the account of whoever runs the stack"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Fn::Sub": "acs:eventbridge:*:${ALIYUN::AccountId}:eventbus/x"}, "Resources", "Policy", "Properties", "PolicyDocument", "Statement", 1, "Resource", 0)
			}},
		{name: "a built name too long", want: []string{"Resources.LogProject.Properties.Name: can be 79 characters long"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, 40, "Parameters", "FunctionName", "MaxLength") }},
		{name: "a built name of unbounded length", want: []string{"Resources.LogProject.Properties.Name: its value"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, nil, "Parameters", "FunctionName", "MaxLength")
				set(t, d, "^[a-z][a-z0-9-]*$", "Parameters", "FunctionName", "AllowedPattern")
			}},
		{name: "a condition parameter that cannot be enumerated", want: []string{"Parameters.Part: the Conditions read it, so it needs AllowedValues"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, nil, "Parameters", "Part", "AllowedValues") }},
		{name: "a default that breaks its own pattern", want: []string{"Parameters.ResultBusName: Default -results does not match"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "-results", "Parameters", "ResultBusName", "Default") }},
		{name: "a rule the defaults break", want: []string{"with the parameters' defaults: Rules.SeparateBuses: RequestBusName and ResultBusName must be different"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "ops-requests", "Parameters", "ResultBusName", "Default")
			}},
		{name: "an unknown condition", want: []string{"Resources.Role: Condition WithRole names no condition"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "WithRole", "Resources", "Role", "Condition") }},
		{name: "an unknown function", want: []string{"Fn::Concat is not a ROS function"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, map[string]any{"Fn::Concat": []any{"a", "b"}}, fn("Description")...)
			}},
	}
	runBreakCases(t, orig, cases, func(doc map[string]any) []string { return validateROS(specs, doc, region) })
}

// TestSValidatorCatchesBrokenFiles: each way of breaking s.yaml is reported.
func TestSValidatorCatchesBrokenFiles(t *testing.T) {
	tmpl := loadROS(t).doc
	orig := loadS(t).doc
	fc := func(path ...any) []any { return append([]any{"resources", "detach-keypair", "props"}, path...) }
	cases := []breakCase{
		{name: "wrong property name", want: []string{"resources.detach-keypair.props: additional properties 'memorysize' not allowed"},
			mutate: func(t *testing.T, d map[string]any) { rename(t, d, "memorySize", "memorysize", fc()...) }},
		{name: "missing required property", want: []string{"resources.detach-keypair.props: missing property 'handler'"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, nil, fc("handler")...) }},
		{name: "value out of range", want: []string{"resources.detach-keypair.props/asyncInvokeConfig/maxAsyncRetryAttempts: maximum: got 9, want 8"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, 9, fc("asyncInvokeConfig", "maxAsyncRetryAttempts")...)
			}},
		{name: "trigger config of another type", want: []string{"triggers/0/triggerConfig: additional properties 'cronExpression' not allowed"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "0 0 2 * * *", fc("triggers", 0, "triggerConfig", "cronExpression")...)
			}},
		{name: "trigger config missing a required field", want: []string{"triggers/2/triggerConfig: missing property 'eventSourceConfig'"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, nil, fc("triggers", 2, "triggerConfig", "eventSourceConfig")...)
			}},
		{name: "wrong output key", want: []string{"${resources.base.output.RoleARN}: base's output has no key RoleARN"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "${resources.base.output.RoleARN}", fc("role")...) }},
		{name: "an output of another resource", want: []string{"${resources.base.output.RoleArn} is empty in a command that names detach-keypair alone"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "${resources.base.output.RoleArn}", fc("role")...) }},
		{name: "an output the stack does not have with its Part", want: []string{"base's info has no key FunctionArn (it has [stackId RequestBusName ResultBusName RoleArn])"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "${resources.base.info.FunctionArn}", fc("description")...)
			}},
		{name: "an unknown resource", want: []string{"${resources.functions.info.functionArn} names no resource functions"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "${resources.functions.info.functionArn}", "resources", "routes", "props", "parameters", "FunctionName")
			}},
		{name: "an unknown var", want: []string{"${vars.resultbus} names no var"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "${vars.resultbus}", fc("environmentVariables", "EVENT_BUS")...)
			}},
		{name: "ros: wrong property name", want: []string{"resources.base.props: additional properties 'templates' not allowed"},
			mutate: func(t *testing.T, d map[string]any) {
				rename(t, d, "template", "templates", "resources", "base", "props")
			}},
		{name: "ros: a parameter the template lacks", want: []string{"resources.base.props.parameters.EventBusName: template.yaml declares no parameter EventBusName"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, "ops-requests", "resources", "base", "props", "parameters", "EventBusName")
			}},
		{name: "ros: parameters the template's Rules refuse", want: []string{"resources.routes.props.parameters: Rules.SeparateBuses"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "ops-requests", "vars", "resultBus") }},
		{name: "ros: a region the component does not serve", want: []string{"resources.base.props/region: value must be one of"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "cn-nowhere", "resources", "base", "props", "region") }},
		{name: "an unknown component", want: []string{"component \"fc\" is not one the tests know"},
			mutate: func(t *testing.T, d map[string]any) { set(t, d, "fc", "resources", "detach-keypair", "component") }},
		{name: "a flow that skips a resource", want: []string{"flow.remove lists [base detach-keypair], want every resource once"},
			mutate: func(t *testing.T, d map[string]any) {
				set(t, d, []any{[]any{"detach-keypair"}, []any{"base"}}, "flow", "remove")
			}},
	}
	runBreakCases(t, orig, cases, func(doc map[string]any) []string { return validateS(t, doc, tmpl) })
}
