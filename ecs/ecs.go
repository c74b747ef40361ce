// Package ecs adapts the Alibaba Cloud ECS API (github.com/alibabacloud-go/ecs-20140526/v7)
// to the detach.Cloud interface: one call per method, errors turned into
// *detach.CloudError, and nothing of the SDK's types leaking out. DetachKeyPair and
// DescribeRegions are the SDK's typed calls; DescribeKeyPairs and DescribeInstances go
// through the generic call (aliyun.Clients.CallRPC) with what the SDK sends, reading
// what the function needs of the answer (KeyPairId, which the model lacks; a few of an
// instance's seventy fields, whose decoding would cost more CPU than the rest).
package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	ecsclient "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/aliyun"
	"detachkeypair/credentials"
	"detachkeypair/detach"
)

// Config says how to reach ECS.
type Config struct {
	Region string // the region whose API is called
	// Endpoint overrides the region's public endpoint: a URL (http://127.0.0.1:8300)
	// or a bare host name, which means https.
	Endpoint string
	// Credentials to sign with; nil means the standard Alibaba Cloud credential chain
	// (environment, profile, instance role, OIDC).
	Credentials *credentials.AccessKey
}

// Client is the ECS API of one region, with one set of credentials. It is safe for
// concurrent use: every call borrows an SDK client of its own (aliyun.Clients).
type Client struct {
	region   string
	regional bool // the endpoint is the region's own, not an ECS_ENDPOINT override
	sdk      *aliyun.Clients[*ecsclient.Client]
}

var (
	_ detach.Cloud        = (*Client)(nil)
	_ detach.RegionLister = (*Client)(nil)
)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	oc, err := aliyun.OpenAPIConfig(aliyun.APIConfig{Region: cfg.Region, Endpoint: cfg.Endpoint, Credentials: cfg.Credentials})
	if err != nil {
		return nil, err
	}
	c := &Client{region: cfg.Region, regional: cfg.Endpoint == ""}
	if c.sdk, err = aliyun.NewClients("ECS", oc, ecsclient.NewClient); err != nil {
		return nil, err
	}
	c.sdk.Errors = c.cloudError
	return c, nil
}

// The APIs the adapter calls through the generic call (CallRPC), by their action.
var (
	describeKeyPairs  = aliyun.RPC{Action: "DescribeKeyPairs", Version: "2014-05-26"}
	describeInstances = aliyun.RPC{Action: "DescribeInstances", Version: "2014-05-26"}
)

// Limits are ECS's: per region, key pairs named by name, 50 ids a DetachKeyPair call,
// and instance tags in DescribeInstances' answer (Instances.Instance[].Tags.Tag[]).
func (c *Client) Limits() detach.Limits {
	return detach.Limits{Product: detach.ProductECS, Region: c.region,
		KeyPairPage: detach.ECSKeyPairPage, DescribeIDs: detach.ECSDescribeIDs, Batch: detach.ECSBatch,
		InstanceTags: true}
}

// DescribeKeyPairs returns one page of the region's key pairs whose name matches
// q.Name (a pattern; "" = all). ECS takes no key pair id: with q.ID the page holds every
// key pair, for the caller to match. It calls the API without the SDK's response model,
// which lacks the KeyPairId field that the cloud may send.
func (c *Client) DescribeKeyPairs(ctx context.Context, q detach.KeyPairQuery) (detach.KeyPairPage, error) {
	query := map[string]string{
		"RegionId":   c.region,
		"PageNumber": strconv.Itoa(max(q.Page, 1)),
		"PageSize":   strconv.Itoa(detach.ECSKeyPairPage),
	}
	if q.Name != "" {
		query["KeyPairName"] = q.Name
	}
	var body struct {
		TotalCount json.Number
		KeyPairs   struct {
			KeyPair []*struct{ KeyPairId, KeyPairName string }
		}
	}
	if err := c.sdk.CallRPC(ctx, describeKeyPairs, query, &body); err != nil {
		return detach.KeyPairPage{}, err
	}
	total, _ := body.TotalCount.Int64()
	list := body.KeyPairs.KeyPair
	// TotalCount counts every key pair of the query (this API pages by number).
	if err := aliyun.FullPage("DescribeKeyPairs", len(list), int(total), max(q.Page, 1), detach.ECSKeyPairPage); err != nil {
		return detach.KeyPairPage{}, err
	}
	p := detach.KeyPairPage{TotalCount: int(total)}
	for _, kp := range list {
		if kp == nil || kp.KeyPairName == "" {
			return detach.KeyPairPage{}, aliyun.InvalidResponse("DescribeKeyPairs", "a key pair without a name, or null")
		}
		p.KeyPairs = append(p.KeyPairs, detach.KeyPair{ID: kp.KeyPairId, Name: kp.KeyPairName})
	}
	return p, nil
}

