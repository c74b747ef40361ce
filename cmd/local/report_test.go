package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator/fcruntime"
)

// results builds a result answer: n detached, then one failure per code given.
func results(n int, dry bool, failures ...string) detach.Result {
	r := detach.Result{KeyPairName: "ops-2026", DryRun: dry}
	for i := range n {
		r.Results = append(r.Results, detach.InstanceResult{InstanceId: fmt.Sprintf("i-%d", i), Code: 200, Success: true})
	}
	for i, code := range failures {
		r.Results = append(r.Results, detach.InstanceResult{InstanceId: fmt.Sprintf("i-f%d", i), Code: 400, ErrorCode: code})
	}
	r.TotalCount, r.FailCount = len(r.Results), len(failures)
	return r
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// httpAnswer is the function's HTTP trigger response with a JSON body.
func httpAnswer(status int, body any) []byte {
	return mustJSON(map[string]any{"statusCode": status, "headers": map[string]string{"Content-Type": "application/json"}, "body": string(mustJSON(body))})
}

func refusal(code string) detach.ErrorResponse {
	return detach.ErrorResponse{RequestId: "1-x", Code: code, Message: "because"}
}

// TestJudge: the header and the exit code of each way an invocation ends.
func TestJudge(t *testing.T) {
	failed := func(errType string, msg []byte) fcruntime.Result {
		return fcruntime.Result{Outcome: fcruntime.Failed, ErrorType: fcruntime.ErrorTypeUnhandled,
			Error: &fcruntime.FunctionError{Type: errType, Message: string(msg)}}
	}
	cases := []struct {
		name   string
		res    fcruntime.Result
		header string
		exit   int
	}{
		{"HTTP 200", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: httpAnswer(200, results(2, false))},
			"Succeeded (HTTP 200)", exitOK},
		{"HTTP 200 with failed instances", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: httpAnswer(200, results(1, false, "IncorrectInstanceStatus"))},
			"Succeeded (HTTP 200)", exitOK},
		{"direct", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON(results(2, false))},
			"Succeeded", exitOK},
		{"HTTP 404", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: httpAnswer(404, refusal("InvalidKeyPair.NotFound"))},
			"Answered 404 (InvalidKeyPair.NotFound)", exitRefused},
		{"HTTP base64 400", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON(map[string]any{"statusCode": 400, "isBase64Encoded": true,
			"body": "eyJDb2RlIjoiSW52YWxpZFBhcmFtZXRlci5Cb2R5In0="})}, // {"Code":"InvalidParameter.Body"}
			"Answered 400 (InvalidParameter.Body)", exitRefused},
		{"direct 4xx", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON(refusal("InvalidParameter.InstanceIds"))},
			"Answered 4xx (InvalidParameter.InstanceIds)", exitRefused},
		{"batch with one refused", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON([]any{results(2, false), refusal("InvalidParameter.Body")})},
			"Answered 4xx (InvalidParameter.Body) for 1 of 2 events", exitRefused},
		{"HTTP 503", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: httpAnswer(503, refusal("ServiceUnavailable"))},
			"Failed (HTTP 503 ServiceUnavailable)", exitFailed},
		{"failed invocation", failed("ServiceUnavailable", mustJSON(refusal("ServiceUnavailable"))),
			"Failed (ServiceUnavailable)", exitFailed},
		{"panic", failed("", []byte("runtime error: index out of range")),
			"Failed (unhandled error)", exitFailed},
		{"timeout", fcruntime.Result{Outcome: fcruntime.TimedOut, Error: &fcruntime.FunctionError{Message: "Function timed out after 1 seconds (maxMemoryUsage: 12.00MB)"}},
			"TimedOut", exitFailed},
		{"crash", fcruntime.Result{Outcome: fcruntime.Crashed, Error: &fcruntime.FunctionError{Message: "Process exited unexpectedly before completing request (duration: 3ms, maxMemoryUsage: 9.00MB)"}},
			"Crashed", exitFailed},
		{"not the contract's answer", fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: []byte(`"hello"`)},
			"Succeeded", exitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := judge(c.res)
			if v.header != c.header || v.exit != c.exit {
				t.Errorf("header %q exit %d; want %q exit %d", v.header, v.exit, c.header, c.exit)
			}
		})
	}
}

