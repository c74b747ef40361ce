package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"detachkeypair/detach"
	"detachkeypair/emulator/fcruntime"
)

// verdict is how one invocation ended, as local reports it: the header, the
// exit code, and the answer it found.
type verdict struct {
	header  string   // Succeeded, Answered 404 (InvalidKeyPair.NotFound), Failed (ServiceUnavailable), TimedOut, Crashed
	exit    int      // exitOK, exitRefused or exitFailed
	status  int      // the HTTP status the function answered with; 0 for other triggers and for failures
	body    []byte   // the answer: the HTTP body, the payload, or FC's error body
	answers []answer // the contract's answers in body (for a failure, in its errorMessage)
	problem string   // a failure's errorMessage, when it holds no contract answer
}

// answer is one of the contract's answers: a result, or a request-level error
// (Code set).
type answer struct {
	detach.Result
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// judge tells how an invocation ended. A 4xx answer (the HTTP status, or a
// request-level error answered by another trigger, which the function only
// answers for 4xx codes) is "Answered"; a 5xx answer and a failed invocation
// are both "Failed", as the same request fails the invocation when it does not
// come by HTTP; a timeout or a crash is its own header.
func judge(res fcruntime.Result) verdict {
	v := verdict{body: res.Payload}
	if res.Error != nil {
		v.problem = res.Error.Message
	}
	switch res.Outcome {
	case fcruntime.TimedOut, fcruntime.Crashed:
		v.header, v.exit = string(res.Outcome), exitFailed
		return v
	case fcruntime.Failed:
		v.header, v.exit = "Failed (unhandled error)", exitFailed
		if res.Error != nil {
			if res.Error.Type != "" {
				v.header = "Failed (" + res.Error.Type + ")"
			}
			if v.answers = decodeAnswers([]byte(res.Error.Message)); len(v.answers) > 0 {
				v.problem = ""
			}
		}
		return v
	}
	if status, body, ok := httpResponse(res.Payload); ok {
		v.status, v.body = status, body
	}
	v.answers = decodeAnswers(v.body)
	refused := requestErrors(v.answers)
	switch {
	case v.status >= 500:
		v.header, v.exit = fmt.Sprintf("Failed (HTTP %d%s)", v.status, codeList(refused, " ")), exitFailed
	case v.status >= 400:
		v.header, v.exit = fmt.Sprintf("Answered %d%s", v.status, parens(codeList(refused, ""))), exitRefused
	case len(refused) > 0:
		// Non-HTTP answers carry no status; the function fails the invocation
		// for 5xx codes, so a request-level error answered is a 4xx one.
		v.header, v.exit = "Answered 4xx"+parens(codeList(refused, "")), exitRefused
		if len(v.answers) > 1 {
			v.header += fmt.Sprintf(" for %d of %d events", len(refused), len(v.answers))
		}
	case v.status != 0:
		v.header = fmt.Sprintf("Succeeded (HTTP %d)", v.status)
	default:
		v.header = "Succeeded"
	}
	return v
}

// httpResponse reads an HTTP trigger response (events.HTTPTriggerResponse):
// its status and its body, decoded from base64 if it is.
func httpResponse(payload []byte) (status int, body []byte, ok bool) {
	var r struct {
		StatusCode      *int   `json:"statusCode"`
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if json.Unmarshal(payload, &r) != nil || r.StatusCode == nil {
		return 0, nil, false
	}
	body = []byte(r.Body)
	if r.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(r.Body); err == nil {
			body = b
		}
	}
	return *r.StatusCode, body, true
}

// decodeAnswers reads the contract's answers in a body: one answer, or an
// array of them (EventBridge). Anything else gives none.
func decodeAnswers(body []byte) []answer {
	body = bytes.TrimSpace(body)
	var out []answer
	if bytes.HasPrefix(body, []byte("[")) {
		if json.Unmarshal(body, &out) != nil {
			return nil
		}
	} else {
		var one answer
		if json.Unmarshal(body, &one) != nil {
			return nil
		}
		out = []answer{one}
	}
	for _, a := range out {
		if a.Code == "" && a.Results == nil {
			return nil // not the contract's shape
		}
	}
	return out
}

// requestErrors returns the answers that are request-level errors.
func requestErrors(answers []answer) []answer {
	var out []answer
	for _, a := range answers {
		if a.Code != "" {
			out = append(out, a)
		}
	}
	return out
}

// codeList joins the distinct codes of request-level errors, after sep.
func codeList(errs []answer, sep string) string {
	var codes []string
	for _, e := range errs {
		if !slices.Contains(codes, e.Code) {
			codes = append(codes, e.Code)
		}
	}
	if len(codes) == 0 {
		return ""
	}
	return sep + strings.Join(codes, ", ")
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// count is what the results in some answers add up to.
type count struct {
	detached, failed int            // instances (with DryRun, would be detached)
	results          int            // answers that are results, not request-level errors
	dryRun           bool           // one of them is a dry run
	byCode           map[string]int // failed instances by ErrorCode
}

func tally(answers []answer) count {
	t := count{byCode: map[string]int{}}
	for _, a := range answers {
		if a.Code != "" {
			continue
		}
		t.results++
		t.dryRun = t.dryRun || a.DryRun
		for _, r := range a.Results {
			if r.Success {
				t.detached++
				continue
			}
			t.failed++
			t.byCode[cmp.Or(r.ErrorCode, fmt.Sprintf("Code %d", r.Code))]++
		}
	}
	return t
}

// summary says in one line what the invocation did: head is what came of
// the instances ("detached 12, failed 3 (IncorrectInstanceStatus 2,
// NotAttempted 1)", "nothing detached", "no answer"), detail the error that
// explains it, if any (": InvalidKeyPair.NotFound: no key pair ...").
func summary(v verdict) (head, detail string) {
	t := tally(v.answers)
	refused := requestErrors(v.answers)
	switch {
	case t.results > 0:
		head = fmt.Sprintf("detached %d, failed %d", t.detached, t.failed)
		if t.dryRun {
			head = fmt.Sprintf("dry run: would detach %d, failed %d", t.detached, t.failed)
		}
		head += parens(breakdown(t.byCode))
		if len(refused) > 0 {
			detail = fmt.Sprintf("; refused %d of %d events (%s)", len(refused), len(v.answers), codeList(refused, ""))
		}
	case len(refused) == 1:
		head, detail = "nothing detached", fmt.Sprintf(": %s: %s", refused[0].Code, clip(refused[0].Message, 200))
	case len(refused) > 1:
		head, detail = "nothing detached", fmt.Sprintf(": %d events refused (%s)", len(refused), codeList(refused, ""))
	case v.problem != "":
		head, detail = "no answer", ": "+clip(v.problem, 200)
	default:
		head, detail = "answered", ": "+clip(string(bytes.TrimSpace(v.body)), 200)
	}
	return head, detail
}

// summaryLine is the summary with the invocation's duration, e.g.
// "detached 12, failed 3 (IncorrectInstanceStatus 2, NotAttempted 1) in 41 ms".
func summaryLine(v verdict, d time.Duration) string {
	head, detail := summary(v)
	return head + " in " + took(d) + detail
}

// breakdown lists failures by code, most frequent first.
func breakdown(byCode map[string]int) string {
	codes := slices.Collect(maps.Keys(byCode))
	slices.SortFunc(codes, func(a, b string) int {
		return cmp.Or(cmp.Compare(byCode[b], byCode[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s %d", c, byCode[c])
	}
	return strings.Join(parts, ", ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// took formats a duration for the summary line: "41 ms", "3.28 s".
func took(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// billed is the duration FC bills for an invocation: rounded up to the next
// whole millisecond, at least 1 ms. FC shows it in each invocation's log tail,
// e.g. "Duration: 41.49 ms, Billed Duration: 42 ms" (README, "REPORT").
func billed(d time.Duration) time.Duration {
	return max(time.Millisecond, time.Duration(math.Ceil(float64(d)/float64(time.Millisecond)))*time.Millisecond)
}

// reportLine is FC's summary of an invocation, as in the tail of its logs
// ("Duration: 41.49 ms, Billed Duration: 42 ms, Memory Size: 512 MB, Max Memory
// Used: 93.91 MB"), after Lambda's "REPORT RequestId:".
func reportLine(requestID string, d time.Duration, memoryMB int, peakRSS int64) string {
	return fmt.Sprintf("REPORT RequestId: %s Duration: %.2f ms, Billed Duration: %d ms, Memory Size: %d MB, Max Memory Used: %.2f MB",
		requestID, float64(d)/float64(time.Millisecond), billed(d).Milliseconds(), memoryMB, float64(peakRSS)/(1<<20))
}

// indentJSON formats JSON for reading: objects and arrays that hold other
// objects or arrays are indented, the others (a result per instance, a list of
// ids) stay on one line. Anything that is not JSON is returned as it is.
func indentJSON(raw []byte) string {
	var b strings.Builder
	if !json.Valid(raw) {
		return string(raw)
	}
	writeJSON(&b, bytes.TrimSpace(raw), "")
	return b.String()
}

func writeJSON(b *strings.Builder, raw []byte, indent string) {
	keys, vals, ok := members(raw)
	if !ok {
		b.Write(raw) // a scalar
		return
	}
	open, end := "[", "]"
	if keys != nil {
		open, end = "{", "}"
	}
	flat := !slices.ContainsFunc(vals, func(v json.RawMessage) bool { _, _, nested := members(v); return nested })
	if flat || len(vals) == 0 {
		b.WriteString(open)
		for i, v := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			if keys != nil {
				b.WriteString(keys[i] + ": ")
			}
			b.Write(v)
		}
		b.WriteString(end)
		return
	}
	b.WriteString(open + "\n")
	for i, v := range vals {
		b.WriteString(indent + "  ")
		if keys != nil {
			b.WriteString(keys[i] + ": ")
		}
		writeJSON(b, v, indent+"  ")
		if i < len(vals)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + end)
}

// members returns the members of a JSON object (keys quoted, in order) or the
// elements of an array (keys nil), each compact; ok is false for scalars.
func members(raw []byte) (keys []string, vals []json.RawMessage, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return nil, nil, false
	}
	if raw[0] == '[' {
		if json.Unmarshal(raw, &vals) != nil {
			return nil, nil, false
		}
	} else {
		fields, err := objectFields(raw)
		if err != nil {
			return nil, nil, false
		}
		keys = make([]string, len(fields))
		for i, f := range fields {
			k, _ := json.Marshal(f.key)
			keys[i], vals = string(k), append(vals, f.val)
		}
	}
	for i, v := range vals {
		var c bytes.Buffer
		if json.Compact(&c, v) == nil {
			vals[i] = c.Bytes()
		}
	}
	return keys, vals, true
}
