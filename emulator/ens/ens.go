// Package ens emulates the ENS (Edge Node Service) RPC API, version 2017-11-10, as far
// as the function uses it: DescribeKeyPairs, DescribeInstances, ListTagResources (the
// instances' tags, which DescribeInstances does not answer), DetachKeyPair, and
// AttachKeyPair for setting up. ENS sits behind the same OpenAPI gateway as ECS (the
// same signatures, the same "/" path, told apart by the API version), but its answers
// differ: no RegionId anywhere (instances are in edge regions, EnsRegionId), lists as
// one JSON-array parameter, key pairs by id, integer codes and boolean results. Its
// state (edge regions, key pairs, instances) lives in memory, seeded from a Fixture.
//
// The facts and their sources are in the project's ENS reference (ENS-2017-11-10.md);
// what ENS does not document is chosen here, harsher when in doubt, and listed in
// emulator/README.md.
package ens

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"detachkeypair/emulator/internal/change"
	"detachkeypair/emulator/internal/inventory"
	"detachkeypair/emulator/internal/rpc"
	"detachkeypair/emulator/internal/sign"
)

// Version is the ENS API version the service answers.
const Version = "2017-11-10"

// API names, as counted and as faults are keyed: prefixed with the product, since ECS
// has APIs of the same names and each product has its own quotas.
const (
	APIDescribeKeyPairs  = "ens:DescribeKeyPairs"
	APIDescribeInstances = "ens:DescribeInstances"
	APIDetachKeyPair     = "ens:DetachKeyPair"
	APIAttachKeyPair     = "ens:AttachKeyPair"
	APIListTagResources  = "ens:ListTagResources"
)

// APIs returns the service's API names; the slice is the caller's.
func APIs() []string {
	return []string{APIDescribeKeyPairs, APIDescribeInstances, APIDetachKeyPair, APIAttachKeyPair, APIListTagResources}
}

// Limits of the ENS API.
const (
	maxBatchIDs      = 30  // DetachKeyPair / AttachKeyPair InstanceIds (documented)
	maxDescribeIDs   = 100 // DescribeInstances InstanceIds and EnsRegionIds (documented)
	maxInstancesPage = 100 // DescribeInstances PageSize (documented)
	maxKeyPairsPage  = 50  // DescribeKeyPairs PageSize: no maximum documented; assumption
	defaultPageSize  = 10  // both (documented)
)

// Config is what the service is built from.
type Config struct {
	Fixture  *Fixture       // the initial state (the service keeps a copy); required
	Pipeline *rpc.Pipeline  // runs every request; required
	Verifier *sign.Verifier // checks signatures; required
}

// Service is the emulated ENS API. It is safe for concurrent use.
type Service struct {
	pipeline *rpc.Pipeline
	verifier *sign.Verifier
	answer   rpc.Answer // how answers are written, set by Register

	mu         sync.Mutex // guards the state below
	ensRegions []string
	keyPairs   []KeyPair // in creation order
	instances  inventory.Instances[Instance]
}

// New builds the service from cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Fixture.Validate(); err != nil {
		return nil, fmt.Errorf("ENS fixture: %w", err)
	}
	fx := cfg.Fixture.Clone()
	s := &Service{pipeline: cfg.Pipeline, verifier: cfg.Verifier,
		ensRegions: fx.EnsRegions, keyPairs: fx.KeyPairs}
	for _, in := range fx.Instances {
		s.instances.Put(in.InstanceId, in)
	}
	return s, nil
}

// Register routes the requests of ENS's version to the service; its errors are the
// gateway's, with ENS's codes for permission (see errs).
func (s *Service) Register(rt *rpc.Router) {
	s.answer = rpc.Answer{OK: rpc.WriteOK, Fail: rt.GatewayError("Ens"), Errs: errs}
	rt.HandleProduct(Version, s.serve)
}

// errNoPermission is ENS's refusal for lack of permission: 400 NoPermission, as the
// error tables of its key pair APIs give it (not the gateway's 403 Forbidden.RAM).
var errNoPermission = &rpc.Error{Status: http.StatusBadRequest, Code: "NoPermission", Message: "Permission denied."}

