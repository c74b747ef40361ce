package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Credential is an AccessKey pair that the emulator accepts. When
// SecurityToken is set (an STS credential, whose id conventionally starts with
// "STS."), requests signed with it must carry exactly that token.
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// The local credential that the emulator accepts when Config.Credentials is
// empty. It is not a real key: it only opens the emulator.
const (
	DefaultAccessKeyID     = "LTAI5tEmulatorLocalKey01"
	DefaultAccessKeySecret = "EmulatorLocalSecret0000000000001"
)

// maxClockSkew is how far a request's timestamp may be from the emulator's
// clock, as in the cloud.
const maxClockSkew = 15 * time.Minute

// nonceStore remembers the signature nonces seen in the last maxClockSkew, so
// that a replayed request is refused with SignatureNonceUsed as in the cloud.
type nonceStore struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// use records a nonce and reports whether it was new.
func (n *nonceStore) use(key string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil {
		n.seen = map[string]time.Time{}
	}
	if len(n.seen) > 4096 {
		for k, t := range n.seen {
			if now.Sub(t) > maxClockSkew {
				delete(n.seen, k)
			}
		}
	}
	if t, ok := n.seen[key]; ok && now.Sub(t) <= maxClockSkew {
		return false
	}
	n.seen[key] = now
	return true
}

// authECS checks the signature of an OpenAPI (ECS) request. It accepts the
// V3 signature ("ACS3-HMAC-SHA256" in the Authorization header, what the Go
// SDK sends by default) and the RPC signature (HMAC-SHA1 in the Signature
// parameter, what the SDK sends with SignatureAlgorithm "v2" and what the CLI
// sends). params are the query and form parameters together.
func (s *Server) authECS(r *http.Request, params url.Values, body []byte) *apiError {
	authz := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, "ACS3-"):
		return s.authACS3(r, authz, body)
	case params.Has("Signature"):
		return s.authRPC(r, params)
	case authz != "":
		return errIncompleteSig
	}
	return errMissingSignature
}

// authACS3 verifies the V3 signature, recomputing the canonical request the
// way darabonba-openapi's GetAuthorization builds it.
func (s *Server) authACS3(r *http.Request, authz string, body []byte) *apiError {
	alg, rest, _ := strings.Cut(authz, " ")
	if alg != "ACS3-HMAC-SHA256" {
		return errSignatureMethod
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return errIncompleteSig
		}
		fields[k] = v
	}
	keyID, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if keyID == "" || signedHeaders == "" || signature == "" {
		return errIncompleteSig
	}
	cred, ok := s.credentials[keyID]
	if !ok {
		return errKeyNotFound
	}
	if e := s.checkTimestamp(r.Header.Get("x-acs-date"), time.RFC3339); e != nil {
		return e
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	if nonce == "" {
		return errMissingNonce
	}

	payload := sha256.Sum256(body)
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(acs3Path(r.URL.Path) + "\n")
	canon.WriteString(acs3Query(r.URL.Query()) + "\n")
	names := strings.Split(signedHeaders, ";")
	for _, name := range names {
		var vals []string
		if name == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(name) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		canon.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n" + hex.EncodeToString(payload[:]))
	hashed := sha256.Sum256([]byte(canon.String()))
	toSign := alg + "\n" + hex.EncodeToString(hashed[:])
	mac := hmac.New(sha256.New, []byte(cred.AccessKeySecret))
	mac.Write([]byte(toSign))
	if !equal(hex.EncodeToString(mac.Sum(nil)), strings.ToLower(signature)) {
		return errSignatureMismatch
	}
	if e := checkToken(cred, r.Header.Get("x-acs-security-token")); e != nil {
		return e
	}
	if !s.nonces.use(keyID+"/"+nonce, s.now()) {
		return errNonceUsed
	}
	return nil
}

// acs3Path is the canonical URI of the V3 signature.
func acs3Path(p string) string {
	if p == "" {
		p = "/"
	}
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(p)
}

// acs3Query is the canonical query string of the V3 signature: keys sorted
// bytewise and left as they are, values percent-encoded.
func acs3Query(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+percentEncode(q.Get(k)))
	}
	return strings.Join(parts, "&")
}

// percentEncode is the RFC 3986 encoding that Alibaba Cloud signatures use.
func percentEncode(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
}

