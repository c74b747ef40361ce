package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"detachkeypair/emulator/ecs"
	"detachkeypair/emulator/ens"
	"detachkeypair/emulator/eventbridge"
	"detachkeypair/emulator/fc"
	"detachkeypair/emulator/internal/fault"
	"detachkeypair/emulator/internal/rpc"
	"detachkeypair/emulator/internal/sign"
)

// Config configures a Server.
type Config struct {
	// Credentials are the AccessKey pairs the server accepts. Empty means the
	// local credential DefaultAccessKeyID / DefaultAccessKeySecret.
	Credentials []Credential
	// Fixture is the initial state of ECS; nil means DefaultFixture(). The
	// server works on its own copy.
	Fixture *Fixture
	// ENSFixture is the initial state of ENS; nil means DefaultENSFixture().
	ENSFixture *ENSFixture
	// Faults are injected per API: the key is an API name (one of APIs():
	// ECS's "DescribeRegions", "DescribeKeyPairs", "DescribeInstances",
	// "DetachKeyPair", "AttachKeyPair", EventBridge's "PutEvents"; FC's and
	// ENS's are prefixed: "fc:InvokeFunction", "ens:DetachKeyPair") or "*"
	// for every API without its own. New refuses any other key.
	Faults map[string]Fault
	// Seed seeds the random source of the faults, so that a run of requests
	// meets the same faults again.
	Seed int64
	// Logger receives one line per API request; nil discards them.
	Logger *slog.Logger
	// Buses are the EventBridge buses that exist; nil accepts any bus name.
	Buses []string
	// Clock is the emulator's clock, for timestamp checks and flow-control
	// windows; nil means time.Now.
	Clock func() time.Time
	// ExposeKeyPairIDs makes DescribeKeyPairs answer each key pair's
	// KeyPairId. Neither the API reference nor the SDK's response model has
	// that field, so by default the emulator answers without it; turn this
	// on to model the undocumented case of a cloud that sends it.
	ExposeKeyPairIDs bool
	// NextTokenTTL is how long a NextToken of ECS's DescribeInstances stays
	// valid (0: forever). ECS documents no lifetime; a token is also refused
	// for a listing with other filters than the one that gave it.
	NextTokenTTL time.Duration
	// ModelOnly answers exactly what the SDK's response models declare: it
	// leaves out the fields that BeyondModel keeps on purpose (the gateway's
	// HostId and Recommend in error bodies).
	ModelOnly bool
}

// Credential is an AccessKey pair that the emulator accepts. When
// SecurityToken is set (an STS credential, whose id conventionally starts
// with "STS."), requests signed with it must carry exactly that token.
type Credential = sign.Credential

// The local credential that the emulator accepts when Config.Credentials is
// empty. It is not a real key: it only opens the emulator.
const (
	DefaultAccessKeyID     = "LTAI5tEmulatorLocalKey01"
	DefaultAccessKeySecret = "EmulatorLocalSecret0000000000001"
)

// API names, as used by Calls, Answered, SetFault and Config.Faults.
const (
	APIDescribeKeyPairs  = ecs.APIDescribeKeyPairs
	APIDescribeInstances = ecs.APIDescribeInstances
	APIDetachKeyPair     = ecs.APIDetachKeyPair
	APIAttachKeyPair     = ecs.APIAttachKeyPair
	APIDescribeRegions   = ecs.APIDescribeRegions
	APIPutEvents         = eventbridge.API

	// FC 3.0's InvokeFunction, prefixed with the product.
	APIInvokeFunction = fc.API

	// ENS's, prefixed with the product (its quotas are its own).
	APIENSDescribeKeyPairs  = ens.APIDescribeKeyPairs
	APIENSDescribeInstances = ens.APIDescribeInstances
	APIENSDetachKeyPair     = ens.APIDetachKeyPair
	APIENSAttachKeyPair     = ens.APIAttachKeyPair
	APIENSListTagResources  = ens.APIListTagResources
)

// APIs returns the name of every API the emulator serves, as Calls, Answered,
// SetFault, Config.Faults and Change.API take them: ECS's, EventBridge's, FC's, then
// ENS's. The slice is the caller's.
func APIs() []string {
	return append([]string{APIDescribeKeyPairs, APIDescribeInstances, APIDetachKeyPair, APIAttachKeyPair, APIDescribeRegions, APIPutEvents, APIInvokeFunction}, ens.APIs()...)
}

// CheckFaults reports the first reason New would refuse faults: a key that is
// neither an API name (APIs) nor "*", or a Fault whose settings are out of
// range. Commands check their flags with it before starting anything.
func CheckFaults(faults map[string]Fault) error {
	for _, api := range slices.Sorted(maps.Keys(faults)) {
		if err := checkFaultAPI(api); err != nil {
			return err
		}
		if err := faults[api].Validate(); err != nil {
			return fmt.Errorf("emulator: fault for %s: %w", api, err)
		}
	}
	return nil
}

