// Package handler is the function's entry point on Function Compute: it recognises the
// trigger envelope (HTTP, EventBridge, timer, direct), turns it into a detach.Request,
// runs it, emits its result event, and answers in the form of the trigger. It is the
// only package that knows FC's envelopes; it knows no cloud SDK (main wires the
// adapters in through Config).
//
// The files follow an invocation: envelope.go decodes, handler.go runs each request,
// emit.go sends its result event, answer.go encodes the answer.
package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
	"detachkeypair/settings"
)

// Invocation is what the platform says about one invocation.
type Invocation struct {
	RequestID   string
	RetryCount  int // FC's x-fc-retry-count: 0 for the first attempt of an async invocation, then 1, 2, ...
	Region      string
	AccountID   string
	Credentials *aliyun.Credentials // the function role's temporary credentials; nil outside FC
}

// invocationFrom reads the FC context of ctx, if there is one.
func invocationFrom(ctx context.Context) Invocation {
	fctx, ok := fccontext.FromContext(ctx)
	if !ok {
		return Invocation{}
	}
	inv := Invocation{RequestID: fctx.RequestID, RetryCount: fctx.RetryCount, Region: fctx.Region, AccountID: fctx.AccountId}
	if c := fctx.Credentials; c.AccessKeyId != "" && c.AccessKeySecret != "" {
		inv.Credentials = &aliyun.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	}
	return inv
}

// CloudFactory returns the API of a product (detach.ProductECS, ...) in a region ("" for
// a product without API regions), signed with the given credentials (nil: the standard
// credential chain).
type CloudFactory func(product, region string, creds *aliyun.Credentials) (detach.Cloud, error)

// PublisherFactory returns the publisher of result events to the EVENT_BUS bus of a
// region and account.
type PublisherFactory func(region, accountID string, creds *aliyun.Credentials) (detach.Publisher, error)

// Config is what the function is made of: its settings and the adapters to the cloud.
type Config struct {
	Settings   settings.Settings
	Logger     *slog.Logger     // nil: discarded
	Clouds     CloudFactory     // required
	Publishers PublisherFactory // required when Settings.EventBus is set
}

// Handler is the function. Its Invoke method is what fc.Start runs; it is safe for
// concurrent use.
type Handler struct {
	cfg        settings.Settings
	service    *detach.Service
	clouds     CloudFactory
	publishers PublisherFactory
	log        *slog.Logger
}

// New returns the function made of c.
func New(c Config) *Handler {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := c.Settings
	return &Handler{
		cfg: cfg,
		service: detach.NewService(detach.Options{
			BatchSize:    cfg.BatchSize,
			Concurrency:  cfg.Concurrency,
			QPS:          cfg.ECSQPS,
			MaxAttempts:  cfg.MaxAttempts,
			MaxInstances: cfg.MaxInstances,
			Logger:       log,
			Policy:       cfg.Policy,
		}),
		clouds:     c.Clouds,
		publishers: c.Publishers,
		log:        log,
	}
}

// task is one request of an invocation: the invocation, the request's place in it (an
// EventBridge batch holds several), its logger, and who asked (audit.go).
type task struct {
	inv    Invocation
	seq    int
	log    *slog.Logger
	caller *detach.Caller
}

// Invoke handles one invocation: payload is the trigger's event as FC delivers it.
// A 4xx outcome is answered normally; for triggers other than HTTP, a 5xx outcome
// fails the invocation so that the platform's retry policy runs it again.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, error) {
	inv := invocationFrom(ctx)
	env := Classify(payload)
	t := task{inv: inv, log: h.log.With("request_id", inv.RequestID, "trigger", env.String())}
	if inv.RetryCount > 0 {
		t.log = t.log.With("retry_count", inv.RetryCount)
	}
	if env != CloudEvent && env != EventBatch { // each event has its own caller
		t = t.withCaller(h.callerOf(env, payload))
	}
	ctx = detach.WithLogger(detach.WithRequestID(ctx, inv.RequestID), t.log)
	ctx = detach.WithRetryCount(ctx, inv.RetryCount)

	switch env {
	case HTTP:
		return h.invokeHTTP(ctx, t, payload)
	case CloudEvent, EventBatch:
		return h.invokeEvents(ctx, t, payload, env)
	case Timer:
		req, err := timerPayload(payload)
		if err != nil {
			return answer(inv, h.emit(ctx, t, outcome{err: err}, ""))
		}
		return answer(inv, h.serve(ctx, t, req))
	default:
		return answer(inv, h.serve(ctx, t, payload))
	}
}

func (h *Handler) invokeHTTP(ctx context.Context, t task, payload []byte) (json.RawMessage, error) {
	body, method, err := httpBody(payload)
	var o outcome
	switch {
	case err != nil:
		o = outcome{err: err}
	case method != "" && method != http.MethodPost:
		o = outcome{err: detach.InvalidParameter("Method", method+": send the request with POST")}
	default:
		o = h.run(ctx, t, body)
	}
	return httpAnswer(t.inv, h.emit(ctx, t, o, keyPairOf(body)))
}

