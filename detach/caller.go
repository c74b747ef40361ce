package detach

import (
	"log/slog"
	"maps"
	"slices"
)

// Caller says who and what asked for a request, as far as its trigger tells: the
// audit record that every answer, result event and log line of the request carries.
// The handler fills it from the trigger's envelope; it holds no secret (no credential,
// token, cookie or signature) and no body, and fields the trigger does not tell are
// empty.
type Caller struct {
	// Trigger is the kind of trigger: http, eventbridge, timer or direct.
	Trigger string `json:"Trigger"`

	// HTTP: the client's address and user agent as FC saw them, and the claims of a
	// JWT that the trigger verified and passed on (JWT_CLAIM_PASS_BY), by claim name.
	SourceIP  string            `json:"SourceIp,omitempty"`
	UserAgent string            `json:"UserAgent,omitempty"`
	Identity  map[string]string `json:"Identity,omitempty"`

	// EventBridge: the event's source and id, the account it came from
	// (aliyunaccountid) and the bus it was put on (aliyuneventbusname).
	EventSource string `json:"EventSource,omitempty"`
	EventID     string `json:"EventId,omitempty"`
	AccountID   string `json:"AccountId,omitempty"`
	EventBus    string `json:"EventBus,omitempty"`

	// Timer: the name of the trigger.
	TriggerName string `json:"TriggerName,omitempty"`
}

// LogValue makes a Caller a group of its non-empty fields in the request's log lines.
func (c *Caller) LogValue() slog.Value {
	if c == nil {
		return slog.GroupValue()
	}
	var attrs []slog.Attr
	add := func(key, value string) {
		if value != "" {
			attrs = append(attrs, slog.String(key, value))
		}
	}
	add("trigger", c.Trigger)
	add("source_ip", c.SourceIP)
	add("user_agent", c.UserAgent)
	if len(c.Identity) > 0 {
		claims := make([]any, 0, len(c.Identity))
		for _, name := range slices.Sorted(maps.Keys(c.Identity)) {
			claims = append(claims, slog.String(name, c.Identity[name]))
		}
		attrs = append(attrs, slog.Group("identity", claims...))
	}
	add("event_source", c.EventSource)
	add("event_id", c.EventID)
	add("account_id", c.AccountID)
	add("event_bus", c.EventBus)
	add("trigger_name", c.TriggerName)
	return slog.GroupValue(attrs...)
}
