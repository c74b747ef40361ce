// Package fc emulates Function Compute 3.0's InvokeFunction (API version
// 2023-03-30), asynchronous invocations only, as far as the function uses it to
// continue a fleet run: POST /2023-03-30/functions/{functionName}/invocations with
// x-fc-invocation-type: Async and an x-fc-async-task-id, signed with the OpenAPI V3
// signature (ACS3-HMAC-SHA256) as darabonba-openapi's ROA calls are. An accepted
// invocation is handed to the function's Invoke (locally: the FC runtime-API runner's
// InvokeAsync); a task id already accepted is refused, as FC's task deduplication
// does.
//
// What FC documents (sources in emulator/README.md, "FC 3.0"): the path, the headers
// and the 128-character rule of task ids (InvokeFunction's API reference); that a task
// id needs the function's asynchronous task mode (asyncInvokeConfig.asyncTask); that a
// duplicate task id is refused with HTTP 409 (FC's "task deduplication" page); that an
// asynchronous payload may hold 128 KB (FC's limits page); 202 for an accepted
// asynchronous invocation. What it does not, and the emulator chooses (harsher when in
// doubt): the error codes of a duplicate (AsyncTaskAlreadyExists) and of a task id
// without task mode (InvalidArgument, refused rather than ignored), the error body
// {"Code","Message","RequestId"} that darabonba-openapi reads; a task id that breaks
// the documented rule is 400 InvalidArgument; task ids are unique per function; an
// unknown path or a method other than POST is 404 PathNotSupported; a query parameter
// but qualifier, a qualifier but LATEST and a synchronous invocation are refused (400
// InvalidArgument) as not implemented; an invocation the function cannot queue is 503
// ServiceUnavailable.
package fc

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"detachkeypair/emulator/internal/rpc"
	"detachkeypair/emulator/internal/sign"
)

// Version is the FC API version the service answers.
const Version = "2023-03-30"

// API is InvokeFunction's name, as counted and as faults are keyed.
const API = "fc:InvokeFunction"

// MaxAsyncPayload is the largest payload of an asynchronous invocation (FC's limits:
// 128 KB).
const MaxAsyncPayload = 128 << 10

