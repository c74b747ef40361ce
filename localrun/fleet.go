package localrun

import (
	"encoding/json"
	"fmt"
	"slices"

	"detachkeypair/detach"
	"detachkeypair/emulator"
)

// FleetRun is what the result events of a fleet run say (detach/fleet.go), for the
// local command, the tests and the benchmark: by region, each part as the last attempt
// that emitted it reported it (the events it was split over joined), and the regions
// that did not run (their key pair not found, say).
type FleetRun struct {
	RunID   string
	Regions map[string]*FleetRegion
}

// FleetRegion is one region of a fleet run.
type FleetRegion struct {
	Parts    map[int]*detach.Part // by part number
	Attempts map[int]int          // the attempt (FC's retry count) that reported each part
	NotRun   *detach.Part         // the region's only event when it did not run
}

// Last is the region's part with the highest number (nil if none).
func (r *FleetRegion) Last() *detach.Part {
	n := 0
	for k := range r.Parts {
		n = max(n, k)
	}
	return r.Parts[n]
}

// fleetEvent is the data of a fleet run's result event, or of one share of it.
type fleetEvent struct {
	detach.Part
	Chunk, Chunks int
}

// ReadFleetRun reads the result events of the run runID among evs. A part whose events
// are not all there is an error.
func ReadFleetRun(evs []emulator.Event, runID string) (*FleetRun, error) {
	type key struct {
		region        string
		part, attempt int
	}
	shares := map[key][]fleetEvent{}
	run := &FleetRun{RunID: runID, Regions: map[string]*FleetRegion{}}
	for _, ev := range evs {
		var fe fleetEvent
		if json.Unmarshal(ev.Data, &fe) != nil || fe.RunId != runID {
			continue
		}
		r := run.Regions[fe.Region]
		if r == nil {
			r = &FleetRegion{Parts: map[int]*detach.Part{}, Attempts: map[int]int{}}
			run.Regions[fe.Region] = r
		}
		if fe.Part.Part == 0 {
			r.NotRun = &fe.Part
			continue
		}
		k := key{fe.Region, fe.Part.Part, fe.Attempt}
		shares[k] = append(shares[k], fe)
	}
	for k, list := range shares {
		slices.SortFunc(list, func(a, b fleetEvent) int { return a.Chunk - b.Chunk })
		p := list[0].Part
		p.Results = nil
		for i, fe := range list {
			if n := max(fe.Chunks, 1); len(list) != n || fe.Chunks > 0 && fe.Chunk != i+1 {
				return nil, fmt.Errorf("region %s part %d attempt %d: %d of its %d events", k.region, k.part, k.attempt, len(list), n)
			}
			p.Results = append(p.Results, fe.Results...)
		}
		r := run.Regions[k.region]
		if prev, ok := r.Attempts[k.part]; !ok || k.attempt > prev {
			r.Parts[k.part], r.Attempts[k.part] = &p, k.attempt
		}
	}
	return run, nil
}

// Reported counts how often each instance is reported over the parts of the run.
func (run *FleetRun) Reported() map[string]int {
	n := map[string]int{}
	for _, r := range run.Regions {
		for _, p := range r.Parts {
			for _, x := range p.Results {
				n[x.InstanceId]++
			}
		}
	}
	return n
}
