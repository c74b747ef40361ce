package emulator

import (
	"cmp"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ecsVersion is the ECS API version the emulator serves.
const ecsVersion = "2014-05-26"

// ecsTimeLayout is the form of ECS creation times ("2026-01-05T08:00Z").
const ecsTimeLayout = "2006-01-02T15:04Z"

// Limits of the ECS API.
const (
	maxBatchIDs         = 50  // DetachKeyPair / AttachKeyPair InstanceIds
	maxDescribeIDs      = 100 // DescribeInstances InstanceIds
	maxKeyPairsPage     = 50
	maxInstancesPage    = 100
	defaultPageSize     = 10
	maxTagFilters       = 20
	defaultInstanceType = "ecs.g7.large"
)

var ecsAnswer = answer{ok: writeECSOK, fail: writeECSError}

func writeECSOK(w http.ResponseWriter, r *http.Request, requestID string, body any) {
	writeJSON(w, http.StatusOK, requestID, body)
}

// writeECSError writes the error body of the OpenAPI gateway.
func writeECSError(w http.ResponseWriter, r *http.Request, requestID string, e *apiError) {
	writeJSON(w, e.Status, requestID, struct {
		RequestId, HostId, Code, Message, Recommend string
	}{
		RequestId: requestID,
		HostId:    r.Host,
		Code:      e.Code,
		Message:   e.Message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) + "&product=Ecs&requestId=" + requestID,
	})
}

