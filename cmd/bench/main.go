// Command bench measures the function at fleet scale: the built binary under the FC
// runtime-API runner, against the emulator with a fixed latency per call and a quota
// per API. For each fleet size it prints the wall time, the lower bound the quota
// allows, their ratio, the calls per API, the throttled answers, and the peak memory
// of the function process; and, for small fleets, the same for the one-instance-per-
// call strategy of orchestration templates, with the ratio between the two.
//
//	go run ./cmd/bench [-n 30,300,3000,10000] [-baseline 30,300] [-latency 50ms] [-qps 20] [-product ens] [-by-name]
//	                   [-function-instances 1] [-binary FILE] [-no-small] [-small-reps 5]
//	go run ./cmd/bench -storm [-storm-events 1000] [-storm-instances 10] [-storm-only shared|baseline]
//	go run ./cmd/bench -fleet 100000 [-fleet-regions 3] [-fleet-max-instances 1000] (a fleet run: fleet.go)
//
// With -product=ens the fleet is ENS's (edge instances, DetachKeyPair 30 ids a call,
// paced by ENS_QPS) instead of ECS's (50 ids a call, ECS_QPS).
//
// Then the small requests (small.go: an ECS stop event, 30 instances; on a fresh and on
// a warm instance, with the cloud round trips on their critical path; -no-small skips
// them). With -storm, the event storm instead (storm.go: -storm-events ECS stop events
// as asynchronous invocations, with the quota shared by the instances and as before).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

const (
	region      = "cn-hangzhou"
	edgeRegion  = "cn-beijing-cmcc"
	keyPairName = "bench-key"
	keyPairID   = "ssh-bp1benchkey0001"
)

// product is what the bench measures on: ECS or ENS.
type product struct {
	name   string   // the request's Product
	batch  int      // most ids a DetachKeyPair call
	page   int      // most ids a DescribeInstances call
	qpsEnv string   // the setting that paces its APIs
	apis   []string // its APIs as the emulator counts them: DescribeKeyPairs, DescribeInstances, DetachKeyPair
	others []string // its other APIs the function calls (ENS: ListTagResources, the instances' tags)
}

// ecsRequestAPIs are the ECS APIs a request calls, in order.
var ecsRequestAPIs = []string{emulator.APIDescribeKeyPairs, emulator.APIDescribeInstances, emulator.APIDetachKeyPair}

var products = map[string]product{
	"ecs": {"ECS", 50, 100, "ECS_QPS", ecsRequestAPIs, nil},
	"ens": {"ENS", 30, 50, "ENS_QPS", []string{emulator.APIENSDescribeKeyPairs, emulator.APIENSDescribeInstances, emulator.APIENSDetachKeyPair},
		[]string{emulator.APIENSListTagResources}},
}

