package emulator_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

// TestSignatureStyles checks that the two SDK styles really send the two
// signatures the emulator verifies.
func TestSignatureStyles(t *testing.T) {
	srv, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-HMAC-SHA256 "):
			seen = append(seen, "ACS3")
		case r.URL.Query().Get("SignatureMethod") == "HMAC-SHA1" && r.URL.Query().Get("Signature") != "":
			seen = append(seen, "RPC-v2")
		default:
			seen = append(seen, "?")
		}
		mu.Unlock()
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	endpoint := strings.TrimPrefix(ts.URL, "http://")
	for _, st := range styles {
		c := ecsClient(t, srv, st.opt, func(c *openapiConfig) { c.Endpoint = tea.String(endpoint) })
		if _, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	if strings.Join(seen, ",") != "ACS3,RPC-v2" {
		t.Fatalf("signatures sent: %v", seen)
	}
}

func TestAuthenticationErrors(t *testing.T) {
	srv := start(t, emulator.Config{Credentials: []emulator.Credential{
		{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret},
		{AccessKeyID: stsID, AccessKeySecret: stsKey, SecurityToken: stsTok},
	}})
	req := &ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			srv.ResetCounters()
			_, err := ecsClient(t, srv, st.opt, withKey("LTAI5tNoSuchKey00000000", emulator.DefaultAccessKeySecret, "")).DescribeKeyPairs(req)
			wantError(t, err, "InvalidAccessKeyId.NotFound", 404)
			_, err = ecsClient(t, srv, st.opt, withKey(emulator.DefaultAccessKeyID, "WrongSecret", "")).DescribeKeyPairs(req)
			wantError(t, err, "SignatureDoesNotMatch", 400)

			// STS: the token must come with the STS key, and be its own.
			if _, err := ecsClient(t, srv, st.opt, withKey(stsID, stsKey, stsTok)).DescribeKeyPairs(req); err != nil {
				t.Fatalf("STS call: %v", err)
			}
			_, err = ecsClient(t, srv, st.opt, withKey(stsID, stsKey, stsTok+"x")).DescribeKeyPairs(req)
			wantError(t, err, "InvalidSecurityToken.MismatchWithAccessKey", 400)
			_, err = ecsClient(t, srv, st.opt, withKey(stsID, stsKey, "")).DescribeKeyPairs(req)
			wantError(t, err, "MissingSecurityToken", 400)
			// A token with a plain AccessKey is ignored, as it is signed along.
			if _, err := ecsClient(t, srv, st.opt, withKey(emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "whatever")).DescribeKeyPairs(req); err != nil {
				t.Fatalf("AK with a token: %v", err)
			}

			// Refused requests still reached the API.
			if srv.Calls("DescribeKeyPairs") != 6 || srv.Answered("DescribeKeyPairs", "") != 2 || srv.Answered("DescribeKeyPairs", "SignatureDoesNotMatch") != 1 {
				t.Errorf("calls %d, ok %d", srv.Calls("DescribeKeyPairs"), srv.Answered("DescribeKeyPairs", ""))
			}
		})
	}
}

// TestClockSkew moves the emulator's clock 20 minutes ahead: the SDK's
// timestamps are then stale.
func TestClockSkew(t *testing.T) {
	srv := start(t, emulator.Config{Clock: func() time.Time { return time.Now().Add(20 * time.Minute) }})
	for _, st := range styles {
		_, err := ecsClient(t, srv, st.opt).DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
		wantError(t, err, "InvalidTimeStamp.Expired", 400)
	}
	srv = start(t, emulator.Config{Clock: func() time.Time { return time.Now().Add(-14 * time.Minute) }})
	if _, err := ecsClient(t, srv).DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil {
		t.Fatalf("14 minutes of skew are allowed: %v", err)
	}
}

