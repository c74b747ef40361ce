package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"detachkeypair/deploy"
	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
)

// Small requests: the latency of an ECS stop event (one instance) and of a request for
// 30 instances, on a fresh instance of the function and on a warm one, with the number
// of cloud round trips on their critical path, measured from the emulator's spans.

var (
	smallReps = flag.Int("small-reps", 5, "small requests: runs of each case (the wall time shown is their median)")
	noSmall   = flag.Bool("no-small", false, "skip the small requests")
)

// ecsFaults are the emulator's latency and quota on the three ECS APIs the function
// calls (EventBridge's PutEvents is left alone: the bench sends no result events).
func ecsFaults(latency time.Duration, qps float64) map[string]emulator.Fault {
	faults := map[string]emulator.Fault{}
	for _, api := range ecsRequestAPIs {
		faults[api] = emulator.Fault{Latency: latency, QPS: qps}
	}
	return faults
}

// stopEvent is events/ecs-instance-stopped.json for another instance.
func stopEvent(sample []byte, id string) []byte {
	return []byte(strings.ReplaceAll(string(sample), "i-bp1d6tsvznfghy7y0009", id))
}

func readSample() []byte {
	sample, err := os.ReadFile("events/ecs-instance-stopped.json")
	if err != nil {
		fail(fmt.Errorf("%w (run the bench from the repository's root, as make bench does)", err))
	}
	return sample
}

// ecsFleet is an ECS region of n Stopped instances (i-bp1<kind>0000001, …) bound to
// the bench's key pair, and their ids.
func ecsFleet(kind string, n int) (*emulator.Fixture, []string) {
	fix := &emulator.Fixture{Regions: []string{region}, KeyPairs: []emulator.KeyPair{
		{RegionId: region, KeyPairId: keyPairID, KeyPairName: keyPairName, FingerPrint: "3f:1c:bench"}}}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-bp1%s%07d", kind, i+1)
		fix.Instances = append(fix.Instances, emulator.Instance{RegionId: region, InstanceId: ids[i], InstanceName: ids[i],
			ZoneId: region + "-h", Status: emulator.StatusStopped, KeyPairName: keyPairName})
	}
	return fix, ids
}

// smallCase is one small request, on a fresh or a warm instance.
type smallCase struct {
	name string
	n    int
	warm bool
	// payload is the request for instances ids
	payload func(ids []string) []byte
}

// smallResult is what the runs of a case measured.
type smallResult struct {
	walls      []time.Duration
	trips      []int
	calls      [3]int // of the last run: DescribeKeyPairs, DescribeInstances, DetachKeyPair
	peakRSS    int64
	lowerBound time.Duration
}

func runSmall(ctx context.Context, bin string, latency time.Duration, qps float64) {
	sample := readSample()
	event := func(ids []string) []byte { return stopEvent(sample, ids[0]) }
	byName := func(ids []string) []byte {
		b, _ := json.Marshal(map[string]any{"RegionId": region, "KeyPairName": keyPairName, "InstanceIds": ids})
		return b
	}
	cases := []smallCase{
		{"ECS stop event, fresh instance", 1, false, event},
		{"ECS stop event, warm instance", 1, true, event},
		{"30 instances by name, fresh instance", 30, false, byName},
		{"30 instances by name, warm instance", 30, true, byName},
	}
	fmt.Printf("\nsmall requests: the key pair by name (KEY_PAIR_NAME for the events), MAX_FUNCTION_INSTANCES=%d (each instance paces at its share of the quota),\n"+
		"median wall of %d runs; round trips = the longest chain of calls one after the other, from the emulator's spans (of every run: the most)\n",
		deploy.MaxFunctionInstances, *smallReps)
	fmt.Printf("lower bound = the calls that must follow one another (the check before the detach: 2) × latency, + (the busiest API's calls - 1) / quota\n")
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tN\twall\tlower bound\tratio\tround trips\tDescribeKeyPairs\tDescribeInstances\tDetachKeyPair\tpeak RSS\t")
	for _, c := range cases {
		r := c.run(ctx, bin, latency, qps)
		slices.Sort(r.walls)
		wall := r.walls[len(r.walls)/2]
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%.2f\t%s\t%d\t%d\t%d\t%.1f MiB\t\n", c.name, c.n, wall.Round(time.Millisecond), r.lowerBound.Round(time.Millisecond),
			wall.Seconds()/r.lowerBound.Seconds(), tripsText(r.trips), r.calls[0], r.calls[1], r.calls[2], mib(r.peakRSS))
	}
	w.Flush()
}

// tripsText shows the round trips of the runs: one number when they agree.
func tripsText(trips []int) string {
	lo, hi := slices.Min(trips), slices.Max(trips)
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// run measures the case *smallReps times, each on a fresh emulator and function.
func (c smallCase) run(ctx context.Context, bin string, latency time.Duration, qps float64) smallResult {
	var r smallResult
	for rep := range *smallReps {
		fix, ids := ecsFleet("small", 2*c.n) // the second half warms the instance up
		env := startRecorded(ctx, bin, fix, ecsFaults(latency, qps), []string{"KEY_PAIR_NAME=" + keyPairName, "ECS_QPS=" + strconv.FormatFloat(qps, 'g', -1, 64),
			fmt.Sprintf("MAX_FUNCTION_INSTANCES=%d", deploy.MaxFunctionInstances)}, 1, time.Minute)
		if c.warm {
			c.invoke(ctx, env, ids[c.n:])
			// idle, as a warm instance between events: its pacers have their token back
			time.Sleep(time.Second)
		}
		env.emu.ResetCounters()
		env.spans.take()
		res := c.invoke(ctx, env, ids[:c.n])
		r.walls = append(r.walls, res.Duration)
		r.trips = append(r.trips, roundTrips(env.spans.take(), latency/5))
		r.calls = [3]int{env.emu.Calls(emulator.APIDescribeKeyPairs), env.emu.Calls(emulator.APIDescribeInstances), env.emu.Calls(emulator.APIDetachKeyPair)}
		r.peakRSS = max(r.peakRSS, env.Runner.PeakRSS())
		for _, id := range ids[:c.n] {
			if in, _ := env.emu.Instance(id); in.KeyPairName != "" {
				fail(fmt.Errorf("%s, run %d: %s still has the key pair", c.name, rep, id))
			}
		}
		env.Close()
	}
	busiest := max(r.calls[0], r.calls[1], r.calls[2])
	r.lowerBound = 2*latency + time.Duration(float64(busiest-1)/qps*float64(time.Second))
	return r
}

// invoke hands the function the case's request for ids and checks that every instance
// was detached.
func (c smallCase) invoke(ctx context.Context, env *recordedEnv, ids []string) fcruntime.Result {
	res, err := env.Invoke(ctx, c.payload(ids))
	if err != nil {
		fail(err)
	}
	if res.Outcome != fcruntime.Succeeded || !detachedAll(res.Payload, len(ids)) {
		fail(fmt.Errorf("%s: invocation %s: %.300s", c.name, res.Outcome, res.Payload))
	}
	return res
}

// detachedAll reports whether an answer (one, or an array of one) says n instances
// were detached and none failed.
func detachedAll(payload []byte, n int) bool {
	var one struct{ TotalCount, FailCount int }
	var many []struct{ TotalCount, FailCount int }
	if json.Unmarshal(payload, &many) == nil && len(many) == 1 {
		one = many[0]
	} else if json.Unmarshal(payload, &one) != nil {
		return false
	}
	return one.TotalCount == n && one.FailCount == 0
}
