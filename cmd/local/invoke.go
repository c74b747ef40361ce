package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/handler"
	"detachkeypair/localrun"
)

// invoke hands the function one event and reports what happened.
func (c *command) invoke(ctx context.Context, args []string) int {
	o, code, ok := parse("invoke", args, c.stderr)
	if !ok {
		return code
	}
	payload, from, err := readEvent(o.event, c.stdin)
	if err != nil {
		fmt.Fprintf(c.stderr, "local invoke: %v\n", err)
		return exitUsage
	}
	env, out, stop, code := c.start(ctx, o)
	if env == nil {
		return code
	}
	defer stop()
	fmt.Fprintf(c.stderr, "local: emulator at %s; invoking the function with %s (%s trigger)\n",
		env.EmulatorURL, from, handler.Classify(payload))

	var before map[string]string // the emulator's bindings, when it is ours (a running one is shared)
	if env.Emulator != nil {
		before = env.Emulator.Bindings()
	}
	earlier, err := c.events(ctx, env) // a running emulator keeps earlier runs' events
	if err != nil {
		fmt.Fprintf(c.stderr, "local: %v\n", err)
		return exitLocal
	}
	res, err := env.Invoke(ctx, payload)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(c.stderr, "local: interrupted before the answer")
			return exitInterrupted
		}
		fmt.Fprintf(c.stderr, "local: %v\n", err)
		return exitLocal
	}
	if res.Outcome == fcruntime.Succeeded || res.Outcome == fcruntime.Failed {
		out.waitEnd(res.RequestID, 2*time.Second) // its logs first, then the report
	}
	v := judge(res)
	if runID, goesOn := fleetOf(v.body); goesOn {
		if err := c.waitFleet(ctx, env, runID); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(c.stderr, "local: interrupted before the fleet run's parts ended")
				return exitInterrupted
			}
			fmt.Fprintf(c.stderr, "local: %v\n", err)
			return exitLocal
		}
	}
	evs, err := c.events(ctx, env)
	if err != nil {
		fmt.Fprintf(c.stderr, "local: %v\n", err)
		return exitLocal
	}
	c.report(c.stdout, v, res, env, o, before, evs[min(len(earlier), len(evs)):])
	if c.inspect != nil {
		c.inspect(env)
	}
	return v.exit
}

// events returns the result events on the function's bus (none without one).
func (c *command) events(ctx context.Context, env *localrun.Env) ([]emulator.Event, error) {
	if env.EventBus == "" {
		return nil, nil
	}
	return env.Events(ctx, env.EventBus)
}

// start builds the function (unless --binary) and starts it under the runner
// against a fresh emulator, its output going to an output. On failure env is
// nil and code says why: exitFailed when the function itself stopped at start
// (what it printed is shown, also with --quiet), exitUsage for a bad
// --fixture, exitLocal otherwise.
func (c *command) start(ctx context.Context, o options) (env *localrun.Env, out *output, stop func(), code int) {
	seed := o.seed
	if o.emulatorURL != "" && !o.seedSet {
		seed = 0 // the running emulator has its own seed
	}
	var fixture *emulator.Fixture
	if o.fixture != "" {
		var err error
		if fixture, err = emulator.LoadFixture(o.fixture); err != nil {
			fmt.Fprintf(c.stderr, "local: --fixture: %v\n", err)
			return nil, nil, nil, exitUsage
		}
	}
	bin, cleanup, err := c.function(ctx, o)
	if err != nil {
		fmt.Fprintf(c.stderr, "local: %v\n", err)
		return nil, nil, nil, exitLocal
	}
	out = newOutput(c.stderr, o.quiet, c.terminal && !o.jsonLogs)
	env, err = localrun.Start(ctx, localrun.Options{
		Emulator:         o.emulatorURL,
		Binary:           bin,
		BaseEnv:          c.baseEnv,
		Fixture:          fixture,
		Faults:           o.faults(),
		Seed:             seed,
		ExposeKeyPairIDs: o.exposeIDs,
		Env:              o.settings(),
		Timeout:          o.timeout,
		MemoryMB:         o.memory,
		MaxInstances:     o.maxInstances,
		FunctionLogs:     out,
	})
	if err == nil {
		return env, out, func() { env.Close(); cleanup() }, exitOK
	}
	cleanup()
	var notStarted *localrun.StartError
	if !errors.As(err, &notStarted) {
		fmt.Fprintf(c.stderr, "local: %v\n", err)
		return nil, nil, nil, exitLocal
	}
	if o.quiet { // what the function said is the point: show it anyway
		shown := newOutput(c.stderr, false, out.pretty)
		io.WriteString(shown, out.captured())
	}
	fmt.Fprintf(c.stdout, "== Failed (the function stopped at start)\nthe function exited before asking for its first invocation: what it printed, above, says why\n(%v)\n", err)
	return nil, nil, nil, exitFailed
}