// checkFaultAPI refuses a fault key that no request would ever meet, so that a
// mistyped name is not silently a fault that never strikes.
func checkFaultAPI(api string) error {
	if api == "*" || slices.Contains(APIs(), api) {
		return nil
	}
	hint := ""
	for _, a := range APIs() {
		if strings.EqualFold(a, api) || strings.EqualFold(strings.TrimPrefix(a, "ens:"), api) {
			hint = "did you mean " + a + "? "
			break
		}
	}
	return fmt.Errorf("emulator: fault API %q: %sthe emulator serves %s (or \"*\" for all of them)", api, hint, strings.Join(APIs(), ", "))
}

// Pseudo error codes under which Answered counts the requests whose
// connection was dropped by fault injection (no answer was sent): before the
// API acted (DropRate), or after (DropAfterRate).
const (
	CodeDropped      = rpc.CodeDropped
	CodeDroppedAfter = rpc.CodeDroppedAfter
)

// Server is the emulated cloud: an HTTP server for the ECS RPC API
// (version 2014-05-26) and the ENS RPC API (version 2017-11-10) at "/", the
// EventBridge data-plane PutEvents at "/openapi/putEvents", and FC 3.0's
// asynchronous InvokeFunction at "/2023-03-30/functions/{name}/invocations"
// (for the functions given with PutFunction), with state in memory and an
// admin API under "/_emulator/". It is safe for concurrent use.
type Server struct {
	counters *rpc.Counters
	faults   *fault.Set
	router   *rpc.Router
	ecs      *ecs.Service
	ens      *ens.Service
	eb       *eventbridge.Service
	fc       *fc.Service
	sched    schedule

	srvMu   sync.Mutex // guards the listener
	httpSrv *http.Server
	ln      net.Listener
}

// New builds a server from cfg; Start serves it, or Handler mounts it
// elsewhere (httptest.NewServer(s.Handler())).
func New(cfg Config) (*Server, error) {
	if cfg.Fixture == nil {
		cfg.Fixture = DefaultFixture()
	}
	if cfg.ENSFixture == nil {
		cfg.ENSFixture = DefaultENSFixture()
	}
	if err := CheckFaults(cfg.Faults); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if len(cfg.Credentials) == 0 {
		cfg.Credentials = []Credential{{AccessKeyID: DefaultAccessKeyID, AccessKeySecret: DefaultAccessKeySecret}}
	}
	verifier, err := sign.NewVerifier(cfg.Credentials, cfg.Clock)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s := &Server{counters: rpc.NewCounters(), faults: fault.NewSet(cfg.Seed, cfg.Faults), router: rpc.NewRouter(cfg.ModelOnly)}
	pipeline := &rpc.Pipeline{Log: cfg.Logger, Faults: s.faults, Counters: s.counters, Clock: cfg.Clock, AfterCall: s.afterCall}
	s.ecs, err = ecs.New(ecs.Config{Fixture: cfg.Fixture, Pipeline: pipeline, Verifier: verifier, Clock: cfg.Clock,
		ExposeKeyPairIDs: cfg.ExposeKeyPairIDs, NextTokenTTL: cfg.NextTokenTTL})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.ens, err = ens.New(ens.Config{Fixture: cfg.ENSFixture, Pipeline: pipeline, Verifier: verifier})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.eb = eventbridge.New(eventbridge.Config{Buses: cfg.Buses, Pipeline: pipeline, Verifier: verifier})
	s.fc = fc.New(fc.Config{Pipeline: pipeline, Verifier: verifier, Clock: cfg.Clock})
	s.ecs.Register(s.router)
	s.ens.Register(s.router)
	s.eb.Register(s.router)
	s.fc.Register(s.router)
	return s, nil
}

// Start listens on addr (e.g. "127.0.0.1:0" for a free port) and serves in
// the background until Close.
func (s *Server) Start(addr string) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.httpSrv != nil {
		return errors.New("emulator: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.httpSrv.Serve(ln)
	return nil
}

// URL is the server's base URL, "http://127.0.0.1:PORT"; empty before Start.
func (s *Server) URL() string {
	if e := s.Endpoint(); e != "" {
		return "http://" + e
	}
	return ""
}

// Endpoint is the server's address as the SDKs take it in their Endpoint
// setting, "127.0.0.1:PORT" (with Protocol "http"); empty before Start.
func (s *Server) Endpoint() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Handler is the server's HTTP handler, for mounting it in another server.
func (s *Server) Handler() http.Handler { return s }

// Close stops the server started by Start and drops its connections.
func (s *Server) Close() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.httpSrv == nil {
		return nil
	}
	return s.httpSrv.Close()
}

// ServeHTTP routes a request to the admin API or to the emulated services.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		s.serveAdmin(w, r)
		return
	}
	s.router.ServeHTTP(w, r)
}

