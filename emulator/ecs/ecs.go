// Package ecs emulates the ECS RPC API, version 2014-05-26, as far as the
// function uses it: DescribeRegions, DescribeInstances, and the SSH key pair
// APIs AttachKeyPair, DetachKeyPair and DescribeKeyPairs. Its state (regions, key
// pairs, instances) lives in memory, seeded from a Fixture.
package ecs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"detachkeypair/emulator/internal/change"
	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
	"detachkeypair/emulator/internal/sign"
)

// Version is the ECS API version the service answers.
const Version = "2014-05-26"

// API names, as counted and as faults are keyed.
const (
	APIDescribeInstances = "DescribeInstances"
	APIAttachKeyPair     = "AttachKeyPair"
	APIDetachKeyPair     = "DetachKeyPair"
	APIDescribeKeyPairs  = "DescribeKeyPairs"
	APIDescribeRegions   = "DescribeRegions"
)

// Limits of the ECS API.
const (
	maxBatchIDs         = 50  // DetachKeyPair / AttachKeyPair InstanceIds
	maxDescribeIDs      = 100 // DescribeInstances InstanceIds
	maxKeyPairsPage     = 50
	maxInstancesPage    = 100
	minMaxResults       = 10 // DescribeInstances MaxResults below it counts as it
	defaultPageSize     = 10
	maxTagFilters       = 20
	defaultInstanceType = "ecs.g7.large"
)

// timeLayout is the form of ECS creation times ("2026-01-05T08:00Z").
const timeLayout = "2006-01-02T15:04Z"

// Config is what the service is built from.
type Config struct {
	Fixture  *Fixture         // the initial state (the service keeps a copy); required
	Pipeline *rpc.Pipeline    // runs every request; required
	Verifier *sign.Verifier   // checks signatures; required
	Clock    func() time.Time // the emulator's clock; required
	// ExposeKeyPairIDs makes DescribeKeyPairs answer each key pair's
	// KeyPairId, which neither its API reference nor the SDK's model has:
	// the undocumented case. By default the answers are as documented.
	ExposeKeyPairIDs bool
	// NextTokenTTL is how long a NextToken of DescribeInstances stays valid;
	// 0 means forever. ECS documents no lifetime: a test sets one to meet the
	// case of a token that expired between two calls.
	NextTokenTTL time.Duration
}

// Service is the emulated ECS API. It is safe for concurrent use.
type Service struct {
	pipeline  *rpc.Pipeline
	verifier  *sign.Verifier
	clock     func() time.Time
	exposeIDs bool
	tokenTTL  time.Duration
	answer    rpc.Answer // how answers are written, set by Register

	mu        sync.Mutex // guards the state below
	regions   []string
	keyPairs  []KeyPair      // in creation order
	tokenGen  map[string]int // by region: DescribeInstances' tokens of another generation have expired
	instances inventory.Instances[Instance]
}

// New builds the service from cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Fixture.Validate(); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	fx := cfg.Fixture.Clone()
	s := &Service{pipeline: cfg.Pipeline, verifier: cfg.Verifier, clock: cfg.Clock, exposeIDs: cfg.ExposeKeyPairIDs,
		tokenTTL: cfg.NextTokenTTL, tokenGen: map[string]int{}, regions: fx.Regions, keyPairs: fx.KeyPairs}
	slices.SortFunc(fx.Instances, func(a, b Instance) int { return strings.Compare(a.InstanceId, b.InstanceId) }) // each Put appends
	for _, in := range fx.Instances {
		s.instances.Put(in.InstanceId, in)
	}
	return s, nil
}

// Register routes the requests of ECS's version to the service; its errors
// are the gateway's.
func (s *Service) Register(rt *rpc.Router) {
	s.answer = rpc.Answer{OK: rpc.WriteOK, Fail: rt.GatewayError("Ecs")}
	rt.HandleProduct(Version, s.serve)
}

// actions are the ECS APIs the service implements.
func (s *Service) actions() map[string]rpc.Action {
	return map[string]rpc.Action{
		APIDescribeInstances: {Params: describeInstancesParams, Handle: s.describeInstances, List: []string{"Instances", "Instance"}},
		APIAttachKeyPair:     {Params: keyPairBatchParams, Handle: s.attachKeyPair, List: []string{"Results", "Result"}},
		APIDetachKeyPair:     {Params: keyPairBatchParams, Handle: s.detachKeyPair, List: []string{"Results", "Result"}},
		APIDescribeKeyPairs:  {Params: describeKeyPairsParams, Handle: s.describeKeyPairs, List: []string{"KeyPairs", "KeyPair"}},
		APIDescribeRegions:   {Params: describeRegionsParams, Handle: s.describeRegions, List: []string{"Regions", "Region"}},
	}
}

