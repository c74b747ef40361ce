package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Credentials are the AccessKey pairs the server accepts. Empty means the
	// local credential DefaultAccessKeyID / DefaultAccessKeySecret.
	Credentials []Credential
	// Fixture is the initial state; nil means DefaultFixture(). The server
	// works on its own copy.
	Fixture *Fixture
	// Faults are injected per API: the key is an API name
	// ("DescribeKeyPairs", "DescribeInstances", "DetachKeyPair",
	// "AttachKeyPair", "PutEvents") or "*" for every API without its own.
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
}

// API names, as used by Calls, Answered, SetFault and Config.Faults.
const (
	APIDescribeKeyPairs  = "DescribeKeyPairs"
	APIDescribeInstances = "DescribeInstances"
	APIDetachKeyPair     = "DetachKeyPair"
	APIAttachKeyPair     = "AttachKeyPair"
	APIPutEvents         = "PutEvents"
)

// maxBodyBytes bounds the request bodies the emulator reads.
const maxBodyBytes = 4 << 20

// Server is the emulated cloud: an HTTP server for the ECS RPC API
// (version 2014-05-26) at "/" and the EventBridge data-plane PutEvents at
// "/openapi/putEvents", with state in memory and an admin API under
// "/_emulator/". It is safe for concurrent use.
type Server struct {
	log         *slog.Logger
	credentials map[string]Credential
	clock       func() time.Time
	faults      *faults
	nonces      nonceStore
	buses       map[string]bool // nil: any bus exists

	mu        sync.Mutex // guards the cloud state below
	regions   []string
	keyPairs  []KeyPair            // in creation order
	instances map[string]*Instance // by id
	ids       []string             // instance ids, sorted
	events    map[string][]Event   // by bus, in arrival order

	statsMu  sync.Mutex
	calls    map[string]int
	answered map[string]map[string]int
	inflight map[string]int
	peak     map[string]int

	srvMu   sync.Mutex
	httpSrv *http.Server
	ln      net.Listener
}

// New builds a server from cfg; Start serves it, or Handler mounts it
// elsewhere (httptest.NewServer(s.Handler())).
func New(cfg Config) (*Server, error) {
	fx := cfg.Fixture
	if fx == nil {
		fx = DefaultFixture()
	}
	if err := fx.Validate(); err != nil {
		return nil, fmt.Errorf("emulator: fixture: %w", err)
	}
	for api, f := range cfg.Faults {
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("emulator: fault for %s: %w", api, err)
		}
	}
	s := &Server{
		log:         cfg.Logger,
		credentials: map[string]Credential{},
		clock:       cfg.Clock,
		faults:      newFaults(cfg.Seed, cfg.Faults),
		instances:   map[string]*Instance{},
		events:      map[string][]Event{},
		calls:       map[string]int{},
		answered:    map[string]map[string]int{},
		inflight:    map[string]int{},
		peak:        map[string]int{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	creds := cfg.Credentials
	if len(creds) == 0 {
		creds = []Credential{{AccessKeyID: DefaultAccessKeyID, AccessKeySecret: DefaultAccessKeySecret}}
	}
	for _, c := range creds {
		if c.AccessKeyID == "" || c.AccessKeySecret == "" {
			return nil, errors.New("emulator: a credential needs AccessKeyID and AccessKeySecret")
		}
		s.credentials[c.AccessKeyID] = c
	}
	if cfg.Buses != nil {
		s.buses = map[string]bool{}
		for _, b := range cfg.Buses {
			s.buses[b] = true
		}
	}
	fx = fx.Clone()
	s.regions = fx.Regions
	s.keyPairs = fx.KeyPairs
	for _, in := range fx.Instances {
		s.putInstance(in)
	}
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

// ServeHTTP routes a request to the ECS API, EventBridge or the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_emulator/"):
		s.serveAdmin(w, r)
	case r.URL.Path == "/openapi/putEvents":
		s.servePutEvents(w, r)
	case r.URL.Path == "/":
		s.serveECS(w, r)
	default:
		writeECSError(w, r, newRequestID(), errorf(http.StatusNotFound, "InvalidApi.NotFound", "Specified api is not found, please check your url and method."))
	}
}

