package ens_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/ens"
)

// Fake STS credentials of a function role, for tests only.
var sts = &credentials.AccessKey{AccessKeyID: "STS.NTestOnlyEnsKeyId0001", AccessKeySecret: "TestOnlyEnsSecretNotReal01", SecurityToken: "CAISTestOnlyEnsToken+/0001="}

// wire is one request as it arrived on the wire.
type wire struct {
	method, path, rawQuery, host string
	header                       http.Header
	body                         []byte
}

// fakeENS is an HTTP server that records each request and answers it with the next of
// its canned answers (status and body); an answer with status 0 drops the connection.
type fakeENS struct {
	mu       sync.Mutex
	requests []wire
	answers  []answer
	srv      *httptest.Server
}

type answer struct {
	status int
	body   string
}

func newFake(t *testing.T, answers ...answer) *fakeENS {
	f := &fakeENS{answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, wire{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), body})
		a := answer{200, `{}`}
		if len(f.answers) > 0 {
			a, f.answers = f.answers[0], f.answers[1:]
		}
		f.mu.Unlock()
		if a.status == 0 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeENS) client(t *testing.T) *ens.Client {
	t.Helper()
	c, err := ens.New(ens.Config{Endpoint: f.srv.URL, Credentials: sts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeENS) last(t *testing.T) wire {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no request reached the server")
	}
	return f.requests[len(f.requests)-1]
}

// percentEncode is the canonical encoding of ACS3 (ENS reference, section 1: values
// URL-encoded, "+" as %20, "*" as %2A, "~" kept).
func percentEncode(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}

// emptySHA256 is the hex SHA-256 of an empty body: x-acs-content-sha256 of these APIs.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// signedHeaders are the headers an ACS3 request with STS credentials signs, sorted: host
// and every x-acs-* header (no content-type: the body is empty). The reference's list
// lacks x-acs-credentials-provider: darabonba-openapi v2.1.14's DoRequest adds it for a
// credential that names its provider (credentials-go v1.4.5: "static_sts" for an STS
// AccessKey given as such), so the v12 SDK, built on the same client, sends it too.
var signedHeaders = []string{"host", "x-acs-accesskey-id", "x-acs-action", "x-acs-content-sha256", "x-acs-credentials-provider",
	"x-acs-date", "x-acs-security-token", "x-acs-signature-nonce", "x-acs-version"}

// checkACS3 checks that w is the request the v12 SDK sends for action: POST to "/" with
// an empty body, the query wantQuery exactly, the ACS3 headers with their values, and an
// Authorization whose signature is the one the reference's algorithm gives.
func checkACS3(t *testing.T, w wire, host, action, wantQuery string) {
	t.Helper()
	if w.method != http.MethodPost || w.path != "/" || len(w.body) != 0 {
		t.Errorf("%s %s with a %d-byte body, want POST / with none", w.method, w.path, len(w.body))
	}
	if w.rawQuery != wantQuery {
		t.Errorf("query\n got %s\nwant %s", w.rawQuery, wantQuery)
	}
	if w.host != host {
		t.Errorf("host %q, want %q", w.host, host)
	}
	fixed := map[string]string{
		"x-acs-action":               action,
		"x-acs-version":              "2017-11-10",
		"x-acs-content-sha256":       emptySHA256,
		"x-acs-accesskey-id":         sts.AccessKeyID,
		"x-acs-security-token":       sts.SecurityToken,
		"x-acs-credentials-provider": "static_sts",
		"accept":                     "application/json",
	}
	for name, want := range fixed {
		if got := w.header.Get(name); got != want {
			t.Errorf("header %s: %q, want %q", name, got, want)
		}
	}
	var acs []string
	for name := range w.header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-acs-") {
			acs = append(acs, n)
		}
	}
	slices.Sort(acs)
	if want := slices.DeleteFunc(slices.Clone(signedHeaders), func(h string) bool { return h == "host" }); !slices.Equal(acs, want) {
		t.Errorf("x-acs headers %v, want %v", acs, want)
	}
	if ct := w.header.Get("Content-Type"); ct != "" {
		t.Errorf("content-type %q on a request without a body", ct)
	}
	date, err := time.Parse("2006-01-02T15:04:05Z", w.header.Get("x-acs-date"))
	if err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("x-acs-date %q: want the UTC time as YYYY-MM-DDThh:mm:ssZ", w.header.Get("x-acs-date"))
	}
	if w.header.Get("x-acs-signature-nonce") == "" || w.header.Get("user-agent") == "" {
		t.Errorf("no signature nonce or user agent: %v", w.header)
	}

	// The signature, computed as the reference describes ACS3-HMAC-SHA256.
	authz := regexp.MustCompile(`^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$`).FindStringSubmatch(w.header.Get("Authorization"))
	if authz == nil {
		t.Fatalf("Authorization %q is not ACS3-HMAC-SHA256", w.header.Get("Authorization"))
	}
	if authz[1] != sts.AccessKeyID || authz[2] != strings.Join(signedHeaders, ";") {
		t.Errorf("Credential %s, SignedHeaders %s; want %s and %s", authz[1], authz[2], sts.AccessKeyID, strings.Join(signedHeaders, ";"))
	}
	q, _ := url.ParseQuery(w.rawQuery)
	var pairs []string
	for k := range q {
		pairs = append(pairs, percentEncode(k)+"="+percentEncode(q.Get(k)))
	}
	sort.Strings(pairs)
	var canonHeaders strings.Builder
	for _, h := range signedHeaders {
		v := w.header.Get(h)
		if h == "host" {
			v = w.host
		}
		canonHeaders.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canonical := strings.Join([]string{"POST", "/", strings.Join(pairs, "&"), canonHeaders.String(), strings.Join(signedHeaders, ";"), emptySHA256}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(sts.AccessKeySecret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(sum[:])))
	if want := hex.EncodeToString(mac.Sum(nil)); authz[3] != want {
		t.Errorf("signature %s, want %s over\n%s", authz[3], want, canonical)
	}
}