// report prints what happened: the header, the summary, the REPORT line, the
// answer, the result events and, with faults, the emulator's counters. before
// is the emulator's bindings before the run (nil: not ours to compare).
func (c *command) report(w io.Writer, v verdict, res fcruntime.Result, env *localrun.Env, o options, before map[string]string, evs []emulator.Event) {
	fmt.Fprintf(w, "== %s · request %s\n", v.header, res.RequestID)
	fmt.Fprintln(w, summaryLine(v, res.Duration))
	fleet := readFleet(v.body, evs)
	if before != nil {
		answered := answeredBy(v)
		if fleet != nil && !tally(v.answers).dryRun {
			answered = fleetSucceeded(fleet) // the whole run's, every part's
		}
		if line := stateLine(before, env.Emulator.Bindings(), v, answered); line != "" {
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, reportLine(res.RequestID, res.Duration, o.memory, env.Runner.PeakRSS()))

	switch {
	case res.Outcome == fcruntime.Failed && res.Error != nil:
		fmt.Fprintf(w, "== error (X-Fc-Error-Type: %s), errorType %q, errorMessage:\n", res.ErrorType, res.Error.Type)
		fmt.Fprintln(w, indentJSON([]byte(res.Error.Message)))
	case res.Outcome != fcruntime.Succeeded:
		fmt.Fprintf(w, "== error (X-Fc-Error-Type: %s)\n", res.ErrorType)
		fmt.Fprintln(w, indentJSON(v.body))
	case v.status != 0:
		fmt.Fprintf(w, "== answer (HTTP %d)\n", v.status)
		fmt.Fprintln(w, indentJSON(v.body))
	default:
		fmt.Fprintln(w, "== answer")
		fmt.Fprintln(w, indentJSON(v.body))
	}

	if env.EventBus != "" {
		fmt.Fprintf(w, "== result events on bus %s: %d\n", env.EventBus, len(evs))
		for _, ev := range evs {
			if o.events {
				fmt.Fprintln(w, indentJSON(ev.Raw))
			} else {
				fmt.Fprintln(w, eventLine(ev))
			}
		}
	}
	if fleet != nil {
		fleetReport(w, fleet)
	}
	if o.faultFlags != "" && env.Emulator != nil {
		fmt.Fprintf(w, "== emulator calls, faults on %s: %s\n", o.faultAPI, o.faultFlags)
		counterTable(w, env.Emulator)
	}
}

// eventLine is a result event in one line: type, subject, what its data says, id.
func eventLine(ev emulator.Event) string {
	what := ""
	if as := decodeAnswers(ev.Data); len(as) == 1 {
		a := as[0]
		switch {
		case a.Code != "":
			what = a.Code
		case a.DryRun:
			what = fmt.Sprintf("TotalCount %d, FailCount %d, dry run", a.TotalCount, a.FailCount)
		default:
			what = fmt.Sprintf("TotalCount %d, FailCount %d", a.TotalCount, a.FailCount)
		}
	}
	return fmt.Sprintf("%s  %s  %s%s  id %s", ev.Type, ev.Subject, fleetEventLine(ev.Data), what, ev.Id)
}

// counters are the emulator's per-API counters (emulator.Server has them).
type counters interface {
	Calls(api string) int
	Answered(api, code string) int
}

// counterTable prints, for each API that was called, its calls and how they
// were answered: ok (empty and null results included), throttled, 5xx,
// dropped (no answer, before or after the API acted), other errors.
func counterTable(w io.Writer, s counters) {
	const row = "%-18s %6v %6v %10v %6v %8v %6v\n"
	fmt.Fprintf(w, row, "API", "calls", "ok", "throttled", "5xx", "dropped", "other")
	for _, api := range []string{emulator.APIDescribeKeyPairs, emulator.APIDescribeInstances, emulator.APIDetachKeyPair, emulator.APIAttachKeyPair,
		emulator.APIENSDescribeKeyPairs, emulator.APIENSDescribeInstances, emulator.APIENSListTagResources, emulator.APIENSDetachKeyPair, emulator.APIENSAttachKeyPair,
		emulator.APIPutEvents} {
		calls := s.Calls(api)
		if calls == 0 {
			continue
		}
		ok := s.Answered(api, "")
		throttled := s.Answered(api, "Throttling.User") + s.Answered(api, "TooManyRequests") // ECS, EventBridge
		fivexx := s.Answered(api, "ServiceUnavailable") + s.Answered(api, "InternalError")
		dropped := s.Answered(api, emulator.CodeDropped) + s.Answered(api, emulator.CodeDroppedAfter)
		fmt.Fprintf(w, row, api, calls, ok, throttled, fivexx, dropped, calls-ok-throttled-fivexx-dropped)
	}
}

// answeredBy is how many instances the answer says lost their key pair.
func answeredBy(v verdict) int {
	if t := tally(v.answers); !t.dryRun {
		return t.detached
	}
	return 0
}

// stateLine says which instances really lost their key pair during the run,
// from the emulator's state, when the answer does not say it (a failure) or
// says another number than answered, how many the answers say lost it
// (answeredBy; a fleet run's: every part's); "" when the answer says it right.
func stateLine(before, after map[string]string, v verdict, answered int) string {
	var lost []string
	for id, kp := range before {
		if kp != "" && after[id] == "" {
			lost = append(lost, id)
		}
	}
	if v.exit != exitFailed && len(lost) == answered {
		return ""
	}
	slices.Sort(lost)
	list := strings.Join(lost[:min(len(lost), 5)], ", ")
	if len(lost) > 5 {
		list += ", …"
	}
	switch {
	case len(lost) == 0:
		return "emulator: no instance lost its key pair"
	case v.exit != exitFailed:
		return fmt.Sprintf("emulator: %d instances lost their key pair, the answer says %d: %s", len(lost), answered, list)
	}
	return fmt.Sprintf("emulator: %d instances lost their key pair: %s", len(lost), list)
}
