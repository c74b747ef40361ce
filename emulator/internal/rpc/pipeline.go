// Package rpc is what every emulated cloud API shares: the serving pipeline
// (counting, authentication, flow control and faults, latency, the API's
// handler), error answers, the routing of requests to the services, and the
// cloud's wire details (JSON without HTML escaping, request ids).
package rpc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"detachkeypair/emulator/internal/fault"
)

// Pipeline runs every API request of every service the same way. Its fields
// are shared by the services of one emulator and are safe for concurrent use.
type Pipeline struct {
	Log      *slog.Logger     // one line per request; never nil
	Faults   *fault.Set       // the faults in force
	Counters *Counters        // calls and answers per API
	Clock    func() time.Time // the emulator's clock
	// AfterCall, when set, runs when call n of api (counted as Counters
	// count) is done, before its answer is written: the scheduled state
	// changes happen between a call and the client's next one.
	AfterCall func(api string, n int)
}

// Endpoint is one request of one API, as the pipeline runs it.
type Endpoint struct {
	API string // the API's name, as counted and as faults are keyed
	// Scope is where the request counts against the API's quota and in the
	// counters' CallsIn: the region of an ECS request, whose quotas are per
	// region; "" for an API without regions.
	Scope  string
	Answer Answer // how the service writes its answers
	// Auth checks the request's signature.
	Auth func() *Error
	// Handle carries out the request; it alone may change the state. Its
	// body is written as the answer.
	Handle func(requestID string) (any, *Error)
	// Hollow returns a success body with its result list emptied, or with
	// null in place of every other entry (nulls), for the EmptyRate and
	// NullRate faults; nil when the API answers no list (the faults then do
	// not apply).
	Hollow func(body any, nulls bool) any
}

// Answer is how a service writes its answers: its success body, its error
// body and its error codes differ between products.
type Answer struct {
	OK   func(w http.ResponseWriter, r *http.Request, requestID string, body any)
	Fail func(w http.ResponseWriter, r *http.Request, requestID string, e *Error)
	// Errs translates the common errors into the service's own; nil keeps
	// them.
	Errs func(*Error) *Error
}

// CodeDroppedAfter is the pseudo error code under which the counters count
// the requests whose connection was dropped after the API acted.
const CodeDroppedAfter = "ConnectionDroppedAfterAction"

// outcome is what the pipeline answers one request.
type outcome struct {
	drop   string // a pseudo code (CodeDropped, CodeDroppedAfter): close the connection without an answer
	closed bool   // the client went away first
	err    *Error // an error answer
	body   any    // a success answer
}

// Serve runs one request through the pipeline: counting, authentication,
// flow control and fault injection, latency, the handler, the faults that
// strike after it, then the scheduled changes (AfterCall), and answers.
func (p *Pipeline) Serve(w http.ResponseWriter, r *http.Request, e Endpoint) {
	start := time.Now()
	requestID := NewRequestID()
	n := p.Counters.begin(e.API, e.Scope)
	defer p.Counters.end(e.API)

	o := p.run(r, e, requestID)
	if p.AfterCall != nil {
		p.AfterCall(e.API, n)
	}
	status, code := http.StatusOK, ""
	switch {
	case o.closed:
		status, code = 0, "ClientClosed"
	case o.drop != "":
		status, code = 0, o.drop
		p.Counters.record(e.API, code)
		dropConnection(w)
	case o.err != nil:
		err := o.err
		if e.Answer.Errs != nil {
			err = e.Answer.Errs(err)
		}
		status, code = err.Status, err.Code
		p.Counters.record(e.API, code)
		e.Answer.Fail(w, r, requestID, err)
	default:
		p.Counters.record(e.API, "")
		e.Answer.OK(w, r, requestID, o.body)
	}
	p.Log.Info("request", "api", e.API, "method", r.Method, "status", status, "code", code,
		"duration", time.Since(start).Round(time.Microsecond), "requestId", requestID)
}

// run decides a request's outcome, running its handler unless a fault
// strikes first.
func (p *Pipeline) run(r *http.Request, e Endpoint, requestID string) outcome {
	if err := e.Auth(); err != nil {
		return outcome{err: err}
	}
	kind, delay := p.Faults.Decide(e.API, e.Scope, p.Clock())
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return outcome{closed: true}
		}
	}
	switch kind {
	case fault.Drop:
		return outcome{drop: CodeDropped}
	case fault.Throttle:
		return outcome{err: ErrThrottlingUser}
	case fault.Forbidden:
		return outcome{err: ErrForbiddenRAM}
	case fault.Unavailable:
		return outcome{err: ErrUnavailable}
	case fault.Internal:
		return outcome{err: ErrInternal}
	}
	body, err := e.Handle(requestID)
	switch {
	case kind == fault.DropAfter:
		return outcome{drop: CodeDroppedAfter}
	case kind == fault.UnavailableAfter:
		return outcome{err: ErrUnavailable}
	case kind == fault.InternalAfter:
		return outcome{err: ErrInternal}
	case err != nil:
		return outcome{err: err}
	case (kind == fault.Empty || kind == fault.Null) && e.Hollow != nil:
		body = e.Hollow(body, kind == fault.Null)
	}
	return outcome{body: body}
}

// Hollowed returns list (a slice) emptied, or with nil in place of every
// other entry from the first (nulls), for Endpoint.Hollow.
func Hollowed(list any, nulls bool) []any {
	v := reflect.ValueOf(list)
	out := []any{}
	if !nulls {
		return out
	}
	for i := range v.Len() {
		if i%2 == 0 {
			out = append(out, nil)
		} else {
			out = append(out, v.Index(i).Interface())
		}
	}
	return out
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// MaxBodyBytes bounds the request bodies the emulator reads.
const MaxBodyBytes = 4 << 20

// ReadBody reads a request body up to MaxBodyBytes.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err == nil && len(b) > MaxBodyBytes {
		err = errors.New("request body too large")
	}
	return b, err
}

// WriteOK writes a success answer with status 200.
func WriteOK(w http.ResponseWriter, _ *http.Request, requestID string, body any) {
	WriteJSON(w, http.StatusOK, requestID, body)
}

// WriteJSON writes an answer as the cloud does: JSON without HTML escaping,
// the request id also in the x-acs-request-id header.
func WriteJSON(w http.ResponseWriter, status int, requestID string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var b []byte
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"Code":"InternalError","Message":"emulator: cannot encode the answer"}`)
	} else {
		b = bytes.TrimRight(buf.Bytes(), "\n")
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if requestID != "" {
		w.Header().Set("x-acs-request-id", requestID)
	}
	w.WriteHeader(status)
	w.Write(b)
}

// NewRequestID returns a request id in the cloud's form (an upper-case UUID).
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
