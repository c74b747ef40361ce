package detach

import (
	"context"
	"errors"
	"slices"
)

// The listing of a fleet run, and how a part finds where the previous one stopped.
//
// A region's selection is listed with DescribeInstances filtered by the selector's
// tags and resource group only, not by key pair: the instances bound to the key pair,
// and carrying the selector's tags (the function does not trust the filter alone),
// are kept here. A listing filtered by key pair changes under the run's own detaching
// (a detached instance leaves it), and ECS documents nothing of what its NextToken
// stands for: if it were an offset, the instances that left before it would make the
// listing skip as many others. The selector's listing does not change when the run
// detaches, whatever the token is; the price is that its pages hold the instances
// bound to other key pairs, or none, too.
//
// A part's cursor (Cursor) carries the listing's NextToken to the next part, in
// another invocation. ECS does not document how long a token stays valid. Assumption
// (undocumented): it stays valid the seconds to minutes between two parts. When the
// cloud refuses it anyway (a 4xx; also for a token within one listing), the part lists
// from the start and skips to the place the listing had reached: past the first of the
// last instances it listed (Cursor.After), which assumes that the listing's order is
// stable (ECS documents none; the emulator lists by instance id). Past maxRestarts
// restarts in one listing, the part fails (FC runs it again). Instances the run took are not taken again
// within a listing (each window is checked for ids seen before). If none of those last
// instances is listed any more (all deleted or re-tagged meanwhile), the part lists
// from the start without skipping: instances reported before that are still bound
// (Running ones, say) are reported again, rather than some instances never.

// Cursor is where a region's listing goes on after a window.
type Cursor struct {
	NextToken string   `json:"NextToken,omitempty"` // the listing's token after its last page
	Pending   []string `json:"Pending,omitempty"`   // instances listed (bound) but not yet in a window: they come first
	After     []string `json:"After,omitempty"`     // the last instances listed, to find the place again from the start
	Done      bool     `json:"Done,omitempty"`      // the listing ended: Pending is all that is left
}

// anchors is how many of the last listed instances a cursor keeps.
const anchors = 8

// maxRestarts bounds how often one listing starts again from the start for refused
// tokens; past it, the part fails (and FC runs it again).
const maxRestarts = 4

// windowBytes bounds the ids of a window, so that the request of the next part, which
// carries them, stays within FC's 128 KB (maxContinuation).
const windowBytes = 96 << 10

// lister lists a region's selection for a fleet run, paced and retried as the run's
// other calls (its run r).
type lister struct {
	r     *run
	q     InstanceQuery // the selector: tags and resource group, no key pair
	kp    KeyPair
	limit int // most instances a window
}

// newLister returns the lister of req's selection in r's region. Pages are as large as
// a window, between DescribeInstances' 10 and 100.
func (f *Fleet) newLister(r *run, req Request, kp KeyPair) *lister {
	limit := f.svc.opts.MaxInstances
	q := InstanceQuery{Tags: f.svc.opts.Policy.narrowTargets(req.Targets.Tags), ResourceGroupID: req.Targets.ResourceGroupId,
		PageSize: min(max(limit, 10), r.lim.DescribeIDs)}
	return &lister{r: r, q: q, kp: kp, limit: limit}
}

// next returns the next window of the selection after c (at most limit instances bound
// to the key pair, and windowBytes of ids), and the cursor after it.
func (l *lister) next(c Cursor) ([]string, Cursor, *Error) {
	var window []string
	out := Cursor{After: c.After}
	seen := map[string]bool{}
	size := 0
	take := func(id string) {
		seen[id] = true
		if len(window) < l.limit && size+len(id)+3 <= windowBytes && len(out.Pending) == 0 {
			window = append(window, id)
			size += len(id) + 3
		} else {
			out.Pending = append(out.Pending, id)
		}
	}
	for _, id := range c.Pending {
		if !seen[id] {
			take(id)
		}
	}
	if c.Done || len(out.Pending) > 0 { // the listing need not go on for this window
		out.NextToken, out.Done = c.NextToken, c.Done
		return window, out, nil
	}

	// place: the last instances listed before the listing started from the start (the
	// previous listing's, or this one's when the cloud refused its token), to skip to;
	// skipping: before the place; restarted: the listing is from the start (the place's
	// instances, listed again, are not taken).
	token, again := c.NextToken, false
	place := c.After
	skipping := token == "" && len(place) > 0
	restarted := skipping
	last := slices.Clone(c.After)
	restarts := 0
	var pages tokenPages // from the token the listing starts from, anew at each restart
	tags := tagCheck{tags: l.q.Tags}
	defer func() { tags.report(l.r.log) }()
	for {
		q := l.q
		q.NextToken = token
		page, err := call(l.r, APIDescribeInstances, func(ctx context.Context) (InstancePage, error) {
			return l.r.cloud.DescribeInstances(ctx, q)
		})
		if err != nil && token != "" && refused(err) && restarts < maxRestarts {
			restarts++
			l.r.log.Warn("the listing's token was refused; listing from the start to the place it had reached", "error", err.Error())
			if !skipping { // else the place is still ahead
				place = slices.Clone(last)
			}
			token, skipping, restarted, last, pages = "", len(place) > 0, true, nil, tokenPages{}
			continue
		}
		if l.r.outOfTimeFor(err) {
			return nil, Cursor{}, outOfTimeSelecting
		}
		if err != nil {
			return nil, Cursor{}, toRequestError(err, "DescribeInstances")
		}
		for _, in := range page.Instances {
			isAnchor := (skipping || restarted) && slices.Contains(place, in.ID)
			if skipping && !isAnchor {
				continue // before the place: taken by earlier parts
			}
			skipping = false
			last = append(last, in.ID)
			if len(last) > anchors {
				last = last[len(last)-anchors:]
			}
			if isAnchor || in.KeyPairName != l.kp.Name || seen[in.ID] {
				continue
			}
			if !tags.carries(in) { // the function checks the cloud's tag filter
				continue
			}
			take(in.ID)
		}
		token = page.NextToken
		more, perr := pages.next("DescribeInstances", token, len(page.Instances))
		if perr != nil {
			return nil, Cursor{}, perr
		}
		if !more {
			if skipping && !again { // the place is gone: list again, skipping nothing
				l.r.log.Warn("none of the instances the listing had reached is listed any more; listing from the start again (still-bound instances reported before are reported again)")
				token, skipping, again, last, pages = "", false, true, nil, tokenPages{}
				continue
			}
			out.Done = true
			break
		}
		if len(window) >= l.limit || size >= windowBytes || len(out.Pending) > 0 {
			break
		}
	}
	out.NextToken, out.After = token, last
	return window, out, nil
}

// refused reports whether the cloud refused a call for its parameters (a 4xx that is
// neither throttling nor a permission refusal): a stale NextToken, say.
func refused(err error) bool {
	var ce *CloudError
	return errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 && !ce.Throttled() && !ce.Forbidden() && !ce.RegionUnknown()
}