// TestDetachKeyPairWire: the adapter sends exactly the reference's wire example of
// DetachKeyPair (ACS3, STS): the ids as one JSON-array string, the key pair by id, no
// RegionId, and the ACS3 headers.
func TestDetachKeyPairWire(t *testing.T) {
	f := newFake(t, answer{200, `{"RequestId":"xx-xx-xx-xx","KeyPairId":"ssh-xxx","KeyPairName":"test-kp","FailCount":0,"TotalCount":1,` +
		`"Results":[{"Code":200,"InstanceId":"i-50f8q9mbfjzlkuk9znjglnne3","Message":"successful","Success":true}]}`},
		answer{200, `{"RequestId":"r","Results":[]}`})
	out, err := f.client(t).DetachKeyPair(context.Background(), detach.KeyPair{ID: "ssh-xxx", Name: "test-kp"}, []string{"i-50f8q9mbfjzlkuk9znjglnne3"})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	// POST /?InstanceIds=%5B%22i-50f8q9mbfjzlkuk9znjglnne3%22%5D&KeyPairId=ssh-xxx (the reference, section 2)
	checkACS3(t, f.last(t), host, "DetachKeyPair", "InstanceIds=%5B%22i-50f8q9mbfjzlkuk9znjglnne3%22%5D&KeyPairId=ssh-xxx")
	if want := []detach.Outcome{{InstanceID: "i-50f8q9mbfjzlkuk9znjglnne3", Code: 200, Success: true, Message: "successful"}}; !slices.Equal(out, want) {
		t.Errorf("outcomes %+v, want %+v", out, want)
	}

	// 30 ids, by name when the id is unknown: one parameter, compact JSON, in order.
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = "i-5itef0f28t17bcdw9deu6m" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "b"
	}
	if _, err := f.client(t).DetachKeyPair(context.Background(), detach.KeyPair{Name: "test-kp"}, ids); err != nil {
		t.Fatal(err)
	}
	list := `["` + strings.Join(ids, `","`) + `"]`
	checkACS3(t, f.last(t), host, "DetachKeyPair", "InstanceIds="+url.QueryEscape(list)+"&KeyPairName=test-kp")
}

