// Package sign verifies the request signatures of Alibaba Cloud's SDKs and
// CLI exactly as they compute them: the OpenAPI V3 signature
// (ACS3-HMAC-SHA256), the RPC signature (HMAC-SHA1) and EventBridge's data
// plane signature; with the cloud's checks of time stamps, nonces and STS
// tokens.
package sign

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"detachkeypair/emulator/internal/rpc"
)

// Credential is an AccessKey pair that the emulator accepts. When
// SecurityToken is set (an STS credential, whose id conventionally starts with
// "STS."), requests signed with it must carry exactly that token.
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

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

// Verifier checks signatures against a set of credentials. It is safe for
// concurrent use.
type Verifier struct {
	credentials map[string]Credential
	clock       func() time.Time
	nonces      nonceStore
}

// NewVerifier returns a verifier that accepts creds, with clock as the
// emulator's time.
func NewVerifier(creds []Credential, clock func() time.Time) (*Verifier, error) {
	v := &Verifier{credentials: map[string]Credential{}, clock: clock}
	for _, c := range creds {
		if c.AccessKeyID == "" || c.AccessKeySecret == "" {
			return nil, errors.New("a credential needs AccessKeyID and AccessKeySecret")
		}
		v.credentials[c.AccessKeyID] = c
	}
	return v, nil
}

// POP checks the signature of a request to the OpenAPI (POP) gateway, which
// ECS and ENS sit behind. It accepts the V3 signature ("ACS3-HMAC-SHA256" in
// the Authorization header, what the Go SDK sends by default) and the RPC
// signature (HMAC-SHA1 in the Signature parameter, what the SDK sends with
// SignatureAlgorithm "v2" and what the CLI sends). params are the query and
// form parameters together.
func (v *Verifier) POP(r *http.Request, params url.Values, body []byte) *rpc.Error {
	authz := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, "ACS3-"):
		return v.authACS3(r, authz, body)
	case params.Has("Signature"):
		return v.authRPC(r, params)
	case authz != "":
		return ErrIncompleteSig
	}
	return ErrMissingSignature
}

