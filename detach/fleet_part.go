package detach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxContinuation is the most bytes a continuation's request may have: FC takes at
// most 128 KB as the payload of an asynchronous invocation (its limits page).
const maxContinuation = 128 << 10

// runPart runs one part of a region's chain: it detaches the key pair from the part's
// window (listed by the part before, or, for the first part, by the run's first
// invocation) while it lists the next window, then starts the next part. Every failure is in the Part.
func (f *Fleet) runPart(ctx context.Context, env FleetEnv, req Request, c Continuation) *Part {
	region := req.RegionId
	log := loggerFrom(ctx, f.svc.opts.Logger).With("run_id", c.RunId, "region", region, "part", c.Part)
	ctx = WithLogger(ctx, log)
	p := &Part{RunId: c.RunId, Region: region, Part: c.Part, Attempt: retryCountFrom(ctx), Totals: c.Totals,
		Result: Result{RequestId: requestIDFrom(ctx), KeyPairId: c.KeyPairId, KeyPairName: req.KeyPairName, DryRun: req.DryRun, Results: []InstanceResult{}}}
	if p.Totals.Codes == nil {
		p.Totals.Codes = map[string]int{}
	}
	if c.Part > f.maxParts {
		return p.fail(invalidParameter("Continuation", fmt.Sprintf("part %d is past MAX_PARTS (%d)", c.Part, f.maxParts)))
	}
	cloud, err := env.cloud(region)
	if err != nil {
		return p.fail(err)
	}
	// The run resolved the key pair when it started: a part takes it from its request,
	// unless ALLOWED_KEY_PAIRS lists ids, which a continuation's id must not satisfy on
	// its word (Service.Detach then resolves it by name again, a DescribeKeyPairs call).
	kp := KeyPair{ID: c.KeyPairId, Name: req.KeyPairName}
	var kc Cloud = resolvedCloud{Cloud: cloud, kp: kp}
	if kp.ID != "" && len(f.svc.opts.Policy.KeyPairIDs) > 0 {
		kc = cloud
	}

	// The part's cloud calls end early enough to start the next part afterwards.
	wctx, cancel := withReserve(ctx)
	defer cancel()
	r := f.svc.newRun(wctx, kc, req)
	defer r.cancel()
	// The guardrails hold for every part as for the request that started the run (a
	// continuation may be written by hand): its region, its Targets' scope, its key pair.
	if err := r.guardRequest(); err != nil {
		return p.fail(err)
	}
	l := f.newLister(r, req, kp)

	window, cursor := c.InstanceIds, c.Cursor
	var next []string
	var nextCursor Cursor
	var nextErr *Error
	var res *Result
	var derr *Error
	// The listing calls DescribeInstances under the same quota as the checks of the
	// window: it starts once the first check has, so that the first detach, which
	// waits for that check, does not wait for a page of the listing too. (Then both
	// share the quota: the listing, page after page, could not use it alone.)
	checking, detached := make(chan struct{}), make(chan struct{})
	listNext := func() {
		select {
		case <-checking:
		case <-detached:
		}
		next, nextCursor, nextErr = l.next(cursor)
	}
	if cursor.Done && len(cursor.Pending) == 0 {
		listNext, nextCursor = nil, cursor
	}
	detach := func() {
		defer close(detached)
		if len(window) == 0 {
			res = &Result{}
			return
		}
		wreq := Request{Product: ProductECS, RegionId: region, KeyPairName: kp.Name, InstanceIds: window, DryRun: req.DryRun}
		res, derr = f.svc.Detach(withSelected(wctx), firstCall{Cloud: kc, once: new(sync.Once), began: checking}, wreq)
	}
	sharedWait(detach, listNext)
	if derr != nil {
		return p.fail(derr)
	}

	if nextErr != nil { // the part ran, but where its region goes on is unknown
		p.Results = res.Results
		p.count()
		p.Totals = c.Totals.add(res.Results)
		return p.stop(nextErr, "listing the next instances")
	}
	// Instances the deadline left unattempted go first into the next part: nothing
	// was called for them, and reporting them NotAttempted would end their run.
	var carried []string
	for _, x := range res.Results {
		if x.ErrorCode == CodeNotAttempted {
			carried = append(carried, x.InstanceId)
		} else {
			p.Results = append(p.Results, x)
		}
	}
	p.count()
	p.Totals = c.Totals.add(p.Results)
	if len(carried) > 0 {
		log.Warn("instances not attempted before the deadline go to the next part", "instances", len(carried))
		next, nextCursor = carry(carried, next, nextCursor, l.limit)
	}
	if len(next) == 0 {
		if c.Part == 1 { // the region's whole selection: as a Targets answer had it before fleet runs
			matched, truncated := len(p.Results), false
			p.MatchedCount, p.Truncated = &matched, &truncated
		}
		p.Final = true
		log.Info("fleet region finished", "parts", p.Totals.Parts, "total", p.Totals.TotalCount, "failed", p.Totals.FailCount)
		return p
	}
	if c.Part+1 > f.maxParts {
		p.Final, p.Code = true, CodePartLimit
		p.Message = fmt.Sprintf("the region's run stopped after MAX_PARTS (%d) parts; more instances may match: run the request again to go on", f.maxParts)
		log.Warn("fleet region stopped at the part limit", "max_parts", f.maxParts)
		return p
	}
	inv, ierr := f.invoker(env)
	if ierr != nil {
		return p.stop(ierr, "starting the next part")
	}
	nc := Continuation{RunId: c.RunId, Part: c.Part + 1, KeyPairId: c.KeyPairId, InstanceIds: next, Cursor: nextCursor, Totals: p.Totals}
	if err := f.startPart(ctx, inv, req, nc); err != nil {
		log.Error("the next part could not be started; the invocation fails so that FC runs this part again", "error", err.Error())
		p.Code, p.retry = CodeContinuationFailed, true
		p.Message = "the next part could not be started (FC's InvokeFunction: " + err.Error() + "); the invocation fails so that FC runs this part again"
		return p
	}
	p.Continues = true
	return p
}

