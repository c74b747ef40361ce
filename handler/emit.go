package handler

import (
	"context"
	"slices"

	"detachkeypair/detach"
)

// emitAll sends the result event of every request of the invocation to EVENT_BUS, if
// set, in as few PutEvents calls as EventBridge allows, and records in each outcome
// whether its event went out. Events of requests that ran go first, those of requests
// answered without a call (rejected, not started) after them, so that if time runs
// out it is the latter that stay unsent. Nothing is sent after b.answerBy; the answer
// matters more. Failures are logged; the outcomes are otherwise kept.
func (h *Handler) emitAll(ctx context.Context, t task, items []item, outcomes []outcome, b budget, many bool) {
	if h.cfg.EventBus == "" {
		return
	}
	emitted := make([]bool, len(outcomes))
	var order []int // the requests whose events go out, in the order they go
	for i := range outcomes {
		if !items[i].own { // an event from the function's own source gets none: it would loop
			outcomes[i].emitted = &emitted[i]
			order = append(order, i)
		}
	}
	ctx, cancel := within(ctx, b.answerBy)
	defer cancel()
	if len(order) == 0 {
		return
	}
	if ctx.Err() != nil { // no time left to send any: do not even make them
		t.log.Error("result events not emitted: no time was left before the answer", "not_emitted", len(order), "bus", h.cfg.EventBus)
		return
	}
	slices.SortStableFunc(order, func(a, b int) int { return outcomes[a].rank() - outcomes[b].rank() })
	pub, err := h.publishers(h.home(t.inv), t.inv.AccountID, t.inv.Credentials)
	maxBytes := 0
	if err == nil {
		maxBytes = pub.Limits().EventBytes
	}
	var ordered []detach.Event
	var of []int // the outcome of each event: a request's result may take several events
	for _, at := range order {
		for _, ev := range h.events(t, at, outcomes[at], items[at].keyPair, maxBytes) {
			ordered, of = append(ordered, ev), append(of, at)
		}
	}

	errs := make([]error, len(ordered))
	if err == nil {
		errs = detach.Emit(ctx, pub, ordered, detach.EmitOptions{Attempts: h.cfg.MaxAttempts, Concurrency: h.cfg.Concurrency})
	}
	for _, at := range order {
		emitted[at] = true
	}
	var failed []int
	for i, at := range of {
		if err != nil {
			errs[i] = err
		}
		if errs[i] != nil {
			emitted[at] = false
			failed = append(failed, i)
		}
	}
	if len(order) == 1 {
		log := h.itemLog(t, items[order[0]], many)
		switch {
		case len(failed) == 0 && len(ordered) == 1:
			log.Info("result event emitted", "result_event_id", ordered[0].ID, "result_event_type", ordered[0].Type, "bus", h.cfg.EventBus)
		case len(failed) == 0:
			log.Info("result events emitted", "emitted", len(ordered), "first_result_event_id", ordered[0].ID, "bus", h.cfg.EventBus)
		default:
			log.Error("result event not emitted; the answer stands", "result_event_id", ordered[failed[0]].ID, "not_emitted", len(failed), "events", len(ordered),
				"bus", h.cfg.EventBus, "error", errs[failed[0]].Error())
		}
		return
	}
	if len(failed) < len(ordered) {
		t.log.Info("result events emitted", "emitted", len(ordered)-len(failed), "events", len(ordered), "bus", h.cfg.EventBus)
	}
	if len(failed) > 0 {
		ids := make([]string, 0, 10)
		for _, i := range failed[:min(len(failed), 10)] {
			ids = append(ids, ordered[i].ID)
		}
		t.log.Error("result events not emitted; the answers stand", "not_emitted", len(failed), "events", len(ordered), "bus", h.cfg.EventBus,
			"first_result_event_ids", ids, "first_error", errs[failed[0]].Error())
	}
}

// events are the result events of the seq-th request of an invocation, each within
// maxBytes (0: no limit): one, or a large result's instances split over several, or a
// fleet run's part's (detach.Part.Events). keyPair names the key pair in the subject
// when the outcome does not.
func (h *Handler) events(t task, seq int, o outcome, keyPair string, maxBytes int) []detach.Event {
	region := o.region // the subject names the request's region; the bus is the function's
	if region == "" {
		region = h.home(t.inv)
	}
	scope := detach.EventScope{Source: h.cfg.EventSource, Product: o.product, Region: region, AccountID: t.inv.AccountID, RequestID: t.inv.RequestID, Retry: t.inv.RetryCount, Seq: seq}
	if o.err != nil {
		resp := o.err.Response(t.inv.RequestID)
		resp.Caller = o.caller
		return []detach.Event{detach.NewEvent(scope, nil, &resp, keyPair)}
	}
	o.result.Caller = o.caller
	if o.part != nil {
		return o.part.Events(scope, maxBytes)
	}
	return detach.NewEvents(scope, o.result, nil, keyPair, maxBytes)
}

// home is the region the function runs in: FC's, else the REGION_ID setting.
func (h *Handler) home(inv Invocation) string {
	if inv.Region != "" {
		return inv.Region
	}
	return h.cfg.RegionID
}
