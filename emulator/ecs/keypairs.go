package ecs

import (
	"cmp"
	"crypto/md5"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/rpc"
)

// attachKeyPair binds a key pair to up to 50 Running or Stopped instances,
// replacing the key pair they had, as the cloud does.
func (s *Service) attachKeyPair(p url.Values) (any, *rpc.Error) {
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

// detachKeyPair unbinds a key pair from up to 50 instances. Each instance
// gets its own result; only the ones reported successful change.
func (s *Service) detachKeyPair(p url.Values) (any, *rpc.Error) {
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

// describeKeyPairs lists a region's key pairs, filtered by KeyPairName (a
// pattern with "*"), KeyPairFingerPrint, ResourceGroupId and tags, a page at
// a time.
func (s *Service) describeKeyPairs(p url.Values) (any, *rpc.Error) {
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

// batchResult is one instance's entry in DetachKeyPair / AttachKeyPair
// answers, whose fields are all strings as in the SDK's model.
type batchResult struct {
	Code, Message, InstanceId, Success string
}

// keyPairBatch reads the common parameters of DetachKeyPair and
// AttachKeyPair. The caller holds s.mu.
func (s *Service) keyPairBatch(p url.Values) (*KeyPair, []string, *rpc.Error) {
	region, e := s.region(p)
	if e != nil {
		return nil, nil, e
	}
	name := p.Get("KeyPairName")
	if name == "" {
		return nil, nil, rpc.Missing("KeyPairName")
	}
	ids, given, e := idList(p, "InstanceIds", maxBatchIDs)
	switch {
	case e != nil:
		return nil, nil, e
	case !given:
		return nil, nil, rpc.Missing("InstanceIds")
	case len(ids) == 0:
		return nil, nil, rpc.Invalid("InstanceIds", "it must hold from 1 to 50 ids")
	}
	kp := s.keyPair(region, name)
	if kp == nil {
		return nil, nil, rpc.Errorf(http.StatusNotFound, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.")
	}
	return kp, ids, nil
}

func (s *Service) keyPair(region, name string) *KeyPair {
	for i := range s.keyPairs {
		if s.keyPairs[i].RegionId == region && s.keyPairs[i].KeyPairName == name {
			return &s.keyPairs[i]
		}
	}
	return nil
}

// batch applies op to each existing instance of the key pair's region in
// the request's order and builds the answer. The caller holds s.mu.
func (s *Service) batch(kp *KeyPair, ids []string, op func(*Instance) batchResult) map[string]any {
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
