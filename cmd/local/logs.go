package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"detachkeypair/emulator/fcruntime"
)

// output takes the function's output (its stdout and stderr, which the runner
// writes one write at a time), shows it line by line, raw or pretty, and keeps
// it while capture is set: to wait for the SDK's end line of an invocation,
// and to show why the function stopped at start even when its logs are hidden.
type output struct {
	mu      sync.Mutex      // guards the fields below and serializes writes to dst
	dst     io.Writer       // nil: the logs are hidden (--quiet)
	pretty  bool            // JSON log lines rendered for a terminal, in color
	capture *fcruntime.Logs // nil: nothing kept
	last    time.Time       // when the last line arrived
	partial []byte          // the start of a line whose end has not arrived
}

// newOutput shows the function's logs on w (nowhere when quiet); pretty
// renders its JSON log lines for a terminal.
func newOutput(w io.Writer, quiet, pretty bool) *output {
	o := &output{pretty: pretty, capture: &fcruntime.Logs{}}
	if !quiet {
		o.dst = w
	}
	return o
}

// Write shows and keeps the complete lines in p.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.partial = append(o.partial, p...)
			return n, nil
		}
		line := p[:i]
		if len(o.partial) > 0 {
			line = append(o.partial, line...)
			o.partial = nil
		}
		o.line(bytes.TrimSuffix(line, []byte("\r")))
		p = p[i+1:]
	}
}

// line shows and keeps one complete line (without its newline); o.mu is held.
func (o *output) line(b []byte) {
	o.last = time.Now()
	nl := append(append(make([]byte, 0, len(b)+1), b...), '\n')
	if o.capture != nil {
		o.capture.Write(nl)
	}
	if o.dst == nil {
		return
	}
	if o.pretty {
		io.WriteString(o.dst, prettyLine(b, true)+"\n")
		return
	}
	o.dst.Write(nl)
}

// stopCapture stops keeping the output (serve keeps it only until the function
// has started).
func (o *output) stopCapture() {
	o.mu.Lock()
	o.capture = nil
	o.mu.Unlock()
}

// captured returns what was kept.
func (o *output) captured() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.capture == nil {
		return ""
	}
	return o.capture.String()
}

// waitEnd waits, at most timeout, for the SDK's end line of the invocation id,
// then until the output has been quiet for a moment: the function's stdout and
// stderr are two pipes, so its last log lines may arrive just after the end line.
func (o *output) waitEnd(id string, timeout time.Duration) {
	o.mu.Lock()
	logs := o.capture
	o.mu.Unlock()
	if logs == nil || !logs.WaitEnd(id, timeout) {
		return
	}
	const quiet = 20 * time.Millisecond
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		o.mu.Lock()
		idle := time.Since(o.last)
		o.mu.Unlock()
		if idle >= quiet {
			return
		}
		time.Sleep(quiet - idle)
	}
}

// ANSI colors for the level of a log line on a terminal.
const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
)

// prettyLine renders one line of the function's output for a terminal: a JSON
// log record (log/slog's JSONHandler) as
//
//	15:04:05.000 INFO  1-6756b5c3-0a3c8ef9-b7a2c1d4e5f6 detach started  key_pair=ops-2026 instances=2
//
// (local time, level, request id, message, the other attributes in order), and
// any other line, such as the SDK's "FC Invoke Start RequestId: ...", as it is.
func prettyLine(line []byte, color bool) string {
	fields, err := objectFields(line)
	if err != nil || len(fields) == 0 {
		if color {
			return ansiDim + string(line) + ansiReset
		}
		return string(line)
	}
	var at, level, msg, reqID string
	var attrs []string
	for _, f := range fields {
		switch f.key {
		case "time":
			at = str(f.val)
		case "level":
			level = str(f.val)
		case "msg":
			msg = str(f.val)
		case "request_id":
			reqID = str(f.val)
		default:
			attrs = append(attrs, f.key+"="+attrValue(f.val))
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = t.Local().Format("15:04:05.000")
	}
	lvl := level + strings.Repeat(" ", max(0, 5-len(level)))
	if color {
		switch level {
		case "WARN":
			lvl = ansiYellow + lvl + ansiReset
		case "ERROR":
			lvl = ansiRed + lvl + ansiReset
		case "DEBUG":
			lvl = ansiDim + lvl + ansiReset
		}
	}
	var b strings.Builder
	for _, part := range []string{at, lvl, reqID, msg} {
		if part != "" {
			b.WriteString(part)
			b.WriteByte(' ')
		}
	}
	if len(attrs) > 0 {
		b.WriteString(" " + strings.Join(attrs, " "))
	}
	return strings.TrimRight(b.String(), " ")
}

// str returns a JSON string's value, or the raw JSON of anything else.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// attrValue shows an attribute's value: a string bare unless it needs quotes,
// anything else as compact JSON.
func attrValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return string(raw)
		}
		return b.String()
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}

var errNotObject = errors.New("not a JSON object")

// field is one member of a JSON object, in the order it was written.
type field struct {
	key string
	val json.RawMessage
}

// objectFields returns the members of a JSON object in order; an error if b
// is not one.
func objectFields(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		fields = append(fields, field{key, val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errNotObject
	}
	return fields, nil
}
