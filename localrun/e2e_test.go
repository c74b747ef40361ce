package localrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// binary is the function, built once for every test as FC would run it.
var binary string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := localrun.Build(ctx, "..")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	os.RemoveAll(filepath.Dir(bin))
	os.Exit(code)
}

// start runs the built function under the FC runtime runner against a fresh emulator.
func start(t *testing.T, o localrun.Options) *localrun.Env {
	t.Helper()
	o.Binary = binary
	logs := &fcruntime.Logs{}
	o.FunctionLogs = logs
	if testing.Verbose() {
		o.FunctionLogs = io.MultiWriter(logs, logWriter{t})
	}
	env, err := localrun.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		env.Close()
		checkLogs(t, logs)
	})
	return env
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// answer is any of the contract's answers: a result, or a request-level error.
type answer struct {
	detach.Result
	Code    string
	Message string
}

// answers decodes what the function answered, whatever the trigger: an HTTP trigger
// response (its status is returned), an array (EventBridge), or one answer.
func answers(t *testing.T, payload []byte) (status int, out []answer) {
	t.Helper()
	var http struct {
		StatusCode *int `json:"statusCode"`
		Body       string
	}
	if json.Unmarshal(payload, &http) == nil && http.StatusCode != nil {
		status, payload = *http.StatusCode, []byte(http.Body)
	}
	if bytes.HasPrefix(bytes.TrimSpace(payload), []byte("[")) {
		if err := json.Unmarshal(payload, &out); err != nil {
			t.Fatalf("answer %s: %v", payload, err)
		}
		return status, out
	}
	var one answer
	if err := json.Unmarshal(payload, &one); err != nil {
		t.Fatalf("answer %s: %v", payload, err)
	}
	return status, []answer{one}
}

func instance(n int) string { return fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n) }

// TestSamples runs every sample in events/ through the built binary under the runner
// and checks the answer and the emulator's final state.
func TestSamples(t *testing.T) {
	type want struct {
		status   int     // HTTP status, 0 for other triggers
		codes    [][]int // per answer, the Code of each result
		errCode  string  // a request-level error instead
		detached []int   // instance numbers that must end unbound
		matched  int     // MatchedCount, for Targets
	}
	ok2 := []int{200, 200}
	cases := map[string]struct {
		env   []string
		ens   bool // the instances are ENS's
		fleet bool // a fleet run that goes on in other regions: its parts are waited for
		want  want
	}{
		"direct.json":            {want: want{codes: [][]int{{200, 200, 400, 404}}, detached: []int{1, 2}}},
		"http.json":              {want: want{status: 200, codes: [][]int{ok2}, detached: []int{3, 4}}},
		"http-base64.json":       {want: want{status: 200, codes: [][]int{ok2}, detached: []int{5, 6}}},
		"eventbridge.json":       {want: want{codes: [][]int{ok2}, detached: []int{17, 18}}},
		"eventbridge-batch.json": {want: want{codes: [][]int{ok2, {200}}, detached: []int{7, 8, 19}}},
		"timer.json":             {want: want{codes: [][]int{{200, 200, 200, 200, 200}}, detached: []int{26, 27, 28, 29, 30}}},
		"timer-targets.json":     {want: want{codes: [][]int{{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 400, 400, 400}}, detached: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, matched: 15}},
		// Every region: cn-hangzhou's part answers, cn-shanghai's 4 are a part of their
		// own (an asynchronous invocation), ap-southeast-1 has no such key pair.
		"fleet-timer.json":          {fleet: true, want: want{codes: [][]int{{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 400, 400, 400}}, detached: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, matched: 15}},
		"ecs-instance-stopped.json": {env: []string{"KEY_PAIR_NAME=ops-2026"}, want: want{codes: [][]int{{200}}, detached: []int{9}}},
		// ENS: stopped and bound detached; Running, unbound (by id) and unknown reported.
		"ens-direct.json": {ens: true, want: want{codes: [][]int{{200, 200, 400, 400, 404}}, detached: []int{1, 2}}},
		// ENS edge regions and tags: Stopped detached; Running, Starting, Stopping, Expired
		// reported; the one carrying PROTECTED_TAG refused (its tags: ListTagResources).
		"ens-timer-targets.json": {ens: true, want: want{codes: [][]int{{200, 200, 200, 200, 200, 200, 400, 400, 400, 400, 403}}, detached: []int{1, 2, 3, 4, 5, 6}, matched: 11}},
	}
	files, _ := filepath.Glob("../events/*.json")
	if len(files) < len(cases) {
		t.Fatalf("found %d samples, want at least %d", len(files), len(cases))
	}
	for _, f := range files {
		name := filepath.Base(f)
		c, ok := cases[name]
		if !ok {
			t.Errorf("sample %s has no expectation here: add one", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			env := start(t, localrun.Options{Env: c.env})
			instance := instance
			if c.ens {
				instance = ensInstance
			}
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation %s: %v", res.Outcome, res.Error)
			}
			status, got := answers(t, res.Payload)
			if status != c.want.status {
				t.Errorf("HTTP status %d, want %d", status, c.want.status)
			}
			if len(got) != len(c.want.codes) {
				t.Fatalf("%d answers, want %d: %s", len(got), len(c.want.codes), res.Payload)
			}
			var all []detach.InstanceResult
			for i, a := range got {
				if a.Code != "" {
					t.Fatalf("answer %d is an error: %s %s", i, a.Code, a.Message)
				}
				if a.RequestId != res.RequestID {
					t.Errorf("RequestId %q, want the FC request id %q", a.RequestId, res.RequestID)
				}
				var codes []int
				for _, r := range a.Results {
					codes = append(codes, r.Code)
				}
				if fmt.Sprint(codes) != fmt.Sprint(c.want.codes[i]) {
					t.Errorf("answer %d codes %v, want %v", i, codes, c.want.codes[i])
				}
				if c.want.matched != 0 && (a.MatchedCount == nil || *a.MatchedCount != c.want.matched) {
					t.Errorf("MatchedCount %v, want %d", a.MatchedCount, c.want.matched)
				}
				all = append(all, a.Results...)
			}
			if c.fleet {
				all = append(all, otherParts(t, env, res.Payload)...)
			}
			after := env.Emulator.Bindings()
			emulatortest.AssertChanges(t, before, after, all)
			for _, n := range c.want.detached {
				if after[instance(n)] != "" {
					t.Errorf("%s still has %q", instance(n), after[instance(n)])
				}
			}
		})
	}
}

