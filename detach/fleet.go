package detach

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// A fleet run is a Targets request on ECS (IsFleet): every instance the selector
// matches, in one region or in several (RegionIds, ["*"] for all), whatever their
// number. It is a layer above Service.Detach:
//
//   - The first invocation checks the regions (DescribeRegions, for RegionIds),
//     resolves the key pair in each (a region without it is reported so, and the
//     others go on) and lists each region's first window. It starts the first part of
//     every other region in a new asynchronous invocation of the function, then runs
//     the first part of one region itself, and answers with that part's results and,
//     for each region, whether it goes on (Part.Regions).
//   - A part takes at most MaxInstances of its region's instances (its window), detaches
//     the key pair from them with one Service.Detach, and, at the same time, lists the
//     next window. If there is one, it starts the next part, an asynchronous invocation
//     of the function through FC (Invoker) whose request carries the window, where the
//     listing goes on, and the region's totals (Continuation): FC queues, retries and
//     reports failures; the function keeps no store. Each region is a chain of parts of
//     its own, one at a time, with its region's quota and pacing, beside the others.
//   - Each part emits its result event, with the region's running totals; the last part
//     of a region says Final (fleet_event.go).
//
// Retries: FC runs a failed part again with the same request (the same window and
// cursor). Its instances are checked again (an instance the earlier attempt detached is
// reported detached), the same next window is listed, and the next part is started
// under the same FC task id (RunId, region, part): FC refuses a task id it has seen
// (409), so a retried part never forks the chain (Invoker).

// Invoker starts the next part of a fleet run: an asynchronous invocation of the
// function itself (FC's InvokeFunction), as an FC task of the given id. The fc package
// implements it.
type Invoker interface {
	// InvokeAsync queues an asynchronous invocation of the function with payload as its
	// event, under the task id. It returns nil when FC accepted it, ErrTaskExists when
	// FC had accepted a task of this id before (an earlier attempt of the same part
	// started it: it runs once), or another error (a *CloudError when FC answered; a
	// Retryable one may be tried again). It neither retries nor waits.
	InvokeAsync(ctx context.Context, taskID string, payload []byte) error
}

// ErrTaskExists is the error of InvokeAsync when FC already has a task of the id.
var ErrTaskExists = errors.New("FC has accepted an asynchronous task of this id before")

// RegionLister lists the regions of the account (ECS's DescribeRegions), to expand and
// check RegionIds; the ecs adapter implements it.
type RegionLister interface {
	// DescribeRegions returns the ids of the regions the account may use.
	DescribeRegions(ctx context.Context) ([]string, error)
}

// APIDescribeRegions and APIInvokeFunction are the other APIs a fleet run calls, as
// their pacing keys.
const (
	APIDescribeRegions = "DescribeRegions"
	APIInvokeFunction  = "InvokeFunction"
)

// FleetOptions are the settings of fleet runs; zero values take the defaults.
type FleetOptions struct {
	// MaxParts is the most parts a region's chain may have (MAX_PARTS): a part past it
	// is not started, so that no chain runs away.
	MaxParts int
}

// DefaultMaxParts is MAX_PARTS's default: a million instances per region at the
// default MAX_INSTANCES.
const DefaultMaxParts = 1000

// Fleet runs fleet-wide requests over a Service, whose pacing the parts of a process
// share. It is safe for concurrent use.
type Fleet struct {
	svc      *Service
	maxParts int
}

// NewFleet returns the fleet runs of svc.
func NewFleet(svc *Service, o FleetOptions) *Fleet {
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	return &Fleet{svc: svc, maxParts: o.MaxParts}
}

// FleetEnv is what an invocation gives a fleet run.
type FleetEnv struct {
	Home  string                             // the function's region, where DescribeRegions is asked
	Cloud func(region string) (Cloud, error) // ECS in a region
	// Invoker returns the function's own InvokeFunction, for the next parts; nil, or an
	// error, when the function cannot invoke itself (a run then stops after one part).
	Invoker func() (Invoker, error)
	Seq     int // the request's place in its invocation (an EventBridge batch holds several)
}

