package fcruntime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewRequestID makes a request id in FC 3.0's form: "1-", the time in hex
// seconds, then 8 and 12 random hex digits, e.g. 1-65ddae0a-12245c4f-517e4d57f6f1.
// Invocation.RequestID takes one when the caller needs the id beforehand (an
// HTTP trigger event carries it in requestContext.requestId).
func NewRequestID() string { return newID("1") }

func newRequestID() string { return NewRequestID() }

// newInstanceID makes an instance id in FC 3.0's form,
// e.g. c-65ddafab-123e0897-d8db655765ad.
func newInstanceID() string { return newID("c") }

func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%08x-%s-%s", prefix, uint32(time.Now().Unix()), hex.EncodeToString(b[:4]), hex.EncodeToString(b[4:]))
}
