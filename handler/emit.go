package handler

import (
	"context"
	"time"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
)

// answerMargin is the time before the deadline that emitting the event leaves for
// sending the answer.
const answerMargin = 100 * time.Millisecond

// emit sends the result event of one request to EVENT_BUS, if set, and records in the
// outcome whether it went out. A failed emit is logged; the outcome is otherwise kept.
// keyPair names the key pair for the event's subject when the outcome does not.
func (h *Handler) emit(ctx context.Context, t task, o outcome, keyPair string) outcome {
	o.caller = t.caller
	if h.cfg.EventBus == "" {
		return o
	}
	region := o.region
	if region == "" {
		region = t.inv.Region
	}
	if region == "" {
		region = h.cfg.RegionID
	}
	scope := detach.EventScope{Source: h.cfg.EventSource, Product: o.product, Region: region, AccountID: t.inv.AccountID, RequestID: t.inv.RequestID, Retry: t.inv.RetryCount, Seq: t.seq}
	var ev detach.Event
	if o.err != nil {
		resp := o.err.Response(t.inv.RequestID)
		resp.Caller = o.caller
		ev = detach.NewEvent(scope, nil, &resp, keyPair)
	} else {
		o.result.Caller = o.caller
		ev = detach.NewEvent(scope, o.result, nil, keyPair)
	}
	emitted := false
	o.emitted = &emitted
	if dl, ok := ctx.Deadline(); ok { // keep time to answer: the answer matters more
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-answerMargin))
		defer cancel()
	}
	pub, err := h.publishers(region, t.inv.AccountID, t.inv.Credentials)
	if err == nil {
		err = detach.Emit(ctx, pub, ev, h.cfg.MaxAttempts)
	}
	if err != nil {
		t.log.Error("result event not emitted; the answer stands", "event_id", ev.ID, "bus", h.cfg.EventBus, "error", aliyun.Redact(err.Error()))
		return o
	}
	emitted = true
	t.log.Info("result event emitted", "event_id", ev.ID, "type", ev.Type, "bus", h.cfg.EventBus)
	return o
}
