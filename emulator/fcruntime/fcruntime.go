// Package fcruntime runs a built Function Compute (FC 3.0) Go function
// locally, the way FC runs it.
//
// A Runner starts the function's executable as a child process and serves it
// the FC runtime API on a loopback port, as FC does for the built-in Go
// runtime (go1): the process finds the API through FC_RUNTIME_API
// ("127.0.0.1:PORT"), and the SDK's fc.Start loop long-polls
// GET /2020-11-11/runtime/invocation/next for work and posts each answer to
// .../invocation/{id}/response or .../invocation/{id}/error.
//
// Each invocation carries the headers FC sends (request id, deadline,
// timeout, memory, function name and handler, region, account and the
// temporary credentials of the function's role), so the function sees the
// same fccontext.FcContext as in the cloud.
//
// Failures are reported as FC reports them to the caller of InvokeFunction
// (X-Fc-Error-Type: UnhandledInvocationError):
//
//   - an error returned by the handler, or a panic, is the function's own
//     {"errorMessage","errorType"[,"stackTrace"]};
//   - an invocation still running at its deadline gets
//     {"errorMessage":"Function timed out after N seconds (maxMemoryUsage: X.XXMB)"},
//     and the instance (the process) is killed; the next invocation starts a
//     new one, as FC recycles a timed-out instance;
//   - an instance that exits while invocations are in flight fails them with
//     {"errorMessage":"Process exited unexpectedly before completing request (duration: Nms, maxMemoryUsage: X.XXMB)"},
//     and the next invocation starts a new instance.
//
// The package is Linux-first: memory figures come from /proc/PID/status.
package fcruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by Start to a zero Config field.
const (
	DefaultFunctionName = "detach-keypair"
	DefaultHandler      = "main"
	DefaultMemoryMB     = 512
	DefaultTimeout      = 60 * time.Second
	DefaultRegion       = "cn-hangzhou"
	DefaultAccountID    = "1234567890123456"
	DefaultStartTimeout = 10 * time.Second
)

// ErrorTypeUnhandled is the X-Fc-Error-Type FC sets on the answer of an
// invocation that failed in the Go runtime, whatever the cause.
const ErrorTypeUnhandled = "UnhandledInvocationError"

// ErrClosed is returned by Invoke once the Runner is closed.
var ErrClosed = errors.New("fcruntime: runner closed")

// stopGrace is how long Close waits after SIGTERM before it kills.
const stopGrace = 2 * time.Second

// Credentials are the temporary credentials of the function's role. FC sends
// them with every invocation (x-fc-access-key-id, x-fc-access-key-secret,
// x-fc-security-token) and also sets them in the instance's environment
// (ALIBABA_CLOUD_ACCESS_KEY_ID, ..._SECRET, ALIBABA_CLOUD_SECURITY_TOKEN).
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

// Config says which executable to run and how FC would have configured it.
type Config struct {
	// Binary is the path of the built function executable.
	Binary string

	// Env is extra environment ("K=V") for the function process: the
	// function's configured environment variables. FC starts an instance
	// with a clean environment, so the process gets only PATH, HOME and TZ
	// from this process, then Env, then FC's own variables (FC_* and
	// ALIBABA_CLOUD_*), which Env cannot override (FC reserves them).
	Env []string

	FunctionName string        // default DefaultFunctionName
	Handler      string        // default DefaultHandler
	MemoryMB     int           // default DefaultMemoryMB
	Timeout      time.Duration // function timeout, default DefaultTimeout
	Region       string        // default DefaultRegion
	AccountID    string        // default DefaultAccountID

	// Credentials of the function's role; empty means the function has no role.
	Credentials Credentials

	// Stdout and Stderr receive the function's output (its logs); nil
	// discards it. If they are the same writer, writes never overlap.
	Stdout, Stderr io.Writer

	// InstanceConcurrency is how many invocations one instance is handed at
	// once; 0 means no limit. FC 3.0's built-in runtimes run one invocation
	// per instance at a time (1); the default lets a single process serve
	// concurrent invocations, as the SDK's loop allows.
	InstanceConcurrency int

	// StartTimeout bounds how long a new process may take to ask for its
	// first invocation; default DefaultStartTimeout.
	StartTimeout time.Duration

	// Logger receives the runner's own events (starts, exits, timeouts);
	// nil discards them. Credentials are never logged.
	Logger *slog.Logger
}

// Invocation is one call of the function.
type Invocation struct {
	RequestID  string        // "" = a new FC-style id, e.g. 1-65ddae0a-12245c4f-517e4d57f6f1
	Payload    []byte        // the event, sent as the body
	HTTPParams string        // optional x-fc-http-params
	RetryCount int           // x-fc-retry-count
	Timeout    time.Duration // 0 = Config.Timeout
}

