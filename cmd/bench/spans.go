package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/localrun"
)

// The emulator logs one line per API request when it is done, with the request's
// duration: the bench turns those lines into spans (start, end) to measure how many
// cloud round trips lay on a request's critical path.

// span is one request the emulator served.
type span struct {
	api        string
	start, end time.Time
}

// spanRecorder is a slog.Handler that keeps the emulator's request lines as spans.
type spanRecorder struct {
	mu    sync.Mutex
	spans []span
}

func (s *spanRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (s *spanRecorder) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *spanRecorder) WithGroup(string) slog.Handler            { return s }

func (s *spanRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	sp := span{end: r.Time}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "api":
			sp.api = a.Value.String()
		case "duration":
			sp.start = r.Time.Add(-a.Value.Duration())
		}
		return true
	})
	s.mu.Lock()
	s.spans = append(s.spans, sp)
	s.mu.Unlock()
	return nil
}

// take returns the spans recorded since the last take, and forgets them.
func (s *spanRecorder) take() []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.spans
	s.spans = nil
	return out
}

// roundTrips is the number of cloud round trips on the critical path of the spans: the
// longest chain of calls each of which started after the one before it ended. Two calls
// count as one after the other when they overlap by less than tolerance (the
// emulator logs a call a few microseconds after its answer is written, so the next call
// of a chain may be logged as starting a hair earlier); concurrent calls of the same
// latency overlap by nearly all of it.
func roundTrips(spans []span, tolerance time.Duration) int {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int { return a.start.Compare(b.start) })
	chain := make([]int, len(s))
	longest := 0
	for i := range s {
		chain[i] = 1
		for j := range i {
			if !s[j].end.After(s[i].start.Add(tolerance)) {
				chain[i] = max(chain[i], chain[j]+1)
			}
		}
		longest = max(longest, chain[i])
	}
	return longest
}

// recordedEnv is the built function under the runner against an emulator the bench
// starts itself (so that it can record the emulator's spans), with the emulator's
// default local key as the role's credentials.
type recordedEnv struct {
	*localrun.Env
	emu   *emulator.Server
	spans *spanRecorder
}

// startRecorded starts an emulator with the fixture and faults, and the function
// against it with settings env, under a runner of at most maxInstances instances.
func startRecorded(ctx context.Context, bin string, fix *emulator.Fixture, faults map[string]emulator.Fault, env []string, maxInstances int, timeout time.Duration) *recordedEnv {
	rec := &spanRecorder{}
	emu, err := emulator.New(emulator.Config{Fixture: fix, Faults: faults, Logger: slog.New(rec)})
	if err != nil {
		fail(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		fail(err)
	}
	e, err := localrun.Start(ctx, localrun.Options{Emulator: emu.URL(), Binary: bin, Env: env, EventBus: "-",
		MaxInstances: maxInstances, Timeout: timeout})
	if err != nil {
		emu.Close()
		fail(err)
	}
	return &recordedEnv{Env: e, emu: emu, spans: rec}
}

func (e *recordedEnv) Close() {
	e.Env.Close()
	e.emu.Close()
}
