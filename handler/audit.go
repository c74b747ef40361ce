package handler

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"detachkeypair/detach"
	"detachkeypair/redact"
)

// The audit record of a request: who and what asked, as far as the trigger tells
// (detach.Caller). It goes into the answer, the result event's data and the request's
// log lines (the "caller" group). It is read from the envelope's metadata only, never
// from the request's body, and it never holds a credential, token, cookie or signature:
// of the HTTP headers only those JWT_CLAIM_PASS_BY names are read, which settings.Load
// keeps apart from Authorization, Cookie and FC's own x-fc- headers.

// Caller.Trigger values.
const (
	triggerHTTP        = "http"
	triggerEventBridge = "eventbridge"
	triggerTimer       = "timer"
	triggerDirect      = "direct"
)

// callerOf reads the caller of an invocation from its envelope. For EventBridge, each
// event of a batch has its own (eventCaller); this is the invocation's, for an answer
// to a batch that could not be split into events.
func (h *Handler) callerOf(env Envelope, payload []byte) *detach.Caller {
	switch env {
	case HTTP:
		return h.httpCaller(payload)
	case CloudEvent, EventBatch:
		return &detach.Caller{Trigger: triggerEventBridge}
	case Timer:
		var ev struct {
			TriggerName string `json:"triggerName"`
		}
		_ = json.Unmarshal(payload, &ev) // a broken timer event is refused by timerPayload
		return &detach.Caller{Trigger: triggerTimer, TriggerName: auditValue(ev.TriggerName)}
	}
	return &detach.Caller{Trigger: triggerDirect}
}

// httpCaller reads what FC's HTTP trigger tells of the client: its address and user
// agent, and the claims of a verified JWT the trigger passes in the JWT_CLAIM_PASS_BY
// headers.
func (h *Handler) httpCaller(payload []byte) *detach.Caller {
	c := &detach.Caller{Trigger: triggerHTTP}
	var ev struct {
		Headers        map[string]string `json:"headers"`
		RequestContext struct {
			HTTP struct {
				SourceIP  string `json:"sourceIp"`
				UserAgent string `json:"userAgent"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return c // refused by httpBody; nothing of it can be trusted
	}
	c.SourceIP = auditValue(ev.RequestContext.HTTP.SourceIP)
	c.UserAgent = auditValue(ev.RequestContext.HTTP.UserAgent)
	for _, claim := range h.cfg.JWTClaims {
		if v, ok := header(ev.Headers, claim.Header); ok && v != "" {
			if c.Identity == nil {
				c.Identity = map[string]string{}
			}
			c.Identity[claim.Claim] = auditValue(v)
		}
	}
	return c
}

// header looks a header up by name, whatever the case of the names in the event.
func header(headers map[string]string, name string) (string, bool) {
	if v, ok := headers[name]; ok {
		return v, true
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// eventCaller reads the caller of one EventBridge event from its attributes.
func eventCaller(ev cloudEvent) *detach.Caller {
	return &detach.Caller{
		Trigger:     triggerEventBridge,
		EventSource: auditValue(ev.Source),
		EventID:     auditValue(ev.ID),
		AccountID:   auditValue(ev.AccountID),
		EventBus:    auditValue(ev.EventBus),
	}
}

// maxAuditValue is the most bytes of one audit field: enough for any address, agent or
// claim, little enough that a client cannot fill the logs through them.
const maxAuditValue = 256

// jwtShape is a JSON Web Token (three base64url parts, the first a JSON object).
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)

// auditValue makes a value the client controls fit for the audit record: no control
// characters, at most maxAuditValue bytes, and nothing shaped like a secret or a token.
func auditValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = jwtShape.ReplaceAllString(redact.Text(strings.TrimSpace(s)), "[redacted]")
	if len(s) > maxAuditValue {
		cut := maxAuditValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// withCaller returns the task with its caller, whose fields every log line of the
// request then carries (the "caller" group).
func (t task) withCaller(c *detach.Caller) task {
	t.caller = c
	t.log = t.log.With("caller", c)
	return t
}
