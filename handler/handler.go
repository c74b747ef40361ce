// Package handler is the function's entry point on Function Compute: it recognises the
// trigger envelope (HTTP, EventBridge, timer, direct), turns it into a detach.Request,
// runs it, and answers in the form of the trigger. It is the only package that knows
// FC's envelopes.
package handler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
	"detachkeypair/ecs"
	"detachkeypair/eventbridge"
	"detachkeypair/settings"
)

// Invocation is what the platform says about one invocation.
type Invocation struct {
	RequestID   string
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
	inv := Invocation{RequestID: fctx.RequestID, Region: fctx.Region, AccountID: fctx.AccountId}
	if c := fctx.Credentials; c.AccessKeyId != "" && c.AccessKeySecret != "" {
		inv.Credentials = &aliyun.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	}
	return inv
}

// CloudFactory returns the ECS API of a region, signed with the given credentials
// (nil: the standard credential chain).
type CloudFactory func(region string, creds *aliyun.Credentials) (detach.Cloud, error)

// PublisherFactory returns the publisher of result events to the EVENT_BUS bus.
type PublisherFactory func(region, accountID string, creds *aliyun.Credentials) (detach.Publisher, error)

// Handler is the function. Its Invoke method is what fc.Start runs.
type Handler struct {
	cfg        settings.Settings
	service    *detach.Service
	clouds     CloudFactory
	publishers PublisherFactory
	log        *slog.Logger
}

// New returns the function configured by cfg, logging to log.
func New(cfg settings.Settings, log *slog.Logger) *Handler {
	return &Handler{
		cfg: cfg,
		service: detach.NewService(detach.Options{
			BatchSize:    cfg.BatchSize,
			Concurrency:  cfg.Concurrency,
			QPS:          cfg.ECSQPS,
			MaxAttempts:  cfg.MaxAttempts,
			MaxInstances: cfg.MaxInstances,
			Logger:       log,
		}),
		clouds: func(region string, creds *aliyun.Credentials) (detach.Cloud, error) {
			return ecs.New(ecs.Config{Region: region, Endpoint: cfg.ECSEndpoint, Credentials: creds})
		},
		publishers: func(region, accountID string, creds *aliyun.Credentials) (detach.Publisher, error) {
			return eventbridge.New(eventbridge.Config{Bus: cfg.EventBus, Region: region, AccountID: accountID,
				Endpoint: cfg.EventBridgeEndpoint, Credentials: creds})
		},
		log: log,
	}
}

// outcome is the answer to one request: a result, or a request-level error.
type outcome struct {
	result  *detach.Result
	err     *detach.Error
	emitted *bool  // whether the result event went out; nil when no bus is set
	region  string // the request's region, once known
}

// body is the outcome as the contract's JSON answer.
func (o outcome) body(requestID string) any {
	if o.err != nil {
		r := o.err.Response(requestID)
		r.EventEmitted = o.emitted
		return r
	}
	if o.result != nil {
		o.result.EventEmitted = o.emitted
	}
	return o.result
}

// status is the HTTP status of the outcome.
func (o outcome) status() int {
	if o.err != nil {
		return o.err.Status
	}
	return http.StatusOK
}

// Invoke handles one invocation: payload is the trigger's event as FC delivers it.
// A 4xx outcome is answered normally; for triggers other than HTTP, a 5xx outcome
// fails the invocation so that the platform's retry policy runs it again.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, error) {
	inv := invocationFrom(ctx)
	env := Classify(payload)
	log := h.log.With("request_id", inv.RequestID, "trigger", env.String())
	ctx = detach.WithLogger(detach.WithRequestID(ctx, inv.RequestID), log)

	switch env {
	case HTTP:
		return h.invokeHTTP(ctx, inv, payload, log)
	case CloudEvent, EventBatch:
		return h.invokeEvents(ctx, inv, payload, env, log)
	case Timer:
		req, err := timerPayload(payload)
		if err != nil {
			return answer(inv, h.emit(ctx, inv, 0, outcome{err: err}, "", log))
		}
		return answer(inv, h.serve(ctx, inv, 0, req, log))
	default:
		return answer(inv, h.serve(ctx, inv, 0, payload, log))
	}
}

// answer encodes the outcome of a non-HTTP trigger, failing the invocation on 5xx.
func answer(inv Invocation, o outcome) (json.RawMessage, error) {
	b, err := json.Marshal(o.body(inv.RequestID))
	if err != nil {
		return nil, err
	}
	if o.err != nil && o.err.Retryable() {
		return nil, messages.InvokeResponse_Error{Type: o.err.Code, Message: string(b)}
	}
	return b, nil
}

func (h *Handler) invokeHTTP(ctx context.Context, inv Invocation, payload []byte, log *slog.Logger) (json.RawMessage, error) {
	body, method, err := httpBody(payload)
	var o outcome
	switch {
	case err != nil:
		o = outcome{err: err}
	case method != "" && method != http.MethodPost:
		o = outcome{err: detach.InvalidParameter("Method", method+": send the request with POST")}
	default:
		o = h.run(ctx, inv, body, log)
	}
	o = h.emit(ctx, inv, 0, o, keyPairOf(body), log)
	b, mErr := json.Marshal(o.body(inv.RequestID))
	if mErr != nil {
		return nil, mErr
	}
	headers := map[string]string{"Content-Type": "application/json"}
	if inv.RequestID != "" {
		headers["X-Fc-Request-Id"] = inv.RequestID
	}
	return json.Marshal(events.HTTPTriggerResponse{StatusCode: o.status(), Headers: headers, Body: string(b)})
}

