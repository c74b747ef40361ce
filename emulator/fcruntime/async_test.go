package fcruntime_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
)

// arn is the function's ARN under the default configuration.
const arn = "acs:fc:" + fcruntime.DefaultRegion + ":" + fcruntime.DefaultAccountID + ":functions/" + fcruntime.DefaultFunctionName

// recorder collects what a destination callback receives.
type recorder struct {
	mu   sync.Mutex
	recs []fcruntime.DestinationRecord
}

func (c *recorder) add(rec fcruntime.DestinationRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, rec)
}

func (c *recorder) get() []fcruntime.DestinationRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recs
}

// sawAttempts checks that the function saw request id with each retry count
// in 0..last, and none after.
func sawAttempts(t *testing.T, logs *fcruntime.Logs, id string, last int) {
	t.Helper()
	for n := 0; n <= last; n++ {
		if !logs.WaitFor(fmt.Sprintf("echofn: request %s retry %d\n", id, n), 5*time.Second) {
			t.Errorf("the function never saw request %s with retry count %d", id, n)
		}
	}
	if strings.Contains(logs.String(), fmt.Sprintf("echofn: request %s retry %d\n", id, last+1)) {
		t.Errorf("the function saw request %s a %d-th time", id, last+2)
	}
}

// TestAsyncFailureIsRetriedThenLost: a failing asynchronous invocation is
// retried MaxRetryAttempts times with the same request id and an incremented
// x-fc-retry-count, then recorded as FC's on-failure destination gets it.
func TestAsyncFailureIsRetriedThenLost(t *testing.T) {
	failures := &recorder{}
	r, logs := start(t, fcruntime.Config{Async: fcruntime.AsyncConfig{
		MaxRetryAttempts: 2,
		RetryBackoff:     time.Millisecond,
		OnFailure:        failures.add,
	}})
	payload := `{"error":"boom"}`
	before := time.Now().UnixMilli()
	id, err := r.InvokeAsync(fcruntime.Invocation{Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, r)
	sawAttempts(t, logs, id, 2)

	recs := r.FailureRecords()
	if len(recs) != 1 {
		t.Fatalf("failure records %+v, want 1", recs)
	}
	rec := recs[0]
	want := fcruntime.RequestContext{RequestID: id, FunctionArn: arn, Condition: fcruntime.ErrorTypeUnhandled, ApproximateInvokeCount: 3}
	if rec.RequestContext != want {
		t.Errorf("request context %+v, want %+v", rec.RequestContext, want)
	}
	if rec.RequestPayload != payload || rec.ResponseContext != (fcruntime.ResponseContext{StatusCode: 200, FunctionError: fcruntime.ErrorTypeUnhandled}) {
		t.Errorf("record %+v: want the payload and an unhandled error", rec)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(rec.ResponsePayload), &body); err != nil || body["errorMessage"] != "boom" || body["errorType"] != "errorString" {
		t.Errorf("response payload %q, want the function's error", rec.ResponsePayload)
	}
	if rec.Timestamp < before {
		t.Errorf("timestamp %d before the invocation (%d)", rec.Timestamp, before)
	}
	if got := failures.get(); !reflect.DeepEqual(got, recs) {
		t.Errorf("OnFailure got %+v, want %+v", got, recs)
	}
	st := r.Stats()
	if st.AsyncAccepted != 1 || st.AsyncRetried != 2 || st.AsyncLost != 1 || st.AsyncSucceeded != 0 || st.Invocations != 3 || st.InstancesStarted != 1 {
		t.Errorf("stats %+v: want 3 attempts in the one instance, 2 retries, 1 lost", st)
	}
	if len(r.SuccessRecords()) != 0 {
		t.Errorf("success records %+v, want none", r.SuccessRecords())
	}
}

// TestDestinationRecordJSON: the record marshals with FC's field names.
func TestDestinationRecordJSON(t *testing.T) {
	b, _ := json.Marshal(fcruntime.DestinationRecord{})
	want := `{"timestamp":0,"requestContext":{"requestId":"","functionArn":"","condition":"","approximateInvokeCount":0},"requestPayload":"","responseContext":{"statusCode":0,"functionError":""},"responsePayload":""}`
	if string(b) != want {
		t.Errorf("record JSON\n%s\nwant\n%s", b, want)
	}
}

// TestAsyncSucceedsOnRetry: the function knows the retry count (from the
// FC context) and the request id stays the same; the success is recorded as
// FC's on-success destination gets it.
func TestAsyncSucceedsOnRetry(t *testing.T) {
	successes := &recorder{}
	r, logs := start(t, fcruntime.Config{Async: fcruntime.AsyncConfig{RetryBackoff: time.Millisecond, OnSuccess: successes.add}})
	id, err := r.InvokeAsync(fcruntime.Invocation{Payload: []byte(`{"failUntilRetry":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, r)
	sawAttempts(t, logs, id, 2)
	recs := r.SuccessRecords()
	if len(recs) != 1 || !reflect.DeepEqual(successes.get(), recs) {
		t.Fatalf("success records %+v, callback %+v: want one, the same", recs, successes.get())
	}
	rec := recs[0]
	if rec.RequestContext != (fcruntime.RequestContext{RequestID: id, FunctionArn: arn, ApproximateInvokeCount: 3}) ||
		rec.ResponseContext != (fcruntime.ResponseContext{StatusCode: 200}) {
		t.Errorf("record %+v: want 3 attempts, a success", rec)
	}
	var e echo
	if err := json.Unmarshal([]byte(rec.ResponsePayload), &e); err != nil || e.RequestID != id || e.RetryCount != 2 {
		t.Errorf("the successful attempt saw request %q, retry count %d (%v); want %s, 2", e.RequestID, e.RetryCount, err, id)
	}
	if st := r.Stats(); st.AsyncRetried != 2 || st.AsyncSucceeded != 1 || st.AsyncLost != 0 || len(r.FailureRecords()) != 0 {
		t.Errorf("stats %+v: want 2 retries and a success", st)
	}
}

// TestAsyncCrashAndTimeoutAreRetried: an attempt whose instance dies or
// times out is a failed attempt too; each retry gets a new instance.
func TestAsyncCrashAndTimeoutAreRetried(t *testing.T) {
	cases := []struct {
		name, payload string
		timeout       time.Duration
		message       string
	}{
		{"crash", `{"exit":true}`, 0, `^Process exited unexpectedly before completing request \(duration: \d+ms, maxMemoryUsage: \d+\.\d\dMB\)$`},
		{"timeout", `{"sleepMs":10000}`, 300 * time.Millisecond, `^Function timed out after 0\.3 seconds \(maxMemoryUsage: \d+\.\d\dMB\)$`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, logs := start(t, fcruntime.Config{Async: fcruntime.AsyncConfig{MaxRetryAttempts: 1, RetryBackoff: time.Millisecond}})
			id, err := r.InvokeAsync(fcruntime.Invocation{Payload: []byte(c.payload), Timeout: c.timeout})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, r)
			sawAttempts(t, logs, id, 1)
			recs := r.FailureRecords()
			if len(recs) != 1 || recs[0].RequestContext.ApproximateInvokeCount != 2 || recs[0].RequestContext.Condition != fcruntime.ErrorTypeUnhandled ||
				recs[0].ResponseContext.FunctionError != fcruntime.ErrorTypeUnhandled {
				t.Fatalf("failure records %+v: want one, after 2 attempts", recs)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(recs[0].ResponsePayload), &body); err != nil || !regexp.MustCompile(c.message).MatchString(body["errorMessage"]) {
				t.Errorf("response payload %q, want FC's message", recs[0].ResponsePayload)
			}
			st := r.Stats()
			if st.InstancesStarted != 2 || st.InstancesLive != 0 || st.AsyncLost != 1 || st.Instances[0].Invocations != 1 || st.Instances[1].Invocations != 1 {
				t.Errorf("stats %+v: want each attempt in its own instance, both gone", st)
			}
		})
	}
}

// TestAsyncExpiresInTheQueue: an invocation that waited longer than
// MaxEventAge for an instance is lost without running.
func TestAsyncExpiresInTheQueue(t *testing.T) {
	b := newBarrier(t)
	const age = 5 * time.Millisecond
	r, logs := start(t, fcruntime.Config{MaxInstances: 1, Async: fcruntime.AsyncConfig{MaxEventAge: age}})
	held := make(chan error, 1)
	go func() {
		_, err := r.Invoke(t.Context(), fcruntime.Invocation{Payload: b.request("held")})
		held <- err
	}()
	b.wait(t, 1)
	id, err := r.InvokeAsync(fcruntime.Invocation{Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * age) // it is now older than its maximum age, whatever the clock
	b.open()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	drain(t, r)
	recs := r.FailureRecords()
	want := fcruntime.RequestContext{RequestID: id, FunctionArn: arn, Condition: fcruntime.ConditionExpired}
	if len(recs) != 1 || recs[0].RequestContext != want || recs[0].RequestPayload != `{}` || recs[0].ResponseContext != (fcruntime.ResponseContext{}) || recs[0].ResponsePayload != "" {
		t.Fatalf("failure records %+v, want %+v and no response", recs, want)
	}
	if st := r.Stats(); st.Invocations != 1 || st.AsyncLost != 1 {
		t.Errorf("stats %+v: want only the held invocation run", st)
	}
	if strings.Contains(logs.String(), id) {
		t.Errorf("the function saw the expired invocation %s", id)
	}
}

// TestCrash: InFlight lists the invocation the function works on, and Crash kills its
// instance: the attempt fails as a crash and FC retries the asynchronous invocation,
// which then succeeds. An invocation not in flight is not crashed.
func TestCrash(t *testing.T) {
	b := newBarrier(t)
	r, logs := start(t, fcruntime.Config{Async: fcruntime.AsyncConfig{MaxRetryAttempts: 1, RetryBackoff: time.Millisecond}})
	id, err := r.InvokeAsync(fcruntime.Invocation{Payload: b.request("a")})
	if err != nil {
		t.Fatal(err)
	}
	b.wait(t, 1)
	if in := r.InFlight(); len(in) != 1 || in[0] != id {
		t.Fatalf("in flight %v, want %s", in, id)
	}
	if !r.Crash(id) || r.Crash("1-no-such-request") {
		t.Fatal("Crash did not find the invocation, or found one that is not there")
	}
	b.wait(t, 1) // the retry
	b.open()
	drain(t, r)
	sawAttempts(t, logs, id, 1)
	if recs := r.SuccessRecords(); len(recs) != 1 || recs[0].RequestContext.ApproximateInvokeCount != 2 {
		t.Errorf("success records %+v: want one, after 2 attempts", recs)
	}
	if len(r.InFlight()) != 0 {
		t.Errorf("still in flight: %v", r.InFlight())
	}
}
