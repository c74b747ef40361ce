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
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/redact"
	"detachkeypair/settings"
)

// Invocation is what the platform says about one invocation.
type Invocation struct {
	RequestID    string
	FunctionName string // the function FC invoked: the one a fleet run's next part invokes
	RetryCount   int    // FC's x-fc-retry-count: 0 for the first attempt of an async invocation, then 1, 2, ...
	Region       string
	AccountID    string
	Credentials  *credentials.AccessKey // the function role's temporary credentials; nil outside FC
}

// invocationFrom reads the FC context of ctx, if there is one.
func invocationFrom(ctx context.Context) Invocation {
	fctx, ok := fccontext.FromContext(ctx)
	if !ok {
		return Invocation{}
	}
	inv := Invocation{RequestID: fctx.RequestID, FunctionName: fctx.Function.Name, RetryCount: fctx.RetryCount, Region: fctx.Region, AccountID: fctx.AccountId}
	if c := fctx.Credentials; c.AccessKeyId != "" && c.AccessKeySecret != "" {
		inv.Credentials = &credentials.AccessKey{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	}
	return inv
}

// CloudFactory returns the API of a product (detach.ProductECS, ...) in a region ("" for
// a product without API regions), signed with the given credentials (nil: the standard
// credential chain).
type CloudFactory func(product, region string, creds *credentials.AccessKey) (detach.Cloud, error)

// PublisherFactory returns the publisher of result events to the EVENT_BUS bus of a
// region and account.
type PublisherFactory func(region, accountID string, creds *credentials.AccessKey) (detach.Publisher, error)

// InvokerFactory returns FC's InvokeFunction of a function (the function itself, for a
// fleet run's next parts) in a region and account, signed with the given credentials.
type InvokerFactory func(region, accountID, function string, creds *credentials.AccessKey) (detach.Invoker, error)

// Config is what the function is made of: its settings and the adapters to the cloud.
type Config struct {
	Settings   settings.Settings
	Logger     *slog.Logger     // nil: discarded
	Clouds     CloudFactory     // required
	Publishers PublisherFactory // required when Settings.EventBus is set
	// Invokers lets a fleet run go on past its first part; nil: a fleet run stops there.
	Invokers InvokerFactory
	// Secrets are values no answer, log line or event may show, in any form, besides
	// each invocation's credentials: main gives the credentials of the environment.
	Secrets []string
}

// Handler is the function. Its Invoke method is what fc.Start runs; it is safe for
// concurrent use.
type Handler struct {
	cfg        settings.Settings
	service    *detach.Service
	fleet      *detach.Fleet
	clouds     CloudFactory
	invokers   InvokerFactory
	publishers PublisherFactory
	log        *slog.Logger
	secrets    []string
}

// New returns the function made of c.
func New(c Config) *Handler {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := c.Settings
	service := detach.NewService(detach.Options{
		BatchSize:    cfg.BatchSize,
		Concurrency:  cfg.Concurrency,
		QPS:          cfg.ECSQPS,
		ProductQPS:   map[string]float64{detach.ProductENS: cfg.ENSQPS},
		APIQPS:       cfg.APIQPS,
		Instances:    cfg.MaxFunctionInstances,
		MaxAttempts:  cfg.MaxAttempts,
		MaxInstances: cfg.MaxInstances,
		Logger:       log,
		Policy:       cfg.Policy,
	})
	return &Handler{
		cfg:        cfg,
		service:    service,
		fleet:      detach.NewFleet(service, detach.FleetOptions{MaxParts: cfg.MaxParts}),
		clouds:     c.Clouds,
		invokers:   c.Invokers,
		publishers: c.Publishers,
		log:        log,
		secrets:    c.Secrets,
	}
}

// task is one request of an invocation: the invocation, the request's place in it (an
// EventBridge batch holds several), its logger, the invocation's redactor, which every
// message that leaves the function goes through, and who asked.
type task struct {
	inv    Invocation
	seq    int
	log    *slog.Logger
	red    *redact.Redactor
	caller *detach.Caller // who asked (audit.go)
	base   *slog.Logger   // the invocation's logger before who asked is known
}

// Invoke handles one invocation: payload is the trigger's event as FC delivers it.
// A 4xx outcome is answered normally; for triggers other than HTTP, a 5xx outcome
// fails the invocation so that the platform's retry policy runs it again.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, error) {
	inv := invocationFrom(ctx)
	env := Classify(payload)
	red := h.redactor(inv)
	log := slog.New(redacting{h.log.Handler(), red})
	base := log.With("request_id", inv.RequestID, "trigger", env.String())
	if inv.RetryCount > 0 {
		base = base.With("retry_count", inv.RetryCount)
	}
	t := task{inv: inv, red: red, log: base, base: base}
	ctx = detach.WithLogger(detach.WithRequestID(ctx, inv.RequestID), t.log)
	ctx = detach.WithRetryCount(ctx, inv.RetryCount)

	items, many := h.decode(payload, env)
	if many { // a batch: its own lines say EventBridge asked; each request's, its event
		t = t.withCaller(h.callerOf(env, payload))
	} else {
		t = t.withCaller(items[0].caller)
	}
	b := h.budget(ctx, len(items))
	outcomes := h.runAll(ctx, t, items, b, many)
	h.emitAll(ctx, t, items, outcomes, b, many)
	switch {
	case env == HTTP:
		return httpAnswer(inv, outcomes[0])
	case many:
		return batchAnswer(inv, outcomes)
	}
	return answer(inv, outcomes[0])
}