// cloud returns ECS in a region, or the request-level error of a client that could not
// be set up.
func (env FleetEnv) cloud(region string) (Cloud, *Error) {
	c, err := env.Cloud(region)
	if err != nil {
		return nil, Internal("the function could not set up its ECS client for region " + region + ": " + err.Error())
	}
	return c, nil
}

// Part is the answer to an invocation of a fleet run: the part of one region it ran
// (Result: its instances' results and counts), the region's totals so far (this part
// included), and whether the region goes on. The first invocation of a run also says
// what became of every region (Regions).
type Part struct {
	RunId     string `json:"RunId"`
	Region    string `json:"Region"`
	Part      int    `json:"Part"`
	Attempt   int    `json:"Attempt"`   // FC's retry count of the invocation: a later attempt's answer supersedes an earlier one's
	Final     bool   `json:"Final"`     // the region's last part: Totals are the region's
	Continues bool   `json:"Continues"` // the next part of the region was started
	Totals    Totals `json:"Totals"`
	// Code and Message say why the region's chain stopped or could not go on
	// (PartLimitExceeded, ContinuationFailed, or the error of a part that could not
	// run); "" when it did not.
	Code    string      `json:"Code,omitempty"`
	Message string      `json:"Message,omitempty"`
	Regions []RegionRun `json:"Regions,omitempty"`
	Result              // the part's instances: last in the JSON, after the run's fields

	status int // the HTTP status of a part that could not run (0: it ran)
	retry  bool
}

// RegionRun says what became of a region when its run started.
type RegionRun struct {
	RegionId  string `json:"RegionId"`
	Continues bool   `json:"Continues"` // parts of the region run in new invocations
	// Code and Message say why the region does not run (InvalidKeyPair.NotFound, ...).
	Code    string `json:"Code,omitempty"`
	Message string `json:"Message,omitempty"`
}

// Totals count a region's instances over the parts so far: in all, failed, and by code
// (CodeSuccess for the successes, else the ErrorCode).
type Totals struct {
	Parts      int            `json:"Parts"`
	TotalCount int            `json:"TotalCount"`
	FailCount  int            `json:"FailCount"`
	Codes      map[string]int `json:"Codes"`
}

// Codes of a fleet run's parts.
const (
	CodeSuccess            = "Success"            // Totals.Codes' key of the successes
	CodePartLimit          = "PartLimitExceeded"  // MAX_PARTS reached: the chain stopped
	CodeContinuationFailed = "ContinuationFailed" // the next part could not be started: the invocation fails, FC runs the part again
)

// Retry reports whether the invocation must fail, so that FC runs the part again: the
// next part could not be started, or the part could not run for a reason that may pass.
func (p *Part) Retry() bool { return p.retry }

