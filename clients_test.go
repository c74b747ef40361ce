package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/handler"
	"detachkeypair/settings"
)

// testWire is the function's wiring with endpoints that are never called: making a
// client calls no API.
func testWire(t *testing.T) *clientsUnderTest {
	t.Helper()
	env := map[string]string{"ECS_ENDPOINT": "http://127.0.0.1:1", "ENS_ENDPOINT": "http://127.0.0.1:1",
		"EVENTBRIDGE_ENDPOINT": "http://127.0.0.1:1", "FC_ENDPOINT": "http://127.0.0.1:1", "EVENT_BUS": "detach-results"}
	cfg, err := settings.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c := wire(cfg, slog.New(slog.DiscardHandler))
	return &clientsUnderTest{t, c}
}

// clientsUnderTest is main's wiring (all) in a test t.
type clientsUnderTest struct {
	t   *testing.T
	all handler.Config
}

func (c *clientsUnderTest) cloud(product, region string, creds *credentials.AccessKey) detach.Cloud {
	c.t.Helper()
	cloud, err := c.all.Clouds(product, region, creds)
	if err != nil {
		c.t.Fatal(err)
	}
	return cloud
}

// fake returns fake STS credentials; the same n gives the same values.
func fake(n int) *credentials.AccessKey {
	return &credentials.AccessKey{AccessKeyID: fmt.Sprintf("STS.TestOnlyKeyId%04d", n),
		AccessKeySecret: fmt.Sprintf("TestOnlySecretNotReal%04d", n), SecurityToken: fmt.Sprintf("CAISTestOnlyToken%04d", n)}
}

// TestCloudsReuseClients: the Clouds factory gives the same client for the same
// product, region and credentials (the same values in a new struct, as each invocation
// brings), and a new one when any of them changes: STS rotated the token, or the
// secret, or another region or product.
func TestCloudsReuseClients(t *testing.T) {
	w := testWire(t)
	first := w.cloud(detach.ProductECS, "cn-hangzhou", fake(1))
	if got := w.cloud(detach.ProductECS, "cn-hangzhou", fake(1)); got != first {
		t.Error("same product, region and credentials: a new client")
	}
	rotated := fake(1)
	rotated.SecurityToken = "CAISTestOnlyTokenRotated"
	newSecret := fake(1)
	newSecret.AccessKeySecret = "TestOnlySecretNotRealNew"
	seen := map[detach.Cloud]string{first: "first"}
	for name, c := range map[string]detach.Cloud{
		"rotated token":  w.cloud(detach.ProductECS, "cn-hangzhou", rotated),
		"another secret": w.cloud(detach.ProductECS, "cn-hangzhou", newSecret),
		"other keys":     w.cloud(detach.ProductECS, "cn-hangzhou", fake(2)),
		"the chain":      w.cloud(detach.ProductECS, "cn-hangzhou", nil),
		"other region":   w.cloud(detach.ProductECS, "cn-shanghai", fake(1)),
		"ENS":            w.cloud(detach.ProductENS, "", fake(1)),
	} {
		if prev, ok := seen[c]; ok {
			t.Errorf("%s: the client of %s", name, prev)
		}
		seen[c] = name
	}
	if w.cloud(detach.ProductECS, "cn-hangzhou", rotated) != w.cloud(detach.ProductECS, "cn-hangzhou", rotated) {
		t.Error("rotated credentials: a new client each time")
	}
	if w.cloud(detach.ProductECS, "cn-hangzhou", nil) != w.cloud(detach.ProductECS, "cn-hangzhou", nil) {
		t.Error("the credential chain: a new client each time")
	}
	if _, err := w.all.Clouds("EC2", "cn-hangzhou", fake(1)); err == nil {
		t.Error("an unknown product got a client")
	}
}