// TestDescribeWire: DescribeKeyPairs by id and DescribeInstances by ids, edge regions and
// tags send the v12 SDK's parameters: lists and tags as JSON strings (HTML not escaped),
// page numbers and sizes as numbers.
func TestDescribeWire(t *testing.T) {
	f := newFake(t)
	c := f.client(t)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	ctx := context.Background()

	if _, err := c.DescribeKeyPairs(ctx, detach.KeyPairQuery{ID: "ssh-50cynkq42sgj4ej1tn78t4001", Page: 1}); err != nil {
		t.Fatal(err)
	}
	checkACS3(t, f.last(t), host, "DescribeKeyPairs", "KeyPairId=ssh-50cynkq42sgj4ej1tn78t4001&PageNumber=1&PageSize=50")

	if _, err := c.DescribeInstances(ctx, detach.InstanceQuery{IDs: []string{"i-5iqczfxps7csjrxeca070001", "i-5iqczfxps7csjrxeca070002"}, PageSize: 100}); err != nil {
		t.Fatal(err)
	}
	checkACS3(t, f.last(t), host, "DescribeInstances",
		"InstanceIds="+url.QueryEscape(`["i-5iqczfxps7csjrxeca070001","i-5iqczfxps7csjrxeca070002"]`)+"&PageNumber=1&PageSize=50")

	q := detach.InstanceQuery{KeyPairName: "ops-2026", EnsRegionIDs: []string{"cn-beijing-cmcc", "cn-chengdu-telecom-4"},
		Tags: []detach.Tag{{Key: "env", Value: "a&b<c>"}, {Key: "team"}}, NextToken: "3", PageSize: 100}
	if _, err := c.DescribeInstances(ctx, q); err != nil {
		t.Fatal(err)
	}
	checkACS3(t, f.last(t), host, "DescribeInstances",
		"EnsRegionIds="+url.QueryEscape(`["cn-beijing-cmcc","cn-chengdu-telecom-4"]`)+"&PageNumber=3&PageSize=50"+
			"&Tags="+url.QueryEscape(`[{"Key":"env","Value":"a&b<c>"},{"Key":"team"}]`))

	if _, err := c.DescribeInstances(ctx, detach.InstanceQuery{ResourceGroupID: "rg-1"}); err == nil {
		t.Error("a query by resource group was answered; ENS cannot select by one")
	}
}