// Status is the HTTP status of the answer: 200 for a part that ran, else its error's.
func (p *Part) Status() int {
	switch {
	case p.status != 0:
		return p.status
	case p.retry:
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// Failed reports whether the part could not run (its result event is then
// keypair.detach.failed).
func (p *Part) Failed() bool { return p.status != 0 }

// add returns t with the results of one more part counted.
func (t Totals) add(results []InstanceResult) Totals {
	codes := make(map[string]int, len(t.Codes)+1)
	for k, v := range t.Codes {
		codes[k] = v
	}
	t.Codes = codes
	t.Parts++
	for _, r := range results {
		t.TotalCount++
		if r.Success {
			t.Codes[CodeSuccess]++
		} else {
			t.FailCount++
			t.Codes[r.ErrorCode]++
		}
	}
	return t
}

// Run carries out a fleet request (IsFleet): the start of a run, or one of its parts
// (Continuation). The *Error is a request-level failure of the start (nothing was
// detached or started); a part's failures are in its Part.
func (f *Fleet) Run(ctx context.Context, env FleetEnv, req Request) (*Part, *Error) {
	if !IsFleet(req) {
		return nil, Internal("detach: not a fleet request (IsFleet)")
	}
	if req.Continuation != nil {
		return f.runPart(ctx, env, req, *req.Continuation), nil
	}
	return f.start(ctx, env, req)
}

// newRunID derives a run's id from the request id of its first invocation and the
// request's place in it, so that a retried first invocation continues the same run
// (its parts' FC task ids are the same). Without a request id it is random.
func newRunID(requestID string, seq int) string {
	var seed []byte
	if requestID != "" {
		seed = fmt.Appendf(nil, "%s/%d", requestID, seq)
	} else {
		seed = make([]byte, 16)
		rand.Read(seed)
	}
	sum := sha256.Sum256(seed)
	return "run-" + hex.EncodeToString(sum[:8])
}

// taskID is the FC task id of a part: one per run, region and part.
func taskID(runID, region string, part int) string {
	return fmt.Sprintf("%s-%s-p%d", runID, region, part)
}

// regionKey is a region of a run with its key pair, or why it does not run.
type regionKey struct {
	region string
	kp     KeyPair
	err    *Error
}

// start begins a run: it settles the regions, resolves the key pair in each, starts the
// first part of every region but one, and runs that one's first part.
func (f *Fleet) start(ctx context.Context, env FleetEnv, req Request) (*Part, *Error) {
	runID := newRunID(requestIDFrom(ctx), env.Seq)
	log := loggerFrom(ctx, f.svc.opts.Logger).With("run_id", runID) // its parts' loggers say it themselves
	regions, err := f.regions(ctx, env, req)
	if err != nil {
		return nil, err
	}
	keys := f.resolveAll(ctx, env, req, regions)
	own := -1
	var failures []*Error
	for i, k := range keys {
		switch {
		case k.err == nil && own < 0:
			own = i
		case k.err != nil && k.err.Retryable():
			log.Warn("fleet run not started: a region's key pair could not be resolved", "region", k.region, "code", k.err.Code)
			return nil, &Error{Status: k.err.Status, Code: k.err.Code, Message: "region " + k.region + ": " + k.err.Message + "; nothing was started"}
		case k.err != nil:
			failures = append(failures, k.err)
		}
	}
	if own < 0 {
		return nil, nowhere(keys, failures)
	}

	runs := make([]RegionRun, len(keys))
	for i, k := range keys {
		runs[i] = RegionRun{RegionId: k.region}
		if k.err != nil {
			runs[i].Code, runs[i].Message = k.err.Code, k.err.Message
		}
	}
	// Every region's first window is listed here, so that each first part, as every
	// later one, has its instances named in its request: FC running it again checks
	// the same instances (an instance the earlier attempt detached is reported so).
	firsts, lerr := f.firstWindows(ctx, env, req, keys)
	if lerr != nil {
		log.Warn("fleet run not started: a region's first instances could not be listed", "code", lerr.Code)
		return nil, lerr
	}
	own = -1
	var others []int
	for i, k := range keys {
		switch {
		case k.err != nil:
		case firsts[i].err != nil:
			runs[i].Code, runs[i].Message = firsts[i].err.Code, firsts[i].err.Message
		case own < 0:
			own = i
		default:
			others = append(others, i)
		}
	}
	if own < 0 { // every region's listing refused
		for _, w := range firsts {
			if w.err != nil {
				return nil, w.err
			}
		}
	}
	first := func(i int) Continuation {
		return Continuation{RunId: runID, Part: 1, KeyPairId: keys[i].kp.ID, InstanceIds: firsts[i].window, Cursor: firsts[i].cursor}
	}
	if len(others) > 0 {
		invoker, ierr := f.invoker(env)
		if ierr != nil {
			return nil, ierr
		}
		var g errgroup.Group
		g.SetLimit(8)
		errs := make([]error, len(keys))
		for _, i := range others {
			g.Go(func() error {
				errs[i] = f.startPart(ctx, invoker, partRequest(req, keys[i].region, keys[i].kp), first(i))
				return nil
			})
		}
		g.Wait()
		for _, i := range others {
			if errs[i] != nil {
				log.Error("fleet run not started: the first part of a region could not be started", "region", keys[i].region, "error", errs[i].Error())
				return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
					Message: fmt.Sprintf("the run could not start its part in region %s (FC's InvokeFunction: %s); nothing was detached: run the request again", keys[i].region, errs[i].Error())}
			}
			runs[i].Continues = true
		}
	}
	k := keys[own]
	log.Info("fleet run started", "regions", len(keys), "started_elsewhere", len(others), "region", k.region)
	p := f.runPart(ctx, env, partRequest(req, k.region, k.kp), first(own))
	runs[own].Continues = p.Continues
	if p.Failed() {
		runs[own].Code, runs[own].Message = p.Code, p.Message
	}
	p.Regions = runs
	return p, nil
}

// nowhere is the error of a run whose key pair no region has (or whose every region
// refused): the regions' common error with their names, else the first.
func nowhere(keys []regionKey, failures []*Error) *Error {
	if len(keys) == 1 {
		return keys[0].err
	}
	first := failures[0]
	for _, e := range failures {
		if e.Code != first.Code {
			return first
		}
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.region
	}
	what := first.Message
	if first.Code == CodeKeyPairNotFound {
		what = "no region has the key pair"
	}
	return &Error{Status: first.Status, Code: first.Code, Message: fmt.Sprintf("%s (regions %s); nothing was detached", what, strings.Join(firstN(names, 20), ", "))}
}

// partRequest is the request of a region's parts: the run's selector and key pair (by
// name, as resolved), in one region.
func partRequest(req Request, region string, kp KeyPair) Request {
	return Request{Product: ProductECS, RegionId: region, KeyPairName: kp.Name, Targets: req.Targets, DryRun: req.DryRun}
}

// invoker returns the function's own InvokeFunction.
func (f *Fleet) invoker(env FleetEnv) (Invoker, *Error) {
	if env.Invoker == nil {
		return nil, Internal("the function cannot invoke itself here (no FC context), so a fleet run cannot go on past its first part; run it in FC, or locally under the FC runner")
	}
	inv, err := env.Invoker()
	if err != nil {
		return nil, Internal("the function could not set up its FC client to continue the run: " + err.Error())
	}
	return inv, nil
}

// regions settles the regions of a run: RegionId's, or RegionIds', checked against the
// account's (DescribeRegions, in the function's region) and ALLOWED_REGIONS, "*"
// standing for every region of the account that ALLOWED_REGIONS allows.
func (f *Fleet) regions(ctx context.Context, env FleetEnv, req Request) ([]string, *Error) {
	if req.RegionIds == nil {
		return []string{req.RegionId}, nil
	}
	cloud, err := env.cloud(env.Home)
	if err != nil {
		return nil, err
	}
	lister, ok := cloud.(RegionLister)
	if !ok {
		return nil, Internal("the ECS client cannot list the account's regions")
	}
	r := f.svc.newRun(ctx, cloud, req)
	defer r.cancel()
	known, cerr := call(r, APIDescribeRegions, func(ctx context.Context) ([]string, error) { return lister.DescribeRegions(ctx) })
	switch {
	case r.outOfTimeFor(cerr):
		return nil, outOfTimeSelecting
	case cerr != nil:
		return nil, toRequestError(cerr, "DescribeRegions")
	}
	if err := unknownRegions(req.RegionIds, known); err != nil {
		return nil, err
	}
	policy := f.svc.opts.Policy
	if req.RegionIds[0] == AllRegions {
		out := slices.DeleteFunc(slices.Clone(known), func(id string) bool { return !policy.allowsRegion(id) })
		if len(out) == 0 {
			return nil, forbidden("no region of the account is in ALLOWED_REGIONS; nothing was detached")
		}
		return out, nil
	}
	if refused := policy.refusedRegions(req.RegionIds); len(refused) > 0 {
		return nil, forbidden("regions %s are not in ALLOWED_REGIONS: the function may not detach key pairs there; nothing was detached", strings.Join(refused, ", "))
	}
	return req.RegionIds, nil
}

// resolveAll resolves the key pair in every region at once (each region paced under
// its own quota), after the guardrails that need no call.
func (f *Fleet) resolveAll(ctx context.Context, env FleetEnv, req Request, regions []string) []regionKey {
	keys := make([]regionKey, len(regions))
	var g errgroup.Group
	g.SetLimit(8)
	for i, region := range regions {
		g.Go(func() error {
			keys[i] = f.resolve(ctx, env, partRequest(req, region, KeyPair{Name: req.KeyPairName}), req.KeyPairId)
			return nil
		})
	}
	g.Wait()
	return keys
}

// resolve finds the key pair of req (by keyPairID, when given) in req's region.
func (f *Fleet) resolve(ctx context.Context, env FleetEnv, req Request, keyPairID string) regionKey {
	k := regionKey{region: req.RegionId}
	cloud, err := env.cloud(req.RegionId)
	if err != nil {
		k.err = err
		return k
	}
	req.KeyPairId = keyPairID
	r := f.svc.newRun(ctx, cloud, req)
	defer r.cancel()
	if k.err = r.guardRequest(); k.err != nil {
		return k
	}
	kp, rerr := r.resolveKeyPair()
	switch {
	case rerr == timeUp:
		k.err = outOfTimeSelecting
	case rerr != nil:
		k.err = rerr
	default:
		k.kp, k.err = kp, r.guardKeyPair(kp)
	}
	return k
}

// listedWindow is a region's first window, or why it could not be listed.
type listedWindow struct {
	window []string
	cursor Cursor
	err    *Error
}

// firstWindows lists the first window of every region whose key pair resolved, at
// once. A region whose listing the cloud refused for good (a permission, say) is
// reported so and the others go on; one that failed for a reason that may pass, or
// ran out of time, fails the start (*Error): nothing has been detached or started.
func (f *Fleet) firstWindows(ctx context.Context, env FleetEnv, req Request, keys []regionKey) ([]listedWindow, *Error) {
	out := make([]listedWindow, len(keys))
	var g errgroup.Group
	g.SetLimit(8)
	for i, k := range keys {
		if k.err != nil {
			continue
		}
		g.Go(func() error {
			cloud, err := env.cloud(k.region)
			if err != nil {
				out[i].err = err
				return nil
			}
			preq := partRequest(req, k.region, k.kp)
			r := f.svc.newRun(ctx, resolvedCloud{Cloud: cloud, kp: k.kp}, preq)
			defer r.cancel()
			out[i].window, out[i].cursor, out[i].err = f.newLister(r, preq, k.kp).next(Cursor{})
			return nil
		})
	}
	g.Wait()
	for i, w := range out {
		if w.err != nil && w.err.Retryable() {
			return nil, &Error{Status: w.err.Status, Code: w.err.Code, Message: "region " + keys[i].region + ": " + w.err.Message + "; nothing was detached or started"}
		}
	}
	return out, nil
}

// resolvedCloud is a region's cloud for a run's parts: the run resolved the key pair
// when it started, so DescribeKeyPairs answers it without a call. (A key pair deleted
// meanwhile fails the detaches, instance by instance.)
type resolvedCloud struct {
	Cloud
	kp KeyPair
}

func (c resolvedCloud) DescribeKeyPairs(context.Context, KeyPairQuery) (KeyPairPage, error) {
	return KeyPairPage{KeyPairs: []KeyPair{c.kp}, TotalCount: 1}, nil
}

// selectedKey is the context key of withSelected.
type selectedKey struct{}

// withSelected returns a context that says a fleet run selected the instances of the
// request (Service.Detach then applies the rules of selected instances: an unbound one
// fails alone, and one found without a key pair was detached since it was selected).
func withSelected(ctx context.Context) context.Context {
	return context.WithValue(ctx, selectedKey{}, true)
}

func selectedFrom(ctx context.Context) bool {
	v, _ := ctx.Value(selectedKey{}).(bool)
	return v
}

// MessageNoLongerBound is the message of a selected instance found without a key pair
// when its part checked it: detached after the run selected it.
const MessageNoLongerBound = "successful: the key pair was no longer bound when this part checked the instance (detached after the run selected it)"

// sharedWait runs fns at once and waits for them.
func sharedWait(fns ...func()) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		if fn != nil {
			wg.Go(fn)
		}
	}
	wg.Wait()
}
