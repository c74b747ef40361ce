package detach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Options are the service's settings; zero values take the defaults of the contract.
type Options struct {
	BatchSize int // ids per DetachKeyPair call (default and cap: the cloud's Limits().Batch)
	// Concurrency is how many calls each phase of a request makes at once (default 4): the
	// instance checks (describeAll), and the batches (batchAndDetach), each batch one call
	// at a time (DetachKeyPair, or its check before a retry). The phases overlap (by id),
	// so a request can have twice as many DescribeInstances calls in flight; the pacer
	// bounds the rate whatever the count.
	Concurrency int
	// QPS is the account's quota of each API, in calls a second (0 = unpaced), shared by
	// every request and every instance of the function: each instance paces at its share,
	// InstancePace(quota, Instances).
	QPS float64
	// ProductQPS overrides QPS for the APIs of a product (ENS_QPS for ProductENS).
	ProductQPS map[string]float64
	// APIQPS overrides ProductQPS and QPS for one API of a product (API_QPS).
	APIQPS map[QuotaKey]float64
	// Instances is the most instances of the function that run at once
	// (MAX_FUNCTION_INSTANCES, FC's reserved concurrency; default 1: this one alone).
	Instances int
	// KeyPairTTL is how long a resolved key pair is reused by later requests of the
	// process (keypairs.go; default DefaultKeyPairTTL, negative: never).
	KeyPairTTL   time.Duration
	MaxAttempts  int           // tries per cloud call, retries included (default 5)
	MaxInstances int           // most instances a request may name or select (default 1000)
	Backoff      time.Duration // first wait before a retry (default 200ms); it grows, with jitter
	MaxBackoff   time.Duration // longest wait before a retry (default 5s)
	Logger       *slog.Logger  // where progress goes (default: discarded)
	Policy       Policy        // the guardrails (zero: none), see guard.go
}

// Defaults of the contract's settings.
const (
	DefaultBatchSize    = ECSBatch
	DefaultConcurrency  = 4
	DefaultMaxAttempts  = 5
	DefaultMaxInstances = 1000
)

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Instances <= 0 {
		o.Instances = 1
	}
	if o.KeyPairTTL == 0 {
		o.KeyPairTTL = DefaultKeyPairTTL
	}
	return o
}

// Service detaches key pairs. One Service serves every request of a process, so that
// its pacing of the cloud's APIs holds across concurrent requests. It is safe for
// concurrent use.
type Service struct {
	opts     Options
	keyPairs *keyPairs // the key pairs resolved lately, for later requests

	mu     sync.Mutex
	pacers map[pacerKey]*pacer // one per product, region and API, made on first use
}

// pacerKey names the quota a call counts against: the cloud's quotas are per API, and
// per region for ECS.
type pacerKey struct{ product, region, api string }

// Cloud API names, as ECS and ENS spell them; the keys of the service's pacing.
const (
	APIDescribeKeyPairs  = "DescribeKeyPairs"
	APIDescribeInstances = "DescribeInstances"
	APIDetachKeyPair     = "DetachKeyPair"
)

// NewService returns a service with the given options.
func NewService(opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{opts: opts, keyPairs: newKeyPairs(opts.KeyPairTTL), pacers: map[pacerKey]*pacer{}}
}

// pacer returns the pacer of an API of the cloud described by lim.
func (s *Service) pacer(lim Limits, api string) *pacer {
	k := pacerKey{lim.Product, lim.Region, api}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pacers[k]
	if !ok {
		p = newPacer(InstancePace(s.opts.quota(lim.Product, api), s.opts.Instances))
		s.pacers[k] = p
	}
	return p
}

// MaxInstances is the most instances a request may name.
func (s *Service) MaxInstances() int { return s.opts.MaxInstances }