// Calls is the number of requests of the API that reached it, authenticated
// or not, every attempt counted.
func (s *Server) Calls(api string) int { return s.counters.Calls(api) }

// CallsIn is the number of requests of an ECS API in a region (its
// RegionId parameter), every attempt counted: ECS's quotas are per region.
func (s *Server) CallsIn(api, region string) int { return s.counters.CallsIn(api, region) }

// Answered is the number of answers of the API with the error code; "" counts
// the successes and CodeDropped the dropped connections.
func (s *Server) Answered(api, code string) int { return s.counters.Answered(api, code) }

// PeakConcurrency is the largest number of requests of the API that were in
// flight at once since the start or the last ResetCounters.
func (s *Server) PeakConcurrency(api string) int { return s.counters.PeakConcurrency(api) }

// ResetCounters sets Calls, Answered and PeakConcurrency back to zero. The
// state and the recorded events stay.
func (s *Server) ResetCounters() { s.counters.Reset() }

// SetFault sets the fault of an API (one of APIs(), or "*" for every API
// without its own); the zero Fault removes it. Rates are clamped to [0, 1]. It
// refuses, and changes nothing, for any other API name.
func (s *Server) SetFault(api string, f Fault) error {
	if err := checkFaultAPI(api); err != nil {
		return err
	}
	s.faults.Put(api, f.Clamped())
	return nil
}

// Faults returns the fault settings in force.
func (s *Server) Faults() map[string]Fault { return s.faults.Snapshot() }

// Instance returns the current state of an instance.
func (s *Server) Instance(id string) (Instance, bool) { return s.ecs.Instance(id) }

// Instances returns the current state of every instance, by instance id.
func (s *Server) Instances() []Instance { return s.State().Instances }

// Bindings returns which key pair every instance has ("" for none), ECS's and
// ENS's (their ids differ), by instance id: a snapshot to compare with a later
// one, to see what a run changed.
func (s *Server) Bindings() map[string]string {
	m := map[string]string{}
	for _, in := range s.Instances() {
		m[in.InstanceId] = in.KeyPairName
	}
	for _, in := range s.ENSInstances() {
		m[in.InstanceId] = in.KeyPairName
	}
	return m
}

// KeyPairs returns the key pairs of every region, in creation order.
func (s *Server) KeyPairs() []KeyPair { return s.State().KeyPairs }

// State returns a snapshot of the whole current state in the fixture's
// layout.
func (s *Server) State() *Fixture { return s.ecs.State() }

// SetInstance adds an instance or replaces the one with its id. Its region
// is added if unknown; an empty Status means Stopped.
func (s *Server) SetInstance(in Instance) { s.ecs.SetInstance(in) }

// AddKeyPair adds a key pair or replaces the one with its name in its
// region. Its region is added if unknown; an empty KeyPairId, FingerPrint or
// CreationTime is made up.
func (s *Server) AddKeyPair(kp KeyPair) { s.ecs.AddKeyPair(kp) }

// ExpireNextTokens makes every NextToken that ECS's DescribeInstances has given so far
// in a region ("" for every region) expire (refused with 400 InvalidParameter), as if
// its lifetime had passed.
func (s *Server) ExpireNextTokens(region string) { s.ecs.ExpireNextTokens(region) }

// DeleteKeyPair deletes an ECS key pair of a region, as someone else's DeleteKeyPairs
// call would; refused while an instance is bound to it, as ECS refuses it.
func (s *Server) DeleteKeyPair(region, name string) error { return s.ecs.DeleteKeyPair(region, name) }

// Events returns the CloudEvents recorded on a bus, in arrival order.
func (s *Server) Events(bus string) []Event { return s.eb.Events(bus) }

// ENSInstance returns the current state of an ENS instance.
func (s *Server) ENSInstance(id string) (ENSInstance, bool) { return s.ens.Instance(id) }

// ENSInstances returns the current state of every ENS instance, by instance id.
func (s *Server) ENSInstances() []ENSInstance { return s.ENSState().Instances }

// ENSState returns a snapshot of ENS's current state in the fixture's layout.
func (s *Server) ENSState() *ENSFixture { return s.ens.State() }

// SetENSInstance adds an ENS instance or replaces the one with its id. Its
// edge region is added if unknown; an empty Status means Stopped.
func (s *Server) SetENSInstance(in ENSInstance) { s.ens.SetInstance(in) }

// FCFunction is a function that the emulated FC can invoke (PutFunction).
type FCFunction = fc.Function

// FCTask is an asynchronous invocation that the emulated FC accepted with a task id.
type FCTask = fc.Task

// PutFunction makes a function invocable through FC's InvokeFunction (locally: the FC
// runtime-API runner's InvokeAsync), or replaces the one of its name.
func (s *Server) PutFunction(f FCFunction) { s.fc.Put(f) }

// FCTasks returns the asynchronous tasks that InvokeFunction accepted, in order.
func (s *Server) FCTasks() []FCTask { return s.fc.Tasks() }