// serve answers one ECS request. A parameter that the API's handler does
// not implement is refused before the handler runs (see rpc.Params.Unimplemented).
func (s *Service) serve(w http.ResponseWriter, req *rpc.Request) {
	a, ok := s.actions()[req.Action]
	if !ok {
		s.answer.Fail(w, req.HTTP, rpc.NewRequestID(), rpc.ErrUnknownAction)
		return
	}
	// ECS's quotas are per region: each region's requests count in windows of their own
	s.pipeline.ServeAction(w, req, req.Action, req.Params.Get("RegionId"), a, ecsParams(req.Params), s.answer,
		func() *rpc.Error { return s.verifier.POP(req.HTTP, req.Params, req.Body) })
}

// Instance returns the current state of an instance.
func (s *Service) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances.Get(id)
	if !ok {
		return Instance{}, false
	}
	return in.clone(), true
}

// State returns a snapshot of the whole current state in the fixture's
// layout: instances by id, key pairs in creation order.
func (s *Service) State() *Fixture {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &Fixture{Regions: slices.Clone(s.regions), KeyPairs: make([]KeyPair, 0, len(s.keyPairs)), Instances: make([]Instance, 0, s.instances.Len())}
	for _, kp := range s.keyPairs {
		f.KeyPairs = append(f.KeyPairs, kp.clone())
	}
	for in := range s.instances.All() {
		f.Instances = append(f.Instances, in.clone())
	}
	return f
}

// SetInstance adds an instance or replaces the one with its id. Its region
// is added if unknown; an empty Status means Stopped.
func (s *Service) SetInstance(in Instance) {
	if in.Status == "" {
		in.Status = StatusStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRegion(in.RegionId)
	s.instances.Put(in.InstanceId, in.clone())
}

// ExpireNextTokens makes every NextToken of DescribeInstances given so far in a region
// ("" for every region) expire, as if its lifetime had passed (a test's way to meet the
// case deterministically).
func (s *Service) ExpireNextTokens(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.regions {
		if region == "" || r == region {
			s.tokenGen[r]++
		}
	}
}

// AddKeyPair adds a key pair or replaces the one with its name in its
// region. Its region is added if unknown; an empty KeyPairId, FingerPrint or
// CreationTime is made up.
func (s *Service) AddKeyPair(kp KeyPair) {
	kp = kp.clone()
	if kp.KeyPairId == "" {
		var b [8]byte
		rand.Read(b[:])
		kp.KeyPairId = "ssh-" + hex.EncodeToString(b[:])
	}
	if kp.FingerPrint == "" {
		kp.FingerPrint = fingerPrint(kp.KeyPairId)
	}
	if kp.CreationTime == "" {
		kp.CreationTime = s.clock().UTC().Format(timeLayout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRegion(kp.RegionId)
	for i := range s.keyPairs {
		if s.keyPairs[i].RegionId == kp.RegionId && s.keyPairs[i].KeyPairName == kp.KeyPairName {
			s.keyPairs[i] = kp
			return
		}
	}
	s.keyPairs = append(s.keyPairs, kp)
}

// DeleteKeyPair deletes a key pair of a region, as someone else's DeleteKeyPairs call
// would: refused while an instance is bound to it, as ECS documents ("If an SSH key
// pair is bound to one or more ECS instances, the SSH key pair cannot be deleted").
func (s *Service) DeleteKeyPair(region, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.keyPairs, func(kp KeyPair) bool { return kp.RegionId == region && kp.KeyPairName == name })
	if i < 0 {
		return fmt.Errorf("emulator: no key pair %s in %s", name, region)
	}
	for in := range s.instances.All() {
		if in.RegionId == region && in.KeyPairName == name {
			return fmt.Errorf("emulator: key pair %s is bound to %s: ECS does not delete a key pair that is bound", name, in.InstanceId)
		}
	}
	s.keyPairs = slices.Delete(s.keyPairs, i, i+1)
	return nil
}

func (s *Service) addRegion(region string) {
	if region != "" && !slices.Contains(s.regions, region) {
		s.regions = append(s.regions, region)
	}
}

// Changes are ECS's rules for a change.Change (a change of the state made by
// someone else than the API's caller, to reproduce races), to Check and Apply
// it: a Windows instance takes no key pair, a key pair is one of the
// instance's region, a binding is made as AttachKeyPair or DetachKeyPair make
// it (a Running instance takes it at its next start), and starting or
// stopping applies the binding the instance was waiting for (PendingRestart).
func (s *Service) Changes() change.Rules[Instance] {
	return change.Rules[Instance]{
		Lock: &s.mu,
		Noun: "instance",
		Get:  s.instances.Get,
		Refuse: func(in *Instance, keyPairName string) error {
			switch {
			case in.OSType == OSWindows:
				return fmt.Errorf("instance %s is a Windows instance: it can have no SSH key pair", in.InstanceId)
			case s.keyPair(in.RegionId, keyPairName) == nil:
				return fmt.Errorf("no key pair %q in %s", keyPairName, in.RegionId)
			}
			return nil
		},
		Status:    func(in *Instance) *string { return &in.Status },
		Bind:      s.bind,
		Restarted: func(in *Instance) { in.PendingRestart = false },
	}
}