// Detach carries out a validated request through cloud, the API the request names (for
// ECS, that of the request's region): it resolves the key pair, checks the instances,
// and detaches the key pair from the eligible ones in batches. ctx's deadline is when
// every call must have finished: no call starts that could not (timing), so the
// caller keeps its own time to answer before the deadline it gives. A request-level
// failure (nothing detached) is returned as *Error; everything else, including failures
// of single instances, is in the Result.
//
// A key pair the process resolved a moment ago is taken from its cache (keypairs.go).
// If that run meets an answer a stale entry could explain (an instance not bound to the
// key pair, a key pair that does not exist) before anything was detached, the entry is
// dropped and the request runs again with the key pair resolved afresh.
func (s *Service) Detach(ctx context.Context, cloud Cloud, req Request) (*Result, *Error) {
	r := s.newRun(ctx, cloud, req)
	res, err := r.detach(true)
	r.cancel()
	if r.cached && r.stale(res, err) {
		r.log.Info("the key pair taken from the cache may be stale; running the request again with the key pair resolved afresh")
		s.keyPairs.forget(r.lim, r.kp)
		r = s.newRun(ctx, cloud, req)
		res, err = r.detach(false)
		r.cancel()
	}
	if r.keyPairNotFound(res, err) {
		s.keyPairs.forget(r.lim, KeyPair{ID: req.KeyPairId, Name: req.KeyPairName})
		s.keyPairs.forget(r.lim, r.kp)
	}
	return res, err
}

// detach runs the request once; useCache lets it take the key pair from the cache.
func (r *run) detach(useCache bool) (*Result, *Error) {
	start := time.Now()
	if err := r.guardRequest(); err != nil {
		return nil, err
	}
	kp, ok := KeyPair{}, false
	if useCache {
		kp, ok = r.keyPairs.get(r.lim, r.req)
	}
	if r.req.Targets == nil {
		r.setInstances(r.req.InstanceIds)
	}
	var pre *precheck
	if !ok {
		if allowed, _ := r.opts.Policy.keyPairVerdict(KeyPair{Name: r.req.KeyPairName}); allowed && r.req.Targets == nil && r.req.KeyPairId == "" {
			// named by name, the check needs only the name: describe the instances while
			// the key pair is resolved (nothing is detached before both are done). Not
			// when only the key pair's id can tell whether ALLOWED_KEY_PAIRS allows it: a
			// refused key pair costs no other call.
			pre = r.startPrecheck()
		}
		var err *Error
		kp, err = r.resolveKeyPair()
		if err != nil {
			pre.abandon(r)
		}
		switch {
		case err == timeUp && r.req.Targets != nil:
			return nil, outOfTimeSelecting
		case err == timeUp:
			return r.notStarted("out of time before any instance was checked"), nil
		case err != nil:
			return nil, err
		}
		r.keyPairs.put(r.lim, kp)
	}
	r.kp, r.cached = kp, ok
	if err := r.guardKeyPair(kp); err != nil {
		pre.abandon(r)
		return nil, err
	}
	pre.wait() // its calls log with r.log, which changes below
	r.result.KeyPairId, r.result.KeyPairName = kp.ID, kp.Name
	r.log = r.log.With("key_pair", kp.Name)

	if r.req.Targets != nil {
		if err := r.selectTargets(kp); err != nil {
			if err == timeUp {
				return nil, outOfTimeSelecting
			}
			return nil, err
		}
	}
	r.log.Info("detach started", "instances", len(r.ids), "dry_run", r.req.DryRun, "by", r.namedBy(), "key_pair_cached", ok)
	if err := r.checkAndDetach(kp, pre); err != nil {
		return nil, err
	}
	if r.nothingStarted() {
		// as when the key pair could not be resolved in time: the invocation's later
		// requests will not start either (Unstarted)
		return r.notStarted("out of time before any instance could be checked or detached"), nil
	}
	r.logRefusals()
	r.result.count()
	r.log.Info("detach finished", "total", r.result.TotalCount, "failed", r.result.FailCount,
		"elapsed_ms", time.Since(start).Milliseconds())
	return &r.result, nil
}

// stale reports whether the outcome of a run could come from a stale cache entry: an
// instance not bound to the key pair, or a cloud that says the key pair does not exist,
// while no call may have detached anything.
func (r *run) stale(res *Result, err *Error) bool {
	r.mu.Lock()
	acted := r.acted
	r.mu.Unlock()
	if acted {
		return false
	}
	if err != nil {
		return err.Code == CodeNotAttached || err.Code == CodeKeyPairNotFound
	}
	return res != nil && slices.ContainsFunc(res.Results, func(x InstanceResult) bool {
		return x.ErrorCode == CodeNotAttached || x.ErrorCode == CodeKeyPairNotFound
	})
}

