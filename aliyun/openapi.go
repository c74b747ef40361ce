package aliyun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/endpoint"
	"detachkeypair/redact"
)

// APIConfig says how to reach one product's OpenAPI (ECS, ENS, FC) through a darabonba SDK
// client.
type APIConfig struct {
	Region string // the SDK's RegionId ("" for a product without API regions)
	// Endpoint is an endpoint setting: a URL (http://127.0.0.1:8300) or a bare host
	// name, which means https. "" means DefaultEndpoint.
	Endpoint string
	// DefaultEndpoint is the host used when Endpoint is "" ("" leaves the choice to the
	// SDK, which derives it from the product and the region).
	DefaultEndpoint string
	// Credentials to sign with; nil means the standard Alibaba Cloud credential chain.
	Credentials *credentials.AccessKey
}

// callTimeout bounds one HTTP call; the context's deadline bounds it too.
const callTimeout = 30 * time.Second

// httpClient is the SDK's HTTP client interface over the shared Transport.
type httpClient struct{ c *http.Client }

func (h httpClient) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	return h.c.Do(req)
}

// OpenAPIConfig returns the SDK configuration for c: endpoint and protocol, credentials,
// timeouts, and the shared Transport.
func OpenAPIConfig(c APIConfig) (*openapiutil.Config, error) {
	oc := &openapiutil.Config{Protocol: tea.String("https")}
	if c.Region != "" {
		oc.RegionId = tea.String(c.Region)
	}
	if ep := c.Endpoint; ep != "" || c.DefaultEndpoint != "" {
		if ep == "" {
			ep = c.DefaultEndpoint
		}
		host, protocol, err := endpoint.Parse(ep)
		if err != nil {
			return nil, err
		}
		oc.Endpoint, oc.Protocol = tea.String(host), tea.String(protocol)
	}
	cred, err := Credential(c.Credentials)
	if err != nil {
		return nil, err
	}
	oc.Credential = cred
	oc.ReadTimeout = tea.Int(int(callTimeout.Milliseconds()))
	oc.ConnectTimeout = tea.Int(int(connectTimeout.Milliseconds()))
	oc.HttpClient = httpClient{&http.Client{Transport: transport, Timeout: callTimeout}}
	return oc, nil
}

// Caller is what every darabonba SDK client has: the generic call of an API named by
// its Params.
type Caller interface {
	CallApiWithCtx(ctx context.Context, params *openapiutil.Params, request *openapiutil.OpenApiRequest, runtime *dara.RuntimeOptions) (map[string]any, error)
}

// Clients lends the SDK clients of one product and configuration. It is safe for
// concurrent use, although the SDK's clients are not (each call writes the client's
// Headers field): every call borrows a client of its own from a pool.
type Clients[C Caller] struct {
	// Errors turns an SDK error of CallRPC or CallROA into the domain's; nil means
	// ToCloudError(ctx, product, err). Set it before the first call.
	Errors func(ctx context.Context, err error) error

	product   string
	config    *openapiutil.Config
	newClient func(*openapiutil.Config) (C, error)
	pool      sync.Pool // of C
}

// NewClients returns the clients of a product made by newClient (the SDK's NewClient)
// from cfg. It makes one now, so that a bad configuration fails here.
func NewClients[C Caller](product string, cfg *openapiutil.Config, newClient func(*openapiutil.Config) (C, error)) (*Clients[C], error) {
	cs := &Clients[C]{product: product, config: cfg, newClient: newClient}
	c, err := cs.make()
	if err != nil {
		return nil, err
	}
	cs.pool.Put(c)
	return cs, nil
}

func (cs *Clients[C]) make() (C, error) {
	config := *cs.config // the SDK's Init writes to its config
	c, err := cs.newClient(&config)
	if err != nil {
		return c, fmt.Errorf("%s client: %s", cs.product, redact.Text(err.Error()))
	}
	return c, nil
}

// With runs f with a borrowed client, then takes the client back.
func (cs *Clients[C]) With(f func(C) error) error {
	c, ok := cs.pool.Get().(C)
	if !ok {
		var err error
		if c, err = cs.make(); err != nil {
			return err
		}
	}
	defer cs.pool.Put(c)
	return f(c)
}

// Runtime is the per-call options: the SDK's own retries are off, since the domain
// paces and retries.
func Runtime() *dara.RuntimeOptions {
	return &dara.RuntimeOptions{Autoretry: tea.Bool(false)}
}

// RPC names an RPC-style API: its action and the product's API version.
type RPC struct {
	Action  string // e.g. "DetachKeyPair"
	Version string // e.g. "2017-11-10"
}

