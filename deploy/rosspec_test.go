package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A validator of ROS templates against ROS's resource specifications
// (testdata/spec/resource-specs.json; its README is the team's reference copy's): every
// resource type exists, every property is known, required ones are present (nested
// shapes too), literal values have the type and satisfy the limits, allowed values and
// patterns of the spec, every Fn::GetAtt names an attribute of its resource's type, every
// Ref and ${...} of Fn::Sub names a parameter, a resource or a pseudo parameter, and all
// this holds for each combination of the values of the parameters the Conditions read.

// rosProperty is a property's spec, nested shapes included.
type rosProperty struct {
	Type          string                 `json:"type"`
	Required      bool                   `json:"required"`
	AllowedValues []any                  `json:"allowedValues"`
	MinLength     *int                   `json:"minLength"`
	MaxLength     *int                   `json:"maxLength"`
	MinItems      *int                   `json:"minItems"`
	MaxItems      *int                   `json:"maxItems"`
	MinValue      *float64               `json:"minValue"`
	MaxValue      *float64               `json:"maxValue"`
	Pattern       string                 `json:"pattern"`
	PatternNotRE2 string                 `json:"patternNotRE2"`
	Properties    map[string]rosProperty `json:"properties"`
	Items         *rosProperty           `json:"items"`
	Values        *rosProperty           `json:"values"`
}

// rosType is a resource type's spec.
type rosType struct {
	Exists     *bool                  `json:"exists"`
	Note       string                 `json:"note"`
	Properties map[string]rosProperty `json:"properties"`
	Attributes map[string]any         `json:"attributes"`
}

// rosSpecs is resource-specs.json.
type rosSpecs struct {
	ResourceTypes      map[string]rosType `json:"resourceTypes"`
	PseudoParameters   map[string]any     `json:"pseudoParameters"`
	IntrinsicFunctions struct {
		Functions map[string]struct {
			Condition bool `json:"condition"`
		} `json:"functions"`
	} `json:"intrinsicFunctions"`
	Template struct {
		FormatVersion  string   `json:"formatVersion"`
		Sections       []string `json:"sections"`
		ResourceKeys   []string `json:"resourceKeys"`
		OutputKeys     []string `json:"outputKeys"`
		ParameterKeys  []string `json:"parameterKeys"`
		ParameterTypes []string `json:"parameterTypes"`
	} `json:"template"`
}

// specDir holds the copies of the tools' specifications (testdata/spec/SOURCES.md).
const specDir = "testdata/spec"

// rosSpecsOnce reads resource-specs.json once.
var rosSpecsOnce = sync.OnceValues(func() (*rosSpecs, error) {
	data, err := os.ReadFile(filepath.Join(specDir, "resource-specs.json"))
	if err != nil {
		return nil, err
	}
	var s rosSpecs
	return &s, json.Unmarshal(data, &s)
})

// loadROSSpecs returns resource-specs.json.
func loadROSSpecs(t testing.TB) *rosSpecs {
	t.Helper()
	s, err := rosSpecsOnce()
	if err != nil {
		t.Fatalf("%s/resource-specs.json: %v", specDir, err)
	}
	return s
}

// pseudoMaxLen is the longest value of the pseudo parameters whose length matters for
// names with a length limit. Region: the longest region id Function Compute serves, from
// fc3-schema.json's IRegion (cn-shanghai-finance-1, 21 characters; maxRegionLen reads it).
// TenantId and AccountId: Alibaba Cloud account ids are 16 digits (ROS's and FC's
// documentation give them as 1234567890123456 / 123456789098****): an assumption.
var pseudoMaxLen = map[string]int{"ALIYUN::TenantId": 16, "ALIYUN::AccountId": 16}

// rosCheck validates one template document against the specs; it returns the problems
// found, each prefixed with the parameter combination it appears in.
type rosCheck struct {
	specs     *rosSpecs
	doc       map[string]any
	regionLen int
	problems  []string
}

