package fcruntime

import (
	"context"
	"errors"
	"time"
)

// Defaults applied to a zero AsyncConfig field (FC's, see the package
// documentation for the sources).
const (
	DefaultMaxAsyncRetryAttempts = 3                      // maxAsyncRetryAttempts
	DefaultMaxAsyncEventAge      = 86400 * time.Second    // maxAsyncEventAgeInSeconds
	DefaultAsyncRetryBackoff     = 500 * time.Millisecond // FC's first retry delay
)

// ConditionExpired is the requestContext.condition of an asynchronous
// invocation dropped because it grew older than AsyncConfig.MaxEventAge
// before it could run. FC does not document the value; this one follows the
// "Expired" status of FC's asynchronous tasks. A function failure has
// condition ErrorTypeUnhandled.
const ConditionExpired = "Expired"

// AsyncConfig is the asynchronous invocation configuration of the function,
// as FC's asyncInvokeConfig. A zero field means its default.
type AsyncConfig struct {
	// MaxRetryAttempts is how many times a failed attempt (error, panic,
	// crash, timeout) is retried: maxAsyncRetryAttempts, default
	// DefaultMaxAsyncRetryAttempts; negative means no retry.
	MaxRetryAttempts int

	// MaxEventAge is how long an accepted invocation may wait before its
	// (next) attempt starts; older, it is lost: maxAsyncEventAgeInSeconds,
	// default DefaultMaxAsyncEventAge.
	MaxEventAge time.Duration

	// RetryBackoff is the delay before the first retry; each further retry
	// waits twice as long as the one before. Default DefaultAsyncRetryBackoff.
	RetryBackoff time.Duration

	// OnSuccess and OnFailure, if set, receive each settled invocation's
	// record, as FC's destinationConfig onSuccess and onFailure would: a
	// success, or an invocation finally lost. They are called from the
	// runner's goroutines, possibly at once, and before Drain returns; the
	// records are also kept (SuccessRecords, FailureRecords).
	OnSuccess, OnFailure func(DestinationRecord)
}

func (a *AsyncConfig) setDefaults() {
	switch {
	case a.MaxRetryAttempts == 0:
		a.MaxRetryAttempts = DefaultMaxAsyncRetryAttempts
	case a.MaxRetryAttempts < 0:
		a.MaxRetryAttempts = 0
	}
	if a.MaxEventAge <= 0 {
		a.MaxEventAge = DefaultMaxAsyncEventAge
	}
	if a.RetryBackoff <= 0 {
		a.RetryBackoff = DefaultAsyncRetryBackoff
	}
}

// DestinationRecord is what FC sends an asynchronous invocation's
// destination when the invocation settles (see the package documentation).
type DestinationRecord struct {
	Timestamp       int64           `json:"timestamp"` // when it settled, Unix milliseconds
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  string          `json:"requestPayload"`  // the invocation's payload
	ResponseContext ResponseContext `json:"responseContext"` // of the last attempt; zero if none ran
	ResponsePayload string          `json:"responsePayload"` // the last attempt's answer or error body
}

// RequestContext identifies the invocation a DestinationRecord is about.
type RequestContext struct {
	RequestID   string `json:"requestId"`
	FunctionArn string `json:"functionArn"` // acs:fc:REGION:ACCOUNT:functions/NAME
	// Condition is why it was lost: ErrorTypeUnhandled (the last attempt
	// failed) or ConditionExpired; "" for a success.
	Condition string `json:"condition"`
	// ApproximateInvokeCount is how many attempts ran; above 1, it was retried.
	ApproximateInvokeCount int `json:"approximateInvokeCount"`
}

// ResponseContext is how the last attempt ended.
type ResponseContext struct {
	StatusCode    int    `json:"statusCode"`    // 200 once the function ran, failed or not
	FunctionError string `json:"functionError"` // X-Fc-Error-Type of a failure, else ""
}

// task is one asynchronous invocation across its attempts.
type task struct {
	id       string
	inv      Invocation // as accepted
	accepted time.Time

	// Guarded by Runner.mu.
	attempts int     // attempts that ran (or could not start)
	last     *Result // of the last attempt
}

// InvokeAsync accepts an asynchronous invocation, as InvokeFunction with
// x-fc-invocation-type: Async does, and returns its request id at once. The
// invocation runs when an instance is free (a new one is started while
// fewer than MaxInstances run); a failed attempt is retried with the same
// request id and x-fc-retry-count one higher, after a backoff, up to
// AsyncConfig.MaxRetryAttempts times. How it settles is recorded as a
// DestinationRecord.
func (r *Runner) InvokeAsync(inv Invocation) (string, error) {
	if inv.RequestID == "" {
		inv.RequestID = newRequestID()
	}
	t := &task{id: inv.RequestID, inv: inv, accepted: time.Now()}
	c := r.newCall(inv, t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", ErrClosed
	}
	r.pending++
	r.stats.AsyncAccepted++
	r.queue = append(r.queue, c)
	r.dispatch()
	return t.id, nil
}

