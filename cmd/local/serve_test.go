package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestServe drives `local serve` with a real HTTP client: concurrent POSTs
// (the runner starts an instance per concurrent invocation), a binary body
// (the event carries it base64-encoded), a GET the function refuses, and a
// request for a key pair that does not exist. Each answer is the function's
// HTTP response; afterwards the emulator shows exactly the instances asked
// for detached, one result event per request, and Ctrl-C stopped it cleanly.
func TestServe(t *testing.T) {
	stderr := &fcruntime.Logs{}
	ctx, cancel := context.WithCancel(context.Background())
	var after map[string]string
	var stats fcruntime.Stats
	var events int
	c := &command{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr, inspect: func(env *localrun.Env) {
		after, stats, events = env.Emulator.Bindings(), env.Runner.Stats(), len(env.Emulator.Events(env.EventBus))
	}}
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, []string{"serve", "--binary", function, "--addr", "127.0.0.1:0", "--json-logs"})
	}()
	var once sync.Once
	code := exitOK
	stop := func() int { // Ctrl-C
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	defer stop()
	if !stderr.WaitFor("HTTP trigger is at http://", time.Minute) {
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	url := regexp.MustCompile(`HTTP trigger is at (http://\S+)`).FindStringSubmatch(stderr.String())[1]

	type call struct {
		method, path, contentType, body string
		status                          int
		code                            string // the answer's Code, or "" for a result
		detached                        int
	}
	calls := []call{
		{method: "POST", path: "/detach", body: `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001","i-bp1d6tsvznfghy7y0002"]}`, status: 200, detached: 2},
		{method: "POST", path: "/", body: `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0003"]}`, status: 200, detached: 1},
		{method: "POST", path: "/", contentType: "application/json", body: `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0004","i-bp1d6tsvznfghy7y0011"]}`, status: 200, detached: 1},
		{method: "POST", path: "/x?token=NotARealToken01&y=2", contentType: "application/octet-stream", body: `{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0005"]}`, status: 200, detached: 1},
		{method: "GET", path: "/", status: 400, code: "InvalidParameter.Method"},
		{method: "POST", path: "/", body: `{"KeyPairName":"no-such-key","InstanceIds":["i-bp1d6tsvznfghy7y0006"]}`, status: 404, code: "InvalidKeyPair.NotFound"},
	}
	var wg sync.WaitGroup
	for _, cl := range calls {
		wg.Go(func() {
			req, _ := http.NewRequest(cl.method, url+cl.path, strings.NewReader(cl.body))
			if cl.contentType != "" {
				req.Header.Set("Content-Type", cl.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				t.Errorf("%s %s: answer %q: %v", cl.method, cl.path, body, err)
				return
			}
			detached := 0
			for _, r := range a.Results {
				if r.Success {
					detached++
				}
			}
			if resp.StatusCode != cl.status || a.Code != cl.code || detached != cl.detached ||
				resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Fc-Request-Id") == "" ||
				a.RequestId != resp.Header.Get("X-Fc-Request-Id") {
				t.Errorf("%s %s: HTTP %d %v, Code %q, %d detached; want %d, %q, %d\n%s", cl.method, cl.path,
					resp.StatusCode, resp.Header, a.Code, detached, cl.status, cl.code, cl.detached, body)
			}
		})
	}
	wg.Wait()

	if code := stop(); code != exitOK {
		t.Errorf("serve exited %d after Ctrl-C", code)
	}
	if !maps.Equal(after, unbound(1, 2, 3, 4, 5)) {
		t.Errorf("emulator state: changed %v, want %v", diff(fleet(), after), diff(fleet(), unbound(1, 2, 3, 4, 5)))
	}
	if stats.Invocations != len(calls) {
		t.Errorf("runner stats %+v: want %d invocations", stats, len(calls))
	}
	if events != len(calls) {
		t.Errorf("%d result events, want one per request", events)
	}
	lines := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} (GET|POST) /\S* \d{3} .*$`).FindAllString(stderr.String(), -1)
	if len(lines) != len(calls) {
		t.Errorf("%d request lines, want one per request:\n%s", len(lines), stderr.String())
	}
	for _, l := range lines {
		if strings.Contains(l, "?") || strings.Contains(l, "NotARealToken01") {
			t.Errorf("a request line shows the query string, which may hold a token: %s", l)
		}
	}
	for _, want := range []string{" GET / 400 ", " POST /detach 200 ", " POST /x 200 ", "detached 2, failed 0", "nothing detached: InvalidKeyPair.NotFound"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("request log lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestHTTPEvent: a request becomes FC 3.0's HTTP trigger event.
func TestHTTPEvent(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 0, 0, 123e6, time.UTC)
	r := httptest.NewRequest("POST", "http://localhost:9000/detach/now?a=1&a=2&b=x", strings.NewReader(""))
	r.Header.Add("X-Multi", "v1")
	r.Header.Add("X-Multi", "v2")
	r.Header.Set("User-Agent", "curl/8.5.0")
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "192.0.2.7:51000"
	ev := httpEvent(r, []byte(`{"KeyPairName":"ops-2026"}`), "1-abc", at)
	got, _ := json.Marshal(ev)
	want := `{"version":"v1","rawPath":"/detach/now","body":"{\"KeyPairName\":\"ops-2026\"}","isBase64Encoded":false,` +
		`"headers":{"Content-Type":"application/json","Host":"localhost:9000","User-Agent":"curl/8.5.0","X-Multi":"v1,v2"},` +
		`"queryParameters":{"a":"1,2","b":"x"},"requestContext":{"accountId":"1234567890123456","domainName":"localhost:9000",` +
		`"domainPrefix":"localhost","http":{"method":"POST","path":"/detach/now","protocol":"HTTP/1.1","sourceIp":"192.0.2.7",` +
		`"userAgent":"curl/8.5.0"},"requestId":"1-abc","time":"2026-11-29T08:00:00Z","timeEpoch":"1795939200123"}}` // 2026-11-29T08:00:00.123Z
	if string(got) != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}

	r.Header.Set("Content-Type", "application/octet-stream")
	ev = httpEvent(r, []byte{0xff, 0x00}, "1-abc", at)
	if !*ev.IsBase64Encoded || *ev.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}) {
		t.Errorf("binary body: isBase64Encoded %v, body %q", *ev.IsBase64Encoded, *ev.Body)
	}
}