// firstCall closes began when its first DescribeInstances call starts (after the
// pacer's wait).
type firstCall struct {
	Cloud
	once  *sync.Once
	began chan struct{}
}

func (c firstCall) DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error) {
	c.once.Do(func() { close(c.began) })
	return c.Cloud.DescribeInstances(ctx, q)
}

// fail ends a part that could not run: its error, and, for a 5xx, a retry by FC.
func (p *Part) fail(e *Error) *Part {
	p.status, p.Code, p.Message = e.Status, e.Code, e.Message
	p.retry = e.Retryable()
	p.Final = !p.retry
	return p
}

// stop ends a part that ran but cannot go on: FC runs it again when the cause may pass,
// else the region's run ends here.
func (p *Part) stop(e *Error, doing string) *Part {
	p.Code, p.Message = e.Code, doing+": "+e.Message
	if e.Retryable() {
		p.Code, p.retry = CodeContinuationFailed, true
		p.Message += "; the invocation fails so that FC runs this part again"
	} else {
		p.Final = true
		p.Message += "; the region's run stops here"
	}
	return p
}

// withReserve bounds ctx a little before its deadline, keeping time to start the next
// part and answer: a tenth of what is left, at least 200 ms, at most 3 s.
func withReserve(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(max(time.Until(dl)/10, 200*time.Millisecond), 3*time.Second)
	return context.WithDeadline(ctx, dl.Add(-reserve))
}

// carry puts ids first in the next window (the rest of it going first among the
// cursor's pending instances).
func carry(ids, next []string, c Cursor, limit int) ([]string, Cursor) {
	all := append(append([]string(nil), ids...), next...)
	if len(all) > limit {
		c.Pending = append(append([]string(nil), all[limit:]...), c.Pending...)
		all = all[:limit]
	}
	return all, c
}

// startPart queues a part of a region's chain: an asynchronous invocation of the
// function whose request is req with the continuation c, as the FC task of its run,
// region and part. FC having the task already (an earlier attempt started it) is
// success. Throttling and unavailability are retried with backoff (MaxAttempts tries).
func (f *Fleet) startPart(ctx context.Context, inv Invoker, req Request, c Continuation) error {
	req.Continuation = &c
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if len(payload) > maxContinuation {
		return fmt.Errorf("the next part's request has %d bytes, more than the %d FC takes asynchronously", len(payload), maxContinuation)
	}
	id := taskID(c.RunId, req.RegionId, c.Part)
	r := f.svc.newRun(ctx, invokerCloud{region: req.RegionId}, req)
	defer r.cancel()
	existed, err := call(r, APIInvokeFunction, func(ctx context.Context) (bool, error) {
		err := inv.InvokeAsync(ctx, id, payload)
		if errors.Is(err, ErrTaskExists) { // an earlier try whose answer was lost, or an earlier attempt
			return true, nil
		}
		return false, err
	})
	if existed {
		loggerFrom(ctx, f.svc.opts.Logger).Info("part already started by an earlier attempt or try", "task_id", id)
		return nil
	}
	if errors.Is(err, errNotStarted) {
		return errors.New("too little time was left before the deadline")
	}
	return err
}

// invokerCloud gives the calls of startPart their pacing key: FC's InvokeFunction, in
// the run's region (a Cloud in name only: it is never called).
type invokerCloud struct {
	Cloud
	region string
}

func (c invokerCloud) Limits() Limits { return Limits{Product: "FC", Region: c.region} }
