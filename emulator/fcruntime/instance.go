package fcruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// apiPrefix is the path of the runtime API the SDK calls (its apiVersion).
const apiPrefix = "/2020-11-11/runtime/invocation/"

// maxPayload bounds request and response bodies: FC 3.0 accepts up to
// 32 MB for a synchronous invocation.
const maxPayload = 32 << 20

// instance is one function process with its own runtime API server, as an
// FC instance has its own runtime API endpoint.
type instance struct {
	id   string // FC_INSTANCE_ID
	addr string // FC_RUNTIME_API, host:port
	pid  int
	cmd  *exec.Cmd
	srv  *http.Server
	peak atomic.Int64 // highest VmHWM seen, bytes

	ready     chan struct{} // closed at the process's first request for work
	readyOnce sync.Once
	done      chan struct{} // closed once the process has exited and been reaped
	waitErr   error         // how it exited; read after done

	// Guarded by Runner.mu.
	stopping bool // hand out no more work: it is exiting or being killed
	active   int  // invocations handed out and not yet ended
}

// instance returns the live instance, starting a new one if there is none
// or the last one has exited or is being recycled.
func (r *Runner) instance(ctx context.Context) (*instance, error) {
	select {
	case r.startSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.startSem }()

	r.mu.Lock()
	closed, inst := r.closed, r.inst
	alive := inst != nil && !inst.stopping
	r.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case alive:
		return inst, nil
	case inst != nil:
		select { // let the old process go before starting the next
		case <-inst.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.startInstance(ctx)
}

// startInstance starts a process and its runtime API server, and waits for
// the process to ask for work.
func (r *Runner) startInstance(ctx context.Context) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fcruntime: runtime API listener: %w", err)
	}
	inst := &instance{
		id:    newInstanceID(),
		addr:  ln.Addr().String(),
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"next", r.handleNext(inst))
	mux.HandleFunc("POST "+apiPrefix+"{id}/response", r.handleAnswer(inst, false))
	mux.HandleFunc("POST "+apiPrefix+"{id}/error", r.handleAnswer(inst, true))
	inst.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}

	cmd := exec.Command(r.cfg.Binary)
	cmd.Dir = filepath.Dir(r.cfg.Binary)
	cmd.Env = r.environ(inst)
	cmd.Stdout, cmd.Stderr = r.cfg.Stdout, r.cfg.Stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second // don't hang on pipes held by the function's own children
	if err := cmd.Start(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("fcruntime: start %s: %w", r.cfg.Binary, err)
	}
	inst.cmd, inst.pid = cmd, cmd.Process.Pid
	// Serve only now that inst is complete; until then the process's first
	// connection waits in the listener's backlog.
	go inst.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed

	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.inst = inst
	}
	r.mu.Unlock()
	go r.watch(inst)
	go r.sampleEvery(inst, sampleInterval)
	if closed {
		r.stop(inst, 0)
		return nil, ErrClosed
	}
	r.log.Info("function instance started", "instance", inst.id, "pid", inst.pid, "runtimeAPI", inst.addr)

	timer := time.NewTimer(r.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-inst.ready:
		return inst, nil
	case <-inst.done:
		return nil, fmt.Errorf("fcruntime: %s exited before asking for an invocation (%v); is it an fc.Start program? see its stderr", r.cfg.Binary, inst.waitErr)
	case <-timer.C:
		r.stop(inst, 0)
		return nil, fmt.Errorf("fcruntime: %s did not ask for an invocation within %s (FC_RUNTIME_API=%s); is it an fc.Start program?", r.cfg.Binary, r.cfg.StartTimeout, inst.addr)
	case <-ctx.Done():
		r.stop(inst, 0)
		return nil, ctx.Err()
	}
}

// watch waits for the process to exit, then fails the invocations it still
// had, as FC does when an instance dies, and shuts its API server down.
func (r *Runner) watch(inst *instance) {
	err := inst.cmd.Wait()
	inst.waitErr = err

	r.mu.Lock()
	inst.stopping = true
	closed := r.closed
	var lost []*call
	for _, c := range r.inflight {
		if c.inst == inst {
			lost = append(lost, c)
		}
	}
	r.mu.Unlock()

	for _, c := range lost {
		o := outcome{err: ErrClosed}
		if !closed {
			o = outcome{
				kind:     Crashed,
				ferr:     &FunctionError{Message: fmt.Sprintf("Process exited unexpectedly before completing request (duration: %dms, maxMemoryUsage: %s)", time.Since(c.start).Milliseconds(), megabytes(inst.peak.Load()))},
				duration: time.Since(c.start),
			}
		}
		r.finish(c, o)
	}
	inst.srv.Close()
	close(inst.done)
	r.log.Info("function instance exited", "instance", inst.id, "pid", inst.pid, "status", exitStatus(err), "lostInvocations", len(lost))
}