// TestPublishersAndInvokersReuse: the EventBridge publisher and FC's invoker are kept
// likewise, per region, account (and function) and credentials.
func TestPublishersAndInvokersReuse(t *testing.T) {
	w := testWire(t).all
	p1, err1 := w.Publishers("cn-hangzhou", "1234567890", fake(1))
	p2, err2 := w.Publishers("cn-hangzhou", "1234567890", fake(1))
	p3, err3 := w.Publishers("cn-hangzhou", "1234567890", fake(2))
	i1, err4 := w.Invokers("cn-hangzhou", "1234567890", "detach-keypair", fake(1))
	i2, err5 := w.Invokers("cn-hangzhou", "1234567890", "detach-keypair", fake(1))
	i3, err6 := w.Invokers("cn-hangzhou", "1234567890", "other-function", fake(1))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || p1 == p3 {
		t.Errorf("publishers: same credentials shared %v, rotated ones shared %v; want true, false", p1 == p2, p1 == p3)
	}
	if i1 != i2 || i1 == i3 {
		t.Errorf("invokers: same function shared %v, another function shared %v; want true, false", i1 == i2, i1 == i3)
	}
}

// TestCloudsConcurrent: requests that ask for the same client at once all get one and
// the same (go test -race).
func TestCloudsConcurrent(t *testing.T) {
	w := testWire(t)
	const n = 16
	got := make([]detach.Cloud, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			region := []string{"cn-hangzhou", "cn-beijing"}[i%2]
			c, err := w.all.Clouds(detach.ProductECS, region, fake(i%2))
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		})
	}
	wg.Wait()
	for i := 2; i < n; i++ {
		if got[i] != got[i%2] {
			t.Errorf("request %d: another client than request %d's", i, i%2)
		}
	}
	if got[0] == got[1] {
		t.Error("two regions share a client")
	}
}

// TestClientCacheBound: the cache holds at most maxClients clients, keeps serving past
// that, and keeps no failed client.
func TestClientCacheBound(t *testing.T) {
	var c clientCache
	made := 0
	newClient := func() (*int, error) { made++; v := made; return &v, nil }
	for i := range 3 * maxClients {
		if _, err := cached(&c, clientKey{api: "ECS", region: fmt.Sprint("r", i)}, newClient); err != nil {
			t.Fatal(err)
		}
		if len(c.clients) > maxClients {
			t.Fatalf("%d clients held, more than %d", len(c.clients), maxClients)
		}
	}
	k := clientKey{api: "ECS", region: "again"}
	a, _ := cached(&c, k, newClient)
	if b, _ := cached(&c, k, newClient); a != b {
		t.Error("past the bound: a new client for the same key")
	}
	bad := clientKey{api: "ECS", region: "bad"}
	fail := errors.New("no client")
	if _, err := cached(&c, bad, func() (*int, error) { return nil, fail }); err != fail {
		t.Fatalf("err = %v", err)
	}
	if v, err := cached(&c, bad, newClient); err != nil || v == nil {
		t.Errorf("after a failure: %v, %v; want a new client", v, err)
	}
}

// TestIdentityHoldsNoSecret: the cache key tells credentials apart by all three values,
// and shows none of them.
func TestIdentityHoldsNoSecret(t *testing.T) {
	c := fake(3)
	k := clientKey{api: "ECS", creds: identity(c)}
	s := fmt.Sprintf("%v %+v %#v", k, k, k)
	for _, secret := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken} {
		for _, form := range []string{secret, fmt.Sprintf("%x", secret)} {
			if strings.Contains(s, form) {
				t.Errorf("the key shows %q", secret)
			}
		}
	}
	if identity(nil) != ([32]byte{}) || identity(c) == identity(fake(4)) {
		t.Error("identity does not tell credentials apart")
	}
	// the length prefix: moving a character from one value to the next changes the key
	a := &credentials.AccessKey{AccessKeyID: "STS.ab", AccessKeySecret: "cdefghij"}
	b := &credentials.AccessKey{AccessKeyID: "STS.abc", AccessKeySecret: "defghij"}
	if identity(a) == identity(b) {
		t.Error("identity joins the values without telling where each ends")
	}
}
