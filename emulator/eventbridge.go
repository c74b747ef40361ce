package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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

var ebAnswer = answer{ok: writeECSOK, fail: writeEBError, errs: ebError}

// writeEBError writes the EventBridge data plane's error body, whose keys
// the SDK reads in lower camel case.
func writeEBError(w http.ResponseWriter, r *http.Request, requestID string, e *apiError) {
	writeJSON(w, e.Status, requestID, map[string]any{
		"requestId": requestID,
		"code":      e.Code,
		"message":   e.Message,
		"success":   false,
	})
}

// servePutEvents answers POST /openapi/putEvents, the call of the
// eventbridge-sdk's PutEvents: a JSON array of CloudEvents (structured
// mode), every one carrying its bus in the aliyuneventbusname extension.
func (s *Server) servePutEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeEBError(w, r, newRequestID(), errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "PutEvents takes POST."))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeEBError(w, r, newRequestID(), errorf(http.StatusBadRequest, "InvalidArgument", "The request body cannot be read: %v.", err))
		return
	}
	s.serve(w, r, APIPutEvents, ebAnswer,
		func() *apiError { return s.authEventBridge(r) },
		func(requestID string) (any, *apiError) { return s.putEvents(requestID, body) })
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

// putEvents records a batch of events on their bus. The batch names one bus
// that exists (else the whole request fails with 409, as the service does);
// an event without id, source or type fails alone.
func (s *Server) putEvents(requestID string, body []byte) (any, *apiError) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	if len(body) > 0 && body[0] == '{' {
		raws = []json.RawMessage{body}
	} else if err := json.Unmarshal(body, &raws); err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "The request body is not a JSON array of CloudEvents.")
	}

	events := make([]map[string]json.RawMessage, len(raws))
	var buses []string
	for i, raw := range raws {
		if json.Unmarshal(raw, &events[i]) != nil {
			events[i] = nil
		}
		if bus := attr(events[i], busAttribute); !slices.Contains(buses, bus) {
			buses = append(buses, bus)
		}
	}
	bus := ""
	switch {
	case len(buses) > 1:
		return nil, errorf(http.StatusConflict, "PutEventsRequestMoreThanOneEventBus", "The put events request has more than one  event bus [%s] ", strings.Join(buses, ","))
	case len(buses) == 1:
		bus = buses[0]
		if bus == "" {
			return nil, errorf(http.StatusConflict, "EventBusNameInvalid", "The event bus name [] is invalid!")
		}
		if s.buses != nil && !s.buses[bus] {
			return nil, errorf(http.StatusConflict, "EventBusNotExist", "The event bus [%s] not existed!", bus)
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
