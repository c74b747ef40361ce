package detach

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pagedCloud is a fleetCloud whose listing (DescribeInstances without ids) answers the
// pages of script by token ("" the first), each instance as the cloud holds it now, and
// whose DescribeKeyPairs answers keyPairs (nil: fleetCloud's).
type pagedCloud struct {
	*fleetCloud
	script   map[string]scriptedPage
	keyPairs func(q KeyPairQuery) KeyPairPage
}

// scriptedPage is one page of a pagedCloud listing: its instances, and its NextToken.
type scriptedPage struct {
	ids  []string
	next string
}

func (c *pagedCloud) DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error) {
	if len(q.IDs) > 0 {
		return c.fleetCloud.DescribeInstances(ctx, q)
	}
	c.count(APIDescribeInstances)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.script[q.NextToken]
	p := InstancePage{NextToken: s.next}
	for _, id := range s.ids {
		p.Instances = append(p.Instances, c.in[id])
	}
	return p, nil
}

func (c *pagedCloud) DescribeKeyPairs(ctx context.Context, q KeyPairQuery) (KeyPairPage, error) {
	if c.keyPairs == nil {
		return c.fleetCloud.DescribeKeyPairs(ctx, q)
	}
	c.count(APIDescribeKeyPairs)
	return c.keyPairs(q), nil
}

func newPagedCloud(script map[string]scriptedPage) *pagedCloud {
	c := &pagedCloud{fleetCloud: newFleetCloud(true), script: script}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("i-%d", i)
		c.in[id] = Instance{ID: id, Status: StatusStopped, KeyPairName: "ops-2026", Tags: []Tag{{Key: "env", Value: "staging"}}}
	}
	return c
}

// TestTargetsPaging: a Targets selection goes past a page that is empty but carries a
// NextToken (a cloud may filter after paging), and fails as an invalid answer (503,
// InvalidResponse in the message) rather than loop when tokens come round again or two
// empty pages with a token follow each other; then nothing is detached. The context's
// timeout only keeps a looping run from hanging the test.
func TestTargetsPaging(t *testing.T) {
	for _, c := range []struct {
		name   string
		script map[string]scriptedPage
		fails  bool
	}{
		{"an empty page with a token", map[string]scriptedPage{"": {next: "a"}, "a": {ids: []string{"i-1", "i-2"}, next: "b"}, "b": {next: "c"}, "c": {ids: []string{"i-3"}}}, false},
		{"tokens that come round", map[string]scriptedPage{"": {ids: []string{"i-1"}, next: "a"}, "a": {ids: []string{"i-2"}, next: "b"}, "b": {ids: []string{"i-3"}, next: "a"}}, true},
		{"two empty pages with a token", map[string]scriptedPage{"": {ids: []string{"i-1"}, next: "a"}, "a": {next: "b"}, "b": {next: "c"}, "c": {ids: []string{"i-2"}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cloud := newPagedCloud(c.script)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := NewService(Options{}).Detach(ctx, cloud, Request{KeyPairName: "ops-2026", Targets: &Targets{Tags: []Tag{{Key: "env"}}}})
			if c.fails {
				if err == nil || err.Status != http.StatusServiceUnavailable || !strings.Contains(err.Message, CodeInvalidResponse) {
					t.Errorf("answer %+v, error %v; want 503 naming InvalidResponse", res, err)
				}
				if len(cloud.touched) != 0 || cloud.calls[APIDescribeInstances] > 5 {
					t.Errorf("DetachKeyPair touched %v after %d listing calls; want none after a few", cloud.touched, cloud.calls[APIDescribeInstances])
				}
				return
			}
			if err != nil || res.MatchedCount == nil || *res.MatchedCount != 3 || res.FailCount != 0 {
				t.Fatalf("answer %+v, error %v; want the 3 instances past the empty pages detached", res, err)
			}
			for id, in := range cloud.in {
				if in.KeyPairName != "" {
					t.Errorf("%s still bound", id)
				}
			}
		})
	}
}

// TestKeyPairPaging: a cloud that ignores DescribeKeyPairs' page number (every page the
// same full one, without a count) fails the request as an invalid answer after two pages,
// and so does one whose pages never end, at maxKeyPairPages; nothing else is called.
func TestKeyPairPaging(t *testing.T) {
	full := func(page int) KeyPairPage {
		p := KeyPairPage{}
		for i := range ECSKeyPairPage {
			p.KeyPairs = append(p.KeyPairs, KeyPair{Name: fmt.Sprintf("other-%d-%d", page, i)})
		}
		return p
	}
	for _, c := range []struct {
		name  string
		pages func(KeyPairQuery) KeyPairPage
		calls int
	}{
		{"page number ignored", func(KeyPairQuery) KeyPairPage { return full(1) }, 2},
		{"pages without end", func(q KeyPairQuery) KeyPairPage { return full(q.Page) }, maxKeyPairPages},
	} {
		t.Run(c.name, func(t *testing.T) {
			cloud := newPagedCloud(nil)
			cloud.keyPairs = c.pages
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := NewService(Options{QPS: 1e6}).Detach(ctx, cloud, Request{KeyPairName: "ops-2026", InstanceIds: []string{"i-1"}})
			if err == nil || err.Status != http.StatusServiceUnavailable || !strings.Contains(err.Message, CodeInvalidResponse) {
				t.Errorf("error %v; want 503 naming InvalidResponse", err)
			}
			if n := cloud.calls[APIDescribeKeyPairs]; n != c.calls || len(cloud.touched) != 0 {
				t.Errorf("%d DescribeKeyPairs calls, DetachKeyPair touched %v; want %d and none", n, cloud.touched, c.calls)
			}
			if cloud.in["i-1"].KeyPairName != "ops-2026" {
				t.Errorf("i-1 lost its key pair")
			}
		})
	}
}
