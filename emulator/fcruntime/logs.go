package fcruntime

import (
	"bytes"
	"sync"
	"time"
)

// Logs collects a function's output (give it as Config.Stdout and Stderr)
// and lets a reader wait for a line. The output of a child process reaches
// its writer through a pipe, asynchronously: an invocation's answer can
// arrive before the lines the function printed while handling it. Callers
// that inspect an invocation's logs wait for the SDK's end line first
// (WaitEnd), as FC's log service is read after the fact.
type Logs struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

// Write appends p; safe for concurrent use.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor waits until the output contains s, at most timeout; it reports
// whether s arrived.
func (l *Logs) WaitFor(s string, timeout time.Duration) bool {
	want := []byte(s)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if bytes.Contains(l.buf.Bytes(), want) {
			l.mu.Unlock()
			return true
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// WaitEnd waits, at most timeout, for the line the FC Go SDK prints when it
// has handled the invocation requestID; it reports whether the line arrived.
func (l *Logs) WaitEnd(requestID string, timeout time.Duration) bool {
	return l.WaitFor("FC Invoke End RequestId: "+requestID, timeout)
}