// budget is how an invocation spends the time before its deadline: its requests'
// cloud calls end by work, its result events are sent by answerBy, and what is left is
// for posting the answer. The zero budget (no deadline) bounds nothing.
type budget struct {
	work, answerBy time.Time
}

// Answering a request costs answerBase, and answerPerRequest for each request of a
// batch (encoding 10000 one-instance answers, 3.5 MB, takes about 75 ms on the
// 2-core development machine; this is three times that, and more).
const (
	answerBase       = 100 * time.Millisecond
	answerPerRequest = 50 * time.Microsecond
)

// budget divides the time left before ctx's deadline among n requests: the answer's
// margin (answerBase, and answerPerRequest each), and, with EVENT_BUS set, a tenth of
// what remains (at least 200 ms, at most 2 s) for sending the result events.
func (h *Handler) budget(ctx context.Context, n int) budget {
	dl, ok := ctx.Deadline()
	if !ok {
		return budget{}
	}
	b := budget{answerBy: dl.Add(-answerBase - time.Duration(n)*answerPerRequest)}
	b.work = b.answerBy
	if h.cfg.EventBus != "" {
		b.work = b.answerBy.Add(-min(max(time.Until(b.answerBy)/10, 200*time.Millisecond), 2*time.Second))
	}
	return b
}

// within returns ctx bounded by t, unless t is zero.
func within(ctx context.Context, t time.Time) (context.Context, context.CancelFunc) {
	if t.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, t)
}

// runAll runs the requests one after the other, their cloud calls within b.work.
// Those it can no longer start are answered NotAttempted without a call, and logged
// once for all; so are rejected requests of a batch, so that a large batch costs few
// log lines.
func (h *Handler) runAll(ctx context.Context, t task, items []item, b budget, many bool) []outcome {
	ctx, cancel := within(ctx, b.work)
	defer cancel()
	outcomes := make([]outcome, len(items))
	var rejected, notStarted []int
	tooLate := false // a request could not start its first call: nor will the next ones
	for i, it := range items {
		ti := task{inv: t.inv, seq: i, log: t.log, red: t.red, caller: it.caller} // its own logger only if it logs
		switch {
		case it.own:
			outcomes[i] = outcome{err: it.err}
			logOwnEvent(h.itemLog(t, it, many))
		case it.err != nil:
			outcomes[i] = outcome{err: it.err, product: h.productOf(it.req)}
			rejected = append(rejected, i)
			if !many {
				t.log.Info("request rejected", "code", it.err.Code, "message", it.err.Message)
			}
		case tooLate || ctx.Err() != nil:
			outcomes[i] = h.notStarted(ti, it.req)
			notStarted = append(notStarted, i)
		default:
			ti.log = h.itemLog(t, it, many)
			outcomes[i] = h.runRequest(detach.WithLogger(ctx, ti.log), ti, it.req)
			tooLate = detach.Unstarted(outcomes[i].result, outcomes[i].err)
		}
		outcomes[i].caller = it.caller
		outcomes[i] = scrub(outcomes[i], t.red)
	}
	if many && len(rejected) > 0 {
		it := items[rejected[0]]
		h.itemLog(t, it, many).Info("requests of the batch rejected", "rejected", len(rejected), "requests", len(items),
			"first_code", it.err.Code, "first_message", it.err.Message)
	}
	if len(notStarted) > 0 {
		t.log.Warn("requests not started: too little time was left before the deadline; they are answered NotAttempted",
			"not_started", len(notStarted), "requests", len(items), "first", notStarted[0])
	}
	return outcomes
}

