package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