// TestSummaryLine: one line says what came of the instances, and why when
// nothing did.
func TestSummaryLine(t *testing.T) {
	ok := func(payload []byte) fcruntime.Result {
		return fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: payload}
	}
	twelveThree := results(12, false, "IncorrectInstanceStatus", "NotAttempted", "IncorrectInstanceStatus")
	cases := []struct {
		name string
		res  fcruntime.Result
		d    time.Duration
		want string
	}{
		{"the issue's example", ok(httpAnswer(200, twelveThree)), 41 * time.Millisecond,
			"detached 12, failed 3 (IncorrectInstanceStatus 2, NotAttempted 1) in 41 ms"},
		{"all detached", ok(mustJSON(results(2, false))), 7400 * time.Microsecond,
			"detached 2, failed 0 in 7 ms"},
		{"dry run", ok(mustJSON(results(2, true, "PublicKeyNotAttachWithInstance"))), 3280 * time.Millisecond,
			"dry run: would detach 2, failed 1 (PublicKeyNotAttachWithInstance 1) in 3.28 s"},
		{"batch", ok(mustJSON([]any{results(2, false), results(1, false, "NotAttempted")})), 50 * time.Millisecond,
			"detached 3, failed 1 (NotAttempted 1) in 50 ms"},
		{"batch with a refusal", ok(mustJSON([]any{results(2, false), refusal("InvalidParameter.Body")})), 50 * time.Millisecond,
			"detached 2, failed 0 in 50 ms; refused 1 of 2 events (InvalidParameter.Body)"},
		{"refused", ok(httpAnswer(404, refusal("InvalidKeyPair.NotFound"))), 9 * time.Millisecond,
			"nothing detached in 9 ms: InvalidKeyPair.NotFound: because"},
		{"failed", fcruntime.Result{Outcome: fcruntime.Failed, Error: &fcruntime.FunctionError{Type: "Throttling", Message: string(mustJSON(refusal("Throttling")))}}, 2 * time.Second,
			"nothing detached in 2.00 s: Throttling: because"},
		{"timed out", fcruntime.Result{Outcome: fcruntime.TimedOut, Error: &fcruntime.FunctionError{Message: "Function timed out after 1 seconds (maxMemoryUsage: 12.00MB)"}}, time.Second,
			"no answer in 1.00 s: Function timed out after 1 seconds (maxMemoryUsage: 12.00MB)"},
	}
	for _, c := range cases {
		if got := summaryLine(judge(c.res), c.d); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestReportLine: FC bills the duration rounded up to the millisecond.
func TestReportLine(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{41490 * time.Microsecond, "Duration: 41.49 ms, Billed Duration: 42 ms"},
		{2 * time.Millisecond, "Duration: 2.00 ms, Billed Duration: 2 ms"},
		{300 * time.Microsecond, "Duration: 0.30 ms, Billed Duration: 1 ms"},
		{time.Second + time.Nanosecond, "Duration: 1000.00 ms, Billed Duration: 1001 ms"},
	}
	for _, c := range cases {
		got := reportLine("1-abc", c.d, 512, 19<<20+(1<<20)/5)
		want := "REPORT RequestId: 1-abc " + c.want + ", Memory Size: 512 MB, Max Memory Used: 19.20 MB"
		if got != want {
			t.Errorf("%v:\n got %q\nwant %q", c.d, got, want)
		}
	}
}

// TestIndentJSON: one line per instance result, nested things indented, key
// order kept.
func TestIndentJSON(t *testing.T) {
	in := `{"RequestId":"1-x","TotalCount":2,"Results":[{"InstanceId":"i-1","Code":200,"Success":true},{"InstanceId":"i-2","Code":404,"Success":false,"ErrorCode":"InvalidInstanceId.NotFound"}],"Ids":["a","b"],"Empty":{}}`
	want := `{
  "RequestId": "1-x",
  "TotalCount": 2,
  "Results": [
    {"InstanceId": "i-1", "Code": 200, "Success": true},
    {"InstanceId": "i-2", "Code": 404, "Success": false, "ErrorCode": "InvalidInstanceId.NotFound"}
  ],
  "Ids": ["a", "b"],
  "Empty": {}
}`
	if got := indentJSON([]byte(in)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := indentJSON([]byte("not json")); got != "not json" {
		t.Errorf("non-JSON became %q", got)
	}
}

// TestPrettyLine: a JSON log line becomes time, level, request id, message,
// attributes; other lines stay as they are.
func TestPrettyLine(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 0, 0, 123e6, time.UTC)
	line := fmt.Sprintf(`{"time":%q,"level":"WARN","msg":"detach batch failed","request_id":"1-abc","instances":50,"error":"Throttling: slow down","extra":{"a":[1, 2]}}`, at.Format(time.RFC3339Nano))
	want := at.Local().Format("15:04:05.000") + ` WARN  1-abc detach batch failed  instances=50 error="Throttling: slow down" extra={"a":[1,2]}`
	if got := prettyLine([]byte(line), false); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := prettyLine([]byte(line), true); !strings.Contains(got, ansiYellow+"WARN ") {
		t.Errorf("a warning on a terminal is not yellow: %q", got)
	}
	sdk := "FC Invoke Start RequestId: 1-abc"
	if got := prettyLine([]byte(sdk), false); got != sdk {
		t.Errorf("SDK line became %q", got)
	}
}

// TestStateLine: the emulator's state is reported when the answer does not
// say it, or says something else.
func TestStateLine(t *testing.T) {
	before := map[string]string{"i-1": "k", "i-2": "k", "i-3": ""}
	oneGone := map[string]string{"i-1": "", "i-2": "k", "i-3": ""}
	ok := judge(fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON(results(1, false))})
	dry := judge(fcruntime.Result{Outcome: fcruntime.Succeeded, Payload: mustJSON(results(1, true))})
	timedOut := judge(fcruntime.Result{Outcome: fcruntime.TimedOut})
	cases := []struct {
		name  string
		after map[string]string
		v     verdict
		want  string
	}{
		{"answer right", oneGone, ok, ""},
		{"dry run changed nothing", before, dry, ""},
		{"dry run changed something", oneGone, dry, "emulator: 1 instances lost their key pair, the answer says 0: i-1"},
		{"timeout, something changed", oneGone, timedOut, "emulator: 1 instances lost their key pair: i-1"},
		{"timeout, nothing changed", before, timedOut, "emulator: no instance lost its key pair"},
	}
	for _, c := range cases {
		if got := stateLine(before, c.after, c.v, answeredBy(c.v)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
