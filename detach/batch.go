package detach

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// batch is the detaching of one batch of instances: its DetachKeyPair attempts, and
// the checks (DescribeInstances) that tell what an attempt did when its answer did not.
//
// An attempt is clear when the cloud answered with a result for every instance, or
// refused the call (a 4xx, throttling included: nothing changed). It is unclear when
// there was no answer, a 5xx, or a 200 without a result for some instances: the cloud
// may have detached them.
// After an unclear attempt, and before any retry, the instances left are checked: those
// no longer bound are detached, those no longer Stopped are not retried (the cloud would
// detach a Running instance, taking effect at its next restart), nor those the Policy
// now refuses (tagged meanwhile), the others are retried or, at the end, reported failed
// with what the check found. The cloud's per-instance
// failure codes on a retry after an unclear attempt are not documented (an instance the
// first attempt detached may be answered "not attached"), so they are checked too.
type batch struct {
	r  *run
	kp KeyPair

	pending []string           // to detach: still bound and Stopped when last known
	verify  map[string]Outcome // failures the cloud gave after an unclear attempt, to check
	last    error              // why the last attempt did not settle pending
	unclear bool               // an attempt may have detached without saying so
}

// run detaches the batch, at most MaxAttempts calls, and sets every instance's result.
func (b *batch) run() {
	bo := newBackoff(b.r.opts.Backoff, b.r.opts.MaxBackoff)
	for attempt := 1; ; attempt++ {
		if !b.attempt(attempt) || len(b.pending)+len(b.verify) == 0 {
			return
		}
		again := len(b.pending) > 0 && attempt < b.r.opts.MaxAttempts && b.sleep(bo)
		if !again && len(b.pending) > 0 {
			b.r.log.Warn("detach batch not retried", "instances", len(b.pending), "attempts", attempt, "error", b.last.Error())
		}
		if !b.check(!again) {
			return
		}
		if !b.r.hasTime() { // for the retry: the instances were checked, nothing changed since
			b.settle(b.pending, b.notRetried)
			return
		}
	}
}

// attempt makes one DetachKeyPair call for the pending instances and sets the result of
// those it settles. It reports whether instances are left to check or retry.
func (b *batch) attempt(n int) bool {
	out, err := callOnce(b.r, APIDetachKeyPair, func(ctx context.Context) ([]Outcome, error) {
		return b.r.cloud.DetachKeyPair(ctx, b.kp, b.pending)
	})
	var ce *CloudError
	switch {
	case err == nil:
		b.record(out)
		return true
	case errors.Is(err, errNotStarted) && n == 1:
		b.settle(b.pending, notAttempted)
	case errors.Is(err, errNotStarted):
		b.settle(b.pending, b.notRetried)
	case !errors.As(err, &ce) && b.r.ctx.Err() != nil:
		b.r.mayHaveActed()
		b.settle(b.pending, func(id string) InstanceResult {
			return failed(id, http.StatusGatewayTimeout, CodeDeadlineExceeded,
				"the detach call did not finish before the function's deadline; the key pair may or may not be detached: check the instance and run the request again")
		})
	case ce != nil && ce.Throttled():
		b.last = err
		return true
	case ce != nil && ce.Unavailable():
		b.r.mayHaveActed()
		b.r.log.Warn("detach answer unclear; the instances will be checked", "instances", len(b.pending), "attempt", n, "error", err.Error())
		b.last, b.unclear = err, true
		return true
	default: // refused: this call changed nothing, and the instances were bound when last checked
		b.r.log.Warn("detach batch failed", "instances", len(b.pending), "error", err.Error())
		b.settle(b.pending, func(id string) InstanceResult { return toInstanceFailure(id, err) })
	}
	return false
}

// record sets the results the cloud gave; instances without one stay pending, their
// outcome unclear.
func (b *batch) record(out []Outcome) {
	byID := make(map[string]Outcome, len(out))
	for _, o := range out {
		byID[o.InstanceID] = o
	}
	var left []string
	for _, id := range b.pending {
		o, ok := byID[id]
		switch {
		case !ok:
			left = append(left, id)
		case o.Success:
			b.r.mayHaveActed()
			b.r.set(succeeded(id, MessageSuccessful))
		case b.unclear:
			if b.verify == nil {
				b.verify = map[string]Outcome{}
			}
			b.verify[id] = o
		default:
			b.r.set(cloudFailure(id, o))
		}
	}
	if len(left) > 0 {
		b.r.mayHaveActed()
		b.r.log.Warn("detach answer without results for some instances; they will be checked", "instances", len(left))
		b.last = &CloudError{Status: http.StatusOK, Code: CodeInvalidResponse,
			Message: fmt.Sprintf("%s answered without a result for this instance", b.r.lim.Product)}
		b.unclear = true
	}
	b.pending = left
}

