package ecs

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"detachkeypair/emulator/internal/rpc"
)

// describeInstancesParams are the parameters of DescribeInstances that the
// emulator implements; any other is refused (see rpc.Params.Unimplemented).
var describeInstancesParams = []string{"RegionId", "InstanceIds", "KeyPairName", "Status", "ZoneId", "InstanceName",
	"ResourceGroupId", "Tag.*", "PageNumber", "PageSize", "NextToken", "MaxResults", "DryRun"}

// describeInstances lists a region's instances in instance-id order,
// filtered as the cloud filters them (InstanceIds, KeyPairName, Status,
// ZoneId, InstanceName, ResourceGroupId, Tag.N), by page
// (PageNumber/PageSize) or by token (NextToken/MaxResults, which win).
// MaxResults below 10 counts as 10 and above 100 as 100, as the API
// reference says. With DryRun=true a request that passes the checks is
// answered DryRunOperation.
func (s *Service) describeInstances(p rpc.Params) (any, *rpc.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	region, e := s.region(p)
	if e != nil {
		return nil, e
	}
	ids, byID, e := p.JSONList("InstanceIds", maxDescribeIDs)
	if e != nil {
		return nil, e
	}
	tags, e := tagFilters(p.Values)
	if e != nil {
		return nil, e
	}
	tokenMode := p.Get("NextToken") != "" || p.Get("MaxResults") != ""
	var page, size int
	var after string
	filters := filterKey(p)
	if tokenMode {
		if size, e = p.Int("MaxResults", defaultPageSize, math.MinInt32, math.MaxInt32); e != nil {
			return nil, e
		}
		size = min(max(size, minMaxResults), maxInstancesPage)
		if tok := p.Get("NextToken"); tok != "" {
			if after, e = s.readToken(tok, filters, region); e != nil {
				return nil, e
			}
		}
	} else {
		if page, size, e = p.Page(defaultPageSize, maxInstancesPage); e != nil {
			return nil, e
		}
	}
	keyPair, status, zone := p.Get("KeyPairName"), p.Get("Status"), p.Get("ZoneId")
	name, group := p.Get("InstanceName"), p.Get("ResourceGroupId")
	if dryRun, e := boolParam(p.Values, "DryRun"); e != nil {
		return nil, e
	} else if dryRun {
		return nil, errDryRun
	}

	match := func(in *Instance) bool {
		return in.RegionId == region &&
			(keyPair == "" || in.KeyPairName == keyPair) && (status == "" || in.Status == status) &&
			(zone == "" || in.ZoneId == zone) && (name == "" || rpc.MatchPattern(name, in.InstanceName)) &&
			(group == "" || in.ResourceGroupId == group) && rpc.HasTags(in.Tags, tags)
	}
	var matched []*Instance
	if byID { // at most 100 ids: look them up rather than scan the fleet
		for _, id := range ids {
			if in, ok := s.instances.Get(id); ok && match(in) && !slices.Contains(matched, in) {
				matched = append(matched, in)
			}
		}
		slices.SortFunc(matched, func(a, b *Instance) int { return strings.Compare(a.InstanceId, b.InstanceId) })
	} else {
		for in := range s.instances.All() {
			if match(in) {
				matched = append(matched, in)
			}
		}
	}

	out := map[string]any{"TotalCount": len(matched)}
	var pageOf []*Instance
	if tokenMode {
		from := 0
		if after != "" {
			from, _ = slices.BinarySearchFunc(matched, after, func(in *Instance, id string) int { return strings.Compare(in.InstanceId, id) })
			if from < len(matched) && matched[from].InstanceId == after {
				from++
			}
		}
		to := min(from+size, len(matched))
		pageOf = matched[from:to]
		next := ""
		if to < len(matched) {
			next = s.newToken(matched[to-1].InstanceId, filters, region)
		}
		out["NextToken"] = next
	} else {
		from := min((page-1)*size, len(matched))
		pageOf = matched[from:min(from+size, len(matched))]
		out["PageNumber"], out["PageSize"], out["NextToken"] = page, size, ""
	}
	list := make([]ecsInstance, 0, len(pageOf))
	for _, in := range pageOf {
		list = append(list, toECSInstance(in))
	}
	out["Instances"] = map[string]any{"Instance": list}
	return out, nil
}

// pageToken is what a NextToken of DescribeInstances stands for: the instance the
// next page follows, the filters of the listing it belongs to, and when it was given.
type pageToken struct {
	After   string `json:"a"`
	Filters string `json:"f"`
	Issued  int64  `json:"t"` // Unix nanoseconds
	Gen     int    `json:"g"` // ExpireNextTokens' generation
}

// newToken returns the NextToken of a page of a region that ends with the instance after.
func (s *Service) newToken(after, filters, region string) string {
	b, _ := json.Marshal(pageToken{After: after, Filters: filters, Issued: s.clock().UnixNano(), Gen: s.tokenGen[region]})
	return base64.RawURLEncoding.EncodeToString(b)
}

