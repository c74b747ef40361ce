// Package eventbridge emulates EventBridge's data plane API PutEvents, as
// eventbridge-sdk v1.3.3 sends it: POST /openapi/putEvents with a JSON array
// of CloudEvents, every one naming its bus in the aliyuneventbusname
// extension. The events are recorded per bus, in order, none deduplicated.
package eventbridge

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"detachkeypair/emulator/internal/rpc"
	"detachkeypair/emulator/internal/sign"
)

// Event is a CloudEvent recorded by PutEvents. The context attributes are
// split out; Extensions holds every other attribute (among them
// "aliyuneventbusname"); Raw is the event as it was sent.
type Event struct {
	Bus             string
	Id              string
	Source          string
	SpecVersion     string
	Type            string
	Subject         string
	Time            string
	DataContentType string
	DataSchema      string
	// Data is the "data" attribute as sent: JSON data as JSON, other data as
	// a JSON string. DataBase64 is the "data_base64" attribute, which the SDK
	// sends instead for a non-JSON datacontenttype.
	Data       json.RawMessage `json:",omitempty"`
	DataBase64 string          `json:",omitempty"`
	Extensions map[string]any
	Raw        json.RawMessage
}

// resourceOwnerAccountID is the account the emulator answers as.
const resourceOwnerAccountID = "1234567890123456"

// busAttribute is the CloudEvents extension that names the event bus.
const busAttribute = "aliyuneventbusname"

// API is the name of the one API, as counted and as faults are keyed.
const API = "PutEvents"

// Config is what the service is built from.
type Config struct {
	Buses    []string       // the buses that exist; nil accepts any bus name
	Pipeline *rpc.Pipeline  // runs every request; required
	Verifier *sign.Verifier // checks signatures; required
}

// Service is the emulated EventBridge data plane. It is safe for concurrent
// use.
type Service struct {
	pipeline *rpc.Pipeline
	verifier *sign.Verifier
	buses    map[string]bool // nil: any bus exists

	mu     sync.Mutex         // guards events
	events map[string][]Event // by bus, in arrival order
}

// New builds the service from cfg.
func New(cfg Config) *Service {
	s := &Service{pipeline: cfg.Pipeline, verifier: cfg.Verifier, events: map[string][]Event{}}
	if cfg.Buses != nil {
		s.buses = map[string]bool{}
		for _, b := range cfg.Buses {
			s.buses[b] = true
		}
	}
	return s
}

// Register routes PutEvents to the service.
func (s *Service) Register(rt *rpc.Router) {
	rt.Handle("/openapi/putEvents", http.HandlerFunc(s.servePutEvents))
}

// Events returns the CloudEvents recorded on a bus, in arrival order.
func (s *Service) Events(bus string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events[bus])
}

// AllEvents returns the CloudEvents recorded on every bus.
func (s *Service) AllEvents() map[string][]Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make(map[string][]Event, len(s.events))
	for bus, evs := range s.events {
		all[bus] = slices.Clone(evs)
	}
	return all
}

var answer = rpc.Answer{OK: rpc.WriteOK, Fail: writeError, Errs: translate}

// Errors of the EventBridge data plane (its own codes and statuses).
var (
	errThrottled       = &rpc.Error{Status: http.StatusTooManyRequests, Code: "TooManyRequests", Message: "The request is denied by flow limiter for too many requests."}
	errAccessDenied    = &rpc.Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "The OwnerId that your Access Key Id associated to is forbidden for this operation."}
	errInvalidKey      = &rpc.Error{Status: http.StatusForbidden, Code: "InvalidAccessKeyId", Message: "The access Id you provided is not exist."}
	errInvalidStsKey   = &rpc.Error{Status: http.StatusForbidden, Code: "InvalidStsAccessKeyId", Message: "The sts access Id you provided is not exist."}
	errSignature       = &rpc.Error{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	errTokenInvalid    = &rpc.Error{Status: http.StatusForbidden, Code: "SecurityTokenInvalid", Message: "The Security token that your provide is invalid."}
	errMissingAuth     = &rpc.Error{Status: http.StatusForbidden, Code: "MissingAuthorization", Message: "The authorization header is missing or malformed."}
	errInternal        = &rpc.Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: "InternalError"}
	errUnavailable     = &rpc.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "The service is temporarily unavailable."}
	errTimestampFormat = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidTimeStamp.Format", Message: "The Date header is missing or not in RFC 1123 format."}
)

