package emulator_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
)

// outcome classifies an SDK call: "ok", "dropped", or "code/status".
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	code, status, ok := sdkError(err)
	if !ok {
		return "dropped"
	}
	return fmt.Sprintf("%s/%d", code, status)
}

func TestFaultRates(t *testing.T) {
	const n = 1000
	srv := start(t, emulator.Config{Seed: 7, Faults: map[string]emulator.Fault{
		"DescribeKeyPairs": {ThrottleRate: 0.2, ErrorRate: 0.3, ForbiddenRate: 0.1, DropRate: 0.1},
	}})
	c := ecsClient(t, srv)
	got := map[string]int{}
	for range n {
		_, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
		got[outcome(err)]++
	}
	t.Logf("outcomes of %d calls: %v", n, got)
	within := func(name string, count int, rate float64) {
		t.Helper()
		want := rate * n
		if d := float64(count) - want; d < -60 || d > 60 {
			t.Errorf("%s: %d of %d, want about %.0f", name, count, n, want)
		}
	}
	within("ok", got["ok"], 0.3)
	within("Throttling.User 400", got["Throttling.User/400"], 0.2)
	within("5xx", got["ServiceUnavailable/503"]+got["InternalError/500"], 0.3)
	within("ServiceUnavailable 503", got["ServiceUnavailable/503"], 0.15)
	within("InternalError 500", got["InternalError/500"], 0.15)
	within("Forbidden.RAM 403", got["Forbidden.RAM/403"], 0.1)
	within("dropped", got["dropped"], 0.1)
	if len(got) != 6 {
		t.Errorf("outcomes = %v", got)
	}
	// The server counts the same.
	for code, key := range map[string]string{"": "ok", "Throttling.User": "Throttling.User/400", "Forbidden.RAM": "Forbidden.RAM/403",
		"ServiceUnavailable": "ServiceUnavailable/503", "InternalError": "InternalError/500", emulator.CodeDropped: "dropped"} {
		if a := srv.Answered("DescribeKeyPairs", code); a != got[key] {
			t.Errorf("Answered(%q) = %d, client saw %d", code, a, got[key])
		}
	}
	if srv.Calls("DescribeKeyPairs") != n {
		t.Errorf("Calls = %d", srv.Calls("DescribeKeyPairs"))
	}
}

// TestFaultsReproducible runs the same calls against two servers with the
// same seed: they meet the same faults.
func TestFaultsReproducible(t *testing.T) {
	run := func(seed int64) string {
		srv := start(t, emulator.Config{Seed: seed, Faults: map[string]emulator.Fault{"*": {ThrottleRate: 0.3, ErrorRate: 0.2, DropRate: 0.1}}})
		c := ecsClient(t, srv)
		seq := ""
		for range 60 {
			_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1)})
			seq += outcome(err)[:2]
		}
		return seq
	}
	a, b, other := run(99), run(99), run(100)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == other {
		t.Errorf("different seeds, same faults: %s", a)
	}
}

// TestFaultsNeverChangeState detaches one instance per call under every
// fault: exactly the instances reported successful lose their key pair.
func TestFaultsNeverChangeState(t *testing.T) {
	srv := start(t, emulator.Config{Seed: 3, Faults: map[string]emulator.Fault{
		"DetachKeyPair": {ThrottleRate: 0.2, ErrorRate: 0.2, ForbiddenRate: 0.2, DropRate: 0.2},
	}})
	for _, st := range styles {
		c := ecsClient(t, srv, st.opt)
		reported := map[string]bool{}
		for n := 31; n <= 230; n++ {
			if n%10 == 0 {
				continue // Running
			}
			id := fmt.Sprintf(idFmt, n)
			resp, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), InstanceIds: ids(n)})
			if err == nil {
				if tea.StringValue(resp.Body.Results.Result[0].Success) != "true" {
					t.Fatalf("%s: %v", id, resp.Body)
				}
				reported[id] = true
			}
			in, _ := srv.Instance(id)
			if detached := in.KeyPairName == ""; detached != reported[id] {
				t.Fatalf("%s: detached %v, reported %v (%s)", id, detached, reported[id], outcome(err))
			}
		}
		t.Logf("%s: %d of 180 detached", st.name, len(reported))
		if len(reported) < 20 || len(reported) > 60 {
			t.Errorf("%s: %d of 180 succeeded, want about 36", st.name, len(reported))
		}
		// Undo for the next style.
		for id := range reported {
			in, _ := srv.Instance(id)
			in.KeyPairName = "fleet-2026"
			srv.SetInstance(in)
		}
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestQuotaWindows(t *testing.T) {
	clock := &fakeClock{t: time.Now().Truncate(time.Second)}
	srv := start(t, emulator.Config{Clock: clock.now, Faults: map[string]emulator.Fault{
		"DescribeKeyPairs": {QPS: 5},
		"DetachKeyPair":    {QPS: 0.5},
	}})
	c := ecsClient(t, srv)
	burst := func(api string, calls int) (ok, throttled int) {
		for range calls {
			var err error
			if api == "DescribeKeyPairs" {
				_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
			} else {
				_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("nope"), InstanceIds: ids(1)})
			}
			switch o := outcome(err); o {
			case "ok", "InvalidKeyPairName.NotFound/404":
				ok++
			case "Throttling.User/400":
				throttled++
			default:
				t.Fatalf("%s: %s", api, o)
			}
		}
		return ok, throttled
	}
	for second := range 3 {
		if ok, th := burst("DescribeKeyPairs", 8); ok != 5 || th != 3 {
			t.Errorf("second %d: %d admitted, %d throttled; want 5 and 3", second, ok, th)
		}
		clock.advance(time.Second)
	}
	// Below 1 QPS: one call per window of 1/QPS seconds.
	clock.advance(2*time.Second - time.Duration(clock.now().UnixNano())%(2*time.Second))
	if ok, _ := burst("DetachKeyPair", 3); ok != 1 {
		t.Errorf("0.5 QPS: %d admitted in the first window", ok)
	}
	clock.advance(time.Second)
	if ok, _ := burst("DetachKeyPair", 3); ok != 0 {
		t.Errorf("0.5 QPS: %d admitted in the same window", ok)
	}
	clock.advance(time.Second)
	if ok, _ := burst("DetachKeyPair", 3); ok != 1 {
		t.Errorf("0.5 QPS: %d admitted in the next window", ok)
	}
	if srv.Answered("DescribeKeyPairs", "Throttling.User") != 9 {
		t.Errorf("Answered throttled = %d", srv.Answered("DescribeKeyPairs", "Throttling.User"))
	}
}

