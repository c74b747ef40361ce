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
	if o.dryRun {
		if payload, err = setDryRun(payload); err != nil {
			fmt.Fprintf(c.stderr, "local invoke: --dry-run: %v\n", err)
			return exitUsage
		}
	}
	env, out, stop, code := c.start(ctx, o)
	if env == nil {
		return code
	}
	defer stop()
	fmt.Fprintf(c.stderr, "local: emulator at %s; invoking the function with %s (%s trigger)\n",
		env.Emulator.URL(), from, handler.Classify(payload))

	before := bindings(env.Emulator)
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
	c.report(c.stdout, v, res, env, o, before)
	if c.inspect != nil {
		c.inspect(env)
	}
	return v.exit
}

// start builds the function (unless --binary) and starts it under the runner
// against a fresh emulator, its output going to an output. On failure env is
// nil and code says why: exitFailed when the function itself stopped at start
// (what it printed is shown, also with --quiet), exitUsage for a bad
// --fixture, exitLocal otherwise.
func (c *command) start(ctx context.Context, o options) (env *localrun.Env, out *output, stop func(), code int) {
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
		Binary:       bin,
		Fixture:      fixture,
		Faults:       o.faults(),
		Seed:         o.seed,
		Env:          o.env,
		Timeout:      o.timeout,
		MemoryMB:     o.memory,
		MaxInstances: o.maxInstances,
		FunctionLogs: out,
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
// answer, the result events and, with faults, the emulator's counters.
func (c *command) report(w io.Writer, v verdict, res fcruntime.Result, env *localrun.Env, o options, before map[string]string) {
	fmt.Fprintf(w, "== %s · request %s\n", v.header, res.RequestID)
	fmt.Fprintln(w, summaryLine(v, res.Duration))
	if line := stateLine(before, bindings(env.Emulator), v); line != "" {
		fmt.Fprintln(w, line)
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
		evs := env.Emulator.Events(env.EventBus)
		fmt.Fprintf(w, "== result events on bus %s: %d\n", env.EventBus, len(evs))
		for _, ev := range evs {
			if o.events {
				fmt.Fprintln(w, indentJSON(ev.Raw))
			} else {
				fmt.Fprintln(w, eventLine(ev))
			}
		}
	}
	if o.fault != (emulator.Fault{}) {
		fmt.Fprintf(w, "== emulator calls, faults on %s: %s\n", o.faultAPI, describeFault(o.fault))
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
	return fmt.Sprintf("%s  %s  %s  id %s", ev.Type, ev.Subject, what, ev.Id)
}

// counters are the emulator's per-API counters (emulator.Server has them).
type counters interface {
	Calls(api string) int
	Answered(api, code string) int
}

// counterTable prints, for each API that was called, its calls and how they
// were answered: ok, throttled, 5xx, dropped (no answer), other errors.
func counterTable(w io.Writer, s counters) {
	const row = "%-18s %6v %6v %10v %6v %8v %6v\n"
	fmt.Fprintf(w, row, "API", "calls", "ok", "throttled", "5xx", "dropped", "other")
	for _, api := range []string{emulator.APIDescribeKeyPairs, emulator.APIDescribeInstances, emulator.APIDetachKeyPair, emulator.APIAttachKeyPair, emulator.APIPutEvents} {
		calls := s.Calls(api)
		if calls == 0 {
			continue
		}
		ok := s.Answered(api, "")
		throttled := s.Answered(api, "Throttling.User") + s.Answered(api, "TooManyRequests") // ECS, EventBridge
		fivexx := s.Answered(api, "ServiceUnavailable") + s.Answered(api, "InternalError")
		dropped := s.Answered(api, emulator.CodeDropped)
		fmt.Fprintf(w, row, api, calls, ok, throttled, fivexx, dropped, calls-ok-throttled-fivexx-dropped)
	}
}

// describeFault lists the fault's settings that are not zero, as flags.
func describeFault(f emulator.Fault) string {
	var parts []string
	add := func(name string, set bool, v any) {
		if set {
			parts = append(parts, fmt.Sprintf("--%s %v", name, v))
		}
	}
	add("latency", f.Latency != 0, f.Latency)
	add("jitter", f.Jitter != 0, f.Jitter)
	add("qps", f.QPS != 0, f.QPS)
	add("throttle-rate", f.ThrottleRate != 0, f.ThrottleRate)
	add("error-rate", f.ErrorRate != 0, f.ErrorRate)
	add("drop-rate", f.DropRate != 0, f.DropRate)
	add("forbidden-rate", f.ForbiddenRate != 0, f.ForbiddenRate)
	return strings.Join(parts, " ")
}

// bindings maps each instance of the emulator to its key pair ("" when none).
func bindings(emu *emulator.Server) map[string]string {
	m := map[string]string{}
	for _, in := range emu.Instances() {
		m[in.InstanceId] = in.KeyPairName
	}
	return m
}

// stateLine says which instances really lost their key pair during the run,
// from the emulator's state, when the answer does not say it (a failure) or
// says something else; "" when the answer says it right.
func stateLine(before, after map[string]string, v verdict) string {
	var lost []string
	for id, kp := range before {
		if kp != "" && after[id] == "" {
			lost = append(lost, id)
		}
	}
	t := tally(v.answers)
	answered := t.detached
	if t.dryRun {
		answered = 0
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