// keyPairNotFound reports whether the outcome says that the key pair does not exist.
func (r *run) keyPairNotFound(res *Result, err *Error) bool {
	if err != nil {
		return err.Code == CodeKeyPairNotFound
	}
	return res != nil && slices.ContainsFunc(res.Results, func(x InstanceResult) bool { return x.ErrorCode == CodeKeyPairNotFound })
}

// run is the state of one request.
type run struct {
	*Service
	cloud  Cloud
	lim    Limits          // cloud.Limits()
	batch  int             // ids per DetachKeyPair call: BatchSize, at most lim.Batch
	ctx    context.Context // its deadline is when every call must have finished
	cancel context.CancelFunc
	req    Request
	retry  int // the invocation's retry count (WithRetryCount); never with DryRun
	// selected says that a fleet run selected the instances (withSelected, fleet.go)
	// rather than the caller named them: an unbound one fails alone, never the
	// request, and one found without a key pair was detached since it was selected.
	selected bool
	log      *slog.Logger

	ids    []string       // the instances, in answer order
	pos    map[string]int // id -> index in ids
	known  map[string]Instance
	result Result

	clock timing // how long the run's calls take

	kp     KeyPair // the key pair, once resolved
	cached bool    // kp came from the cache of resolved key pairs

	mu       sync.Mutex
	started  bool // a DetachKeyPair call has been made
	acted    bool // a DetachKeyPair call may have detached something (it said so, or its outcome is unclear)
	aborted  bool // a request-level error stopped the run before any detach
	batches  int
	finished int
}

func (s *Service) newRun(ctx context.Context, cloud Cloud, req Request) *run {
	lim := cloud.Limits()
	r := &run{Service: s, cloud: cloud, lim: lim, batch: min(s.opts.BatchSize, lim.Batch), req: req, log: loggerFrom(ctx, s.opts.Logger)}
	if r.batch <= 0 {
		r.batch = max(lim.Batch, 1)
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.result = Result{RequestId: requestIDFrom(ctx), KeyPairId: req.KeyPairId, KeyPairName: req.KeyPairName, DryRun: req.DryRun}
	if !req.DryRun { // a dry run detached nothing the first time
		r.retry = retryCountFrom(ctx)
	}
	r.selected = selectedFrom(ctx)
	return r
}

// where names the place the request's instances are in, for messages:
// "in region cn-hangzhou" for ECS, "in ENS" for ENS.
func (r *run) where() string {
	if r.lim.Region != "" {
		return "in region " + r.lim.Region
	}
	return "in " + r.lim.Product
}

func (r *run) namedBy() string {
	if r.req.KeyPairId != "" {
		return "KeyPairId"
	}
	return "KeyPairName"
}

func (r *run) setInstances(ids []string) {
	r.ids = ids
	r.pos = make(map[string]int, len(ids))
	for i, id := range ids {
		r.pos[id] = i
	}
	r.result.Results = make([]InstanceResult, len(ids))
}

// notStarted answers a request for named instances that ran out of time before any
// of them was checked or detached (NotStarted), and logs why.
func (r *run) notStarted(why string) *Result {
	res, _ := NotStarted(r.req, r.result.RequestId)
	r.log.Warn(why, "instances", len(r.req.InstanceIds))
	return res
}

// nothingStarted reports whether a request for named instances ran out of time before
// any of them could be checked or detached: every one NotAttempted, no detach made.
func (r *run) nothingStarted() bool {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	return r.known == nil && !started && len(r.result.Results) > 0 &&
		!slices.ContainsFunc(r.result.Results, func(x InstanceResult) bool { return x.ErrorCode != CodeNotAttempted })
}

// Unstarted reports whether the answer of a request says that it was not started for
// lack of time (NotStarted's answers, which Detach also gives): later requests of the
// same invocation will not start either.
func Unstarted(res *Result, err *Error) bool {
	return res != nil && res.notStarted || err == outOfTimeSelecting
}

// NotStarted answers a request that was not started for lack of time: every named
// instance NotAttempted (504); a Targets request, which has selected nothing, fails as
// a whole with 503 ServiceUnavailable, so that its trigger retries it.
func NotStarted(req Request, requestID string) (*Result, *Error) {
	if req.Targets != nil {
		return nil, outOfTimeSelecting
	}
	res := &Result{RequestId: requestID, KeyPairId: req.KeyPairId, KeyPairName: req.KeyPairName, DryRun: req.DryRun,
		Results: make([]InstanceResult, len(req.InstanceIds)), notStarted: true}
	for i, id := range req.InstanceIds {
		res.Results[i] = notAttempted(id)
	}
	res.count()
	return res, nil
}

func notAttempted(id string) InstanceResult {
	return failed(id, http.StatusGatewayTimeout, CodeNotAttempted,
		"not attempted: too little time was left before the function's deadline; run the request again")
}

// outOfTimeFor reports whether a read-only call failed for the deadline: it was never
// made, or the deadline cut it short. Either way nothing changed in the cloud.
func (r *run) outOfTimeFor(err error) bool {
	return errors.Is(err, errNotStarted) || err != nil && !isCloudError(err) && r.ctx.Err() != nil
}

// errNotStarted marks a call that was never made because the deadline came first.
var errNotStarted = errors.New("not started before the deadline")

// outOfTimeSelecting answers a Targets request whose instances could not be selected in
// time: nothing was detached, and there is no instance to report NotAttempted.
var outOfTimeSelecting = &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
	Message: "the function ran out of time before it could select the target instances; nothing was detached: run the request again, or give the function a longer timeout"}

