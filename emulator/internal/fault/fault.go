// Package fault is what the emulator does wrong on purpose: per-API faults
// drawn from a seeded random source, and the cloud's flow-control quota.
package fault

import (
	"errors"
	"flag"
	"fmt"
	"maps"
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
	// The quota holds per API and per scope (Decide's): ECS's per region, as
	// the cloud's quotas are, so each region has windows of its own.
	QPS float64

	// Probabilities in [0, 1] that an admitted request is answered with
	// Throttling.User (400), with a 5xx (ServiceUnavailable 503 or
	// InternalError 500, half each), has its connection dropped without an
	// answer, or is refused with Forbidden.RAM (403). One draw decides among
	// them, so each happens at its own rate (if their sum exceeds 1, the
	// later ones in the order drop, throttle, forbidden, error get less).
	// These faults strike before the API acts: the state does not change.
	ThrottleRate, ErrorRate, DropRate, ForbiddenRate float64

	// Probabilities in [0, 1] of faults that strike after the API acted (its
	// state changes, if the request changes any, are made): the connection
	// is dropped without an answer (DropAfterRate); a 5xx is answered
	// instead of the result (ErrorAfterRate: ServiceUnavailable 503 or
	// InternalError 500, half each); a 200 is answered whose result list is
	// empty (EmptyRate) or has null entries in place of every other entry,
	// the first included (NullRate), with the rest of the answer (counts)
	// intact. The last two apply to APIs that answer a list (DetachKeyPair,
	// AttachKeyPair: Results.Result; DescribeInstances, DescribeKeyPairs,
	// PutEvents: their lists) and to successful answers only. The same draw
	// as the faults above decides, after them in the order: each happens at
	// its own rate.
	DropAfterRate, ErrorAfterRate, EmptyRate, NullRate float64
}

// Kind is the outcome of the fault draw for one request.
type Kind int

// The outcomes of a draw.
const (
	None Kind = iota
	Drop
	Throttle
	Forbidden
	Unavailable
	Internal
	// After the API acted:
	DropAfter
	UnavailableAfter
	InternalAfter
	Empty
	Null
)

// After reports whether the fault strikes after the API acted.
func (k Kind) After() bool { return k >= DropAfter }

// Set holds the per-API faults, the seeded random source and the
// flow-control windows (per API and scope). All draws happen under mu, so a sequence of requests
// meets the same faults for the same seed. It is safe for concurrent use.
type Set struct {
	mu      sync.Mutex
	byAPI   map[string]Fault
	rng     *rand.Rand
	windows map[windowKey]window
}

// windowKey names a flow-control window: the API's, in one scope (an ECS
// region; "" for an API without regions).
type windowKey struct{ api, scope string }

// window is a flow-control window: its start and the requests admitted in it.
type window struct {
	start time.Time
	n     int
}

// NewSet returns the faults byAPI (key: an API name, or "*" for every API
// without its own), drawn from a source seeded with seed.
func NewSet(seed int64, byAPI map[string]Fault) *Set {
	s := &Set{
		byAPI:   map[string]Fault{},
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x656d756c61746f72)),
		windows: map[windowKey]window{},
	}
	for api, f := range byAPI {
		s.Put(api, f)
	}
	return s
}

// Put sets the fault of an API ("*" for every API without its own); the zero
// Fault removes it.
func (s *Set) Put(api string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.byAPI, api)
	} else {
		s.byAPI[api] = f
	}
	for k := range s.windows {
		if k.api == api {
			delete(s.windows, k)
		}
	}
}

func (s *Set) lookup(api string) Fault {
	if f, ok := s.byAPI[api]; ok {
		return f
	}
	return s.byAPI["*"]
}

// Snapshot returns a copy of the faults in force.
func (s *Set) Snapshot() map[string]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.byAPI)
}

// Decide admits or refuses a request of api under the quota of its scope (an
// ECS region, whose quotas are its own; "" for none), then draws its fault
// and its latency.
func (s *Set) Decide(api, scope string, now time.Time) (Kind, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.lookup(api)
	if f.QPS > 0 && !s.admit(windowKey{api, scope}, f.QPS, now) {
		return Throttle, 0
	}
	kind := None
	if rates := f.rates(); rates[len(rates)-1].upTo > 0 {
		u := s.rng.Float64()
		for _, r := range rates {
			if u < r.upTo {
				kind = r.kind
				break
			}
		}
		switch kind {
		case Unavailable, UnavailableAfter:
			if s.rng.IntN(2) == 1 {
				kind++ // its Internal twin
			}
		}
	}
	delay := f.Latency
	if f.Jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(f.Jitter)))
	}
	return kind, delay
}

// threshold is where a kind's share of the draw ends.
type threshold struct {
	kind Kind
	upTo float64
}

// rates lays the fault's rates end to end in the order of the draw.
func (f Fault) rates() []threshold {
	order := []struct {
		kind Kind
		rate float64
	}{
		{Drop, f.DropRate}, {Throttle, f.ThrottleRate}, {Forbidden, f.ForbiddenRate}, {Unavailable, f.ErrorRate},
		{DropAfter, f.DropAfterRate}, {UnavailableAfter, f.ErrorAfterRate}, {Empty, f.EmptyRate}, {Null, f.NullRate},
	}
	out := make([]threshold, len(order))
	sum := 0.0
	for i, o := range order {
		sum += o.rate
		out[i] = threshold{o.kind, sum}
	}
	return out
}