func main() {
	sizes := flag.String("n", "30,300,3000,10000", "fleet sizes to measure")
	baseline := flag.String("baseline", "30,300", "fleet sizes for the one-instance-per-call strategy")
	latency := flag.Duration("latency", 50*time.Millisecond, "emulator latency per call")
	qps := flag.Float64("qps", 20, "emulator quota per API, calls a second")
	byName := flag.Bool("by-name", false, "name the key pair by KeyPairName (checks all instances before detaching)")
	productName := flag.String("product", "ecs", "the product: ecs or ens")
	instances := flag.Int("function-instances", 1, "the batched rows' MAX_FUNCTION_INSTANCES: the instance paces at its share of the quota")
	binary := flag.String("binary", "", "measure this built function instead of building the repository's (an older version, say)")
	flag.Parse()
	prod, ok := products[strings.ToLower(*productName)]
	if !ok {
		fail(fmt.Errorf("-product %q: want ecs or ens", *productName))
	}

	ctx := context.Background()
	bin := *binary
	if bin == "" {
		fmt.Fprintln(os.Stderr, "bench: building the function...")
		var err error
		if bin, err = localrun.Build(ctx, "."); err != nil {
			fail(err)
		}
		defer os.RemoveAll(bin[:strings.LastIndex(bin, "/")])
	}
	if *storm {
		runStorm(ctx, bin, *latency, *qps)
		return
	}
	if *fleetN > 0 { // fleet.go
		benchFleet(ctx, bin, *latency, *qps)
		return
	}

	fmt.Printf("%s; emulator: %s latency per call, quota %.0f calls/s per API; function: built binary under the FC runtime runner, MAX_FUNCTION_INSTANCES=%d\n",
		prod.name, *latency, *qps, *instances)
	fmt.Printf("lower bound = the calls that must follow one another × latency (by id: DescribeKeyPairs, DescribeInstances, DetachKeyPair; by name: the first two at once)\n" +
		"  + the paced calls after the first: by id, of the busiest API; by name, of DescribeInstances then of DetachKeyPair (every check before any detach) / the instance's share of the quota\n")
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "strategy\tN\twall\tlower bound\tratio\tDescribeKeyPairs\tDescribeInstances\tDetachKeyPair\tthrottled\tfailed\tpeak RSS\t")
	walls := map[int]time.Duration{}
	var speedups []string
	for _, n := range parseSizes(*sizes) {
		s := scenario{product: prod, n: n, latency: *latency, qps: *qps, byName: *byName, instances: *instances,
			env: []string{fmt.Sprintf("MAX_INSTANCES=%d", max(n, 1000)), fmt.Sprintf("%s=%g", prod.qpsEnv, *qps),
				fmt.Sprintf("MAX_FUNCTION_INSTANCES=%d", *instances)}}
		r := s.run(ctx, bin)
		walls[n] = r.wall
		r.print(w, "batched (ours)")
	}
	for _, n := range parseSizes(*baseline) {
		s := scenario{product: prod, n: n, latency: *latency, qps: *qps, byName: *byName,
			env: []string{fmt.Sprintf("MAX_INSTANCES=%d", max(n, 1000)), "BATCH_SIZE=1", "CONCURRENCY=10", prod.qpsEnv + "=0", "MAX_ATTEMPTS=20"}}
		r := s.run(ctx, bin)
		r.print(w, "1 per call, conc. 10")
		if ours, ok := walls[n]; ok {
			speedups = append(speedups, fmt.Sprintf("N=%d: one-instance-per-call takes %.1f× the time of batched (%s vs %s)",
				n, r.wall.Seconds()/ours.Seconds(), r.wall.Round(time.Millisecond), ours.Round(time.Millisecond)))
		}
	}
	w.Flush()
	for _, line := range speedups {
		fmt.Println(line)
	}
	if !*noSmall && prod.name == "ECS" {
		runSmall(ctx, bin, *latency, *qps)
	}
}

// scenario is one measured run: a fleet of n Stopped instances bound to one key pair.
type scenario struct {
	product product
	n       int
	latency time.Duration
	qps     float64
	// instances is MAX_FUNCTION_INSTANCES: the instance's share of the quota is
	// ⌊qps / instances⌋ calls a second (0 counts as 1)
	instances int
	byName    bool
	env       []string
}

type result struct {
	n         int
	wall      time.Duration
	lower     time.Duration
	calls     map[string]int
	throttled int
	failed    int
	peakRSS   int64
}

