// Package ens adapts the Alibaba Cloud ENS API (Edge Node Service, version 2017-11-10)
// to the detach.Cloud interface: one API call per method (DescribeInstances two: the
// instances' tags are ListTagResources'), errors turned into *detach.CloudError, and
// nothing of the wire format leaking out.
//
// The ENS Go SDK that has DetachKeyPair (ens-20171110 v12) is not available here, so the
// calls go through the generic OpenAPI client (darabonba-openapi's CallApi, via
// aliyun.Clients) and mirror exactly what that SDK sends: an RPC-style POST to "/" with
// every parameter in the query, lists as one JSON-array string (InstanceIds=["i-…"],
// never InstanceIds.1), signed with ACS3-HMAC-SHA256. Where the SDK's answer models
// differ from ECS's (integer Code, boolean Success, Results without a wrapper), the
// answers are read as ENS sends them. Facts and sources: the project's ENS reference
// (ENS-2017-11-10.md).
package ens

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/aliyun"
	"detachkeypair/credentials"
	"detachkeypair/detach"
)

// Version is the ENS API version the adapter speaks.
const Version = "2017-11-10"

// DefaultEndpoint serves every edge region of the China site. ENS has no per-region
// endpoints like ECS (ens.ap-southeast-1.aliyuncs.com serves the international site).
const DefaultEndpoint = "ens.aliyuncs.com"

// Config says how to reach ENS.
type Config struct {
	// Endpoint overrides DefaultEndpoint: a URL (http://127.0.0.1:8300) or a bare host
	// name, which means https.
	Endpoint string
	// Credentials to sign with; nil means the standard Alibaba Cloud credential chain.
	Credentials *credentials.AccessKey
}

// Client is the ENS API with one set of credentials. It is safe for concurrent use:
// every call borrows an SDK client of its own (aliyun.Clients).
type Client struct {
	sdk *aliyun.Clients[*openapi.Client]
}

var _ detach.Cloud = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	oc, err := aliyun.OpenAPIConfig(aliyun.APIConfig{Endpoint: cfg.Endpoint,
		DefaultEndpoint: DefaultEndpoint, Credentials: cfg.Credentials})
	if err != nil {
		return nil, err
	}
	sdk, err := aliyun.NewClients(detach.ProductENS, oc, openapi.NewClient)
	if err != nil {
		return nil, err
	}
	return &Client{sdk: sdk}, nil
}

// The APIs the adapter calls.
var (
	describeKeyPairs  = aliyun.RPC{Action: "DescribeKeyPairs", Version: Version}
	describeInstances = aliyun.RPC{Action: "DescribeInstances", Version: Version}
	listTagResources  = aliyun.RPC{Action: "ListTagResources", Version: Version}
	detachKeyPair     = aliyun.RPC{Action: "DetachKeyPair", Version: Version}
)

// Limits are ENS's: no API regions, key pairs named by id, 30 ids a DetachKeyPair call,
// and the instances' tags, which DescribeInstances reads with ListTagResources (at most
// 50 instances a page, so that one ListTagResources call covers a page). ListTagResources
// answers no count, so an instance it lists no tags for may have lost them in a hollow
// answer (EmptyTagsUnclear).
func (c *Client) Limits() detach.Limits {
	return detach.Limits{Product: detach.ProductENS,
		KeyPairPage: detach.ENSKeyPairPage, DescribeIDs: detach.ENSDescribeIDs, Batch: detach.ENSBatch,
		InstanceTags: true, EmptyTagsUnclear: true, DetachByID: true}
}

// jsonList is a list as the SDK sends it in one query parameter: compact JSON, HTML not
// escaped (openapiutil.ArrayToStringWithSpecifiedStyle with style "json", the SDK's own
// conversion).
func jsonList(name string, list any) string {
	return tea.StringValue(openapiutil.ArrayToStringWithSpecifiedStyle(list, tea.String(name), tea.String("json")))
}

