package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"detachkeypair/detach"
)

// Envelope is the kind of trigger payload an invocation carries.
type Envelope int

// The envelopes of the contract's trigger table.
const (
	Direct     Envelope = iota // the request itself
	HTTP                       // events.HTTPTriggerEvent; the request is its body
	CloudEvent                 // one CloudEvent from EventBridge; the request is its data
	EventBatch                 // a JSON array of CloudEvents, or of CloudEvent strings
	Timer                      // events.TimerEvent; the request is its payload string
)

func (e Envelope) String() string {
	return [...]string{"direct", "http", "cloudevent", "eventbatch", "timer"}[e]
}

// Classify tells which envelope a payload is, by its shape: an array is an EventBridge
// batch; an object with specversion a CloudEvent; with requestContext or rawPath an HTTP
// trigger event; with triggerTime or triggerName a timer event; anything else direct.
func Classify(payload []byte) Envelope {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return EventBatch
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(trimmed, &keys) != nil {
		return Direct
	}
	switch {
	case keys["specversion"] != nil:
		return CloudEvent
	case keys["requestContext"] != nil || keys["rawPath"] != nil && keys["headers"] != nil:
		return HTTP
	case keys["triggerTime"] != nil || keys["triggerName"] != nil:
		return Timer
	}
	return Direct
}

// item is one request of an invocation, as decoded from the trigger's payload: a
// valid request, or the error that answers it without calling the cloud.
type item struct {
	req     detach.Request
	err     *detach.Error
	keyPair string         // names the key pair in a failure event's subject: valid, or ""
	caller  *detach.Caller // who asked (audit.go)
	attrs   []any          // what else the item's log lines say of its trigger event
	own     bool           // an event from the function's own EVENT_SOURCE (loopguard.go): no result event
}

// decode turns a payload into the requests it carries: one, or one for each event of
// an EventBridge payload (many is then true, and the answer is an array). It calls
// nothing and takes no time worth counting, so that every request of a batch is
// decoded before the first one runs.
func (h *Handler) decode(payload []byte, env Envelope) (items []item, many bool) {
	if env == CloudEvent || env == EventBatch {
		events, err := eventsOf(payload, env)
		if err != nil {
			return []item{{err: err, caller: h.callerOf(env, payload)}}, false
		}
		items = make([]item, len(events))
		for i, raw := range events {
			items[i] = h.cloudEvent(raw) // each event has its own caller
		}
		return items, true
	}
	it := h.envelope(payload, env)
	it.caller = h.callerOf(env, payload)
	return []item{it}, false
}

// envelope decodes the one request of an HTTP, timer or direct payload.
func (h *Handler) envelope(payload []byte, env Envelope) item {
	switch env {
	case HTTP:
		body, method, err := httpBody(payload)
		switch {
		case err != nil:
			return item{err: err}
		case method != "" && method != http.MethodPost:
			return item{err: detach.InvalidParameter("Method", detach.Echo(method)+": send the request with POST"), keyPair: keyPairOf(body)}
		}
		return h.request(body)
	case Timer:
		req, err := timerPayload(payload)
		if err != nil {
			return item{err: err}
		}
		return h.request(req)
	}
	return h.request(payload)
}

// request decodes and checks one request given as JSON.
func (h *Handler) request(raw []byte) item {
	it := item{keyPair: keyPairOf(raw)}
	if len(raw) > h.cfg.MaxBodyBytes {
		it.err = detach.TooLarge(len(raw), h.cfg.MaxBodyBytes)
		return it
	}
	it.req, it.err = detach.ParseRequest(raw, h.cfg.MaxInstances)
	if it.err == nil {
		it.err = it.req.ForProduct(h.cfg.DefaultProduct)
	}
	return it
}

// cloudEvent decodes one CloudEvent: the request in its data, or, for an ECS instance event,
// a request for that instance with the key pair of the settings.
func (h *Handler) cloudEvent(raw json.RawMessage) item {
	ev, data, err := parseEvent(raw)
	caller := eventCaller(ev) // its source and id; the result event's id is result_event_id
	if err != nil {
		return item{err: err, caller: caller}
	}
	if err := refuseOwnEvent(ev, h.cfg.EventSource); err != nil {
		return item{err: err, own: true, caller: caller, attrs: []any{"trigger_event_type", detach.Clip(ev.Type), "trigger_event_subject", detach.Clip(ev.Subject)}}
	}
	if ev.Source != ecsEventSource {
		it := h.request(data)
		it.caller = caller
		return it
	}
	keyPair := h.cfg.KeyPairName
	if keyPair == "" {
		keyPair = h.cfg.KeyPairID
	}
	req, err := h.instanceEventRequest(ev, data)
	return item{req: req, err: err, keyPair: keyPair, caller: caller, attrs: []any{"trigger_event_type", detach.Clip(ev.Type)}}
}

