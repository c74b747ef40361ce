package detach

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"
)

// Result event types: what downstream automation subscribes to.
const (
	EventCompleted = "keypair.detach.completed" // the request ran; Data is the Result
	EventFailed    = "keypair.detach.failed"    // a request-level error; Data is the ErrorResponse
)

// Event is the result event of one request, a CloudEvent (specversion 1.0).
type Event struct {
	ID      string
	Source  string
	Type    string
	Subject string
	Time    time.Time
	Data    json.RawMessage // the *Result or ErrorResponse, as JSON
}

// Publisher sends result events; the eventbridge package implements it.
type Publisher interface {
	// Limits says how much one Publish call may carry.
	Limits() PublishLimits
	// Publish sends evs, within Limits, in one call. It returns nil when the bus took
	// them all; a *CloudError when the call failed as a whole (a Retryable one may be
	// tried again); or *RefusedEvents when the bus refused some of them one by one.
	Publish(ctx context.Context, evs []Event) error
}

// PublishLimits is how much one Publish call may carry.
type PublishLimits struct {
	Events int // events a call
	Bytes  int // bytes of events a call (Event.Size), summed; an event larger than this goes alone
	// EventBytes is the most bytes an event may have (Event.Size); 0: no limit.
	// NewEvents splits a result's instances over several events to keep within it.
	EventBytes int
}

// Size is the size of the event as EventBridge reckons it ("Calculate the size of
// events published by PutEvents"): 36 bytes for its time, the bytes of its id, type,
// source, subject, specversion ("1.0") and datacontenttype (application/json), and of
// its data.
func (e Event) Size() int {
	return 36 + len(e.ID) + len(e.Type) + len(e.Source) + len(e.Subject) + len("1.0") + len("application/json") + len(e.Data)
}

// RefusedEvents is the error of a Publish call whose events the bus refused one by one
// while taking the others: Errs[i] is the error of the call's i-th event, nil if taken.
type RefusedEvents struct{ Errs []error }

func (e *RefusedEvents) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			n++
			first = cmp.Or(first, err)
		}
	}
	return fmt.Sprintf("the bus refused %d of %d events: %v", n, len(e.Errs), first)
}

// EventScope says where a request ran, for the event's subject and id.
type EventScope struct {
	Source    string // EVENT_SOURCE
	Product   string // ProductECS ("" means it) or ProductENS, for the subject
	Region    string // the request's API region (ignored for ENS, which has none)
	AccountID string
	RequestID string // the FC request id
	Retry     int    // the invocation's retry count (FC's x-fc-retry-count): 0, then 1, 2, ...
	Seq       int    // which request of the invocation (EventBridge batches hold several)
}

// NewEvent builds the result event of a request: completed with the result, or failed
// with the request-level error. keyPair names the key pair when the result does not.
// The id is derived from the request id, the retry count and Seq: the emits of one
// attempt carry the same id, so that EventBridge can drop the duplicates, while a
// retried invocation, whose result may differ, gets an id of its own.
func NewEvent(scope EventScope, res *Result, failure *ErrorResponse, keyPair string) Event {
	ev := Event{Source: scope.Source, Time: time.Now().UTC()}
	var data any
	if res != nil {
		ev.Type, data = EventCompleted, res
		if res.KeyPairName != "" {
			keyPair = res.KeyPairName
		}
	} else {
		ev.Type, data = EventFailed, failure
	}
	ev.Data, _ = json.Marshal(data) // plain structs: marshalling cannot fail
	if keyPair == "" {
		keyPair = "unknown"
	}
	ev.Subject = keyPairSubject(cmp.Or(scope.Product, ProductECS), scope.Region, scope.AccountID, keyPair)
	ev.ID = eventID(scope.seed(ev.Time))
	return ev
}

// keyPairSubject is the subject of a result event: the key pair's resource name,
// acs:<product>:<region>:<account>:keypair/<name>. ENS has no API regions, so its
// region is left out (acs:ens::<account>:keypair/<name>).
func keyPairSubject(product, region, accountID, keyPair string) string {
	if product == ProductENS {
		region = ""
	}
	return fmt.Sprintf("acs:%s:%s:%s:keypair/%s", strings.ToLower(product), region, accountID, keyPair)
}

// seed is what an event's id is derived from: the request's attempt and place.
func (scope EventScope) seed(t time.Time) string {
	seed := fmt.Sprintf("%s/%s/%d/%d", scope.Source, scope.RequestID, scope.Retry, scope.Seq)
	if scope.RequestID == "" {
		seed += "/" + t.Format(time.RFC3339Nano)
	}
	return seed
}

// eventID makes an event id, in the form of a UUID, of a seed.
func eventID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewEvents builds the result event of a request as NewEvent does, but when the event
// would have more than maxBytes (Event.Size; 0: no limit) it splits the results over
// several events, each within maxBytes: each carries the whole answer but for Results,
// which holds a share of the instances, in order, and says which share it is ("Chunk":
// 1 to "Chunks"). The counts (TotalCount, FailCount) are the request's in each.
// EventBridge takes at most 64 KB an event, and a result of 1000 instances has some
// 130 KB. The events' ids are derived as NewEvent's, and the share's number.
func NewEvents(scope EventScope, res *Result, failure *ErrorResponse, keyPair string, maxBytes int) []Event {
	ev := NewEvent(scope, res, failure, keyPair)
	if res == nil || maxBytes <= 0 || ev.Size() <= maxBytes {
		return []Event{ev}
	}
	return splitEvent(ev, maxBytes, res.Results, func(chunk []InstanceResult, i, n int) any {
		r := *res
		r.Results = chunk
		return chunked[*Result]{&r, i, n}
	})
}