// serveECS answers an RPC-style ECS request. Parameters come from the query
// and, for a form body, from the body; the action and version from the
// parameters or, as the V3 signature sends them, from the x-acs-action and
// x-acs-version headers.
func (s *Server) serveECS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeECSError(w, r, newRequestID(), errorf(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method not supported."))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeECSError(w, r, newRequestID(), errorf(http.StatusBadRequest, "InvalidParameter", "The request body cannot be read: %v.", err))
		return
	}
	params := r.URL.Query()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeECSError(w, r, newRequestID(), errorf(http.StatusBadRequest, "InvalidParameter", "The form body is malformed."))
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	action := cmp.Or(params.Get("Action"), r.Header.Get("x-acs-action"))
	version := cmp.Or(params.Get("Version"), r.Header.Get("x-acs-version"))
	switch {
	case action == "":
		writeECSError(w, r, newRequestID(), missing("Action"))
		return
	case version != ecsVersion:
		writeECSError(w, r, newRequestID(), errorf(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."))
		return
	}
	var handle func(url.Values) (any, *apiError)
	switch action {
	case APIDescribeKeyPairs:
		handle = s.describeKeyPairs
	case APIDescribeInstances:
		handle = s.describeInstances
	case APIDetachKeyPair:
		handle = s.detachKeyPair
	case APIAttachKeyPair:
		handle = s.attachKeyPair
	default:
		writeECSError(w, r, newRequestID(), errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	s.serve(w, r, action, ecsAnswer,
		func() *apiError { return s.authECS(r, params, body) },
		func(requestID string) (any, *apiError) {
			out, e := handle(params)
			if m, ok := out.(map[string]any); ok {
				m["RequestId"] = requestID
			}
			return out, e
		})
}

func missing(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func invalid(name, why string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid: %s.", name, why)
}

// region checks the RegionId parameter. The caller holds s.mu.
func (s *Server) region(p url.Values) (string, *apiError) {
	region := p.Get("RegionId")
	if region == "" {
		return "", missing("RegionId")
	}
	if !slices.Contains(s.regions, region) {
		return "", errorf(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId does not exist.")
	}
	return region, nil
}

// intParam reads an optional integer parameter in [lo, hi].
func intParam(p url.Values, name string, def, lo, hi int) (int, *apiError) {
	v := p.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// idList reads a JSON array of ids, such as InstanceIds=["i-a","i-b"].
func idList(p url.Values, name string, max int) ([]string, bool, *apiError) {
	v, ok := p[name]
	if !ok || len(v) == 0 {
		return nil, false, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(v[0]), &ids); err != nil {
		return nil, true, invalid(name, `must be a JSON array of strings such as ["i-a","i-b"]`)
	}
	if len(ids) > max {
		return nil, true, invalid(name, fmt.Sprintf("at most %d ids are allowed, got %d", max, len(ids)))
	}
	return ids, true, nil
}

// tagFilters reads Tag.N.Key / Tag.N.Value (N from 1 to 20). A filter
// without a value matches any value of the key.
func tagFilters(p url.Values) ([]Tag, *apiError) {
	byN := map[int]*Tag{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		ns, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > maxTagFilters || (field != "Key" && field != "Value") {
			return nil, invalid(k, fmt.Sprintf("tags are Tag.N.Key and Tag.N.Value with N from 1 to %d", maxTagFilters))
		}
		if byN[n] == nil {
			byN[n] = &Tag{}
		}
		if field == "Key" {
			byN[n].Key = p.Get(k)
		} else {
			byN[n].Value = p.Get(k)
		}
	}
	var tags []Tag
	for n := 1; n <= maxTagFilters; n++ {
		if t := byN[n]; t != nil {
			if t.Key == "" {
				return nil, invalid(fmt.Sprintf("Tag.%d.Key", n), "a tag filter needs a key")
			}
			tags = append(tags, *t)
		}
	}
	return tags, nil
}

// hasTags reports whether tags match every filter.
func hasTags(tags, filters []Tag) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(tags, func(t Tag) bool { return t.Key == f.Key && (f.Value == "" || t.Value == f.Value) }) {
			return false
		}
	}
	return true
}

// matchPattern matches a name against a pattern in which "*" stands for any
// run of characters, as DescribeKeyPairs' KeyPairName and DescribeInstances'
// InstanceName do.
func matchPattern(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return strings.HasSuffix(name, last)
}

type ecsTags struct {
	Tag []ecsTag
}

type ecsTag struct {
	TagKey, TagValue string
}

func toECSTags(tags []Tag) ecsTags {
	out := ecsTags{Tag: []ecsTag{}}
	for _, t := range tags {
		out.Tag = append(out.Tag, ecsTag{t.Key, t.Value})
	}
	return out
}

// describeKeyPairs lists a region's key pairs, filtered by KeyPairName (a
// pattern with "*"), KeyPairFingerPrint, ResourceGroupId and tags, a page at
// a time.
func (s *Server) describeKeyPairs(p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	region, e := s.region(p)
	if e != nil {
		return nil, e
	}
	page, e := intParam(p, "PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	size, e := intParam(p, "PageSize", defaultPageSize, 1, maxKeyPairsPage)
	if e != nil {
		return nil, e
	}
	tags, e := tagFilters(p)
	if e != nil {
		return nil, e
	}
	name, finger, group := p.Get("KeyPairName"), p.Get("KeyPairFingerPrint"), p.Get("ResourceGroupId")
	type keyPair struct {
		KeyPairId, KeyPairName, KeyPairFingerPrint, CreationTime, ResourceGroupId string
		Tags                                                                      ecsTags
	}
	matched := []keyPair{}
	for _, kp := range s.keyPairs {
		if kp.RegionId != region || (name != "" && !matchPattern(name, kp.KeyPairName)) ||
			(finger != "" && kp.FingerPrint != finger) || (group != "" && kp.ResourceGroupId != group) || !hasTags(kp.Tags, tags) {
			continue
		}
		matched = append(matched, keyPair{kp.KeyPairId, kp.KeyPairName, kp.FingerPrint,
			cmp.Or(kp.CreationTime, "2026-01-05T08:00Z"), kp.ResourceGroupId, toECSTags(kp.Tags)})
	}
	from := min((page-1)*size, len(matched))
	to := min(from+size, len(matched))
	return map[string]any{
		"TotalCount": len(matched),
		"PageNumber": page,
		"PageSize":   size,
		"KeyPairs":   map[string]any{"KeyPair": matched[from:to]},
	}, nil
}

// describeInstances lists a region's instances in instance-id order,
// filtered as the cloud filters them (InstanceIds, KeyPairName, Status,
// ZoneId, InstanceName, ResourceGroupId, Tag.N), by page
// (PageNumber/PageSize) or by token (NextToken/MaxResults, which win).
func (s *Server) describeInstances(p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	region, e := s.region(p)
	if e != nil {
		return nil, e
	}
	ids, byID, e := idList(p, "InstanceIds", maxDescribeIDs)
	if e != nil {
		return nil, e
	}
	tags, e := tagFilters(p)
	if e != nil {
		return nil, e
	}
	tokenMode := p.Get("NextToken") != "" || p.Get("MaxResults") != ""
	var page, size int
	var after string
	if tokenMode {
		if size, e = intParam(p, "MaxResults", defaultPageSize, 1, maxInstancesPage); e != nil {
			return nil, e
		}
		if tok := p.Get("NextToken"); tok != "" {
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || !strings.HasPrefix(string(b), "after:") {
				return nil, invalid("NextToken", "it is not a token this API returned")
			}
			after = strings.TrimPrefix(string(b), "after:")
		}
	} else {
		if page, e = intParam(p, "PageNumber", 1, 1, 1<<30); e != nil {
			return nil, e
		}
		if size, e = intParam(p, "PageSize", defaultPageSize, 1, maxInstancesPage); e != nil {
			return nil, e
		}
	}
	keyPair, status, zone := p.Get("KeyPairName"), p.Get("Status"), p.Get("ZoneId")
	name, group := p.Get("InstanceName"), p.Get("ResourceGroupId")

	var matched []*Instance
	for _, id := range s.ids {
		in := s.instances[id]
		if in.RegionId != region || (byID && !slices.Contains(ids, id)) ||
			(keyPair != "" && in.KeyPairName != keyPair) || (status != "" && in.Status != status) ||
			(zone != "" && in.ZoneId != zone) || (name != "" && !matchPattern(name, in.InstanceName)) ||
			(group != "" && in.ResourceGroupId != group) || !hasTags(in.Tags, tags) {
			continue
		}
		matched = append(matched, in)
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
			next = base64.RawURLEncoding.EncodeToString([]byte("after:" + matched[to-1].InstanceId))
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
		OSType:              "linux",
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
	out.VpcAttributes.VpcId = fmt.Sprintf("vpc-bp1opxu1zkhn00gzv%04d", n%10000)
	out.VpcAttributes.VSwitchId = fmt.Sprintf("vsw-bp1s5fnvk4gn2tws0%04d", n%10000)
	out.VpcAttributes.PrivateIpAddress = ipList{IpAddress: []string{fmt.Sprintf("172.16.%d.%d", n>>8&0xff, 1+n%254)}}
	out.SecurityGroupIds.SecurityGroupId = []string{"sg-bp67acfmxazb4p0000"}
	out.OperationLocks.LockReason = []struct{ LockReason string }{}
	return out
}

// batchResult is one instance's entry in DetachKeyPair / AttachKeyPair
// answers, whose fields are all strings as in the SDK's model.
type batchResult struct {
	Code, Message, InstanceId, Success string
}

// keyPairBatch reads the common parameters of DetachKeyPair and
// AttachKeyPair. The caller holds s.mu.
func (s *Server) keyPairBatch(p url.Values) (*KeyPair, []string, *apiError) {
	region, e := s.region(p)
	if e != nil {
		return nil, nil, e
	}
	name := p.Get("KeyPairName")
	if name == "" {
		return nil, nil, missing("KeyPairName")
	}
	ids, given, e := idList(p, "InstanceIds", maxBatchIDs)
	switch {
	case e != nil:
		return nil, nil, e
	case !given:
		return nil, nil, missing("InstanceIds")
	case len(ids) == 0:
		return nil, nil, invalid("InstanceIds", "it must hold from 1 to 50 ids")
	}
	kp := s.keyPair(region, name)
	if kp == nil {
		return nil, nil, errorf(http.StatusNotFound, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.")
	}
	return kp, ids, nil
}

func (s *Server) keyPair(region, name string) *KeyPair {
	for i := range s.keyPairs {
		if s.keyPairs[i].RegionId == region && s.keyPairs[i].KeyPairName == name {
			return &s.keyPairs[i]
		}
	}
	return nil
}

// detachKeyPair unbinds a key pair from up to 50 instances. Each instance
// gets its own result; only the ones reported successful change.
func (s *Server) detachKeyPair(p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kp, ids, e := s.keyPairBatch(p)
	if e != nil {
		return nil, e
	}
	return s.batch(kp, ids, func(in *Instance) batchResult {
		switch {
		case in.Status != StatusStopped:
			return failed(in.InstanceId, "400", "IncorrectInstanceStatus", "The current status of the instance ("+in.Status+") does not support this operation; stop it first.")
		case in.KeyPairName != kp.KeyPairName:
			return failed(in.InstanceId, "400", "PublicKeyNotAttachWithInstance", "The key pair "+kp.KeyPairName+" is not attached to the instance.")
		}
		in.KeyPairName = ""
		return batchResult{"200", "successful", in.InstanceId, "true"}
	}), nil
}

// attachKeyPair binds a key pair to up to 50 Running or Stopped instances,
// replacing the key pair they had, as the cloud does.
func (s *Server) attachKeyPair(p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kp, ids, e := s.keyPairBatch(p)
	if e != nil {
		return nil, e
	}
	return s.batch(kp, ids, func(in *Instance) batchResult {
		if in.Status != StatusStopped && in.Status != StatusRunning {
			return failed(in.InstanceId, "400", "IncorrectInstanceStatus", "The current status of the instance ("+in.Status+") does not support this operation.")
		}
		in.KeyPairName = kp.KeyPairName
		return batchResult{"200", "successful", in.InstanceId, "true"}
	}), nil
}

// batch applies op to each existing instance of the key pair's region in
// the request's order and builds the answer. The caller holds s.mu.
func (s *Server) batch(kp *KeyPair, ids []string, op func(*Instance) batchResult) map[string]any {
	results := make([]batchResult, 0, len(ids))
	fails := 0
	for _, id := range ids {
		var res batchResult
		if in, ok := s.instances[id]; !ok || in.RegionId != kp.RegionId {
			res = failed(id, "404", "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.")
		} else {
			res = op(in)
		}
		if res.Success != "true" {
			fails++
		}
		results = append(results, res)
	}
	return map[string]any{
		"KeyPairName": kp.KeyPairName,
		"TotalCount":  strconv.Itoa(len(ids)),
		"FailCount":   strconv.Itoa(fails),
		"Results":     map[string]any{"Result": results},
	}
}

func failed(id, code, errCode, msg string) batchResult {
	return batchResult{Code: code, Message: errCode + ": " + msg, InstanceId: id, Success: "false"}
}

// fingerPrint makes up an MD5 fingerprint in the cloud's colon form.
func fingerPrint(seed string) string {
	sum := md5.Sum([]byte(seed))
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}