// Outcome says how an invocation ended.
type Outcome string

// The outcomes of an invocation.
const (
	Succeeded Outcome = "Succeeded" // the function answered
	Failed    Outcome = "Failed"    // the function reported an error (returned or panicked)
	TimedOut  Outcome = "TimedOut"  // no answer before the deadline; the instance was killed
	Crashed   Outcome = "Crashed"   // the instance exited before answering
)

// Result is the answer to one invocation.
type Result struct {
	RequestID string
	// Payload is the body FC would answer with: the function's response, or
	// for a failure the JSON error ({"errorMessage",...}).
	Payload []byte
	// Error is set when Outcome is not Succeeded.
	Error *FunctionError
	// Duration runs from handing the invocation to the function to its end.
	Duration time.Duration

	Outcome    Outcome
	ErrorType  string // X-Fc-Error-Type: ErrorTypeUnhandled on failure, else ""
	HTTPParams string // x-fc-http-params the function answered with (HTTP handlers)
}

// FunctionError is what the function reported (or the runner, for timeouts
// and crashes), in FC's JSON shape. FC's timeout and crash errors carry no
// errorType; use Result.Outcome to tell them apart.
type FunctionError struct {
	Type       string          `json:"errorType,omitempty"`
	Message    string          `json:"errorMessage"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// Runner runs one function instance at a time and hands it invocations.
// Its methods are safe for concurrent use.
type Runner struct {
	cfg Config
	log *slog.Logger

	startSem chan struct{} // held while an instance is being started
	peak     atomic.Int64  // highest VmHWM seen, bytes

	mu       sync.Mutex
	closed   bool
	inst     *instance        // the current (or last) instance
	pending  []*call          // invocations not yet handed out
	inflight map[string]*call // invocations handed out, by request id
	wake     chan struct{}    // closed and replaced when pending or capacity changes
}

// call is one invocation on its way through the runner.
type call struct {
	id      string
	inv     Invocation
	timeout time.Duration
	done    chan outcome // receives exactly one outcome

	started chan struct{} // closed when handed to an instance; then:
	inst    *instance
	start   time.Time
	dl      time.Time // deadline
}

// outcome is how a call ended, before it becomes a Result.
type outcome struct {
	kind       Outcome
	payload    []byte
	httpParams string
	ferr       *FunctionError
	duration   time.Duration
	err        error // the runner failed (closed)
}

// Start checks cfg, starts the function process with its runtime API, and
// returns once the process has asked for its first invocation.
func Start(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:      cfg,
		log:      cfg.Logger,
		startSem: make(chan struct{}, 1),
		inflight: map[string]*call{},
		wake:     make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if _, err := r.instance(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Config) setDefaults() error {
	if c.Binary == "" {
		return errors.New("fcruntime: Config.Binary is empty: give the path of the built function")
	}
	bin, err := filepath.Abs(c.Binary)
	if err != nil {
		return fmt.Errorf("fcruntime: binary %q: %w", c.Binary, err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("fcruntime: binary: %w (build it first, e.g. with fcruntime.Build)", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("fcruntime: binary %s is not an executable file", bin)
	}
	c.Binary = bin
	if c.FunctionName == "" {
		c.FunctionName = DefaultFunctionName
	}
	if c.Handler == "" {
		c.Handler = DefaultHandler
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	return nil
}

// Invoke runs one invocation and waits for its end. The error is only for
// failures of the runner itself (closed, the process cannot start, ctx
// done); what the function did, failures included, is in the Result.
//
// If ctx ends while the function is working, Invoke returns ctx's error at
// once, but the invocation goes on as in FC: its answer is dropped, and its
// deadline is still enforced.
func (r *Runner) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	c := r.newCall(inv)
	res := Result{RequestID: c.id}
	for {
		inst, err := r.instance(ctx)
		if err != nil {
			return res, err
		}
		if err := r.enqueue(c); err != nil {
			return res, err
		}
		select {
		case <-c.started:
		case <-inst.done:
			// The instance died before taking the call: start another one.
			if r.dequeue(c) {
				continue
			}
		case <-ctx.Done():
			if r.dequeue(c) {
				return res, ctx.Err()
			}
		}
		break
	}

	ended := make(chan outcome, 1)
	go func() { ended <- r.await(c) }()
	select {
	case o := <-ended:
		return c.result(o)
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

// PID is the process id of the current function instance (or of the last
// one, if it has exited and no other has started since).
func (r *Runner) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inst == nil {
		return 0
	}
	return r.inst.pid
}

// PeakRSS is the highest resident set size (VmHWM, bytes) seen for any
// process the runner started. It is sampled every 100ms while a process
// lives, when an invocation is handed out or ends, before a process is
// killed, and on Close.
func (r *Runner) PeakRSS() int64 {
	return r.peak.Load()
}

// Close stops the function process (SIGTERM, then SIGKILL after a grace
// period) and its runtime API server. Invocations in flight or waiting end
// with ErrClosed.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	inst := r.inst
	r.wakeAll()
	r.mu.Unlock()
	if inst != nil {
		r.stop(inst, stopGrace)
	}
	// Wait for a start under way: it sees closed and stops its process.
	r.startSem <- struct{}{}
	<-r.startSem
	return nil
}

func (r *Runner) newCall(inv Invocation) *call {
	id := inv.RequestID
	if id == "" {
		id = newRequestID()
	}
	timeout := inv.Timeout
	if timeout <= 0 {
		timeout = r.cfg.Timeout
	}
	return &call{
		id:      id,
		inv:     inv,
		timeout: timeout,
		done:    make(chan outcome, 1),
		started: make(chan struct{}),
	}
}

// enqueue makes c available to the next request for work.
func (r *Runner) enqueue(c *call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if _, busy := r.inflight[c.id]; busy {
		return fmt.Errorf("fcruntime: request id %q is already in flight", c.id)
	}
	for _, p := range r.pending {
		if p.id == c.id {
			return fmt.Errorf("fcruntime: request id %q is already waiting", c.id)
		}
	}
	r.pending = append(r.pending, c)
	r.wakeAll()
	return nil
}

// dequeue takes c back if no instance has taken it yet.
func (r *Runner) dequeue(c *call) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.pending {
		if p == c {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return true
		}
	}
	return false
}

// claim hands the oldest waiting call to inst, if inst may take one.
// It returns nil and the channel to wait on otherwise. r.mu must be held.
func (r *Runner) claim(inst *instance) (*call, <-chan struct{}) {
	limit := r.cfg.InstanceConcurrency
	if r.closed || inst.stopping || len(r.pending) == 0 || (limit > 0 && inst.active >= limit) {
		return nil, r.wake
	}
	c := r.pending[0]
	r.pending = r.pending[1:]
	c.inst = inst
	c.start = time.Now()
	c.dl = c.start.Add(c.timeout)
	inst.active++
	r.inflight[c.id] = c
	close(c.started)
	return c, nil
}

// finish ends c with o if it is still in flight, and reports whether it did.
// Whoever removes c from the in-flight set delivers its only outcome.
func (r *Runner) finish(c *call, o outcome) bool {
	r.mu.Lock()
	if r.inflight[c.id] != c {
		r.mu.Unlock()
		return false
	}
	delete(r.inflight, c.id)
	c.inst.active--
	r.wakeAll()
	r.mu.Unlock()
	c.done <- o
	return true
}

// wakeAll wakes every request waiting for work. r.mu must be held.
func (r *Runner) wakeAll() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// await waits for the end of a started call and enforces its deadline.
func (r *Runner) await(c *call) outcome {
	timer := time.NewTimer(time.Until(c.dl))
	defer timer.Stop()
	select {
	case o := <-c.done:
		return o
	case <-timer.C:
	}
	inst := c.inst
	r.sample(inst)
	o := outcome{
		kind:     TimedOut,
		ferr:     &FunctionError{Message: fmt.Sprintf("Function timed out after %s seconds (maxMemoryUsage: %s)", seconds(c.timeout), megabytes(inst.peak.Load()))},
		duration: time.Since(c.start),
	}
	if r.finish(c, o) {
		r.log.Warn("invocation timed out; recycling the instance", "requestId", c.id, "pid", inst.pid, "timeout", c.timeout)
		r.stop(inst, 0)
	}
	return <-c.done
}

// result turns the outcome of c into Invoke's answer.
func (c *call) result(o outcome) (Result, error) {
	res := Result{RequestID: c.id, Duration: o.duration, Outcome: o.kind, HTTPParams: o.httpParams}
	if o.err != nil {
		return res, o.err
	}
	res.Payload = o.payload
	if o.ferr != nil {
		res.Error = o.ferr
		res.ErrorType = ErrorTypeUnhandled
		if res.Payload == nil {
			res.Payload, _ = json.Marshal(o.ferr)
		}
	}
	return res, nil
}

// seconds formats a timeout as in "Function timed out after 3 seconds".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// timeoutSeconds is the x-fc-function-timeout header: whole seconds, at
// least 1 (FC's smallest timeout), rounded up.
func timeoutSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
