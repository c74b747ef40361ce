package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// The function, and a test function that misbehaves on request (it sleeps past
// its timeout or exits: the real one is built never to), built once for every
// test as FC would run them.
var function, misbehaving string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	dir, err := os.MkdirTemp("", "local-test-")
	if err == nil {
		function, misbehaving = filepath.Join(dir, "main"), filepath.Join(dir, "echofn")
		err = fcruntime.Build(ctx, "../..", function)
	}
	if err == nil {
		err = fcruntime.Build(ctx, "../../emulator/fcruntime/testdata/echofn", misbehaving)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run is one run of local: its exit code, what it printed, and the emulator's
// bindings (instance -> key pair) at the end of the run.
type run struct {
	code           int
	stdout, stderr string
	after          map[string]string
}

// local runs the command as a user would, with the function built once, and
// returns what happened.
func local(t *testing.T, stdin string, args ...string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var r run
	c := &command{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr,
		inspect: func(env *localrun.Env) {
			if env.Emulator != nil {
				r.after = env.Emulator.Bindings()
			}
		}}
	if len(args) > 0 && args[0] == "invoke" && !slices.Contains(args, "--binary") {
		args = append(args, "--binary", function)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r.code = c.run(ctx, args)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if testing.Verbose() {
		t.Logf("local %q: exit %d\n%s%s", args, r.code, r.stderr, r.stdout)
	}
	return r
}

// fleet is the emulator's bindings before any run, ECS's and ENS's.
func fleet() map[string]string {
	m := map[string]string{}
	for _, in := range emulator.DefaultFixture().Instances {
		m[in.InstanceId] = in.KeyPairName
	}
	for _, in := range emulator.DefaultENSFixture().Instances {
		m[in.InstanceId] = in.KeyPairName
	}
	return m
}

func instance(n int) string { return fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n) }

// unbound is the fleet with the instances given detached.
func unbound(ns ...int) map[string]string {
	m := fleet()
	for _, n := range ns {
		m[instance(n)] = ""
	}
	return m
}

// TestInvokeFileThenFlags: the event file as an argument, with flags after it,
// runs that event with those flags. It used to run events/http.json for real,
// ignoring the file and every flag after it.
func TestInvokeFileThenFlags(t *testing.T) {
	r := local(t, "", "invoke", "../../events/direct.json", "--dry-run", "--quiet")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{
		"== Succeeded · request 1-",
		"dry run: would detach 2, failed 2 (IncorrectInstanceStatus 1, InvalidInstanceId.NotFound 1) in ",
		`"InstanceId": "i-bp1d6tsvznfghy7y0011"`, // direct.json's, not http.json's
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "invoking the function with ../../events/direct.json (direct trigger)") {
		t.Errorf("stderr does not name the event:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, `"level":"INFO"`) {
		t.Errorf("--quiet after the file did not hide the logs:\n%s", r.stderr)
	}
	if !maps.Equal(r.after, fleet()) {
		t.Errorf("a dry run changed the cloud: %v", diff(fleet(), r.after))
	}
}

func diff(before, after map[string]string) []string {
	var out []string
	for id, was := range before {
		if after[id] != was {
			out = append(out, fmt.Sprintf("%s %q->%q", id, was, after[id]))
		}
	}
	return out
}

var reportRE = regexp.MustCompile(`(?m)^REPORT RequestId: 1-[0-9a-f-]+ Duration: \d+\.\d\d ms, Billed Duration: \d+ ms, Memory Size: 256 MB, Max Memory Used: \d+\.\d\d MB$`)

// TestInvokeOutcomes: the header and the exit code of each way an invocation
// ends, with the real function under the runner against the emulator (and,
// for a timeout and a crash, which the function is built never to do, a test
// function that sleeps or exits), and the emulator's state after it.
func TestInvokeOutcomes(t *testing.T) {
	httpNotFound, _ := os.ReadFile("../../events/http.json")
	httpNotFound = bytes.Replace(httpNotFound, []byte(`\"KeyPairName\": \"ops-2026\"`), []byte(`\"KeyPairName\": \"no-such-key\"`), 1)
	cases := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		header  string
		summary string // the line after the header starts with it
		after   map[string]string
		more    []string // also printed
	}{
		{name: "succeeded", args: []string{"../../events/http.json"},
			code: exitOK, header: "== Succeeded (HTTP 200) · request ", summary: "detached 2, failed 0 in ",
			after: unbound(3, 4), more: []string{"== answer (HTTP 200)", "keypair.detach.completed  acs:ecs:cn-hangzhou:1234567890123456:keypair/ops-2026  TotalCount 2, FailCount 0  id "}},
		{name: "answered 4xx", args: []string{"-e", `{"KeyPairName":"no-such-key","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`},
			code: exitRefused, header: "== Answered 4xx (InvalidKeyPair.NotFound) · request ", summary: "nothing detached in ",
			after: fleet(), more: []string{"keypair.detach.failed"}},
		{name: "answered HTTP 404, event on stdin", stdin: string(httpNotFound), args: []string{"-e", "-"},
			code: exitRefused, header: "== Answered 404 (InvalidKeyPair.NotFound) · request ", summary: "nothing detached in ",
			after: fleet(), more: []string{"== answer (HTTP 404)"}},
		{name: "failed invocation (5xx)", args: []string{"../../events/direct.json", "--fault-api", "DescribeKeyPairs", "--drop-rate", "1", "--env", "MAX_ATTEMPTS=2"},
			code: exitFailed, header: "== Failed (ServiceUnavailable) · request ", summary: "nothing detached in ",
			after: fleet(), more: []string{
				"emulator: no instance lost its key pair",
				`== error (X-Fc-Error-Type: UnhandledInvocationError), errorType "ServiceUnavailable"`,
				"== emulator calls, faults on DescribeKeyPairs: --drop-rate 1",
				"DescribeKeyPairs        2      0          0      0        2      0"}},
		{name: "HTTP 503", args: []string{"../../events/http.json", "--fault-api", "DescribeKeyPairs", "--error-rate", "1", "--env", "MAX_ATTEMPTS=2"},
			code: exitFailed, header: "== Failed (HTTP 503 ServiceUnavailable) · request ", summary: "nothing detached in ",
			after: fleet(), more: []string{"DescribeKeyPairs        2      0          0      2        0      0"}},
		{name: "timed out", args: []string{"--binary", misbehaving, "--timeout", "1s", "-e", `{"sleepMs":5000}`},
			code: exitFailed, header: "== TimedOut · request ", summary: "no answer in 1.",
			after: fleet(), more: []string{"Function timed out after 1 seconds", "emulator: no instance lost its key pair"}},
		{name: "crashed", args: []string{"--binary", misbehaving, "-e", `{"exit":true}`},
			code: exitFailed, header: "== Crashed · request ", summary: "no answer in ",
			after: fleet(), more: []string{"Process exited unexpectedly before completing request"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := local(t, c.stdin, append([]string{"invoke", "--memory", "256"}, c.args...)...)
			lines := strings.Split(r.stdout, "\n")
			if r.code != c.code || !strings.HasPrefix(lines[0], c.header) || len(lines) < 2 || !strings.HasPrefix(lines[1], c.summary) {
				t.Fatalf("exit %d, want %d with %q then %q; printed:\n%s\nstderr:\n%s", r.code, c.code, c.header, c.summary, r.stdout, r.stderr)
			}
			if !reportRE.MatchString(r.stdout) {
				t.Errorf("no REPORT line:\n%s", r.stdout)
			}
			for _, want := range c.more {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
			if !maps.Equal(r.after, c.after) {
				t.Errorf("emulator state: changed %v, want changed %v", diff(fleet(), r.after), diff(fleet(), c.after))
			}
		})
	}
}

// TestInvokeStoppedAtStart: a setting the function refuses stops it at start;
// what it says is shown although --quiet hides its logs, and the exit code
// says the function failed. A misspelt setting is warned about.
func TestInvokeStoppedAtStart(t *testing.T) {
	r := local(t, "", "invoke", "../../events/http.json", "--quiet", "--env", "BATCH_SIZE=0", "--env", "batch_size=3")
	if r.code != exitFailed || !strings.HasPrefix(r.stdout, "== Failed (the function stopped at start)") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	for _, want := range []string{
		"local: warning: --env batch_size: the function has no such setting; did you mean BATCH_SIZE?",
		`setting BATCH_SIZE=\"0\" is invalid: want a whole number from 1 to 50`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestInvokeBatchDryRun: --dry-run reaches every request of an EventBridge
// batch, and the pretty logs are one line per record.
func TestInvokeBatchDryRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	c := &command{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, terminal: true}
	var after map[string]string
	c.inspect = func(env *localrun.Env) { after = env.Emulator.Bindings() }
	code := c.run(context.Background(), []string{"invoke", "--binary", function, "--dry-run", "--events", "../../events/eventbridge-batch.json"})
	if code != exitOK || !strings.Contains(stdout.String(), "dry run: would detach 3, failed 0 in ") {
		t.Fatalf("exit %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `"specversion": "1.0"`) {
		t.Errorf("--events did not print the events in full:\n%s", stdout.String())
	}
	if !regexp.MustCompile(`(?m)^\S*\d\d:\d\d:\d\d\.\d{3} INFO\S*\s+1-[0-9a-f-]+ detach started  `).MatchString(stderr.String()) {
		t.Errorf("logs not pretty on a terminal:\n%s", stderr.String())
	}
	if !maps.Equal(after, fleet()) {
		t.Errorf("a dry run changed the cloud: %v", diff(fleet(), after))
	}
}

// TestInvokeRunningEmulator: --emulator runs the function against the
// emulator that make emulator runs, which keeps its state and events between
// runs: the report shows only this run's events.
func TestInvokeRunningEmulator(t *testing.T) {
	running, err := emulator.New(emulator.Config{}) // as make emulator runs it, with the documented local key
	if err != nil {
		t.Fatal(err)
	}
	if err := running.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	for i, ev := range []string{"../../events/http.json", `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`} {
		r := local(t, "", "invoke", ev, "--quiet", "--emulator", running.URL())
		if r.code != exitOK || !strings.Contains(r.stdout, "== result events on bus detach-results: 1\n") ||
			!strings.Contains(r.stderr, "local: emulator at "+running.URL()) {
			t.Fatalf("run %d: exit %d\n%s%s", i, r.code, r.stderr, r.stdout)
		}
	}
	for _, n := range []int{1, 3, 4} {
		if in, _ := running.Instance(instance(n)); in.KeyPairName != "" {
			t.Errorf("the running emulator did not detach %s", in.InstanceId)
		}
	}
	if n := running.Calls(emulator.APIDetachKeyPair); n != 2 {
		t.Errorf("%d DetachKeyPair calls on the running emulator, want 2", n)
	}

	r := local(t, "", "invoke", "../../events/http.json", "--emulator", running.URL(), "--latency", "1s")
	if r.code != exitLocal || !strings.Contains(r.stderr, "give them to the running emulator instead") {
		t.Errorf("faults with --emulator: exit %d\n%s", r.code, r.stderr)
	}
}

// TestUsage: a command local does not know prints the usage and exits 2.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"invok"}, {"invoke", "--bogus"}} {
		r := local(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "usage: local") || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestInvokeFleet: a fleet run's sample waits for the parts the first answer started
// (asynchronous invocations through the emulator's FC), lists their events, and says
// what became of each region; the emulator's state agrees with the Final totals.
func TestInvokeFleet(t *testing.T) {
	r := local(t, "", "invoke", "../../events/fleet-timer.json", "--quiet", "--env", "MAX_INSTANCES=4")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{
		"== result events on bus detach-results: 6\n",
		"keypair.detach.completed  acs:ecs:cn-hangzhou:1234567890123456:keypair/ops-2026  part 4, Final: TotalCount 3, FailCount 3  id ",
		"== fleet run run-",
		"ap-southeast-1   not run: InvalidKeyPair.NotFound: no key pair with KeyPairName ops-2026 in region ap-southeast-1\n",
		"cn-hangzhou      4 parts, 15 instances: Success 10, IncorrectInstanceStatus 5; Final\n",
		"cn-shanghai      1 part, 4 instances: Success 4; Final\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "emulator: ") {
		t.Errorf("the state line says the answers and the emulator disagree:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "waiting for its parts") {
		t.Errorf("stderr does not say it waits for the parts:\n%s", r.stderr)
	}
	if d := diff(fleet(), r.after); len(d) != 14 {
		t.Errorf("%d instances changed, want 14 (10 in cn-hangzhou, 4 in cn-shanghai): %v", len(d), d)
	}
}