// invokeEvents runs each CloudEvent's request and answers with one result per event.
func (h *Handler) invokeEvents(ctx context.Context, t task, payload []byte, env Envelope) (json.RawMessage, error) {
	items, err := eventsOf(payload, env)
	if err != nil {
		return answer(t.inv, h.emit(ctx, t.withCaller(h.callerOf(env, payload)), outcome{err: err}, ""))
	}
	outcomes := make([]outcome, len(items))
	for i, raw := range items {
		outcomes[i] = h.runEvent(ctx, task{inv: t.inv, seq: i, log: t.log}, raw)
	}
	return batchAnswer(t.inv, outcomes)
}

// runEvent runs the request of one CloudEvent: its data, or, for an ECS instance event,
// a request for that instance with the key pair of the settings.
func (h *Handler) runEvent(ctx context.Context, t task, raw json.RawMessage) outcome {
	ev, data, err := parseEvent(raw)
	t = t.withCaller(eventCaller(ev))
	ctx = detach.WithLogger(ctx, t.log)
	if err != nil {
		return h.emit(ctx, t, outcome{err: err}, "")
	}
	t.log = t.log.With("event_id", ev.ID, "event_source", ev.Source)
	ctx = detach.WithLogger(ctx, t.log)
	if err := refuseOwnEvent(ev, h.cfg.EventSource, t.log); err != nil {
		return outcome{err: err, caller: t.caller} // no result event: it would be routed back the same way
	}
	if ev.Source == ecsEventSource {
		req, err := h.instanceEventRequest(ev, data)
		keyPair := h.cfg.KeyPairName
		if keyPair == "" {
			keyPair = h.cfg.KeyPairID
		}
		if err != nil {
			t.log.Warn("ECS event rejected", "type", ev.Type, "error", err.Message)
			return h.emit(ctx, t, outcome{err: err}, keyPair)
		}
		return h.emit(ctx, t, h.runRequest(ctx, t, req), keyPair)
	}
	return h.serve(ctx, t, data)
}

// serve runs one request given as JSON and emits its result event.
func (h *Handler) serve(ctx context.Context, t task, raw []byte) outcome {
	return h.emit(ctx, t, h.run(ctx, t, raw), keyPairOf(raw))
}

// keyPairOf names the key pair of a request for the subject of a failure event, even
// when the request as a whole is invalid.
func keyPairOf(raw []byte) string {
	var r struct{ KeyPairName, KeyPairId string }
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	if r.KeyPairName != "" {
		return r.KeyPairName
	}
	return r.KeyPairId
}

// run parses, checks and carries out one request given as JSON.
func (h *Handler) run(ctx context.Context, t task, raw []byte) outcome {
	if len(raw) > h.cfg.MaxBodyBytes {
		return outcome{err: detach.TooLarge(len(raw), h.cfg.MaxBodyBytes)}
	}
	req, err := detach.ParseRequest(raw, h.cfg.MaxInstances)
	if err != nil {
		t.log.Info("request rejected", "code", err.Code, "message", err.Message)
		return outcome{err: err}
	}
	return h.runRequest(ctx, t, req)
}

// runRequest carries out a valid request and logs its outcome.
func (h *Handler) runRequest(ctx context.Context, t task, req detach.Request) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			t.log.Error("request failed unexpectedly", "panic", fmt.Sprint(p))
			o = outcome{err: detach.Internal("the function failed unexpectedly; the request id identifies its logs")}
		}
	}()
	product := detach.ProductECS
	if req.RegionId == "" {
		req.RegionId = t.inv.Region
	}
	if req.RegionId == "" {
		req.RegionId = h.cfg.RegionID
	}
	if req.RegionId == "" {
		return outcome{err: detach.InvalidParameter("RegionId", "no region: give RegionId, or set REGION_ID where the function runs outside FC")}
	}
	cloud, cerr := h.clouds(product, req.RegionId, t.inv.Credentials)
	if cerr != nil {
		t.log.Error("cloud client not ready", "product", product, "region", req.RegionId, "error", aliyun.Redact(cerr.Error()))
		return outcome{err: detach.Internal(fmt.Sprintf("the function could not set up its %s client for region %s: %s; check the %s_ENDPOINT setting and the function's role",
			product, req.RegionId, aliyun.Redact(cerr.Error()), product))}
	}
	res, err := h.service.Detach(ctx, cloud, req)
	if err != nil {
		t.log.Warn("request failed", "code", err.Code, "status", err.Status, "message", err.Message)
		return outcome{err: err, region: req.RegionId, product: product}
	}
	return outcome{result: res, region: req.RegionId, product: product}
}
