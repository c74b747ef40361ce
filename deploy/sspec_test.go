package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// A validator of s.yaml against the specifications of the components it uses and the
// rules of the s 3.x engine: the fc3 props against fc3-schema.json (the schema the
// component checks its props with), strictly (no unknown property, each trigger's config
// against its own type's definition); the ros props against the ros component's
// publish.yaml and against the template's parameters and Rules; every ${...} expression
// names a var, a resource and a key that resource's component returns; no resource uses
// another's output (empty in a command that names one resource); flow lists every
// resource.

// sTopLevelKeys are the keys of an s 3.x file (Serverless-Devs/Serverless-Devs
// docs/zh/yaml.md, and extend/env in docs/zh/extend.md and docs/zh/command/env.md).
var sTopLevelKeys = []string{"edition", "name", "access", "vars", "actions", "resources", "template", "flow", "extend", "env"}

// sResourceKeys are the keys of one resource (docs/zh/yaml.md, "resources").
var sResourceKeys = []string{"component", "props", "actions", "extend"}

// sMagic are the functions the engine evaluates in ${...} besides vars and resources
// (docs/zh/yaml.md "变量赋值"); config('AccountID') is the only one s.yaml may use,
// and the tests give it a sample value.
var sMagic = regexp.MustCompile(`^(env|file|json|path|config)\(`)

// sampleAccountID stands for ${config('AccountID')} (s config's account) in the tests.
const sampleAccountID = "1234567890123456"

var sExpr = regexp.MustCompile(`\$\{([^{}]*)\}`)

// sRef is a parsed ${resources.X.KIND.KEY...} expression.
var sRef = regexp.MustCompile(`^resources\.([^.]+)\.(output|info|props)\.([^.]+)`)

// sCheck holds what validating s.yaml needs.
type sCheck struct {
	doc      map[string]any
	template map[string]any // template.yaml, which the ros resources deploy
	problems []string
}

func (c *sCheck) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// validateS validates a parsed s.yaml; template is the parsed template.yaml.
func validateS(t testing.TB, doc, template map[string]any) []string {
	c := &sCheck{doc: doc, template: template}
	if v := strAt(doc, "edition"); v != "3.0.0" {
		c.addf("edition %q, want 3.0.0", v)
	}
	for _, k := range sortedKeys(doc) {
		if !slices.Contains(sTopLevelKeys, k) {
			c.addf("unknown top-level key %s (%v)", k, sTopLevelKeys)
		}
	}
	for _, k := range sortedKeys(mapAt(doc, "vars")) {
		if _, ok := get(doc, "vars", k).(string); !ok {
			c.addf("vars.%s is %T, want a string", k, get(doc, "vars", k))
		}
	}
	c.checkFlow()
	for _, name := range sortedKeys(mapAt(doc, "resources")) {
		res := mapAt(doc, "resources", name)
		for _, k := range sortedKeys(res) {
			if !slices.Contains(sResourceKeys, k) {
				c.addf("resources.%s: unknown key %s (%v)", name, k, sResourceKeys)
			}
		}
		comp := strAt(res, "component")
		if _, known := components[comp]; !known {
			c.addf("resources.%s: component %q is not one the tests know (components_test.go)", name, comp)
			continue
		}
		c.checkExpressions("resources."+name+".props", name, res["props"])
		props := c.expand(res["props"])
		switch comp {
		case "fc3":
			c.checkFC3(t, name, props)
		case "ros":
			c.checkROSProps(t, name, props)
		}
	}
	slices.Sort(c.problems)
	return slices.Compact(c.problems)
}

// checkFlow: each flow lists every resource exactly once (the engine skips a resource a
// flow leaves out: docs/zh/flow.md), as lists of resources run together.
func (c *sCheck) checkFlow() {
	resources := sortedKeys(mapAt(c.doc, "resources"))
	for _, cmd := range sortedKeys(mapAt(c.doc, "flow")) {
		var listed []string
		for i, step := range listAt(c.doc, "flow", cmd) {
			group, ok := step.([]any)
			if !ok {
				c.addf("flow.%s[%d]: %v, want a list of resources run together", cmd, i, step)
				continue
			}
			for _, r := range group {
				name := fmt.Sprint(r)
				if !slices.Contains(resources, name) {
					c.addf("flow.%s[%d]: %s is not a resource", cmd, i, name)
				}
				listed = append(listed, name)
			}
		}
		slices.Sort(listed)
		if !slices.Equal(listed, resources) {
			c.addf("flow.%s lists %v, want every resource once: %v", cmd, listed, resources)
		}
	}
}

