// Package ecs adapts the Alibaba Cloud ECS API (github.com/alibabacloud-go/ecs-20140526/v7)
// to the detach.Cloud interface: one SDK call per method, errors turned into
// *detach.CloudError, and nothing of the SDK's types leaking out.
package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecsclient "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	credential "github.com/aliyun/credentials-go/credentials"

	"detachkeypair/detach"
	"detachkeypair/endpoint"
)

// Credentials are an AccessKey pair, with the token of temporary (STS) credentials.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Config says how to reach ECS.
type Config struct {
	Region string // the region whose API is called
	// Endpoint overrides the region's public endpoint: a URL (http://127.0.0.1:8300)
	// or a bare host name, which means https.
	Endpoint string
	// Credentials to sign with; nil means the standard Alibaba Cloud credential chain
	// (environment, profile, instance role, OIDC).
	Credentials *Credentials
	// SignatureV2 signs the older RPC way (HMAC-SHA1 Signature parameter) instead of
	// ACS3-HMAC-SHA256; for endpoints that only take that.
	SignatureV2 bool
	// Timeout bounds one HTTP call (default 30s); the context's deadline bounds it too.
	Timeout time.Duration
}

// Client is the ECS API of one region, with one set of credentials. It is safe for
// concurrent use.
type Client struct {
	sdk *ecsclient.Client
}

var _ detach.Cloud = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	oc := &openapi.Config{RegionId: tea.String(cfg.Region)}
	if cfg.Endpoint != "" {
		host, protocol, err := endpoint.Parse(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		oc.Endpoint, oc.Protocol = tea.String(host), tea.String(protocol)
	} else {
		oc.Protocol = tea.String("https")
	}
	if c := cfg.Credentials; c != nil {
		oc.AccessKeyId, oc.AccessKeySecret = tea.String(c.AccessKeyID), tea.String(c.AccessKeySecret)
		if c.SecurityToken != "" {
			oc.SecurityToken = tea.String(c.SecurityToken)
		}
	} else {
		cred, err := credential.NewCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("no credentials: the standard credential chain found none (%v)", redact(err.Error()))
		}
		oc.Credential = cred
	}
	if cfg.SignatureV2 {
		oc.SignatureAlgorithm = tea.String("v2")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	oc.ReadTimeout = tea.Int(int(timeout.Milliseconds()))
	oc.ConnectTimeout = tea.Int(5000)
	oc.MaxIdleConns = tea.Int(64)
	sdk, err := ecsclient.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("ECS client: %s", redact(err.Error()))
	}
	return &Client{sdk: sdk}, nil
}

// runtime is the per-call options: the SDK's own retries are off, since the caller
// paces and retries.
func runtime() *dara.RuntimeOptions {
	return &dara.RuntimeOptions{Autoretry: tea.Bool(false)}
}

// DescribeKeyPairs returns one page of the region's key pairs matching namePattern. It
// calls the API without the SDK's response model, which lacks the KeyPairId field.
func (c *Client) DescribeKeyPairs(ctx context.Context, region, namePattern string, page int) (detach.KeyPairPage, error) {
	query := map[string]any{
		"RegionId":   tea.String(region),
		"PageNumber": tea.Int32(int32(page)),
		"PageSize":   tea.Int32(detach.KeyPairPageSize),
	}
	if namePattern != "" {
		query["KeyPairName"] = tea.String(namePattern)
	}
	params := &openapiutil.Params{
		Action: tea.String("DescribeKeyPairs"), Version: tea.String("2014-05-26"),
		Protocol: tea.String("HTTPS"), Pathname: tea.String("/"), Method: tea.String("POST"),
		AuthType: tea.String("AK"), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
	}
	out, err := c.sdk.CallApiWithCtx(ctx, params, &openapiutil.OpenApiRequest{Query: openapiutil.Query(query)}, runtime())
	if err != nil {
		return detach.KeyPairPage{}, cloudError(ctx, err)
	}
	raw, err := json.Marshal(out["body"])
	if err != nil {
		return detach.KeyPairPage{}, &detach.CloudError{Status: 200, Code: "InvalidResponse", Message: err.Error()}
	}
	var body struct {
		TotalCount json.Number
		KeyPairs   struct {
			KeyPair []struct{ KeyPairId, KeyPairName string }
		}
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return detach.KeyPairPage{}, &detach.CloudError{Status: 200, Code: "InvalidResponse", Message: "DescribeKeyPairs answer: " + err.Error()}
	}
	total, _ := body.TotalCount.Int64()
	p := detach.KeyPairPage{TotalCount: int(total)}
	for _, kp := range body.KeyPairs.KeyPair {
		p.KeyPairs = append(p.KeyPairs, detach.KeyPair{ID: kp.KeyPairId, Name: kp.KeyPairName})
	}
	return p, nil
}