// DescribeInstances returns one page of the instances matching q. It sends what the
// SDK's DescribeInstancesRequest sends (the ids as one JSON array, Tag.N.Key and
// Tag.N.Value), through the generic call, and reads only the fields the function needs
// (an instance's id, status, key pair and tags): the SDK's response model has some
// seventy fields an instance, and decoding a page of 100 into it costs the function
// more CPU than the rest of its work (a part of a fleet run reads 20 such pages).
func (c *Client) DescribeInstances(ctx context.Context, q detach.InstanceQuery) (detach.InstancePage, error) {
	query := map[string]string{"RegionId": c.region}
	if len(q.IDs) > 0 {
		ids, _ := json.Marshal(q.IDs)
		query["InstanceIds"] = string(ids)
	}
	if q.KeyPairName != "" {
		query["KeyPairName"] = q.KeyPairName
	}
	for i, t := range q.Tags {
		query[fmt.Sprintf("Tag.%d.Key", i+1)] = t.Key
		if t.Value != "" { // no value: any instance with the key
			query[fmt.Sprintf("Tag.%d.Value", i+1)] = t.Value
		}
	}
	if q.ResourceGroupID != "" {
		query["ResourceGroupId"] = q.ResourceGroupID
	}
	size := q.PageSize
	if size <= 0 || size > detach.ECSDescribeIDs {
		size = detach.ECSDescribeIDs
	}
	byIDs := len(q.IDs) > 0 && len(q.IDs) <= size
	if byIDs {
		// One page by number: its TotalCount is valid (with MaxResults and NextToken it
		// is not, says the API), so that a hollow answer can be told from missing ids.
		query["PageNumber"], query["PageSize"] = "1", strconv.Itoa(size)
	} else {
		query["MaxResults"] = strconv.Itoa(size)
		if q.NextToken != "" {
			query["NextToken"] = q.NextToken
		}
	}
	var body struct {
		TotalCount json.Number
		NextToken  string
		Instances  struct {
			Instance []*struct {
				InstanceId, Status, KeyPairName string
				Tags                            struct {
					Tag []*struct{ TagKey, TagValue string }
				}
			}
		}
	}
	if err := c.sdk.CallRPC(ctx, describeInstances, query, &body); err != nil {
		return detach.InstancePage{}, err
	}
	var p detach.InstancePage
	if !byIDs {
		p.NextToken = body.NextToken
	}
	for _, in := range body.Instances.Instance {
		if in == nil || in.InstanceId == "" {
			return detach.InstancePage{}, aliyun.InvalidResponse("DescribeInstances", "an instance without an id, or null")
		}
		tags := []detach.Tag{} // ECS tells every instance's tags: none is an empty list
		for _, t := range in.Tags.Tag {
			if t != nil {
				tags = append(tags, detach.Tag{Key: t.TagKey, Value: t.TagValue})
			}
		}
		p.Instances = append(p.Instances, detach.Instance{ID: in.InstanceId, Status: in.Status, KeyPairName: in.KeyPairName, Tags: tags})
	}
	if total, _ := body.TotalCount.Int64(); byIDs && len(p.Instances) < int(total) {
		return detach.InstancePage{}, aliyun.InvalidResponse("DescribeInstances", fmt.Sprintf("%d instances, TotalCount %d", len(p.Instances), total))
	}
	return p, nil
}