func (s scenario) run(ctx context.Context, bin string) result {
	ens := s.product.name == "ENS"
	ensFix := &emulator.ENSFixture{EnsRegions: []string{edgeRegion}, KeyPairs: []emulator.ENSKeyPair{
		{KeyPairId: keyPairID, KeyPairName: keyPairName, FingerPrint: "3f1cbench"},
	}}
	fix, ids := ecsFleet("bench", s.n)
	if ens { // the ECS region has the key pair but no instances
		fix, _ = ecsFleet("bench", 0)
		for i := range ids { // i- and 25 characters, as ENS's; tagged, as the function refuses ENS
			// instances without tags under the default PROTECTED_TAG (README: ENS)
			ids[i] = fmt.Sprintf("i-benchedgeinst%012d", i+1)
			ensFix.Instances = append(ensFix.Instances, emulator.ENSInstance{InstanceId: ids[i], InstanceName: ids[i],
				EnsRegionId: edgeRegion, Status: emulator.StatusStopped, KeyPairName: keyPairName,
				Tags: []emulator.Tag{{Key: "env", Value: "bench"}}})
		}
	}
	env, err := localrun.Start(ctx, localrun.Options{
		Binary:     bin,
		Fixture:    fix,
		ENSFixture: ensFix,
		Faults:     map[string]emulator.Fault{"*": {Latency: s.latency, QPS: s.qps}},
		// undocumented case: ECS answers with KeyPairId, which a request by id needs (without it, refused)
		ExposeKeyPairIDs: !s.byName,
		Env:              s.env,
		Timeout:          10 * time.Minute,
		EventBus:         "-",
	})
	if err != nil {
		fail(err)
	}
	defer env.Close()
	req := map[string]any{"Product": s.product.name, "InstanceIds": ids}
	if !ens {
		req["RegionId"] = region
	}
	if s.byName {
		req["KeyPairName"] = keyPairName
	} else {
		req["KeyPairId"] = keyPairID
	}
	payload, _ := json.Marshal(req)
	res, err := env.Invoke(ctx, payload)
	if err != nil {
		fail(err)
	}
	if res.Outcome != fcruntime.Succeeded {
		fail(fmt.Errorf("N=%d: invocation %s: %v", s.n, res.Outcome, res.Error))
	}
	var answer struct {
		TotalCount, FailCount int
		Code, Message         string
	}
	if err := json.Unmarshal(res.Payload, &answer); err != nil || answer.Code != "" || answer.TotalCount != s.n {
		fail(fmt.Errorf("N=%d: answer %.300s", s.n, res.Payload))
	}
	r := result{n: s.n, wall: res.Duration, calls: map[string]int{}, failed: answer.FailCount, peakRSS: env.Runner.PeakRSS()}
	for i, api := range s.product.apis {
		r.calls[apis[i]] = env.Emulator.Calls(api)
	}
	for _, api := range append(s.product.apis, s.product.others...) {
		r.throttled += env.Emulator.Answered(api, "Throttling.User")
	}
	// Check the truth: exactly the instances reported detached lost the key pair.
	unbound := 0
	if ens {
		for _, in := range env.Emulator.ENSInstances() {
			if in.KeyPairName == "" {
				unbound++
			}
		}
	} else {
		for _, in := range env.Emulator.Instances() {
			if in.KeyPairName == "" {
				unbound++
			}
		}
	}
	if unbound != s.n-answer.FailCount {
		fail(fmt.Errorf("N=%d: %d instances unbound, but the answer says %d detached", s.n, unbound, s.n-answer.FailCount))
	}
	r.lower = s.lowerBound()
	return r
}

// lowerBound is the least time the request can take: the calls that must follow one
// another, each a latency, and the quota's pace of the calls after the first. Named by
// id, the key pair is resolved, then the instances described, then detached; the
// busiest API's calls are paced, the others' alongside. Named by name, resolving and
// describing overlap, but every instance is described before the first detach, so the
// two APIs' paced calls add up. ENS describes a page in two calls (ListTagResources
// after DescribeInstances), one round trip more.
func (s scenario) lowerBound() time.Duration {
	detaches := math.Ceil(float64(s.n) / float64(s.product.batch))
	describes := math.Ceil(float64(s.n) / float64(s.product.page))
	chain := 3 + len(s.product.others)
	paced := max(detaches, describes) - 1
	if s.byName {
		chain, paced = 2+len(s.product.others), detaches-1+describes-1
	}
	share := s.qps
	if s.instances > 1 {
		share = math.Floor(math.Floor(s.qps) / float64(s.instances))
	}
	return time.Duration(chain)*s.latency + time.Duration(paced/share*float64(time.Second))
}

// apis name the columns of the calls per API, whatever the product.
var apis = []string{"DescribeKeyPairs", "DescribeInstances", "DetachKeyPair"}

func (r result) print(w io.Writer, strategy string) {
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%.2f\t%d\t%d\t%d\t%d\t%d\t%.1f MiB\t\n", strategy, r.n,
		r.wall.Round(time.Millisecond), r.lower.Round(time.Millisecond), r.wall.Seconds()/r.lower.Seconds(),
		r.calls["DescribeKeyPairs"], r.calls["DescribeInstances"], r.calls["DetachKeyPair"], r.throttled, r.failed,
		mib(r.peakRSS))
}

func parseSizes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fail(fmt.Errorf("bad fleet size %q", f))
		}
		out = append(out, n)
	}
	return out
}

// mib is a number of bytes in MiB, for the peak RSS columns.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