// TestAnswers: ENS's answers are read as ENS sends them, and its errors become the
// domain's.
func TestAnswers(t *testing.T) {
	ctx := context.Background()
	f := newFake(t,
		answer{200, `{"RequestId":"r","TotalCount":1,"PageNumber":1,"PageSize":50,"KeyPairs":{"KeyPair":[` +
			`{"KeyPairId":"ssh-a1","KeyPairName":"ops-2026","KeyPairFingerPrint":"f","CreationTime":"2026-01-05T08:00:00Z"}]}}`},
		answer{200, `{"RequestId":"r","Code":0,"TotalCount":3,"PageNumber":1,"PageSize":2,"Instances":{"Instance":[` +
			`{"InstanceId":"i-a","Status":"Stopped","KeyPairName":"ops-2026","EnsRegionId":"cn-beijing-cmcc"},{"InstanceId":"i-b","Status":"Expired","KeyPairName":""}]}}`},
		// ListTagResources for page 1, in two pages of its own.
		answer{200, `{"RequestId":"r","NextToken":"t2","TagResources":[{"ResourceId":"i-a","ResourceType":"instance","TagKey":"env","TagValue":"prod"}]}`},
		answer{200, `{"RequestId":"r","NextToken":"","TagResources":[{"ResourceId":"i-a","ResourceType":"instance","TagKey":"team","TagValue":""}]}`},
		answer{200, `{"RequestId":"r","Code":0,"TotalCount":3,"PageNumber":2,"PageSize":2,"Instances":{"Instance":[{"InstanceId":"i-c","Status":"Starting"}]}}`},
		answer{200, `{"RequestId":"r","TagResources":[]}`},
		answer{200, `{"RequestId":"r","KeyPairId":"ssh-a1","KeyPairName":"ops-2026","TotalCount":4,"FailCount":3,"Results":[` +
			`{"Code":200,"InstanceId":"i-a","Message":"successful","Success":true},` +
			`{"Code":400,"InstanceId":"i-b","Message":"IncorrectInstanceStatus: The instance is Expired; it must be stopped.","Success":false},` +
			`{"Code":400,"InstanceId":"i-c","Message":"InstanceNotFound: The instance does not exist.","Success":false},null,` +
			`{"Code":400,"InstanceId":"i-d","Message":"PublicKeyNotAttachWithInstance","Success":false}]}`},
		answer{200, `{"RequestId":"r","TotalCount":1,"FailCount":0}`},
	)
	c := f.client(t)
	kps, err := c.DescribeKeyPairs(ctx, detach.KeyPairQuery{Name: "ops-2026"})
	if err != nil || kps.TotalCount != 1 || !slices.Equal(kps.KeyPairs, []detach.KeyPair{{ID: "ssh-a1", Name: "ops-2026"}}) {
		t.Errorf("DescribeKeyPairs: %+v, %v", kps, err)
	}
	p1, err := c.DescribeInstances(ctx, detach.InstanceQuery{PageSize: 2})
	if err != nil || p1.NextToken != "2" || len(p1.Instances) != 2 ||
		fmt.Sprint(p1.Instances) != "[{i-a Stopped ops-2026 [env=prod team] cn-beijing-cmcc} {i-b Expired  [] }]" {
		t.Errorf("DescribeInstances page 1: %+v, %v", p1, err)
	}
	f.mu.Lock()
	tagCalls := f.requests[len(f.requests)-2:]
	f.mu.Unlock()
	for i, w := range tagCalls {
		want := "ResourceId.1=i-a&ResourceId.2=i-b&ResourceType=instance"
		if i == 1 {
			want = "NextToken=t2&" + want
		}
		if w.header.Get("x-acs-action") != "ListTagResources" || w.rawQuery != want {
			t.Errorf("tags call %d: %s %s, want ListTagResources %s", i, w.header.Get("x-acs-action"), w.rawQuery, want)
		}
	}
	p2, err := c.DescribeInstances(ctx, detach.InstanceQuery{PageSize: 2, NextToken: p1.NextToken})
	if err != nil || p2.NextToken != "" || len(p2.Instances) != 1 {
		t.Errorf("DescribeInstances page 2: %+v, %v", p2, err)
	}
	out, err := c.DetachKeyPair(ctx, detach.KeyPair{ID: "ssh-a1", Name: "ops-2026"}, []string{"i-a", "i-b", "i-c", "i-d"})
	want := []detach.Outcome{
		{InstanceID: "i-a", Code: 200, Success: true, Message: "successful"},
		{InstanceID: "i-b", Code: 400, ErrorCode: detach.CodeIncorrectStatus, Message: "IncorrectInstanceStatus: The instance is Expired; it must be stopped."},
		{InstanceID: "i-c", Code: 404, ErrorCode: detach.CodeInstanceNotFound, Message: "InstanceNotFound: The instance does not exist."},
		{InstanceID: "i-d", Code: 400, ErrorCode: detach.CodeNotAttached, Message: "PublicKeyNotAttachWithInstance"},
	}
	if err != nil || !slices.Equal(out, want) {
		t.Errorf("DetachKeyPair:\n got %+v, %v\nwant %+v", out, err, want)
	}
	var ce *detach.CloudError
	if _, err := c.DetachKeyPair(ctx, detach.KeyPair{ID: "ssh-a1"}, []string{"i-a"}); !errors.As(err, &ce) || ce.Code != "InvalidResponse" {
		t.Errorf("an answer without Results: %v, want InvalidResponse", err)
	}

	// Hollow answers: null entries, or fewer than TotalCount says.
	hollow := newFake(t,
		answer{200, `{"TotalCount":2,"KeyPairs":{"KeyPair":[{"KeyPairId":"ssh-a1","KeyPairName":"ops-2026"},null]}}`},
		answer{200, `{"TotalCount":2,"KeyPairs":{"KeyPair":[]}}`},
		answer{200, `{"Code":0,"TotalCount":2,"Instances":{"Instance":[{"InstanceId":"i-a","Status":"Stopped"}]}}`},
		answer{200, `{"Code":0,"TotalCount":1,"Instances":{"Instance":[{"InstanceId":"i-a","Status":"Stopped"}]}}`},
		answer{200, `{"TagResources":[null]}`},
	)
	hc := hollow.client(t)
	for i := range 2 {
		if _, err := hc.DescribeKeyPairs(ctx, detach.KeyPairQuery{}); !errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse {
			t.Errorf("hollow DescribeKeyPairs %d: %v, want InvalidResponse", i, err)
		}
	}
	for i := range 2 {
		if _, err := hc.DescribeInstances(ctx, detach.InstanceQuery{}); !errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse {
			t.Errorf("hollow DescribeInstances %d: %v, want InvalidResponse", i, err)
		}
	}

	for _, c := range []struct {
		answer answer
		check  func(*detach.CloudError) bool
		what   string
	}{
		{answer{400, `{"RequestId":"r","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`}, (*detach.CloudError).Throttled, "throttled"},
		{answer{429, `{"RequestId":"r","Code":"Throttling","Message":"slow down"}`}, (*detach.CloudError).Throttled, "throttled"},
		{answer{400, `{"RequestId":"r","Code":"NoPermission","Message":"Permission denied."}`}, (*detach.CloudError).Forbidden, "forbidden"},
		{answer{503, `{"RequestId":"r","Code":"ServiceUnavailable","Message":"later"}`}, (*detach.CloudError).Unavailable, "unavailable"},
		{answer{0, ""}, func(e *detach.CloudError) bool { return e.Status == 0 && e.Unavailable() }, "no answer"},
		{answer{400, `{"RequestId":"r","Code":"InvalidParameter.KeyPairId","Message":"The specified field KeyPairId invalid. Please check it again."}`},
			func(e *detach.CloudError) bool { return e.Status == 400 && !e.Retryable() && e.RequestID == "r" }, "a refusal"},
	} {
		f := newFake(t, c.answer)
		_, err := f.client(t).DetachKeyPair(ctx, detach.KeyPair{ID: "ssh-a1"}, []string{"i-a"})
		if !errors.As(err, &ce) || !c.check(ce) {
			t.Errorf("HTTP %d %s: got %v, want %s", c.answer.status, c.answer.body, err, c.what)
		} else if strings.Contains(err.Error(), sts.SecurityToken) || strings.Contains(err.Error(), "Signature=") {
			t.Errorf("the error carries a secret: %v", err)
		}
	}
}

