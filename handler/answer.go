package handler

import (
	"encoding/json"
	"net/http"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"

	"detachkeypair/detach"
)

// outcome is the answer to one request: a result, or a request-level error.
type outcome struct {
	result  *detach.Result
	part    *detach.Part // a fleet run's part; result is its Result
	err     *detach.Error
	emitted *bool          // whether the result event went out; nil when no bus is set
	product string         // the request's product, once known
	region  string         // the request's region, once known
	caller  *detach.Caller // who asked, for the answer and the event
	ran     bool           // the request was carried out, not rejected or left unstarted
}

// rank orders the result events of a batch: requests that ran first.
func (o outcome) rank() int {
	if o.ran {
		return 0
	}
	return 1
}

// body is the outcome as the contract's JSON answer.
func (o outcome) body(requestID string) any {
	if o.err != nil {
		r := o.err.Response(requestID)
		r.EventEmitted, r.Caller = o.emitted, o.caller
		return r
	}
	if o.result != nil {
		o.result.EventEmitted, o.result.Caller = o.emitted, o.caller
	}
	if o.part != nil {
		return o.part
	}
	return o.result
}

// status is the HTTP status of the outcome.
func (o outcome) status() int {
	if o.err != nil {
		return o.err.Status
	}
	if o.part != nil {
		return o.part.Status()
	}
	return http.StatusOK
}

// retryable reports whether the outcome should fail a non-HTTP invocation, so that the
// platform's retry policy runs it again: a request-level 5xx, or a fleet run's part
// that could not start the next part.
func (o outcome) retryable() bool {
	return o.err != nil && o.err.Retryable() || o.part != nil && o.part.Retry()
}

// code is the error code of a retryable outcome, the failed invocation's errorType.
func (o outcome) code() string {
	if o.err != nil {
		return o.err.Code
	}
	return o.part.Code
}

// answer encodes the outcome of a non-HTTP trigger.
func answer(inv Invocation, o outcome) (json.RawMessage, error) {
	return encode(o.body(inv.RequestID), o)
}

// batchAnswer encodes the outcomes of an EventBridge batch, one answer per event; the
// first retryable outcome fails the invocation.
func batchAnswer(inv Invocation, outcomes []outcome) (json.RawMessage, error) {
	bodies := make([]any, len(outcomes))
	var retry outcome
	for i, o := range outcomes {
		bodies[i] = o.body(inv.RequestID)
		if o.retryable() && !retry.retryable() {
			retry = o
		}
	}
	return encode(bodies, retry)
}

// encode marshals an answer body; when o is retryable, the invocation fails with the
// outcome's code as errorType and the body as errorMessage.
func encode(body any, o outcome) (json.RawMessage, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	if o.retryable() {
		return nil, messages.InvokeResponse_Error{Type: o.code(), Message: string(b)}
	}
	return b, nil
}

// httpAnswer encodes the outcome as the HTTP trigger's response: the contract's status
// and JSON body. An HTTP caller sees a 5xx and decides for itself whether to retry.
func httpAnswer(inv Invocation, o outcome) (json.RawMessage, error) {
	b, err := json.Marshal(o.body(inv.RequestID))
	if err != nil {
		return nil, err
	}
	headers := map[string]string{"Content-Type": "application/json"}
	if inv.RequestID != "" {
		headers["X-Fc-Request-Id"] = inv.RequestID
	}
	return json.Marshal(events.HTTPTriggerResponse{StatusCode: o.status(), Headers: headers, Body: string(b)})
}
