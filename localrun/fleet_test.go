package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// collectParts reads the result events of a run, by region (localrun.ReadFleetRun),
// each region's subjects checked.
func collectParts(t *testing.T, evs []emulator.Event, runID string) map[string]*localrun.FleetRegion {
	t.Helper()
	run, err := localrun.ReadFleetRun(evs, runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		var p detach.Part
		if json.Unmarshal(ev.Data, &p) == nil && p.RunId == runID &&
			ev.Subject != fmt.Sprintf("acs:ecs:%s:%s:keypair/%s", p.Region, fcruntime.DefaultAccountID, p.KeyPairName) {
			t.Errorf("event %s of region %s has the subject %s", ev.Id, p.Region, ev.Subject)
		}
	}
	return run.Regions
}

// checkFleet checks a finished run against the emulator's state: every instance the
// selector matched (bound to the key pair, with the tag) is reported exactly once over
// the region's parts, with what its state says (Stopped: detached; protected or
// Running: refused, still bound); no other instance is reported or changed; each
// region's parts run from 1 to a Final one, their running totals add up, and the
// Final totals are the emulator's.
func checkFleet(t *testing.T, fleet *emulator.Fixture, emu *emulator.Server, regions map[string]*localrun.FleetRegion, keyPair string, tag emulator.Tag) {
	t.Helper()
	now := map[string]emulator.Instance{}
	for _, in := range emu.Instances() {
		now[in.InstanceId] = in
	}
	for _, region := range fleet.Regions {
		rp := regions[region]
		selected := map[string]emulator.Instance{}
		for _, in := range fleet.Instances {
			if in.RegionId == region && in.KeyPairName == keyPair && slices.Contains(in.Tags, tag) {
				selected[in.InstanceId] = in
			}
		}
		if len(selected) == 0 {
			if rp == nil || rp.NotRun == nil || rp.NotRun.Code != detach.CodeKeyPairNotFound || !rp.NotRun.Final {
				t.Errorf("region %s without the key pair: %+v, want a Final InvalidKeyPair.NotFound event", region, rp)
			}
			continue
		}
		if rp == nil {
			t.Errorf("region %s: no event", region)
			continue
		}
		reported := map[string]int{}
		var running detach.Totals
		last := len(rp.Parts)
		for n := 1; n <= last; n++ {
			p := rp.Parts[n]
			if p == nil {
				t.Fatalf("region %s: part %d of %d has no event", region, n, last)
			}
			if p.Final != (n == last) || p.Continues != (n < last) || p.Code != "" {
				t.Errorf("region %s part %d of %d: Final %v Continues %v Code %q %s", region, n, last, p.Final, p.Continues, p.Code, p.Message)
			}
			for _, r := range p.Results {
				reported[r.InstanceId]++
			}
			running.TotalCount += len(p.Results)
			running.FailCount += p.FailCount
			if p.Totals.TotalCount != running.TotalCount || p.Totals.FailCount != running.FailCount || p.Totals.Parts != n || p.TotalCount != len(p.Results) {
				t.Errorf("region %s part %d: totals %+v, counted %d/%d over %d parts", region, n, p.Totals, running.TotalCount, running.FailCount, n)
			}
		}
		detached, refused := 0, 0
		for id, in := range selected {
			after := now[id]
			switch {
			case reported[id] != 1:
				t.Errorf("%s reported %d times", id, reported[id])
			case in.Status == emulator.StatusStopped && !slices.ContainsFunc(in.Tags, isProtected):
				if after.KeyPairName != "" {
					t.Errorf("%s (Stopped) still has %q", id, after.KeyPairName)
				}
				detached++
			default:
				if after.KeyPairName != keyPair {
					t.Errorf("%s (%s, tags %v) now has %q", id, in.Status, in.Tags, after.KeyPairName)
				}
				refused++
			}
		}
		for id, n := range reported {
			if _, ok := selected[id]; !ok {
				t.Errorf("%s reported %d times, but not selected", id, n)
			}
		}
		for _, in := range fleet.Instances {
			if _, ok := selected[in.InstanceId]; !ok && in.RegionId == region && now[in.InstanceId].KeyPairName != in.KeyPairName {
				t.Errorf("%s, not selected, changed from %q to %q", in.InstanceId, in.KeyPairName, now[in.InstanceId].KeyPairName)
			}
		}
		final := rp.Parts[last].Totals
		if final.TotalCount != len(selected) || final.Codes[detach.CodeSuccess] != detached || final.FailCount != refused ||
			final.Codes[detach.CodeIncorrectStatus]+final.Codes[detach.CodeProtected] != refused {
			t.Errorf("region %s: Final totals %+v; the emulator says %d selected, %d detached, %d refused", region, final, len(selected), detached, refused)
		}
		t.Logf("region %s: %d parts, %d selected, %d detached, %d refused", region, last, len(selected), detached, refused)
	}
}