// DescribeRegions returns the ids of the account's regions, as the region's endpoint
// answers them (for a fleet run's RegionIds). An answer without regions, or with a
// null one, is an InvalidResponse: an account without regions is answered 403
// Unauthorized.EmptyRegion.
func (c *Client) DescribeRegions(ctx context.Context) ([]string, error) {
	var resp *ecsclient.DescribeRegionsResponse
	err := c.sdk.With(func(sdk *ecsclient.Client) (err error) {
		resp, err = sdk.DescribeRegionsWithContext(ctx, &ecsclient.DescribeRegionsRequest{}, aliyun.Runtime())
		return err
	})
	if err != nil {
		return nil, c.cloudError(ctx, err)
	}
	if resp.Body == nil || resp.Body.Regions == nil || len(resp.Body.Regions.Region) == 0 {
		return nil, aliyun.InvalidResponse("DescribeRegions", "no regions")
	}
	ids := make([]string, 0, len(resp.Body.Regions.Region))
	for _, r := range resp.Body.Regions.Region {
		if r == nil || tea.StringValue(r.RegionId) == "" {
			return nil, aliyun.InvalidResponse("DescribeRegions", "a region without an id, or null")
		}
		ids = append(ids, tea.StringValue(r.RegionId))
	}
	return ids, nil
}

// DetachKeyPair detaches kp, named by its name (ECS takes no id), from up to 50 instances.
// An instance the answer has no result for (a null entry, a short list) gets no Outcome:
// the call may have detached it, and the caller must find out.
func (c *Client) DetachKeyPair(ctx context.Context, kp detach.KeyPair, instanceIDs []string) ([]detach.Outcome, error) {
	ids, _ := json.Marshal(instanceIDs)
	req := &ecsclient.DetachKeyPairRequest{
		RegionId:    tea.String(c.region),
		KeyPairName: tea.String(kp.Name),
		InstanceIds: tea.String(string(ids)),
	}
	var resp *ecsclient.DetachKeyPairResponse
	err := c.sdk.With(func(sdk *ecsclient.Client) (err error) {
		resp, err = sdk.DetachKeyPairWithContext(ctx, req, aliyun.Runtime())
		return err
	})
	if err != nil {
		return nil, c.cloudError(ctx, err)
	}
	if resp.Body == nil || resp.Body.Results == nil {
		return nil, aliyun.InvalidResponse("DetachKeyPair", "no results")
	}
	out := make([]detach.Outcome, 0, len(resp.Body.Results.Result))
	for _, r := range resp.Body.Results.Result {
		if r == nil || tea.StringValue(r.InstanceId) == "" {
			continue // the instance has no outcome: the caller finds out what happened
		}
		code, _ := strconv.Atoi(tea.StringValue(r.Code))
		o := detach.Outcome{
			InstanceID: tea.StringValue(r.InstanceId),
			Code:       code,
			Success:    tea.StringValue(r.Success) == "true",
			Message:    tea.StringValue(r.Message),
		}
		if !o.Success {
			o.ErrorCode = aliyun.ErrorCodeIn(o.Message, knownCodes)
		}
		out = append(out, o)
	}
	return out, nil
}

// cloudError turns an SDK error into a *detach.CloudError. A region whose endpoint
// does not exist (the SDK makes ecs.<region>.aliyuncs.com of any region id, and DNS
// knows no such host) is InvalidRegionId.NotFound, as ECS answers for a region it does
// not know: the caller's mistake, not a connection failure worth retrying.
func (c *Client) cloudError(ctx context.Context, err error) error {
	var dns *net.DNSError
	if c.regional && errors.As(err, &dns) && dns.IsNotFound {
		return &detach.CloudError{Status: http.StatusNotFound, Code: "InvalidRegionId.NotFound",
			Message: fmt.Sprintf("ECS has no endpoint for region %s (%s does not exist)", c.region, dns.Name)}
	}
	return aliyun.ToCloudError(ctx, "ECS", err)
}

// knownCodes are the per-instance failure codes of DetachKeyPair the function tells apart.
var knownCodes = []string{
	detach.CodeNotAttached, detach.CodeIncorrectStatus, detach.CodeInstanceNotFound,
	"InvalidKeyPairName.NotFound", "InvalidInstanceId.MalFormed", "OperationConflict",
}
