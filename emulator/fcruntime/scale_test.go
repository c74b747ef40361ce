package fcruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"detachkeypair/emulator/fcruntime"
)

// TestScaleOutThrottleAndQueue: with a limit of 3 instances, 3 concurrent
// synchronous invocations run in 3 processes, one each; a 4th is refused at
// once with FC's throttling error; an asynchronous one waits in the queue,
// then runs in one of the 3 (warm) instances once they are free.
func TestScaleOutThrottleAndQueue(t *testing.T) {
	b := newBarrier(t)
	r, _ := start(t, fcruntime.Config{MaxInstances: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	results := make(chan fcruntime.Result, 3)
	for _, id := range []string{"sync-1", "sync-2", "sync-3"} {
		go func() {
			res, err := r.Invoke(ctx, fcruntime.Invocation{Payload: b.request(id)})
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			results <- res
		}()
	}
	b.wait(t, 3) // the three are inside the function at once
	if st := r.Stats(); st.InstancesStarted != 3 || st.InstancesLive != 3 {
		t.Fatalf("3 invocations at once run in %d instances (%d live), want 3", st.InstancesStarted, st.InstancesLive)
	}

	_, err := r.Invoke(ctx, fcruntime.Invocation{Payload: []byte(`{}`)})
	var se *fcruntime.ServiceError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTooManyRequests || se.Code != fcruntime.CodeResourceExhausted || se.Message == "" {
		t.Fatalf("a 4th synchronous invocation: %v, want 429 ResourceExhausted", err)
	}
	body, _ := json.Marshal(se)
	var fcBody map[string]string
	if json.Unmarshal(body, &fcBody) != nil || fcBody["errorCode"] != "ResourceExhausted" || fcBody["errorMessage"] != se.Message || len(fcBody) != 2 {
		t.Errorf("throttling body %s is not FC's {errorCode, errorMessage}", body)
	}

	asyncID, err := r.InvokeAsync(fcruntime.Invocation{Payload: b.request("async")})
	if err != nil || !requestIDForm.MatchString(asyncID) {
		t.Fatalf("InvokeAsync = %q, %v", asyncID, err)
	}
	if st := r.Stats(); st.AsyncQueued != 1 || st.InstancesStarted != 3 || st.Throttled != 1 {
		t.Fatalf("stats %+v: want the asynchronous invocation queued, no 4th instance, 1 throttled", st)
	}

	b.open()
	var pids []int
	for range 3 {
		e := answer(t, <-results)
		if e.Active != 1 {
			t.Errorf("a process had %d invocations at once, want 1", e.Active)
		}
		pids = append(pids, e.PID)
	}
	slices.Sort(pids)
	if len(slices.Compact(slices.Clone(pids))) != 3 {
		t.Fatalf("3 concurrent invocations ran in processes %v, want 3 different ones", pids)
	}
	drain(t, r)

	recs := r.SuccessRecords()
	if len(recs) != 1 || recs[0].RequestContext.RequestID != asyncID || recs[0].RequestContext.ApproximateInvokeCount != 1 {
		t.Fatalf("success records %+v: want the asynchronous invocation, run once", recs)
	}
	var e echo
	if err := json.Unmarshal([]byte(recs[0].ResponsePayload), &e); err != nil || e.RequestID != asyncID || !slices.Contains(pids, e.PID) {
		t.Errorf("the asynchronous invocation ran as %q in process %d (%v), want %s in one of %v", e.RequestID, e.PID, err, asyncID, pids)
	}
	// Warm: the next invocation reuses an instance.
	if e := answer(t, invoke(t, r, fcruntime.Invocation{}, map[string]any{})); !slices.Contains(pids, e.PID) {
		t.Errorf("an invocation after the burst ran in a new process %d, want one of %v", e.PID, pids)
	}
	st := r.Stats()
	if st.InstancesStarted != 3 || st.PeakInstances != 3 || st.Invocations != 5 || st.AsyncSucceeded != 1 || st.AsyncLost != 0 {
		t.Errorf("stats %+v: want 3 instances, 5 invocations, 1 asynchronous success", st)
	}
	for _, inst := range st.Instances {
		if inst.PeakRSS <= 0 || inst.PeakRSS > st.PeakRSS {
			t.Errorf("instance %s: peak RSS %d, overall %d", inst.ID, inst.PeakRSS, st.PeakRSS)
		}
	}
}

// TestAsyncWaitsAtTheMaximum: asynchronous invocations past the limit are
// not refused: they wait, and run as instances free up, without more
// instances than the limit.
func TestAsyncWaitsAtTheMaximum(t *testing.T) {
	b := newBarrier(t)
	r, _ := start(t, fcruntime.Config{MaxInstances: 2})
	var ids []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		id, err := r.InvokeAsync(fcruntime.Invocation{Payload: b.request(name)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if got := b.wait(t, 2); !slices.Equal(got, []string{"a", "b"}) && !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("first at the barrier: %v, want a and b (first in, first out)", got)
	}
	if st := r.Stats(); st.AsyncQueued != 3 || st.InstancesLive != 2 || st.Throttled != 0 {
		t.Fatalf("stats %+v: want 3 queued on 2 instances", st)
	}
	b.open()
	drain(t, r)
	recs := r.SuccessRecords()
	var got []string
	for _, rec := range recs {
		got = append(got, rec.RequestContext.RequestID)
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("succeeded %v, want %v", got, ids)
	}
	if st := r.Stats(); st.InstancesStarted != 2 || st.PeakInstances != 2 || st.AsyncSucceeded != 5 {
		t.Errorf("stats %+v: want 5 successes on 2 instances", st)
	}
}

// TestCloseStopsEveryInstance: Close stops every instance, busy or not, and
// drops what is queued; the runner then refuses work.
func TestCloseStopsEveryInstance(t *testing.T) {
	b := newBarrier(t)
	r, _ := start(t, fcruntime.Config{MaxInstances: 2})
	for _, name := range []string{"a", "b", "c"} {
		if _, err := r.InvokeAsync(fcruntime.Invocation{Payload: b.request(name)}); err != nil {
			t.Fatal(err)
		}
	}
	b.wait(t, 2)
	st := r.Stats()
	if st.InstancesLive != 2 || st.AsyncQueued != 1 {
		t.Fatalf("stats %+v: want 2 busy instances and 1 queued", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, inst := range st.Instances {
		if !gone(inst.PID) {
			t.Errorf("process %d still exists after Close", inst.PID)
		}
	}
	if st := r.Stats(); st.InstancesLive != 0 || st.AsyncQueued != 0 || st.AsyncLost != 0 || len(r.FailureRecords()) != 0 {
		t.Errorf("stats after Close %+v: want nothing live, queued or recorded lost", st)
	}
	if _, err := r.InvokeAsync(fcruntime.Invocation{Payload: []byte(`{}`)}); !errors.Is(err, fcruntime.ErrClosed) {
		t.Errorf("InvokeAsync after Close: %v, want ErrClosed", err)
	}
	if err := r.Drain(context.Background()); !errors.Is(err, fcruntime.ErrClosed) {
		t.Errorf("Drain after Close: %v, want ErrClosed", err)
	}
}