// timeUp is the request-level form of errNotStarted, turned into NotAttempted results.
var timeUp = &Error{Status: http.StatusGatewayTimeout, Code: CodeNotAttempted, Message: "out of time"}

// resolveKeyPair finds the key pair the request names, by id (matched against every key
// pair of the region) or by exact name. By id, the cloud's answers must carry key pair
// ids: ECS, as documented, names key pairs by name and answers none, and a key pair
// without an id could be the one asked for, so the request is refused rather than
// answered "not found".
func (r *run) resolveKeyPair() (KeyPair, *Error) {
	q := KeyPairQuery{ID: r.req.KeyPairId}
	if q.ID == "" {
		q.Name = r.req.KeyPairName // a pattern to the cloud: the name is matched exactly below
	}
	var found []KeyPair
	var first KeyPair // the previous page's first key pair
	for q.Page = 1; ; q.Page++ {
		p, err := call(r, APIDescribeKeyPairs, func(ctx context.Context) (KeyPairPage, error) {
			return r.cloud.DescribeKeyPairs(ctx, q)
		})
		if r.outOfTimeFor(err) {
			return KeyPair{}, timeUp
		}
		if err != nil {
			return KeyPair{}, toRequestError(err, "DescribeKeyPairs "+r.where())
		}
		withoutID := false
		for _, kp := range p.KeyPairs {
			withoutID = withoutID || kp.ID == ""
			if r.req.KeyPairId != "" && kp.ID == r.req.KeyPairId || r.req.KeyPairId == "" && kp.Name == r.req.KeyPairName {
				found = append(found, kp)
			}
		}
		if len(found) == 0 && r.req.KeyPairId != "" && withoutID {
			return KeyPair{}, r.noKeyPairIDs()
		}
		if len(found) > 0 || len(p.KeyPairs) == 0 || len(p.KeyPairs) < r.lim.KeyPairPage || p.TotalCount > 0 && q.Page*r.lim.KeyPairPage >= p.TotalCount {
			break
		}
		switch {
		case q.Page >= maxKeyPairPages:
			return KeyPair{}, invalidListing("DescribeKeyPairs "+r.where(), fmt.Sprintf("full pages past page %d", maxKeyPairPages))
		case len(p.KeyPairs) > 0 && p.KeyPairs[0] == first:
			return KeyPair{}, invalidListing("DescribeKeyPairs "+r.where(), fmt.Sprintf("page %d began as page %d did, as if the page number were ignored", q.Page, q.Page-1))
		}
		first = p.KeyPairs[0]
	}
	if len(found) == 0 {
		what := "KeyPairName " + r.req.KeyPairName
		if r.req.KeyPairId != "" {
			what = "KeyPairId " + r.req.KeyPairId
		}
		return KeyPair{}, &Error{Status: http.StatusNotFound, Code: CodeKeyPairNotFound,
			Message: fmt.Sprintf("no key pair with %s %s", what, r.where())}
	}
	kp := found[0]
	if r.req.KeyPairId != "" && r.req.KeyPairName != "" && kp.Name != r.req.KeyPairName {
		return KeyPair{}, invalidParameter("KeyPairId", fmt.Sprintf(
			"KeyPairId %s names key pair %q, not KeyPairName %q; give one of them, or both naming the same key pair",
			kp.ID, kp.Name, r.req.KeyPairName))
	}
	return kp, nil
}