// validateROS validates a parsed template against the specs and returns its problems.
func validateROS(specs *rosSpecs, doc map[string]any, regionLen int) []string {
	c := &rosCheck{specs: specs, doc: doc, regionLen: regionLen}
	c.checkSections()
	c.checkParameters()
	c.checkConditions()
	c.checkRules()
	for _, combo := range c.combinations() {
		c.checkCombination(combo)
	}
	slices.Sort(c.problems)
	return slices.Compact(c.problems)
}

func (c *rosCheck) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *rosCheck) params() map[string]any { return mapAt(c.doc, "Parameters") }

func (c *rosCheck) checkSections() {
	if v := c.doc["ROSTemplateFormatVersion"]; v != c.specs.Template.FormatVersion {
		c.addf("ROSTemplateFormatVersion %v, want %s", v, c.specs.Template.FormatVersion)
	}
	for _, k := range sortedKeys(c.doc) {
		if !slices.Contains(c.specs.Template.Sections, k) {
			c.addf("section %s is not a ROS template section (%v)", k, c.specs.Template.Sections)
		}
	}
	for _, name := range sortedKeys(mapAt(c.doc, "Outputs")) {
		for _, k := range sortedKeys(mapAt(c.doc, "Outputs", name)) {
			if !slices.Contains(c.specs.Template.OutputKeys, k) {
				c.addf("Outputs.%s: unknown key %s (%v)", name, k, c.specs.Template.OutputKeys)
			}
		}
	}
	for _, name := range sortedKeys(mapAt(c.doc, "Resources")) {
		for _, k := range sortedKeys(mapAt(c.doc, "Resources", name)) {
			if !slices.Contains(c.specs.Template.ResourceKeys, k) {
				c.addf("Resources.%s: unknown key %s (%v)", name, k, c.specs.Template.ResourceKeys)
			}
		}
	}
}

// checkParameters: known keys and types; the default satisfies the parameter's own
// constraints (ROS checks it when the parameter is not given).
func (c *rosCheck) checkParameters() {
	for _, name := range sortedKeys(c.params()) {
		p := mapAt(c.params(), name)
		where := "Parameters." + name
		if p == nil {
			c.addf("%s is not a map", where)
			continue
		}
		for _, k := range sortedKeys(p) {
			if !slices.Contains(c.specs.Template.ParameterKeys, k) {
				c.addf("%s: unknown key %s", where, k)
			}
		}
		if typ := strAt(p, "Type"); !slices.Contains(c.specs.Template.ParameterTypes, typ) {
			c.addf("%s: Type %q is not a ROS parameter type (%v)", where, typ, c.specs.Template.ParameterTypes)
		}
		if def, ok := p["Default"]; ok {
			if msg := parameterValueProblem(p, def); msg != "" {
				c.addf("%s: Default %v %s", where, def, msg)
			}
		}
	}
}

// parameterValueProblem says how a value breaks a parameter's constraints ("" if not).
func parameterValueProblem(p map[string]any, v any) string {
	s := fmt.Sprint(v)
	if allowed := listAt(p, "AllowedValues"); allowed != nil && !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == s }) {
		return fmt.Sprintf("is not one of the AllowedValues %v", allowed)
	}
	if pat := strAt(p, "AllowedPattern"); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			return fmt.Sprintf("cannot be checked: AllowedPattern %q: %v", pat, err)
		}
		if !re.MatchString(s) {
			return fmt.Sprintf("does not match the AllowedPattern %s", pat)
		}
	}
	if n, ok := get(p, "MaxLength").(int); ok && len(s) > n {
		return fmt.Sprintf("is longer than MaxLength %d", n)
	}
	if n, ok := get(p, "MinLength").(int); ok && len(s) < n {
		return fmt.Sprintf("is shorter than MinLength %d", n)
	}
	return ""
}

// checkConditions: conditions use condition functions, Refs to parameters and pseudo
// parameters, and {Condition: name} to existing conditions.
func (c *rosCheck) checkConditions() {
	for _, name := range sortedKeys(mapAt(c.doc, "Conditions")) {
		c.checkConditionExpr("Conditions."+name, get(c.doc, "Conditions", name))
	}
}

