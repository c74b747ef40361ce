package ens

import (
	"cmp"
	"net/http"
	"slices"

	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
)

// describeKeyPairsParams are the parameters of DescribeKeyPairs (all of the API's).
var describeKeyPairsParams = []string{"KeyPairId", "KeyPairName", "PageNumber", "PageSize"}

// keyPairAnswer is a key pair as DescribeKeyPairs answers it (KeyPairs.KeyPair[]).
type keyPairAnswer struct {
	KeyPairId          string
	KeyPairName        string
	KeyPairFingerPrint string
	CreationTime       string
}

// describeKeyPairs lists the account's key pairs in creation order, filtered by
// KeyPairId (exact) and KeyPairName, a page at a time.
//
// Assumptions (undocumented): KeyPairName is a pattern with "*" as ECS's is (a name
// without "*" matches exactly), and PageSize is at most 50 (harsher than no maximum:
// larger is refused).
func (s *Service) describeKeyPairs(p rpc.Params) (any, *rpc.Error) {
	page, size, e := p.Page(defaultPageSize, maxKeyPairsPage)
	if e != nil {
		return nil, e
	}
	id, name := p.Get("KeyPairId"), p.Get("KeyPairName")
	s.mu.Lock()
	defer s.mu.Unlock()
	matched := []keyPairAnswer{}
	for _, kp := range s.keyPairs {
		if (id != "" && kp.KeyPairId != id) || (name != "" && !rpc.MatchPattern(name, kp.KeyPairName)) {
			continue
		}
		matched = append(matched, keyPairAnswer{KeyPairId: kp.KeyPairId, KeyPairName: kp.KeyPairName,
			KeyPairFingerPrint: kp.FingerPrint, CreationTime: cmp.Or(kp.CreationTime, "2026-01-05T08:00:00Z")})
	}
	from := min((page-1)*size, len(matched))
	return map[string]any{
		"TotalCount": len(matched),
		"PageNumber": page,
		"PageSize":   size,
		"KeyPairs":   map[string]any{"KeyPair": matched[from:min(from+size, len(matched))]},
	}, nil
}

// keyPairBatchParams are the parameters of DetachKeyPair and AttachKeyPair (all of
// theirs).
var keyPairBatchParams = []string{"InstanceIds", "KeyPairId", "KeyPairName"}

// batchResult is one instance's entry in DetachKeyPair / AttachKeyPair answers, as ENS
// types it: Code an integer, Success a boolean (unlike ECS's strings).
type batchResult struct {
	Code       int
	InstanceId string
	Message    string
	Success    bool
}

// detachKeyPair unbinds a key pair, named by KeyPairId or KeyPairName, from up to 30
// instances (documented). Only Stopped instances lose it (documented: "the instances
// must be stopped").
//
// Documented: named by KeyPairName, a listed instance that is not bound to it fails the
// whole call (400 PublicKeyNotAttachWithInstance) and nothing changes.
//
// Assumptions (undocumented; see emulator/README.md): named by KeyPairName, an unknown
// instance fails the whole call the same way (it is not bound either). Named by
// KeyPairId, each instance gets its own result, in the request's order: 400
// "InstanceNotFound: …" for an unknown one, 400 "PublicKeyNotAttachWithInstance: …" for
// one bound to another key pair or none, 400 "IncorrectInstanceStatus: …" for one that
// is not Stopped (Running, Starting, Stopping, Expired), 200 "successful" for the others,
// which lose the key pair.
func (s *Service) detachKeyPair(p rpc.Params) (any, *rpc.Error) {
	return s.keyPairCalls().Run(p, s.detachBatch, func(kp *KeyPair, in *Instance) batchResult {
		switch {
		case in.KeyPairName != kp.KeyPairName:
			return failed(in.InstanceId, "PublicKeyNotAttachWithInstance", "The key pair "+kp.KeyPairName+" is not bound to the instance.")
		case in.Status != StatusStopped:
			return failed(in.InstanceId, "IncorrectInstanceStatus", "The instance is "+in.Status+"; it must be stopped.")
		}
		in.KeyPairName = ""
		return succeeded(in.InstanceId)
	})
}

// detachBatch reads the parameters of DetachKeyPair as keyPairBatch does; named by
// KeyPairName, it refuses the whole call when a listed instance is unknown or not bound
// to the key pair. The caller holds s.mu.
func (s *Service) detachBatch(p rpc.Params) (*KeyPair, []string, *rpc.Error) {
	kp, ids, e := s.keyPairBatch(p)
	if e != nil || p.Get("KeyPairId") != "" {
		return kp, ids, e
	}
	for _, id := range ids {
		if in, ok := s.instances.Get(id); !ok || in.KeyPairName != kp.KeyPairName {
			return nil, nil, &rpc.Error{Status: http.StatusBadRequest, Code: "PublicKeyNotAttachWithInstance", Message: "Public Key Not Attach With Instance."}
		}
	}
	return kp, ids, nil
}

