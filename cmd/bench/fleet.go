package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// The fleet benchmark: one fleet run (detach/fleet.go) over a generated fleet, the
// parts asynchronous invocations that the function starts through the emulator's FC.
//
//	go run ./cmd/bench -fleet 100000 [-fleet-regions 3] [-fleet-max-instances 1000] [-fleet-running 0] [-latency 50ms] [-qps 20]
//
// It prints the wall time from the first invocation to the last part's end, the lower
// bound (the busiest region's calls of its busiest API over the quota, which each
// region has of its own), their ratio, the parts, the calls per region and API, the
// throttled answers, the FC invocations (retried, lost), the peak memory of the
// function's instances, and whether every selected instance was reported exactly once
// and the emulator's state agrees with the Final totals.
var (
	fleetN       = flag.Int("fleet", 0, "a fleet run of this many instances instead of the single-run benchmark (e.g. 100000)")
	fleetRegions = flag.Int("fleet-regions", 3, "fleet run: the regions the instances are spread over")
	fleetMax     = flag.Int("fleet-max-instances", 1000, "fleet run: MAX_INSTANCES, the instances of a part")
	fleetRunning = flag.Float64("fleet-running", 0, "fleet run: the share of Running instances (reported, not detached)")
)

// benchRegions are the regions of the generated fleet, in order.
var benchRegions = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-qingdao", "cn-zhangjiakou", "ap-southeast-1", "cn-hongkong"}

// ecsAPIs are the ECS APIs of a fleet run, each under the quota per region.
var ecsAPIs = append([]string{emulator.APIDescribeRegions}, ecsRequestAPIs...)

