package settings

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"detachkeypair/detach"
)

// The quota settings: ECS_QPS and ENS_QPS (each product's quota per API), API_QPS (one
// API's own), and MAX_FUNCTION_INSTANCES, the most instances of the function at once, by
// which each instance divides them (detach.InstancePace).

// DefaultMaxFunctionInstances is MAX_FUNCTION_INSTANCES unless set: the function runs as
// one instance at a time, and paces at the whole quota. The deployment files set it to
// the function's reserved concurrency.
const DefaultMaxFunctionInstances = 1

// MaxMaxFunctionInstances is the largest MAX_FUNCTION_INSTANCES the function takes.
const MaxMaxFunctionInstances = 1000

// apiPrefixes name the products in API_QPS, as RAM names their actions (ecs:…, ens:…).
var apiPrefixes = map[string]string{"ecs": detach.ProductECS, "ens": detach.ProductENS}

// apiPrefix is the name of product in API_QPS.
func apiPrefix(product string) string {
	for prefix, p := range apiPrefixes {
		if p == product {
			return prefix
		}
	}
	return ""
}

// apiQPSNames lists the APIs API_QPS takes, for messages.
func apiQPSNames() string {
	var names []string
	for _, prefix := range slices.Sorted(maps.Keys(apiPrefixes)) {
		for _, api := range detach.PacedAPIs {
			names = append(names, prefix+":"+api)
		}
	}
	return strings.Join(names, ", ")
}

// apiQPS reads API_QPS: comma-separated <product>:<API>=<calls a second>, such as
// ecs:DetachKeyPair=10,ens:DescribeInstances=5, each the account's quota of that API
// (0: unpaced), which then takes the place of ECS_QPS or ENS_QPS for it.
func apiQPS(v string, bad func(name, value, want string)) map[detach.QuotaKey]float64 {
	if v == "" {
		return nil
	}
	out := map[detach.QuotaKey]float64{}
	for _, entry := range list("API_QPS", v, bad) {
		name, value, hasValue := strings.Cut(entry, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		prefix, api, _ := strings.Cut(name, ":")
		product, known := apiPrefixes[prefix]
		q, err := strconv.ParseFloat(value, 64)
		k := detach.QuotaKey{Product: product, API: api}
		_, twice := out[k]
		switch {
		case !hasValue:
			bad("API_QPS", v, fmt.Sprintf("%q: want <API>=<calls a second>, such as ecs:DetachKeyPair=10", entry))
		case !known || !slices.Contains(detach.PacedAPIs, api):
			bad("API_QPS", v, fmt.Sprintf("%q is not an API the function paces: want one of %s", name, apiQPSNames()))
		case err != nil || q < 0 || q > 10000 || math.IsNaN(q):
			bad("API_QPS", v, fmt.Sprintf("%q: want a number of calls a second from 0 (unpaced) to 10000", entry))
		case twice:
			bad("API_QPS", v, fmt.Sprintf("%s is given twice", name))
		default:
			out[k] = q
		}
	}
	return out
}

// checkInstances refuses more instances than a quota has calls a second: each instance
// must be let make at least one call a second of every API, or unsynchronised instances
// could all make theirs in the same second, past the quota (detach.InstancePace).
func (s Settings) checkInstances(bad func(name, value, want string)) {
	n := s.MaxFunctionInstances
	check := func(quota float64, setting string) bool {
		if quota > 0 && math.Floor(quota) < float64(n) {
			bad("MAX_FUNCTION_INSTANCES", strconv.Itoa(n), fmt.Sprintf(
				"more instances than %s=%g calls a second: each instance paces every API at the quota divided by the instances, and below one call a second each, "+
					"instances that run at once could exceed the quota within a second; set at most %d (and the function's reserved concurrency with it), or a larger quota",
				setting, quota, int(math.Floor(quota))))
			return false
		}
		return true
	}
	_ = check(s.ECSQPS, "ECS_QPS") && check(s.ENSQPS, "ENS_QPS")
	for _, k := range sortedQuotaKeys(s.APIQPS) {
		if !check(s.APIQPS[k], "API_QPS "+apiPrefix(k.Product)+":"+k.API) {
			return
		}
	}
}

// sortedQuotaKeys returns the keys of m by product, then API, so that messages come in
// one order.
func sortedQuotaKeys(m map[detach.QuotaKey]float64) []detach.QuotaKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b detach.QuotaKey) int {
		return strings.Compare(a.Product+":"+a.API, b.Product+":"+b.API)
	})
}
