package detach

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestInstancePace: each instance's pace is its whole share of the quota's calls a
// second, less the margin.
func TestInstancePace(t *testing.T) {
	for _, c := range []struct {
		quota     float64
		instances int
		want      float64
	}{
		{20, 1, 19},    // one instance: the whole quota, as before
		{20, 0, 19},    // unset: one
		{20, 10, 1.9},  // 2 calls a second each
		{20, 3, 5.7},   // 6 each, not 6.67: 3 × 7 would exceed 20 in some second
		{7.5, 2, 2.85}, // the cloud admits 7 a second: 3 each
		{20, 20, 0.95},
		{20, 40, 0.475}, // fewer calls than instances: on average only (settings refuse it)
		{0, 10, 0},      // unpaced
	} {
		if got := InstancePace(c.quota, c.instances); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("InstancePace(%g, %d) = %g, want %g", c.quota, c.instances, got, c.want)
		}
	}
}

// maxWindow simulates instances unsynchronised instances, each making calls spaced
// 1/pace apart from a random phase, each call reaching the cloud after a random delay
// of up to jitter seconds, for seconds seconds; it returns the most calls of all the
// instances that reached the cloud within one whole-second window.
func maxWindow(rng *rand.Rand, instances int, pace, jitter float64, seconds int) int {
	windows := make([]int, seconds+2)
	for range instances {
		for at := rng.Float64(); at < float64(seconds); at += 1 / pace {
			arrival := at + rng.Float64()*jitter
			windows[int(arrival)]++
		}
	}
	most := 0
	for _, n := range windows {
		most = max(most, n)
	}
	return most
}

// TestPaceKeepsEveryWindow: instances pacing at InstancePace never put more calls in one
// of the cloud's one-second windows than it admits, whatever their phases, with up to
// 50 ms of jitter between the pacer and the cloud; pacing at quota / instances does, for
// a quota the instances do not divide.
func TestPaceKeepsEveryWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, quota := range []float64{20, 7.5, 100} {
		for instances := 1; instances <= int(quota); instances++ {
			pace := InstancePace(quota, instances)
			for trial := range 20 {
				if got := maxWindow(rng, instances, pace, 0.050, 30); got > int(quota) {
					t.Fatalf("quota %g, %d instances at %.3f a second (trial %d): %d calls in one second", quota, instances, pace, trial, got)
				}
			}
		}
	}
	// the naive share, 20/3 a second each with the same margin, puts 7 calls of an
	// instance in some seconds: three instances, 21
	worst := 0
	for range 50 {
		worst = max(worst, maxWindow(rng, 3, 20.0/3*paceMargin, 0, 30))
	}
	if worst <= 20 {
		t.Errorf("naive pacing kept every window at %d calls; the test cannot tell the two apart", worst)
	}
}

// TestQuotaPerAPI: an API's own quota comes before its product's, which comes before
// QPS, and each is divided among the instances.
func TestQuotaPerAPI(t *testing.T) {
	s := NewService(Options{QPS: 20, ProductQPS: map[string]float64{ProductENS: 10}, Instances: 5,
		APIQPS: map[QuotaKey]float64{{ProductECS, APIDetachKeyPair}: 5, {ProductENS, APIDescribeInstances}: 0}})
	ecs, ens := Limits{Product: ProductECS, Region: "cn-hangzhou"}, Limits{Product: ProductENS}
	for _, c := range []struct {
		lim  Limits
		api  string
		want float64 // calls a second; 0 unpaced
	}{
		{ecs, APIDetachKeyPair, 1 * paceMargin},     // 5 / 5
		{ecs, APIDescribeInstances, 4 * paceMargin}, // 20 / 5
		{ens, APIDetachKeyPair, 2 * paceMargin},     // 10 / 5
		{ens, APIDescribeInstances, 0},              // its own quota: unpaced
	} {
		p := s.pacer(c.lim, c.api)
		got := 0.0
		if p.lim != nil {
			got = float64(p.lim.Limit())
		}
		if math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s %s paced at %g, want %g", c.lim.Product, c.api, got, c.want)
		}
	}
}
