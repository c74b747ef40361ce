package detach

import (
	"fmt"
	"net/http"
)

// Guards of the listings the function pages through, against a cloud whose answers
// would keep it paging: tokens that come round again, pages that stay empty, page
// numbers that never end. Such a listing fails as the cloud's invalid answer
// (InvalidResponse, a 503 ServiceUnavailable for the request) rather than loop until
// the deadline, or forever where there is none.

// maxKeyPairPages bounds the pages of key pairs the function reads to resolve one: 50,000
// key pairs at 50 a page, far more than a region or ENS holds (ECS allows 500 a region).
const maxKeyPairPages = 1000

// tokenPages guards a listing paged by NextToken. An empty page that still carries a
// token is gone past (the cloud may filter after paging), but two in a row end the
// listing as invalid; so does a token the listing was given before. The zero value is
// ready; a listing that starts again from the start takes a new one.
type tokenPages struct {
	seen  map[string]bool
	empty int // empty pages in a row that carried a token
}

// next reports whether the listing goes on after a page of n instances that carried
// token, or the error that ends it as invalid.
func (g *tokenPages) next(api, token string, n int) (bool, *Error) {
	if token == "" {
		return false, nil
	}
	if g.seen[token] {
		return false, invalidListing(api, "a NextToken came again, so the listing would go round")
	}
	if n == 0 {
		g.empty++
		if g.empty >= 2 {
			return false, invalidListing(api, "two pages in a row were empty but carried a NextToken")
		}
	} else {
		g.empty = 0
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	g.seen[token] = true
	return true, nil
}

// invalidListing is the request-level error of a listing whose pages cannot be gone
// through.
func invalidListing(api, why string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
		Message: fmt.Sprintf("%s: the cloud's pages cannot be gone through (%s: %s); try again later", api, CodeInvalidResponse, why)}
}
