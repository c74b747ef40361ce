// Package eventbridge adapts EventBridge's PutEvents to the detach.Publisher interface:
// result events go to one event bus as CloudEvents.
//
// The requests are the ones github.com/alibabacloud-go/eventbridge-sdk v1.3.3 sends
// (its CloudEvent model, its serialisation and signature from eventbridge-util), but
// they go out through the adapter's own HTTP client, as the ecs adapter's do. The SDK's
// client cannot be given one: its DoRequest hands tea.DoRequest a runtime without an
// HTTP client, so every call takes a client from tea's process-wide pool, keyed by the
// call's timeouts. That pool makes a new client, with a new transport and connections
// kept forever, for every distinct timeout (and the adapter's timeout is the time left
// before the deadline, different on every call); it rewrites a shared client's timeout
// while other calls use it (a data race); it takes no context, so a call cannot be cut
// at the deadline; and its errors drop the HTTP status of the answer.
package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	ebsdk "github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	ebutil "github.com/alibabacloud-go/eventbridge-util/client"
	util "github.com/alibabacloud-go/tea-utils/service"
	"github.com/alibabacloud-go/tea/tea"
	credential "github.com/aliyun/credentials-go/credentials"

	"detachkeypair/aliyun"
	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/endpoint"
	"detachkeypair/redact"
)

// Config says how to reach EventBridge and which bus to publish to.
type Config struct {
	Bus       string
	Region    string
	AccountID string
	// Endpoint overrides <account>.eventbridge.<region>.aliyuncs.com: a URL or a host.
	Endpoint    string
	Credentials *credentials.AccessKey // nil: the standard credential chain
	Timeout     time.Duration          // one call, at most (default 5s); the context's deadline bounds it too
}

// api is the data-plane call the adapter makes: its RAM action (eventbridge:PutEvents)
// and its path.
var api = struct{ Action, Pathname string }{Action: "PutEvents", Pathname: "/openapi/putEvents"}

// Limits of one PutEvents call, as its API reference gives them: at most 16 events a
// call, 256 KB of them (its limits page now says 1 MB: the harsher is kept), and 64 KB
// an event (as the CloudEvents specification advises), sizes reckoned as EventBridge's
// "Calculate the size of events published by PutEvents" says (detach.Event.Size).
var limits = detach.PublishLimits{Events: 16, Bytes: 256 << 10, EventBytes: 64 << 10}

// Publisher publishes result events to one bus. It is safe for concurrent use.
type Publisher struct {
	bus       string
	region    string
	host      string // with port
	url       string // of PutEvents
	cred      credential.Credential
	timeout   time.Duration
	userAgent string
}

var _ detach.Publisher = (*Publisher)(nil)

// client sends every publisher's requests, over the process's shared transport.
var client = &http.Client{Transport: aliyun.Transport()}

// New returns a publisher for cfg.
func New(cfg Config) (*Publisher, error) {
	ep := cfg.Endpoint
	if ep == "" {
		if cfg.AccountID == "" || cfg.Region == "" {
			return nil, fmt.Errorf("EventBridge endpoint: the account id and region are unknown; set EVENTBRIDGE_ENDPOINT")
		}
		ep = fmt.Sprintf("%s.eventbridge.%s.aliyuncs.com", cfg.AccountID, cfg.Region)
	}
	host, protocol, err := endpoint.Parse(ep)
	if err != nil {
		return nil, err
	}
	cred, err := aliyun.Credential(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Publisher{bus: cfg.Bus, region: cfg.Region, host: host, url: protocol + "://" + host + api.Pathname,
		cred: cred, timeout: timeout, userAgent: tea.StringValue(util.GetUserAgent(tea.String(" aliyun-eventbridge-sdk/1.2.0")))}, nil
}

// Limits are EventBridge's for one PutEvents call.
func (p *Publisher) Limits() detach.PublishLimits { return limits }

// Publish sends evs to the bus in one PutEvents call, within ctx. A call the bus
// refused, or that got no answer, is a *detach.CloudError with the HTTP status the bus
// answered (0: none); events the bus refused one by one are *detach.RefusedEvents.
func (p *Publisher) Publish(ctx context.Context, evs []detach.Event) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := p.request(ctx, evs)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s cut short: %w", api.Action, ctx.Err())
		}
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) { // *url.Error: keep the cause, not the URL
			err = ue.Unwrap()
		}
		return &detach.CloudError{Message: redact.Text(api.Action + ": " + err.Error())}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s cut short: %w", api.Action, ctx.Err())
		}
		return &detach.CloudError{Message: redact.Text(api.Action + " answer cut: " + err.Error())}
	}
	if resp.StatusCode >= 300 {
		var e struct{ RequestId, Code, Message string }
		if json.Unmarshal(body, &e) != nil || e.Code == "" {
			e.Code, e.Message = http.StatusText(resp.StatusCode), "the answer is not an EventBridge error"
		}
		return &detach.CloudError{Status: resp.StatusCode, Code: e.Code, Message: redact.Text(e.Message), RequestID: e.RequestId}
	}
	var out ebsdk.PutEventsResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return &detach.CloudError{Status: resp.StatusCode, Code: detach.CodeInvalidResponse, Message: "the PutEvents answer is not JSON"}
	}
	if tea.IntValue(out.FailedEntryCount) == 0 {
		return nil
	}
	refused := &detach.RefusedEvents{Errs: make([]error, len(evs))}
	for i := range evs {
		var e *ebsdk.PutEventsResponseEntry
		if i < len(out.EntryList) {
			e = out.EntryList[i]
		}
		switch {
		case e == nil:
			refused.Errs[i] = &detach.CloudError{Status: http.StatusBadGateway, Code: "PutEventsFailed", Message: "the bus did not say whether it took the event", RequestID: tea.StringValue(out.RequestId)}
		case tea.StringValue(e.ErrorCode) != "":
			code := tea.StringValue(e.ErrorCode) // an entry has no status of its own
			refused.Errs[i] = &detach.CloudError{Status: aliyun.StatusOf(code), Code: code, Message: redact.Text(tea.StringValue(e.ErrorMessage)), RequestID: tea.StringValue(out.RequestId)}
		}
	}
	return refused
}

