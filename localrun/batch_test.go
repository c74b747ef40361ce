package localrun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestLargeEventBatch: an EventBridge batch of one-instance requests far larger than
// the function's timeout allows is answered before the deadline (the runner says
// Succeeded, not TimedOut): every request has its answer, those not started are
// NotAttempted (504, nothing called), the emulator's state matches the answers, and
// result events go out in few PutEvents calls. The margin before the deadline is not
// asserted (a timing): `go test -run TestLargeEventBatch -v ./localrun` logs it.
func TestLargeEventBatch(t *testing.T) {
	sizes := []int{1500, 10000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			const timeout = 6 * time.Second
			env, logs := startLogged(t, localrun.Options{Fixture: fleet(n), Timeout: timeout})
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), eventBatch(n))
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation %s after %s: %.300s", res.Outcome, res.Duration, res.Error)
			}
			_, got := answers(t, res.Payload)
			if len(got) != n {
				t.Fatalf("%d answers for %d events", len(got), n)
			}
			done, notAttempted, emitted := 0, 0, 0
			var all []detach.InstanceResult
			for i, a := range got {
				if a.Code != "" || len(a.Results) != 1 || a.Results[0].InstanceId != fleetID(i) {
					t.Fatalf("answer %d: %+v", i, a)
				}
				r := a.Results[0]
				switch {
				case r.Success:
					done++
				case r.Code == 504 && r.ErrorCode == "NotAttempted" && a.FailCount == 1:
					notAttempted++
				default:
					t.Errorf("answer %d: %+v", i, r)
				}
				if a.EventEmitted == nil {
					t.Fatalf("answer %d has no EventEmitted", i)
				}
				if *a.EventEmitted {
					emitted++
				}
				all = append(all, r)
			}
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), all)
			if done == 0 || notAttempted == 0 {
				t.Errorf("%d detached, %d not attempted: the test proves little", done, notAttempted)
			}
			// every event an answer says went out is on the bus; a few more may be, from
			// calls the deadline cut after the bus took them
			evs := env.Emulator.Events(env.EventBus)
			onBus := map[string]bool{}
			for _, ev := range evs {
				onBus[ev.Id] = true
			}
			for i, a := range got {
				id := detach.NewEvent(detach.EventScope{Source: "acs.fc.detach-keypair", RequestID: res.RequestID, Seq: i}, &a.Result, nil, "").ID
				if *a.EventEmitted && !onBus[id] {
					t.Fatalf("answer %d says EventEmitted, but its event %s is not on the bus", i, id)
				}
			}
			if len(evs) < emitted || len(evs) > emitted+64 {
				t.Errorf("%d events on the bus, %d answers say EventEmitted", len(evs), emitted)
			}
			if calls := env.Emulator.Calls("PutEvents"); calls > (n+15)/16+10 {
				t.Errorf("%d PutEvents calls for %d events", calls, n)
			}
			if !logs.WaitEnd(res.RequestID, 10*time.Second) {
				t.Fatal("no end line")
			}
			if lines := strings.Count(logs.String(), "\n"); lines > 10*done+100 {
				t.Errorf("%d log lines for %d requests detached", lines, done)
			}
			t.Logf("%d events: answered in %s of %s; %d detached, %d not attempted; %d events in %d PutEvents calls",
				n, res.Duration.Round(time.Millisecond), timeout, done, notAttempted, len(evs), env.Emulator.Calls("PutEvents"))
		})
	}
}

func fleetID(i int) string { return fmt.Sprintf("i-bp1fleet%06d", i+1) }

// fleet is a fixture of n Stopped instances bound to key pair fleet-test.
func fleet(n int) *emulator.Fixture {
	f := &emulator.Fixture{Regions: []string{"cn-hangzhou"}, KeyPairs: []emulator.KeyPair{
		{RegionId: "cn-hangzhou", KeyPairId: "ssh-bp1fleettest0001", KeyPairName: "fleet-test", FingerPrint: "ab:cd"},
	}}
	for i := range n {
		id := fleetID(i)
		f.Instances = append(f.Instances, emulator.Instance{RegionId: "cn-hangzhou", InstanceId: id, InstanceName: id, ZoneId: "cn-hangzhou-h", Status: "Stopped", KeyPairName: "fleet-test"})
	}
	return f
}

// eventBatch is an EventBridge batch of n CloudEvents, each asking for one instance.
func eventBatch(n int) []byte {
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = map[string]any{
			"specversion": "1.0", "id": fmt.Sprintf("ev-%06d", i), "source": "acs.custom.ops-portal", "type": "ops.keypair.revoke",
			"data": map[string]any{"RegionId": "cn-hangzhou", "KeyPairName": "fleet-test", "InstanceIds": []string{fleetID(i)}},
		}
	}
	b, _ := json.Marshal(evs)
	return b
}