// flowOrder returns the resources in the order of flow.<cmd>, or nil.
func flowOrder(doc map[string]any, cmd string) []string {
	var out []string
	for _, step := range listAt(doc, "flow", cmd) {
		for _, r := range asList(step) {
			out = append(out, fmt.Sprint(r))
		}
	}
	return out
}

// checkExpressions checks every ${...} in a resource's props: vars exist; references
// name a resource and a key its component returns; and no resource takes another's
// output, which a command naming one resource (`s detach-keypair invoke`) leaves empty
// (Serverless-Devs/toolkit engine getFilterContext: output of steps run in this command).
func (c *sCheck) checkExpressions(where, self string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			c.checkExpressions(where+"."+k, self, v[k])
		}
	case []any:
		for i, e := range v {
			c.checkExpressions(fmt.Sprintf("%s[%d]", where, i), self, e)
		}
	case string:
		for _, m := range sExpr.FindAllStringSubmatch(v, -1) {
			expr := strings.TrimSpace(m[1])
			switch {
			case strings.HasPrefix(expr, "vars."):
				if _, ok := mapAt(c.doc, "vars")[strings.TrimPrefix(expr, "vars.")]; !ok {
					c.addf("%s: ${%s} names no var", where, expr)
				}
			case strings.HasPrefix(expr, "resources."):
				c.checkReference(where, self, expr)
			case strings.HasPrefix(expr, "config("):
				if !strings.Contains(expr, "AccountID") {
					c.addf("%s: ${%s}: the tests know config('AccountID') only", where, expr)
				}
			case sMagic.MatchString(expr):
			default:
				c.addf("%s: ${%s} is not an s 3.x expression the tests know", where, expr)
			}
		}
	}
}

// checkReference checks one ${resources.X.KIND.KEY...}.
func (c *sCheck) checkReference(where, self, expr string) {
	m := sRef.FindStringSubmatch(expr)
	if m == nil {
		c.addf("%s: ${%s}: want resources.<name>.output|info|props.<key>", where, expr)
		return
	}
	target, kind, key := m[1], m[2], m[3]
	res := mapAt(c.doc, "resources", target)
	if res == nil {
		c.addf("%s: ${%s} names no resource %s", where, expr, target)
		return
	}
	comp := components[strAt(res, "component")]
	var keys []string
	switch kind {
	case "props":
		keys = sortedKeys(mapAt(res, "props"))
	case "output":
		if target != self {
			c.addf("%s: ${%s} is empty in a command that names %s alone (`s %s <command>`): %s does not run then; build the value from vars, or use ${resources.%s.info.%s}, which runs %s's info first",
				where, expr, self, self, target, target, key, target)
		}
		keys = comp.outputKeys
	case "info":
		if _, has := comp.commands["info"]; !has {
			c.addf("%s: ${%s}: component %s has no info command", where, expr, strAt(res, "component"))
			return
		}
		keys = comp.infoKeys
	}
	if strAt(res, "component") == "ros" && kind != "props" {
		keys = c.rosOutputKeys(target)
	}
	if !slices.Contains(keys, key) {
		c.addf("%s: ${%s}: %s's %s has no key %s (it has %v)", where, expr, target, kind, key, keys)
	}
}

// rosOutputKeys are the keys the ros component returns for a stack: stackId and the
// template's outputs whose Condition holds with the parameters the resource passes.
func (c *sCheck) rosOutputKeys(resource string) []string {
	props := c.expand(mapAt(c.doc, "resources", resource, "props"))
	combo := map[string]string{}
	for k, v := range mapAt(props, "parameters") {
		combo[k] = fmt.Sprint(v)
	}
	conds := resolveConditions(c.template, combo)
	keys := []string{"stackId"}
	for _, name := range sortedKeys(mapAt(c.template, "Outputs")) {
		if cond, ok := mapAt(c.template, "Outputs", name)["Condition"]; ok && !conds[fmt.Sprint(cond)] {
			continue
		}
		keys = append(keys, name)
	}
	return keys
}

// expand returns v with ${vars.x} and ${config('AccountID')} replaced by their values;
// other expressions stay as they are.
func (c *sCheck) expand(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = c.expand(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = c.expand(e)
		}
		return out
	case string:
		return expandS(v, func(name string) (string, bool) {
			val, ok := get(c.doc, "vars", name).(string)
			return val, ok
		})
	}
	return v
}

