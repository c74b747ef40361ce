// Package redact keeps secrets out of what leaves the function (answers, log lines,
// events, error messages): a Redactor scrubs the secrets it is told of, in any form a
// request may carry them, and Text removes by pattern what looks secret. It knows no
// cloud SDK, so that the handler can use it without one.
package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redactor removes secrets from text that leaves the function: answers, log lines,
// events. It scrubs the values it was made with (an AccessKey secret, a security
// token) in every form a request or an echo of one may carry them: raw, URL-encoded
// once or twice (upper- or lower-case hex, '+' or %20 for a space), base64; and not
// only whole, but any piece of 16 characters or more, so that a message cut in the
// middle of a token does not leak the rest. After that it redacts by pattern what it
// was not told: see Text.
//
// A nil *Redactor redacts by pattern only. A Redactor is safe for concurrent use; it
// remembers what it redacted (up to a few thousand strings), so that the same message
// in many answers costs one scan.
type Redactor struct {
	forms  []string            // every form of every secret
	short  []string            // the forms shorter than a piece: found whole
	blocks map[string][]anchor // each 8-character block of a longer form, at offsets 0, 8, 16...

	mu   sync.Mutex
	memo map[string]string
}

// anchor is where a block is in a form.
type anchor struct {
	form, at int
}

// minSecret is the shortest value a Redactor scrubs: shorter ones would match words.
const minSecret = 8

// piece is the length from which a part of a secret is scrubbed; block is half of it.
const (
	piece = 16
	block = piece / 2
)

// New returns a Redactor for the given secret values; empty and short ones are
// ignored.
func New(secrets ...string) *Redactor {
	r := &Redactor{memo: map[string]string{}}
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		once := url.QueryEscape(s)
		for _, f := range []string{
			s, once, url.QueryEscape(once), url.PathEscape(s), rpcEscape(s), rpcEscape(rpcEscape(s)),
			strings.ReplaceAll(s, "/", `\/`), // in JSON from encoders that escape '/'
			base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
		} {
			r.forms = append(r.forms, f, lowerHex(f))
		}
	}
	slices.Sort(r.forms)
	r.forms = slices.Compact(r.forms)
	r.blocks = map[string][]anchor{}
	for i, f := range r.forms {
		if len(f) < piece {
			r.short = append(r.short, f)
			continue
		}
		for k := 0; k+block <= len(f); k += block {
			r.blocks[f[k:k+block]] = append(r.blocks[f[k:k+block]], anchor{i, k})
		}
	}
	return r
}

// Redact returns s without the Redactor's secrets, and without what Text removes.
func (r *Redactor) Redact(s string) string {
	if r == nil || len(r.forms) == 0 {
		return Text(s)
	}
	r.mu.Lock()
	out, ok := r.memo[s]
	r.mu.Unlock()
	if ok {
		return out
	}
	out = Text(r.scrub(s))
	r.mu.Lock()
	if len(r.memo) < 4096 {
		r.memo[s] = out
	}
	r.mu.Unlock()
	return out
}

// scrub replaces every piece of a known secret in s (any form, 16 characters or more,
// or a whole short one) with [redacted]. Any such piece holds one of its form's
// 8-character blocks at offsets 0, 8, 16...: each place in s that holds a block is
// stretched as far as s goes on matching the form around it.
func (r *Redactor) scrub(s string) string {
	var cut []span
	for _, f := range r.short {
		for i := 0; ; {
			j := strings.Index(s[i:], f)
			if j < 0 {
				break
			}
			cut = append(cut, span{i + j, i + j + len(f)})
			i += j + len(f)
		}
	}
	for p := 0; p+block <= len(s); p++ {
		for _, a := range r.blocks[s[p:p+block]] {
			f := r.forms[a.form]
			from, to := p, p+block
			for fk := a.at; from > 0 && fk > 0 && s[from-1] == f[fk-1]; fk-- {
				from--
			}
			for fk := a.at + block; to < len(s) && fk < len(f) && s[to] == f[fk]; fk++ {
				to++
			}
			if to-from >= piece {
				cut = append(cut, span{from, to})
			}
		}
	}
	if len(cut) == 0 {
		return s
	}
	slices.SortFunc(cut, func(a, b span) int { return a.from - b.from })
	var b strings.Builder
	at := 0
	for _, c := range cut {
		if c.to <= at {
			continue
		}
		if c.from >= at {
			b.WriteString(s[at:c.from])
			b.WriteString(redacted)
		}
		at = c.to
	}
	b.WriteString(s[at:])
	return b.String()
}

// span is a part of a string, from..to.
type span struct{ from, to int }

// rpcEscape encodes as Alibaba Cloud's RPC signature does: URL encoding with %20 for a
// space, %2A for '*', and '~' kept.
func rpcEscape(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
}

// lowerHex writes the %XX escapes of s in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

const redacted = "[redacted]"

// escape is one character of a value, raw or percent-encoded (at any depth), but not
// an encoded '&', which ends a value in a query; the last pair of hex digits is never
// 25 or 26, so that %2526 is not read as %25 followed by "26".
const escape = `(?:[^\s"'&,;%\\]|%(?:25)*(?:[013-9A-Fa-f][0-9A-Fa-f]|2[0-47-9A-Fa-f]))`

var (
	// urlQuery is the query of a URL: an RPC request's signature and token are in it.
	urlQuery = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)
	// secretParam is a value after a name that says it is secret: Signature=...,
	// SecurityToken%3D..., "x-acs-security-token":"...", authorization: acs ...
	secretParam = regexp.MustCompile(`(?i)(signature|securitytoken|security-token|security_token|accesskeysecret|access-key-secret|access_key_secret|authorization)` +
		`((?:\\?["'])?\s*(?:[:=]|%(?:25)*3D)\s*(?:\\?["'])?(?:acs3?[-\w]*\s+|Bearer\s+)?)` + escape + `+`)
	// stsToken is an Alibaba Cloud STS security token (they start with CAIS), bare.
	stsToken = regexp.MustCompile(`CAIS` + escape + `{20,}`)
)

// Text removes what looks secret from a message, for secrets no Redactor was told
// of: request URLs' queries, any value after a secret's name (Signature,
// SecurityToken, security-token, x-acs-security-token, AccessKeySecret, Authorization;
// after =, :, or an encoded =), and anything shaped like an STS token.
func Text(msg string) string {
	msg = urlQuery.ReplaceAllString(msg, "$1?"+redacted)
	msg = secretParam.ReplaceAllString(msg, "$1$2"+redacted)
	return stsToken.ReplaceAllString(msg, redacted)
}
