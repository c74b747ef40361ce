package ecs

import (
	"fmt"
	"net/http"
	"slices"

	"detachkeypair/emulator/internal/rpc"
)

// describeRegionsParams are the parameters of DescribeRegions that the emulator
// implements: the SDK model's (AcceptLanguage, InstanceChargeType, ResourceType; the
// owner-account ones are refused) and RegionId, which the API reference's sample request
// sends although the model has no such field (the answer does not depend on it).
var describeRegionsParams = []string{"AcceptLanguage", "InstanceChargeType", "ResourceType", "RegionId"}

// The values the API reference lists for DescribeRegions' parameters.
var (
	acceptLanguages     = []string{"zh-CN", "zh-TW", "en-US", "ja", "fr", "de", "ko"}
	instanceChargeTypes = []string{"PrePaid", "PostPaid", "SpotWithPriceLimit", "SpotAsPriceGo"}
	resourceTypes       = []string{"instance", "disk", "reservedinstance", "scu"}
)

// regionNames are the local names of the regions the emulator knows, in Chinese and
// in English (the console's names). A region of a fixture that is not listed is named
// by its id.
var regionNames = map[string][2]string{
	"cn-qingdao":     {"华北1（青岛）", "China (Qingdao)"},
	"cn-beijing":     {"华北2（北京）", "China (Beijing)"},
	"cn-zhangjiakou": {"华北3（张家口）", "China (Zhangjiakou)"},
	"cn-huhehaote":   {"华北5（呼和浩特）", "China (Hohhot)"},
	"cn-wulanchabu":  {"华北6（乌兰察布）", "China (Ulanqab)"},
	"cn-hangzhou":    {"华东1（杭州）", "China (Hangzhou)"},
	"cn-shanghai":    {"华东2（上海）", "China (Shanghai)"},
	"cn-shenzhen":    {"华南1（深圳）", "China (Shenzhen)"},
	"cn-heyuan":      {"华南2（河源）", "China (Heyuan)"},
	"cn-guangzhou":   {"华南3（广州）", "China (Guangzhou)"},
	"cn-chengdu":     {"西南1（成都）", "China (Chengdu)"},
	"cn-hongkong":    {"中国香港", "China (Hong Kong)"},
	"ap-southeast-1": {"新加坡", "Singapore"},
	"ap-southeast-3": {"马来西亚（吉隆坡）", "Malaysia (Kuala Lumpur)"},
	"ap-southeast-5": {"印度尼西亚（雅加达）", "Indonesia (Jakarta)"},
	"ap-northeast-1": {"日本（东京）", "Japan (Tokyo)"},
	"ap-northeast-2": {"韩国（首尔）", "South Korea (Seoul)"},
	"us-west-1":      {"美国（硅谷）", "US (Silicon Valley)"},
	"us-east-1":      {"美国（弗吉尼亚）", "US (Virginia)"},
	"eu-central-1":   {"德国（法兰克福）", "Germany (Frankfurt)"},
	"eu-west-1":      {"英国（伦敦）", "UK (London)"},
	"me-east-1":      {"阿联酋（迪拜）", "UAE (Dubai)"},
}

// regionAnswer is a region as DescribeRegions answers it (the SDK's
// DescribeRegionsResponseBodyRegionsRegion).
type regionAnswer struct {
	RegionId       string
	LocalName      string
	RegionEndpoint string
	Status         string
}

// errEmptyRegion is DescribeRegions' answer for an account without a region (its
// error table).
var errEmptyRegion = rpc.Errorf(http.StatusForbidden, "Unauthorized.EmptyRegion", "The specified account has no access authority to any region.")

// describeRegions lists the regions of the account: every region of the fixture, in its
// order, each "available" and with its own endpoint (the reference's current sample,
// ecs.cn-qingdao.aliyuncs.com). Assumptions, where the reference says nothing: every
// region supports every resource type and billing method (the filters narrow nothing),
// and LocalName is Chinese for zh-CN and zh-TW, English for the other languages.
func (s *Service) describeRegions(p rpc.Params) (any, *rpc.Error) {
	lang := p.Get("AcceptLanguage")
	for _, c := range []struct {
		name  string
		valid []string
	}{{"AcceptLanguage", acceptLanguages}, {"InstanceChargeType", instanceChargeTypes}, {"ResourceType", resourceTypes}} {
		if v := p.Get(c.name); v != "" && !slices.Contains(c.valid, v) {
			return nil, rpc.Invalid(c.name, fmt.Sprintf("%q is not one of %v", v, c.valid))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.regions) == 0 {
		return nil, errEmptyRegion
	}
	list := make([]regionAnswer, 0, len(s.regions))
	for _, id := range s.regions {
		name := id
		if n, ok := regionNames[id]; ok {
			name = n[1]
			if lang == "" || lang == "zh-CN" || lang == "zh-TW" {
				name = n[0]
			}
		}
		list = append(list, regionAnswer{RegionId: id, LocalName: name, RegionEndpoint: "ecs." + id + ".aliyuncs.com", Status: "available"})
	}
	return map[string]any{"Regions": map[string]any{"Region": list}}, nil
}