// TestTagPagesGoRound: ListTagResources tokens that come round again (t1, t2, t1) make
// the page an InvalidResponse at the first repeat, rather than a listing that goes round
// (or, as before, one that stopped only at a token repeated at once and took the tags
// of the pages it went through twice).
func TestTagPagesGoRound(t *testing.T) {
	tag := func(next, key string) answer {
		return answer{200, `{"RequestId":"r","NextToken":"` + next + `","TagResources":[{"ResourceId":"i-a","ResourceType":"instance","TagKey":"` + key + `","TagValue":"v"}]}`}
	}
	f := newFake(t,
		answer{200, `{"RequestId":"r","Code":0,"TotalCount":1,"Instances":{"Instance":[{"InstanceId":"i-a","Status":"Stopped","KeyPairName":"ops-2026"}]}}`},
		tag("t1", "a"), tag("t2", "b"), tag("t1", "c"), tag("", "d"),
	)
	p, err := f.client(t).DescribeInstances(context.Background(), detach.InstanceQuery{PageSize: 50})
	var ce *detach.CloudError
	if !errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse || !strings.Contains(ce.Message, "NextToken") {
		t.Errorf("DescribeInstances: %+v, %v; want InvalidResponse naming the NextToken", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 4 {
		t.Errorf("%d calls, want 4 (DescribeInstances, ListTagResources until the token came again)", len(f.requests))
	}
}

func TestLimits(t *testing.T) {
	c, err := ens.New(ens.Config{Credentials: sts})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Limits(), (detach.Limits{Product: detach.ProductENS, KeyPairPage: 50, DescribeIDs: 50, Batch: 30, InstanceTags: true, EmptyTagsUnclear: true, DetachByID: true}); got != want {
		t.Errorf("Limits %+v, want %+v", got, want)
	}
}
