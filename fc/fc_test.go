package fc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/fc"
)

// Fake STS credentials of a function role, for tests only.
var sts = &credentials.AccessKey{AccessKeyID: "STS.NTestOnlyFcKeyId00001", AccessKeySecret: "TestOnlyFcSecretNotReal001", SecurityToken: "CAISTestOnlyFcToken+/0001="}

// wire is one request as the emulator got it.
type wire struct {
	method, path string
	header       http.Header
	body         []byte
}

// setup starts an emulator with a function whose invocations are recorded, behind a
// proxy that records the requests, and returns an adapter for it.
func setup(t *testing.T, asyncTask bool) (*fc.Client, *emulator.Server, *[][]byte, *[]wire, string) {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: sts.AccessKeyID, AccessKeySecret: sts.AccessKeySecret, SecurityToken: sts.SecurityToken}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var invoked [][]byte
	var requests []wire
	emu.PutFunction(emulator.FCFunction{Name: "detach-keypair", AsyncTask: asyncTask, Invoke: func(payload []byte) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		invoked = append(invoked, payload)
		return "1-6b0b7abc-8fb245f2-7306caa9359b", nil
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, wire{r.Method, r.URL.Path, r.Header.Clone(), body})
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		emu.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := fc.New(fc.Config{Region: "cn-hangzhou", AccountID: "1234567890123456", Function: "detach-keypair", Endpoint: srv.URL, Credentials: sts})
	if err != nil {
		t.Fatal(err)
	}
	return c, emu, &invoked, &requests, srv.URL
}

// TestInvokeAsync: the request is FC 3.0's asynchronous InvokeFunction, as its SDK
// sends it (path, method, headers, binary body, ACS3 signature with the STS token,
// which the emulator checks), and FC hands the payload to the function once per task
// id; the same task id again is ErrTaskExists.
func TestInvokeAsync(t *testing.T) {
	c, emu, invoked, requests, _ := setup(t, true)
	payload := []byte(`{"KeyPairName":"ops-2026","RegionId":"cn-hangzhou","Targets":{}}`)
	if err := c.InvokeAsync(context.Background(), "run-0123456789abcdef-cn-hangzhou-p2", payload); err != nil {
		t.Fatal(err)
	}
	if err := c.InvokeAsync(context.Background(), "run-0123456789abcdef-cn-hangzhou-p2", []byte(`{}`)); !errors.Is(err, detach.ErrTaskExists) {
		t.Errorf("the same task id again: %v, want ErrTaskExists", err)
	}
	if len(*invoked) != 1 || string((*invoked)[0]) != string(payload) {
		t.Fatalf("the function got %q, want the payload once", *invoked)
	}
	w := (*requests)[0]
	if w.method != http.MethodPost || w.path != "/2023-03-30/functions/detach-keypair/invocations" {
		t.Errorf("%s %s", w.method, w.path)
	}
	for k, want := range map[string]string{
		"x-fc-invocation-type": "Async", "x-fc-async-task-id": "run-0123456789abcdef-cn-hangzhou-p2",
		"x-acs-action": "InvokeFunction", "x-acs-version": "2023-03-30", "content-type": "application/octet-stream",
		"x-acs-security-token": sts.SecurityToken,
	} {
		if got := w.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if a := w.header.Get("Authorization"); !strings.HasPrefix(a, "ACS3-HMAC-SHA256 Credential="+sts.AccessKeyID+",") {
		t.Errorf("Authorization %q", a)
	}
	if string(w.body) != string(payload) {
		t.Errorf("body %q", w.body)
	}
	if tasks := emu.FCTasks(); len(tasks) != 1 || tasks[0].TaskID != "run-0123456789abcdef-cn-hangzhou-p2" {
		t.Errorf("tasks %+v", tasks)
	}
}

// TestInvokeAsyncRefused: what FC refuses comes back as a *detach.CloudError that is
// not retryable; its unavailability is.
func TestInvokeAsyncRefused(t *testing.T) {
	c, emu, invoked, _, endpoint := setup(t, false)
	cases := []struct {
		name, task string
		payload    []byte
		code       string
	}{
		{"task mode off", "t1", []byte(`{}`), "InvalidArgument"},
		{"payload too large", "", []byte(strings.Repeat("x", 128<<10+1)), "EntityTooLarge"},
	}
	for _, cs := range cases {
		err := c.InvokeAsync(context.Background(), cs.task, cs.payload)
		var ce *detach.CloudError
		if !errors.As(err, &ce) || ce.Code != cs.code || ce.Retryable() {
			t.Errorf("%s: %v, want %s", cs.name, err, cs.code)
		}
	}
	other, err := fc.New(fc.Config{Function: "nope", Endpoint: endpoint, Credentials: sts})
	if err != nil {
		t.Fatal(err)
	}
	var ce *detach.CloudError
	if err := other.InvokeAsync(context.Background(), "t2", []byte(`{}`)); !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Code != "FunctionNotFound" {
		t.Errorf("unknown function: %v", err)
	}
	emu.SetFault(emulator.APIInvokeFunction, emulator.Fault{ErrorRate: 1})
	if err := c.InvokeAsync(context.Background(), "", []byte(`{}`)); !errors.As(err, &ce) || !ce.Retryable() {
		t.Errorf("FC unavailable: %v, want a retryable error", err)
	}
	if len(*invoked) != 0 {
		t.Errorf("the function was invoked %d times", len(*invoked))
	}
}