// noKeyPairIDs refuses a request by KeyPairId in a place whose key pairs have no ids.
func (r *run) noKeyPairIDs() *Error {
	return invalidParameter("KeyPairId", fmt.Sprintf(
		"%s names key pairs by name: its answers %s carry no key pair ids, so key pair %s cannot be found by id; use KeyPairName instead (or the ENS backend, \"Product\": \"ENS\", whose key pairs have ids)",
		r.lim.Product, r.where(), r.req.KeyPairId))
}

// selectTargets finds the instances of the Targets selector: bound to the key pair and
// matching the tags and resource group, all pages, capped at MaxInstances in id order.
// The function checks the tags itself (selected): the cloud's filter is not trusted to
// be as strict as the request (ENS documents its Tags filter's matching only loosely).
func (r *run) selectTargets(kp KeyPair) *Error {
	q := InstanceQuery{KeyPairName: kp.Name, Tags: r.opts.Policy.narrowTargets(r.req.Targets.Tags), ResourceGroupID: r.req.Targets.ResourceGroupId,
		EnsRegionIDs: r.req.Targets.EnsRegionIds, PageSize: r.lim.DescribeIDs}
	var all []Instance
	tags := tagCheck{tags: q.Tags}
	var pages tokenPages
	for {
		p, err := call(r, APIDescribeInstances, func(ctx context.Context) (InstancePage, error) {
			return r.cloud.DescribeInstances(ctx, q)
		})
		if r.outOfTimeFor(err) {
			return timeUp
		}
		if err != nil {
			return toRequestError(err, "DescribeInstances")
		}
		for _, in := range p.Instances {
			switch {
			case in.KeyPairName != kp.Name: // an API without a key pair filter returns others too
			case !tags.carries(in):
			default:
				all = append(all, in)
			}
		}
		more, perr := pages.next("DescribeInstances", p.NextToken, len(p.Instances))
		if perr != nil {
			return perr
		}
		if !more {
			break
		}
		q.NextToken = p.NextToken
	}
	tags.report(r.log)
	slices.SortFunc(all, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	all = slices.CompactFunc(all, func(a, b Instance) bool { return a.ID == b.ID })
	matched, truncated := len(all), len(all) > r.opts.MaxInstances
	r.result.MatchedCount, r.result.Truncated = &matched, &truncated
	if truncated {
		all = all[:r.opts.MaxInstances]
	}
	ids := make([]string, len(all))
	r.known = make(map[string]Instance, len(all))
	for i, in := range all {
		ids[i] = in.ID
		r.known[in.ID] = in
	}
	r.setInstances(ids)
	r.log.Info("targets selected", "matched", matched, "taken", len(ids), "truncated", truncated)
	return nil
}

// tagCheck checks the cloud's tag filter on the instances it listed: those that do not
// carry every tag of the filter (by their own tags) are left out, and counted.
type tagCheck struct {
	tags []Tag // the filter
	left int   // instances listed without carrying its tags
}

// carries reports whether in carries every tag of the filter, and counts it if not.
func (c *tagCheck) carries(in Instance) bool {
	if carriesAll(in.Tags, c.tags) {
		return true
	}
	c.left++
	return false
}

// report logs, once per listing, the instances left out.
func (c *tagCheck) report(log *slog.Logger) {
	if c.left > 0 {
		log.Warn("the cloud listed instances for the tag filter that do not carry its tags (by their own tags); they are left out",
			"instances", c.left, "tags", fmt.Sprint(c.tags))
	}
}

// checkAndDetach checks every instance and detaches the key pair from the eligible
// ones. Named by id, or selected by a fleet run (where an unbound instance fails alone),
// batches start while later instances are still being checked; named by name otherwise,
// every instance is checked first, since one unbound instance fails the request.
// Instances a Targets listing described are judged from it. pre, if not nil, has
// described the instances already (named by name).
func (r *run) checkAndDetach(kp KeyPair, pre *precheck) *Error {
	eligible := make(chan string, len(r.ids))
	detached := make(chan struct{})
	go func() {
		defer close(detached)
		r.batchAndDetach(kp, eligible)
	}()

	var err *Error
	func() {
		// Even on a panic (a bug), the batcher ends and its batches are waited for: a
		// request must not end with calls that detach in flight. The instances the
		// batches did not settle are then reported failed (settleUnknown), not lost.
		defer func() {
			close(eligible)
			<-detached
			if p := recover(); p != nil {
				r.log.Error("unexpected failure while checking; the instances without a result are reported failed", "panic", fmt.Sprint(p))
			}
		}()
		var errs []*Error
		switch {
		case r.known != nil: // selected by Targets: DescribeInstances already told the status
			for _, id := range r.ids {
				r.judge(kp, id, r.known[id], true, eligible)
			}
		case pre != nil:
			errs = pre.judge(r, kp)
		default:
			errs = r.check(kp, eligible)
		}
		err = r.requestFailure(kp, errs)
		// The check streamed eligible instances on unless it had to hold them: named by
		// name (not selected by a fleet run), or judged from a precheck.
		held := r.known == nil && (pre != nil || r.req.KeyPairId == "" && !r.selected)
		if err == nil && held {
			r.releaseChecked(eligible)
		}
	}()
	if err != nil {
		return err
	}
	r.settleUnknown()
	return nil
}

// releaseChecked hands on the instances that passed the check when the key pair is
// named by name, once every instance is known to be bound. If some instances could not
// be checked in time, none is detached: any of them might be unbound.
func (r *run) releaseChecked(eligible chan<- string) {
	complete := true
	for _, res := range r.result.Results {
		if res.ErrorCode == CodeNotAttempted && !r.selected { // selected: an unbound one fails alone
			complete = false
		}
	}
	for i, res := range r.result.Results {
		switch {
		case res.Code != 0:
		case complete:
			eligible <- r.ids[i]
		default:
			r.result.Results[i] = notAttempted(r.ids[i])
		}
	}
}

// recoverIDs turns a panic in the work on ids into failed results for those of them
// that have none yet, so that a bug costs those instances, not the whole process.
func (r *run) recoverIDs(ids []string) {
	p := recover()
	if p == nil {
		return
	}
	r.log.Error("unexpected failure; its instances are reported failed", "panic", fmt.Sprint(p), "instances", len(ids))
	for _, id := range ids {
		if i := r.pos[id]; r.result.Results[i].Code == 0 {
			r.result.Results[i] = failed(id, http.StatusInternalServerError, CodeInternalError,
				"the function failed unexpectedly while working on this instance; check it and run the request again")
		}
	}
}

// settleUnknown guards the rule that no instance is lost: one without a result (a bug)
// is reported failed, never done.
func (r *run) settleUnknown() {
	for i, res := range r.result.Results {
		if res.Code == 0 {
			r.log.Error("instance had no result; reporting it failed", "instance", r.ids[i])
			r.result.Results[i] = failed(r.ids[i], http.StatusInternalServerError, CodeInternalError,
				"the function lost track of this instance; check it and run the request again")
		}
	}
}

// requestFailure decides whether the check phase failed the request as a whole.
func (r *run) requestFailure(kp KeyPair, errs []*Error) *Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(errs) > 0 && r.aborted {
		return errs[0]
	}
	if r.req.KeyPairId != "" || r.known != nil || r.started || r.retry > 0 || r.selected {
		return nil
	}
	var unbound []string
	for _, res := range r.result.Results {
		if res.ErrorCode == CodeNotAttached {
			unbound = append(unbound, res.InstanceId)
		}
	}
	if len(unbound) == 0 {
		return nil
	}
	r.aborted = true
	shown := unbound
	if len(shown) > 20 {
		shown = shown[:20]
	}
	more := ""
	if len(unbound) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(unbound)-len(shown))
	}
	hint := "leave them out of InstanceIds, or select the bound instances with Targets"
	if kp.ID != "" {
		hint = "name the key pair by KeyPairId to detach it from the others"
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeNotAttached, Message: fmt.Sprintf(
		"key pair %s is not bound to %d of the instances: %s%s; nothing was detached (%s)",
		kp.Name, len(unbound), strings.Join(shown, ", "), more, hint)}
}

