package detach

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// call makes one cloud call through op: paced under the API's quota, repeated with
// exponential backoff and jitter while the cloud throttles or is unavailable, at most
// MaxAttempts times. No try starts, after the pacer's wait or the backoff's, unless it
// can finish before the run's deadline (timing). It returns errNotStarted when
// the first try could not start, else the last error of the cloud.
func call[T any](r *run, api string, op func(ctx context.Context) (T, error)) (T, error) {
	p := r.pacer(r.lim, api)
	b := &timedBackOff{BackOff: newBackoff(r.opts.Backoff, r.opts.MaxBackoff), ctx: r.ctx, clock: &r.clock}
	attempt := 0
	var last error
	v, err := backoff.Retry(r.ctx, func() (T, error) {
		var zero T
		if err := r.paced(p); err != nil || !r.hasTime() {
			if attempt == 0 {
				return zero, backoff.Permanent(errNotStarted)
			}
			return zero, backoff.Permanent(last) // out of time for another try
		}
		attempt++
		start := time.Now()
		v, err := op(r.ctx)
		r.clock.answered(start, err)
		if err == nil {
			p.succeeded()
			return v, nil
		}
		last = err
		var ce *CloudError
		if !errors.As(err, &ce) || !ce.Retryable() {
			return zero, backoff.Permanent(err)
		}
		if ce.Throttled() {
			p.throttled()
		}
		r.log.Debug("cloud call failed", "api", api, "attempt", attempt, "error", err.Error())
		return zero, err
	},
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(r.opts.MaxAttempts)),
		backoff.WithMaxElapsedTime(0),
	)
	if err != nil && isCloudError(last) && !isCloudError(err) && !errors.Is(err, errNotStarted) {
		err = last // the deadline cut the waits between tries short: report what the cloud said
	}
	if err != nil && attempt > 1 {
		r.log.Warn("cloud call failed after retries", "api", api, "attempts", attempt, "error", err.Error())
	}
	return v, err
}

// timedBackOff ends the retries when the wait before the next try would leave too
// little time before ctx's deadline for the try itself: waiting would only delay the
// answer.
type timedBackOff struct {
	backoff.BackOff
	ctx   context.Context
	clock *timing
}

func (b *timedBackOff) NextBackOff() time.Duration {
	next := b.BackOff.NextBackOff()
	if next == backoff.Stop || !b.clock.enoughTime(b.ctx, next) {
		return backoff.Stop
	}
	return next
}

// paced waits for the pacer of an API, but not when the wait would end too late for a
// call to finish before the run's deadline.
func (r *run) paced(p *pacer) error {
	ctx := r.ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-r.clock.need()))
		defer cancel()
	}
	return p.wait(ctx)
}

// timing is the deadline rule of the function's calls: a call starts only if it can
// finish before the deadline, that is, if the time left covers twice the slowest call
// seen so far (of a run, or of an emit), and 20 ms. It is safe for concurrent use.
type timing struct {
	mu      sync.Mutex
	slowest time.Duration
}

// answered records how long a call that started at start took, if it got an answer:
// it succeeded, or the cloud answered an error (a call without an answer, cut short or
// refused in transit, says nothing of how long the cloud takes).
func (t *timing) answered(start time.Time, err error) {
	var ce *CloudError
	if err != nil && !(errors.As(err, &ce) && ce.Status != 0) {
		return
	}
	d := time.Since(start)
	t.mu.Lock()
	t.slowest = max(t.slowest, d)
	t.mu.Unlock()
}

// need is the time the next call may take.
func (t *timing) need() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return 2*t.slowest + 20*time.Millisecond
}

// enoughTime reports whether a call that starts after wait can finish before ctx's
// deadline.
func (t *timing) enoughTime(ctx context.Context, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl)-wait >= t.need()
}

// newBackoff is the one retry schedule of the function's cloud calls: exponential from
// initial, doubling up to max, each wait randomised by ±50% (jitter) so that retries
// of concurrent calls do not meet again.
func newBackoff(initial, max time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = max
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	return b
}

// pacer keeps the calls of one API of one instance under the instance's share of the
// API's quota (InstancePace), evenly spaced (no bursts). Throttling answers halve its
// rate (down to a tenth of its pace); each success wins back a twentieth of the pace.
type pacer struct {
	lim   *rate.Limiter // nil when the API is not paced
	quota rate.Limit    // the pace
	mu    sync.Mutex
}

// newPacer returns a pacer of calls a second (InstancePace; 0: unpaced).
func newPacer(calls float64) *pacer {
	if calls <= 0 {
		return &pacer{}
	}
	q := rate.Limit(calls)
	return &pacer{lim: rate.NewLimiter(q, 1), quota: q}
}

func (p *pacer) wait(ctx context.Context) error {
	if p.lim == nil {
		return nil
	}
	return p.lim.Wait(ctx)
}

func (p *pacer) throttled() {
	if p.lim == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lim.SetLimit(max(p.lim.Limit()/2, p.quota/10))
}

func (p *pacer) succeeded() {
	if p.lim == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.lim.Limit(); cur < p.quota {
		p.lim.SetLimit(min(cur+p.quota/20, p.quota))
	}
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// WithRequestID returns a context that carries the id of the request being served
// (the FC request id), echoed in the answer.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithLogger returns a context whose requests log to l (carrying, say, the request id).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}
