package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"detachkeypair/redact/redacttest"
)

// TestRedactorScrubsKnownSecrets: a Redactor told the secret and the token removes
// every piece of them, whatever the form and wherever it is, and keeps the rest.
func TestRedactorScrubsKnownSecrets(t *testing.T) {
	token, secret := redacttest.Token(1), redacttest.Secret(1)
	once, twice := url.QueryEscape(token), url.QueryEscape(url.QueryEscape(token))
	texts := map[string]string{
		"raw":                 token,
		"after SecurityToken": "keep SecurityToken=" + token + "&Signature=x keep",
		"once encoded":        "keep " + once + " keep",
		"twice encoded":       "keep SecurityToken%3D" + twice + "%26SignatureMethod%3DHMAC keep",
		"lower-case hex":      "keep " + lowerHex(twice) + " keep",
		"rpc escape":          "keep " + strings.ReplaceAll(once, "+", "%20") + " keep",
		"header line":         "keep\nx-acs-security-token:" + token + "\nhost:ecs keep",
		"json":                `keep {"SecurityToken":"` + strings.ReplaceAll(token, "/", `\/`) + `"} keep`,
		"base64":              "keep " + base64.StdEncoding.EncodeToString([]byte(token)) + " keep",
		"a piece cut short":   "keep ..." + token[37:37+redacttest.Piece+3] + "... keep",
		"a piece, encoded":    "keep ..." + twice[50:50+redacttest.Piece+5] + "... keep",
		"the secret":          "keep secret=" + secret + " and " + url.QueryEscape(secret) + " keep",
		"both, glued":         "keep " + secret + token + " keep",
	}
	r := New(secret, token)
	for name, text := range texts {
		out := r.Redact(text)
		if leaks := redacttest.Leaks(out, token, secret); len(leaks) > 0 {
			t.Errorf("%s: %q left in %q", name, leaks, out)
		}
		if strings.Contains(text, "keep") && (!strings.HasPrefix(out, "keep") || !strings.HasSuffix(out, "keep")) {
			t.Errorf("%s: redacted too much: %q", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: nothing says what was taken out: %q", name, out)
		}
		if r.Redact(text) != out {
			t.Errorf("%s: a second redaction differs", name)
		}
	}
}

// TestRedactPatterns: without being told the secrets, Text still removes a token
// (and signatures) after the names that announce them, in any encoding, and a bare STS
// token; it keeps what follows.
func TestRedactPatterns(t *testing.T) {
	token := redacttest.Token(2)
	once, twice := url.QueryEscape(token), url.QueryEscape(url.QueryEscape(token))
	for name, text := range map[string]string{
		"SecurityToken=":         "GET /?AccessKeyId=STS.x&SecurityToken=" + once + "&Timestamp=2026 keep",
		"string to sign (RPC)":   "server string to sign is:POST&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3D" + twice + "%26SignatureMethod%3DHMAC-SHA1 keep",
		"security-token=":        "security-token=" + token + " keep",
		"x-acs-security-token:":  "x-acs-security-token:" + token + "\nx-acs-signature-nonce:1 keep",
		"x-acs-security-token: ": `"x-acs-security-token": "` + token + `" keep`,
		"bare":                   "the token " + token + " is malformed keep",
		"bare, encoded":          "the token " + twice + " is malformed keep",
		"URL":                    `Post "https://ecs.aliyuncs.com/?SecurityToken=` + once + `": EOF keep`,
	} {
		out := Text(text)
		if leaks := redacttest.Leaks(out, token); len(leaks) > 0 {
			t.Errorf("%s: %q left in %q", name, leaks, out)
		}
		if !strings.HasSuffix(out, "keep") {
			t.Errorf("%s: redacted too much: %q", name, out)
		}
	}
	in := `authorization: acs3-HMAC-SHA256 Credential=LTAI5tKey,SignedHeaders=host,Signature=abc123def; Signature=sig4%3D keep`
	if out := Text(in); strings.Contains(out, "LTAI5tKey") || strings.Contains(out, "abc123def") || strings.Contains(out, "sig4") || !strings.HasSuffix(out, "keep") {
		t.Errorf("signatures: %q", out)
	}
}

// TestTextRequestEcho: Text removes the signature and the tokens of an echoed request
// (its URL's query, its headers, its string to sign) and keeps the rest.
func TestTextRequestEcho(t *testing.T) {
	in := `Post "http://127.0.0.1:8300/?AccessKeyId=STS.x&Signature=abc%3D&SecurityToken=CAIStoken": EOF; authorization: acs3 sig; x-acs-security-token=CAIS2; string to sign is:POST&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3DCAIS3%26Signature%3Dsig4`
	out := Text(in)
	for _, secret := range []string{"abc%3D", "CAIStoken", "CAIS2", "acs3 sig", "CAIS3", "sig4"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q still in %q", secret, out)
		}
	}
	if !strings.Contains(out, "http://127.0.0.1:8300/") || !strings.Contains(out, "EOF") {
		t.Errorf("redacted too much: %q", out)
	}
}
