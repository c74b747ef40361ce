package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"detachkeypair/detach"
	"detachkeypair/settings"
)

// The commands and snippets of deploy/README.md, checked: against the s 3.x rules and the
// components' commands, against the deployment files, and, where they run offline, run.

// codeBlock is a fenced block of a Markdown file.
type codeBlock struct {
	lang, text string
	line       int
}

var fence = regexp.MustCompile("^```([a-z]*)\\s*$")

// codeBlocks returns the fenced blocks of a Markdown text.
func codeBlocks(md string) []codeBlock {
	var out []codeBlock
	var cur *codeBlock
	var body []string
	for i, line := range strings.Split(md, "\n") {
		m := fence.FindStringSubmatch(strings.TrimSpace(line))
		switch {
		case m != nil && cur == nil:
			cur, body = &codeBlock{lang: m[1], line: i + 1}, nil
		case m != nil && m[1] == "":
			cur.text = strings.Join(body, "\n")
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	return out
}

// sBuiltins are the s tool's own commands and flags (Serverless-Devs/Serverless-Devs
// docs/zh/command/), which run no component.
var sBuiltins = []string{"-v", "--version", "config", "init", "set", "cli", "registry", "component", "clean", "env", "preview", "verify"}

var inlineCommand = regexp.MustCompile("`((?:s|make|aliyun) [^`]+)`")

// documentedCommands returns the shell of a Markdown text: its sh blocks, and its inline
// code spans that are s, make or aliyun commands.
func documentedCommands(md string) []codeBlock {
	var out []codeBlock
	for _, b := range codeBlocks(md) {
		if b.lang == "sh" {
			out = append(out, b)
		}
	}
	for i, line := range strings.Split(md, "\n") {
		for _, m := range inlineCommand.FindAllStringSubmatch(line, -1) {
			out = append(out, codeBlock{lang: "sh", text: m[1], line: i + 1})
		}
	}
	return out
}

// shellCommands returns the simple commands of a shell block: continuation lines joined,
// comments dropped, split at && and |, each as its words (quotes removed).
func shellCommands(text string) [][]string {
	var out [][]string
	joined := strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		var words []string
		var word strings.Builder
		inWord := false
		quote := rune(0)
		flush := func() {
			if inWord {
				words = append(words, word.String())
			}
			word.Reset()
			inWord = false
		}
		runes := []rune(line)
		for i := 0; i < len(runes); i++ {
			r := runes[i]
			switch {
			case quote != 0:
				if r == quote {
					quote = 0
				} else {
					word.WriteRune(r)
				}
			case r == '\'' || r == '"':
				quote, inWord = r, true
			case r == '#' && !inWord:
				i = len(runes) // a comment
			case r == ' ' || r == '\t':
				flush()
			case r == '&' && i+1 < len(runes) && runes[i+1] == '&', r == '|':
				flush()
				if len(words) > 0 {
					out = append(out, words)
				}
				words = nil
				if r == '&' {
					i++
				}
			default:
				word.WriteRune(r)
				inWord = true
			}
		}
		flush()
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// aliyunAPIs are the cloud APIs deploy/README.md calls with the aliyun CLI, and their
// parameters as the APIs' documentation gives them (ROS 2019-09-10 CreateStack, GetStack,
// DeleteStack; EventBridge 2020-04-01 CreateEventBus, CreateServiceLinkedRoleForProduct;
// RAM CreateServiceLinkedRole). --region is the CLI's own flag; `aliyun configure` its
// own command.
var aliyunAPIs = map[string][]string{
	"ros CreateStack":            {"RegionId", "StackName", "TemplateBody", "TimeoutInMinutes", "Parameters.N.ParameterKey", "Parameters.N.ParameterValue"},
	"ros UpdateStack":            {"RegionId", "StackId", "TemplateBody", "TimeoutInMinutes", "Parameters.N.ParameterKey", "Parameters.N.ParameterValue"},
	"ros GetStack":               {"RegionId", "StackId"},
	"ros DeleteStack":            {"RegionId", "StackId"},
	"eventbridge CreateEventBus": {"region", "EventBusName", "Description"},
	"eventbridge CreateServiceLinkedRoleForProduct": {"region", "ProductName"},
	"ram CreateServiceLinkedRole":                   {"ServiceName"},
	"oss cp":                                        {},
}

var indexedParam = regexp.MustCompile(`\.\d+\.`)

// TestDeployREADMECommands checks every command of deploy/README.md.
func TestDeployREADMECommands(t *testing.T) {
	s := loadS(t)
	r := loadROS(t)
	rules, _ := makeRules(t)
	md := string(readRepoFile(t, "deploy/README.md"))
	var sCommands, busesCreated, problems []string
	checked := 0
	for _, b := range documentedCommands(md) {
		for _, words := range shellCommands(b.text) {
			where := fmt.Sprintf("deploy/README.md:%d: %s", b.line, strings.Join(words, " "))
			switch words[0] {
			case "s":
				problems = append(problems, checkSCommand(where, s, words[1:])...)
				sCommands = append(sCommands, strings.Join(words, " "))
			case "make":
				for _, w := range words[1:] {
					if !strings.Contains(w, "=") {
						if _, ok := rules[w]; !ok {
							problems = append(problems, fmt.Sprintf("%s: the Makefile has no target %s", where, w))
						}
					}
				}
			case "aliyun":
				buses, p := checkAliyunCommand(where, r, words[1:])
				busesCreated = append(busesCreated, buses...)
				problems = append(problems, p...)
			default:
				continue
			}
			checked++
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	// The prerequisites create exactly the two buses of the deployment files.
	slices.Sort(busesCreated)
	want := []string{s.vars["requestBus"], s.vars["resultBus"]}
	slices.Sort(want)
	if !slices.Equal(busesCreated, want) {
		t.Errorf("deploy/README.md creates the buses %v, want those of s.yaml and template.yaml: %v", busesCreated, want)
	}
	for _, param := range []string{"RequestBusName", "ResultBusName"} {
		if def := strAt(r.doc, "Parameters", param, "Default"); !slices.Contains(busesCreated, def) {
			t.Errorf("deploy/README.md does not create %s's default bus %q", param, def)
		}
	}
	// Each resource can be deployed and removed on its own, as documented.
	for _, name := range sortedKeys(mapAt(s.doc, "resources")) {
		for _, cmd := range []string{"remove"} {
			if !slices.ContainsFunc(sCommands, func(c string) bool { return strings.HasPrefix(c, "s "+name+" "+cmd) }) {
				t.Errorf("deploy/README.md does not show `s %s %s`", name, cmd)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d commands found in deploy/README.md's sh blocks; has its format changed?", checked)
	}
	t.Logf("%d commands checked", checked)
}

// checkSCommand checks `s [resource] command [options]` against s.yaml, the components'
// commands and options, and the s 3.x rules.
func checkSCommand(where string, s sFile, args []string) (problems []string) {
	errorf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if len(args) == 0 {
		errorf("%s: no command", where)
		return
	}
	if slices.Contains(sBuiltins, args[0]) {
		return nil // the s tool's own command, not a component's
	}
	resources := sortedKeys(mapAt(s.doc, "resources"))
	targets := resources
	if slices.Contains(resources, args[0]) {
		targets, args = []string{args[0]}, args[1:]
	}
	if len(args) == 0 {
		errorf("%s: no command", where)
		return
	}
	cmd, opts := args[0], args[1:]
	var known []string
	for _, res := range targets {
		comp := strAt(s.doc, "resources", res, "component")
		options, has := components[comp].commands[cmd]
		if !has {
			errorf("%s: component %s (resource %s) has no %s command", where, comp, res, cmd)
		}
		known = append(known, options...)
	}
	for i := 0; i < len(opts); i++ {
		opt := opts[i]
		if !strings.HasPrefix(opt, "-") {
			continue // a value
		}
		name, _, _ := strings.Cut(opt, "=")
		if !slices.Contains(known, name) && !slices.Contains(sOptions, name) {
			errorf("%s: %s is not an option of %s for %v", where, name, cmd, targets)
		}
		if cmd == "deploy" && name == "--trigger" && i+1 < len(opts) {
			for _, tr := range strings.Split(opts[i+1], ",") {
				if !slices.ContainsFunc(listAt(mapAt(s.doc, "resources", targets[0], "props"), "triggers"), func(x any) bool { return strAt(x, "triggerName") == tr }) {
					errorf("%s: s.yaml has no trigger %s", where, tr)
				}
			}
		}
	}
	if len(targets) > 1 && cmd == "remove" && flowOrder(s.doc, "remove") == nil {
		errorf("%s: without flow.remove, s removes in deploy order: the role before the function", where)
	}
	// s 3.x: a command naming one resource gets no output of the others.
	if len(targets) == 1 {
		props, _ := json.Marshal(mapAt(s.doc, "resources", targets[0], "props"))
		for _, m := range sExpr.FindAllStringSubmatch(string(props), -1) {
			if ref := sRef.FindStringSubmatch(m[1]); ref != nil && ref[2] == "output" && ref[1] != targets[0] {
				errorf("%s: %s's props use ${%s}, which is empty when %s alone runs", where, targets[0], m[1], targets[0])
			}
		}
	}
	return problems
}

// checkAliyunCommand checks an aliyun CLI command against the APIs' parameters and
// template.yaml; it returns the buses it creates.
func checkAliyunCommand(where string, r rosFile, args []string) (buses, problems []string) {
	errorf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if len(args) < 2 && (len(args) == 0 || args[0] != "configure") {
		errorf("%s: want aliyun <product> <API>", where)
		return nil, problems
	}
	if args[0] == "configure" {
		return nil, nil
	}
	api := args[0] + " " + args[1]
	params, known := aliyunAPIs[api]
	if !known {
		errorf("%s: %s is not an API the tests know (aliyunAPIs)", where, api)
		return nil, problems
	}
	flags := map[string]string{}
	for i := 2; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		value := ""
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			value = args[i+1]
		}
		flags[name] = value
		if !slices.Contains(params, indexedParam.ReplaceAllString(name, ".N.")) {
			errorf("%s: %s has no parameter %s (%v)", where, api, name, params)
		}
		if strings.HasSuffix(name, ".ParameterKey") && mapAt(r.doc, "Parameters", value) == nil {
			errorf("%s: template.yaml declares no parameter %s", where, value)
		}
	}
	if api == "eventbridge CreateEventBus" {
		buses = append(buses, flags["EventBusName"])
	}
	return buses, problems
}

// TestREADMESnippetsParse: every JSON and YAML block of the READMEs parses.
func TestREADMESnippetsParse(t *testing.T) {
	for _, file := range []string{"deploy/README.md", "README.md"} {
		for _, b := range codeBlocks(string(readRepoFile(t, file))) {
			var v any
			switch b.lang {
			case "json":
				if err := json.Unmarshal([]byte(b.text), &v); err != nil {
					t.Errorf("%s:%d: the JSON block does not parse: %v", file, b.line, err)
				}
			case "yaml":
				if err := yaml.Unmarshal([]byte(b.text), &v); err != nil {
					t.Errorf("%s:%d: the YAML block does not parse: %v", file, b.line, err)
				}
			}
		}
	}
	// The deployer's policy: RAM actions, and the fc3 actions of what s.yaml deploys.
	for _, b := range codeBlocks(string(readRepoFile(t, "deploy/README.md"))) {
		if b.lang != "json" || !strings.Contains(b.text, `"Statement"`) {
			continue
		}
		var policy map[string]any
		json.Unmarshal([]byte(b.text), &policy)
		var actions []string
		for _, st := range listAt(policy, "Statement") {
			for _, a := range asList(get(st, "Action")) {
				actions = append(actions, fmt.Sprint(a))
			}
		}
		for _, a := range actions {
			if !regexp.MustCompile(`^[a-z]+:[A-Z][A-Za-z]+$`).MatchString(a) {
				t.Errorf("deploy/README.md:%d: %q is not a RAM action", b.line, a)
			}
		}
		for _, want := range []string{"fc:PutAsyncInvokeConfig", "fc:PutConcurrencyConfig", "eventbridge:PutTargets", "ram:PassRole", "ram:CreateServiceLinkedRole", "eventbridge:CreateEventBus"} {
			if !slices.Contains(actions, want) {
				t.Errorf("deploy/README.md:%d: the deployer's policy lacks %s", b.line, want)
			}
		}
	}
}

// resultEvent is a result event of the function, as it puts it on the bus.
func resultEvent(t *testing.T, res *detach.Result, failure *detach.ErrorResponse) map[string]any {
	t.Helper()
	ev := detach.NewEvent(detach.EventScope{Source: settings.DefaultEventSource, Region: "cn-hangzhou", AccountID: sampleAccountID, RequestID: "1-0"}, res, failure, "ops-2026")
	data, err := json.Marshal(ev.Data)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return map[string]any{"specversion": "1.0", "id": ev.ID, "source": ev.Source, "type": ev.Type, "subject": ev.Subject, "data": m}
}

var inlineJSON = regexp.MustCompile("`(\\{\"source\"[^`]*\\})`")

// TestREADMEPatterns: the event patterns the READMEs give (blocks and inline) match the
// events they are for and no others: ECS's stop event, the ops request, and the
// function's result events by kind.
func TestREADMEPatterns(t *testing.T) {
	failed := detach.Result{TotalCount: 2, FailCount: 1}
	clean := detach.Result{TotalCount: 2}
	events := map[string]map[string]any{
		"events/ecs-instance-stopped.json": loadJSON(t, "events/ecs-instance-stopped.json"),
		"events/eventbridge.json":          loadJSON(t, "events/eventbridge.json"),
		"a result with a failed instance":  resultEvent(t, &failed, nil),
		"a result without failures":        resultEvent(t, &clean, nil),
		"a request-level failure":          resultEvent(t, nil, &detach.ErrorResponse{Code: "InvalidKeyPair.NotFound"}),
	}
	// Which events each kind of pattern is for, by what it selects.
	wantFor := func(p map[string]any) []string {
		src := fmt.Sprint(listAt(p, "source"))
		switch {
		case strings.Contains(src, "acs.ecs"):
			return []string{"events/ecs-instance-stopped.json"}
		case strings.Contains(src, "ops-portal"):
			return []string{"events/eventbridge.json"}
		case strings.Contains(fmt.Sprint(p["type"]), detach.EventFailed):
			return []string{"a request-level failure"}
		case get(p, "data", "FailCount") != nil:
			return []string{"a result with a failed instance"}
		}
		return nil
	}
	found := 0
	for _, file := range []string{"README.md", "deploy/README.md"} {
		md := string(readRepoFile(t, file))
		var snippets []string
		for _, b := range codeBlocks(md) {
			if b.lang == "json" && strings.Contains(b.text, `"source"`) && !strings.Contains(b.text, `"specversion"`) {
				snippets = append(snippets, b.text)
			}
		}
		for _, m := range inlineJSON.FindAllStringSubmatch(md, -1) {
			snippets = append(snippets, m[1])
		}
		for _, snippet := range snippets {
			var pattern map[string]any
			if err := json.Unmarshal([]byte(snippet), &pattern); err != nil {
				t.Errorf("%s: pattern %s: %v", file, snippet, err)
				continue
			}
			want := wantFor(pattern)
			if want == nil {
				t.Errorf("%s: pattern %s: the test does not know which events it is for", file, snippet)
				continue
			}
			found++
			for _, name := range sortedKeys(events) {
				expectMatch(t, file+" pattern "+snippet, pattern, name, events[name], slices.Contains(want, name))
			}
		}
	}
	if found < 3 {
		t.Errorf("%d patterns found in the READMEs, want at least the ECS, the failures and the request-level ones", found)
	}
	t.Logf("%d patterns checked against %d events", found, len(events))
}

// TestPackageIsReproducible runs the documented `make package && sha256sum
// dist/detach-keypair.zip` twice (into two directories) and compares the sums.
func TestPackageIsReproducible(t *testing.T) {
	var sums []string
	for range 2 {
		data, err := os.ReadFile(makePackage(t))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums = append(sums, hex.EncodeToString(sum[:]))
	}
	if sums[0] != sums[1] {
		t.Errorf("make package gave two zips: sha256 %s and %s", sums[0], sums[1])
	}
	t.Logf("sha256 %s, twice", sums[0])
}

// TestREADMECheckersCatchMistakes: the command checks report commands that would not work.
func TestREADMECheckersCatchMistakes(t *testing.T) {
	s := loadS(t)
	r := loadROS(t)
	noRemoveFlow := sFile{doc: deepCopy(s.doc).(map[string]any), vars: s.vars}
	set(t, noRemoveFlow.doc, nil, "flow", "remove")
	usesOutput := sFile{doc: deepCopy(s.doc).(map[string]any), vars: s.vars}
	set(t, usesOutput.doc, "${resources.base.output.RoleArn}", "resources", "detach-keypair", "props", "role")
	cases := []struct {
		s    sFile
		cmd  string
		want string
	}{
		{s, "s detach-keypair deploy --functions code -y", "--functions is not an option of deploy"},
		{s, "s routes invoke -e {}", "component ros (resource routes) has no invoke command"},
		{s, "s detach-keypair deploy --trigger nightly -y", "s.yaml has no trigger nightly"},
		{s, "s detach-keypair logs --follow", "--follow is not an option of logs"},
		{noRemoveFlow, "s remove -y", "without flow.remove, s removes in deploy order"},
		{usesOutput, "s detach-keypair invoke -e {}", "which is empty when detach-keypair alone runs"},
		{s, "aliyun ros CreateStack --Parameters.1.ParameterKey EventBusName --Parameters.1.ParameterValue x", "template.yaml declares no parameter EventBusName"},
		{s, "aliyun eventbridge CreateEventBus --Name ops-requests", "eventbridge CreateEventBus has no parameter Name"},
		{s, "aliyun eventbridge DeleteEventBus --EventBusName ops-requests", "not an API the tests know"},
	}
	for _, c := range cases {
		words := shellCommands(c.cmd)[0]
		var problems []string
		if words[0] == "s" {
			problems = checkSCommand(c.cmd, c.s, words[1:])
		} else {
			_, problems = checkAliyunCommand(c.cmd, r, words[1:])
		}
		expectProblems(t, problems, []string{c.want})
	}
	for _, ok := range []string{"s detach-keypair deploy --function code -y", "s remove -y", "s detach-keypair invoke -e '{\"a\": 1}'"} {
		words := shellCommands(ok)[0]
		if p := checkSCommand(ok, s, words[1:]); p != nil {
			t.Errorf("%s: %v", ok, p)
		}
	}
	// A failures-only pattern that also matched results without failures would be caught.
	clean := detach.Result{TotalCount: 2}
	loose := map[string]any{"source": []any{settings.DefaultEventSource}, "data": map[string]any{"FailCount": []any{map[string]any{"numeric": []any{">=", 0.0}}}}}
	if ok, err := matches(loose, resultEvent(t, &clean, nil)); !ok || err != nil {
		t.Errorf("the matcher does not apply numeric >= 0 to FailCount 0: %v %v", ok, err)
	}
}