// authACS3 verifies the V3 signature, recomputing the canonical request the
// way darabonba-openapi's GetAuthorization builds it.
func (v *Verifier) authACS3(r *http.Request, authz string, body []byte) *rpc.Error {
	alg, rest, _ := strings.Cut(authz, " ")
	if alg != "ACS3-HMAC-SHA256" {
		return ErrSignatureMethod
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrIncompleteSig
		}
		fields[k] = v
	}
	keyID, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if keyID == "" || signedHeaders == "" || signature == "" {
		return ErrIncompleteSig
	}
	cred, ok := v.credentials[keyID]
	if !ok {
		return ErrKeyNotFound
	}
	if e := v.checkTimestamp(r.Header.Get("x-acs-date"), time.RFC3339); e != nil {
		return e
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	if nonce == "" {
		return ErrMissingNonce
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
		return mismatch("Specified signature does not match our calculation. server StringToSign is [" + toSign +
			"] server CanonicalRequest is [" + canon.String() + "]")
	}
	if e := checkToken(cred, r.Header.Get("x-acs-security-token")); e != nil {
		return e
	}
	if !v.nonces.use(keyID+"/"+nonce, v.clock()) {
		return ErrNonceUsed
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
func (v *Verifier) authRPC(r *http.Request, params url.Values) *rpc.Error {
	keyID := params.Get("AccessKeyId")
	if keyID == "" {
		return ErrMissingAccessKey
	}
	if params.Get("SignatureMethod") != "HMAC-SHA1" {
		return ErrSignatureMethod
	}
	if v := params.Get("SignatureVersion"); v != "1.0" {
		return rpc.Errorf(http.StatusBadRequest, "InvalidSignatureVersion", "Specified signature version is not valid.")
	}
	cred, ok := v.credentials[keyID]
	if !ok {
		return ErrKeyNotFound
	}
	if e := v.checkTimestamp(params.Get("Timestamp"), time.RFC3339); e != nil {
		return e
	}
	nonce := params.Get("SignatureNonce")
	if nonce == "" {
		return ErrMissingNonce
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
		return mismatch(rpcMismatchPrefix + toSign)
	}
	if e := checkToken(cred, params.Get("SecurityToken")); e != nil {
		return e
	}
	if !v.nonces.use(keyID+"/"+nonce, v.clock()) {
		return ErrNonceUsed
	}
	return nil
}

// EventBridge verifies the signature of the EventBridge data plane, as
// eventbridge-util computes it: "Authorization: acs:<id>:<base64 HMAC-SHA1>"
// over METHOD\nContent-MD5\nContent-Type\nDate\n<x-acs-* headers><resource>.
func (v *Verifier) EventBridge(r *http.Request) *rpc.Error {
	authz := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(authz, "acs:")
	if !ok {
		rest, ok = strings.CutPrefix(authz, "acs ")
	}
	keyID, signature, found := strings.Cut(rest, ":")
	if !ok || !found || keyID == "" || signature == "" {
		return ErrMissingSignature
	}
	cred, known := v.credentials[keyID]
	if !known {
		if strings.HasPrefix(keyID, "STS.") {
			return ErrSTSKeyNotFound
		}
		return ErrKeyNotFound
	}
	if e := v.checkTimestamp(r.Header.Get("Date"), http.TimeFormat); e != nil {
		return e
	}
	if m := r.Header.Get("x-acs-signature-method"); m != "" && m != "HMAC-SHA1" {
		return ErrSignatureMethod
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
		return ErrSignatureMismatch
	}
	if e := checkToken(cred, r.Header.Get("x-acs-security-token")); e != nil {
		return e
	}
	if nonce := r.Header.Get("x-acs-signature-nonce"); nonce != "" && !v.nonces.use(keyID+"/"+nonce, v.clock()) {
		return ErrNonceUsed
	}
	return nil
}

// checkTimestamp checks that a request timestamp is present, well formed and
// within maxClockSkew of the emulator's clock.
func (v *Verifier) checkTimestamp(value, layout string) *rpc.Error {
	if value == "" {
		return ErrMissingTimestamp
	}
	t, err := time.Parse(layout, value)
	if err != nil {
		return ErrTimestampFormat
	}
	if d := v.clock().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return ErrTimestampExpired
	}
	return nil
}

// checkToken enforces the security token of an STS credential.
func checkToken(cred Credential, token string) *rpc.Error {
	switch {
	case cred.SecurityToken == "":
		return nil
	case token == "":
		return ErrMissingToken
	case !equal(token, cred.SecurityToken):
		return ErrTokenMismatch
	}
	return nil
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// rpcMismatchPrefix starts the gateway's SignatureDoesNotMatch message for
// the RPC signature; the string to sign the gateway computed follows it
// (aliyun/alibaba-cloud-sdk-go sdk/errors/signature_does_not_match_wrapper.go
// compares it with its own).
const rpcMismatchPrefix = "Specified signature is not matched with our calculation. server string to sign is:"

// mismatch is the gateway's SignatureDoesNotMatch answer. Its message
// echoes what the gateway computed from the request, as the gateway does:
// the string to sign (RPC) or the canonical request and string to sign
// (V3). Both hold the request's parameters and signed headers, among them
// the AccessKeyId and any SecurityToken: a client must not log the message
// as it is.
func mismatch(message string) *rpc.Error {
	return &rpc.Error{Status: http.StatusBadRequest, Code: ErrSignatureMismatch.Code, Message: message}
}

// Errors of the signature checks, with the statuses and messages of the
// OpenAPI gateway; EventBridge answers its own codes for them (see
// emulator/eventbridge).
var (
	ErrMissingSignature  = &rpc.Error{Status: http.StatusBadRequest, Code: "MissingSignature", Message: "Signature is mandatory for this action."}
	ErrIncompleteSig     = &rpc.Error{Status: http.StatusBadRequest, Code: "IncompleteSignature", Message: "The request signature does not conform to Aliyun standards."}
	ErrSignatureMismatch = &rpc.Error{Status: http.StatusBadRequest, Code: "SignatureDoesNotMatch", Message: "Specified signature is not matched with our calculation."} // EventBridge's check; the gateway's: mismatch
	ErrSignatureMethod   = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidSignatureMethod", Message: "Specified signature method is not valid."}
	ErrKeyNotFound       = &rpc.Error{Status: http.StatusNotFound, Code: "InvalidAccessKeyId.NotFound", Message: "Specified access key is not found."}
	ErrSTSKeyNotFound    = &rpc.Error{Status: http.StatusNotFound, Code: "InvalidAccessKeyId.NotFound", Message: "Specified access key is not found."}
	ErrMissingAccessKey  = &rpc.Error{Status: http.StatusBadRequest, Code: "MissingAccessKeyId", Message: "AccessKeyId is mandatory for this action."}
	ErrMissingTimestamp  = &rpc.Error{Status: http.StatusBadRequest, Code: "MissingTimestamp", Message: "Timestamp is mandatory for this action."}
	ErrTimestampFormat   = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidTimeStamp.Format", Message: "Specified time stamp or date value is not well formatted."}
	ErrTimestampExpired  = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidTimeStamp.Expired", Message: "Specified time stamp or date value is expired."}
	ErrMissingNonce      = &rpc.Error{Status: http.StatusBadRequest, Code: "MissingSignatureNonce", Message: "SignatureNonce is mandatory for this action."}
	ErrNonceUsed         = &rpc.Error{Status: http.StatusBadRequest, Code: "SignatureNonceUsed", Message: "Specified signature nonce was used already."}
	ErrMissingToken      = &rpc.Error{Status: http.StatusBadRequest, Code: "MissingSecurityToken", Message: "SecurityToken is mandatory for this action."}
	ErrTokenMismatch     = &rpc.Error{Status: http.StatusBadRequest, Code: "InvalidSecurityToken.MismatchWithAccessKey", Message: "Specified SecurityToken mismatch with the AccessKey."}
)
