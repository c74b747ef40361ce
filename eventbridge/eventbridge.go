// Package eventbridge adapts EventBridge's PutEvents (github.com/alibabacloud-go/eventbridge-sdk)
// to the detach.Publisher interface: result events go to one event bus as CloudEvents.
package eventbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	ebsdk "github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	util "github.com/alibabacloud-go/tea-utils/service"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/aliyun"
	"detachkeypair/detach"
)

// Config says how to reach EventBridge and which bus to publish to.
type Config struct {
	Bus       string
	Region    string
	AccountID string
	// Endpoint overrides <account>.eventbridge.<region>.aliyuncs.com: a URL or a host.
	Endpoint    string
	Credentials *aliyun.Credentials // nil: the standard credential chain
	Timeout     time.Duration       // one call (default 5s)
}

// Publisher publishes result events to one bus. It is safe for concurrent use.
type Publisher struct {
	bus     string
	sdk     *ebsdk.Client
	timeout time.Duration
}

var _ detach.Publisher = (*Publisher)(nil)

// New returns a publisher for cfg.
func New(cfg Config) (*Publisher, error) {
	ep := cfg.Endpoint
	if ep == "" {
		if cfg.AccountID == "" || cfg.Region == "" {
			return nil, fmt.Errorf("EventBridge endpoint: the account id and region are unknown; set EVENTBRIDGE_ENDPOINT")
		}
		ep = fmt.Sprintf("%s.eventbridge.%s.aliyuncs.com", cfg.AccountID, cfg.Region)
	}
	host, protocol, err := aliyun.ParseEndpoint(ep)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c := &ebsdk.Config{
		Endpoint:       tea.String(host),
		Protocol:       tea.String(protocol),
		RegionId:       tea.String(cfg.Region),
		ReadTimeout:    tea.Int(int(timeout.Milliseconds())),
		ConnectTimeout: tea.Int(int(min(timeout, 3*time.Second).Milliseconds())),
	}
	cred, err := aliyun.Credential(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	c.Credential = cred
	sdk, err := ebsdk.NewClient(c)
	if err != nil {
		return nil, fmt.Errorf("EventBridge client: %s", aliyun.Redact(err.Error()))
	}
	return &Publisher{bus: cfg.Bus, sdk: sdk, timeout: timeout}, nil
}

// putMu serialises PutEvents calls in the process: the SDK's shared HTTP client
// rewrites its timeout on every call, racing with calls in flight. One event a request
// makes this no bottleneck.
var putMu sync.Mutex

// Publish sends one event to the bus. A call the bus refused, or an entry it failed,
// is a *detach.CloudError.
func (p *Publisher) Publish(ctx context.Context, ev detach.Event) error {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return err
	}
	ce := &ebsdk.CloudEvent{
		Id:              tea.String(ev.ID),
		Source:          tea.String(ev.Source),
		Specversion:     tea.String("1.0"),
		Type:            tea.String(ev.Type),
		Subject:         tea.String(ev.Subject),
		Time:            tea.String(ev.Time.Format(time.RFC3339Nano)),
		Datacontenttype: tea.String("application/json"),
		Extensions:      map[string]any{"aliyuneventbusname": p.bus},
		Data:            data,
	}
	// The SDK takes no context: bound the call by the time ctx has left.
	timeout := p.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return fmt.Errorf("PutEvents not sent: %w", context.DeadlineExceeded)
	}
	ms := tea.Int(int(max(timeout.Milliseconds(), 1)))
	putMu.Lock()
	defer putMu.Unlock()
	resp, err := p.sdk.PutEventsWithOptions([]*ebsdk.CloudEvent{ce}, &util.RuntimeOptions{
		Autoretry: tea.Bool(false), ReadTimeout: ms, ConnectTimeout: ms,
	})
	if err != nil {
		return aliyun.ToCloudError(context.Background(), "PutEvents", err)
	}
	if tea.IntValue(resp.FailedEntryCount) > 0 {
		for _, e := range resp.EntryList {
			if tea.StringValue(e.ErrorCode) != "" {
				return &detach.CloudError{Status: 200, Code: tea.StringValue(e.ErrorCode), Message: tea.StringValue(e.ErrorMessage), RequestID: tea.StringValue(resp.RequestId)}
			}
		}
		return &detach.CloudError{Status: 200, Code: "PutEventsFailed", Message: "the bus did not accept the event", RequestID: tea.StringValue(resp.RequestId)}
	}
	return nil
}
