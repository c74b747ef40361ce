package rpc

import (
	"maps"
	"sync"
)

// Counters count the requests of each API, their answers by error code and
// how many were in flight at once. They are safe for concurrent use.
type Counters struct {
	mu       sync.Mutex
	calls    map[string]int
	callsIn  map[[2]string]int // by API and scope (ECS: region)
	answered map[string]map[string]int
	inflight map[string]int
	peak     map[string]int
}

// NewCounters returns zeroed counters.
func NewCounters() *Counters {
	return &Counters{calls: map[string]int{}, callsIn: map[[2]string]int{}, answered: map[string]map[string]int{}, inflight: map[string]int{}, peak: map[string]int{}}
}

// begin counts a request of api in scope, tracks how many are in flight, and
// returns the request's number among the API's calls (1 for the first).
func (c *Counters) begin(api, scope string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[api]++
	c.callsIn[[2]string{api, scope}]++
	c.inflight[api]++
	if c.inflight[api] > c.peak[api] {
		c.peak[api] = c.inflight[api]
	}
	return c.calls[api]
}

func (c *Counters) end(api string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight[api]--
}

// record counts an answer of api by its error code ("" for success).
func (c *Counters) record(api, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered[api] == nil {
		c.answered[api] = map[string]int{}
	}
	c.answered[api][code]++
}

// Calls is the number of requests of the API that reached it, authenticated
// or not, every attempt counted.
func (c *Counters) Calls(api string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[api]
}

// CallsIn is the number of requests of the API in a scope (an ECS region).
func (c *Counters) CallsIn(api, scope string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.callsIn[[2]string{api, scope}]
}

// Answered is the number of answers of the API with the error code; ""
// counts the successes and CodeDropped the dropped connections.
func (c *Counters) Answered(api, code string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered[api][code]
}

// PeakConcurrency is the largest number of requests of the API in flight at
// once since the start or the last Reset.
func (c *Counters) PeakConcurrency(api string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak[api]
}

// Reset zeroes the counts; the requests in flight stay counted as such.
func (c *Counters) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.calls)
	clear(c.callsIn)
	clear(c.answered)
	clear(c.peak)
	maps.Copy(c.peak, c.inflight)
}

// Stats is a copy of the counters, as the admin API shows them.
type Stats struct {
	Calls           map[string]int
	Answered        map[string]map[string]int
	PeakConcurrency map[string]int
}

// Stats returns a copy of the counters.
func (c *Counters) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Calls: maps.Clone(c.calls), Answered: map[string]map[string]int{}, PeakConcurrency: maps.Clone(c.peak)}
	for api, m := range c.answered {
		st.Answered[api] = maps.Clone(m)
	}
	return st
}