func isProtected(t emulator.Tag) bool { return t.Key == emulator.ProtectedTagKey }

// runFleet starts a fleet run with req as a timer event would (synchronously), waits
// until every part has settled, and returns the first answer and the parts.
func runFleet(t *testing.T, env *localrun.Env, req map[string]any) (*detach.Part, map[string]*localrun.FleetRegion) {
	t.Helper()
	return runFleetPayload(t, env, timerEvent(req))
}

// runFleetPayload is runFleet with a trigger's payload. A first invocation that fails
// is invoked again with the same request id, as FC does with a trigger's asynchronous
// invocation (the run is the same: its id derives from the request id).
func runFleetPayload(t *testing.T, env *localrun.Env, payload []byte) (*detach.Part, map[string]*localrun.FleetRegion) {
	t.Helper()
	inv := fcruntime.Invocation{Payload: payload}
	var res fcruntime.Result
	var err error
	for ; inv.RetryCount <= 3; inv.RetryCount++ {
		res, err = env.Runner.Invoke(context.Background(), inv)
		if err != nil || res.Outcome == fcruntime.Succeeded {
			break
		}
		t.Logf("first invocation, attempt %d: %s", inv.RetryCount, res.Payload)
		inv.RequestID = res.RequestID
	}
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("first invocation: %v %v %s", err, res.Error, res.Payload)
	}
	var first detach.Part
	if err := json.Unmarshal(res.Payload, &first); err != nil || first.RunId == "" {
		t.Fatalf("first answer %.500s: %v", res.Payload, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := env.Runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if lost := env.Runner.FailureRecords(); len(lost) > 0 {
		t.Fatalf("%d parts lost; the first: %+v", len(lost), lost[0])
	}
	return &first, collectParts(t, env.Emulator.Events(env.EventBus), first.RunId)
}

// fleetFixture is the fleet of the end-to-end tests: n instances over three regions,
// some unbound, bound to another key pair, Running or protected; and a region without
// instances or the key pair.
func fleetFixture(n int) *emulator.Fixture {
	return emulator.GenerateFleet(emulator.FleetSpec{Seed: 7, Instances: n, Empty: []string{"ap-southeast-1"},
		Unbound: 0.05, OtherKey: 0.05, Running: 0.1, Protected: 0.02})
}

var fleetRequest = map[string]any{"KeyPairName": emulator.DefaultFleetKeyPair, "RegionIds": []string{"*"},
	"Targets": map[string]any{"Tags": []map[string]string{{"Key": emulator.DefaultFleetTag.Key, "Value": emulator.DefaultFleetTag.Value}}}}

// TestFleetRun: 5,000 instances over three regions (and one without the key pair),
// MAX_INSTANCES=1000: every bound Stopped instance is detached, every other selected one
// reported, each exactly once over the parts; the Final totals are the emulator's; the
// first answer says which regions go on. The parts are asynchronous invocations that
// the function starts through the emulator's FC, each as a task of its own.
func TestFleetRun(t *testing.T) {
	fleet := fleetFixture(5000)
	env := start(t, localrun.Options{Fixture: fleet, Env: []string{"MAX_INSTANCES=1000"}, Timeout: 2 * time.Minute,
		Faults: map[string]emulator.Fault{"*": {Latency: 2 * time.Millisecond}},
		Async:  fcruntime.AsyncConfig{RetryBackoff: 10 * time.Millisecond}})
	first, regions := runFleet(t, env, fleetRequest)
	checkFleet(t, fleet, env.Emulator, regions, emulator.DefaultFleetKeyPair, emulator.DefaultFleetTag)

	if len(first.Regions) != 4 {
		t.Fatalf("first answer's regions %+v", first.Regions)
	}
	for _, r := range first.Regions {
		if r.RegionId == "ap-southeast-1" != (r.Code == detach.CodeKeyPairNotFound) || r.Continues == (r.Code != "") {
			t.Errorf("first answer: region %+v", r)
		}
	}
	if first.Part != 1 || first.Region != "cn-hangzhou" || len(first.Results) != 1000 {
		t.Errorf("first answer: region %s part %d with %d results", first.Region, first.Part, len(first.Results))
	}
	parts := 0
	for _, rp := range regions {
		parts += len(rp.Parts)
	}
	tasks := env.Emulator.FCTasks()
	if len(tasks) != parts-1 { // every part but the first invocation's is an FC task
		t.Errorf("%d FC tasks for %d parts", len(tasks), parts)
	}
	if n := env.Emulator.Calls(emulator.APIDescribeKeyPairs); n != 4 {
		t.Errorf("%d DescribeKeyPairs calls, want one per region", n)
	}
}

// TestFleetPartCrashed: parts killed in the middle of their detaching (their
// instances' processes die after DetachKeyPair call 10 or 70 acted, before its answer:
// first parts of regions started by the first invocation, then later parts) are run
// again by FC; no instance is lost or reported twice, and the totals are still the
// emulator's.
func TestFleetPartCrashed(t *testing.T) {
	fleet := fleetFixture(5000)
	env := start(t, localrun.Options{Fixture: fleet, Env: []string{"MAX_INSTANCES=1000"}, Timeout: 2 * time.Minute,
		Faults: map[string]emulator.Fault{"*": {Latency: 2 * time.Millisecond}},
		Async:  fcruntime.AsyncConfig{RetryBackoff: 10 * time.Millisecond}})
	var crashed []string
	env.Emulator.OnCall(emulator.APIDetachKeyPair, func(n int) {
		if n != 10 && n != 70 {
			return
		}
		inFlight := env.Runner.InFlight()
		for _, task := range env.Emulator.FCTasks() { // the parts FC runs, not the first invocation
			if slices.Contains(inFlight, task.RequestID) && env.Runner.Crash(task.RequestID) {
				crashed = append(crashed, task.TaskID)
			}
		}
	})
	_, regions := runFleet(t, env, fleetRequest)
	if !slices.ContainsFunc(crashed, func(id string) bool { return strings.HasSuffix(id, "-p1") }) ||
		!slices.ContainsFunc(crashed, func(id string) bool { return !strings.HasSuffix(id, "-p1") }) {
		t.Fatalf("crashed %v: want a first part (another region's) and a later one", crashed)
	}
	t.Logf("crashed %v", crashed)
	if st := env.Runner.Stats(); st.AsyncRetried < len(crashed) {
		t.Errorf("%d retries for %d crashed parts", st.AsyncRetried, len(crashed))
	}
	checkFleet(t, fleet, env.Emulator, regions, emulator.DefaultFleetKeyPair, emulator.DefaultFleetTag)
	retried := 0
	for _, rp := range regions {
		for _, a := range rp.Attempts {
			retried += a
		}
	}
	if retried < len(crashed) {
		t.Errorf("the events say %d parts were retried, %d were crashed", retried, len(crashed))
	}
}

// TestFleetFCUnreliable: FC loses the answers of half the InvokeFunction calls after it
// queued the part, and DescribeInstances' tokens expire whenever a part is handed on
// (each part's carried token is refused: its listing starts again from the start and
// skips to its place): each part is started once all the same (a call tried again, or
// a part run again after every try lost its answer, finds its task id taken: 409), and
// nothing is lost or reported twice.
func TestFleetFCUnreliable(t *testing.T) {
	fleet := fleetFixture(1500)
	env := start(t, localrun.Options{Fixture: fleet, Env: []string{"MAX_INSTANCES=100"}, Timeout: time.Minute, Seed: 5,
		Faults: map[string]emulator.Fault{emulator.APIInvokeFunction: {DropAfterRate: 0.5}},
		Async:  fcruntime.AsyncConfig{RetryBackoff: 10 * time.Millisecond}})
	env.FC.PutFunction(emulator.FCFunction{Name: fcruntime.DefaultFunctionName, AsyncTask: true, Invoke: func(payload []byte) (string, error) {
		var part struct{ RegionId string }
		json.Unmarshal(payload, &part)
		env.Emulator.ExpireNextTokens(part.RegionId) // the token the part carries has expired
		return env.Runner.InvokeAsync(fcruntime.Invocation{Payload: payload})
	}})
	_, regions := runFleet(t, env, fleetRequest)
	if n := env.Emulator.Answered(emulator.APIDescribeInstances, "InvalidParameter"); n == 0 {
		t.Error("no token was refused")
	}
	checkFleet(t, fleet, env.Emulator, regions, emulator.DefaultFleetKeyPair, emulator.DefaultFleetTag)
	if n := env.Emulator.Answered(emulator.APIInvokeFunction, emulator.CodeDroppedAfter); n == 0 {
		t.Error("no InvokeFunction answer was lost: change the seed")
	}
	seen := map[string]bool{}
	for _, task := range env.Emulator.FCTasks() {
		if seen[task.TaskID] {
			t.Errorf("task %s accepted twice", task.TaskID)
		}
		seen[task.TaskID] = true
	}
	// A part whose InvokeFunction lost every try's answer failed for FC to run it
	// again (its retry found the task taken): every task ran to success once.
	if st := env.Runner.Stats(); st.AsyncSucceeded != len(seen) {
		t.Errorf("%d parts succeeded (%d retried); %d tasks", st.AsyncSucceeded, st.AsyncRetried, len(seen))
	}
}

// TestFleetFromEventBridge: an EventBridge event (the ops portal's request bus) starts a
// fleet run as a timer does; the answer is the events' array, its one element the
// first part; the parts go on and the totals are the emulator's.
func TestFleetFromEventBridge(t *testing.T) {
	fleet := fleetFixture(900)
	env := start(t, localrun.Options{Fixture: fleet, Env: []string{"MAX_INSTANCES=100"}, Timeout: time.Minute,
		Async: fcruntime.AsyncConfig{RetryBackoff: 10 * time.Millisecond}})
	ev, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "ops-1", "source": "ops.portal", "type": "ops:detach:requested",
		"time": "2026-11-27T02:00:00Z", "data": fleetRequest})
	res, err := env.Invoke(context.Background(), ev)
	if err != nil || res.Outcome != fcruntime.Succeeded {
		t.Fatalf("invocation: %v %v %s", err, res.Error, res.Payload)
	}
	var answers []detach.Part
	if err := json.Unmarshal(res.Payload, &answers); err != nil || len(answers) != 1 || answers[0].RunId == "" || len(answers[0].Regions) != 4 {
		t.Fatalf("answer %.300s: %v", res.Payload, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	regions := collectParts(t, env.Emulator.Events(env.EventBus), answers[0].RunId)
	checkFleet(t, fleet, env.Emulator, regions, emulator.DefaultFleetKeyPair, emulator.DefaultFleetTag)
	if c := answers[0].Caller; c == nil || c.Trigger != "eventbridge" || c.EventSource != "ops.portal" {
		t.Errorf("caller %+v", c)
	}
}