// attachKeyPair binds a key pair to up to 30 Stopped instances (documented).
//
// Assumptions (undocumented): each instance gets its own result; one that already has a
// key pair (this one or another) is refused with 400 "PubKeyAttachedWithInstance: …"
// (a code seen on ENS's pages), one that is not Stopped with IncorrectInstanceStatus,
// an unknown one with InstanceNotFound.
func (s *Service) attachKeyPair(p rpc.Params) (any, *rpc.Error) {
	return s.keyPairCalls().Run(p, s.keyPairBatch, func(kp *KeyPair, in *Instance) batchResult {
		switch {
		case in.KeyPairName != "":
			return failed(in.InstanceId, "PubKeyAttachedWithInstance", "The instance already has the key pair "+in.KeyPairName+".")
		case in.Status != StatusStopped:
			return failed(in.InstanceId, "IncorrectInstanceStatus", "The instance is "+in.Status+"; it must be stopped.")
		}
		in.KeyPairName = kp.KeyPairName
		return succeeded(in.InstanceId)
	})
}

// keyPairBatch reads the parameters of DetachKeyPair and AttachKeyPair: the key pair
// (by id, by name, or both naming the same one) and 1 to 30 distinct instance ids. The
// caller holds s.mu.
//
// Assumptions (undocumented): an unknown key pair is 400 InvalidParameter.KeyPairId (or
// .KeyPairName); an id and a name of different key pairs, an empty, oversized or
// repeating id list are refused as a whole with InvalidParameter.<field>.
func (s *Service) keyPairBatch(p rpc.Params) (*KeyPair, []string, *rpc.Error) {
	id, name := p.Get("KeyPairId"), p.Get("KeyPairName")
	ids, e := p.BatchIDs(maxBatchIDs)
	switch {
	case e != nil:
		return nil, nil, e
	case id == "" && name == "":
		return nil, nil, rpc.Missing("KeyPairId")
	}
	for i, x := range ids {
		if slices.Contains(ids[:i], x) {
			return nil, nil, invalid("InstanceIds", "the id "+x+" is listed twice")
		}
	}
	var kp *KeyPair
	if id != "" {
		if kp = s.keyPairWithID(id); kp == nil {
			return nil, nil, invalid("KeyPairId", "no key pair has this id")
		}
	}
	if name != "" {
		byName := s.keyPairNamed(name)
		switch {
		case byName == nil:
			return nil, nil, invalid("KeyPairName", "no key pair has this name")
		case kp != nil && kp != byName:
			return nil, nil, invalid("KeyPairName", "it names another key pair than KeyPairId")
		}
		kp = byName
	}
	return kp, ids, nil
}

func (s *Service) keyPairWithID(id string) *KeyPair {
	for i := range s.keyPairs {
		if s.keyPairs[i].KeyPairId == id {
			return &s.keyPairs[i]
		}
	}
	return nil
}

func (s *Service) keyPairNamed(name string) *KeyPair {
	for i := range s.keyPairs {
		if s.keyPairs[i].KeyPairName == name {
			return &s.keyPairs[i]
		}
	}
	return nil
}

// keyPairCalls are ENS's side of DetachKeyPair and AttachKeyPair: an unknown instance
// fails alone, and the answer names the key pair by id and name, with integer counts
// and a flat Results list.
func (s *Service) keyPairCalls() inventory.KeyPairCalls[KeyPair, Instance, batchResult] {
	return inventory.KeyPairCalls[KeyPair, Instance, batchResult]{
		Lock: &s.mu,
		Get:  func(_ *KeyPair, id string) (*Instance, bool) { return s.instances.Get(id) },
		NotFound: func(id string) batchResult {
			return failed(id, "InstanceNotFound", "The specified instance does not exist.")
		},
		Failed: func(r batchResult) bool { return !r.Success },
		Answer: func(kp *KeyPair, ids []string, results []batchResult, fails int) any {
			return map[string]any{
				"KeyPairId":   kp.KeyPairId,
				"KeyPairName": kp.KeyPairName,
				"TotalCount":  len(ids),
				"FailCount":   fails,
				"Results":     results,
			}
		},
	}
}

func succeeded(id string) batchResult {
	return batchResult{Code: http.StatusOK, InstanceId: id, Message: "successful", Success: true}
}

// failed is a refused instance: code 400 (ENS answers 400 for every refusal its pages
// document) and the error code first in the message, as no field carries it.
func failed(id, errCode, msg string) batchResult {
	return batchResult{Code: http.StatusBadRequest, InstanceId: id, Message: errCode + ": " + msg}
}