func (c *rosCheck) checkConditionExpr(where string, v any) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) != 1 {
			c.addf("%s: %v is not a condition function", where, v)
			return
		}
		for fn, arg := range v {
			switch {
			case fn == "Ref":
				name, _ := arg.(string)
				if _, ok := c.params()[name]; !ok && c.specs.PseudoParameters[name] == nil {
					c.addf("%s: Ref %v names no parameter or pseudo parameter", where, arg)
				}
			case fn == "Condition":
				if _, ok := mapAt(c.doc, "Conditions")[fmt.Sprint(arg)]; !ok {
					c.addf("%s: Condition %v names no condition", where, arg)
				}
			case c.specs.IntrinsicFunctions.Functions[fn].Condition:
				for _, a := range asList(arg) {
					c.checkConditionExpr(where, a)
				}
			default:
				c.addf("%s: %s cannot be used in a condition", where, fn)
			}
		}
	case []any:
		for _, a := range v {
			c.checkConditionExpr(where, a)
		}
	}
}

// checkRules: the Rules section (RuleCondition, Assertions of Assert and
// AssertDescription) refers to parameters only, and holds for the defaults.
func (c *rosCheck) checkRules() {
	values := map[string]string{}
	for name, p := range c.params() {
		if def, ok := mapAt(p)["Default"]; ok {
			values[name] = fmt.Sprint(def)
		}
	}
	for _, problem := range ruleViolations(c.doc, values) {
		c.addf("with the parameters' defaults: %s", problem)
	}
	for _, name := range sortedKeys(mapAt(c.doc, "Rules")) {
		rule := mapAt(c.doc, "Rules", name)
		for _, k := range sortedKeys(rule) {
			if k != "RuleCondition" && k != "Assertions" {
				c.addf("Rules.%s: unknown key %s", name, k)
			}
		}
		c.checkConditionExpr("Rules."+name, rule["RuleCondition"])
		for i, a := range listAt(rule, "Assertions") {
			for _, k := range sortedKeys(mapAt(a)) {
				if k != "Assert" && k != "AssertDescription" {
					c.addf("Rules.%s.Assertions[%d]: unknown key %s", name, i, k)
				}
			}
			c.checkConditionExpr(fmt.Sprintf("Rules.%s.Assertions[%d]", name, i), get(a, "Assert"))
		}
	}
}

// ruleViolations evaluates the template's Rules with the given parameter values and
// returns the descriptions of the assertions that fail.
func ruleViolations(doc map[string]any, values map[string]string) []string {
	var out []string
	for _, name := range sortedKeys(mapAt(doc, "Rules")) {
		rule := mapAt(doc, "Rules", name)
		if cond, ok := rule["RuleCondition"]; ok && !evalCondition(doc, cond, values, nil) {
			continue
		}
		for _, a := range listAt(rule, "Assertions") {
			if !evalCondition(doc, get(a, "Assert"), values, nil) {
				out = append(out, fmt.Sprintf("Rules.%s: %s", name, strAt(a, "AssertDescription")))
			}
		}
	}
	return out
}

// evalCondition evaluates a condition expression with parameter values; conds caches
// named conditions (nil: evaluate them on demand).
func evalCondition(doc map[string]any, v any, values map[string]string, conds map[string]bool) bool {
	m, _ := v.(map[string]any)
	for fn, arg := range m {
		args := asList(arg)
		switch fn {
		case "Fn::Equals":
			return len(args) == 2 && conditionValue(args[0], values) == conditionValue(args[1], values)
		case "Fn::Not":
			return len(args) == 1 && !evalCondition(doc, args[0], values, conds)
		case "Fn::And":
			for _, a := range args {
				if !evalCondition(doc, a, values, conds) {
					return false
				}
			}
			return true
		case "Fn::Or":
			for _, a := range args {
				if evalCondition(doc, a, values, conds) {
					return true
				}
			}
			return false
		case "Condition":
			name := fmt.Sprint(arg)
			if b, ok := conds[name]; ok {
				return b
			}
			return evalCondition(doc, get(doc, "Conditions", name), values, conds)
		}
	}
	if b, ok := v.(bool); ok {
		return b
	}
	return false
}

