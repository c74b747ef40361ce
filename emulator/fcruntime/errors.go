package fcruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrorTypeUnhandled is the X-Fc-Error-Type FC sets on the answer of an
// invocation that failed in the Go runtime, whatever the cause.
const ErrorTypeUnhandled = "UnhandledInvocationError"

// ErrClosed is returned by Invoke, InvokeAsync and Drain once the Runner is
// closed.
var ErrClosed = errors.New("fcruntime: runner closed")

// CodeResourceExhausted is the error code of FC's answer to an invocation
// refused because the function's instances are all busy (HTTP 429). See the
// package documentation for the source.
const CodeResourceExhausted = "ResourceExhausted"

// ServiceError is an error FC itself answers InvokeFunction with, before the
// function runs: an HTTP status and FC's {"errorCode","errorMessage"} body.
// Invoke returns one for a throttled invocation.
type ServiceError struct {
	StatusCode int    `json:"-"`
	Code       string `json:"errorCode"`
	Message    string `json:"errorMessage"`
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("fcruntime: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// throttled is FC's answer to a synchronous invocation past the function's
// instance limit. FC documents the status and the code, not the message: the
// message is this package's.
func throttled(function string, limit int) *ServiceError {
	return &ServiceError{
		StatusCode: http.StatusTooManyRequests,
		Code:       CodeResourceExhausted,
		Message:    fmt.Sprintf("function %s is throttled: its %d instances are all busy; retry later, or raise its instance limit", function, limit),
	}
}

// FunctionError is what the function reported (or the runner, for timeouts
// and crashes), in FC's JSON shape. FC's timeout and crash errors carry no
// errorType; use Result.Outcome to tell them apart.
type FunctionError struct {
	Type       string          `json:"errorType,omitempty"`
	Message    string          `json:"errorMessage"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// parseFunctionError reads the SDK's error body; a body that is not its
// JSON becomes the message.
func parseFunctionError(body []byte) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Message == "" && fe.Type == "") {
		return &FunctionError{Message: string(body)}
	}
	return &fe
}