// check describes the instances and judges each as soon as its call answers. It
// returns the request-level errors of calls that failed.
func (r *run) check(kp KeyPair, eligible chan<- string) []*Error {
	var mu sync.Mutex
	var errs []*Error
	byName := r.req.KeyPairId == "" && !r.selected
	r.describeAll(func(c described) {
		// named by name, nothing is detached until every instance is checked
		r.judgeChunk(kp, c, eligibleUnless(byName, eligible), &mu, &errs)
	})
	return errs
}

// described is what one DescribeInstances call told of a chunk of the instances: those
// found, by id, or the call's error.
type described struct {
	ids   []string
	found map[string]Instance
	err   error
}

// describeAll describes the instances, Limits().DescribeIDs ids a call and Concurrency
// calls at once, and hands each chunk's answer to each (called concurrently).
func (r *run) describeAll(each func(described)) {
	var g errgroup.Group
	g.SetLimit(r.opts.Concurrency)
	for chunk := range slices.Chunk(r.ids, r.lim.DescribeIDs) {
		g.Go(func() error {
			defer r.recoverIDs(chunk)
			found, err := r.describe(chunk)
			each(described{ids: chunk, found: found, err: err})
			return nil
		})
	}
	g.Wait()
}

// judgeChunk judges the instances of one described chunk, or records its failed call.
func (r *run) judgeChunk(kp KeyPair, c described, eligible chan<- string, mu *sync.Mutex, errs *[]*Error) {
	if c.err != nil {
		r.checkFailed(c.ids, c.err, mu, errs)
		return
	}
	for _, id := range c.ids {
		in, ok := c.found[id]
		r.judge(kp, id, in, ok, eligible)
	}
}

