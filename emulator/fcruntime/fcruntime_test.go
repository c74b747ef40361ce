package fcruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
)

// echoBin is testdata/echofn, built once by TestMain.
var echoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fcruntime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoBin = filepath.Join(dir, "echofn")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	err = fcruntime.Build(ctx, filepath.Join("testdata", "echofn"), echoBin)
	cancel()
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// echo is what testdata/echofn answers.
type echo struct {
	Payload       json.RawMessage   `json:"payload"`
	PID           int               `json:"pid"`
	Active        int64             `json:"active"`
	RequestID     string            `json:"requestId"`
	DeadlineMs    int64             `json:"deadlineMs"`
	FunctionName  string            `json:"functionName"`
	Handler       string            `json:"handler"`
	Memory        string            `json:"memory"`
	Timeout       int               `json:"timeout"`
	Region        string            `json:"region"`
	AccountID     string            `json:"accountId"`
	RetryCount    int               `json:"retryCount"`
	AccessKeyID   string            `json:"accessKeyId"`
	SecretMatches bool              `json:"secretMatches"`
	TokenMatches  bool              `json:"tokenMatches"`
	EnvSecretOK   bool              `json:"envSecretMatches"`
	Env           map[string]string `json:"env"`
}

// start runs echofn under a runner that is closed when the test ends; the
// function's output is logged if the test fails.
func start(t *testing.T, cfg fcruntime.Config) (*fcruntime.Runner, *fcruntime.Logs) {
	t.Helper()
	logs := &fcruntime.Logs{}
	cfg.Binary = echoBin
	cfg.Stdout, cfg.Stderr = logs, logs
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := fcruntime.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("function output:\n%s", logs)
		}
	})
	return r, logs
}

