package rpc

import (
	"fmt"
	"net/http"
)

// Error is an error answer: the HTTP status, the cloud's error code and its
// message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeDropped is the pseudo error code under which the counters count the
// requests whose connection was dropped by fault injection (no answer was
// sent).
const CodeDropped = "ConnectionDropped"

// Common errors of the OpenAPI (POP) gateway, with the statuses and messages
// it answers ECS callers with; services with their own codes translate them
// (Answer.Errs). Sources: emulator/README.md.
var (
	ErrThrottlingUser = &Error{http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control."}
	ErrForbiddenRAM   = &Error{http.StatusForbidden, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM."}
	ErrUnavailable    = &Error{http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."}
	ErrInternal       = &Error{http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error, exception or failure."}
)

// Missing is the gateway's answer to a mandatory parameter that is absent.
func Missing(name string) *Error {
	return Errorf(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

// Invalid is the answer to a parameter whose value cannot be used. Assumption
// (the codes of malformed values are not documented for every parameter): one
// code, 400 InvalidParameter, naming the parameter and the reason.
func Invalid(name, why string) *Error {
	return Errorf(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid: %s.", name, why)
}
