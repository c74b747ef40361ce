// Package fc adapts Function Compute 3.0's InvokeFunction (API version 2023-03-30) to
// the detach.Invoker interface: a part of a fleet run queues the next part as an
// asynchronous invocation of the function itself, an FC asynchronous task whose id FC
// accepts once.
//
// The FC 3.0 SDK is not available here, so the call goes through the generic OpenAPI
// client (darabonba-openapi's CallApi, via aliyun.Clients.CallROA) and sends what that
// SDK's InvokeFunctionWithOptions sends: POST /2023-03-30/functions/{functionName}/invocations,
// ROA style, the event as a binary body (application/octet-stream), the headers
// x-fc-invocation-type: Async and x-fc-async-task-id, signed with ACS3-HMAC-SHA256.
// Facts and sources (InvokeFunction's API reference; task ids and their 409; the
// endpoint <account>.<region>.fc.aliyuncs.com): README.md, "Fleet runs".
package fc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"

	"detachkeypair/aliyun"
	"detachkeypair/credentials"
	"detachkeypair/detach"
)

// Version is the FC API version the adapter speaks.
const Version = "2023-03-30"

// Config says how to reach FC and which function to invoke.
type Config struct {
	Region    string // the function's region
	AccountID string // the function's account, in FC's endpoint
	Function  string // the function to invoke: the function itself
	// Endpoint overrides <account>.<region>.fc.aliyuncs.com: a URL
	// (http://127.0.0.1:8300) or a bare host name, which means https.
	Endpoint string
	// Credentials to sign with; nil means the standard Alibaba Cloud credential chain.
	Credentials *credentials.AccessKey
}

// Client is FC's InvokeFunction for one function. It is safe for concurrent use:
// every call borrows an SDK client of its own (aliyun.Clients).
type Client struct {
	sdk      *aliyun.Clients[*openapi.Client]
	function string
}

var _ detach.Invoker = (*Client)(nil)

// invokeFunction is the API the adapter calls (its path names the function).
var invokeFunction = aliyun.ROA{Action: "InvokeFunction", Version: Version, Method: http.MethodPost}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Function == "" {
		return nil, errors.New("FC: the function's name is unknown (FC gives it in each invocation)")
	}
	def := ""
	if cfg.AccountID != "" && cfg.Region != "" {
		def = fmt.Sprintf("%s.%s.fc.aliyuncs.com", cfg.AccountID, cfg.Region)
	} else if cfg.Endpoint == "" {
		return nil, errors.New("FC endpoint: the account id and region are unknown; set FC_ENDPOINT")
	}
	oc, err := aliyun.OpenAPIConfig(aliyun.APIConfig{Region: cfg.Region, Endpoint: cfg.Endpoint,
		DefaultEndpoint: def, Credentials: cfg.Credentials})
	if err != nil {
		return nil, err
	}
	sdk, err := aliyun.NewClients("FC", oc, openapi.NewClient)
	if err != nil {
		return nil, err
	}
	return &Client{sdk: sdk, function: cfg.Function}, nil
}

// InvokeAsync queues an asynchronous invocation of the function with payload as its
// event, as the asynchronous task taskID (which needs the function's asynchronous task
// mode, asyncInvokeConfig.asyncTask). FC refuses a task id it has accepted before with
// HTTP 409 (its task deduplication): that is detach.ErrTaskExists, whatever the code.
// Other errors are *detach.CloudError; an answer other than 202 Accepted is an
// InvalidResponse.
func (c *Client) InvokeAsync(ctx context.Context, taskID string, payload []byte) error {
	api := invokeFunction
	api.Pathname = "/" + Version + "/functions/" + url.PathEscape(c.function) + "/invocations"
	status, err := c.sdk.CallROA(ctx, api, map[string]string{"x-fc-invocation-type": "Async", "x-fc-async-task-id": taskID}, payload)
	var ce *detach.CloudError
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusConflict:
		return detach.ErrTaskExists
	case err != nil:
		return err
	case status != http.StatusAccepted:
		return aliyun.InvalidResponse("InvokeFunction", fmt.Sprintf("HTTP %d, not 202 Accepted", status))
	}
	return nil
}