// errs translates the common errors into ENS's. Throttling keeps the gateway's 400
// Throttling.User (assumption: ENS documents no throttling answer).
func errs(e *rpc.Error) *rpc.Error {
	if e == rpc.ErrForbiddenRAM {
		return errNoPermission
	}
	return e
}

// actions are the ENS APIs the service implements, by action.
func (s *Service) actions() map[string]rpc.Action {
	return map[string]rpc.Action{
		"DescribeKeyPairs":  {Params: describeKeyPairsParams, Handle: s.describeKeyPairs, List: []string{"KeyPairs", "KeyPair"}},
		"DescribeInstances": {Params: describeInstancesParams, Handle: s.describeInstances, List: []string{"Instances", "Instance"}},
		"DetachKeyPair":     {Params: keyPairBatchParams, Handle: s.detachKeyPair, List: []string{"Results"}},
		"AttachKeyPair":     {Params: keyPairBatchParams, Handle: s.attachKeyPair, List: []string{"Results"}},
		"ListTagResources":  {Params: listTagResourcesParams, Handle: s.listTagResources, List: []string{"TagResources"}},
	}
}

// serve answers one ENS request, counted as "ens:<Action>". A parameter that the API's
// handler does not implement is refused before the handler runs
// (rpc.Params.Unimplemented).
func (s *Service) serve(w http.ResponseWriter, req *rpc.Request) {
	a, ok := s.actions()[req.Action]
	if !ok {
		s.answer.Fail(w, req.HTTP, rpc.NewRequestID(), rpc.ErrUnknownAction)
		return
	}
	s.pipeline.ServeAction(w, req, "ens:"+req.Action, "", a, ensParams(req.Params), s.answer,
		func() *rpc.Error { return s.verifier.POP(req.HTTP, req.Params, req.Body) })
}

// ensParams reads the parameters of an ENS request: unusable values are answered
// 400 InvalidParameter.<name>, as ENS's error tables give it.
func ensParams(v url.Values) rpc.Params {
	return rpc.Params{Values: v, Product: "ENS", Invalid: invalid}
}

// invalid is ENS's answer to a parameter it cannot use: "InvalidParameter.%s", "The
// specified field %s invalid. Please check it again." (the reason added).
func invalid(name, why string) *rpc.Error {
	return rpc.Errorf(http.StatusBadRequest, "InvalidParameter."+name, "The specified field %s invalid. Please check it again. (%s)", name, why)
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

// State returns a snapshot of the whole current state in the fixture's layout:
// instances by id, key pairs in creation order.
func (s *Service) State() *Fixture {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &Fixture{EnsRegions: slices.Clone(s.ensRegions), KeyPairs: slices.Clone(s.keyPairs), Instances: make([]Instance, 0, s.instances.Len())}
	for in := range s.instances.All() {
		f.Instances = append(f.Instances, in.clone())
	}
	return f
}

// SetInstance adds an instance or replaces the one with its id. Its edge region is
// added if unknown; an empty Status means Stopped.
func (s *Service) SetInstance(in Instance) {
	if in.Status == "" {
		in.Status = StatusStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.ensRegions, in.EnsRegionId) {
		s.ensRegions = append(s.ensRegions, in.EnsRegionId)
	}
	s.instances.Put(in.InstanceId, in.clone())
}

// Has reports whether the instance exists.
func (s *Service) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.instances.Get(id)
	return ok
}

// Changes are ENS's rules for a change.Change (a change of the state made by someone
// else than the API's caller, to reproduce races), to Check and Apply it: a key pair is
// one of the account's, a binding only sets the instance's key pair (ENS instances have
// no pending restart), and a start or a stop takes no Starting or Stopping status on
// the way.
func (s *Service) Changes() change.Rules[Instance] {
	return change.Rules[Instance]{
		Lock: &s.mu,
		Noun: "ENS instance",
		Get:  s.instances.Get,
		Refuse: func(_ *Instance, keyPairName string) error {
			if s.keyPairNamed(keyPairName) == nil {
				return fmt.Errorf("no ENS key pair %q", keyPairName)
			}
			return nil
		},
		Status: func(in *Instance) *string { return &in.Status },
		Bind:   func(in *Instance, keyPairName string) { in.KeyPairName = keyPairName },
	}
}
