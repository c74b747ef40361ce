package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository root, seen from this package's directory (where go test runs).
const repoRoot = ".."

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadYAML parses a YAML file of the repository into maps, lists and scalars.
func loadYAML(t *testing.T, name string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(readRepoFile(t, name), &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// loadJSON parses a JSON file of the repository.
func loadJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(readRepoFile(t, name), &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// get walks a parsed document along keys; it returns nil where the path ends early.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapAt(v any, keys ...string) map[string]any {
	m, _ := get(v, keys...).(map[string]any)
	return m
}

func listAt(v any, keys ...string) []any {
	l, _ := get(v, keys...).([]any)
	return l
}

func strAt(v any, keys ...string) string {
	s, _ := get(v, keys...).(string)
	return s
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- s.yaml ----

// sFile is s.yaml: Serverless Devs 3.x, resources of the fc3 and ros components.
type sFile struct {
	doc  map[string]any
	vars map[string]string
}

func loadS(t *testing.T) sFile {
	t.Helper()
	doc := loadYAML(t, "s.yaml")
	if v := strAt(doc, "edition"); v != "3.0.0" {
		t.Fatalf("s.yaml: edition %q, want 3.0.0 (Serverless Devs 3.x, the fc3 component)", v)
	}
	s := sFile{doc: doc, vars: map[string]string{}}
	for k, v := range mapAt(doc, "vars") {
		str, ok := v.(string)
		if !ok {
			t.Fatalf("s.yaml: vars.%s is %T, want a string", k, v)
		}
		s.vars[k] = str
	}
	return s
}

// expand replaces ${vars.x} by the value of var x and ${config('AccountID')} by
// sampleAccountID, as Serverless Devs does with real values; other ${…} expressions are
// left as they are.
func (s sFile) expand(t *testing.T, v string) string {
	t.Helper()
	return expandS(v, func(name string) (string, bool) {
		val, ok := s.vars[name]
		if !ok {
			t.Errorf("s.yaml: ${vars.%s} names no var", name)
		}
		return val, ok
	})
}

// resources returns the resources of one component, by name.
func (s sFile) resources(component string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range mapAt(s.doc, "resources") {
		if strAt(r, "component") == component {
			out[name] = mapAt(r, "props")
		}
	}
	return out
}

// function returns the name and props of the one fc3 resource.
func (s sFile) function(t *testing.T) (string, map[string]any) {
	t.Helper()
	fns := s.resources("fc3")
	if len(fns) != 1 {
		t.Fatalf("s.yaml: %d resources of component fc3 (%v), want one: the function", len(fns), sortedKeys(fns))
	}
	for name, props := range fns {
		return name, props
	}
	panic("unreachable")
}

// ---- template.yaml ----

// rosFile is template.yaml, a ROS template.
type rosFile struct {
	doc map[string]any
}

func loadROS(t *testing.T) rosFile {
	t.Helper()
	doc := loadYAML(t, "template.yaml")
	if v := strAt(doc, "ROSTemplateFormatVersion"); v != "2015-09-01" {
		t.Fatalf("template.yaml: ROSTemplateFormatVersion %q, want 2015-09-01", v)
	}
	return rosFile{doc: doc}
}

// ofType returns the resources of one type, by logical name.
func (r rosFile) ofType(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, res := range mapAt(r.doc, "Resources") {
		if strAt(res, "Type") == typ {
			out[name] = mapAt(res)
		}
	}
	return out
}

// one returns the single resource of a type.
func (r rosFile) one(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	rs := r.ofType(typ)
	if len(rs) != 1 {
		t.Fatalf("template.yaml: %d resources of type %s (%v), want one", len(rs), typ, sortedKeys(rs))
	}
	for name, res := range rs {
		return name, res
	}
	panic("unreachable")
}

// resolve evaluates the intrinsic functions of a template value that depend only on
// parameters ({"Ref": P} becomes P's default, Fn::Sub substitutes defaults and pseudo
// parameters; Fn::Replace, Fn::Split and Fn::ListMerge as resource-specs.json says) and
// returns the value; ok is false when something in it needs a deployed resource or is
// not understood.
func (r rosFile) resolve(v any) (out any, ok bool) {
	switch v := v.(type) {
	case map[string]any:
		if fn, arg, isFn := intrinsic(v); isFn && (fn == "Fn::Replace" || fn == "Fn::Split" || fn == "Fn::ListMerge") {
			args, ok := r.resolve(arg)
			if !ok {
				return nil, false
			}
			return applyListFunction(fn, args)
		}
		if ref, isRef := v["Ref"].(string); isRef && len(v) == 1 {
			if p, isPseudo := pseudoExample[ref]; isPseudo {
				return p, true
			}
			param := mapAt(r.doc, "Parameters", ref)
			def, has := param["Default"]
			if !has {
				return nil, false
			}
			return fmt.Sprint(def), true
		}
		if sub, isSub := v["Fn::Sub"].(string); isSub && len(v) == 1 {
			return r.substitute(sub)
		}
		m := map[string]any{}
		for k, e := range v {
			if strings.HasPrefix(k, "Fn::") {
				return nil, false
			}
			if m[k], ok = r.resolve(e); !ok {
				return nil, false
			}
		}
		return m, true
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			if l[i], ok = r.resolve(e); !ok {
				return nil, false
			}
		}
		return l, true
	}
	return v, true
}

// applyListFunction evaluates Fn::Replace ([{old: new, ...}, string]: each old
// replaced, in key order, where no old is part of another), Fn::Split ([delimiter,
// string]) and Fn::ListMerge ([[...], [...]]) on resolved arguments.
func applyListFunction(fn string, args any) (any, bool) {
	l, isList := args.([]any)
	if !isList {
		return nil, false
	}
	switch fn {
	case "Fn::Replace":
		pairs, isMap := l[0].(map[string]any)
		s, isString := l[1].(string)
		if len(l) != 2 || !isMap || !isString {
			return nil, false
		}
		olds := sortedKeys(pairs)
		for _, old := range olds {
			for _, other := range olds {
				if other != old && strings.Contains(other, old) {
					return nil, false // the order would matter
				}
			}
			replacement, isString := pairs[old].(string)
			if !isString {
				return nil, false
			}
			s = strings.ReplaceAll(s, old, replacement)
		}
		return s, true
	case "Fn::Split":
		delim, isDelim := l[0].(string)
		s, isString := l[1].(string)
		if len(l) != 2 || !isDelim || !isString || delim == "" {
			return nil, false
		}
		var out []any
		for _, part := range strings.Split(s, delim) {
			out = append(out, part)
		}
		return out, true
	case "Fn::ListMerge":
		var out []any
		for _, e := range l {
			part, isList := e.([]any)
			if !isList {
				return nil, false
			}
			out = append(out, part...)
		}
		return out, true
	}
	return nil, false
}

// withParameters returns the template with these parameter values as defaults, so that
// resolve evaluates it as a stack given them.
func (r rosFile) withParameters(values map[string]string) rosFile {
	doc := map[string]any{}
	for k, v := range r.doc {
		doc[k] = v
	}
	params := map[string]any{}
	for name, p := range mapAt(r.doc, "Parameters") {
		cp := map[string]any{}
		for k, v := range mapAt(p) {
			cp[k] = v
		}
		if v, ok := values[name]; ok {
			cp["Default"] = v
		}
		params[name] = cp
	}
	doc["Parameters"] = params
	return rosFile{doc: doc}
}

// substitute resolves the ${Name} of a Fn::Sub string with parameter defaults and
// pseudo parameters; ok is false when one names a resource or an attribute.
func (r rosFile) substitute(sub string) (string, bool) {
	ok := true
	out := subVar.ReplaceAllStringFunc(sub, func(m string) string {
		name := subVar.FindStringSubmatch(m)[1]
		if p, isPseudo := pseudoExample[name]; isPseudo {
			return p
		}
		if def, has := mapAt(r.doc, "Parameters", name)["Default"]; has {
			return fmt.Sprint(def)
		}
		ok = false
		return m
	})
	return out, ok
}

// isGetAtt reports whether v is {"Fn::GetAtt": [resource, attribute]}.
func isGetAtt(v any, resource, attribute string) bool {
	args := listAt(v, "Fn::GetAtt")
	return len(args) == 2 && args[0] == resource && args[1] == attribute
}

// ---- Makefile ----

// makeRule is a Makefile rule: its prerequisites and recipe lines.
type makeRule struct {
	prereqs []string
	recipe  []string
}

// makeRules parses the Makefile's rules and simple variable definitions.
func makeRules(t *testing.T) (rules map[string]makeRule, vars map[string]string) {
	t.Helper()
	rules, vars = map[string]makeRule{}, map[string]string{}
	var current string
	for _, line := range strings.Split(string(readRepoFile(t, "Makefile")), "\n") {
		switch {
		case strings.HasPrefix(line, "\t"):
			if current != "" {
				r := rules[current]
				r.recipe = append(r.recipe, strings.TrimSpace(line))
				rules[current] = r
			}
			continue
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			continue
		}
		current = ""
		if name, val, ok := strings.Cut(line, "?="); ok && !strings.Contains(name, ":") {
			vars[strings.TrimSpace(name)] = strings.TrimSpace(val)
			continue
		}
		if name, val, ok := strings.Cut(line, "="); ok && !strings.Contains(name, ":") {
			vars[strings.TrimSpace(name)] = strings.TrimSpace(val)
			continue
		}
		if target, prereqs, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(target, ".") {
			current = strings.TrimSpace(target)
			rules[current] = makeRule{prereqs: strings.Fields(prereqs)}
		}
	}
	return rules, vars
}

// ---- the go command ----

// goTool returns the go command, or skips the test when there is none.
func goTool(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH:", err)
	}
	return goBin
}

// runGo runs the go command in the repository root and returns its stdout.
func runGo(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool(t), args...)
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// makePackage runs `make package` into a new directory and returns the zip's path; it
// skips the test in -short mode or without make.
func makePackage(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the package")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dist := t.TempDir()
	cmd := exec.CommandContext(ctx, "make", "package", "DIST="+dist)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	return filepath.Join(dist, filepath.Base(ZipPath))
}

// ---- EventBridge patterns ----

// matches reports whether an event matches an EventBridge event pattern: each key of the
// pattern must match the event's field, a nested pattern a nested object, a list of
// conditions one of them: a value (equal), or a matching rule among prefix, suffix,
// anything-but, exists and numeric (EventBridge's "Event patterns" documentation). Other
// rules are refused rather than guessed.
func matches(pattern, event map[string]any) (bool, error) {
	for key, want := range pattern {
		got, present := event[key]
		switch want := want.(type) {
		case map[string]any:
			sub, isMap := got.(map[string]any)
			if !present || !isMap {
				return false, nil
			}
			if ok, err := matches(want, sub); !ok || err != nil {
				return false, err
			}
		case []any:
			found := false
			for _, w := range want {
				ok, err := matchesCondition(w, got, present)
				if err != nil {
					return false, fmt.Errorf("pattern %s: %w", key, err)
				}
				found = found || ok
			}
			if !found {
				return false, nil
			}
		default:
			return false, fmt.Errorf("pattern %s: %v (%T) is neither a list of conditions nor an object", key, want, want)
		}
	}
	return true, nil
}

// matchesCondition matches one condition of a pattern's list against a field.
func matchesCondition(cond, got any, present bool) (bool, error) {
	rule, isRule := cond.(map[string]any)
	if !isRule {
		return present && reflect.DeepEqual(cond, got), nil
	}
	if len(rule) != 1 {
		return false, fmt.Errorf("%v: one matching rule per condition", rule)
	}
	str, isStr := got.(string)
	for name, arg := range rule {
		switch name {
		case "exists":
			return arg == present, nil
		case "prefix":
			return present && isStr && strings.HasPrefix(str, fmt.Sprint(arg)), nil
		case "suffix":
			return present && isStr && strings.HasSuffix(str, fmt.Sprint(arg)), nil
		case "anything-but":
			for _, v := range asList(arg) {
				if reflect.DeepEqual(v, got) {
					return false, nil
				}
			}
			return present, nil
		case "numeric":
			n, isNum := got.(float64)
			terms := asList(arg)
			if !present || !isNum || len(terms)%2 != 0 {
				return false, nil
			}
			for i := 0; i < len(terms); i += 2 {
				v, _ := terms[i+1].(float64)
				var ok bool
				switch terms[i] {
				case "<":
					ok = n < v
				case "<=":
					ok = n <= v
				case "=":
					ok = n == v
				case ">=":
					ok = n >= v
				case ">":
					ok = n > v
				default:
					return false, fmt.Errorf("numeric operator %v", terms[i])
				}
				if !ok {
					return false, nil
				}
			}
			return true, nil
		}
		return false, fmt.Errorf("%s: a matching rule this test does not know", name)
	}
	return false, nil
}
