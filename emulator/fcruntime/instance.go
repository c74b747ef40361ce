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
	"sync/atomic"
	"syscall"
	"time"
)

// apiPrefix is the path of the runtime API the SDK calls (its apiVersion).
const apiPrefix = "/2020-11-11/runtime/invocation/"

// MaxPayload bounds request and response bodies: FC 3.0 accepts up to
// 32 MB for a synchronous invocation.
const MaxPayload = 32 << 20

// instance is one function process with its own runtime API server, as an
// FC instance has its own runtime API endpoint.
type instance struct {
	id     string // FC_INSTANCE_ID
	addr   string // FC_RUNTIME_API, host:port
	cmd    *exec.Cmd
	srv    *http.Server
	peak   atomic.Int64  // highest VmHWM seen, bytes
	ready  chan struct{} // closed at the process's first request for work
	done   chan struct{} // closed once the process has exited and been reaped
	signal chan struct{} // wakes its request for work when a call is assigned

	waitErr error // how it exited; read after done

	// Guarded by Runner.mu.
	pid         int   // set before its runtime API serves
	current     *call // the call it serves (assigned or handed out), or nil
	isReady     bool  // ready is closed
	stopping    bool  // hand out no more work: it is exiting or being killed
	exited      bool
	invocations int // calls handed to it
}

// start starts the process of a registered instance and its runtime API
// server, and waits for the process to ask for work. On failure the
// instance is gone; a call assigned to it is the caller's to end.
func (r *Runner) start(ctx context.Context, inst *instance) error {
	r.mu.Lock()
	if r.closed {
		r.forget(inst)
		r.mu.Unlock()
		return ErrClosed
	}
	r.starting.Add(1)
	r.mu.Unlock()
	defer r.starting.Done()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.locked(func() { r.forget(inst) })
		return fmt.Errorf("fcruntime: runtime API listener: %w", err)
	}
	inst.addr = ln.Addr().String()
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
		r.locked(func() { r.forget(inst) })
		return fmt.Errorf("fcruntime: start %s: %w", r.cfg.Binary, err)
	}
	inst.cmd = cmd
	r.locked(func() {
		inst.pid = cmd.Process.Pid
		r.all = append(r.all, inst)
		r.stats.InstancesStarted++
	})
	// Serve only now that inst is complete; until then the process's first
	// connection waits in the listener's backlog.
	go inst.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed
	go r.watch(inst)
	go r.sampleEvery(inst, sampleInterval)
	r.log.Info("function instance started", "instance", inst.id, "pid", inst.pid, "runtimeAPI", inst.addr)

	timer := time.NewTimer(r.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-inst.ready:
		return nil
	case <-inst.done:
		return fmt.Errorf("fcruntime: %s exited before asking for an invocation (%v); is it an fc.Start program? see its stderr", r.cfg.Binary, inst.waitErr)
	case <-timer.C:
		r.stop(inst, 0)
		return fmt.Errorf("fcruntime: %s did not ask for an invocation within %s (FC_RUNTIME_API=%s); is it an fc.Start program?", r.cfg.Binary, r.cfg.StartTimeout, inst.addr)
	case <-ctx.Done():
		r.stop(inst, 0)
		return ctx.Err()
	case <-r.quit:
		r.stop(inst, 0)
		return ErrClosed
	}
}

// locked runs f with r.mu held.
func (r *Runner) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// watch waits for the process to exit, then fails the call it still had, as
// FC does when an instance dies, and shuts its API server down. The freed
// place lets a queued call start a new instance.
func (r *Runner) watch(inst *instance) {
	err := inst.cmd.Wait()
	inst.waitErr = err

	r.mu.Lock()
	inst.exited, inst.stopping = true, true
	delete(r.instances, inst)
	r.unidle(inst)
	c, closed := inst.current, r.closed
	var o outcome
	if c != nil {
		o = outcome{err: ErrClosed}
		if !closed {
			var d time.Duration
			if c.handed {
				d = time.Since(c.start)
			}
			o = outcome{
				kind:     Crashed,
				ferr:     &FunctionError{Message: fmt.Sprintf("Process exited unexpectedly before completing request (duration: %dms, maxMemoryUsage: %s)", d.Milliseconds(), megabytes(inst.peak.Load()))},
				duration: d,
			}
		}
	}
	r.dispatch()
	r.broadcast()
	r.mu.Unlock()

	if c != nil {
		r.end(c, o, false)
	}
	inst.srv.Close()
	close(inst.done)
	r.log.Info("function instance exited", "instance", inst.id, "pid", inst.pid, "status", exitStatus(err), "lostInvocation", c != nil)
}

// stop makes inst take no more work and ends its process: SIGTERM first if
// grace > 0, SIGKILL after grace. It returns once the process is reaped.
func (r *Runner) stop(inst *instance, grace time.Duration) {
	r.locked(func() {
		inst.stopping = true
		r.unidle(inst)
	})
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
	hwm, err := vmHWM(inst.cmd.Process.Pid)
	if err != nil {
		return
	}
	maxInt64(&inst.peak, hwm)
	maxInt64(&r.peak, hwm)
}

// handleNext serves GET .../invocation/next: it blocks until inst has a call
// to hand out, then answers with its headers and payload. The first request
// makes the instance ready; one that serves nothing joins the idle ones.
func (r *Runner) handleNext(inst *instance) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		for {
			r.mu.Lock()
			if !inst.isReady {
				inst.isReady = true
				close(inst.ready)
				r.free(inst)
			}
			c := inst.current
			if c != nil && !c.handed && !c.ended && !inst.stopping {
				c.handed, c.start = true, time.Now()
				c.dl = c.start.Add(c.timeout)
				inst.invocations++
				r.stats.Invocations++
				close(c.started)
				r.mu.Unlock()
				r.sample(inst)
				r.writeInvocation(w, c)
				return
			}
			r.mu.Unlock()
			select {
			case <-inst.signal:
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
	r.log.Debug("invocation handed out", "requestId", c.id, "retryCount", c.inv.RetryCount, "instance", c.inst.id)
}

// handleAnswer serves POST .../invocation/{id}/response and .../error.
func (r *Runner) handleAnswer(inst *instance, isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxPayload))
		if err != nil {
			apiError(w, http.StatusRequestEntityTooLarge, "reading the answer: "+err.Error())
			return
		}
		r.mu.Lock()
		c := inst.current
		inFlight := c != nil && c.id == id && c.handed && !c.ended
		r.mu.Unlock()
		if !inFlight {
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
		if !r.end(c, o, false) {
			apiError(w, http.StatusNotFound, "invocation "+strconv.Quote(id)+" already ended")
			return
		}
		w.WriteHeader(http.StatusOK) // the SDK accepts nothing else
	}
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