// expandS replaces ${vars.NAME} (with var's value, when it has one) and
// ${config('AccountID')} (with sampleAccountID) in s; other expressions stay.
func expandS(s string, vars func(name string) (string, bool)) string {
	return sExpr.ReplaceAllStringFunc(s, func(m string) string {
		expr := strings.TrimSpace(sExpr.FindStringSubmatch(m)[1])
		if name, ok := strings.CutPrefix(expr, "vars."); ok {
			if val, ok := vars(name); ok {
				return val
			}
		}
		if strings.HasPrefix(expr, "config(") && strings.Contains(expr, "AccountID") {
			return sampleAccountID
		}
		return m
	})
}

// ---- fc3 ----

// fc3SchemaOnce reads fc3-schema.json once and makes it strict: every object schema that
// lists its properties accepts no other (the component ignores a misspelled property
// silently), except inside `if` (which only selects the branch), and with the fields it
// calls required but does not need relaxed (components_test.go fc3OptionalInPractice).
var fc3SchemaOnce = sync.OnceValues(func() (any, error) {
	data, err := os.ReadFile(filepath.Join(specDir, "fc3-schema.json"))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	strictObjects(doc)
	for def, objects := range fc3OptionalInPractice {
		for ptr, fields := range objects {
			obj := mapAt(get(doc, "definitions", def))
			for _, key := range strings.Split(strings.Trim(ptr, "/"), "/") {
				if key != "" {
					obj = mapAt(obj, key)
				}
			}
			if obj == nil {
				return nil, fmt.Errorf("fc3-schema.json has no %s%s: update fc3OptionalInPractice", def, ptr)
			}
			obj["required"] = slices.DeleteFunc(listAt(obj, "required"), func(r any) bool { return slices.Contains(fields, fmt.Sprint(r)) })
		}
	}
	return doc, nil
})

// fc3Schema returns the strict fc3-schema.json (fc3SchemaOnce).
func fc3Schema(t testing.TB) any {
	t.Helper()
	doc, err := fc3SchemaOnce()
	if err != nil {
		t.Fatalf("%s/fc3-schema.json: %v", specDir, err)
	}
	return doc
}

// strictObjects sets additionalProperties: false on every object schema with properties
// that says nothing of others, except under `if`.
func strictObjects(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, has := v["properties"]; has {
			if _, says := v["additionalProperties"]; !says {
				v["additionalProperties"] = false
			}
		}
		for k, e := range v {
			if k != "if" {
				strictObjects(e)
			}
		}
	case []any:
		for _, e := range v {
			strictObjects(e)
		}
	}
}

// compileSchema compiles one schema document (and a location in it).
func compileSchema(doc any, loc string) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///spec.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("file:///spec.json" + loc)
}