// params are the Params the generated SDKs pass to CallApi for an RPC-style API whose
// parameters all travel in the query: POST to "/", signed with the AccessKey. The answer
// is taken as a string (BodyType "string", not the SDKs' "json"), and decoded once,
// straight into the caller's struct: the SDK's JSON path decodes a page of 100
// instances into maps and converts it twice more, which costs a function of 512 MB
// (a third of a vCPU on FC) about as much CPU as a part of a fleet run has time.
func (api RPC) params() *openapiutil.Params {
	return &openapiutil.Params{
		Action: tea.String(api.Action), Version: tea.String(api.Version),
		Protocol: tea.String("HTTPS"), Pathname: tea.String("/"), Method: tea.String("POST"),
		AuthType: tea.String("AK"), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("string"),
	}
}

// CallRPC calls api with query as its parameters, through the generic CallApiWithCtx
// of a borrowed client, and decodes the JSON answer into out. Query values are sent as
// they are: a list goes as one JSON-array string where the API takes one (format it
// first), never as the repeat-list form Name.1, Name.2 that openapiutil.Query would make
// of a slice. An error answer comes back as a *detach.CloudError, an answer that is not
// the JSON object out expects as an InvalidResponse.
func (cs *Clients[C]) CallRPC(ctx context.Context, api RPC, query map[string]string, out any) error {
	answer, err := cs.callAPI(ctx, api.params(), &openapiutil.OpenApiRequest{Query: stringPtrs(query)})
	if err != nil {
		return err
	}
	body, ok := answer["body"].(string)
	if !ok || !strings.HasPrefix(strings.TrimSpace(body), "{") {
		return InvalidResponse(api.Action, "not a JSON object")
	}
	if err := json.Unmarshal([]byte(body), out); err != nil {
		return InvalidResponse(api.Action, err.Error())
	}
	return nil
}

// callAPI makes one call through the generic CallApiWithCtx of a borrowed client; an
// error comes back as a *detach.CloudError (through cs.Errors when set).
func (cs *Clients[C]) callAPI(ctx context.Context, params *openapiutil.Params, req *openapiutil.OpenApiRequest) (map[string]any, error) {
	var answer map[string]any
	err := cs.With(func(c C) error {
		var err error
		answer, err = c.CallApiWithCtx(ctx, params, req, Runtime())
		return err
	})
	if err != nil {
		if cs.Errors != nil {
			return nil, cs.Errors(ctx, err)
		}
		return nil, ToCloudError(ctx, cs.product, err)
	}
	return answer, nil
}

// stringPtrs returns m with its values as the SDK's string pointers.
func stringPtrs(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = tea.String(v)
	}
	return out
}

// ROA names a ROA-style API (FC 3.0's, say): its action and version, which sign the
// request (x-acs-action, x-acs-version), and its method and path.
type ROA struct {
	Action   string // e.g. "InvokeFunction"
	Version  string // e.g. "2023-03-30"
	Method   string // e.g. "POST"
	Pathname string // e.g. "/2023-03-30/functions/detach-keypair/invocations", path segments percent-encoded
}

// params are the Params the generated SDKs pass to CallApi for a ROA-style API whose
// request body is binary and whose answer is read as a stream (FC 3.0's InvokeFunction).
func (api ROA) params() *openapiutil.Params {
	return &openapiutil.Params{
		Action: tea.String(api.Action), Version: tea.String(api.Version),
		Protocol: tea.String("HTTPS"), Pathname: tea.String(api.Pathname), Method: tea.String(api.Method),
		AuthType: tea.String("AK"), Style: tea.String("ROA"),
		ReqBodyType: tea.String("json"), BodyType: tea.String("binary"),
	}
}

// CallROA calls api through the generic CallApiWithCtx of a borrowed client, with the
// headers given and body as the request's body, sent as the SDKs send a binary body
// (a stream: application/octet-stream, its hash signed). It returns the answer's
// status; the answer's body is read, at most 1 MiB, and dropped. An error answer comes
// back as a *detach.CloudError.
func (cs *Clients[C]) CallROA(ctx context.Context, api ROA, headers map[string]string, body []byte) (int, error) {
	answer, err := cs.callAPI(ctx, api.params(), &openapiutil.OpenApiRequest{Headers: stringPtrs(headers), Stream: bytes.NewReader(body)})
	if err != nil {
		return 0, err
	}
	if r, ok := answer["body"].(io.Reader); ok {
		io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	}
	status, _ := answer["statusCode"].(int)
	return status, nil
}

// InvalidResponse is the error of an answer that came (HTTP 200) but cannot be used:
// unreadable, or hollow. The caller may ask again (detach.CodeInvalidResponse).
func InvalidResponse(api, what string) *detach.CloudError {
	return &detach.CloudError{Status: http.StatusOK, Code: detach.CodeInvalidResponse, Message: api + " answer: " + what}
}
