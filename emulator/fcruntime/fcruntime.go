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
	"syscall"
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

	// DefaultMaxInstances is FC's default instance quota of an account in a
	// region ("each Alibaba Cloud account can run up to 100 instances per
	// region"), which bounds a function without an instance limit of its own.
	DefaultMaxInstances = 100
)

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
// A zero field means its default.
type Config struct {
	// Binary is the path of the built function executable.
	Binary string

	// BaseEnv is the environment ("K=V") an instance's process starts from,
	// before Env and FC's own variables. FC starts an instance with a clean
	// environment: nil gives the process nothing but Env and FC's variables.
	// A command that wants the function to see its PATH, HOME and TZ passes
	// BaseEnvOf(os.Environ()); the runner reads no environment itself.
	BaseEnv []string

	// Env is extra environment ("K=V") for the function process: the
	// function's configured environment variables. The process gets BaseEnv,
	// then Env, then FC's own variables (FC_* and ALIBABA_CLOUD_*), which
	// Env cannot override (FC reserves them).
	Env []string

	FunctionName string        // default DefaultFunctionName
	Handler      string        // default DefaultHandler
	MemoryMB     int           // default DefaultMemoryMB
	Timeout      time.Duration // function timeout, default DefaultTimeout
	Region       string        // default DefaultRegion
	AccountID    string        // default DefaultAccountID

	// Credentials of the function's role; empty means the function has no role.
	Credentials Credentials

	// Stdout and Stderr receive the output (the logs) of every instance; nil
	// discards it. Writes from all instances are serialized, so a writer
	// that is not safe for concurrent use is fine.
	Stdout, Stderr io.Writer

	// MaxInstances is the most instances (processes) that run at once, the
	// function's instance limit (fc3 concurrencyConfig.reservedConcurrency);
	// default DefaultMaxInstances. Each instance serves one invocation at a
	// time, as FC's built-in runtimes do.
	MaxInstances int

	// Async configures asynchronous invocations (InvokeAsync).
	Async AsyncConfig

	// StartTimeout bounds how long a new process may take to ask for its
	// first invocation; default DefaultStartTimeout.
	StartTimeout time.Duration

	// Logger receives the runner's own events (starts, exits, timeouts,
	// retries); nil discards them. Credentials are never logged.
	Logger *slog.Logger
}

