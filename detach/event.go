package detach

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
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
	Data    any // *Result or ErrorResponse
}

// Publisher sends result events; the eventbridge package implements it.
type Publisher interface {
	// Publish sends one event. A *CloudError that is Retryable may be tried again.
	Publish(ctx context.Context, ev Event) error
}

// EventScope says where a request ran, for the event's subject and id.
type EventScope struct {
	Source    string // EVENT_SOURCE
	Product   string // ProductECS ("" means it) or ProductENS, for the subject
	Region    string
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
	if res != nil {
		ev.Type, ev.Data = EventCompleted, res
		if res.KeyPairName != "" {
			keyPair = res.KeyPairName
		}
	} else {
		ev.Type, ev.Data = EventFailed, failure
	}
	if keyPair == "" {
		keyPair = "unknown"
	}
	product := strings.ToLower(cmp.Or(scope.Product, ProductECS))
	ev.Subject = fmt.Sprintf("acs:%s:%s:%s:keypair/%s", product, scope.Region, scope.AccountID, keyPair)
	seed := fmt.Sprintf("%s/%s/%d/%d", scope.Source, scope.RequestID, scope.Retry, scope.Seq)
	if scope.RequestID == "" {
		seed += "/" + ev.Time.Format(time.RFC3339Nano)
	}
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:16])
	ev.ID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	return ev
}

// Emit publishes ev, retrying throttling and unavailability with backoff and jitter,
// at most attempts times and within ctx's deadline. The detach result never depends
// on it: the caller only records whether it worked.
func Emit(ctx context.Context, p Publisher, ev Event, attempts int) error {
	b := newBackoff(100*time.Millisecond, 2*time.Second)
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := p.Publish(ctx, ev)
		if err == nil {
			return struct{}{}, nil
		}
		last = err
		var ce *CloudError
		if errors.As(err, &ce) && ce.Retryable() {
			return struct{}{}, err
		}
		return struct{}{}, backoff.Permanent(err)
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(max(attempts, 1))), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil {
		return last
	}
	return err
}
