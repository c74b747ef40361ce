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
)

// The storm: a fleet stops at once (a nightly staging shutdown), and ECS sends one
// instance-stopped event per instance, which EventBridge pushes to the function as
// asynchronous invocations. FC scales out up to the function's most instances and
// queues the rest. Measured twice: with the quota shared by every instance (each paces
// at its share, MAX_FUNCTION_INSTANCES = the reserved concurrency), and as before, each
// instance pacing at the whole quota (MAX_FUNCTION_INSTANCES=1).

var (
	storm          = flag.Bool("storm", false, "run the event storm instead: -storm-events ECS stop events as asynchronous invocations")
	stormEvents    = flag.Int("storm-events", 1000, "storm: the number of ECS stop events")
	stormInstances = flag.Int("storm-instances", deploy.MaxFunctionInstances, "storm: the function's most instances (the runner's limit, and MAX_FUNCTION_INSTANCES)")
	stormOnly      = flag.String("storm-only", "", "storm: run one mode only: shared or baseline")
)

// stormResult is what one storm measured.
type stormResult struct {
	mode        string
	wall        time.Duration
	calls       map[string]int // per ECS API, every call
	throttled   map[string]int // per ECS API, answered Throttling.User
	inResults   int            // Throttling codes in the answers the function gave (instances and requests)
	failed      int            // other failed results in the answers
	retried     int            // invocations FC ran again
	lost        int            // invocations FC gave up on
	started     int            // instances started
	rss         []int64        // peak RSS of each instance
	stillBound  int            // instances that still had the key pair at the end
	lowerBound  time.Duration
	busiestAPI  string
	busiestCall int
}

func runStorm(ctx context.Context, bin string, latency time.Duration, qps float64) {
	n, m := *stormEvents, *stormInstances
	fmt.Printf("storm: %d ECS stop events (events/ecs-instance-stopped.json, KEY_PAIR_NAME) as asynchronous invocations; the runner scales out to %d instances;\n"+
		"emulator: %s latency, quota %g calls/s per ECS API (one-second windows); FC's async defaults (3 retries, 0.5 s backoff doubling); no result events\n",
		n, m, latency, qps)
	fmt.Printf("lower bound = calls the busiest API admitted / quota (its Throttling.User answers are not admitted, so not counted)\n")
	var results []stormResult
	if *stormOnly != "baseline" {
		results = append(results, runStormMode(ctx, bin, "shared quota", fmt.Sprintf("MAX_FUNCTION_INSTANCES=%d", m), n, m, latency, qps))
	}
	if *stormOnly != "shared" {
		results = append(results, runStormMode(ctx, bin, "baseline: each at the whole quota", "MAX_FUNCTION_INSTANCES=1", n, m, latency, qps))
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mode\twall\tlower bound\tratio\tDescribeKeyPairs\tDescribeInstances\tDetachKeyPair\tthrottled answers\tthrottled in results\tother failures\tretried by FC\tlost\tinstances started\tpeak RSS max\tmedian\tstill bound\t")
	for _, r := range results {
		slices.Sort(r.rss)
		fmt.Fprintf(w, "%s\t%s\t%s\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f MiB\t%.1f MiB\t%d\t\n", r.mode, r.wall.Round(time.Millisecond), r.lowerBound.Round(time.Millisecond),
			r.wall.Seconds()/r.lowerBound.Seconds(), r.calls[emulator.APIDescribeKeyPairs], r.calls[emulator.APIDescribeInstances], r.calls[emulator.APIDetachKeyPair],
			sum(r.throttled), r.inResults, r.failed, r.retried, r.lost, r.started, mib(r.rss[len(r.rss)-1]), mib(r.rss[len(r.rss)/2]), r.stillBound)
	}
	w.Flush()
	for _, r := range results {
		fmt.Printf("%s: throttled answers per API %v; busiest API %s, %d calls admitted\n", r.mode, r.throttled, r.busiestAPI, r.busiestCall)
	}
}

func runStormMode(ctx context.Context, bin, mode, instancesSetting string, n, m int, latency time.Duration, qps float64) stormResult {
	fmt.Fprintf(os.Stderr, "bench: storm, %s...\n", mode)
	sample := readSample()
	fix, ids := ecsFleet("storm", n)
	// the deployed function's settings and timeout (s.yaml), but the instances' setting
	env := startRecorded(ctx, bin, fix, ecsFaults(latency, qps), []string{"KEY_PAIR_NAME=" + keyPairName,
		"ECS_QPS=" + strconv.FormatFloat(qps, 'g', -1, 64), instancesSetting}, m, 300*time.Second)
	defer env.Close()

	start := time.Now()
	for _, id := range ids {
		if _, err := env.InvokeAsync(stopEvent(sample, id)); err != nil {
			fail(err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if err := env.Runner.Drain(dctx); err != nil {
		fail(err)
	}
	r := stormResult{mode: mode, wall: time.Since(start), calls: map[string]int{}, throttled: map[string]int{}}
	for _, api := range ecsRequestAPIs {
		r.calls[api] = env.emu.Calls(api)
		r.throttled[api] = env.emu.Answered(api, "Throttling.User")
		if admitted := r.calls[api] - r.throttled[api]; admitted > r.busiestCall {
			r.busiestAPI, r.busiestCall = api, admitted
		}
	}
	r.lowerBound = time.Duration(float64(r.busiestCall) / qps * float64(time.Second))
	for _, rec := range env.Runner.SuccessRecords() {
		throttled, failed := answerFailures([]byte(rec.ResponsePayload))
		r.inResults += throttled
		r.failed += failed
	}
	st := env.Runner.Stats()
	r.retried, r.lost, r.started = st.AsyncRetried, st.AsyncLost, st.InstancesStarted
	for _, in := range st.Instances {
		r.rss = append(r.rss, in.PeakRSS)
	}
	for _, id := range ids {
		if in, _ := env.emu.Instance(id); in.KeyPairName != "" {
			r.stillBound++
		}
	}
	if st.AsyncSucceeded+st.AsyncLost != n {
		fail(fmt.Errorf("storm %s: %d succeeded and %d lost of %d events", mode, st.AsyncSucceeded, st.AsyncLost, n))
	}
	return r
}

// answerFailures counts, in the function's answer to an event (an array of answers),
// the throttling codes (of instances and of requests) and the other failures.
func answerFailures(payload []byte) (throttled, failed int) {
	var answers []struct {
		Code    string
		Results []struct {
			Success   bool
			ErrorCode string
		}
	}
	if err := json.Unmarshal(payload, &answers); err != nil {
		fail(fmt.Errorf("storm: answer %.200s: %v", payload, err))
	}
	count := func(code string) {
		if strings.HasPrefix(code, "Throttling") {
			throttled++
		} else {
			failed++
		}
	}
	for _, a := range answers {
		if a.Code != "" {
			count(a.Code)
		}
		for _, res := range a.Results {
			if !res.Success {
				count(res.ErrorCode)
			}
		}
	}
	return throttled, failed
}

func sum(m map[string]int) int {
	total := 0
	for _, v := range m {
		total += v
	}
	return total
}