// precheck describes the instances of a request by name while its key pair is being
// resolved: the check needs only the name, and nothing is judged, nor detached, before
// the key pair is known (judge). A nil *precheck does nothing.
type precheck struct {
	done   chan struct{}
	mu     sync.Mutex
	chunks []described
}

// startPrecheck starts describing the request's instances (setInstances).
func (r *run) startPrecheck() *precheck {
	p := &precheck{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		r.describeAll(func(c described) {
			p.mu.Lock()
			p.chunks = append(p.chunks, c)
			p.mu.Unlock()
		})
	}()
	return p
}

// judge waits for the descriptions and judges every instance (none is handed on: named
// by name, releaseChecked does that once all are checked). It returns the request-level
// errors of calls that failed.
func (p *precheck) judge(r *run, kp KeyPair) []*Error {
	p.wait()
	var mu sync.Mutex
	var errs []*Error
	for _, c := range p.chunks {
		r.judgeChunk(kp, c, nil, &mu, &errs)
	}
	return errs
}

// wait waits for the descriptions.
func (p *precheck) wait() {
	if p != nil {
		<-p.done
	}
}

// abandon stops the descriptions of a request that ends before its check (the key pair
// could not be resolved, or is refused) and waits for them, so that none outlives it.
func (p *precheck) abandon(r *run) {
	if p == nil {
		return
	}
	r.cancel()
	p.wait()
}

// describe finds the instances of ids (DescribeInstances, Limits().DescribeIDs ids a
// call), by id; an id missing from the map was not found.
func (r *run) describe(ids []string) (map[string]Instance, error) {
	found := make(map[string]Instance, len(ids))
	for chunk := range slices.Chunk(ids, r.lim.DescribeIDs) {
		page, err := call(r, APIDescribeInstances, func(ctx context.Context) (InstancePage, error) {
			return r.cloud.DescribeInstances(ctx, InstanceQuery{IDs: chunk, PageSize: r.lim.DescribeIDs})
		})
		if err != nil {
			return nil, err
		}
		for _, in := range page.Instances {
			found[in.ID] = in
		}
	}
	return found, nil
}

// eligibleUnless returns the channel for eligible ids, or nil when they must wait.
func eligibleUnless(wait bool, ch chan<- string) chan<- string {
	if wait {
		return nil
	}
	return ch
}

// checkFailed records a DescribeInstances call that failed: before any detach the whole
// request fails; after one, its instances fail one by one, and the rest goes on.
func (r *run) checkFailed(chunk []string, err error, mu *sync.Mutex, errs *[]*Error) {
	if r.outOfTimeFor(err) {
		for _, id := range chunk {
			r.result.Results[r.pos[id]] = notAttempted(id)
		}
		return
	}
	rerr := toRequestError(err, "DescribeInstances")
	r.mu.Lock()
	if !r.started {
		r.aborted = true
	}
	aborted := r.aborted
	r.mu.Unlock()
	if aborted {
		mu.Lock()
		*errs = append(*errs, rerr)
		mu.Unlock()
		return
	}
	for _, id := range chunk {
		r.result.Results[r.pos[id]] = failed(id, rerr.Status, rerr.Code, rerr.Message)
	}
	r.log.Warn("instance check failed after detaching had begun", "instances", len(chunk), "error", err.Error())
}

