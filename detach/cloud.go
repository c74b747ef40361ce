package detach

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Cloud is what the function needs from one product's API in one place (an ECS region,
// or ENS, which has no API regions): one cloud call per method. The adapters (ecs, ens)
// implement it over the Alibaba Cloud SDKs; paging, pacing, retries and every rule of
// the contract are done here, so the adapters only translate.
type Cloud interface {
	// Limits says which product the cloud is and how much one call may carry.
	Limits() Limits
	// DescribeKeyPairs returns one page of the key pairs that match q.
	DescribeKeyPairs(ctx context.Context, q KeyPairQuery) (KeyPairPage, error)
	// DescribeInstances returns one page of the instances that match q.
	DescribeInstances(ctx context.Context, q InstanceQuery) (InstancePage, error)
	// DetachKeyPair detaches kp from up to Limits().Batch instances and returns the
	// cloud's own result for each instance. The adapter names kp the way its API
	// prefers (ECS: by name; ENS: by id when it has one).
	DetachKeyPair(ctx context.Context, kp KeyPair, instanceIDs []string) ([]Outcome, error)
}

// Products the function serves.
const (
	ProductECS = "ECS"
	ProductENS = "ENS"
)

// Limits describe a cloud: its product and region, and the most a call may carry.
type Limits struct {
	Product     string // ProductECS or ProductENS
	Region      string // the API region the cloud serves ("" for ENS)
	KeyPairPage int    // DescribeKeyPairs: most key pairs a page
	DescribeIDs int    // DescribeInstances: most ids a call, and most instances a page
	Batch       int    // DetachKeyPair: most ids a call
	// InstanceTags says that DescribeInstances returns every instance's tags in
	// Instance.Tags (none: an empty list). An adapter whose API does not tell them
	// leaves it false and returns no tags; it must never guess them. The guard then
	// refuses every request while a tag rule (PROTECTED_TAG, REQUIRED_TAG) is set,
	// rather than treat an instance whose tags it cannot see as untagged.
	InstanceTags bool
	// EmptyTagsUnclear says that an instance listed without tags may have lost them: the
	// cloud tells tags in an answer with no count to check it against (ENS's
	// ListTagResources), so an answer that lists none for an instance cannot be told
	// from a hollow one. The guard then does not touch an instance without tags while a
	// tag rule is set, rather than take it for untagged (guard.go).
	EmptyTagsUnclear bool
	// DetachByID says that DetachKeyPair names the key pair by its id when it has one
	// (ENS), so that the cloud itself refuses an id that no longer exists; false: by name
	// (ECS). A request by id is served from the cache of resolved key pairs only then
	// (keypairs.go).
	DetachByID bool
}

// ECS's limits, for the ecs adapter and for the settings that may not exceed them.
const (
	ECSKeyPairPage = 50  // DescribeKeyPairs PageSize
	ECSDescribeIDs = 100 // DescribeInstances InstanceIds and MaxResults
	ECSBatch       = 50  // DetachKeyPair InstanceIds
)

// ENS's limits (API 2017-11-10), for the ens adapter. ENS documents no maximum page size
// for DescribeKeyPairs: the adapter asks for 50, as ECS allows.
const (
	ENSKeyPairPage = 50 // DescribeKeyPairs PageSize
	ENSDescribeIDs = 50 // DescribeInstances InstanceIds and PageSize (100 allowed): ListTagResources takes 50 ids

	ENSBatch = 30 // DetachKeyPair InstanceIds
)

// KeyPair is an SSH key pair. ID is "" where the cloud does not tell it.
type KeyPair struct {
	ID   string
	Name string
}

// KeyPairQuery selects key pairs: by exact id, or by name ("" = all; "*" is a wildcard
// where the API treats the name as a pattern), one page at a time (Page is 1-based).
type KeyPairQuery struct {
	ID   string
	Name string
	Page int
}

// KeyPairPage is one page of DescribeKeyPairs.
type KeyPairPage struct {
	KeyPairs   []KeyPair
	TotalCount int
}

// Instance is what the function needs to know of an instance.
type Instance struct {
	ID          string
	Status      string // Running, Stopped, Starting, Stopping, ...
	KeyPairName string // the bound key pair, "" if none
	Tags        []Tag  // the instance's tags, where Limits().InstanceTags says the cloud tells them
	// Region is the instance's own region where the cloud has no API regions (ENS: its
	// edge region, EnsRegionId), for ALLOWED_REGIONS; "" elsewhere (Limits().Region).
	Region string
}

// StatusStopped is the only status in which the contract detaches a key pair.
const StatusStopped = "Stopped"

// InstanceQuery selects instances: by ids (up to Limits().DescribeIDs), or by key pair,
// tags, resource group (ECS) and edge regions (ENS), one page at a time (NextToken "" =
// the first page). An adapter whose API cannot filter by key pair (ENS) may return other
// instances too: the caller keeps those bound to the key pair.
type InstanceQuery struct {
	IDs             []string
	KeyPairName     string
	Tags            []Tag
	ResourceGroupID string
	EnsRegionIDs    []string // ENS: the edge regions (EnsRegionId) to look in; none = all
	NextToken       string
	PageSize        int
}

// InstancePage is one page of DescribeInstances; NextToken is "" on the last page.
type InstancePage struct {
	Instances []Instance
	NextToken string
}