// authRPC verifies the RPC (V2) signature: HMAC-SHA1 over
// METHOD&%2F&encode(sorted, encoded parameters), keyed with secret+"&".
func (s *Server) authRPC(r *http.Request, params url.Values) *apiError {
	keyID := params.Get("AccessKeyId")
	if keyID == "" {
		return errMissingAccessKey
	}
	if params.Get("SignatureMethod") != "HMAC-SHA1" {
		return errSignatureMethod
	}
	if v := params.Get("SignatureVersion"); v != "1.0" {
		return errorf(http.StatusBadRequest, "InvalidSignatureVersion", "Specified signature version is not valid.")
	}
	cred, ok := s.credentials[keyID]
	if !ok {
		return errKeyNotFound
	}
	if e := s.checkTimestamp(params.Get("Timestamp"), time.RFC3339); e != nil {
		return e
	}
	nonce := params.Get("SignatureNonce")
	if nonce == "" {
		return errMissingNonce
	}
	signed := url.Values{}
	for k, v := range params {
		if k != "Signature" {
			signed[k] = v
		}
	}
	canonical := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(signed.Encode())
	toSign := r.Method + "&%2F&" + url.QueryEscape(canonical)
	mac := hmac.New(sha1.New, []byte(cred.AccessKeySecret+"&"))
	mac.Write([]byte(toSign))
	if !equal(base64.StdEncoding.EncodeToString(mac.Sum(nil)), params.Get("Signature")) {
		return errSignatureMismatch
	}
	if e := checkToken(cred, params.Get("SecurityToken")); e != nil {
		return e
	}
	if !s.nonces.use(keyID+"/"+nonce, s.now()) {
		return errNonceUsed
	}
	return nil
}

// authEventBridge verifies the signature of the EventBridge data plane, as
// eventbridge-util computes it: "Authorization: acs:<id>:<base64 HMAC-SHA1>"
// over METHOD\nContent-MD5\nContent-Type\nDate\n<x-acs-* headers><resource>.
func (s *Server) authEventBridge(r *http.Request) *apiError {
	authz := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(authz, "acs:")
	if !ok {
		rest, ok = strings.CutPrefix(authz, "acs ")
	}
	keyID, signature, found := strings.Cut(rest, ":")
	if !ok || !found || keyID == "" || signature == "" {
		return ebMissingAuth
	}
	cred, known := s.credentials[keyID]
	if !known {
		if strings.HasPrefix(keyID, "STS.") {
			return ebInvalidStsKey
		}
		return ebInvalidKey
	}
	if e := s.checkTimestamp(r.Header.Get("Date"), http.TimeFormat); e != nil {
		return ebError(e)
	}
	if m := r.Header.Get("x-acs-signature-method"); m != "" && m != "HMAC-SHA1" {
		return ebSignature
	}

	acs := map[string]string{}
	var names []string
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-acs") && len(v) > 0 {
			acs[lk] = v[0]
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	for _, n := range names {
		b.WriteString(n + ":" + acs[n] + "\n")
	}
	b.WriteString(r.URL.Path)
	if q := r.URL.Query(); len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			b.WriteString(sep + k + "=" + q.Get(k))
		}
	}
	mac := hmac.New(sha1.New, []byte(cred.AccessKeySecret))
	mac.Write([]byte(b.String()))
	if !equal(base64.StdEncoding.EncodeToString(mac.Sum(nil)), signature) {
		return ebSignature
	}
	if e := checkToken(cred, r.Header.Get("x-acs-security-token")); e != nil {
		return ebTokenInvalid
	}
	if nonce := r.Header.Get("x-acs-signature-nonce"); nonce != "" && !s.nonces.use(keyID+"/"+nonce, s.now()) {
		return errNonceUsed
	}
	return nil
}

// checkTimestamp checks that a request timestamp is present, well formed and
// within maxClockSkew of the emulator's clock.
func (s *Server) checkTimestamp(v, layout string) *apiError {
	if v == "" {
		return errMissingTimestamp
	}
	t, err := time.Parse(layout, v)
	if err != nil {
		return errTimestampFormat
	}
	if d := s.now().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return errTimestampExpired
	}
	return nil
}

// checkToken enforces the security token of an STS credential.
func checkToken(cred Credential, token string) *apiError {
	switch {
	case cred.SecurityToken == "":
		return nil
	case token == "":
		return errMissingToken
	case !equal(token, cred.SecurityToken):
		return errTokenMismatch
	}
	return nil
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