// Invocation is one call of the function.
type Invocation struct {
	RequestID  string        // "" = a new FC-style id, e.g. 1-65ddae0a-12245c4f-517e4d57f6f1
	Payload    []byte        // the event, sent as the body
	HTTPParams string        // optional x-fc-http-params
	RetryCount int           // x-fc-retry-count (of the first attempt, for InvokeAsync)
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

// Runner runs a function's instances and hands them invocations, as FC does.
// Its methods are safe for concurrent use.
type Runner struct {
	cfg  Config
	log  *slog.Logger
	arn  string        // the function's ARN, for destination records
	quit chan struct{} // closed by Close
	peak atomic.Int64  // highest VmHWM seen in any instance, bytes

	// starting counts instances being started; Close waits for them.
	starting sync.WaitGroup

	mu        sync.Mutex // guards everything below, and the fields of instances and calls marked so
	closed    bool
	instances map[*instance]struct{} // starting or running, not yet exited
	idle      []*instance            // ready and serving nothing, most recently freed last
	queue     []*call                // asynchronous attempts waiting for an instance, oldest first
	timers    map[*time.Timer]struct{}
	pending   int           // asynchronous invocations accepted and not yet settled
	changed   chan struct{} // closed and replaced whenever work ends (Drain)
	all       []*instance   // every instance whose process started, in order
	stats     Stats         // counters; the snapshot fields are filled by Stats
	succeeded []DestinationRecord
	lost      []DestinationRecord
}

// call is one attempt of an invocation on its way through the runner.
type call struct {
	id      string
	inv     Invocation
	timeout time.Duration
	task    *task        // the asynchronous invocation it is an attempt of; nil if synchronous
	done    chan outcome // receives exactly one outcome

	started chan struct{} // closed when handed to the function

	// Guarded by Runner.mu.
	inst   *instance // the instance serving it, once assigned
	handed bool      // handed to the function (then started is closed)
	ended  bool      // its outcome is decided
	start  time.Time // when handed
	dl     time.Time // deadline
}

// outcome is how a call ended, before it becomes a Result.
type outcome struct {
	kind       Outcome
	payload    []byte
	httpParams string
	ferr       *FunctionError
	duration   time.Duration
	err        error // the runner failed (closed, an instance could not start, the caller gave up)
}

// Start checks cfg, starts one instance of the function (so that a binary
// that is not an FC function fails here), and returns once it has asked for
// its first invocation.
func Start(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:       cfg,
		log:       cfg.Logger,
		arn:       fmt.Sprintf("acs:fc:%s:%s:functions/%s", cfg.Region, cfg.AccountID, cfg.FunctionName),
		quit:      make(chan struct{}),
		instances: map[*instance]struct{}{},
		timers:    map[*time.Timer]struct{}{},
		changed:   make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.mu.Lock()
	inst := r.newInstance(nil)
	r.mu.Unlock()
	if err := r.start(ctx, inst); err != nil {
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
	if c.MaxInstances <= 0 {
		c.MaxInstances = DefaultMaxInstances
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	c.Async.setDefaults()
	c.Stdout, c.Stderr = serialize(c.Stdout, c.Stderr)
	return nil
}

// Invoke runs one synchronous invocation and waits for its end, as
// InvokeFunction does. It goes to an idle instance, or to a new one if all
// are busy; with MaxInstances busy, it is refused at once with FC's
// throttling error, a *ServiceError (429 ResourceExhausted).
//
// Other errors are failures of the runner itself (closed, the process cannot
// start, ctx done); what the function did, failures included, is in the
// Result. If ctx ends while the function is working, Invoke returns ctx's
// error at once, but the invocation goes on as in FC: its answer is
// dropped, and its deadline is still enforced.
func (r *Runner) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	c := r.newCall(inv, nil)
	res := Result{RequestID: c.id}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return res, ErrClosed
	}
	inst, fresh, err := r.place(c)
	r.mu.Unlock()
	if err != nil {
		return res, err
	}
	if fresh {
		if err := r.start(ctx, inst); err != nil {
			r.end(c, outcome{err: err}, false)
			return res, err
		}
	}
	ended := make(chan outcome, 1)
	go func() { ended <- r.await(c) }()
	select {
	case o := <-ended:
		return c.result(o)
	case <-ctx.Done():
		r.withdraw(c, ctx.Err()) // unless the function has it already
		return res, ctx.Err()
	}
}

// PID is the process id of the instance started last (which may have
// exited since).
func (r *Runner) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return 0
	}
	return r.all[len(r.all)-1].pid
}

// PeakRSS is the highest resident set size (VmHWM, bytes) seen for any
// process the runner started. It is sampled every 100ms while a process
// lives, when an invocation is handed out or ends, before a process is
// killed, and on Close. Stats has it per instance.
func (r *Runner) PeakRSS() int64 {
	return r.peak.Load()
}

// Stats is a snapshot of what a Runner has done since it started.
type Stats struct {
	InstancesStarted int // processes started: the first, scale-out, and replacements of dead ones
	InstancesLive    int // starting or running now
	PeakInstances    int // most instances alive at once
	Invocations      int // attempts handed to the function, synchronous and asynchronous, retries included
	Throttled        int // synchronous invocations refused with 429 ResourceExhausted

	AsyncAccepted  int // asynchronous invocations accepted
	AsyncQueued    int // attempts waiting for an instance now
	AsyncRetrying  int // invocations waiting for their retry's backoff now
	AsyncRetried   int // retries made after failed attempts
	AsyncSucceeded int // settled with a success (on-success destination)
	AsyncLost      int // settled as lost (on-failure destination)

	PeakRSS   int64           // highest VmHWM of any instance, bytes
	Instances []InstanceStats // every instance whose process started, in start order
}