// conditionValue is the string a condition operand stands for.
func conditionValue(v any, values map[string]string) string {
	if ref, ok := get(v, "Ref").(string); ok {
		if val, ok := values[ref]; ok {
			return val
		}
		if p, ok := pseudoExample[ref]; ok {
			return p
		}
		return "<" + ref + ">"
	}
	return fmt.Sprint(v)
}

// pseudoExample gives pseudo parameters a value where one is needed to resolve a string.
var pseudoExample = map[string]string{
	"ALIYUN::Region":    "cn-hangzhou",
	"ALIYUN::TenantId":  sampleAccountID,
	"ALIYUN::AccountId": "2345678901234567", // a RAM user's: not the owner's
	"ALIYUN::StackName": "detach-keypair",
}

// conditionParameters are the parameters the Conditions read, transitively.
func conditionParameters(doc map[string]any) []string {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
				if _, isParam := mapAt(doc, "Parameters")[ref]; isParam {
					seen[ref] = true
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(get(doc, "Conditions"))
	return sortedKeys(seen)
}

// combinations enumerates the values of the parameters the Conditions read: each needs
// AllowedValues (otherwise the template is valid or not depending on a value no test
// can enumerate). The other parameters keep their defaults.
func (c *rosCheck) combinations() []map[string]string {
	combos := []map[string]string{{}}
	for _, name := range conditionParameters(c.doc) {
		allowed := listAt(c.params(), name, "AllowedValues")
		if allowed == nil {
			c.addf("Parameters.%s: the Conditions read it, so it needs AllowedValues (the tests try each)", name)
			continue
		}
		var next []map[string]string
		for _, combo := range combos {
			for _, v := range allowed {
				m := map[string]string{name: fmt.Sprint(v)}
				for k, w := range combo {
					m[k] = w
				}
				next = append(next, m)
			}
		}
		combos = next
	}
	return combos
}

// comboName shows a combination, e.g. "Part=base".
func comboName(combo map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(combo) {
		parts = append(parts, k+"="+combo[k])
	}
	if parts == nil {
		return "(no conditions)"
	}
	return strings.Join(parts, ",")
}

// resolveConditions evaluates every named condition for a combination of values.
func resolveConditions(doc map[string]any, combo map[string]string) map[string]bool {
	values := map[string]string{}
	for name, p := range mapAt(doc, "Parameters") {
		if def, ok := mapAt(p)["Default"]; ok {
			values[name] = fmt.Sprint(def)
		}
	}
	for k, v := range combo {
		values[k] = v
	}
	conds := map[string]bool{}
	for _, name := range sortedKeys(mapAt(doc, "Conditions")) {
		conds[name] = evalCondition(doc, get(doc, "Conditions", name), values, nil)
	}
	return conds
}

// noValue marks a value removed by {Ref: ALIYUN::NoValue}.
type noValue struct{}

// pickBranches resolves every Fn::If with the conditions' values and drops
// ALIYUN::NoValue; unknown condition names are reported.
func (c *rosCheck) pickBranches(where string, v any, conds map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		if args, ok := v["Fn::If"].([]any); ok && len(v) == 1 {
			if len(args) != 3 {
				c.addf("%s: Fn::If takes [condition, value if true, value if false], not %v", where, args)
				return noValue{}
			}
			name := fmt.Sprint(args[0])
			b, known := conds[name]
			if !known {
				c.addf("%s: Fn::If names no condition %q", where, name)
			}
			if b {
				return c.pickBranches(where, args[1], conds)
			}
			return c.pickBranches(where, args[2], conds)
		}
		if v["Ref"] == "ALIYUN::NoValue" && len(v) == 1 {
			return noValue{}
		}
		out := map[string]any{}
		for k, e := range v {
			if r := c.pickBranches(where+"."+k, e, conds); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	case []any:
		out := []any{}
		for i, e := range v {
			if r := c.pickBranches(fmt.Sprintf("%s[%d]", where, i), e, conds); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

// checkCombination validates the template as ROS deploys it with these values: the
// resources and outputs whose Condition holds, each Fn::If resolved.
func (c *rosCheck) checkCombination(combo map[string]string) {
	conds := resolveConditions(c.doc, combo)
	prefix := comboName(combo) + ": "
	present := map[string]string{} // resource → type
	for _, name := range sortedKeys(mapAt(c.doc, "Resources")) {
		res := mapAt(c.doc, "Resources", name)
		if cond, ok := res["Condition"]; ok {
			b, known := conds[fmt.Sprint(cond)]
			if !known {
				c.addf("%sResources.%s: Condition %v names no condition", prefix, name, cond)
			}
			if !b {
				continue
			}
		}
		present[name] = strAt(res, "Type")
	}
	for _, name := range sortedKeys(present) {
		res := mapAt(c.doc, "Resources", name)
		where := prefix + "Resources." + name
		typ := present[name]
		spec, known := c.specs.ResourceTypes[typ]
		switch {
		case !known:
			c.addf("%s: type %s is not in the resource specifications: it cannot be checked (add its spec, or use a type that has one)", where, typ)
			continue
		case spec.Exists == nil:
			c.addf("%s: type %s cannot be checked: %s", where, typ, spec.Note)
			continue
		case !*spec.Exists:
			c.addf("%s: type %s is not a ROS resource type: %s", where, typ, spec.Note)
			continue
		}
		for _, dep := range dependsOn(res) {
			if _, ok := present[dep]; !ok {
				c.addf("%s: DependsOn %s, which is not in the stack", where, dep)
			}
		}
		props := c.pickBranches(where+".Properties", res["Properties"], conds)
		if _, ok := res["Properties"]; !ok {
			props = map[string]any{}
		}
		c.checkRefs(where+".Properties", props, present)
		c.checkShape(where+".Properties", props, rosProperty{Type: "Map", Properties: spec.Properties})
		c.checkLengths(where+".Properties", props, spec.Properties)
	}
	for _, name := range sortedKeys(mapAt(c.doc, "Outputs")) {
		out := mapAt(c.doc, "Outputs", name)
		if cond, ok := out["Condition"]; ok && !conds[fmt.Sprint(cond)] {
			continue
		}
		where := prefix + "Outputs." + name
		c.checkRefs(where, c.pickBranches(where, out["Value"], conds), present)
	}
}

func dependsOn(res map[string]any) []string {
	switch d := res["DependsOn"].(type) {
	case string:
		return []string{d}
	case []any:
		var out []string
		for _, e := range d {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// intrinsic reports whether v is an intrinsic function call ({Ref: ...} or {Fn::X: ...}).
func intrinsic(v any) (name string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkRefs checks every Ref, Fn::GetAtt and Fn::Sub variable in v, and that every
// Fn:: function is one ROS has. ARNs must name the owning account (ALIYUN::TenantId).
func (c *rosCheck) checkRefs(where string, v any, present map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if fn, arg, ok := intrinsic(v); ok {
			if _, known := c.specs.IntrinsicFunctions.Functions[fn]; !known {
				c.addf("%s: %s is not a ROS function", where, fn)
			}
			switch fn {
			case "Ref":
				c.checkName(where, fmt.Sprint(arg), present)
			case "Fn::GetAtt":
				args := asList(arg)
				if len(args) != 2 {
					c.addf("%s: Fn::GetAtt takes [resource, attribute], not %v", where, arg)
					return
				}
				c.checkGetAtt(where, fmt.Sprint(args[0]), fmt.Sprint(args[1]), present)
			case "Fn::Sub":
				args := asList(arg)
				s, _ := args[0].(string)
				vars := map[string]any{}
				if len(args) > 1 {
					vars = mapAt(args[1])
					c.checkRefs(where, args[1], present)
				}
				for _, m := range subVar.FindAllStringSubmatch(s, -1) {
					name := m[1]
					if strings.HasPrefix(name, "!") {
						continue // ${!Literal}
					}
					if _, ok := vars[name]; ok {
						continue
					}
					if res, attr, isAtt := strings.Cut(name, "."); isAtt && !strings.HasPrefix(name, "ALIYUN::") {
						c.checkGetAtt(where, res, attr, present)
						continue
					}
					c.checkName(where, name, present)
				}
				if strings.HasPrefix(s, "acs:") && strings.Contains(s, "${ALIYUN::AccountId}") {
					c.addf("%s: the ARN %q names ALIYUN::AccountId, the account of whoever runs the stack; ARNs name the owning account, ALIYUN::TenantId", where, s)
				}
			default:
				c.checkRefs(where, arg, present)
			}
			return
		}
		for _, k := range sortedKeys(v) {
			c.checkRefs(where+"."+k, v[k], present)
		}
	case []any:
		for i, e := range v {
			c.checkRefs(fmt.Sprintf("%s[%d]", where, i), e, present)
		}
	}
}

func (c *rosCheck) checkName(where, name string, present map[string]string) {
	if _, ok := c.params()[name]; ok {
		return
	}
	if _, ok := c.specs.PseudoParameters[name]; ok {
		return
	}
	if _, ok := present[name]; ok {
		return
	}
	if _, ok := mapAt(c.doc, "Resources")[name]; ok {
		c.addf("%s: refers to %s, which is not in the stack (its Condition is false)", where, name)
		return
	}
	c.addf("%s: %s names no parameter, resource or pseudo parameter", where, name)
}

func (c *rosCheck) checkGetAtt(where, res, attr string, present map[string]string) {
	typ, ok := present[res]
	if !ok {
		c.checkName(where, res, present)
		return
	}
	spec := c.specs.ResourceTypes[typ]
	if _, ok := spec.Attributes[attr]; !ok {
		c.addf("%s: Fn::GetAtt %s.%s: %s has no attribute %s (it has %v)", where, res, attr, typ, attr, sortedKeys(spec.Attributes))
	}
}

// checkShape checks a value against a property spec: type, required and unknown keys,
// nested shapes, and the limits on literal values (the CDK skips them on 0, false, "").
func (c *rosCheck) checkShape(where string, v any, p rosProperty) {
	if _, _, ok := intrinsic(v); ok {
		return // resolved when deployed
	}
	switch p.Type {
	case "Json", "":
		return
	case "Map":
		m, ok := v.(map[string]any)
		if !ok {
			c.addf("%s: %T %v, want a map", where, v, v)
			return
		}
		if p.Properties != nil {
			for _, k := range sortedKeys(m) {
				sub, known := p.Properties[k]
				if !known {
					c.addf("%s: unknown property %s (known: %v)", where, k, sortedKeys(p.Properties))
					continue
				}
				c.checkShape(where+"."+k, m[k], sub)
			}
			for _, k := range sortedKeys(p.Properties) {
				if _, has := m[k]; !has && p.Properties[k].Required {
					c.addf("%s: missing required property %s", where, k)
				}
			}
		} else if p.Values != nil {
			for _, k := range sortedKeys(m) {
				c.checkShape(where+"."+k, m[k], *p.Values)
			}
		}
	case "List":
		l, ok := v.([]any)
		if !ok {
			c.addf("%s: %T %v, want a list", where, v, v)
			return
		}
		if p.MinItems != nil && len(l) < *p.MinItems {
			c.addf("%s: %d items, want at least %d", where, len(l), *p.MinItems)
		}
		if p.MaxItems != nil && len(l) > *p.MaxItems {
			c.addf("%s: %d items, want at most %d", where, len(l), *p.MaxItems)
		}
		if p.Items != nil {
			for i, e := range l {
				c.checkShape(fmt.Sprintf("%s[%d]", where, i), e, *p.Items)
			}
		}
	case "String":
		s, ok := v.(string)
		if !ok {
			c.addf("%s: %T %v, want a string (quote it)", where, v, v)
			return
		}
		if s == "" {
			return
		}
		if p.MinLength != nil && len(s) < *p.MinLength {
			c.addf("%s: %q is shorter than %d", where, s, *p.MinLength)
		}
		if p.MaxLength != nil && len(s) > *p.MaxLength {
			c.addf("%s: %q is longer than %d", where, s, *p.MaxLength)
		}
		if p.AllowedValues != nil && !slices.Contains(p.AllowedValues, any(s)) {
			c.addf("%s: %q is not one of %v", where, s, p.AllowedValues)
		}
		if p.Pattern != "" {
			if re, err := regexp.Compile(p.Pattern); err != nil || p.PatternNotRE2 != "" {
				c.addf("%s: the pattern %q cannot be checked in Go (%v %s)", where, p.Pattern, err, p.PatternNotRE2)
			} else if !re.MatchString(s) {
				c.addf("%s: %q does not match %s", where, s, p.Pattern)
			}
		}
	case "Number":
		var n float64
		switch x := v.(type) {
		case int:
			n = float64(x)
		case float64:
			n = x
		default:
			c.addf("%s: %T %v, want a number", where, v, v)
			return
		}
		if n == 0 {
			return
		}
		if p.MinValue != nil && n < *p.MinValue {
			c.addf("%s: %v is less than %v", where, n, *p.MinValue)
		}
		if p.MaxValue != nil && n > *p.MaxValue {
			c.addf("%s: %v is more than %v", where, n, *p.MaxValue)
		}
		if p.AllowedValues != nil && !slices.ContainsFunc(p.AllowedValues, func(a any) bool { f, _ := a.(float64); return f == n }) {
			c.addf("%s: %v is not one of %v", where, n, p.AllowedValues)
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			c.addf("%s: %T %v, want true or false", where, v, v)
		}
	default:
		c.addf("%s: the spec's type %q is not understood", where, p.Type)
	}
}

// checkLengths checks the String properties with a maxLength whose value is built from
// parameters and pseudo parameters (Ref, Fn::Sub): their longest value must fit.
func (c *rosCheck) checkLengths(where string, v any, props map[string]rosProperty) {
	m, _ := v.(map[string]any)
	for _, k := range sortedKeys(m) {
		p, ok := props[k]
		if !ok {
			continue
		}
		if p.Type == "String" && p.MaxLength != nil {
			// Literals are checkShape's; another resource's attribute (Fn::GetAtt,
			// ${Resource.Attribute}) is checked where that resource sets it.
			if fn, arg, _ := intrinsic(m[k]); fn != "Ref" && fn != "Fn::Sub" || fn == "Fn::Sub" && subHasAttribute(arg) {
				continue
			}
			switch n, known := c.maxLen(m[k]); {
			case !known:
				c.addf("%s.%s: its value %v can be of any length, and the limit is %d: bound its parameters (MaxLength, or an AllowedPattern of bounded length)", where, k, m[k], *p.MaxLength)
			case n > *p.MaxLength:
				c.addf("%s.%s: can be %d characters long with the longest values its parameters allow; the limit is %d", where, k, n, *p.MaxLength)
			}
		}
		if p.Type == "Map" && p.Properties != nil {
			c.checkLengths(where+"."+k, m[k], p.Properties)
		}
	}
}

// maxLen is the longest a string built from literals, parameters (their MaxLength or
// AllowedValues) and pseudo parameters can be; known is false when one part has no bound.
func (c *rosCheck) maxLen(v any) (n int, known bool) {
	nameLen := func(name string) (int, bool) {
		if p := mapAt(c.params(), name); p != nil {
			if m, ok := p["MaxLength"].(int); ok {
				return m, true
			}
			if allowed := listAt(p, "AllowedValues"); allowed != nil {
				longest := 0
				for _, a := range allowed {
					longest = max(longest, len(fmt.Sprint(a)))
				}
				return longest, true
			}
			return patternMaxLen(strAt(p, "AllowedPattern"))
		}
		if name == "ALIYUN::Region" {
			return c.regionLen, c.regionLen > 0
		}
		l, ok := pseudoMaxLen[name]
		return l, ok
	}
	switch v := v.(type) {
	case string:
		return len(v), true
	case map[string]any:
		fn, arg, ok := intrinsic(v)
		if !ok {
			return 0, false
		}
		switch fn {
		case "Ref":
			return nameLen(fmt.Sprint(arg))
		case "Fn::Sub":
			args := asList(arg)
			s, _ := args[0].(string)
			if len(args) > 1 {
				return 0, false
			}
			total := len(subVar.ReplaceAllString(s, ""))
			for _, m := range subVar.FindAllStringSubmatch(s, -1) {
				l, ok := nameLen(m[1])
				if !ok {
					return 0, false
				}
				total += l
			}
			return total, true
		}
	}
	return 0, false
}

// patternMaxLen is the length of the longest string a regular expression matches,
// when it is bounded.
func patternMaxLen(pattern string) (int, bool) {
	if pattern == "" {
		return 0, false
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, false
	}
	var longest func(re *syntax.Regexp) (int, bool)
	longest = func(re *syntax.Regexp) (int, bool) {
		switch re.Op {
		case syntax.OpLiteral:
			return len(re.Rune), true
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return 1, true
		case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
			syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return 0, true
		case syntax.OpCapture, syntax.OpQuest:
			return longest(re.Sub[0])
		case syntax.OpRepeat:
			n, ok := longest(re.Sub[0])
			if !ok || re.Max < 0 {
				return 0, false
			}
			return n * re.Max, true
		case syntax.OpConcat, syntax.OpAlternate:
			total := 0
			for _, sub := range re.Sub {
				n, ok := longest(sub)
				if !ok {
					return 0, false
				}
				if re.Op == syntax.OpConcat {
					total += n
				} else {
					total = max(total, n)
				}
			}
			return total, true
		}
		return 0, false // star, plus
	}
	return longest(re)
}

// subHasAttribute reports whether a Fn::Sub string refers to a resource attribute.
func subHasAttribute(arg any) bool {
	s, _ := asList(arg)[0].(string)
	for _, m := range subVar.FindAllStringSubmatch(s, -1) {
		if strings.Contains(m[1], ".") && !strings.HasPrefix(m[1], "ALIYUN::") {
			return true
		}
	}
	return false
}

// asList returns v as a list (a single value becomes a list of one).
func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// maxRegionLen is the length of the longest region id of fc3-schema.json's IRegion.
func maxRegionLen(t testing.TB) int {
	t.Helper()
	longest := 0
	for _, r := range listAt(fc3Schema(t), "definitions", "IRegion", "enum") {
		longest = max(longest, len(fmt.Sprint(r)))
	}
	if longest == 0 {
		t.Fatal("fc3-schema.json: no IRegion enum")
	}
	return longest
}

// TestTemplateValidatesAgainstROSSpecs: template.yaml, for every combination of the
// parameters its Conditions read, has no problem the ROS specifications can show.
func TestTemplateValidatesAgainstROSSpecs(t *testing.T) {
	r := loadROS(t)
	specs := loadROSSpecs(t)
	for _, p := range validateROS(specs, r.doc, maxRegionLen(t)) {
		t.Error("template.yaml: " + p)
	}
	combos := (&rosCheck{specs: specs, doc: r.doc}).combinations()
	if len(combos) < 3 {
		t.Errorf("%d parameter combinations checked, want every Part", len(combos))
	}
	var names []string
	for _, c := range combos {
		names = append(names, comboName(c))
	}
	t.Logf("checked %v", names)
}

// TestLengthOfBuiltNames checks maxLen on the name that broke before: the SLS project.
func TestLengthOfBuiltNames(t *testing.T) {
	r := loadROS(t)
	c := &rosCheck{specs: loadROSSpecs(t), doc: r.doc, regionLen: maxRegionLen(t)}
	n, known := c.maxLen(get(r.doc, "Resources", "LogProject", "Properties", "Name"))
	if !known {
		t.Fatal("the log project's name has no computable bound")
	}
	limit := *c.specs.ResourceTypes["ALIYUN::SLS::Project"].Properties["Name"].MaxLength
	if n > limit {
		t.Errorf("the log project name can be %d characters, the limit is %d", n, limit)
	}
	t.Logf("the log project name is at most %d of %d characters (region ids up to %d)", n, limit, c.regionLen)
	if c.regionLen < len("cn-shanghai-finance-1") {
		t.Errorf("longest region id %d characters, want at least that of cn-shanghai-finance-1", c.regionLen)
	}
}