// answer is how an API writes its answers: its success body, its error
// body and its error codes differ between ECS and EventBridge.
type answer struct {
	ok   func(w http.ResponseWriter, r *http.Request, requestID string, body any)
	fail func(w http.ResponseWriter, r *http.Request, requestID string, e *apiError)
	// errs translates the common errors into the API's own; nil keeps them.
	errs func(*apiError) *apiError
}

// serve runs one API request through the pipeline shared by every API:
// counting, authentication, flow control and fault injection, latency, then
// the API's handler, which alone may change the state.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, api string, out answer, auth func() *apiError, handle func(requestID string) (any, *apiError)) {
	start := time.Now()
	requestID := newRequestID()
	s.begin(api)
	defer s.end(api)

	status, code := http.StatusOK, ""
	defer func() {
		s.log.Info("request", "api", api, "method", r.Method, "status", status, "code", code,
			"duration", time.Since(start).Round(time.Microsecond), "requestId", requestID)
	}()
	fail := func(e *apiError) {
		if out.errs != nil {
			e = out.errs(e)
		}
		status, code = e.Status, e.Code
		s.record(api, code)
		out.fail(w, r, requestID, e)
	}

	if e := auth(); e != nil {
		fail(e)
		return
	}
	kind, delay := s.faults.decide(api, s.now())
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			status, code = 0, "ClientClosed"
			return
		}
	}
	switch kind {
	case faultDrop:
		status, code = 0, CodeDropped
		s.record(api, CodeDropped)
		dropConnection(w)
		return
	case faultThrottle:
		fail(errThrottlingUser)
		return
	case faultForbidden:
		fail(errForbiddenRAM)
		return
	case faultUnavailable:
		fail(errUnavailable)
		return
	case faultInternal:
		fail(errInternal)
		return
	}
	body, e := handle(requestID)
	if e != nil {
		fail(e)
		return
	}
	s.record(api, "")
	out.ok(w, r, requestID, body)
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// readBody reads a request body up to maxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err == nil && len(b) > maxBodyBytes {
		err = errors.New("request body too large")
	}
	return b, err
}