// request builds the signed PutEvents request as the SDK does (its DoRequest, for
// action putEvents): the events serialised by eventbridge-util, the headers it sends,
// and its signature over them.
func (p *Publisher) request(ctx context.Context, evs []detach.Event) (*http.Request, error) {
	events := make([]*ebsdk.CloudEvent, len(evs))
	for i, ev := range evs {
		events[i] = &ebsdk.CloudEvent{
			Id:              tea.String(ev.ID),
			Source:          tea.String(ev.Source),
			Specversion:     tea.String("1.0"),
			Type:            tea.String(ev.Type),
			Subject:         tea.String(ev.Subject),
			Time:            tea.String(ev.Time.Format(time.RFC3339Nano)),
			Datacontenttype: tea.String("application/json"),
			Extensions:      map[string]any{"aliyuneventbusname": p.bus},
			Data:            ev.Data,
		}
		if err := util.ValidateModel(events[i]); err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	body, err := json.Marshal(ebutil.Serialize(events))
	if err != nil {
		return nil, err
	}
	creds, err := p.cred.GetCredential()
	if err != nil {
		return nil, fmt.Errorf("EventBridge credentials: %s", redact.Text(err.Error()))
	}
	r := tea.NewRequest()
	r.Method, r.Pathname = tea.String(http.MethodPost), tea.String(api.Pathname)
	r.Headers = map[string]*string{
		"date":                    util.GetDateUTCString(),
		"host":                    tea.String(p.host),
		"accept":                  tea.String("application/json"),
		"x-acs-signature-nonce":   util.GetNonce(),
		"x-acs-signature-method":  tea.String("HMAC-SHA1"),
		"x-acs-signature-version": tea.String("1.0"),
		"x-eventbridge-version":   tea.String("2015-06-06"),
		"user-agent":              tea.String(p.userAgent),
		"content-type":            tea.String("application/cloudevents-batch+json; charset=utf-8"),
	}
	if p.region != "" {
		r.Headers["x-eventbridge-regionId"] = tea.String(p.region)
	}
	if tea.StringValue(creds.SecurityToken) != "" {
		r.Headers["x-acs-accesskey-id"] = creds.AccessKeyId
		r.Headers["x-acs-security-token"] = creds.SecurityToken
	}
	signature := ebutil.GetSignature(ebutil.GetStringToSign(r), creds.AccessKeySecret)
	r.Headers["authorization"] = tea.String("acs:" + tea.StringValue(creds.AccessKeyId) + ":" + tea.StringValue(signature))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Host = p.host
	for k, v := range r.Headers {
		switch k {
		case "host":
		case "user-agent":
			req.Header.Set("User-Agent", tea.StringValue(v))
		default:
			req.Header[k] = []string{tea.StringValue(v)} // as the SDK sends them: lower case
		}
	}
	return req, nil
}