// chunked is the data of one of the events a result is split over.
type chunked[T any] struct {
	Of     T
	Chunk  int
	Chunks int
}

// MarshalJSON writes the data of Of with Chunk and Chunks added.
func (c chunked[T]) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.Of)
	if err != nil || len(b) < 2 || b[len(b)-1] != '}' {
		return b, err
	}
	return fmt.Appendf(b[:len(b)-1], `,"Chunk":%d,"Chunks":%d}`, c.Chunk, c.Chunks), nil
}

// splitEvent splits ev's results over events within maxBytes: data(chunk, i, n) is the
// data of the i-th of n events (from 1), holding the results of chunk.
func splitEvent(ev Event, maxBytes int, results []InstanceResult, data func(chunk []InstanceResult, i, n int) any) []Event {
	empty, _ := json.Marshal(data(nil, 99999, 99999))
	fixed := ev.Size() - len(ev.Data) + len(empty)
	var chunks [][]InstanceResult
	start, size := 0, fixed
	for i, r := range results {
		b, _ := json.Marshal(r)
		if i > start && size+len(b)+1 > maxBytes {
			chunks = append(chunks, results[start:i])
			start, size = i, fixed
		}
		size += len(b) + 1
	}
	chunks = append(chunks, results[start:])
	out := make([]Event, len(chunks))
	for i, chunk := range chunks {
		e := ev
		e.Data, _ = json.Marshal(data(chunk, i+1, len(chunks)))
		e.ID = eventID(fmt.Sprintf("%s/chunk/%d", ev.ID, i+1))
		out[i] = e
	}
	return out
}

// EmitOptions say how Emit publishes; zero values take the defaults.
type EmitOptions struct {
	Attempts    int // tries per call, retries included (default 1)
	Concurrency int // calls in flight at once (default 1)
}

// Emit publishes evs in as few calls as the publisher's limits allow, in order,
// Concurrency calls at once. A call that failed for throttling or unavailability, or
// the events of a call that the bus refused for such a reason, are tried again with
// backoff and jitter, at most Attempts times; nothing is started or waited for past
// ctx's deadline. It returns each event's error, nil for those that went out. The
// detach results never depend on it: the caller only records what went out.
func Emit(ctx context.Context, p Publisher, evs []Event, o EmitOptions) []error {
	errs := make([]error, len(evs))
	var g errgroup.Group
	g.SetLimit(max(o.Concurrency, 1))
	clock := &timing{}
	for _, batch := range batches(evs, p.Limits()) {
		g.Go(func() error {
			publishBatch(ctx, p, evs, batch, errs, max(o.Attempts, 1), clock)
			return nil
		})
	}
	g.Wait()
	return errs
}

// batches splits evs, in order, into the index ranges of Publish calls within lim.
func batches(evs []Event, lim PublishLimits) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for i, ev := range evs {
		if len(cur) > 0 && (len(cur) >= max(lim.Events, 1) || lim.Bytes > 0 && size+ev.Size() > lim.Bytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur, size = append(cur, i), size+ev.Size()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// publishBatch publishes the events of evs at the indexes of batch, with retries, and
// records each one's error in errs. A try starts only if it can finish in time (clock).
func publishBatch(ctx context.Context, p Publisher, evs []Event, batch []int, errs []error, attempts int, clock *timing) {
	pending := batch
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if !clock.enoughTime(ctx, 0) {
			return struct{}{}, backoff.Permanent(errTooLate)
		}
		call := make([]Event, len(pending))
		for i, at := range pending {
			call[i] = evs[at]
		}
		start := time.Now()
		err := p.Publish(ctx, call)
		clock.answered(start, err)
		var refused *RefusedEvents
		switch {
		case err == nil:
			for _, at := range pending {
				errs[at] = nil
			}
			return struct{}{}, nil
		case errors.As(err, &refused) && len(refused.Errs) == len(pending):
			var again []int
			for i, at := range pending {
				errs[at] = refused.Errs[i]
				if retryable(refused.Errs[i]) {
					again = append(again, at)
				}
			}
			if len(again) == 0 {
				return struct{}{}, nil
			}
			pending = again
			return struct{}{}, err
		}
		for _, at := range pending {
			errs[at] = err
		}
		if retryable(err) {
			return struct{}{}, err
		}
		return struct{}{}, backoff.Permanent(err)
	}, backoff.WithBackOff(&timedBackOff{newBackoff(100*time.Millisecond, 2*time.Second), ctx, clock}),
		backoff.WithMaxTries(uint(attempts)), backoff.WithMaxElapsedTime(0))
	if err != nil {
		for _, at := range pending {
			if errs[at] == nil { // no try was made
				errs[at] = err
			}
		}
	}
}

// errTooLate is the error of events whose publishing could not start in time.
var errTooLate = errors.New("not sent: too little time was left before the deadline")

func retryable(err error) bool {
	var ce *CloudError
	return errors.As(err, &ce) && ce.Retryable()
}
