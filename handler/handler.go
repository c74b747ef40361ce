// Package handler is the function's entry point on Function Compute: it recognises the
// trigger envelope (HTTP, EventBridge, timer, direct), turns it into a detach.Request,
// runs it, and answers in the form of the trigger. It is the only package that knows
// FC's envelopes.
package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/detach"
	"detachkeypair/ecs"
	"detachkeypair/settings"
)

// Invocation is what the platform says about one invocation.
type Invocation struct {
	RequestID   string
	Region      string
	AccountID   string
	Credentials *ecs.Credentials // the function role's temporary credentials; nil outside FC
}

// invocationFrom reads the FC context of ctx, if there is one.
func invocationFrom(ctx context.Context) Invocation {
	fctx, ok := fccontext.FromContext(ctx)
	if !ok {
		return Invocation{}
	}
	inv := Invocation{RequestID: fctx.RequestID, Region: fctx.Region, AccountID: fctx.AccountId}
	if c := fctx.Credentials; c.AccessKeyId != "" && c.AccessKeySecret != "" {
		inv.Credentials = &ecs.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	}
	return inv
}

// CloudFactory returns the ECS API of a region, signed with the given credentials
// (nil: the standard credential chain).
type CloudFactory func(region string, creds *ecs.Credentials) (detach.Cloud, error)

// Handler is the function. Its Invoke method is what fc.Start runs.
type Handler struct {
	cfg     settings.Settings
	service *detach.Service
	clouds  CloudFactory
	log     *slog.Logger
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
		clouds: func(region string, creds *ecs.Credentials) (detach.Cloud, error) {
			return ecs.New(ecs.Config{Region: region, Endpoint: cfg.ECSEndpoint, Credentials: creds})
		},
		log: log,
	}
}

// outcome is the answer to one request: a result, or a request-level error.
type outcome struct {
	result *detach.Result
	err    *detach.Error
}

// body is the outcome as the contract's JSON answer.
func (o outcome) body(requestID string) any {
	if o.err != nil {
		return o.err.Response(requestID)
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
			return answer(inv, outcome{err: err})
		}
		return answer(inv, h.run(ctx, inv, req, log))
	default:
		return answer(inv, h.run(ctx, inv, payload, log))
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
		o = outcome{err: &detach.Error{Status: http.StatusMethodNotAllowed, Code: detach.CodeInvalidParameter + ".Method",
			Message: fmt.Sprintf("The specified field Method invalid. Please check it again. (%s: send the request with POST)", method)}}
	default:
		o = h.run(ctx, inv, body, log)
	}
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
		return answer(inv, outcome{err: err})
	}
	answers := make([]any, len(items))
	var retry *detach.Error
	for i, raw := range items {
		o := h.runEvent(ctx, inv, raw, log)
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
func (h *Handler) runEvent(ctx context.Context, inv Invocation, raw json.RawMessage, log *slog.Logger) outcome {
	ev, data, err := parseEvent(raw)
	if err != nil {
		return outcome{err: err}
	}
	log = log.With("event_id", ev.ID, "event_source", ev.Source)
	if ev.Source == ecsEventSource {
		req, err := h.instanceEventRequest(ev, data)
		if err != nil {
			log.Warn("ECS event rejected", "type", ev.Type, "error", err.Message)
			return outcome{err: err}
		}
		return h.runRequest(ctx, inv, req, log)
	}
	return h.run(ctx, inv, data, log)
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
		return outcome{err: err}
	}
	return outcome{result: res}
}