// DescribeInstances returns one page of the instances matching q.
func (c *Client) DescribeInstances(ctx context.Context, region string, q detach.InstanceQuery) (detach.InstancePage, error) {
	req := &ecsclient.DescribeInstancesRequest{RegionId: tea.String(region)}
	if len(q.IDs) > 0 {
		ids, _ := json.Marshal(q.IDs)
		req.InstanceIds = tea.String(string(ids))
	}
	if q.KeyPairName != "" {
		req.KeyPairName = tea.String(q.KeyPairName)
	}
	for _, t := range q.Tags {
		req.Tag = append(req.Tag, &ecsclient.DescribeInstancesRequestTag{Key: tea.String(t.Key), Value: tea.String(t.Value)})
	}
	if q.ResourceGroupId != "" {
		req.ResourceGroupId = tea.String(q.ResourceGroupId)
	}
	size := q.PageSize
	if size <= 0 || size > detach.DescribeLimit {
		size = detach.DescribeLimit
	}
	req.MaxResults = tea.Int32(int32(size))
	if q.NextToken != "" {
		req.NextToken = tea.String(q.NextToken)
	}
	resp, err := c.sdk.DescribeInstancesWithContext(ctx, req, runtime())
	if err != nil {
		return detach.InstancePage{}, cloudError(ctx, err)
	}
	var p detach.InstancePage
	if resp.Body == nil {
		return p, &detach.CloudError{Status: 200, Code: "InvalidResponse", Message: "DescribeInstances answered without a body"}
	}
	p.NextToken = tea.StringValue(resp.Body.NextToken)
	if resp.Body.Instances != nil {
		for _, in := range resp.Body.Instances.Instance {
			p.Instances = append(p.Instances, detach.Instance{
				ID:          tea.StringValue(in.InstanceId),
				Status:      tea.StringValue(in.Status),
				KeyPairName: tea.StringValue(in.KeyPairName),
			})
		}
	}
	return p, nil
}

// DetachKeyPair detaches the key pair named keyPairName from up to 50 instances.
func (c *Client) DetachKeyPair(ctx context.Context, region, keyPairName string, instanceIDs []string) ([]detach.Outcome, error) {
	ids, _ := json.Marshal(instanceIDs)
	req := &ecsclient.DetachKeyPairRequest{
		RegionId:    tea.String(region),
		KeyPairName: tea.String(keyPairName),
		InstanceIds: tea.String(string(ids)),
	}
	resp, err := c.sdk.DetachKeyPairWithContext(ctx, req, runtime())
	if err != nil {
		return nil, cloudError(ctx, err)
	}
	if resp.Body == nil || resp.Body.Results == nil {
		return nil, &detach.CloudError{Status: 200, Code: "InvalidResponse", Message: "DetachKeyPair answered without results"}
	}
	out := make([]detach.Outcome, 0, len(resp.Body.Results.Result))
	for _, r := range resp.Body.Results.Result {
		code, _ := strconv.Atoi(tea.StringValue(r.Code))
		o := detach.Outcome{
			InstanceID: tea.StringValue(r.InstanceId),
			Code:       code,
			Success:    tea.StringValue(r.Success) == "true",
			Message:    tea.StringValue(r.Message),
		}
		if !o.Success {
			o.ErrorCode = errorCodeOf(o.Message)
		}
		out = append(out, o)
	}
	return out, nil
}