// itemLog is the logger of one request: the invocation's, or, in a batch, one that
// says who asked for this request; then what else its lines say of its trigger event.
func (h *Handler) itemLog(t task, it item, many bool) *slog.Logger {
	if many {
		t = task{log: t.base}.withCaller(it.caller)
	}
	return t.log.With(it.attrs...)
}

// notStarted answers a valid request (its product settled) that there was no time left
// to start.
func (h *Handler) notStarted(t task, req detach.Request) outcome {
	req = h.complete(t.inv, req)
	res, err := detach.NotStarted(req, t.inv.RequestID)
	return outcome{result: res, err: err, region: req.RegionId, product: req.Product}
}

// productOf is the product of a request, also of one rejected before it ran, for its
// failure event's subject: the one it names if the function serves it, else
// DEFAULT_PRODUCT's (ECS unless set).
func (h *Handler) productOf(req detach.Request) string {
	if detach.ValidProduct(req.Product) {
		return req.Product
	}
	return cmp.Or(h.cfg.DefaultProduct, detach.ProductECS)
}

// complete applies the settings to a request: DRY_RUN, and the region when the request
// names none.
func (h *Handler) complete(inv Invocation, req detach.Request) detach.Request {
	if h.cfg.DryRun {
		req.DryRun = true // DRY_RUN: every request only plans, whatever it says
	}
	if req.RegionId == "" && req.Product != detach.ProductENS { // ENS has no API regions
		req.RegionId = h.home(inv)
	}
	return req
}

// runRequest carries out a valid request and logs its outcome. A valid request names its
// product: decoding settled it (detach.Request.ForProduct; ECS for an instance event).
func (h *Handler) runRequest(ctx context.Context, t task, req detach.Request) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			t.log.Error("request failed unexpectedly", "panic", fmt.Sprint(p))
			o = outcome{err: detach.Internal("the function failed unexpectedly; the request id identifies its logs"),
				product: req.Product, region: req.RegionId}
		}
	}()
	product := req.Product
	req = h.complete(t.inv, req)
	if req.RegionId == "" && product == detach.ProductECS {
		return outcome{err: detach.InvalidParameter("RegionId", "no region: give RegionId, or set REGION_ID where the function runs outside FC")}
	}
	if detach.IsFleet(req) {
		return h.runFleet(ctx, t, req)
	}
	cloud, cerr := h.clouds(product, req.RegionId, t.inv.Credentials)
	if cerr != nil {
		t.log.Error("cloud client not ready", "product", product, "region", req.RegionId, "error", cerr.Error())
		where := ""
		if req.RegionId != "" {
			where = " for region " + req.RegionId
		}
		return outcome{err: detach.Internal(fmt.Sprintf("the function could not set up its %s client%s: %s; check the %s_ENDPOINT setting and the function's role",
			product, where, t.red.Redact(cerr.Error()), product)), product: product, region: req.RegionId}
	}
	res, err := h.service.Detach(ctx, cloud, req)
	if err != nil {
		t.log.Warn("request failed", "code", err.Code, "status", err.Status, "message", err.Message)
		return outcome{err: err, region: req.RegionId, product: product, ran: true}
	}
	return outcome{result: res, region: req.RegionId, product: product, ran: true}
}

// runFleet carries out a fleet run's start or one of its parts (detach/fleet.go).
func (h *Handler) runFleet(ctx context.Context, t task, req detach.Request) outcome {
	inv := t.inv
	env := detach.FleetEnv{
		Home: h.home(inv),
		Cloud: func(region string) (detach.Cloud, error) {
			return h.clouds(detach.ProductECS, region, inv.Credentials)
		},
		Seq: t.seq,
	}
	if h.invokers != nil && inv.FunctionName != "" {
		env.Invoker = func() (detach.Invoker, error) {
			return h.invokers(h.home(inv), inv.AccountID, inv.FunctionName, inv.Credentials)
		}
	}
	part, err := h.fleet.Run(ctx, env, req)
	if err != nil {
		t.log.Warn("request failed", "code", err.Code, "status", err.Status, "message", err.Message)
		return outcome{err: err, region: req.RegionId, product: detach.ProductECS, ran: true}
	}
	if part.Retry() {
		t.log.Warn("fleet part failed; the invocation fails so that FC runs it again", "code", part.Code, "message", part.Message)
	}
	return outcome{result: &part.Result, part: part, region: part.Region, product: detach.ProductECS, ran: true}
}