// DescribeKeyPairs returns one page of the key pairs with the id q.ID, or else the name
// q.Name ("" = all). ENS answers each key pair's KeyPairId.
func (c *Client) DescribeKeyPairs(ctx context.Context, q detach.KeyPairQuery) (detach.KeyPairPage, error) {
	query := map[string]string{
		"PageNumber": strconv.Itoa(max(q.Page, 1)),
		"PageSize":   strconv.Itoa(detach.ENSKeyPairPage),
	}
	if q.ID != "" {
		query["KeyPairId"] = q.ID
	}
	if q.Name != "" {
		query["KeyPairName"] = q.Name
	}
	var body struct {
		TotalCount int
		KeyPairs   struct {
			KeyPair []*struct{ KeyPairId, KeyPairName string }
		}
	}
	if err := c.sdk.CallRPC(ctx, describeKeyPairs, query, &body); err != nil {
		return detach.KeyPairPage{}, err
	}
	list := body.KeyPairs.KeyPair
	if err := aliyun.FullPage("DescribeKeyPairs", len(list), body.TotalCount, max(q.Page, 1), detach.ENSKeyPairPage); err != nil {
		return detach.KeyPairPage{}, err
	}
	p := detach.KeyPairPage{TotalCount: body.TotalCount}
	for _, kp := range list {
		if kp == nil || kp.KeyPairId == "" || kp.KeyPairName == "" {
			return detach.KeyPairPage{}, aliyun.InvalidResponse("DescribeKeyPairs", "a key pair without an id or a name, or null")
		}
		p.KeyPairs = append(p.KeyPairs, detach.KeyPair{ID: kp.KeyPairId, Name: kp.KeyPairName})
	}
	return p, nil
}

// tag is a tag filter as DescribeInstances' Tags takes it (a tag without a value: any
// value of the key).
type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value,omitempty"`
}

