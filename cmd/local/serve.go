package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// serve serves the function's HTTP trigger until ctx ends (Ctrl-C).
func (c *command) serve(ctx context.Context, args []string) int {
	o, code, ok := parse("serve", args, c.stderr)
	if !ok {
		return code
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "local serve: %v (choose another address with --addr)\n", err)
		return exitLocal
	}
	env, out, stop, code := c.start(ctx, o)
	if env == nil {
		ln.Close()
		return code
	}
	defer stop()
	out.stopCapture() // started: nothing more to keep
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(c.stderr, "local: the function's HTTP trigger is at %s (Ctrl-C stops); emulator at %s\n", url, env.EmulatorURL)
	fmt.Fprintf(c.stderr, "local: try  curl -X POST %s -d '{\"KeyPairName\":\"ops-2026\",\"InstanceIds\":[\"i-bp1d6tsvznfghy7y0003\"]}'\n", url)

	srv := &http.Server{
		Handler:           &trigger{env: env, log: c.stderr, out: out},
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
		fmt.Fprintf(c.stderr, "local serve: %v\n", err)
		return exitLocal
	case <-ctx.Done():
	}
	fmt.Fprintln(c.stderr, "local: stopping: waiting for the requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), o.timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(c.stderr, "local serve: %v\n", err)
	}
	if c.inspect != nil {
		c.inspect(env)
	}
	return exitOK
}

// trigger is the function's HTTP trigger: it turns each request into FC's HTTP
// trigger event, invokes the function synchronously and answers with its
// HTTP response, as FC 3.0 does for built-in runtimes.
type trigger struct {
	env *localrun.Env
	log io.Writer // one line per request
	out *output   // serializes the request lines with the function's logs
}

func (t *trigger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
	if err != nil {
		writeFCError(w, "", &fcruntime.ServiceError{StatusCode: http.StatusRequestEntityTooLarge, Code: "PayloadTooLarge",
			Message: fmt.Sprintf("the request body is larger than %d MB, FC's limit for a synchronous invocation", maxEventBytes>>20)})
		t.logRequest(r, http.StatusRequestEntityTooLarge, time.Since(start), "", "body too large")
		return
	}
	id := fcruntime.NewRequestID()
	payload, err := json.Marshal(httpEvent(r, body, id, start))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	res, err := t.env.Runner.Invoke(r.Context(), fcruntime.Invocation{RequestID: id, Payload: payload})
	var throttled *fcruntime.ServiceError
	switch {
	case errors.As(err, &throttled):
		writeFCError(w, id, throttled)
		t.logRequest(r, throttled.StatusCode, time.Since(start), id, throttled.Code)
		return
	case err != nil: // the client went away, or the runner stopped
		t.logRequest(r, 0, time.Since(start), id, err.Error())
		return
	}
	status := writeResponse(w, res)
	head, detail := summary(judge(res))
	t.logRequest(r, status, res.Duration, id, head+detail)
}

// httpEvent is FC 3.0's HTTP trigger event for r (events.HTTPTriggerEvent;
// fields as in FC's "HTTP trigger invoking function" documentation):
// multi-valued headers and query parameters joined with ",", the time in
// RFC 3339 and in epoch milliseconds, and the body base64-encoded unless it
// is text. Which content types FC treats as text is not documented; here:
// text/*, JSON, XML, form data and JavaScript, when the body is valid UTF-8.
func httpEvent(r *http.Request, body []byte, requestID string, at time.Time) events.HTTPTriggerEvent {
	headers := joined(r.Header)
	headers["Host"] = r.Host
	query := joined(r.URL.Query())
	text := isText(r.Header.Get("Content-Type")) && utf8.Valid(body)
	b := string(body)
	if !text {
		b = base64.StdEncoding.EncodeToString(body)
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	ev := events.HTTPTriggerEvent{
		Version:         ptr("v1"),
		RawPath:         ptr(r.URL.Path),
		Body:            &b,
		IsBase64Encoded: ptr(!text),
		Headers:         &headers,
		QueryParameters: &query,
	}
	ctx := &ev.TriggerContext
	ctx.AccountId = ptr(fcruntime.DefaultAccountID)
	ctx.DomainName = ptr(r.Host)
	ctx.DomainPrefix = ptr(strings.Split(host, ".")[0])
	ctx.Http.Method = ptr(r.Method)
	ctx.Http.Path = ptr(r.URL.Path)
	ctx.Http.Protocol = ptr(r.Proto)
	ctx.Http.SourceIp = ptr(sourceIP)
	ctx.Http.UserAgent = ptr(r.UserAgent())
	ctx.RequestId = ptr(requestID)
	ctx.Time = ptr(at.UTC().Format(time.RFC3339))
	ctx.TimeEpoch = ptr(strconv.FormatInt(at.UnixMilli(), 10))
	return ev
}

func ptr[T any](v T) *T { return &v }

// joined flattens multi-valued headers or query parameters as FC does:
// "value1,value2".
func joined(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, vs := range m {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

// isText reports whether a content type is text (its body is passed as is);
// an absent one counts as text, as curl -d sends form data.
func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript":
		return true
	}
	return false
}

// writeResponse answers with the function's HTTP response and returns its
// status. A failed invocation (which this function does not do on purpose:
// it answers its errors, 5xx included) is answered 502 with FC's error body
// and X-Fc-Error-Type, an assumption: FC 3.0 does not document the HTTP
// status of a failed invocation through an HTTP trigger.
func writeResponse(w http.ResponseWriter, res fcruntime.Result) int {
	w.Header().Set("X-Fc-Request-Id", res.RequestID)
	if res.Outcome != fcruntime.Succeeded {
		w.Header().Set("X-Fc-Error-Type", res.ErrorType)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		w.Write(res.Payload)
		return http.StatusBadGateway
	}
	var resp events.HTTPTriggerResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.StatusCode == 0 {
		http.Error(w, "the function's answer is not an HTTP trigger response (statusCode, headers, body)", http.StatusBadGateway)
		return http.StatusBadGateway
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			http.Error(w, "the function's answer says isBase64Encoded but its body is not base64", http.StatusBadGateway)
			return http.StatusBadGateway
		}
		body = b
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
	return resp.StatusCode
}

// writeFCError answers with one of FC's own errors (before the function runs).
func writeFCError(w http.ResponseWriter, requestID string, e *fcruntime.ServiceError) {
	if requestID != "" {
		w.Header().Set("X-Fc-Request-Id", requestID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.StatusCode)
	json.NewEncoder(w).Encode(e)
}

// logRequest prints one line per request: time, method, path, status,
// duration, request id and what happened. The query string is left out: it
// may hold a token the caller passed.
func (t *trigger) logRequest(r *http.Request, status int, d time.Duration, id, what string) {
	s := strconv.Itoa(status)
	if status == 0 {
		s = "---"
	}
	line := fmt.Sprintf("%s %s %s %s %s %s  %s\n", time.Now().Format("15:04:05.000"), r.Method, r.URL.EscapedPath(), s, took(d), id, what)
	t.out.mu.Lock()
	defer t.out.mu.Unlock()
	io.WriteString(t.log, line)
}