// otherParts waits for the parts a fleet run's first answer started and returns their
// results (the first part's excluded).
func otherParts(t *testing.T, env *localrun.Env, first []byte) []detach.InstanceResult {
	t.Helper()
	var p detach.Part
	if err := json.Unmarshal(first, &p); err != nil || p.RunId == "" {
		t.Fatalf("no fleet run's answer: %s", first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := localrun.ReadFleetRun(env.Emulator.Events(env.EventBus), p.RunId)
	if err != nil {
		t.Fatal(err)
	}
	var out []detach.InstanceResult
	for region, r := range run.Regions {
		if last := r.Last(); last != nil && !last.Final || region == p.Region && len(r.Parts) != 1 {
			t.Errorf("region %s: %d parts, the last not Final", region, len(r.Parts))
		}
		for n, part := range r.Parts {
			if region != p.Region || n != p.Part {
				out = append(out, part.Results...)
			}
		}
	}
	if len(out) == 0 {
		t.Error("no other part reported an instance")
	}
	return out
}

// TestECSEventWithoutSetting: an ECS stop event without KEY_PAIR_ID/KEY_PAIR_NAME is
// answered InvalidParameter.Event and not failed, so EventBridge does not retry it.
func TestECSEventWithoutSetting(t *testing.T) {
	payload, _ := os.ReadFile("../events/ecs-instance-stopped.json")
	env := start(t, localrun.Options{})
	before := env.Emulator.Bindings()
	res, err := env.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation %s (a retry would not help): %v", res.Outcome, res.Error)
	}
	_, got := answers(t, res.Payload)
	if len(got) != 1 || got[0].Code != "InvalidParameter.Event" || !strings.Contains(got[0].Message, "KEY_PAIR_NAME") {
		t.Fatalf("answer %s", res.Payload)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)
}

// TestDeadlineUnderRunner: a function timeout shorter than the work ends with
// NotAttempted results for what was not started, answered before the deadline: the
// runner, which kills a function at its timeout as FC does, says Succeeded, not
// TimedOut. The work (36 batches one after the other, each at least 200 ms) cannot fit
// in 4 s however fast the machine, and the first batch has seconds to fit however
// loaded it is.
func TestDeadlineUnderRunner(t *testing.T) {
	fix := emulator.DefaultFixture()
	env := start(t, localrun.Options{
		Fixture: fix,
		Timeout: 4 * time.Second,
		Env:     []string{"CONCURRENCY=1", "BATCH_SIZE=10", "ECS_QPS=0"},
		Faults:  map[string]emulator.Fault{"DetachKeyPair": {Latency: 200 * time.Millisecond}},
	})
	var ids []string
	for n := 31; n < 31+400; n++ {
		if n%10 != 0 { // every 10th of the fleet is Running
			ids = append(ids, instance(n))
		}
	}
	req, _ := json.Marshal(map[string]any{"RegionId": "cn-hangzhou", "KeyPairName": "fleet-2026", "InstanceIds": ids})
	before := env.Emulator.Bindings()
	res, err := env.Invoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation %s (after %s): %v", res.Outcome, res.Duration, res.Error)
	}
	_, got := answers(t, res.Payload)
	done, notAttempted := 0, 0
	for _, r := range got[0].Results {
		switch {
		case r.Success:
			done++
		case r.Code == 504 && r.ErrorCode == "NotAttempted":
			notAttempted++
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
	if done == 0 || notAttempted == 0 || done+notAttempted != len(ids) || got[0].FailCount != notAttempted {
		t.Fatalf("done %d, not attempted %d, of %d (FailCount %d)", done, notAttempted, len(ids), got[0].FailCount)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), got[0].Results)
}
