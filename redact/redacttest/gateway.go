package redacttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
)

// EchoStyles are the ways NewGateway's answers echo what was signed: as the canonical
// request (or string to sign) is, on one line (no cut at a line break hides the rest),
// URL-encoded, or just the security token.
var EchoStyles = []string{"canonical", "one line", "URL-encoded", "bare token"}

// NewGateway starts a fake Alibaba Cloud gateway in front of target (the emulator's
// URL, asked at each request). It passes every request on, except the calls of one
// API (ECS: by its x-acs-action header; or PutEvents), which it answers as the gateway
// answers a signature it cannot verify, echoing what was signed in one of EchoStyles:
// for ECS (ACS3) the canonical request, with its x-acs-security-token line; for
// EventBridge the string to sign, with the same header. The real gateway's text is not
// documented; these are harsher assumptions (the whole token). Close it when done.
func NewGateway(target func() string, api, style string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isEB := r.URL.Path == "/openapi/putEvents"
		if !(isEB && api == "PutEvents" || !isEB && r.Header.Get("x-acs-action") == api) {
			u, err := url.Parse(target())
			if err != nil {
				http.Error(w, "no target", http.StatusBadGateway)
				return
			}
			httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
			return
		}
		signed := CanonicalRequest(r)
		if isEB {
			signed = EventBridgeStringToSign(r)
		}
		switch style {
		case "one line":
			signed = strings.ReplaceAll(signed, "\n", " ")
		case "URL-encoded":
			signed = url.QueryEscape(signed)
		case "bare token":
			signed = "(the security token " + r.Header.Get("x-acs-security-token") + " is not valid)"
		}
		w.Header().Set("Content-Type", "application/json")
		if isEB {
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"requestId": "R-EB", "code": "SignatureDoesNotMatch", "success": false,
				"message": "The request signature we calculated does not match the signature you provided. string to sign is:" + signed})
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"RequestId": "R-ECS", "HostId": r.Host, "Code": "SignatureDoesNotMatch",
			"Message": "The request signature does not conform to Aliyun standards. server canonical request is:" + signed})
	}))
}

// CanonicalRequest is the ACS3 canonical request of r: method, path, query, the signed
// headers, their names, the payload's hash.
func CanonicalRequest(r *http.Request) string {
	var signed []string
	for _, part := range strings.Split(r.Header.Get("Authorization"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "SignedHeaders="); ok {
			signed = strings.Split(v, ";")
		}
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.URL.Path + "\n" + r.URL.RawQuery + "\n")
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		b.WriteString(h + ":" + v + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + r.Header.Get("x-acs-content-sha256"))
	return b.String()
}

// EventBridgeStringToSign is what EventBridge signs: method, Content-MD5, Content-Type,
// Date, the x-acs-* headers, the path.
func EventBridgeStringToSign(r *http.Request) string {
	var names []string
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-acs") {
			names = append(names, strings.ToLower(k))
		}
	}
	sort.Strings(names)
	s := r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n"
	for _, n := range names {
		s += n + ":" + r.Header.Get(n) + "\n"
	}
	return s + r.URL.Path
}

// RPCStringToSign is what the RPC (v2) signature signs, as the gateway echoes it:
// METHOD&%2F&<the sorted query, URL-encoded again> — the security token twice encoded.
func RPCStringToSign(r *http.Request) string {
	r.ParseForm()
	keys := make([]string, 0, len(r.Form))
	for k := range r.Form {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, rpcEncode(k)+"="+rpcEncode(r.Form.Get(k)))
	}
	return r.Method + "&%2F&" + rpcEncode(strings.Join(pairs, "&"))
}

func rpcEncode(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
}