// TestQuotaRealClock hammers an API with a 20 QPS quota on the real clock:
// no one-second window admits more than 20. It calls for 1.2 s, and on (up to 30 s)
// until some calls were admitted and some throttled, so that a slow machine, which
// makes fewer calls a second, still shows both.
func TestQuotaRealClock(t *testing.T) {
	const qps = 20
	srv := start(t, emulator.Config{Faults: map[string]emulator.Fault{"DescribeInstances": {QPS: qps}}})
	var mu sync.Mutex
	ok, throttled := 0, 0
	begin := time.Now()
	deadline, giveUp := begin.Add(1200*time.Millisecond), begin.Add(30*time.Second)
	enough := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ok >= qps && throttled > 0
	}
	var wg sync.WaitGroup
	for range 4 {
		c := ecsClient(t, srv, concurrent) // SDK clients are not safe for concurrent use (see README.md)
		wg.Go(func() {
			for now := time.Now(); now.Before(deadline) || !enough() && now.Before(giveUp); now = time.Now() {
				_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1)})
				o := outcome(err)
				mu.Lock()
				switch o {
				case "ok":
					ok++
				case "Throttling.User/400":
					throttled++
				default:
					t.Errorf("outcome %s", o)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	windows := int(time.Now().Unix()-begin.Unix()) + 1
	t.Logf("%d admitted, %d throttled over %d windows", ok, throttled, windows)
	if ok > qps*windows || ok < qps || throttled == 0 {
		t.Errorf("%d admitted, %d throttled over %d windows of %d", ok, throttled, windows, qps)
	}
}

// TestLatencyAndConcurrency: every call waits the latency at least, and calls made at
// once are served at once. The latency is long enough that 8 calls started together
// overlap however loaded the machine.
func TestLatencyAndConcurrency(t *testing.T) {
	const latency = 300 * time.Millisecond
	srv := start(t, emulator.Config{Faults: map[string]emulator.Fault{"*": {Latency: latency, Jitter: 20 * time.Millisecond}}})
	var wg sync.WaitGroup
	for range 8 {
		c := ecsClient(t, srv, concurrent) // SDK clients are not safe for concurrent use (see README.md)
		wg.Go(func() {
			begin := time.Now()
			if _, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil {
				t.Error(err)
			}
			if d := time.Since(begin); d < latency {
				t.Errorf("call took %v, want at least the latency", d)
			}
		})
	}
	wg.Wait()
	t.Logf("PeakConcurrency = %d", srv.PeakConcurrency("DescribeKeyPairs"))
	if p := srv.PeakConcurrency("DescribeKeyPairs"); p < 2 || p > 8 {
		t.Errorf("PeakConcurrency = %d", p)
	}
	srv.ResetCounters()
	if srv.PeakConcurrency("DescribeKeyPairs") != 0 || srv.Calls("DescribeKeyPairs") != 0 {
		t.Error("ResetCounters kept counts")
	}
}

func TestPutEventsFaults(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	put := func() error {
		_, err := c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("f", testBus, 1)})
		return err
	}
	for _, tc := range []struct {
		fault emulator.Fault
		code  string
	}{
		{emulator.Fault{ThrottleRate: 1}, "TooManyRequests"},
		{emulator.Fault{ForbiddenRate: 1}, "AccessDenied"},
		{emulator.Fault{QPS: 1}, ""}, // the first call of a window passes
	} {
		emulatortest.SetFault(t, srv, "PutEvents", tc.fault)
		err := put()
		if tc.code == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.fault, err)
			}
			continue
		}
		wantEBError(t, err, tc.code)
		if srv.Answered("PutEvents", tc.code) != 1 {
			t.Errorf("Answered(%s) = %d", tc.code, srv.Answered("PutEvents", tc.code))
		}
	}
	emulatortest.SetFault(t, srv, "PutEvents", emulator.Fault{})
	emulatortest.SetFault(t, srv, "*", emulator.Fault{ErrorRate: 1})
	if code, _, _ := sdkError(put()); code != "ServiceUnavailable" && code != "InternalError" {
		t.Errorf("5xx fault: %s", code)
	}
	if len(srv.Events(testBus)) != 1 {
		t.Errorf("faulty calls recorded events: %d", len(srv.Events(testBus)))
	}
}
