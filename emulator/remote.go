package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Remote is an emulator running in another process (make emulator), seen
// through its admin API.
type Remote struct {
	URL    string       // its base URL, "http://127.0.0.1:8300"
	Client *http.Client // nil: http.DefaultClient
}

// Check reports whether an emulator answers at r.URL, with a message that
// says how to start one when none does.
func (r Remote) Check(ctx context.Context) error {
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("emulator URL %q: want http://HOST:PORT", r.URL)
	}
	var stats struct{ Calls map[string]int }
	if err := r.get(ctx, "/_emulator/calls", &stats); err != nil || stats.Calls == nil {
		return fmt.Errorf("no emulator answers at %s (start one with make emulator): %v", r.URL, err)
	}
	return nil
}

// Events returns the CloudEvents recorded on a bus, in arrival order.
func (r Remote) Events(ctx context.Context, bus string) ([]Event, error) {
	var evs []Event
	err := r.get(ctx, "/_emulator/events?bus="+url.QueryEscape(bus), &evs)
	return evs, err
}

func (r Remote) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(r.URL, "/")+path, nil)
	if err != nil {
		return err
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
