package ecs

import (
	"cmp"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
)

// keyPairBatchParams are the parameters of AttachKeyPair and DetachKeyPair
// that the emulator implements (all but the owner-account ones).
var keyPairBatchParams = []string{"RegionId", "KeyPairName", "InstanceIds"}

// attachKeyPair binds a key pair to up to 50 Running or Stopped instances,
// replacing the key pair they had, as the cloud does. A Running instance
// takes it at its next start (PendingRestart).
func (s *Service) attachKeyPair(p rpc.Params) (any, *rpc.Error) {
	return s.changeBinding(p, func(kp *KeyPair, in *Instance) batchResult {
		s.bind(in, kp.KeyPairName)
		return succeeded(in.InstanceId)
	})
}

// detachKeyPair unbinds a key pair from up to 50 instances. Each instance
// gets its own result; only the ones reported successful change. ECS
// requires no status: Running instances are unbound too, and keep
// honouring the key until they restart (PendingRestart). Instances in
// transition (Starting, Stopping) are refused (assumption: the references of
// both APIs speak of Running and Stopped instances only; see changeBinding).
func (s *Service) detachKeyPair(p rpc.Params) (any, *rpc.Error) {
	return s.changeBinding(p, func(kp *KeyPair, in *Instance) batchResult {
		if in.KeyPairName != kp.KeyPairName {
			return failed(in.InstanceId, "400", "PublicKeyNotAttachWithInstance", "The key pair "+kp.KeyPairName+" is not attached to the instance.")
		}
		s.bind(in, "")
		return succeeded(in.InstanceId)
	})
}

// describeKeyPairsParams are the parameters of DescribeKeyPairs that the
// emulator implements (all but the owner-account ones).
var describeKeyPairsParams = []string{"RegionId", "KeyPairName", "KeyPairFingerPrint", "ResourceGroupId", "Tag.*",
	"PageNumber", "PageSize", "IncludePublicKey"}

// keyPairAnswer is a key pair as DescribeKeyPairs answers it. KeyPairId is
// not in the API reference nor in the SDK's model: it is answered only
// with Config.ExposeKeyPairIDs, modelling the undocumented case.
type keyPairAnswer struct {
	KeyPairId          string `json:",omitempty"`
	KeyPairName        string
	KeyPairFingerPrint string
	CreationTime       string
	ResourceGroupId    string
	PublicKey          string `json:",omitempty"`
	Tags               ecsTags
}