// Drain waits until every asynchronous invocation accepted so far has
// settled (OnSuccess and OnFailure included) and no instance serves a call.
func (r *Runner) Drain(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		if r.pending == 0 && !r.busy() {
			r.mu.Unlock()
			return nil
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SuccessRecords returns the records of the asynchronous invocations that
// succeeded, in the order they settled (FC's on-success destination).
func (r *Runner) SuccessRecords() []DestinationRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]DestinationRecord(nil), r.succeeded...)
}

// FailureRecords returns the records of the asynchronous invocations that
// were lost, in the order they settled (FC's on-failure destination).
func (r *Runner) FailureRecords() []DestinationRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]DestinationRecord(nil), r.lost...)
}

// launchAttempt starts the instance assigned to an asynchronous attempt,
// then runs the attempt. An instance that cannot start fails the attempt.
func (r *Runner) launchAttempt(inst *instance, c *call) {
	if err := r.start(context.Background(), inst); err != nil {
		r.end(c, outcome{err: err}, false)
	}
	r.runAttempt(c)
}

// runAttempt waits for the end of an asynchronous attempt and settles it.
func (r *Runner) runAttempt(c *call) {
	o := r.await(c)
	if errors.Is(o.err, ErrClosed) {
		return
	}
	if o.err != nil { // the instance could not start: a failed attempt
		o = outcome{kind: Crashed, ferr: &FunctionError{Message: o.err.Error()}}
	}
	res, _ := c.result(o)
	t := c.task

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	t.attempts++
	t.last = &res
	switch {
	case res.Outcome == Succeeded:
		r.settle(t, "", true)
	case t.attempts <= r.cfg.Async.MaxRetryAttempts:
		r.stats.AsyncRetried++
		r.retryLater(t)
		r.mu.Unlock()
	default:
		r.settle(t, ErrorTypeUnhandled, false)
	}
}

// retryLater queues the next attempt of t after its backoff. r.mu held.
func (r *Runner) retryLater(t *task) {
	delay := r.cfg.Async.RetryBackoff << (t.attempts - 1)
	r.log.Info("asynchronous invocation failed; retrying", "requestId", t.id, "attempts", t.attempts, "outcome", t.last.Outcome, "backoff", delay)
	var timer *time.Timer
	timer = time.AfterFunc(delay, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return
		}
		delete(r.timers, timer)
		inv := t.inv
		inv.RetryCount += t.attempts
		r.queue = append(r.queue, r.newCall(inv, t))
		r.dispatch()
	})
	r.timers[timer] = struct{}{}
}

// expire settles a queued invocation that has grown too old to run.
func (r *Runner) expire(t *task) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.log.Warn("asynchronous invocation expired", "requestId", t.id, "attempts", t.attempts, "maxEventAge", r.cfg.Async.MaxEventAge)
	r.settle(t, ConditionExpired, false)
}

// expired reports whether t is too old for another attempt.
func (r *Runner) expired(t *task) bool {
	return time.Since(t.accepted) > r.cfg.Async.MaxEventAge
}

// settle records how t ended, hands the record to the destination callback
// and, after it, ends t. Called with r.mu held; returns with it released.
func (r *Runner) settle(t *task, condition string, ok bool) {
	rec := DestinationRecord{
		Timestamp: time.Now().UnixMilli(),
		RequestContext: RequestContext{
			RequestID:              t.id,
			FunctionArn:            r.arn,
			Condition:              condition,
			ApproximateInvokeCount: t.attempts,
		},
		RequestPayload: string(t.inv.Payload),
	}
	if res := t.last; res != nil {
		rec.ResponseContext = ResponseContext{StatusCode: 200, FunctionError: res.ErrorType}
		rec.ResponsePayload = string(res.Payload)
	}
	dest := r.cfg.Async.OnSuccess
	if ok {
		r.succeeded = append(r.succeeded, rec)
		r.stats.AsyncSucceeded++
	} else {
		r.lost = append(r.lost, rec)
		r.stats.AsyncLost++
		dest = r.cfg.Async.OnFailure
		r.log.Warn("asynchronous invocation lost", "requestId", t.id, "condition", condition, "attempts", t.attempts)
	}
	r.mu.Unlock()
	if dest != nil {
		dest(rec)
	}
	r.mu.Lock()
	if !r.closed {
		r.pending--
		r.broadcast()
	}
	r.mu.Unlock()
}