// invokeEvents runs each CloudEvent's request and answers with one result per event.
func (h *Handler) invokeEvents(ctx context.Context, inv Invocation, payload []byte, env Envelope, log *slog.Logger) (json.RawMessage, error) {
	items, err := eventsOf(payload, env)
	if err != nil {
		return answer(inv, h.emit(ctx, inv, 0, outcome{err: err}, "", log))
	}
	answers := make([]any, len(items))
	var retry *detach.Error
	for i, raw := range items {
		o := h.runEvent(ctx, inv, i, raw, log)
		if o.err != nil && o.err.Retryable() && retry == nil {
			retry = o.err
		}
		answers[i] = o.body(inv.RequestID)
	}
	b, mErr := json.Marshal(answers)
	if mErr != nil {
		return nil, mErr
	}
	if retry != nil {
		return nil, messages.InvokeResponse_Error{Type: retry.Code, Message: string(b)}
	}
	return b, nil
}

// runEvent runs the request of one CloudEvent: its data, or, for an ECS instance event,
// a request for that instance with the key pair of the settings.
func (h *Handler) runEvent(ctx context.Context, inv Invocation, seq int, raw json.RawMessage, log *slog.Logger) outcome {
	ev, data, err := parseEvent(raw)
	if err != nil {
		return h.emit(ctx, inv, seq, outcome{err: err}, "", log)
	}
	log = log.With("event_id", ev.ID, "event_source", ev.Source)
	if ev.Source == ecsEventSource {
		req, err := h.instanceEventRequest(ev, data)
		keyPair := cmp.Or(h.cfg.KeyPairName, h.cfg.KeyPairID)
		if err != nil {
			log.Warn("ECS event rejected", "type", ev.Type, "error", err.Message)
			return h.emit(ctx, inv, seq, outcome{err: err}, keyPair, log)
		}
		return h.emit(ctx, inv, seq, h.runRequest(ctx, inv, req, log), keyPair, log)
	}
	return h.serve(ctx, inv, seq, data, log)
}

// serve runs one request given as JSON and emits its result event.
func (h *Handler) serve(ctx context.Context, inv Invocation, seq int, raw []byte, log *slog.Logger) outcome {
	return h.emit(ctx, inv, seq, h.run(ctx, inv, raw, log), keyPairOf(raw), log)
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

// answerMargin is the time before the deadline that emitting the event leaves for
// sending the answer.
const answerMargin = 100 * time.Millisecond

// emit sends the result event of one request to EVENT_BUS, if set, and records in the
// outcome whether it went out. A failed emit is logged; the outcome is otherwise kept.
func (h *Handler) emit(ctx context.Context, inv Invocation, seq int, o outcome, keyPair string, log *slog.Logger) outcome {
	if h.cfg.EventBus == "" {
		return o
	}
	region := inv.Region
	if o.region != "" {
		region = o.region
	}
	if region == "" {
		region = h.cfg.RegionID
	}
	scope := detach.EventScope{Source: h.cfg.EventSource, Region: region, AccountID: inv.AccountID, RequestID: inv.RequestID, Seq: seq}
	var ev detach.Event
	if o.err != nil {
		resp := o.err.Response(inv.RequestID)
		ev = detach.NewEvent(scope, nil, &resp, keyPair)
	} else {
		ev = detach.NewEvent(scope, o.result, nil, keyPair)
	}
	emitted := false
	o.emitted = &emitted
	if dl, ok := ctx.Deadline(); ok { // keep time to answer: the answer matters more
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-answerMargin))
		defer cancel()
	}
	pub, err := h.publishers(region, inv.AccountID, inv.Credentials)
	if err == nil {
		err = detach.Emit(ctx, pub, ev, h.cfg.MaxAttempts)
	}
	if err != nil {
		log.Error("result event not emitted; the answer stands", "event_id", ev.ID, "bus", h.cfg.EventBus, "error", aliyun.Redact(err.Error()))
		return o
	}
	emitted = true
	log.Info("result event emitted", "event_id", ev.ID, "type", ev.Type, "bus", h.cfg.EventBus)
	return o
}

// run parses, checks and carries out one request given as JSON.
func (h *Handler) run(ctx context.Context, inv Invocation, raw []byte, log *slog.Logger) outcome {
	if len(raw) > h.cfg.MaxBodyBytes {
		return outcome{err: detach.TooLarge(len(raw), h.cfg.MaxBodyBytes)}
	}
	req, err := detach.ParseRequest(raw, h.cfg.MaxInstances)
	if err != nil {
		log.Info("request rejected", "code", err.Code, "message", err.Message)
		return outcome{err: err}
	}
	return h.runRequest(ctx, inv, req, log)
}

// runRequest carries out a valid request and logs its outcome.
func (h *Handler) runRequest(ctx context.Context, inv Invocation, req detach.Request, log *slog.Logger) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("request failed unexpectedly", "panic", fmt.Sprint(p))
			o = outcome{err: detach.Internal("the function failed unexpectedly; the request id identifies its logs")}
		}
	}()
	if req.RegionId == "" {
		req.RegionId = inv.Region
	}
	if req.RegionId == "" {
		req.RegionId = h.cfg.RegionID
	}
	cloud, cerr := h.clouds(req.RegionId, inv.Credentials)
	if cerr != nil {
		log.Error("ECS client not ready", "error", cerr.Error())
		return outcome{err: detach.Internal("the function could not set up its ECS client: " + cerr.Error())}
	}
	res, err := h.service.Detach(ctx, cloud, req)
	if err != nil {
		log.Warn("request failed", "code", err.Code, "status", err.Status, "message", err.Message)
		return outcome{err: err, region: req.RegionId}
	}
	return outcome{result: res, region: req.RegionId}
}
