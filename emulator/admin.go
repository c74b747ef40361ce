package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// FaultJSON is a Fault as the admin API reads and writes it, with durations
// in Go's form ("50ms", "1.5s").
type FaultJSON struct {
	Latency       string  `json:",omitempty"`
	Jitter        string  `json:",omitempty"`
	QPS           float64 `json:",omitempty"`
	ThrottleRate  float64 `json:",omitempty"`
	ErrorRate     float64 `json:",omitempty"`
	DropRate      float64 `json:",omitempty"`
	ForbiddenRate float64 `json:",omitempty"`
}

func (f Fault) toJSON() FaultJSON {
	j := FaultJSON{QPS: f.QPS, ThrottleRate: f.ThrottleRate, ErrorRate: f.ErrorRate, DropRate: f.DropRate, ForbiddenRate: f.ForbiddenRate}
	if f.Latency > 0 {
		j.Latency = f.Latency.String()
	}
	if f.Jitter > 0 {
		j.Jitter = f.Jitter.String()
	}
	return j
}

// Fault converts the admin form back, checking it.
func (j FaultJSON) Fault() (Fault, error) {
	f := Fault{QPS: j.QPS, ThrottleRate: j.ThrottleRate, ErrorRate: j.ErrorRate, DropRate: j.DropRate, ForbiddenRate: j.ForbiddenRate}
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
	return f, f.validate()
}

// serveAdmin is the emulator's own API, for the standalone command and for
// looking inside from a shell. It needs no signature: bind the emulator to
// loopback.
//
//	GET  /_emulator/state           the current regions, key pairs and instances
//	GET  /_emulator/calls           Calls, Answered and PeakConcurrency per API
//	GET  /_emulator/events?bus=NAME the events recorded on a bus (no bus: all, by bus)
//	GET  /_emulator/faults          the faults in force
//	POST /_emulator/faults          {"DetachKeyPair": {"QPS": 5, "Latency": "50ms"}, "*": {...}}
//	                                sets the faults of the APIs named ({} clears one)
//	POST /_emulator/reset           ResetCounters
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /_emulator/state":
		writeJSON(w, http.StatusOK, "", s.State())
	case "GET /_emulator/calls":
		writeJSON(w, http.StatusOK, "", s.stats())
	case "GET /_emulator/events":
		if bus := r.URL.Query().Get("bus"); bus != "" {
			writeJSON(w, http.StatusOK, "", nonNil(s.Events(bus)))
			return
		}
		s.mu.Lock()
		all := map[string][]Event{}
		for bus, evs := range s.events {
			all[bus] = append([]Event(nil), evs...)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, "", all)
	case "GET /_emulator/faults":
		writeJSON(w, http.StatusOK, "", s.faultsJSON())
	case "POST /_emulator/faults":
		var in map[string]FaultJSON
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, "", map[string]string{"Message": "faults: " + err.Error()})
			return
		}
		set := map[string]Fault{}
		for api, j := range in {
			f, err := j.Fault()
			if err != nil {
				writeJSON(w, http.StatusBadRequest, "", map[string]string{"Message": "faults: " + api + ": " + err.Error()})
				return
			}
			set[api] = f
		}
		for api, f := range set {
			s.SetFault(api, f)
		}
		writeJSON(w, http.StatusOK, "", s.faultsJSON())
	case "POST /_emulator/reset":
		s.ResetCounters()
		writeJSON(w, http.StatusOK, "", s.stats())
	default:
		writeJSON(w, http.StatusNotFound, "", map[string]string{"Message": "unknown admin route " + route + "; see emulator/README.md"})
	}
}

func (s *Server) faultsJSON() map[string]FaultJSON {
	out := map[string]FaultJSON{}
	for api, f := range s.Faults() {
		out[api] = f.toJSON()
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
