// Package redacttest helps test that secrets stay secret: fake credentials shaped like
// Alibaba Cloud's, and a check that no piece of them shows in what the function
// outputs, in any encoding a request may carry them.
package redacttest

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strings"
)

// Token returns a fake STS security token shaped like a real one: "CAIS" and about 270
// characters of base64, with '+', '/' and '=' in it. The same seed gives the same token.
func Token(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	for {
		b := make([]byte, 200)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		t := "CAIS" + base64.StdEncoding.EncodeToString(b)
		if strings.Contains(t, "+") && strings.Contains(t, "/") {
			return t
		}
	}
}

// Secret returns a fake AccessKey secret shaped like a real one: 30 letters and digits.
func Secret(seed uint64) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, 30)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// Piece is the length of the shortest piece of a secret that Leaks reports.
const Piece = 16

// Leaks returns the pieces of Piece characters of the secrets that out holds, raw or
// URL-encoded once or twice (in any case, so lower-case hex too), at most one per
// secret and form.
func Leaks(out string, secrets ...string) []string {
	var found []string
	out = strings.ToLower(out)
	for _, s := range secrets {
		once := url.QueryEscape(s)
		for _, form := range []string{s, once, url.QueryEscape(once)} {
			form = strings.ToLower(form)
			for i := 0; i+Piece <= len(form); i++ {
				if w := form[i : i+Piece]; strings.Contains(out, w) {
					found = append(found, w)
					break
				}
			}
		}
	}
	return found
}