// translate maps the gateway-style errors of the signature checks and of
// the pipeline to their EventBridge equivalents.
func translate(e *rpc.Error) *rpc.Error {
	if e == sign.ErrSTSKeyNotFound {
		return errInvalidStsKey
	}
	switch e.Code {
	case sign.ErrKeyNotFound.Code, sign.ErrMissingAccessKey.Code:
		return errInvalidKey
	case sign.ErrSignatureMismatch.Code, sign.ErrSignatureMethod.Code:
		return errSignature
	case sign.ErrMissingSignature.Code, sign.ErrIncompleteSig.Code:
		return errMissingAuth
	case sign.ErrMissingToken.Code, sign.ErrTokenMismatch.Code:
		return errTokenInvalid
	case sign.ErrTimestampFormat.Code, sign.ErrMissingTimestamp.Code:
		return errTimestampFormat
	case rpc.ErrThrottlingUser.Code:
		return errThrottled
	case rpc.ErrForbiddenRAM.Code:
		return errAccessDenied
	case rpc.ErrInternal.Code:
		return errInternal
	case rpc.ErrUnavailable.Code:
		return errUnavailable
	}
	return e
}

// writeError writes the EventBridge data plane's error body, whose keys
// the SDK reads in lower camel case.
func writeError(w http.ResponseWriter, r *http.Request, requestID string, e *rpc.Error) {
	rpc.WriteJSON(w, e.Status, requestID, map[string]any{
		"requestId": requestID,
		"code":      e.Code,
		"message":   e.Message,
	})
}

// servePutEvents answers POST /openapi/putEvents, the call of the
// eventbridge-sdk's PutEvents: a JSON array of CloudEvents (structured
// mode), every one carrying its bus in the aliyuneventbusname extension.
func (s *Service) servePutEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, r, rpc.NewRequestID(), rpc.Errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "PutEvents takes POST."))
		return
	}
	for name := range r.URL.Query() {
		writeError(w, r, rpc.NewRequestID(), rpc.Errorf(http.StatusBadRequest, "InvalidArgument",
			"The query parameter %q is not implemented by the emulator; PutEvents takes its events in the body.", name))
		return
	}
	body, err := rpc.ReadBody(r)
	if err != nil {
		writeError(w, r, rpc.NewRequestID(), rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "The request body cannot be read: %v.", err))
		return
	}
	s.pipeline.Serve(w, r, rpc.Endpoint{
		API:    API,
		Answer: answer,
		Auth:   func() *rpc.Error { return s.verifier.EventBridge(r) },
		Handle: func(requestID string) (any, *rpc.Error) { return s.putEvents(requestID, body) },
		Hollow: func(answer any, nulls bool) any {
			m := answer.(map[string]any)
			m["EntryList"] = rpc.Hollowed(m["EntryList"], nulls)
			return m
		},
	})
}