// taskIDPattern is the rule of x-fc-async-task-id (InvokeFunction's reference: starts
// with a letter or an underscore; letters, digits, '_' and '-'; at most 128 characters).
var taskIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`)

// Function is a function the service can invoke.
type Function struct {
	Name string
	// AsyncTask is the asynchronous task mode of its asyncInvokeConfig (fc3's
	// asyncTask, ROS's AsyncTask), which task ids need.
	AsyncTask bool
	// Invoke queues an asynchronous invocation of the function with payload and
	// returns its request id (fcruntime.Runner.InvokeAsync, say). It is called once
	// per accepted task.
	Invoke func(payload []byte) (requestID string, err error)
}

// Task is an asynchronous invocation the service accepted with a task id.
type Task struct {
	Function  string
	TaskID    string
	RequestID string
	Accepted  time.Time
	Payload   []byte
}

// Config is what the service is built from.
type Config struct {
	Pipeline *rpc.Pipeline  // runs every request; required
	Verifier *sign.Verifier // checks signatures; required
	Clock    func() time.Time
}

// Service is the emulated InvokeFunction. It is safe for concurrent use.
type Service struct {
	pipeline *rpc.Pipeline
	verifier *sign.Verifier
	clock    func() time.Time

	mu        sync.Mutex // guards functions and tasks
	functions map[string]Function
	tasks     []Task
	taskIDs   map[[2]string]bool // by function and task id
}

// New builds the service from cfg.
func New(cfg Config) *Service {
	return &Service{pipeline: cfg.Pipeline, verifier: cfg.Verifier, clock: cfg.Clock,
		functions: map[string]Function{}, taskIDs: map[[2]string]bool{}}
}

// Register routes InvokeFunction to the service.
func (s *Service) Register(rt *rpc.Router) {
	rt.Handle("/"+Version+"/functions/", http.HandlerFunc(s.serve))
}

// Put adds a function, or replaces the one of its name.
func (s *Service) Put(f Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[f.Name] = f
}

// Tasks returns the tasks accepted so far, in the order they were accepted.
func (s *Service) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tasks)
}

// FC's errors, as the emulator answers them.
var (
	errNotFound     = &rpc.Error{Status: http.StatusNotFound, Code: "PathNotSupported", Message: "the path is not an API of Function Compute 3.0"}
	errEntityLarge  = rpc.Errorf(http.StatusBadRequest, "EntityTooLarge", "payload size exceeds maximum allowed size (%d bytes)", MaxAsyncPayload)
	errTaskTaken    = &rpc.Error{Status: http.StatusConflict, Code: "AsyncTaskAlreadyExists", Message: "an asynchronous task with this id was already submitted: it is not run again"}
	errTaskNoTasks  = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: "x-fc-async-task-id needs the function's asynchronous task mode (asyncInvokeConfig.asyncTask); enable it first"}
	errTaskIDFormat = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: "x-fc-async-task-id must start with a letter or '_' and hold letters, digits, '_' and '-', at most 128 characters"}
)

// answer is how FC answers; the signature checks' errors are the OpenAPI gateway's,
// which FC 3.0's API sits behind.
var answer = rpc.Answer{OK: writeAccepted, Fail: writeError}

// writeError writes FC's error body.
func writeError(w http.ResponseWriter, _ *http.Request, requestID string, e *rpc.Error) {
	w.Header().Set("x-fc-request-id", requestID)
	rpc.WriteJSON(w, e.Status, requestID, map[string]string{"Code": e.Code, "Message": e.Message, "RequestId": requestID})
}

// accepted is the answer to an accepted asynchronous invocation.
type accepted struct{ requestID, taskID string }

// writeAccepted answers 202 Accepted with the invocation's request id and task id, and
// no body.
func writeAccepted(w http.ResponseWriter, _ *http.Request, _ string, body any) {
	a := body.(accepted)
	w.Header().Set("x-fc-request-id", a.requestID)
	if a.taskID != "" {
		w.Header().Set("x-fc-async-task-id", a.taskID)
	}
	w.WriteHeader(http.StatusAccepted)
}

// serve answers POST /2023-03-30/functions/{functionName}/invocations.
func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := functionOf(r.URL.Path)
	if !ok || r.Method != http.MethodPost {
		writeError(w, r, rpc.NewRequestID(), errNotFound)
		return
	}
	body, err := rpc.ReadBody(r)
	if err != nil {
		writeError(w, r, rpc.NewRequestID(), rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "the request body cannot be read: %v", err))
		return
	}
	s.pipeline.Serve(w, r, rpc.Endpoint{
		API:    API,
		Answer: answer,
		Auth:   func() *rpc.Error { return s.verifier.POP(r, r.URL.Query(), body) },
		Handle: func(string) (any, *rpc.Error) { return s.invoke(r, name, body) },
	})
}

// functionOf returns the function name of an invocations path.
func functionOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/"+Version+"/functions/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/invocations")
	return name, ok && name != "" && !strings.Contains(name, "/")
}

// invoke checks an InvokeFunction request and hands it to the function.
func (s *Service) invoke(r *http.Request, name string, body []byte) (any, *rpc.Error) {
	for k := range r.URL.Query() {
		if k != "qualifier" {
			return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "the query parameter %q is not implemented by the emulator; it is refused rather than ignored", k)
		}
	}
	if q := r.URL.Query().Get("qualifier"); q != "" && q != "LATEST" {
		return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "qualifier %q: the emulator runs the LATEST version only", q)
	}
	if t := r.Header.Get("x-fc-invocation-type"); t != "Async" {
		return nil, rpc.Errorf(http.StatusBadRequest, "InvalidArgument", "x-fc-invocation-type %q: the emulator implements asynchronous invocations (Async) only", t)
	}
	if len(body) > MaxAsyncPayload {
		return nil, errEntityLarge
	}
	taskID := r.Header.Get("x-fc-async-task-id")
	if taskID != "" && !taskIDPattern.MatchString(taskID) {
		return nil, errTaskIDFormat
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	switch {
	case !ok:
		return nil, rpc.Errorf(http.StatusNotFound, "FunctionNotFound", "function '%s' does not exist", name)
	case taskID != "" && !f.AsyncTask:
		return nil, errTaskNoTasks
	case taskID != "" && s.taskIDs[[2]string{name, taskID}]:
		return nil, errTaskTaken
	}
	requestID, err := f.Invoke(body)
	if err != nil {
		return nil, rpc.Errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "the invocation could not be queued: %v", err)
	}
	if taskID != "" {
		s.taskIDs[[2]string{name, taskID}] = true
		s.tasks = append(s.tasks, Task{Function: name, TaskID: taskID, RequestID: requestID, Accepted: s.clock(), Payload: body})
	}
	return accepted{requestID: requestID, taskID: taskID}, nil
}