func benchFleet(ctx context.Context, bin string, latency time.Duration, qps float64) {
	regions := benchRegions[:min(max(*fleetRegions, 1), len(benchRegions))]
	fleet := emulator.GenerateFleet(emulator.FleetSpec{Seed: 1, Instances: *fleetN, Regions: regions, Running: *fleetRunning})
	faults := map[string]emulator.Fault{"*": {Latency: latency}} // PutEvents, InvokeFunction
	for _, api := range ecsAPIs {
		faults[api] = emulator.Fault{Latency: latency, QPS: qps}
	}
	loadBefore := loadAverage()
	env, err := localrun.Start(ctx, localrun.Options{
		Binary:  bin,
		Fixture: fleet,
		Faults:  faults,
		Env:     []string{fmt.Sprintf("MAX_INSTANCES=%d", *fleetMax), fmt.Sprintf("ECS_QPS=%g", qps)},
		Timeout: 10 * time.Minute,
	})
	if err != nil {
		fail(err)
	}
	defer env.Close()
	fmt.Printf("fleet run: %d instances over %d regions (%s), MAX_INSTANCES=%d; emulator: %s latency per call, quota %.0f calls/s per ECS API and region\n",
		*fleetN, len(regions), strings.Join(regions, ", "), *fleetMax, latency, qps)
	fmt.Printf("load average before: %s\n", loadBefore)

	req, _ := json.Marshal(map[string]any{"KeyPairName": emulator.DefaultFleetKeyPair, "RegionIds": []string{"*"},
		"Targets": map[string]any{"Tags": []map[string]string{{"Key": emulator.DefaultFleetTag.Key, "Value": emulator.DefaultFleetTag.Value}}}})
	payload, _ := json.Marshal(map[string]string{"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "fleet-bench", "payload": string(req)})
	begin := time.Now()
	res, err := env.Invoke(ctx, payload)
	if err != nil {
		fail(err)
	}
	var first detach.Part
	if res.Outcome != fcruntime.Succeeded || json.Unmarshal(res.Payload, &first) != nil || first.RunId == "" {
		fail(fmt.Errorf("first invocation %s: %.500s", res.Outcome, res.Payload))
	}
	firstAnswer := time.Since(begin)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if err := env.Runner.Drain(dctx); err != nil {
		fail(err)
	}
	wall := time.Since(begin)
	loadAfter := loadAverage()

	run, err := localrun.ReadFleetRun(env.Emulator.Events(env.EventBus), first.RunId)
	if err != nil {
		fail(err)
	}
	lost, duplicated, wrong := checkRun(fleet, env.Emulator, run)

	busiest, busiestAt := 0, ""
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "region\tparts\tselected\tdetached\tfailed\tDescribeKeyPairs\tDescribeInstances\tDetachKeyPair\t")
	for _, region := range regions {
		r := run.Regions[region]
		var last *detach.Part
		if r != nil {
			last = r.Last()
		}
		if last == nil || !last.Final {
			wrong = append(wrong, "region "+region+": no Final part")
			continue
		}
		for _, api := range ecsAPIs {
			if n := env.Emulator.CallsIn(api, region); n > busiest {
				busiest, busiestAt = n, region+" "+api
			}
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", region, len(r.Parts), last.Totals.TotalCount, last.Totals.Codes[detach.CodeSuccess],
			last.Totals.FailCount, env.Emulator.CallsIn(emulator.APIDescribeKeyPairs, region), env.Emulator.CallsIn(emulator.APIDescribeInstances, region),
			env.Emulator.CallsIn(emulator.APIDetachKeyPair, region))
	}
	w.Flush()
	throttled := 0
	for _, api := range ecsAPIs {
		throttled += env.Emulator.Answered(api, "Throttling.User")
	}
	st := env.Runner.Stats()
	var peak int64
	for _, in := range st.Instances {
		peak = max(peak, in.PeakRSS)
	}
	bound := time.Duration(float64(busiest) / qps * float64(time.Second))
	fmt.Printf("wall %s (first answer after %s); bound %s (busiest: %d calls of %s at %.0f/s); ratio %.3f\n",
		wall.Round(time.Millisecond), firstAnswer.Round(time.Millisecond), bound.Round(time.Millisecond), busiest, busiestAt, qps, wall.Seconds()/bound.Seconds())
	fmt.Printf("FC: %d invocations (%d parts as FC tasks), %d instances started, %d retried, %d lost; peak RSS of an instance %.1f MiB\n",
		st.Invocations, len(env.Emulator.FCTasks()), st.InstancesStarted, st.AsyncRetried, st.AsyncLost, mib(peak))
	fmt.Printf("throttled answers %d; instances lost %d, reported twice %d\n", throttled, lost, duplicated)
	fmt.Printf("load average after: %s\n", loadAfter)
	if len(wrong) > 0 || lost > 0 || duplicated > 0 {
		fail(fmt.Errorf("the run does not add up: %s", strings.Join(wrong[:min(len(wrong), 10)], "; ")))
	}
}

// checkRun compares a finished run with the emulator's state: every instance selected
// (bound to the key pair, carrying the tag) reported exactly once, the Stopped ones now
// unbound, and each region's Final totals the emulator's.
func checkRun(fleet *emulator.Fixture, emu *emulator.Server, run *localrun.FleetRun) (lost, duplicated int, wrong []string) {
	now := map[string]string{}
	for _, in := range emu.Instances() {
		now[in.InstanceId] = in.KeyPairName
	}
	reported := run.Reported()
	detached := map[string]int{}
	selected := map[string]int{}
	for _, in := range fleet.Instances {
		if in.KeyPairName != emulator.DefaultFleetKeyPair || !slices.Contains(in.Tags, emulator.DefaultFleetTag) {
			continue
		}
		selected[in.RegionId]++
		switch n := reported[in.InstanceId]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated++
		}
		if now[in.InstanceId] == "" {
			detached[in.RegionId]++
		}
		if in.Status == emulator.StatusStopped && now[in.InstanceId] != "" {
			wrong = append(wrong, in.InstanceId+" (Stopped) still bound")
		}
	}
	for region, r := range run.Regions {
		if last := r.Last(); last != nil && (last.Totals.TotalCount != selected[region] || last.Totals.Codes[detach.CodeSuccess] != detached[region]) {
			wrong = append(wrong, fmt.Sprintf("region %s: Final totals %+v, the emulator: %d selected, %d detached", region, last.Totals, selected[region], detached[region]))
		}
	}
	return lost, duplicated, wrong
}

// loadAverage is the machine's load average (/proc/loadavg), for the report.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