// judge sets the result of an instance that cannot be detached, or hands an eligible
// one on (to eligible, or, when eligible is nil, leaves its result unset for later).
func (r *run) judge(kp KeyPair, id string, in Instance, exists bool, eligible chan<- string) {
	i := r.pos[id]
	refusal := r.refusal(in)
	switch {
	case !exists:
		r.result.Results[i] = failed(id, http.StatusNotFound, CodeInstanceNotFound,
			fmt.Sprintf("instance %s does not exist %s", id, r.where()))
	case in.KeyPairName == "" && r.retry > 0:
		r.result.Results[i] = succeeded(id, alreadyDetached(r.retry))
	case in.KeyPairName == "" && r.selected && !r.req.DryRun:
		r.result.Results[i] = succeeded(id, MessageNoLongerBound)
	case in.KeyPairName != kp.Name:
		bound := "no key pair"
		if in.KeyPairName != "" {
			bound = "key pair " + in.KeyPairName
		}
		r.result.Results[i] = failed(id, http.StatusBadRequest, CodeNotAttached,
			fmt.Sprintf("key pair %s is not bound to this instance (it has %s)", kp.Name, bound))
	case refusal != "": // before the status and the dry run, so that a dry run shows it too
		r.result.Results[i] = failed(id, http.StatusForbidden, CodeProtected, refusal)
	case in.Status != StatusStopped:
		r.result.Results[i] = failed(id, http.StatusBadRequest, CodeIncorrectStatus,
			fmt.Sprintf("instance is %s; stop it first", in.Status))
	case r.req.DryRun:
		r.result.Results[i] = succeeded(id, MessageDryRun)
	case eligible != nil:
		eligible <- id
	}
}

// batchAndDetach groups eligible ids into batches of r.batch and detaches them,
// Concurrency calls at once. It returns when ids is closed and every batch is done.
func (r *run) batchAndDetach(kp KeyPair, ids <-chan string) {
	var g errgroup.Group
	g.SetLimit(r.opts.Concurrency)
	batch := make([]string, 0, r.batch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := batch
		batch = make([]string, 0, r.batch)
		r.mu.Lock()
		r.batches++
		r.mu.Unlock()
		g.Go(func() error {
			defer r.recoverIDs(b)
			r.detachBatch(kp, b)
			return nil
		})
	}
	for id := range ids {
		batch = append(batch, id)
		if len(batch) == r.batch {
			flush()
		}
	}
	flush()
	g.Wait()
}

// detachBatch detaches the key pair from one batch of instances (see batch) and
// records the result of each. A batch that cannot start before the deadline leaves its
// instances NotAttempted.
func (r *run) detachBatch(kp KeyPair, ids []string) {
	r.mu.Lock()
	if r.aborted {
		r.mu.Unlock()
		return
	}
	enough := r.hasTime()
	if enough {
		r.started = true
	}
	r.mu.Unlock()
	if enough {
		(&batch{r: r, kp: kp, pending: ids}).run()
	} else {
		for _, id := range ids {
			r.set(notAttempted(id))
		}
	}
	r.batchDone()
}

func isCloudError(err error) bool {
	var ce *CloudError
	return errors.As(err, &ce)
}

// hasTime reports whether a call can still finish before the run's deadline (timing).
func (r *run) hasTime() bool { return r.clock.enoughTime(r.ctx, 0) }

// set sets the result of an instance.
func (r *run) set(res InstanceResult) { r.result.Results[r.pos[res.InstanceId]] = res }

// mayHaveActed records that a DetachKeyPair call may have detached something.
func (r *run) mayHaveActed() {
	r.mu.Lock()
	r.acted = true
	r.mu.Unlock()
}

// batchDone counts a finished batch and logs progress.
func (r *run) batchDone() {
	r.mu.Lock()
	r.finished++
	finished, batches := r.finished, r.batches
	r.mu.Unlock()
	if finished == batches || finished%10 == 0 {
		r.log.Info("detach progress", "batches_done", finished, "batches_planned", batches)
	}
}
