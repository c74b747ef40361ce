package emulator

import (
	"flag"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault is what the emulator does wrong on purpose for one API. The zero
// Fault does nothing wrong.
type Fault struct {
	// Latency is added to every authenticated request of the API, plus a
	// uniformly random Jitter in [0, Jitter).
	Latency, Jitter time.Duration

	// QPS is the API's flow-control quota, as the cloud enforces it: the
	// clock is cut into one-second windows (aligned to whole seconds) and at
	// most floor(QPS) requests are admitted per window; the others are
	// answered Throttling.User (EventBridge: TooManyRequests) without being
	// processed. Below 1, one request is admitted per window of 1/QPS
	// seconds. Refused requests do not use up the quota. 0 means no quota.
	QPS float64

	// Probabilities in [0, 1] that an admitted request is answered with
	// Throttling.User (400), with a 5xx (ServiceUnavailable 503 or
	// InternalError 500, half each), has its connection dropped without an
	// answer, or is refused with Forbidden.RAM (403). One draw decides among
	// them, so each happens at its own rate (if their sum exceeds 1, the
	// later ones in the order drop, throttle, forbidden, error get less).
	// A faulty request never changes the state.
	ThrottleRate, ErrorRate, DropRate, ForbiddenRate float64
}

// faultKind is the outcome of the fault draw for one request.
type faultKind int

const (
	faultNone faultKind = iota
	faultDrop
	faultThrottle
	faultForbidden
	faultUnavailable
	faultInternal
)

// faults holds the per-API fault settings, the seeded random source and the
// flow-control windows. All draws happen under mu, so a sequence of
// requests sees the same faults for the same seed.
type faults struct {
	mu      sync.Mutex
	byAPI   map[string]Fault
	rng     *rand.Rand
	windows map[string]window
}

// window is a flow-control window: its start and the requests admitted in it.
type window struct {
	start time.Time
	n     int
}

func newFaults(seed int64, byAPI map[string]Fault) *faults {
	f := &faults{
		byAPI:   map[string]Fault{},
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x656d756c61746f72)),
		windows: map[string]window{},
	}
	for api, fault := range byAPI {
		f.set(api, fault)
	}
	return f
}

func (f *faults) set(api string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == (Fault{}) {
		delete(f.byAPI, api)
	} else {
		f.byAPI[api] = fault
	}
	delete(f.windows, api)
}

// get returns the API's fault, or the "*" one when the API has none.
func (f *faults) get(api string) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookup(api)
}

func (f *faults) lookup(api string) Fault {
	if fault, ok := f.byAPI[api]; ok {
		return fault
	}
	return f.byAPI["*"]
}

// snapshot returns a copy of the fault settings.
func (f *faults) snapshot() map[string]Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]Fault, len(f.byAPI))
	for k, v := range f.byAPI {
		m[k] = v
	}
	return m
}

// decide admits or refuses a request of api under the quota, then draws its
// fault and its latency.
func (f *faults) decide(api string, now time.Time) (faultKind, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault := f.lookup(api)
	if fault.QPS > 0 && !f.admit(api, fault.QPS, now) {
		return faultThrottle, 0
	}
	kind := faultNone
	if fault.DropRate+fault.ThrottleRate+fault.ForbiddenRate+fault.ErrorRate > 0 {
		u := f.rng.Float64()
		switch {
		case u < fault.DropRate:
			kind = faultDrop
		case u < fault.DropRate+fault.ThrottleRate:
			kind = faultThrottle
		case u < fault.DropRate+fault.ThrottleRate+fault.ForbiddenRate:
			kind = faultForbidden
		case u < fault.DropRate+fault.ThrottleRate+fault.ForbiddenRate+fault.ErrorRate:
			kind = faultUnavailable
			if f.rng.IntN(2) == 1 {
				kind = faultInternal
			}
		}
	}
	delay := fault.Latency
	if fault.Jitter > 0 {
		delay += time.Duration(f.rng.Int64N(int64(fault.Jitter)))
	}
	return kind, delay
}

// admit counts a request against the API's current flow-control window.
func (f *faults) admit(api string, qps float64, now time.Time) bool {
	length, limit := time.Second, int(qps)
	if qps < 1 {
		length, limit = time.Duration(float64(time.Second)/qps), 1
	}
	start := now.Truncate(length)
	w := f.windows[api]
	if !w.start.Equal(start) {
		w = window{start: start}
	}
	if w.n >= limit {
		return false
	}
	w.n++
	f.windows[api] = w
	return true
}

// RegisterFlags defines the command-line flags of a Fault on fs (-latency, -jitter,
// -qps, -throttle-rate, -error-rate, -drop-rate, -forbidden-rate), for the commands
// that start an emulator.
func (f *Fault) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&f.Latency, "latency", 0, "emulator: latency added to each request")
	fs.DurationVar(&f.Jitter, "jitter", 0, "emulator: random latency in [0, jitter) added to each request")
	fs.Float64Var(&f.QPS, "qps", 0, "emulator: flow-control quota in requests per second per API (0: none)")
	fs.Float64Var(&f.ThrottleRate, "throttle-rate", 0, "emulator: share of requests answered Throttling.User")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "emulator: share of requests answered 503 ServiceUnavailable or 500 InternalError")
	fs.Float64Var(&f.DropRate, "drop-rate", 0, "emulator: share of requests whose connection is dropped")
	fs.Float64Var(&f.ForbiddenRate, "forbidden-rate", 0, "emulator: share of requests answered 403 Forbidden.RAM")
}