// Outcome is the cloud's result for one instance of a DetachKeyPair call.
type Outcome struct {
	InstanceID string
	Code       int // 200 on success
	Success    bool
	ErrorCode  string // the cloud's code when it gave one, e.g. IncorrectInstanceStatus
	Message    string
}

// CloudError is an error answer from the cloud, or a call that got no answer
// (Status 0: connection refused, dropped or timed out).
type CloudError struct {
	Status    int    // HTTP status of the answer, 0 if none
	Code      string // the cloud's error code, e.g. Throttling.User
	Message   string
	RequestID string // the cloud's request id, for support
}

// CodeInvalidResponse is the code of a CloudError for an answer that came (HTTP 200) but
// cannot be used: unreadable, or hollow (a list with null entries, or shorter than its
// own count). A call that changes state may have acted; asking again may answer in full.
const CodeInvalidResponse = "InvalidResponse"

// Error says what the cloud answered and, when it gave one, its request id, which the
// cloud's support asks for.
func (e *CloudError) Error() string {
	var s string
	if e.Status == 0 {
		s = "no answer from the cloud: " + e.Message
	} else {
		s = fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	}
	if e.RequestID != "" {
		s += " (RequestId " + e.RequestID + ")"
	}
	return s
}

// Throttled reports whether the cloud refused the call for exceeding a quota.
func (e *CloudError) Throttled() bool {
	return strings.HasPrefix(e.Code, "Throttling") || e.Code == "TooManyRequests" || e.Status == http.StatusTooManyRequests
}

// Unavailable reports whether the call failed on the cloud's side or in transit (no
// answer, a 5xx, or an InvalidResponse), so that the same call may succeed later. A
// call that changes state may have acted all the same.
func (e *CloudError) Unavailable() bool {
	return e.Status == 0 || e.Status >= 500 && !e.Throttled() || e.Code == CodeInvalidResponse
}

// Retryable reports whether the call is worth repeating.
func (e *CloudError) Retryable() bool { return e.Throttled() || e.Unavailable() }

// RegionUnknown reports whether the cloud does not know the region the call named
// (ECS: InvalidRegionId.NotFound, or a region without an endpoint): the caller's mistake.
func (e *CloudError) RegionUnknown() bool { return strings.HasPrefix(e.Code, "InvalidRegionId") }

// KeyPairNotFound reports whether the cloud refused the call because the key pair it
// names does not exist: ECS's InvalidKeyPairName.NotFound (DetachKeyPair's error table)
// and any other InvalidKeyPair….NotFound; ENS documents no code for it, and its
// InvalidParameter.KeyPairId, the answer to an id it does not know (the emulator's
// assumption), counts too: the function sends only ids the cloud answered.
func (e *CloudError) KeyPairNotFound() bool {
	return strings.HasPrefix(e.Code, "InvalidKeyPair") && strings.HasSuffix(e.Code, ".NotFound") ||
		e.Code == "InvalidParameter.KeyPairId"
}

// Forbidden reports whether the cloud refused the call for lack of permission.
func (e *CloudError) Forbidden() bool {
	return strings.HasPrefix(e.Code, "Forbidden") || e.Code == "NoPermission" ||
		strings.HasPrefix(e.Code, "InvalidOperation.NotAuthorized") || e.Code == "UnauthorizedOperation"
}

// toRequestError maps an error met before anything was detached to the contract's
// request-level error. what says which step failed.
func toRequestError(err error, what string) *Error {
	var ce *CloudError
	switch {
	case errors.As(err, &ce) && ce.Throttled():
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeThrottling,
			Message: fmt.Sprintf("%s: the cloud kept throttling the function past its retries (%s); try again later", what, ce.Code)}
	case errors.As(err, &ce) && ce.Unavailable():
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
			Message: fmt.Sprintf("%s: the cloud stayed unavailable past the retries (%s); try again later", what, ce.Error())}
	case errors.As(err, &ce) && ce.KeyPairNotFound():
		return &Error{Status: http.StatusNotFound, Code: CodeKeyPairNotFound,
			Message: fmt.Sprintf("%s: the cloud says the key pair does not exist (%s: %s); nothing was detached: it may have been deleted meanwhile", what, ce.Code, ce.Message)}
	case errors.As(err, &ce) && ce.RegionUnknown():
		return invalidParameter("RegionId", fmt.Sprintf("%s: the cloud does not know the region (%s: %s); give the region the instances are in, such as cn-hangzhou",
			what, ce.Code, ce.Message))
	case errors.As(err, &ce) && ce.Forbidden():
		return &Error{Status: http.StatusBadRequest, Code: CodeNoPermission,
			Message: fmt.Sprintf("%s: the function's role lacks permission (%s: %s)", what, ce.Code, ce.Message)}
	case errors.As(err, &ce):
		return Internal(fmt.Sprintf("%s: the cloud answered %s", what, ce.Error()))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
			Message: fmt.Sprintf("%s: the function ran out of time before the cloud answered", what)}
	default:
		return Internal(what + ": " + err.Error())
	}
}

// toInstanceFailure maps the error of a DetachKeyPair call that failed as a whole to the
// result of each instance in it.
func toInstanceFailure(id string, err error) InstanceResult {
	e := toRequestError(err, "DetachKeyPair")
	return failed(id, e.Status, e.Code, e.Message)
}