// stop makes inst take no more work and ends its process: SIGTERM first if
// grace > 0, SIGKILL after grace. It returns once the process is reaped.
func (r *Runner) stop(inst *instance, grace time.Duration) {
	r.mu.Lock()
	inst.stopping = true
	r.mu.Unlock()
	r.sample(inst)
	if grace > 0 {
		r.signal(inst, syscall.SIGTERM)
		select {
		case <-inst.done:
			return
		case <-time.After(grace):
		}
	}
	r.signal(inst, syscall.SIGKILL)
	<-inst.done
}

// signal sends sig to the process group of inst, unless it is already gone.
func (r *Runner) signal(inst *instance, sig syscall.Signal) {
	select {
	case <-inst.done:
	default:
		_ = signalGroup(inst.cmd.Process, sig)
	}
}

// sampleInterval is how often a live instance's memory is sampled, so that
// the peak of a process that crashes is known too.
const sampleInterval = 100 * time.Millisecond

// sampleEvery samples inst's memory every d until it exits.
func (r *Runner) sampleEvery(inst *instance, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-inst.done:
			return
		case <-t.C:
			r.sample(inst)
		}
	}
}

// sample records the VmHWM of a live instance.
func (r *Runner) sample(inst *instance) {
	select {
	case <-inst.done:
		return // reaped: its pid may belong to another process now
	default:
	}
	hwm, err := vmHWM(inst.pid)
	if err != nil {
		return
	}
	maxInt64(&inst.peak, hwm)
	maxInt64(&r.peak, hwm)
}

// handleNext serves GET .../invocation/next: it blocks until an invocation
// is available for inst, then answers with its headers and payload.
func (r *Runner) handleNext(inst *instance) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		inst.readyOnce.Do(func() { close(inst.ready) })
		for {
			r.mu.Lock()
			c, wake := r.claim(inst)
			r.mu.Unlock()
			if c != nil {
				r.sample(inst)
				r.writeInvocation(w, c)
				return
			}
			select {
			case <-wake:
			case <-req.Context().Done():
				return
			case <-inst.done:
				return
			}
		}
	}
}

// writeInvocation sends c to the function with the headers FC sets.
func (r *Runner) writeInvocation(w http.ResponseWriter, c *call) {
	h := w.Header()
	set := func(k, v string) { h[k] = []string{v} } // the SDK reads lower-case names
	set("x-fc-request-id", c.id)
	set("x-fc-function-deadline", strconv.FormatInt(c.dl.UnixMilli(), 10))
	set("x-fc-function-timeout", strconv.Itoa(timeoutSeconds(c.timeout)))
	set("x-fc-function-memory", strconv.Itoa(r.cfg.MemoryMB))
	set("x-fc-function-name", r.cfg.FunctionName)
	set("x-fc-function-handler", r.cfg.Handler)
	set("x-fc-function-type", "0") // an invocation of the handler, not a lifecycle hook
	set("x-fc-region", r.cfg.Region)
	set("x-fc-account-id", r.cfg.AccountID)
	set("x-fc-retry-count", strconv.Itoa(c.inv.RetryCount))
	if cr := r.cfg.Credentials; cr.AccessKeyID != "" {
		set("x-fc-access-key-id", cr.AccessKeyID)
		set("x-fc-access-key-secret", cr.AccessKeySecret)
		set("x-fc-security-token", cr.SecurityToken)
	}
	if c.inv.HTTPParams != "" {
		set("x-fc-http-params", c.inv.HTTPParams)
	}
	set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.inv.Payload)
	r.log.Debug("invocation handed out", "requestId", c.id, "pid", c.inst.pid)
}

// handleAnswer serves POST .../invocation/{id}/response and .../error.
func (r *Runner) handleAnswer(inst *instance, isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxPayload))
		if err != nil {
			apiError(w, http.StatusRequestEntityTooLarge, "reading the answer: "+err.Error())
			return
		}
		r.mu.Lock()
		c := r.inflight[id]
		r.mu.Unlock()
		if c == nil || c.inst != inst {
			apiError(w, http.StatusNotFound, "no invocation "+strconv.Quote(id)+" in flight")
			return
		}
		r.sample(inst)
		o := outcome{kind: Succeeded, payload: body, duration: time.Since(c.start)}
		if isError {
			o.kind, o.ferr = Failed, parseFunctionError(body)
		} else {
			o.httpParams = req.Header.Get("x-fc-http-params")
		}
		if !r.finish(c, o) {
			apiError(w, http.StatusNotFound, "invocation "+strconv.Quote(id)+" already ended")
			return
		}
		w.WriteHeader(http.StatusOK) // the SDK accepts nothing else
	}
}

// parseFunctionError reads the SDK's error body; a body that is not its
// JSON becomes the message.
func parseFunctionError(body []byte) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Message == "" && fe.Type == "") {
		return &FunctionError{Message: string(body)}
	}
	return &fe
}

// apiError answers a runtime API request the function got wrong.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg})
}

// exitStatus describes how a process ended, for logs.
func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.String()
	default:
		return err.Error()
	}
}