// DescribeInstances returns one page of the instances matching q: by ids, edge regions
// and tags, each instance with its edge region (Instance.Region, for ALLOWED_REGIONS)
// and its tags (a second call, ListTagResources: see tags).
// ENS cannot select by key pair: the page holds instances bound to any key pair, and
// the caller keeps the bound ones. Pages are numbered; NextToken is the next page's
// number. ENS has no resource groups: a query by one is refused rather than answered
// with more instances than it asked for. A hollow answer (null entries, a page shorter
// than TotalCount says) is an InvalidResponse.
func (c *Client) DescribeInstances(ctx context.Context, q detach.InstanceQuery) (detach.InstancePage, error) {
	if q.ResourceGroupID != "" {
		return detach.InstancePage{}, fmt.Errorf("ENS DescribeInstances cannot select by resource group")
	}
	page := 1
	if q.NextToken != "" {
		n, err := strconv.Atoi(q.NextToken)
		if err != nil || n < 1 {
			return detach.InstancePage{}, fmt.Errorf("ENS DescribeInstances: page token %q is not one the adapter gave", q.NextToken)
		}
		page = n
	}
	size := q.PageSize
	if size <= 0 || size > detach.ENSDescribeIDs {
		size = detach.ENSDescribeIDs
	}
	query := map[string]string{"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(size)}
	if len(q.IDs) > 0 {
		query["InstanceIds"] = jsonList("InstanceIds", q.IDs)
	}
	if len(q.EnsRegionIDs) > 0 {
		query["EnsRegionIds"] = jsonList("EnsRegionIds", q.EnsRegionIDs)
	}
	if len(q.Tags) > 0 {
		tags := make([]tag, len(q.Tags))
		for i, t := range q.Tags {
			tags[i] = tag{t.Key, t.Value}
		}
		query["Tags"] = jsonList("Tags", tags)
	}
	var body struct {
		TotalCount int
		Instances  struct {
			Instance []*struct{ InstanceId, Status, KeyPairName, EnsRegionId string }
		}
	}
	if err := c.sdk.CallRPC(ctx, describeInstances, query, &body); err != nil {
		return detach.InstancePage{}, err
	}
	list := body.Instances.Instance
	if err := aliyun.FullPage("DescribeInstances", len(list), body.TotalCount, page, size); err != nil {
		return detach.InstancePage{}, err
	}
	var p detach.InstancePage
	ids := make([]string, 0, len(list))
	for _, in := range list {
		if in == nil || in.InstanceId == "" {
			return detach.InstancePage{}, aliyun.InvalidResponse("DescribeInstances", "an instance without an id, or null")
		}
		p.Instances = append(p.Instances, detach.Instance{ID: in.InstanceId, Status: in.Status, KeyPairName: in.KeyPairName, Tags: []detach.Tag{}, Region: in.EnsRegionId})
		ids = append(ids, in.InstanceId)
	}
	tags, err := c.tags(ctx, ids)
	if err != nil {
		return detach.InstancePage{}, err
	}
	for i := range p.Instances {
		p.Instances[i].Tags = append(p.Instances[i].Tags, tags[p.Instances[i].ID]...)
	}
	if page*size < body.TotalCount {
		p.NextToken = strconv.Itoa(page + 1)
	}
	return p, nil
}

// tags reads the tags of up to 50 instances with ListTagResources (ResourceId.1 to
// ResourceId.50, repeat-list parameters as the SDK sends them), every page of it.
// ENS's DescribeInstances does not return tags ("use ListTagResources"), and the
// function's guardrails must see them. The answer has no count: an empty one is either
// instances without tags or a hollow answer, which the adapter cannot tell apart (the
// guard refuses such instances under a tag rule: Limits.EmptyTagsUnclear).
func (c *Client) tags(ctx context.Context, ids []string) (map[string][]detach.Tag, error) {
	out := map[string][]detach.Tag{}
	if len(ids) == 0 {
		return out, nil
	}
	query := map[string]string{"ResourceType": "instance"}
	for i, id := range ids {
		query[fmt.Sprintf("ResourceId.%d", i+1)] = id
	}
	seen := map[string]bool{} // the tokens given, against one that comes round again
	for {
		var body struct {
			NextToken    string
			TagResources []*struct{ ResourceId, TagKey, TagValue string }
		}
		if err := c.sdk.CallRPC(ctx, listTagResources, query, &body); err != nil {
			return nil, err
		}
		for _, t := range body.TagResources {
			if t == nil || t.ResourceId == "" || t.TagKey == "" {
				return nil, aliyun.InvalidResponse("ListTagResources", "a tag without a resource or a key, or null")
			}
			out[t.ResourceId] = append(out[t.ResourceId], detach.Tag{Key: t.TagKey, Value: t.TagValue})
		}
		switch {
		case body.NextToken == "":
			return out, nil
		case seen[body.NextToken]:
			return nil, aliyun.InvalidResponse("ListTagResources", "a NextToken came again, so the listing would go round")
		case len(seen) >= maxTagPages:
			return nil, aliyun.InvalidResponse("ListTagResources", fmt.Sprintf("more than %d pages for %d instances", maxTagPages, len(ids)))
		}
		seen[body.NextToken] = true
		query["NextToken"] = body.NextToken
	}
}

// maxTagPages bounds the pages of one ListTagResources listing (50 instances): at one
// tag a page, as many as 50 instances' tags take at ENS's 20 tags a resource
// (assumption: ECS's limit; ENS publishes none), and some to spare.
const maxTagPages = 50*20 + 50

// DetachKeyPair detaches kp from up to 30 instances, naming it by id (ENS's
// recommendation; by name when the id is unknown), and returns ENS's result for each.
// An instance the answer has no result for (a null entry, a short list) gets no
// Outcome: the call may have detached it, and the caller must find out.
func (c *Client) DetachKeyPair(ctx context.Context, kp detach.KeyPair, instanceIDs []string) ([]detach.Outcome, error) {
	query := map[string]string{"InstanceIds": jsonList("InstanceIds", instanceIDs)}
	if kp.ID != "" {
		query["KeyPairId"] = kp.ID
	} else {
		query["KeyPairName"] = kp.Name
	}
	var body struct {
		Results *[]*struct {
			InstanceId string
			Code       int
			Success    bool
			Message    string
		}
	}
	if err := c.sdk.CallRPC(ctx, detachKeyPair, query, &body); err != nil {
		return nil, err
	}
	if body.Results == nil {
		return nil, aliyun.InvalidResponse("DetachKeyPair", "no results")
	}
	out := make([]detach.Outcome, 0, len(*body.Results))
	for _, r := range *body.Results {
		if r == nil || r.InstanceId == "" {
			continue // the instance has no outcome: the caller finds out what happened
		}
		o := detach.Outcome{InstanceID: r.InstanceId, Code: r.Code, Success: r.Success, Message: r.Message}
		if !o.Success {
			o.Code, o.ErrorCode = contractCode(r.Code, aliyun.ErrorCodeIn(r.Message, knownCodes))
		}
		out = append(out, o)
	}
	return out, nil
}

// knownCodes are the per-instance failure codes the adapter tells apart in ENS's result
// messages: the contract's, and ENS's own names for a missing instance (StartInstance's
// and StopInstance's error tables). ENS documents no per-instance codes of DetachKeyPair.
var knownCodes = []string{
	detach.CodeNotAttached, detach.CodeIncorrectStatus, detach.CodeInstanceNotFound,
	"InstanceIdNotFound", "InstanceNotFound",
}

// contractCode turns ENS's code of a failed instance into the contract's: a missing
// instance is 404 InvalidInstanceId.NotFound, whatever ENS calls it.
func contractCode(code int, errorCode string) (int, string) {
	switch errorCode {
	case "InstanceIdNotFound", "InstanceNotFound", detach.CodeInstanceNotFound:
		return http.StatusNotFound, detach.CodeInstanceNotFound
	}
	return code, errorCode
}