// readToken returns the instance a NextToken's page follows. Assumptions, where ECS
// documents nothing about its tokens (harsher when in doubt): a token is refused,
// 400 InvalidParameter, when it was not given by this API, belongs to a listing with
// other filters, or is older than Config.NextTokenTTL or than the last ExpireNextTokens.
func (s *Service) readToken(tok, filters, region string) (string, *rpc.Error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &t) != nil || t.After == "" {
		return "", rpc.Invalid("NextToken", "it is not a token this API returned")
	}
	if t.Filters != filters {
		return "", rpc.Invalid("NextToken", "it belongs to a listing with other filters")
	}
	if s.tokenTTL > 0 && s.clock().Sub(time.Unix(0, t.Issued)) > s.tokenTTL || t.Gen != s.tokenGen[region] {
		return "", rpc.Invalid("NextToken", "it has expired")
	}
	return t.After, nil
}

// filterKey sums up the filters of a DescribeInstances request (every parameter but
// the paging ones, DryRun and the gateway's), which its tokens are bound to.
func filterKey(p rpc.Params) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(p.Values)) {
		switch k {
		case "NextToken", "MaxResults", "PageNumber", "PageSize", "DryRun":
			continue
		}
		if slices.Contains(rpc.GatewayParams, k) {
			continue
		}
		fmt.Fprintf(h, "%s=%q;", k, p.Values[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ecsInstance is an instance as DescribeInstances answers it: the fields of
// the SDK's DescribeInstancesResponseBodyInstancesInstance that the emulator
// fills in, with the same names and nesting.
type ecsInstance struct {
	InstanceId          string
	InstanceName        string
	HostName            string
	Description         string
	RegionId            string
	ZoneId              string
	Status              string
	StoppedMode         string `json:",omitempty"`
	KeyPairName         string
	ResourceGroupId     string
	InstanceType        string
	InstanceTypeFamily  string
	Cpu                 int32
	Memory              int32
	OSType              string
	OSName              string
	ImageId             string
	InstanceNetworkType string
	InstanceChargeType  string
	InternetChargeType  string
	IoOptimized         bool
	CreationTime        string
	StartTime           string
	ExpiredTime         string
	VpcAttributes       struct {
		VpcId            string
		VSwitchId        string
		NatIpAddress     string
		PrivateIpAddress ipList
	}
	InnerIpAddress   ipList
	PublicIpAddress  ipList
	SecurityGroupIds struct{ SecurityGroupId []string }
	OperationLocks   struct{ LockReason []struct{ LockReason string } }
	Tags             ecsTags
}

type ipList struct {
	IpAddress []string
}

// toECSInstance renders an instance, making up the details the fixture does
// not hold from a hash of its id, so that they are stable.
func toECSInstance(in *Instance) ecsInstance {
	h := fnv.New32a()
	h.Write([]byte(in.InstanceId))
	n := h.Sum32()
	typ := cmp.Or(in.InstanceType, defaultInstanceType)
	out := ecsInstance{
		InstanceId:          in.InstanceId,
		InstanceName:        in.InstanceName,
		HostName:            "iZ" + strings.TrimPrefix(in.InstanceId, "i-") + "Z",
		RegionId:            in.RegionId,
		ZoneId:              in.ZoneId,
		Status:              in.Status,
		KeyPairName:         in.KeyPairName,
		ResourceGroupId:     in.ResourceGroupId,
		InstanceType:        typ,
		InstanceTypeFamily:  typ[:strings.LastIndex(typ, ".")],
		Cpu:                 2,
		Memory:              8192,
		OSType:              OSLinux,
		OSName:              "Alibaba Cloud Linux  3.2104 LTS 64位",
		ImageId:             "aliyun_3_x64_20G_alibase_20250629.vhd",
		InstanceNetworkType: "vpc",
		InstanceChargeType:  "PostPaid",
		InternetChargeType:  "PayByTraffic",
		IoOptimized:         true,
		CreationTime:        "2025-11-03T02:15Z",
		StartTime:           "2026-01-12T01:30Z",
		ExpiredTime:         "2099-12-31T15:59Z",
		InnerIpAddress:      ipList{IpAddress: []string{}},
		PublicIpAddress:     ipList{IpAddress: []string{}},
		Tags:                toECSTags(in.Tags),
	}
	if in.Status == StatusStopped {
		out.StoppedMode = "KeepCharging"
	}
	if in.OSType == OSWindows {
		out.OSType, out.OSName, out.ImageId = OSWindows, "Windows Server  2022 数据中心版 64位中文版", "win2022_21H2_x64_dtc_zh-cn_40G_alibase_20250610.vhd"
	}
	out.VpcAttributes.VpcId = fmt.Sprintf("vpc-bp1opxu1zkhn00gzv%04d", n%10000)
	out.VpcAttributes.VSwitchId = fmt.Sprintf("vsw-bp1s5fnvk4gn2tws0%04d", n%10000)
	out.VpcAttributes.PrivateIpAddress = ipList{IpAddress: []string{fmt.Sprintf("172.16.%d.%d", n>>8&0xff, 1+n%254)}}
	out.SecurityGroupIds.SecurityGroupId = []string{"sg-bp67acfmxazb4p0000"}
	out.OperationLocks.LockReason = []struct{ LockReason string }{}
	return out
}
