package emulator_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

const (
	hz      = "cn-hangzhou"
	idFmt   = "i-bp1d6tsvznfghy7y%04d"
	stsID   = "STS.NUgYrLnoC37mZZCNnAbezK9Pc"
	stsKey  = "StsSecretForEmulatorTests000001"
	stsTok  = "CAIS8gF1q6Ft5B2yfSjIr5bkKvfAutorMTests=="
	badBus  = "no-such-bus"
	testBus = "detach-results"
)

// start runs an emulator on a free loopback port for the test.
func start(t *testing.T, cfg emulator.Config) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

type openapiConfig = openapi.Config

// style is a signature style of the ECS SDK.
type style struct {
	name string
	opt  func(*openapi.Config)
}

// styles are the two signatures the Go SDK can send: V3 (ACS3-HMAC-SHA256,
// the default) and the RPC HMAC-SHA1 one (SignatureAlgorithm "v2").
var styles = []style{
	{"ACS3", func(*openapi.Config) {}},
	{"RPC-v2", func(c *openapi.Config) { c.SignatureAlgorithm = tea.String("v2") }},
}

// ecsClient is a real ECS SDK client pointed at the emulator.
func ecsClient(t *testing.T, srv *emulator.Server, opts ...func(*openapi.Config)) *ecs.Client {
	t.Helper()
	cfg := &openapi.Config{
		Endpoint:        tea.String(srv.Endpoint()),
		Protocol:        tea.String("http"),
		AccessKeyId:     tea.String(emulator.DefaultAccessKeyID),
		AccessKeySecret: tea.String(emulator.DefaultAccessKeySecret),
		RegionId:        tea.String(hz),
	}
	for _, o := range opts {
		o(cfg)
	}
	c, err := ecs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sdkHTTP is an HTTP client for the SDK that is safe for concurrent use.
// The SDK's default one is not: tea/dara writes the Timeout of a pooled
// http.Client shared by every client of the same endpoint on each call, and
// go test -race reports it.
type sdkHTTP struct{ c *http.Client }

func (h sdkHTTP) Call(r *http.Request, _ *http.Transport) (*http.Response, error) { return h.c.Do(r) }

var sharedHTTP = sdkHTTP{&http.Client{Timeout: 30 * time.Second}}

// concurrent makes an ECS client usable from several goroutines' calls at
// once, as far as the transport goes; one client still must not be shared
// (its Client.Headers field is written on each RPC call).
func concurrent(c *openapi.Config) { c.HttpClient = sharedHTTP }

func withKey(id, secret, token string) func(*openapi.Config) {
	return func(c *openapi.Config) {
		c.AccessKeyId, c.AccessKeySecret = tea.String(id), tea.String(secret)
		if token != "" {
			c.SecurityToken = tea.String(token)
		}
	}
}

// ebClient is a real EventBridge SDK client pointed at the emulator.
func ebClient(t *testing.T, srv *emulator.Server, id, secret, token string) *eventbridge.Client {
	t.Helper()
	cfg := &eventbridge.Config{
		Endpoint:        tea.String(srv.Endpoint()),
		Protocol:        tea.String("http"),
		AccessKeyId:     tea.String(id),
		AccessKeySecret: tea.String(secret),
		RegionId:        tea.String(hz),
	}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	c, err := eventbridge.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sdkError returns the error code and HTTP status of an SDK error; ok is
// false when the call got no answer at all (a dropped connection).
func sdkError(err error) (code string, status int, ok bool) {
	var se *tea.SDKError
	if !errors.As(err, &se) {
		return "", 0, false
	}
	return tea.StringValue(se.Code), tea.IntValue(se.StatusCode), true
}

// wantError fails the test unless err is an answer with code and status
// (status 0: any).
func wantError(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %s", code)
	}
	got, gotStatus, ok := sdkError(err)
	if !ok || got != code || (status != 0 && gotStatus != status) {
		t.Fatalf("error = %v (code %q, status %d), want %s %d", err, got, gotStatus, code, status)
	}
}