// keyPairOf names the key pair of a request for the subject of a failure event, even
// when the request as a whole is invalid; only a valid name or id is taken, never raw
// input.
func keyPairOf(raw []byte) string {
	var r struct{ KeyPairName, KeyPairId string }
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	switch {
	case detach.ValidKeyPairName(r.KeyPairName):
		return r.KeyPairName
	case detach.ValidKeyPairID(r.KeyPairId):
		return r.KeyPairId
	}
	return ""
}

// httpBody returns the body of an HTTP trigger event, decoded from base64 if it is.
func httpBody(payload []byte) (body []byte, method string, err *detach.Error) {
	var ev events.HTTPTriggerEvent
	if e := json.Unmarshal(payload, &ev); e != nil {
		return nil, "", detach.InvalidParameter("Body", "the HTTP trigger event is not valid: "+e.Error())
	}
	if m := ev.TriggerContext.Http.Method; m != nil {
		method = strings.ToUpper(*m)
	}
	if ev.Body == nil {
		return nil, method, nil
	}
	if ev.IsBase64Encoded != nil && *ev.IsBase64Encoded {
		b, e := base64.StdEncoding.DecodeString(*ev.Body)
		if e != nil {
			return nil, method, detach.InvalidParameter("Body", "the body is marked base64 but is not valid base64")
		}
		return b, method, nil
	}
	return []byte(*ev.Body), method, nil
}

// cloudEvent is the part of a CloudEvent the function reads.
type cloudEvent struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
	RegionID    string          `json:"aliyunregionid"`
	AccountID   string          `json:"aliyunaccountid"`    // the account the event came from
	EventBus    string          `json:"aliyuneventbusname"` // the bus it was put on
	SpecVersion string          `json:"specversion"`
}

// eventsOf splits an EventBridge payload into its CloudEvents: one object, an array of
// objects, or an array of strings that each hold one (batch push).
func eventsOf(payload []byte, env Envelope) ([]json.RawMessage, *detach.Error) {
	if env == CloudEvent {
		return []json.RawMessage{payload}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(payload, &items); err != nil {
		return nil, detach.InvalidParameter("Body", "the event batch is not a JSON array: "+err.Error())
	}
	if len(items) == 0 {
		return nil, detach.InvalidParameter("Body", "the event batch is empty")
	}
	for i, it := range items {
		if t := bytes.TrimSpace(it); len(t) > 0 && t[0] == '"' {
			var s string
			if err := json.Unmarshal(t, &s); err != nil {
				return nil, detach.InvalidParameter("Body", fmt.Sprintf("event %d of the batch is not a valid string", i))
			}
			items[i] = json.RawMessage(s)
		}
	}
	return items, nil
}

// parseEvent decodes one CloudEvent and returns it with its data as request bytes: a
// JSON object as is, a JSON string holding JSON unquoted, data_base64 decoded.
func parseEvent(raw json.RawMessage) (cloudEvent, []byte, *detach.Error) {
	var ev cloudEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, nil, detach.InvalidParameter("Event", "not a CloudEvent: "+err.Error())
	}
	if ev.SpecVersion == "" {
		return ev, nil, detach.InvalidParameter("Event", "not a CloudEvent: specversion is missing")
	}
	switch d := bytes.TrimSpace(ev.Data); {
	case ev.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(ev.DataBase64)
		if err != nil {
			return ev, nil, detach.InvalidParameter("Event", "data_base64 is not valid base64")
		}
		return ev, b, nil
	case len(d) > 0 && d[0] == '"':
		var s string
		if err := json.Unmarshal(d, &s); err != nil {
			return ev, nil, detach.InvalidParameter("Event", "data is not a valid string")
		}
		return ev, []byte(s), nil
	case len(d) == 0 || string(d) == "null":
		return ev, nil, detach.InvalidParameter("Event", "the event has no data: its data must be the request")
	default:
		return ev, d, nil
	}
}

// timerPayload returns the payload string of a timer event.
func timerPayload(payload []byte) ([]byte, *detach.Error) {
	var ev events.TimerEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, detach.InvalidParameter("Body", "the timer event is not valid: "+err.Error())
	}
	if ev.Payload == nil || strings.TrimSpace(*ev.Payload) == "" {
		return nil, detach.InvalidParameter("Body", "the timer trigger has no payload: set its payload to a request")
	}
	return []byte(*ev.Payload), nil
}