// percent is RFC 3986 encoding as the RPC signature specifies it, written
// independently of the emulator's.
func percent(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// rpcRequest crafts a signed RPC request by hand, the way the aliyun CLI
// and the older SDKs send them (GET, parameters in the query).
func rpcRequest(t *testing.T, srv *emulator.Server, params map[string]string, secret string, ts time.Time, nonce string) *http.Request {
	return rpcRequestMethod(t, srv, http.MethodGet, params, secret, ts, nonce)
}

// rpcRequestMethod is rpcRequest with a method; a POST carries the
// parameters in a form body.
func rpcRequestMethod(t *testing.T, srv *emulator.Server, method string, params map[string]string, secret string, ts time.Time, nonce string) *http.Request {
	t.Helper()
	p := map[string]string{
		"Format": "JSON", "Version": "2014-05-26", "AccessKeyId": emulator.DefaultAccessKeyID,
		"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": nonce,
		"Timestamp": ts.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for k, v := range params {
		p[k] = v
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, percent(k)+"="+percent(p[k]))
	}
	query := strings.Join(pairs, "&")
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(method + "&" + percent("/") + "&" + percent(query)))
	query += "&Signature=" + percent(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	if method == http.MethodPost {
		r, err := http.NewRequest(method, srv.URL()+"/", strings.NewReader(query))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	r, err := http.NewRequest(method, srv.URL()+"/?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ecsErrorBody is the error body of the OpenAPI gateway.
type ecsErrorBody struct{ RequestId, HostId, Code, Message, Recommend string }

func do(t *testing.T, r *http.Request) (int, ecsErrorBody, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(raw)
	var e ecsErrorBody
	json.Unmarshal(b, &e)
	return resp.StatusCode, e, raw
}

func TestHandCraftedRPC(t *testing.T) {
	srv := start(t, emulator.Config{})
	params := map[string]string{"Action": "DescribeInstances", "RegionId": hz, "InstanceIds": `["i-bp1d6tsvznfghy7y0001"]`}

	status, _, raw := do(t, rpcRequest(t, srv, params, emulator.DefaultAccessKeySecret, time.Now(), "nonce-1"))
	if status != 200 || raw["TotalCount"] != 1.0 {
		t.Fatalf("fresh request: %d %v", status, raw)
	}

	// The same nonce again is a replay.
	status, e, _ := do(t, rpcRequest(t, srv, params, emulator.DefaultAccessKeySecret, time.Now(), "nonce-1"))
	if status != 400 || e.Code != "SignatureNonceUsed" {
		t.Errorf("replay: %d %+v", status, e)
	}

	// Stale and future timestamps.
	for _, skew := range []time.Duration{-16 * time.Minute, 16 * time.Minute} {
		status, e, _ = do(t, rpcRequest(t, srv, params, emulator.DefaultAccessKeySecret, time.Now().Add(skew), "nonce-"+skew.String()))
		if status != 400 || e.Code != "InvalidTimeStamp.Expired" || e.RequestId == "" || e.HostId == "" || !strings.Contains(e.Recommend, "InvalidTimeStamp.Expired") {
			t.Errorf("skew %v: %d %+v", skew, status, e)
		}
	}

	// A parameter changed after signing.
	r := rpcRequest(t, srv, params, emulator.DefaultAccessKeySecret, time.Now(), "nonce-2")
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "RegionId=cn-hangzhou", "RegionId=cn-shanghai", 1)
	if status, e, _ = do(t, r); status != 400 || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("tampered: %d %+v", status, e)
	}

	// No signature at all; an unknown action; a wrong version.
	r, _ = http.NewRequest(http.MethodGet, srv.URL()+"/?Action=DescribeInstances&Version=2014-05-26&RegionId=cn-hangzhou", nil)
	if status, e, _ = do(t, r); status != 400 || e.Code != "MissingSignature" {
		t.Errorf("unsigned: %d %+v", status, e)
	}
	r = rpcRequest(t, srv, map[string]string{"Action": "DeleteInstance", "RegionId": hz}, emulator.DefaultAccessKeySecret, time.Now(), "nonce-3")
	if status, e, _ = do(t, r); status != 404 || e.Code != "InvalidAction.NotFound" {
		t.Errorf("unknown action: %d %+v", status, e)
	}
	r = rpcRequest(t, srv, map[string]string{"Action": "DescribeInstances", "RegionId": hz, "Version": "2016-03-14"}, emulator.DefaultAccessKeySecret, time.Now(), "nonce-4")
	if status, e, _ = do(t, r); status != 400 || e.Code != "InvalidVersion" {
		t.Errorf("wrong version: %d %+v", status, e)
	}

	// POST with the parameters in a form body, as the older SDKs send them.
	status, _, raw = do(t, rpcRequestMethod(t, srv, http.MethodPost, params, emulator.DefaultAccessKeySecret, time.Now(), "nonce-5"))
	if status != 200 || raw["TotalCount"] != 1.0 {
		t.Errorf("form POST: %d %v", status, raw)
	}
	// The signature covers the method.
	r = rpcRequest(t, srv, params, emulator.DefaultAccessKeySecret, time.Now(), "nonce-6")
	post, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(r.URL.RawQuery))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, e, _ = do(t, post); status != 400 || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("GET signature on a POST: %d %+v", status, e)
	}
}

// TestSignatureMismatchEcho: SignatureDoesNotMatch echoes what the gateway
// computed, as the gateway does: the RPC string to sign after "server string
// to sign is:", or the V3 string to sign and canonical request. The echo
// holds the AccessKeyId and the STS token (a client must redact it).
func TestSignatureMismatchEcho(t *testing.T) {
	srv := start(t, emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: stsID, AccessKeySecret: stsKey, SecurityToken: stsTok}}})
	req := &ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}

	_, err := ecsClient(t, srv, styles[1].opt, withKey(stsID, "WrongSecret", stsTok)).DescribeKeyPairs(req)
	wantError(t, err, "SignatureDoesNotMatch", 400)
	const rpcPrefix = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&"
	msg := err.Error()
	if !strings.Contains(msg, rpcPrefix+"AccessKeyId%3D"+url.QueryEscape(stsID)) || !strings.Contains(msg, "SecurityToken%3D"+url.QueryEscape(url.QueryEscape(stsTok))) {
		t.Errorf("RPC echo: %s", msg)
	}

	_, err = ecsClient(t, srv, withKey(stsID, "WrongSecret", stsTok)).DescribeKeyPairs(req)
	wantError(t, err, "SignatureDoesNotMatch", 400)
	msg = err.Error()
	for _, want := range []string{
		"Specified signature does not match our calculation. server StringToSign is [ACS3-HMAC-SHA256\n",
		"] server CanonicalRequest is [POST\n/\nRegionId=cn-hangzhou\n", "x-acs-action:DescribeKeyPairs\n",
		"x-acs-security-token:" + stsTok + "\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("ACS3 echo lacks %q: %s", want, msg)
		}
	}
}
