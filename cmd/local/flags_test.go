package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"detachkeypair/emulator"
)

// TestParse: the event comes from -e or the one argument, flags may follow it,
// and anything not understood stops with the usage (exit 2), never ignored.
func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		cmd     string
		args    []string
		want    options // the fields checked: event, dryRun, quiet, env, addr, timeout
		code    int     // when the parse stops
		stopped bool
		stderr  string // in what is printed
	}{
		{name: "file with -e", cmd: "invoke", args: []string{"-e", "events/direct.json"},
			want: options{event: "events/direct.json"}},
		{name: "positional file", cmd: "invoke", args: []string{"events/direct.json"},
			want: options{event: "events/direct.json"}},
		{name: "flags after the file", cmd: "invoke", args: []string{"events/direct.json", "--dry-run", "--quiet", "--env", "BATCH_SIZE=3"},
			want: options{event: "events/direct.json", dryRun: true, quiet: true, env: envFlag{"BATCH_SIZE=3"}}},
		{name: "flags around the file", cmd: "invoke", args: []string{"--quiet", "events/direct.json", "--timeout", "5s"},
			want: options{event: "events/direct.json", quiet: true, timeout: 5 * time.Second}},
		{name: "inline JSON", cmd: "invoke", args: []string{"-e", `{"KeyPairName":"ops-2026"}`},
			want: options{event: `{"KeyPairName":"ops-2026"}`}},
		{name: "stdin", cmd: "invoke", args: []string{"-e", "-", "--dry-run"},
			want: options{event: "-", dryRun: true}},
		{name: "stdin positional", cmd: "invoke", args: []string{"-"},
			want: options{event: "-"}},
		{name: "after --", cmd: "invoke", args: []string{"--quiet", "--", "--odd-name.json"},
			want: options{event: "--odd-name.json", quiet: true}},
		{name: "unknown flag", cmd: "invoke", args: []string{"events/direct.json", "--dryrun"},
			stopped: true, code: exitUsage, stderr: "flag provided but not defined: -dryrun"},
		{name: "unknown flag before", cmd: "invoke", args: []string{"--verbose", "events/direct.json"},
			stopped: true, code: exitUsage, stderr: "flag provided but not defined: -verbose"},
		{name: "two events", cmd: "invoke", args: []string{"events/direct.json", "events/http.json"},
			stopped: true, code: exitUsage, stderr: "one event at a time"},
		{name: "event twice", cmd: "invoke", args: []string{"-e", "events/http.json", "events/direct.json"},
			stopped: true, code: exitUsage, stderr: "the event is given twice"},
		{name: "env without value", cmd: "invoke", args: []string{"--env", "BATCH_SIZE"},
			stopped: true, code: exitUsage, stderr: "want NAME=VALUE"},
		{name: "timeout below FC's", cmd: "invoke", args: []string{"--timeout", "500ms"},
			stopped: true, code: exitUsage, stderr: "FC's smallest function timeout is 1s"},
		{name: "fault out of range", cmd: "invoke", args: []string{"--error-rate", "2"},
			stopped: true, code: exitUsage, stderr: "local invoke: emulator: fault for *: rate 2 is outside [0, 1]"},
		{name: "fault API mistyped", cmd: "invoke", args: []string{"--fault-api", "detachkeypair", "--drop-rate", "1"},
			stopped: true, code: exitUsage, stderr: `emulator: fault API "detachkeypair": did you mean DetachKeyPair?`},
		{name: "fault API unknown, no fault", cmd: "serve", args: []string{"--fault-api", "ens:DescribeTags"},
			stopped: true, code: exitUsage, stderr: `emulator: fault API "ens:DescribeTags"`},
		{name: "fault API of ENS", cmd: "invoke", args: []string{"--fault-api", "ens:ListTagResources", "--empty-rate", "1"},
			want: options{}},
		{name: "serve without instances", cmd: "serve", args: []string{"--max-instances", "0"},
			stopped: true, code: exitUsage, stderr: "--max-instances 0: want 1 or more"},
		{name: "help", cmd: "invoke", args: []string{"-h"},
			stopped: true, code: exitOK, stderr: "exit codes: 0 succeeded"},
		{name: "serve address", cmd: "serve", args: []string{"--addr", "127.0.0.1:0"},
			want: options{addr: "127.0.0.1:0"}},
		{name: "serve takes no event", cmd: "serve", args: []string{"events/http.json"},
			stopped: true, code: exitUsage, stderr: "serve takes no argument"},
		{name: "serve has no -e", cmd: "serve", args: []string{"-e", "events/http.json"},
			stopped: true, code: exitUsage, stderr: "flag provided but not defined: -e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, code, ok := parse(c.cmd, c.args, &stderr)
			if ok == c.stopped || (c.stopped && code != c.code) {
				t.Fatalf("ok %v, code %d; want stopped %v with %d\n%s", ok, code, c.stopped, c.code, &stderr)
			}
			if c.stderr != "" && !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("printed %q, want it to contain %q", &stderr, c.stderr)
			}
			if c.stopped {
				if !strings.Contains(stderr.String(), "usage: local "+c.cmd) {
					t.Errorf("no usage printed:\n%s", &stderr)
				}
				return
			}
			if c.want.timeout == 0 {
				c.want.timeout = time.Minute
			}
			if o.event != c.want.event || o.dryRun != c.want.dryRun || o.quiet != c.want.quiet ||
				!slices.Equal(o.env, c.want.env) || o.timeout != c.want.timeout || (c.cmd == "serve" && o.addr != c.want.addr) {
				t.Errorf("got event %q dry-run %v quiet %v env %v timeout %v addr %q; want %+v",
					o.event, o.dryRun, o.quiet, o.env, o.timeout, o.addr, c.want)
			}
		})
	}
}