// describeKeyPairs lists a region's key pairs, filtered by KeyPairName (a
// pattern with "*"), KeyPairFingerPrint, ResourceGroupId and tags, a page at
// a time; with IncludePublicKey=true each carries its PublicKey.
func (s *Service) describeKeyPairs(p rpc.Params) (any, *rpc.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	region, e := s.region(p)
	if e != nil {
		return nil, e
	}
	page, size, e := p.Page(defaultPageSize, maxKeyPairsPage)
	if e != nil {
		return nil, e
	}
	tags, e := tagFilters(p.Values)
	if e != nil {
		return nil, e
	}
	withKey, e := boolParam(p.Values, "IncludePublicKey")
	if e != nil {
		return nil, e
	}
	name, finger, group := p.Get("KeyPairName"), p.Get("KeyPairFingerPrint"), p.Get("ResourceGroupId")
	matched := []keyPairAnswer{}
	for _, kp := range s.keyPairs {
		if kp.RegionId != region || (name != "" && !rpc.MatchPattern(name, kp.KeyPairName)) ||
			(finger != "" && kp.FingerPrint != finger) || (group != "" && kp.ResourceGroupId != group) || !rpc.HasTags(kp.Tags, tags) {
			continue
		}
		a := keyPairAnswer{KeyPairName: kp.KeyPairName, KeyPairFingerPrint: kp.FingerPrint,
			CreationTime: cmp.Or(kp.CreationTime, "2026-01-05T08:00Z"), ResourceGroupId: kp.ResourceGroupId, Tags: toECSTags(kp.Tags)}
		if s.exposeIDs {
			a.KeyPairId = kp.KeyPairId
		}
		if withKey {
			a.PublicKey = cmp.Or(kp.PublicKey, publicKey(kp.KeyPairId, kp.KeyPairName))
		}
		matched = append(matched, a)
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

// changeBinding runs AttachKeyPair or DetachKeyPair: it reads their
// parameters, then applies op to each existing instance that is Running or
// Stopped (others: IncorrectInstanceStatus), in the request's order.
//
// Assumptions (the API reference and the SDK's model document only a
// success, Code "200" with Message "successful"): a refused instance fails
// alone, with an HTTP-like Code ("400", "404" for an unknown instance) and
// the error code leading its Message (see failed); Starting and Stopping
// instances are refused with IncorrectInstanceStatus.
func (s *Service) changeBinding(p rpc.Params, op func(*KeyPair, *Instance) batchResult) (any, *rpc.Error) {
	return s.keyPairCalls().Run(p, s.keyPairBatch, func(kp *KeyPair, in *Instance) batchResult {
		if in.Status != StatusStopped && in.Status != StatusRunning {
			return failed(in.InstanceId, "400", "IncorrectInstanceStatus", "The current status of the instance ("+in.Status+") does not support this operation.")
		}
		return op(kp, in)
	})
}

// keyPairBatch reads the common parameters of DetachKeyPair and
// AttachKeyPair and refuses a call that names a Windows instance. The
// caller holds s.mu.
func (s *Service) keyPairBatch(p rpc.Params) (*KeyPair, []string, *rpc.Error) {
	region, e := s.region(p)
	if e != nil {
		return nil, nil, e
	}
	name := p.Get("KeyPairName")
	if name == "" {
		return nil, nil, rpc.Missing("KeyPairName")
	}
	ids, e := p.BatchIDs(maxBatchIDs)
	if e != nil {
		return nil, nil, e
	}
	kp := s.keyPair(region, name)
	if kp == nil {
		return nil, nil, rpc.Errorf(http.StatusNotFound, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.")
	}
	for _, id := range ids {
		if in, ok := s.instances.Get(id); ok && in.RegionId == region && in.OSType == OSWindows {
			return nil, nil, errWindowsInstance
		}
	}
	return kp, ids, nil
}

// errWindowsInstance answers a key pair call that names a Windows instance,
// with the code, status and message of DetachKeyPair's error table. The
// table gives it an HTTP status, so it fails the whole call: nothing is
// bound or unbound, not even on the Linux instances of the same call
// (assumption: the documentation does not say). AttachKeyPair is assumed
// to answer the same.
var errWindowsInstance = &rpc.Error{Status: http.StatusForbidden, Code: "DependencyViolation.WindowsInstance",
	Message: "The instance creating is windows, cannot use ssh key pair to login."}

func (s *Service) keyPair(region, name string) *KeyPair {
	for i := range s.keyPairs {
		if s.keyPairs[i].RegionId == region && s.keyPairs[i].KeyPairName == name {
			return &s.keyPairs[i]
		}
	}
	return nil
}

// keyPairCalls are ECS's side of AttachKeyPair and DetachKeyPair: an instance
// of another region than the key pair's is unknown and fails alone, and the
// counts are strings as in the SDK's model.
func (s *Service) keyPairCalls() inventory.KeyPairCalls[KeyPair, Instance, batchResult] {
	return inventory.KeyPairCalls[KeyPair, Instance, batchResult]{
		Lock: &s.mu,
		Get: func(kp *KeyPair, id string) (*Instance, bool) {
			in, ok := s.instances.Get(id)
			return in, ok && in.RegionId == kp.RegionId
		},
		NotFound: func(id string) batchResult {
			return failed(id, "404", "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.")
		},
		Failed: func(r batchResult) bool { return r.Success != "true" },
		Answer: func(kp *KeyPair, ids []string, results []batchResult, fails int) any {
			return map[string]any{
				"KeyPairName": kp.KeyPairName,
				"TotalCount":  strconv.Itoa(len(ids)),
				"FailCount":   strconv.Itoa(fails),
				"Results":     map[string]any{"Result": results},
			}
		},
	}
}

// bind sets the key pair of an instance ("" unbinds); a Running instance
// takes the change at its next start. The caller holds s.mu.
func (s *Service) bind(in *Instance, keyPairName string) {
	in.KeyPairName = keyPairName
	if in.Status == StatusRunning {
		in.PendingRestart = true
	}
}

func succeeded(id string) batchResult {
	return batchResult{Code: "200", Message: "successful", InstanceId: id, Success: "true"}
}

// failed is a refused instance: code an HTTP-like status and the error code first in
// the message, as no field carries it (assumption: undocumented, see changeBinding).
func failed(id, code, errCode, msg string) batchResult {
	return batchResult{Code: code, Message: errCode + ": " + msg, InstanceId: id, Success: "false"}
}

// publicKey makes up an OpenSSH ed25519 public key from a hash of seed, with
// comment as its comment: well formed, with no private key anywhere.
func publicKey(seed, comment string) string {
	sum := sha256.Sum256([]byte(seed))
	blob := []byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20")
	blob = append(blob, sum[:]...)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + comment
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
