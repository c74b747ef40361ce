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

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
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
		}),
		clouds:     c.Clouds,
		publishers: c.Publishers,
		log:        log,
	}
}

// task is one request of an invocation: the invocation, the request's place in it (an
// EventBridge batch holds several), and its logger.
type task struct {
	inv Invocation
	seq int
	log *slog.Logger
}

// Invoke handles one invocation: payload is the trigger's event as FC delivers it.
// A 4xx outcome is answered normally; for triggers other than HTTP, a 5xx outcome
// fails the invocation so that the platform's retry policy runs it again.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, error) {
	inv := invocationFrom(ctx)
	env := Classify(payload)
	t := task{inv: inv, log: h.log.With("request_id", inv.RequestID, "trigger", env.String())}
	ctx = detach.WithLogger(detach.WithRequestID(ctx, inv.RequestID), t.log)

	items, many := h.decode(payload, env)
	outcomes := make([]outcome, len(items))
	for i, it := range items {
		ti := task{inv: inv, seq: i, log: t.log.With(it.attrs...)}
		ctxi := detach.WithLogger(ctx, ti.log)
		if it.own { // no result event: it would be routed back the same way
			outcomes[i] = h.run(ctxi, ti, it)
			continue
		}
		outcomes[i] = h.emit(ctxi, ti, h.run(ctxi, ti, it), it.keyPair)
	}
	switch {
	case env == HTTP:
		return httpAnswer(inv, outcomes[0])
	case many:
		return batchAnswer(inv, outcomes)
	}
	return answer(inv, outcomes[0])
}

// run carries out one decoded request, or answers it with its error.
func (h *Handler) run(ctx context.Context, t task, it item) outcome {
	if it.own {
		logOwnEvent(t.log)
		return outcome{err: it.err}
	}
	if it.err != nil {
		t.log.Info("request rejected", "code", it.err.Code, "message", it.err.Message)
		return outcome{err: it.err}
	}
	return h.runRequest(ctx, t, it.req)
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
	if h.cfg.DryRun {
		req.DryRun = true // DRY_RUN: every request only plans, whatever it says
	}
	if req.RegionId == "" {
		req.RegionId = h.home(t.inv)
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