// entry is one event's result in the PutEvents answer.
type entry struct {
	EventId      string
	TraceId      string
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// standardAttributes are the CloudEvents attributes that are not extensions.
var standardAttributes = []string{"id", "source", "specversion", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"}

// The limits of one PutEvents call (its API reference, /openapi/putEvents,
// "Limits"): at most 16 events, 256 KB (262,144 bytes) of them, and 64 KB an
// event, the sizes reckoned as EventBridge's "Calculate the size of events
// published by PutEvents" says (eventSize).
const (
	MaxEvents     = 16
	MaxEventBytes = 64 << 10
	MaxCallBytes  = 256 << 10
)

// putEvents records a batch of events on their bus. The batch names one bus
// that exists (else the whole request fails with 409, as the service does);
// an event without id, source or type fails alone. A batch past the limits
// (MaxEvents, MaxEventBytes, MaxCallBytes) fails as a whole with 400
// InvalidArgument. Assumptions, where the reference says nothing: an event too
// large fails the whole call, not alone (the harsher reading); a body that is one
// JSON object, not an array (the SDK always sends an array), is a batch of one.
func (s *Service) putEvents(requestID string, body []byte) (any, *rpc.Error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	if len(body) > 0 && body[0] == '{' {
		raws = []json.RawMessage{body}
	} else if err := json.Unmarshal(body, &raws); err != nil {
		return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "The request body is not a JSON array of CloudEvents.")
	}
	if len(raws) > MaxEvents {
		return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "A request may put at most %d events; this one has %d.", MaxEvents, len(raws))
	}

	events := make([]map[string]json.RawMessage, len(raws))
	var buses []string
	total := 0
	for i, raw := range raws {
		if json.Unmarshal(raw, &events[i]) != nil {
			events[i] = nil
		}
		if bus := attr(events[i], busAttribute); !slices.Contains(buses, bus) {
			buses = append(buses, bus)
		}
		size := eventSize(events[i])
		if size > MaxEventBytes {
			return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "The event [%s] has %d bytes, more than the %d an event may have.", attr(events[i], "id"), size, MaxEventBytes)
		}
		total += size
	}
	if total > MaxCallBytes {
		return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "The events of the request have %d bytes, more than the %d a request may put.", total, MaxCallBytes)
	}
	bus := ""
	switch {
	case len(buses) > 1:
		return nil, rpc.Errorf(http.StatusConflict, "PutEventsRequestMoreThanOneEventBus", "The put events request has more than one  event bus [%s] ", strings.Join(buses, ","))
	case len(buses) == 1:
		bus = buses[0]
		if bus == "" {
			return nil, rpc.Errorf(http.StatusConflict, "EventBusNameInvalid", "The event bus name [] is invalid!")
		}
		if s.buses != nil && !s.buses[bus] {
			return nil, rpc.Errorf(http.StatusConflict, "EventBusNotExist", "The event bus [%s] not existed!", bus)
		}
	}

	entries := make([]entry, 0, len(raws))
	var accepted []Event
	for i, m := range events {
		e := entry{EventId: attr(m, "id"), TraceId: newTraceID()}
		if absent := missingAttribute(m); absent != "" {
			e.ErrorCode, e.ErrorMessage = "InvalidArgument", "The attribute ["+absent+"] of the event is missing or not a string."
			entries = append(entries, e)
			continue
		}
		ev := Event{
			Bus: bus, Id: attr(m, "id"), Source: attr(m, "source"), SpecVersion: attr(m, "specversion"),
			Type: attr(m, "type"), Subject: attr(m, "subject"), Time: attr(m, "time"),
			DataContentType: attr(m, "datacontenttype"), DataSchema: attr(m, "dataschema"),
			Data: m["data"], DataBase64: attr(m, "data_base64"),
			Extensions: map[string]any{}, Raw: raws[i],
		}
		for k, v := range m {
			if !slices.Contains(standardAttributes, k) {
				var x any
				dec := json.NewDecoder(bytes.NewReader(v))
				dec.UseNumber()
				dec.Decode(&x)
				ev.Extensions[k] = x
			}
		}
		accepted = append(accepted, ev)
		entries = append(entries, e)
	}
	s.mu.Lock()
	s.events[bus] = append(s.events[bus], accepted...)
	s.mu.Unlock()

	return map[string]any{
		"RequestId":              requestID,
		"ResourceOwnerAccountId": resourceOwnerAccountID,
		"FailedEntryCount":       len(raws) - len(accepted),
		"EntryList":              entries,
	}, nil
}

// eventSize is the size of an event as EventBridge reckons it ("Calculate the size
// of events published by PutEvents"): 36 bytes for time, if present; the UTF-8 bytes
// of specversion, id, type, source, subject, dataschema and datacontenttype; the bytes
// of data (as sent; data_base64 decoded).
func eventSize(m map[string]json.RawMessage) int {
	size := 0
	if _, ok := m["time"]; ok {
		size += 36
	}
	for _, name := range []string{"specversion", "id", "type", "source", "subject", "dataschema", "datacontenttype"} {
		size += len(attr(m, name))
	}
	if d, ok := m["data"]; ok {
		size += len(d)
	}
	if b64 := attr(m, "data_base64"); b64 != "" {
		size += base64.StdEncoding.DecodedLen(len(b64))
	}
	return size
}

// attr returns a string attribute of an event, "" when absent or not a
// string.
func attr(m map[string]json.RawMessage, name string) string {
	var v string
	if raw, ok := m[name]; ok {
		json.Unmarshal(raw, &v)
	}
	return v
}

// missingAttribute names the first required attribute the event lacks.
func missingAttribute(m map[string]json.RawMessage) string {
	if m == nil {
		return "id"
	}
	for _, name := range []string{"id", "source", "type", "specversion"} {
		if attr(m, name) == "" {
			return name
		}
	}
	return ""
}

func newTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
