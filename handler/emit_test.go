package handler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/handler"
)

// TestEventsGoToTheFunctionsRegion: a request for another region sends its result
// event to the bus of the function's own region (FC's context region, else REGION_ID);
// the subject names the request's region.
func TestEventsGoToTheFunctionsRegion(t *testing.T) {
	for _, c := range []struct {
		name, fcRegion, setting, want string
	}{
		{"FC's region", "cn-hangzhou", "ap-southeast-1", "cn-hangzhou"},
		{"REGION_ID outside FC's context", "", "ap-southeast-1", "ap-southeast-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			cfg := settingsFor(t, e.emu, map[string]string{"EVENT_BUS": "detach-results", "EVENTBRIDGE_ENDPOINT": e.emu.URL(), "REGION_ID": c.setting})
			var mu sync.Mutex
			var regions []string
			w := wire(cfg, nil)
			publishers := w.Publishers
			w.Publishers = func(region, account string, creds *credentials.AccessKey) (detach.Publisher, error) {
				mu.Lock()
				regions = append(regions, region)
				mu.Unlock()
				return publishers(region, account, creds)
			}
			h := handler.New(w)
			ctx, cancel := fcContext(10 * time.Second)
			defer cancel()
			if c.fcRegion == "" { // outside FC: the standard credential chain reads the environment
				t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", testCreds.AccessKeyID)
				t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", testCreds.AccessKeySecret)
				t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", testCreds.SecurityToken)
				ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
			}
			payload := `{"RegionId":"cn-shanghai","KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`
			if _, err := h.Invoke(ctx, []byte(payload)); err != nil {
				t.Fatal(err)
			}
			if len(regions) != 1 || regions[0] != c.want {
				t.Errorf("publisher for regions %v, want [%s]", regions, c.want)
			}
			evs := e.emu.Events("detach-results")
			if len(evs) != 1 || !strings.HasPrefix(evs[0].Subject, "acs:ecs:cn-shanghai:") {
				t.Fatalf("events %+v: want one, its subject in cn-shanghai", evs)
			}
		})
	}
}

// TestConcurrentEmitsKeepTheDeadline: invocations served at once by one instance, with
// an EventBridge that answers only after a minute, each give their emit up by their own
// deadline: their PutEvents calls are all in flight at once (no emit waits for
// another), and each answer says EventEmitted false.
//
// The exact deadline is the FC runner's to judge (localrun's TestEventBusHangs); here a
// bound of 2 s past it only catches an emit that waits for the bus (a minute), so that
// a loaded machine cannot fail the test.
func TestConcurrentEmitsKeepTheDeadline(t *testing.T) {
	e := newEnv(t, nil, nil)
	emulatortest.SetFault(t, e.emu, "PutEvents", emulator.Fault{Latency: time.Minute})
	h := handler.New(wire(settingsFor(t, e.emu, map[string]string{"EVENT_BUS": "detach-results", "EVENTBRIDGE_ENDPOINT": e.emu.URL()}), nil))
	const n = 4
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := fcContext(4 * time.Second)
			defer cancel()
			dl, _ := ctx.Deadline()
			payload := request(`"KeyPairName":"ops-2026","DryRun":true`, ids(i+1, i+1))
			out, err := h.Invoke(ctx, []byte(payload))
			if late := time.Since(dl); late > 2*time.Second {
				t.Errorf("answered %s after the deadline: the emit waited for the bus", late.Round(time.Millisecond))
			}
			if err != nil || !strings.Contains(string(out), `"EventEmitted":false`) {
				t.Errorf("answer %s, %v", out, err)
			}
		})
	}
	wg.Wait()
	if p := e.emu.PeakConcurrency("PutEvents"); p != n {
		t.Errorf("at most %d PutEvents calls in flight at once, want %d: an emit waited for another", p, n)
	}
}