// TestReadEvent: -e takes a file, "-" for stdin, or inline JSON.
func TestReadEvent(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ev.json")
	os.WriteFile(file, []byte(`{"from":"file"}`), 0o644)
	cases := []struct {
		arg, stdin   string
		want, from   string
		errSubstring string
	}{
		{arg: file, want: `{"from":"file"}`, from: file},
		{arg: ` {"from":"inline"}`, want: `{"from":"inline"}`, from: "inline JSON"},
		{arg: `[{"specversion":"1.0"}]`, want: `[{"specversion":"1.0"}]`, from: "inline JSON"},
		{arg: "-", stdin: `{"from":"stdin"}`, want: `{"from":"stdin"}`, from: "stdin"},
		{arg: "-", stdin: " \n", errSubstring: "no event on stdin"},
		{arg: `{"KeyPairName": }`, errSubstring: "not valid JSON"},
		{arg: filepath.Join(t.TempDir(), "missing.json"), errSubstring: "no such file"},
	}
	for _, c := range cases {
		got, from, err := readEvent(c.arg, strings.NewReader(c.stdin))
		if c.errSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), c.errSubstring) {
				t.Errorf("readEvent(%q): error %v, want %q", c.arg, err, c.errSubstring)
			}
			continue
		}
		if err != nil || string(got) != c.want || from != c.from {
			t.Errorf("readEvent(%q) = %q from %q, %v; want %q from %q", c.arg, got, from, err, c.want, c.from)
		}
	}
}

// TestEnvWarnings: a name the function does not read is warned about with the
// closest setting it does read.
func TestEnvWarnings(t *testing.T) {
	cases := map[string]string{
		"BATCH_SIZE=3":    "",
		"LOG_LEVEL=debug": "",
		"batch_size=3":    "did you mean BATCH_SIZE?",
		"BATCHSIZE=3":     "did you mean BATCH_SIZE?",
		"MAX_ATTEMPT=2":   "did you mean MAX_ATTEMPTS?",
		"ecs_qps=5":       "did you mean ECS_QPS?",
		"FC_REGION=x":     "FC sets FC_* and ALIBABA_CLOUD_* itself",
		"SOMETHING_ELSE=": "no such setting (it reads REGION_ID",
	}
	for kv, want := range cases {
		got := envWarnings([]string{kv})
		switch {
		case want == "" && len(got) != 0:
			t.Errorf("%s: warned %q, want nothing", kv, got)
		case want != "" && (len(got) != 1 || !strings.Contains(got[0], want)):
			t.Errorf("%s: warned %q, want %q", kv, got, want)
		}
	}
}

// TestFaultAPIsDocumented: the README's --fault-api row names every API the emulator
// serves (the flag's help is built from the same list).
func TestFaultAPIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "| `--fault-api API`") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("README.md has no --fault-api row in its flags table")
	}
	for _, api := range emulator.APIs() {
		if !strings.Contains(row, "`"+api+"`") {
			t.Errorf("README.md's --fault-api row does not name %s", api)
		}
	}
}
