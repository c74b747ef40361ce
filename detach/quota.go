package detach

import "math"

// The cloud's flow-control quotas are the account's, per API (and, for ECS, per region),
// while the function runs as up to MAX_FUNCTION_INSTANCES instances at once (FC's go1
// runtime serves one invocation per instance, and starts more for concurrent ones), each
// a process with its own pacers. So that the account stays under a quota however many
// instances run, each instance paces each API at its share of the quota: InstancePace.

// QuotaKey names one API of one product, for a quota of its own (API_QPS).
type QuotaKey struct {
	Product string // ProductECS or ProductENS
	API     string // APIDescribeKeyPairs, APIDescribeInstances or APIDetachKeyPair
}

// PacedAPIs are the APIs the function paces, each under its own quota. (ENS's
// ListTagResources is called once for each DescribeInstances page, by the ens adapter
// within its DescribeInstances, so it goes at DescribeInstances' pace.)
var PacedAPIs = []string{APIDescribeKeyPairs, APIDescribeInstances, APIDetachKeyPair}

// paceMargin keeps each instance's pace a little under its share of the quota (see
// InstancePace), so that calls delayed on their way, and so bunched up at the cloud,
// still fit in the cloud's one-second windows.
const paceMargin = 0.95

// InstancePace is the rate, in calls a second, at which one instance paces an API whose
// account-wide quota is quota calls a second, when at most instances instances of the
// function run at once (0: unpaced).
//
// The cloud counts calls in one-second windows (the emulator's windows are aligned to
// whole seconds, and admit floor(quota) calls each; ECS documents quotas per second),
// and the instances are not synchronised: their calls may fall in any window, in any
// phase. So the pace is set so that no instance can put more than its share
// c = floor(floor(quota) / instances) of calls in any one window, whatever its phase:
// then the instances together put at most instances × c ≤ floor(quota) there.
//
// An instance's pacer spaces its calls by at least 1/rate (a token bucket holding one
// token: no bursts). A window of one second holds c+1 calls only if they span less than
// a second; at rate = c × paceMargin, c+1 calls start c / (c × 0.95) = 1.053 s apart at
// the least, so a window holds c+1 of them only if the first of them reaches the cloud
// more than 53 ms later, relative to the last, than it left: the margin absorbs that much
// jitter between the pacer and the cloud (goroutine scheduling, a connection set up).
// Whole calls per window, rather than quota / instances, because a fraction of a call per
// window rounds up in some windows: with 3 instances under 20 a second, 6.67 each can
// mean 7 in one window, 21 in all; c = 6 cannot.
//
// With more instances than calls a second in the quota (c = 0), no pace can keep
// unsynchronised instances within every window (each must be let make some call, and all
// may make it in the same second): the pace is then quota / instances × paceMargin, the
// account's rate is under the quota on average only, and the cloud's Throttling answers,
// retried with backoff, absorb the rest. settings.Load refuses that configuration.
func InstancePace(quota float64, instances int) float64 {
	if quota <= 0 {
		return 0
	}
	instances = max(instances, 1)
	if c := math.Floor(math.Floor(quota) / float64(instances)); c >= 1 {
		return c * paceMargin
	}
	return quota / float64(instances) * paceMargin
}

// quota is the account's quota of an API of a product: its own (APIQPS), else its
// product's (ProductQPS), else QPS.
func (o Options) quota(product, api string) float64 {
	if q, ok := o.APIQPS[QuotaKey{product, api}]; ok {
		return q
	}
	if q, ok := o.ProductQPS[product]; ok {
		return q
	}
	return o.QPS
}