// knownCodes are the per-instance failure codes of DetachKeyPair the function tells apart.
var knownCodes = []string{
	detach.CodeNotAttached, detach.CodeIncorrectStatus, detach.CodeInstanceNotFound,
	"InvalidKeyPairName.NotFound", "InvalidInstanceId.MalFormed", "OperationConflict",
}

var codeShape = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$`)

// errorCodeOf finds the error code in the message of a per-instance result: the
// message itself when it is a code, else a known code it mentions.
func errorCodeOf(message string) string {
	if codeShape.MatchString(message) && message != "successful" {
		return message
	}
	for _, c := range knownCodes {
		if strings.Contains(message, c) {
			return c
		}
	}
	return ""
}

// cloudError turns an SDK error into a *detach.CloudError, or returns the context's
// error when the call was cut short by it. Messages never carry request URLs (their
// query may hold a signature or a security token).
func cloudError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ECS call cut short: %w", ctxErr)
	}
	var (
		status    int
		code, msg string
		requestID string
	)
	var respErr dara.ResponseError
	var sdkErr *tea.SDKError
	var daraErr *dara.SDKError
	switch {
	case errors.As(err, &respErr):
		status, code, msg = tea.IntValue(respErr.GetStatusCode()), tea.StringValue(respErr.GetCode()), respErr.Error()
		requestID = fmt.Sprint(respErr.GetData()["RequestId"])
	case errors.As(err, &sdkErr):
		status, code, msg = tea.IntValue(sdkErr.StatusCode), tea.StringValue(sdkErr.Code), tea.StringValue(sdkErr.Message)
		requestID = requestIDIn(tea.StringValue(sdkErr.Data))
	case errors.As(err, &daraErr):
		status, code, msg = tea.IntValue(daraErr.StatusCode), tea.StringValue(daraErr.Code), tea.StringValue(daraErr.Message)
		requestID = requestIDIn(tea.StringValue(daraErr.Data))
	default:
		msg = err.Error()
	}
	if status == 0 && code != "" && !isTransportCode(code) {
		status = 400 // a client-side refusal of the SDK (bad parameter, no credentials)
	}
	return &detach.CloudError{Status: status, Code: code, Message: redact(trimSDKPrefix(msg)), RequestID: requestID}
}

// isTransportCode reports whether an SDK error code means the call got no answer.
func isTransportCode(code string) bool {
	return code == "" || strings.Contains(strings.ToLower(code), "timeout") || strings.Contains(strings.ToLower(code), "network")
}

func requestIDIn(data string) string {
	var d struct{ RequestId string }
	_ = json.Unmarshal([]byte(data), &d)
	return d.RequestId
}

var sdkPrefix = regexp.MustCompile(`^(SDKError:\s*)?(StatusCode:\s*\d+\s*)?(Code:\s*\S+\s*)?(Message:\s*)?(code: \d+, )?`)

// trimSDKPrefix drops the SDK's "code: 400, " style prefix from a cloud message.
func trimSDKPrefix(msg string) string {
	msg = sdkPrefix.ReplaceAllString(strings.TrimSpace(msg), "")
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

var urlQuery = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)
var secretParam = regexp.MustCompile(`(?i)(Signature|SecurityToken|AccessKeySecret|x-acs-security-token|authorization)(["']?\s*[:=]\s*["']?)[^\s"'&,]+`)

// redact removes request URLs' queries and anything shaped like a secret from an
// error message before it is logged or answered.
func redact(msg string) string {
	msg = urlQuery.ReplaceAllString(msg, "$1?[redacted]")
	return secretParam.ReplaceAllString(msg, "$1$2[redacted]")
}
