package aliyun

import (
	"fmt"
	"regexp"
	"strings"
)

// codeShape is the shape of an error code: an upper-case letter first, so that a
// message such as "successful" is never taken for one.
var codeShape = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$`)

// ErrorCodeIn finds the error code in the message of one instance's result of a batch
// API (DetachKeyPair): the message itself when it is shaped like a code, else the first
// of known that it mentions; "" when there is none. ECS and ENS give per-instance
// results a message but no code field.
func ErrorCodeIn(message string, known []string) string {
	if codeShape.MatchString(message) {
		return message
	}
	for _, c := range known {
		if strings.Contains(message, c) {
			return c
		}
	}
	return ""
}

// FullPage reports a hollow page of an API that pages by number (PageNumber,
// PageSize): got entries on page number page (from 1) of size entries, when the
// answer's TotalCount leaves more for it. The error is an InvalidResponse: asking
// again may answer in full.
func FullPage(api string, got, total, page, size int) error {
	if want := min(total-(page-1)*size, size); got < want {
		return InvalidResponse(api, fmt.Sprintf("%d entries on page %d that should hold %d (TotalCount %d)", got, page, want, total))
	}
	return nil
}