// check describes the instances left, before a retry or, when final, before reporting
// them, and settles those whose state tells their result. It reports whether instances
// are left to retry. Without an unclear attempt a final check is not needed: nothing
// was detached.
func (b *batch) check(final bool) bool {
	ids := append(slices.Clone(b.pending), slices.Sorted(maps.Keys(b.verify))...)
	if final && !b.unclear {
		b.settle(ids, func(id string) InstanceResult { return b.failure(id, "") })
		return false
	}
	if !b.r.hasTime() {
		b.settle(ids, func(id string) InstanceResult {
			return b.unknown(id, "too little time was left before the function's deadline")
		})
		return false
	}
	found, err := b.r.describe(ids)
	if err != nil {
		reason := "the check failed: " + err.Error()
		if b.r.outOfTimeFor(err) {
			reason = "the function's deadline came first"
		}
		b.settle(ids, func(id string) InstanceResult { return b.unknown(id, reason) })
		return false
	}
	var still []string
	for _, id := range ids {
		in, ok := found[id]
		o, verifying := b.verify[id]
		refusal := b.r.refusal(in)
		switch {
		case !ok:
			b.r.set(b.unknown(id, "the check did not find the instance"))
		case in.KeyPairName != b.kp.Name && b.unclear:
			b.r.set(succeeded(id, MessageDetachedEarlier))
		case in.KeyPairName != b.kp.Name:
			b.r.set(succeeded(id, MessageDetachedMeanwhile))
		case verifying:
			res := cloudFailure(id, o)
			res.Message += " (checked afterwards: the key pair is still bound)"
			b.r.set(res)
		case refusal != "": // tagged meanwhile (or its tags now unclear)
			b.r.set(failed(id, http.StatusForbidden, CodeProtected, refusal+
				" (found when the function checked the instance again; the key pair, still bound, was not detached)"))
		case in.Status != StatusStopped:
			b.r.set(failed(id, http.StatusBadRequest, CodeIncorrectStatus, fmt.Sprintf(
				"instance is %s: it was started after the function checked it, and the key pair, still bound, was not detached; stop it and run the request again", in.Status)))
		case final:
			b.r.set(b.failure(id, "; checked afterwards: the key pair is still bound, nothing was detached"))
		default:
			still = append(still, id)
		}
	}
	b.pending, b.verify = still, nil
	return len(still) > 0
}

// failure is the result of an instance that the attempts did not detach: the last
// error, and more says what is known of its state.
func (b *batch) failure(id, more string) InstanceResult {
	res := toInstanceFailure(id, b.last)
	res.Message += more
	return res
}

// notRetried is the result of an instance left bound (as checked) for lack of time.
func (b *batch) notRetried(id string) InstanceResult {
	return b.failure(id, "; checked: the key pair is still bound; not retried: too little time was left before the function's deadline: run the request again")
}

// unknown is the result of an instance whose state could not be learnt after an
// unclear attempt (or, without one, that could not be checked before a retry).
func (b *batch) unknown(id, reason string) InstanceResult {
	res := b.failure(id, "")
	if o, ok := b.verify[id]; ok {
		res = cloudFailure(id, o)
	}
	if b.unclear {
		res.Message += "; an attempt got no clear answer, so the key pair may already be detached, and the function could not check the instance (" + reason + "): check it and run the request again"
	} else {
		res.Message += "; not retried: the function could not check the instance first (" + reason + ")"
	}
	return res
}

// settle sets the result of each id.
func (b *batch) settle(ids []string, result func(id string) InstanceResult) {
	for _, id := range ids {
		b.r.set(result(id))
	}
}

// sleep waits before the next attempt; false, without waiting, when the attempt could
// not finish before the deadline once the wait is over (timing), or when the deadline
// comes first.
func (b *batch) sleep(bo *backoff.ExponentialBackOff) bool {
	wait := bo.NextBackOff()
	if !b.r.clock.enoughTime(b.r.ctx, wait) {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.r.ctx.Done():
		return false
	}
}

// cloudFailure is the result of an instance for which the cloud answered a failure.
func cloudFailure(id string, o Outcome) InstanceResult {
	code := o.Code
	if code == 0 || code == http.StatusOK {
		code = http.StatusBadRequest
	}
	errorCode := o.ErrorCode
	if errorCode == "" {
		errorCode = "DetachFailed"
	}
	return failed(id, code, errorCode, o.Message)
}

// callOnce makes one try of a cloud call through op, as call does (paced, never
// started past the deadline), and leaves retrying to the caller.
func callOnce[T any](r *run, api string, op func(ctx context.Context) (T, error)) (T, error) {
	v, err := call(r, api, func(ctx context.Context) (T, error) {
		v, err := op(ctx)
		return v, backoff.Permanent(err) // nil stays nil
	})
	for {
		p, ok := err.(*backoff.PermanentError)
		if !ok {
			return v, err
		}
		err = p.Err
	}
}