// invoke sends req as the payload and fails the test if the runner fails.
func invoke(t *testing.T, r *fcruntime.Runner, inv fcruntime.Invocation, req any) fcruntime.Result {
	t.Helper()
	if req != nil {
		inv.Payload, _ = json.Marshal(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.Invoke(ctx, inv)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return res
}

// answer decodes a successful echo.
func answer(t *testing.T, res fcruntime.Result) echo {
	t.Helper()
	if res.Outcome != fcruntime.Succeeded || res.Error != nil {
		t.Fatalf("outcome %s, error %v; want success", res.Outcome, res.Error)
	}
	var e echo
	if err := json.Unmarshal(res.Payload, &e); err != nil {
		t.Fatalf("answer %q: %v", res.Payload, err)
	}
	return e
}

// gone reports whether no process has the id pid any more.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

var requestIDForm = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{12}$`)

func TestInvokeDeliversPayloadHeadersAndEnvironment(t *testing.T) {
	t.Setenv("FCRUNTIME_TEST_HOST_ONLY", "1")     // must not leak into the function
	t.Setenv("HOME", "/fcruntime-test/host-home") // nor the host's HOME: only BaseEnv is the base
	creds := fcruntime.Credentials{AccessKeyID: "STS.test-id", AccessKeySecret: "s3cret", SecurityToken: "tok3n"}
	r, logs := start(t, fcruntime.Config{
		Credentials: creds,
		BaseEnv:     []string{"PATH=/fcruntime-test/bin", "TZ=Asia/Shanghai"},
		Env:         []string{"KEY_PAIR_NAME=ops-2026", "FC_REGION=overridden"},
	})

	req := map[string]any{"expectSecret": creds.AccessKeySecret, "expectToken": creds.SecurityToken}
	before := time.Now()
	res := invoke(t, r, fcruntime.Invocation{RetryCount: 2}, req)
	after := time.Now()
	e := answer(t, res)

	if !requestIDForm.MatchString(res.RequestID) {
		t.Errorf("generated request id %q is not of FC's form", res.RequestID)
	}
	if e.RequestID != res.RequestID {
		t.Errorf("function saw request id %q, result says %q", e.RequestID, res.RequestID)
	}
	var got, sent map[string]any
	_ = json.Unmarshal(e.Payload, &got)
	sent = req
	if fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Errorf("payload = %v, want %v", got, sent)
	}
	checks := []struct{ name, got, want string }{
		{"function name", e.FunctionName, fcruntime.DefaultFunctionName},
		{"handler", e.Handler, fcruntime.DefaultHandler},
		{"memory", e.Memory, "512"},
		{"region", e.Region, fcruntime.DefaultRegion},
		{"account", e.AccountID, fcruntime.DefaultAccountID},
		{"access key id", e.AccessKeyID, creds.AccessKeyID},
		{"env FC_FUNCTION_NAME", e.Env["FC_FUNCTION_NAME"], fcruntime.DefaultFunctionName},
		{"env FC_FUNCTION_HANDLER", e.Env["FC_FUNCTION_HANDLER"], fcruntime.DefaultHandler},
		{"env FC_FUNCTION_MEMORY_SIZE", e.Env["FC_FUNCTION_MEMORY_SIZE"], "512"},
		{"env FC_REGION (reserved)", e.Env["FC_REGION"], fcruntime.DefaultRegion},
		{"env FC_ACCOUNT_ID", e.Env["FC_ACCOUNT_ID"], fcruntime.DefaultAccountID},
		{"env FC_FUNC_CODE_PATH", e.Env["FC_FUNC_CODE_PATH"], filepath.Dir(echoBin) + "/"},
		{"env ALIBABA_CLOUD_ACCESS_KEY_ID", e.Env["ALIBABA_CLOUD_ACCESS_KEY_ID"], creds.AccessKeyID},
		{"env KEY_PAIR_NAME", e.Env["KEY_PAIR_NAME"], "ops-2026"},
		{"env FCRUNTIME_TEST_HOST_ONLY", e.Env["FCRUNTIME_TEST_HOST_ONLY"], ""},
		{"env PATH (BaseEnv)", e.Env["PATH"], "/fcruntime-test/bin"},
		{"env TZ (BaseEnv)", e.Env["TZ"], "Asia/Shanghai"},
		{"env HOME (the host's)", e.Env["HOME"], ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if e.Timeout != 60 || e.RetryCount != 2 {
		t.Errorf("timeout %d, retry count %d; want 60, 2", e.Timeout, e.RetryCount)
	}
	if !e.SecretMatches || !e.TokenMatches || !e.EnvSecretOK {
		t.Errorf("secret matches %v, token matches %v, env secret matches %v; want all true", e.SecretMatches, e.TokenMatches, e.EnvSecretOK)
	}
	if lo, hi := before.Add(time.Minute).UnixMilli(), after.Add(time.Minute).UnixMilli(); e.DeadlineMs < lo || e.DeadlineMs > hi {
		t.Errorf("deadline %d not within [%d, %d] (now + timeout)", e.DeadlineMs, lo, hi)
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:[0-9]+$`).MatchString(e.Env["FC_RUNTIME_API"]) {
		t.Errorf("FC_RUNTIME_API = %q, want 127.0.0.1:PORT", e.Env["FC_RUNTIME_API"])
	}
	if id := e.Env["FC_INSTANCE_ID"]; !regexp.MustCompile(`^c-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("FC_INSTANCE_ID = %q", id)
	}
	if e.PID != r.PID() {
		t.Errorf("function pid %d, runner says %d", e.PID, r.PID())
	}
	if !logs.WaitEnd(res.RequestID, 5*time.Second) || !strings.Contains(logs.String(), "FC Invoke Start RequestId: "+res.RequestID) {
		t.Errorf("function stdout lacks the SDK's start or end line; got:\n%s", logs)
	}
	if strings.Contains(logs.String(), creds.AccessKeySecret) {
		t.Error("the secret appears in the function's output")
	}

	// A given request id is used as is.
	res = invoke(t, r, fcruntime.Invocation{RequestID: "my-request"}, map[string]any{})
	if e := answer(t, res); res.RequestID != "my-request" || e.RequestID != "my-request" {
		t.Errorf("request id %q, function saw %q; want my-request", res.RequestID, e.RequestID)
	}
}

func TestFunctionError(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	res := invoke(t, r, fcruntime.Invocation{}, map[string]any{"error": "something is wrong"})
	if res.Outcome != fcruntime.Failed || res.ErrorType != fcruntime.ErrorTypeUnhandled {
		t.Fatalf("outcome %s, error type %q; want Failed, %s", res.Outcome, res.ErrorType, fcruntime.ErrorTypeUnhandled)
	}
	if res.Error == nil || res.Error.Type != "errorString" || res.Error.Message != "something is wrong" {
		t.Fatalf("error = %+v, want errorString: something is wrong", res.Error)
	}
	var body map[string]any
	if err := json.Unmarshal(res.Payload, &body); err != nil || body["errorMessage"] != "something is wrong" {
		t.Errorf("payload %s is not FC's error body", res.Payload)
	}
}

func TestPanicIsReportedWithStack(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	pid := r.PID()
	res := invoke(t, r, fcruntime.Invocation{}, map[string]any{"panic": "boom"})
	if res.Outcome != fcruntime.Failed || res.Error == nil || res.Error.Type != "string" || res.Error.Message != "boom" {
		t.Fatalf("outcome %s, error %+v; want Failed string: boom", res.Outcome, res.Error)
	}
	var frames []map[string]any
	if err := json.Unmarshal(res.Error.StackTrace, &frames); err != nil || len(frames) == 0 {
		t.Errorf("stack trace %s: want a non-empty list of frames (%v)", res.Error.StackTrace, err)
	}
	// The SDK recovers the panic: the same instance goes on.
	if e := answer(t, invoke(t, r, fcruntime.Invocation{}, map[string]any{})); e.PID != pid {
		t.Errorf("after a panic the function runs in pid %d, want the same %d", e.PID, pid)
	}
}

func TestCrashFailsTheInvocationAndRestarts(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	pid := r.PID()
	res := invoke(t, r, fcruntime.Invocation{}, map[string]any{"exit": true})
	if res.Outcome != fcruntime.Crashed || res.ErrorType != fcruntime.ErrorTypeUnhandled || res.Error == nil {
		t.Fatalf("outcome %s, error type %q, error %v; want Crashed", res.Outcome, res.ErrorType, res.Error)
	}
	if !regexp.MustCompile(`^Process exited unexpectedly before completing request \(duration: \d+ms, maxMemoryUsage: \d+\.\d\dMB\)$`).MatchString(res.Error.Message) {
		t.Errorf("message %q is not FC's", res.Error.Message)
	}
	if res.Error.Type != "" || strings.Contains(string(res.Payload), "errorType") {
		t.Errorf("FC's crash error has no errorType; got %+v, payload %s", res.Error, res.Payload)
	}
	if !gone(pid) {
		t.Errorf("crashed process %d still exists", pid)
	}
	e := answer(t, invoke(t, r, fcruntime.Invocation{}, map[string]any{}))
	if e.PID == pid || e.PID != r.PID() {
		t.Errorf("next invocation ran in pid %d (runner %d), want a new process", e.PID, r.PID())
	}
}

func TestTimeoutKillsAndRestarts(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	pid := r.PID()
	res := invoke(t, r, fcruntime.Invocation{Timeout: time.Second}, map[string]any{"sleepMs": 10_000})
	if res.Outcome != fcruntime.TimedOut || res.ErrorType != fcruntime.ErrorTypeUnhandled || res.Error == nil {
		t.Fatalf("outcome %s, error type %q, error %v; want TimedOut", res.Outcome, res.ErrorType, res.Error)
	}
	if !regexp.MustCompile(`^Function timed out after 1 seconds \(maxMemoryUsage: \d+\.\d\dMB\)$`).MatchString(res.Error.Message) {
		t.Errorf("message %q is not FC's", res.Error.Message)
	}
	if !gone(pid) {
		t.Errorf("timed-out process %d still exists", pid)
	}
	e := answer(t, invoke(t, r, fcruntime.Invocation{}, map[string]any{}))
	if e.PID == pid {
		t.Errorf("next invocation ran in the killed process %d", pid)
	}
	if e.Timeout != 60 {
		t.Errorf("next invocation's timeout %d, want the configured 60", e.Timeout)
	}
}

// TestConcurrentInvocations: each invocation gets its own answer, and the
// function never has two at once in one process (go1 runs one invocation
// per instance).
func TestConcurrentInvocations(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	var wg sync.WaitGroup
	seen := sync.Map{}
	for i := range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			payload, _ := json.Marshal(map[string]any{"sleepMs": 200, "n": i})
			res, err := r.Invoke(ctx, fcruntime.Invocation{Payload: payload})
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Errorf("invocation %d: %v, %s %v", i, err, res.Outcome, res.Error)
				return
			}
			var e echo
			_ = json.Unmarshal(res.Payload, &e)
			if e.RequestID != res.RequestID || string(e.Payload) != string(payload) {
				t.Errorf("invocation %d got the answer of another: %s", i, res.Payload)
			}
			if e.Active != 1 {
				t.Errorf("invocation %d: the function had %d invocations at once, want 1", i, e.Active)
			}
			if _, dup := seen.LoadOrStore(res.RequestID, i); dup {
				t.Errorf("request id %s used twice", res.RequestID)
			}
		})
	}
	wg.Wait()
	if st := r.Stats(); st.Invocations != 8 || st.InstancesStarted < 1 || st.InstancesStarted > 8 {
		t.Errorf("stats %+v: want 8 invocations on 1 to 8 instances", st)
	}
}

// TestCallerCancelLeavesTheInvocationRunning: a caller that gives up does not
// stop the invocation (as in FC); while it runs, its instance is busy, so the
// next invocation gets another instance; the first one is not recycled.
func TestCallerCancelLeavesTheInvocationRunning(t *testing.T) {
	b := newBarrier(t)
	r, _ := start(t, fcruntime.Config{})
	first := r.PID()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Invoke(ctx, fcruntime.Invocation{Payload: b.request("held")})
		errc <- err
	}()
	b.wait(t, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke with a cancelled context: %v, want Canceled", err)
	}
	if e := answer(t, invoke(t, r, fcruntime.Invocation{}, map[string]any{})); e.PID == first {
		t.Errorf("the next invocation ran in the busy instance %d", first)
	}
	b.open()
	drain(t, r)
	st := r.Stats()
	if len(st.Instances) != 2 || st.Instances[0].PID != first || st.Instances[0].Exited || st.Instances[0].Invocations != 1 {
		t.Errorf("instances %+v: want the first still alive after serving the abandoned invocation", st.Instances)
	}
}

func TestPeakRSS(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	invoke(t, r, fcruntime.Invocation{}, map[string]any{})
	if r.PeakRSS() <= 0 {
		t.Errorf("PeakRSS = %d, want > 0", r.PeakRSS())
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	r, _ := start(t, fcruntime.Config{})
	pid := r.PID()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("process %d still exists after Close", pid)
	}
	if r.PeakRSS() <= 0 {
		t.Errorf("PeakRSS = %d after Close, want > 0 (sampled on Close)", r.PeakRSS())
	}
	if _, err := r.Invoke(context.Background(), fcruntime.Invocation{Payload: []byte(`{}`)}); !errors.Is(err, fcruntime.ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := fcruntime.Start(ctx, fcruntime.Config{Binary: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("Start with a missing binary succeeded")
	}
	// A program that exits at once never asks for work.
	_, err := fcruntime.Start(ctx, fcruntime.Config{Binary: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "exited before asking for an invocation") {
		t.Errorf("Start(/bin/true) = %v, want an exit error", err)
	}
}

func TestBuildReportsCompilerOutput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := fcruntime.Build(ctx, filepath.Join("testdata", "broken"), filepath.Join(t.TempDir(), "broken"))
	if err == nil || !strings.Contains(err.Error(), "undefined: doesNotExist") {
		t.Errorf("Build of a broken package = %v, want go build's message", err)
	}
}

// TestBaseEnvOf: a host hands the function its PATH, HOME and TZ, nothing else.
func TestBaseEnvOf(t *testing.T) {
	got := fcruntime.BaseEnvOf([]string{"PATH=/usr/bin", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=x", "HOME=/home/dev", "GOFLAGS=-mod=mod", "TZ=UTC", "PATHX=1"})
	if want := []string{"PATH=/usr/bin", "HOME=/home/dev", "TZ=UTC"}; !slices.Equal(got, want) {
		t.Errorf("BaseEnvOf = %q, want %q", got, want)
	}
}