// admit counts a request against the current flow-control window of k.
func (s *Set) admit(k windowKey, qps float64, now time.Time) bool {
	length, limit := time.Second, int(qps)
	if qps < 1 {
		length, limit = time.Duration(float64(time.Second)/qps), 1
	}
	start := now.Truncate(length)
	w := s.windows[k]
	if !w.start.Equal(start) {
		w = window{start: start}
	}
	if w.n >= limit {
		return false
	}
	w.n++
	s.windows[k] = w
	return true
}

// Validate reports a rate outside [0, 1] or a negative quota or latency.
func (f Fault) Validate() error {
	for _, r := range []float64{f.ThrottleRate, f.ErrorRate, f.DropRate, f.ForbiddenRate, f.DropAfterRate, f.ErrorAfterRate, f.EmptyRate, f.NullRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("rate %v is outside [0, 1]", r)
		}
	}
	if f.QPS < 0 || f.Latency < 0 || f.Jitter < 0 {
		return errors.New("QPS, Latency and Jitter must not be negative")
	}
	return nil
}

// Clamped returns f with its rates clamped to [0, 1] and its quota and
// latencies to at least 0.
func (f Fault) Clamped() Fault {
	c := func(v float64) float64 { return min(max(v, 0), 1) }
	f.ThrottleRate, f.ErrorRate, f.DropRate, f.ForbiddenRate = c(f.ThrottleRate), c(f.ErrorRate), c(f.DropRate), c(f.ForbiddenRate)
	f.DropAfterRate, f.ErrorAfterRate, f.EmptyRate, f.NullRate = c(f.DropAfterRate), c(f.ErrorAfterRate), c(f.EmptyRate), c(f.NullRate)
	f.QPS, f.Latency, f.Jitter = max(f.QPS, 0), max(f.Latency, 0), max(f.Jitter, 0)
	return f
}

// RegisterFlags defines the command-line flags of a Fault on fs (-latency,
// -jitter, -qps, -throttle-rate, -error-rate, -drop-rate, -forbidden-rate,
// -drop-after-rate, -error-after-rate, -empty-rate, -null-rate), for the
// commands that start an emulator.
func (f *Fault) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&f.Latency, "latency", 0, "emulator: latency added to each request")
	fs.DurationVar(&f.Jitter, "jitter", 0, "emulator: random latency in [0, jitter) added to each request")
	fs.Float64Var(&f.QPS, "qps", 0, "emulator: flow-control quota in requests per second per API (0: none)")
	fs.Float64Var(&f.ThrottleRate, "throttle-rate", 0, "emulator: share of requests answered Throttling.User")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "emulator: share of requests answered 503 ServiceUnavailable or 500 InternalError")
	fs.Float64Var(&f.DropRate, "drop-rate", 0, "emulator: share of requests whose connection is dropped")
	fs.Float64Var(&f.ForbiddenRate, "forbidden-rate", 0, "emulator: share of requests answered 403 Forbidden.RAM")
	fs.Float64Var(&f.DropAfterRate, "drop-after-rate", 0, "emulator: share of requests whose connection is dropped after the API acted (the state changed)")
	fs.Float64Var(&f.ErrorAfterRate, "error-after-rate", 0, "emulator: share of requests answered 503 or 500 after the API acted (the state changed)")
	fs.Float64Var(&f.EmptyRate, "empty-rate", 0, "emulator: share of successful requests answered 200 with an empty result list (e.g. DetachKeyPair's Results.Result)")
	fs.Float64Var(&f.NullRate, "null-rate", 0, "emulator: share of successful requests answered 200 with null in place of every other result")
}

// JSON is a Fault as the admin API reads and writes it, with durations in
// Go's form ("50ms", "1.5s").
type JSON struct {
	Latency        string  `json:",omitempty"`
	Jitter         string  `json:",omitempty"`
	QPS            float64 `json:",omitempty"`
	ThrottleRate   float64 `json:",omitempty"`
	ErrorRate      float64 `json:",omitempty"`
	DropRate       float64 `json:",omitempty"`
	ForbiddenRate  float64 `json:",omitempty"`
	DropAfterRate  float64 `json:",omitempty"`
	ErrorAfterRate float64 `json:",omitempty"`
	EmptyRate      float64 `json:",omitempty"`
	NullRate       float64 `json:",omitempty"`
}

// JSON returns the admin form of f.
func (f Fault) JSON() JSON {
	j := JSON{QPS: f.QPS, ThrottleRate: f.ThrottleRate, ErrorRate: f.ErrorRate, DropRate: f.DropRate, ForbiddenRate: f.ForbiddenRate,
		DropAfterRate: f.DropAfterRate, ErrorAfterRate: f.ErrorAfterRate, EmptyRate: f.EmptyRate, NullRate: f.NullRate}
	if f.Latency > 0 {
		j.Latency = f.Latency.String()
	}
	if f.Jitter > 0 {
		j.Jitter = f.Jitter.String()
	}
	return j
}

// Fault converts the admin form back, checking it.
func (j JSON) Fault() (Fault, error) {
	f := Fault{QPS: j.QPS, ThrottleRate: j.ThrottleRate, ErrorRate: j.ErrorRate, DropRate: j.DropRate, ForbiddenRate: j.ForbiddenRate,
		DropAfterRate: j.DropAfterRate, ErrorAfterRate: j.ErrorAfterRate, EmptyRate: j.EmptyRate, NullRate: j.NullRate}
	var err error
	if j.Latency != "" {
		if f.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return f, fmt.Errorf("Latency: %w", err)
		}
	}
	if j.Jitter != "" {
		if f.Jitter, err = time.ParseDuration(j.Jitter); err != nil {
			return f, fmt.Errorf("Jitter: %w", err)
		}
	}
	return f, f.Validate()
}