// InstanceStats describes one instance (process) of the function.
type InstanceStats struct {
	ID          string // FC_INSTANCE_ID
	PID         int
	Invocations int   // handed to it
	PeakRSS     int64 // its highest VmHWM, bytes
	Exited      bool
}

// Stats returns what the runner has done so far.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.InstancesLive = len(r.instances)
	s.AsyncQueued = len(r.queue)
	s.AsyncRetrying = len(r.timers)
	s.PeakRSS = r.peak.Load()
	s.Instances = make([]InstanceStats, len(r.all))
	for i, inst := range r.all {
		s.Instances[i] = InstanceStats{ID: inst.id, PID: inst.pid, Invocations: inst.invocations, PeakRSS: inst.peak.Load(), Exited: inst.exited}
	}
	return s
}

// Close stops every instance (SIGTERM, then SIGKILL after a grace period)
// and its runtime API server. Invocations in flight end with ErrClosed;
// asynchronous invocations still queued or waiting for a retry are dropped
// (FC would keep them: they are not recorded as lost).
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.quit)
	for t := range r.timers {
		t.Stop()
	}
	r.timers, r.queue, r.idle, r.pending = nil, nil, nil, 0
	var running []*instance
	for inst := range r.instances {
		if inst.pid != 0 {
			running = append(running, inst)
		}
	}
	r.broadcast()
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, inst := range running {
		wg.Go(func() { r.stop(inst, stopGrace) })
	}
	wg.Wait()
	r.starting.Wait() // a start under way sees quit and stops its process
	return nil
}

func (r *Runner) newCall(inv Invocation, t *task) *call {
	if inv.RequestID == "" {
		inv.RequestID = newRequestID()
	}
	timeout := inv.Timeout
	if timeout <= 0 {
		timeout = r.cfg.Timeout
	}
	return &call{
		id:      inv.RequestID,
		inv:     inv,
		timeout: timeout,
		task:    t,
		done:    make(chan outcome, 1),
		started: make(chan struct{}),
	}
}

// await waits for the end of a call, once handed to the function, and
// enforces its deadline.
func (r *Runner) await(c *call) outcome {
	select {
	case o := <-c.done:
		return o // ended before the function got it
	case <-c.started:
	}
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
	if r.end(c, o, true) {
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

// serialize wraps the output writers so that writes from every instance
// never overlap; the same writer given twice stays one writer.
func serialize(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	mu := &sync.Mutex{}
	wrap := func(w io.Writer) io.Writer {
		if w == nil {
			return nil
		}
		return &lockedWriter{mu: mu, w: w}
	}
	out := wrap(stdout)
	if sameWriter(stdout, stderr) {
		return out, out
	}
	return out, wrap(stderr)
}

// sameWriter reports whether a and b are the same writer; writers of types
// that cannot be compared are never the same.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// lockedWriter is a writer shared by every instance's output.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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

// InFlight returns the request ids of the invocations the function is working on
// now (handed to an instance and not yet ended), in no particular order.
func (r *Runner) InFlight() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for inst := range r.instances {
		if c := inst.current; c != nil && c.handed && !c.ended {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// Crash kills the process of the instance that works on the invocation with the
// request id, as when an instance dies (out of memory, a host failure): the attempt
// fails as Crashed, and an asynchronous invocation is retried. It reports whether such
// an invocation was in flight.
func (r *Runner) Crash(requestID string) bool {
	r.mu.Lock()
	var victim *instance
	for inst := range r.instances {
		if c := inst.current; c != nil && c.id == requestID && c.handed && !c.ended {
			victim = inst
		}
	}
	r.mu.Unlock()
	if victim == nil {
		return false
	}
	r.log.Warn("crashing the instance on request", "requestId", requestID, "pid", victim.pid)
	r.signal(victim, syscall.SIGKILL)
	return true
}
