package emulator

import (
	"encoding/json"
	"net/http"

	"detachkeypair/emulator/internal/rpc"
)

// serveAdmin is the emulator's own API, for the standalone command and for
// looking inside from a shell. It needs no signature: bind the emulator to
// loopback.
//
//	GET  /_emulator/state           the current regions, key pairs and instances (ECS)
//	GET  /_emulator/ens/state       the current edge regions, key pairs and instances of ENS
//	GET  /_emulator/fc/tasks        the asynchronous tasks FC's InvokeFunction accepted
//	GET  /_emulator/calls           Calls, Answered and PeakConcurrency per API
//	GET  /_emulator/events?bus=NAME the events recorded on a bus (no bus: all, by bus)
//	GET  /_emulator/faults          the faults in force
//	POST /_emulator/faults          {"DetachKeyPair": {"QPS": 5, "Latency": "50ms"}, "*": {...}}
//	                                sets the faults of the APIs named ({} clears one)
//	POST /_emulator/reset           ResetCounters
//	GET  /_emulator/schedule        the scheduled changes, done or not
//	POST /_emulator/schedule        {"API": "DetachKeyPair", "Call": 1, "InstanceId": "i-…", "Action": "Start"}
//	                                schedules a Change (Action Start, Stop, or Bind with KeyPairName)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /_emulator/state":
		rpc.WriteJSON(w, http.StatusOK, "", s.State())
	case "GET /_emulator/ens/state":
		rpc.WriteJSON(w, http.StatusOK, "", s.ENSState())
	case "GET /_emulator/fc/tasks":
		rpc.WriteJSON(w, http.StatusOK, "", nonNil(s.FCTasks()))
	case "GET /_emulator/calls":
		rpc.WriteJSON(w, http.StatusOK, "", s.counters.Stats())
	case "GET /_emulator/events":
		if bus := r.URL.Query().Get("bus"); bus != "" {
			rpc.WriteJSON(w, http.StatusOK, "", nonNil(s.Events(bus)))
			return
		}
		rpc.WriteJSON(w, http.StatusOK, "", s.eb.AllEvents())
	case "GET /_emulator/faults":
		rpc.WriteJSON(w, http.StatusOK, "", s.faultsJSON())
	case "POST /_emulator/faults":
		var in map[string]FaultJSON
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			rpc.WriteJSON(w, http.StatusBadRequest, "", map[string]string{"Message": "faults: " + err.Error()})
			return
		}
		set := map[string]Fault{}
		for api, j := range in {
			f, err := j.Fault()
			if err == nil {
				err = checkFaultAPI(api)
			}
			if err != nil {
				rpc.WriteJSON(w, http.StatusBadRequest, "", map[string]string{"Message": "faults: " + api + ": " + err.Error()})
				return
			}
			set[api] = f
		}
		for api, f := range set {
			s.SetFault(api, f) // every name was checked: nothing is refused
		}
		rpc.WriteJSON(w, http.StatusOK, "", s.faultsJSON())
	case "POST /_emulator/reset":
		s.ResetCounters()
		rpc.WriteJSON(w, http.StatusOK, "", s.counters.Stats())
	case "GET /_emulator/schedule":
		rpc.WriteJSON(w, http.StatusOK, "", nonNil(s.Scheduled()))
	case "POST /_emulator/schedule":
		var c Change
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			rpc.WriteJSON(w, http.StatusBadRequest, "", map[string]string{"Message": "schedule: " + err.Error()})
			return
		}
		if err := s.Schedule(c); err != nil {
			rpc.WriteJSON(w, http.StatusBadRequest, "", map[string]string{"Message": err.Error()})
			return
		}
		rpc.WriteJSON(w, http.StatusOK, "", s.Scheduled())
	default:
		rpc.WriteJSON(w, http.StatusNotFound, "", map[string]string{"Message": "unknown admin route " + route + "; see emulator/README.md"})
	}
}

func (s *Server) faultsJSON() map[string]FaultJSON {
	out := map[string]FaultJSON{}
	for api, f := range s.Faults() {
		out[api] = f.JSON()
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