// schemaProblems validates a value (as JSON sees it) and lists what fails.
func schemaProblems(sch *jsonschema.Schema, where string, v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if err == nil {
		return nil
	}
	if !errors.As(err, &ve) {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	// The error's text is a tree of "- at '<instance location>': <message>" lines; the
	// group lines (anyOf failed, ...) only introduce the ones below them.
	var out []string
	for _, line := range strings.Split(ve.Error(), "\n") {
		m := schemaErrorLine.FindStringSubmatch(line)
		if m == nil || schemaGroupMessage.MatchString(m[2]) {
			continue
		}
		out = append(out, fmt.Sprintf("%s%s: %s", where, m[1], m[2]))
	}
	if out == nil {
		out = []string{fmt.Sprintf("%s: %v", where, err)}
	}
	return out
}

var (
	schemaErrorLine    = regexp.MustCompile(`^\s*- at '([^']*)': (.*)$`)
	schemaGroupMessage = regexp.MustCompile(`^(validation|anyOf|allOf|oneOf|if-then|if-else|not) failed`)
)

// checkFC3 validates an fc3 resource's props against the schema, and each trigger's
// config against the definition of its trigger type.
func (c *sCheck) checkFC3(t testing.TB, name string, props any) {
	doc := fc3Schema(t)
	where := "resources." + name + ".props"
	sch, err := compileSchema(doc, "")
	if err != nil {
		t.Fatalf("fc3-schema.json: %v", err)
	}
	c.problems = append(c.problems, schemaProblems(sch, where, props)...)
	for i, tr := range listAt(props, "triggers") {
		typ := strAt(tr, "triggerType")
		def, ok := triggerConfigDefinitions[typ]
		if !ok {
			continue // the schema's enum reports it
		}
		sch, err := compileSchema(doc, "#/definitions/"+def)
		if err != nil {
			t.Fatalf("fc3-schema.json %s: %v", def, err)
		}
		c.problems = append(c.problems, schemaProblems(sch, fmt.Sprintf("%s/triggers/%d/triggerConfig", where, i), get(tr, "triggerConfig"))...)
	}
}

// ---- ros ----

// rosComponentSchema turns the ros component's publish.yaml Properties into a JSON
// Schema: each property's type, enum and nested properties, required ones required, no
// others; `template` may also be a string (components_test.go rosTemplateAsString).
func rosComponentSchema(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(specDir, "ros-component-publish.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pub map[string]any
	if err := yaml.Unmarshal(data, &pub); err != nil {
		t.Fatal(err)
	}
	props := mapAt(pub, "Properties")
	if props == nil {
		t.Fatal("ros-component-publish.yaml has no Properties")
	}
	schema := publishSchema(props)
	if rosTemplateAsString {
		tmpl := mapAt(schema, "properties", "template")
		schema["properties"].(map[string]any)["template"] = map[string]any{"anyOf": []any{tmpl, map[string]any{"type": "string"}}}
	}
	return schema
}

// publishSchema converts publish.yaml property declarations to a JSON Schema object.
func publishSchema(props map[string]any) map[string]any {
	properties := map[string]any{}
	var required []any
	for _, name := range sortedKeys(props) {
		p := mapAt(props, name)
		s := map[string]any{}
		if typ := strAt(p, "type"); typ != "" {
			s["type"] = typ
		}
		if enum := listAt(p, "enum"); enum != nil {
			s["enum"] = enum
		}
		if nested := mapAt(p, "properties"); nested != nil {
			for k, v := range publishSchema(nested) {
				s[k] = v
			}
		}
		if b, _ := p["required"].(bool); b {
			required = append(required, name)
		}
		properties[name] = s
	}
	out := map[string]any{"type": "object", "properties": properties, "additionalProperties": false}
	if required != nil {
		out["required"] = required
	}
	return out
}

// checkROSProps validates a ros resource's props against the component's spec, and its
// parameters against the template it deploys: declared, strings (the component passes
// them to ROS's CreateStack as they are), allowed, and satisfying the template's Rules.
func (c *sCheck) checkROSProps(t testing.TB, name string, props any) {
	where := "resources." + name + ".props"
	sch, err := compileSchema(rosComponentSchema(t), "")
	if err != nil {
		t.Fatalf("ros-component-publish.yaml: %v", err)
	}
	c.problems = append(c.problems, schemaProblems(sch, where, props)...)
	tmpl := strAt(props, "template")
	if tmpl != "./template.yaml" {
		c.addf("%s.template: %q, want ./template.yaml (the component reads it from the working directory: run s from the repository root)", where, tmpl)
	}
	params := mapAt(c.template, "Parameters")
	values := map[string]string{}
	for _, k := range sortedKeys(params) {
		if def, ok := mapAt(params, k)["Default"]; ok {
			values[k] = fmt.Sprint(def)
		}
	}
	for _, k := range sortedKeys(mapAt(props, "parameters")) {
		v := get(props, "parameters", k)
		s, isString := v.(string)
		if !isString {
			c.addf("%s.parameters.%s: %T %v, want a string", where, k, v, v)
		}
		p := mapAt(params, k)
		if p == nil {
			c.addf("%s.parameters.%s: template.yaml declares no parameter %s", where, k, k)
			continue
		}
		values[k] = s
		if strings.Contains(s, "${") {
			continue
		}
		if msg := parameterValueProblem(p, s); msg != "" {
			c.addf("%s.parameters.%s: %q %s", where, k, s, msg)
		}
	}
	for _, p := range ruleViolations(c.template, values) {
		c.addf("%s.parameters: %s", where, p)
	}
}

// TestSValidatesAgainstComponentSpecs: s.yaml has no problem the fc3 schema, the ros
// component's specification, the template it deploys and the s 3.x rules can show.
func TestSValidatesAgainstComponentSpecs(t *testing.T) {
	s := loadS(t)
	r := loadROS(t)
	for _, p := range validateS(t, s.doc, r.doc) {
		t.Error("s.yaml: " + p)
	}
}
