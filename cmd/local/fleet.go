package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/localrun"
)

// A fleet run (a Targets request: detach/fleet.go) goes on after the first answer, in
// asynchronous invocations the function starts through the emulator's FC. invoke
// waits for them, then prints what each region's parts said.

// fleetAnswer is what the first answer of a fleet run says of the run.
type fleetAnswer struct {
	RunId     string
	Continues bool
	Regions   []detach.RegionRun
}

// fleetOf returns the fleet run an answer body starts ("" RunId if none), and whether
// it goes on in other invocations.
func fleetOf(body []byte) (runID string, goesOn bool) {
	var a fleetAnswer
	if json.Unmarshal(body, &a) != nil || a.RunId == "" {
		return "", false
	}
	goesOn = a.Continues
	for _, r := range a.Regions {
		goesOn = goesOn || r.Continues
	}
	return a.RunId, goesOn
}

// waitFleet waits until the runner has run every invocation the fleet run started
// (Drain), so that their result events are on the bus.
func (c *command) waitFleet(ctx context.Context, env *localrun.Env, runID string) error {
	fmt.Fprintf(c.stderr, "local: fleet run %s goes on in asynchronous invocations (through the emulator's FC); waiting for its parts\n", runID)
	return env.Runner.Drain(ctx)
}

// fleetReport prints a fleet run's regions from its result events: each region's parts
// and its Final totals, or why it did not run or did not finish.
func fleetReport(w io.Writer, run *localrun.FleetRun) {
	regions := slices.Sorted(maps.Keys(run.Regions))
	fmt.Fprintf(w, "== fleet run %s: %d regions\n", run.RunID, len(regions))
	for _, name := range regions {
		r := run.Regions[name]
		fmt.Fprintf(w, "%-16s %s\n", name, regionLine(r))
	}
}

// regionLine says in one line what became of a region of a fleet run.
func regionLine(r *localrun.FleetRegion) string {
	if r.NotRun != nil {
		return "not run: " + r.NotRun.Code + ": " + r.NotRun.Message
	}
	last := r.Last()
	if last == nil {
		return "no part reported"
	}
	parts := fmt.Sprintf("%d parts", len(r.Parts))
	if len(r.Parts) == 1 {
		parts = "1 part"
	}
	retried := 0
	for _, a := range r.Attempts {
		if a > 0 {
			retried++
		}
	}
	if retried > 0 {
		parts += fmt.Sprintf(" (%d run again by FC)", retried)
	}
	t := last.Totals
	line := fmt.Sprintf("%s, %d instances: %s", parts, t.TotalCount, codes(t.Codes))
	switch {
	case !last.Final:
		line = fmt.Sprintf("%s; no Final part yet (the last: part %d, %s)", line, last.Part, cmp.Or(last.Code, "it went on"))
	case last.Code != "":
		line += "; Final, stopped: " + last.Code
	default:
		line += "; Final"
	}
	return line
}

// codes lists counts by code, successes first: "Success 10, IncorrectInstanceStatus 5".
func codes(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case a == detach.CodeSuccess:
			return -1
		case b == detach.CodeSuccess:
			return 1
		}
		return 0
	})
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// fleetSucceeded is how many instances the Final parts of a fleet run count as
// successes (the instances that lost their key pair, unless a dry run).
func fleetSucceeded(run *localrun.FleetRun) int {
	n := 0
	for _, r := range run.Regions {
		if last := r.Last(); last != nil {
			n += last.Totals.Codes[detach.CodeSuccess]
		}
	}
	return n
}

// readFleet reads the fleet run the answer started from the events (nil if the answer
// is no fleet run's, or its events cannot be read).
func readFleet(body []byte, evs []emulator.Event) *localrun.FleetRun {
	runID, _ := fleetOf(body)
	if runID == "" {
		return nil
	}
	run, err := localrun.ReadFleetRun(evs, runID)
	if err != nil {
		return nil
	}
	return run
}

// fleetEventLine is what a fleet run's result event says, for eventLine: its region's
// part (and share of it) and whether it is Final; "" for another event.
func fleetEventLine(data []byte) string {
	var e struct {
		RunId         string
		Part          int
		Final         bool
		Chunk, Chunks int
	}
	if json.Unmarshal(data, &e) != nil || e.RunId == "" {
		return ""
	}
	s := fmt.Sprintf("part %d", e.Part)
	if e.Part == 0 {
		s = "not run"
	}
	if e.Chunks > 1 {
		s += fmt.Sprintf(" (event %d of %d)", e.Chunk, e.Chunks)
	}
	if e.Final {
		s += ", Final"
	}
	return s + ": "
}