// writeJSON writes an answer as the cloud does: JSON without HTML escaping,
// the request id also in the x-acs-request-id header.
func writeJSON(w http.ResponseWriter, status int, requestID string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var b []byte
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"Code":"InternalError","Message":"emulator: cannot encode the answer"}`)
	} else {
		b = bytes.TrimRight(buf.Bytes(), "\n")
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if requestID != "" {
		w.Header().Set("x-acs-request-id", requestID)
	}
	w.WriteHeader(status)
	w.Write(b)
}

// newRequestID returns a request id in the cloud's form (an upper-case UUID).
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) now() time.Time { return s.clock() }

// begin counts a request of api and tracks how many are in flight.
func (s *Server) begin(api string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.calls[api]++
	s.inflight[api]++
	if s.inflight[api] > s.peak[api] {
		s.peak[api] = s.inflight[api]
	}
}

func (s *Server) end(api string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.inflight[api]--
}

// record counts an answer of api by its error code ("" for success).
func (s *Server) record(api, code string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.answered[api] == nil {
		s.answered[api] = map[string]int{}
	}
	s.answered[api][code]++
}

// Calls is the number of requests of the API that reached it, authenticated
// or not, every attempt counted.
func (s *Server) Calls(api string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.calls[api]
}

// Answered is the number of answers of the API with the error code; "" counts
// the successes and CodeDropped the dropped connections.
func (s *Server) Answered(api, code string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.answered[api][code]
}

// PeakConcurrency is the largest number of requests of the API that were in
// flight at once since the start or the last ResetCounters.
func (s *Server) PeakConcurrency(api string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.peak[api]
}

// ResetCounters sets Calls, Answered and PeakConcurrency back to zero. The
// state and the recorded events stay.
func (s *Server) ResetCounters() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	clear(s.calls)
	clear(s.answered)
	clear(s.peak)
	for api, n := range s.inflight {
		s.peak[api] = n
	}
}

// stats is the admin view of the counters.
type stats struct {
	Calls           map[string]int
	Answered        map[string]map[string]int
	PeakConcurrency map[string]int
}

func (s *Server) stats() stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := stats{Calls: maps(s.calls), Answered: map[string]map[string]int{}, PeakConcurrency: maps(s.peak)}
	for api, m := range s.answered {
		st.Answered[api] = maps(m)
	}
	return st
}

func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// SetFault sets the fault of an API ("*" for every API without its own); the
// zero Fault removes it. Rates are clamped to [0, 1].
func (s *Server) SetFault(api string, f Fault) {
	s.faults.set(api, f.clamped())
}

// Faults returns the fault settings in force.
func (s *Server) Faults() map[string]Fault { return s.faults.snapshot() }

func (f Fault) validate() error {
	for _, r := range []float64{f.ThrottleRate, f.ErrorRate, f.DropRate, f.ForbiddenRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("rate %v is outside [0, 1]", r)
		}
	}
	if f.QPS < 0 || f.Latency < 0 || f.Jitter < 0 {
		return errors.New("QPS, Latency and Jitter must not be negative")
	}
	return nil
}

func (f Fault) clamped() Fault {
	c := func(v float64) float64 { return min(max(v, 0), 1) }
	f.ThrottleRate, f.ErrorRate, f.DropRate, f.ForbiddenRate = c(f.ThrottleRate), c(f.ErrorRate), c(f.DropRate), c(f.ForbiddenRate)
	f.QPS, f.Latency, f.Jitter = max(f.QPS, 0), max(f.Latency, 0), max(f.Jitter, 0)
	return f
}

// Instance returns the current state of an instance.
func (s *Server) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return in.clone(), true
}

// Instances returns the current state of every instance, by instance id.
func (s *Server) Instances() []Instance {
	return s.State().Instances
}

// KeyPairs returns the key pairs of every region, in creation order.
func (s *Server) KeyPairs() []KeyPair {
	return s.State().KeyPairs
}

// State returns a snapshot of the whole current state in the fixture's
// layout.
func (s *Server) State() *Fixture {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &Fixture{Regions: slices.Clone(s.regions), KeyPairs: make([]KeyPair, 0, len(s.keyPairs)), Instances: make([]Instance, 0, len(s.ids))}
	for _, kp := range s.keyPairs {
		f.KeyPairs = append(f.KeyPairs, kp.clone())
	}
	for _, id := range s.ids {
		f.Instances = append(f.Instances, s.instances[id].clone())
	}
	return f
}

// SetInstance adds an instance or replaces the one with its id. Its region
// is added if unknown; an empty Status means Stopped.
func (s *Server) SetInstance(in Instance) {
	if in.Status == "" {
		in.Status = StatusStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRegion(in.RegionId)
	s.putInstance(in.clone())
}

func (s *Server) putInstance(in Instance) {
	if _, ok := s.instances[in.InstanceId]; !ok {
		i, _ := slices.BinarySearch(s.ids, in.InstanceId)
		s.ids = slices.Insert(s.ids, i, in.InstanceId)
	}
	s.instances[in.InstanceId] = &in
}

// AddKeyPair adds a key pair or replaces the one with its name in its
// region. Its region is added if unknown; an empty KeyPairId, FingerPrint or
// CreationTime is made up.
func (s *Server) AddKeyPair(kp KeyPair) {
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
		kp.CreationTime = s.now().UTC().Format(ecsTimeLayout)
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

func (s *Server) addRegion(region string) {
	if region != "" && !slices.Contains(s.regions, region) {
		s.regions = append(s.regions, region)
	}
}

// Events returns the CloudEvents recorded on a bus, in arrival order.
func (s *Server) Events(bus string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events[bus])
}
