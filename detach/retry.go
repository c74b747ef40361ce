package detach

import (
	"context"
	"fmt"
)

// retryKey is the context key of the invocation's retry count.
type retryKey struct{}

// WithRetryCount returns a context that says the request is run again by a retry of its
// invocation (FC's x-fc-retry-count: 1 for the first retry, ...). An earlier attempt may
// have detached some of its instances, so on a retry an instance without a key pair is
// reported detached, and the key pair named by name no longer fails the whole request
// when an instance is not bound to it.
func WithRetryCount(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, retryKey{}, n)
}

func retryCountFrom(ctx context.Context) int {
	n, _ := ctx.Value(retryKey{}).(int)
	return n
}

// alreadyDetached is the message of an instance found without a key pair by retry n of
// the invocation.
func alreadyDetached(n int) string {
	return fmt.Sprintf("successful: already detached when retry %d of the invocation checked the instance (it has no key pair; e.g. an earlier attempt detached it)", n)
}
