package detach

import (
	"fmt"
	"net/http"
)

// Result is the answer to a request that got past its checks: one entry per instance,
// in the order the request named them, and the counts.
type Result struct {
	RequestId    string           `json:"RequestId,omitempty"`
	KeyPairId    string           `json:"KeyPairId,omitempty"`
	KeyPairName  string           `json:"KeyPairName"`
	TotalCount   int              `json:"TotalCount"`
	FailCount    int              `json:"FailCount"`
	DryRun       bool             `json:"DryRun"`
	MatchedCount *int             `json:"MatchedCount,omitempty"`
	Truncated    *bool            `json:"Truncated,omitempty"`
	EventEmitted *bool            `json:"EventEmitted,omitempty"`
	Caller       *Caller          `json:"Caller,omitempty"`
	Results      []InstanceResult `json:"Results"`

	notStarted bool // nothing was started for lack of time (NotStarted)
}

// InstanceResult is the outcome for one instance. Code is an HTTP-like status: 200 when
// the key pair was detached (or, in a dry run, would be).
type InstanceResult struct {
	InstanceId string `json:"InstanceId"`
	Code       int    `json:"Code"`
	Success    bool   `json:"Success"`
	ErrorCode  string `json:"ErrorCode,omitempty"`
	Message    string `json:"Message"`
}

// Error codes of the contract, for whole requests and for single instances.
const (
	CodeInvalidParameter       = "InvalidParameter"
	CodeNotAttached            = "PublicKeyNotAttachWithInstance"
	CodeNoPermission           = "NoPermission"
	CodeKeyPairNotFound        = "InvalidKeyPair.NotFound"
	CodeRequestTooLarge        = "RequestTooLarge"
	CodeThrottling             = "Throttling"
	CodeServiceUnavailable     = "ServiceUnavailable"
	CodeInternalError          = "InternalError"
	CodeInstanceNotFound       = "InvalidInstanceId.NotFound"
	CodeIncorrectStatus        = "IncorrectInstanceStatus"
	CodeNotAttempted           = "NotAttempted"
	CodeDeadlineExceeded       = "DeadlineExceeded"
	MessageSuccessful          = "successful"
	MessageDryRun              = "dry run: would be detached"
	MessageDetachedEarlier     = "successful: an earlier attempt, whose answer was lost or unclear, detached it (checked afterwards: the key pair is no longer bound)"
	MessageDetachedMeanwhile   = "successful: the key pair is no longer bound (checked before a retry): it was detached after the function checked the instance, not by the function"
	messageInvalidParameterFmt = "The specified field %s invalid. Please check it again. (%s)"
)

// Error is a request-level failure: nothing was detached because of it, and the whole
// request is answered with it. Status is the HTTP status the contract gives the code.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Retryable reports whether running the same request again may succeed (a 5xx outcome),
// so that asynchronous triggers should fail the invocation and let the platform retry.
func (e *Error) Retryable() bool { return e.Status >= 500 }

// ErrorResponse is the body of a request-level error answer.
type ErrorResponse struct {
	RequestId    string  `json:"RequestId,omitempty"`
	Code         string  `json:"Code"`
	Message      string  `json:"Message"`
	EventEmitted *bool   `json:"EventEmitted,omitempty"`
	Caller       *Caller `json:"Caller,omitempty"`
}

// Response returns the error as the contract's answer body.
func (e *Error) Response(requestID string) ErrorResponse {
	return ErrorResponse{RequestId: requestID, Code: e.Code, Message: e.Message}
}

func invalidParameter(field, detail string) *Error {
	return &Error{
		Status:  http.StatusBadRequest,
		Code:    CodeInvalidParameter + "." + field,
		Message: fmt.Sprintf(messageInvalidParameterFmt, field, detail),
	}
}

// InvalidParameter builds the contract's InvalidParameter.<Field> error, for callers
// that validate input the request type does not hold (the trigger envelope, say).
func InvalidParameter(field, detail string) *Error { return invalidParameter(field, detail) }

// Internal builds the contract's 500 InternalError with a message safe to show.
func Internal(message string) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternalError, Message: message}
}

// TooLarge builds the contract's 413 RequestTooLarge.
func TooLarge(size, limit int) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge,
		Message: fmt.Sprintf("the request body has %d bytes, more than the limit of %d (MAX_BODY_BYTES)", size, limit)}
}

func succeeded(id, message string) InstanceResult {
	return InstanceResult{InstanceId: id, Code: http.StatusOK, Success: true, Message: message}
}

func failed(id string, code int, errorCode, message string) InstanceResult {
	return InstanceResult{InstanceId: id, Code: code, ErrorCode: errorCode, Message: message}
}

// count sets TotalCount and FailCount from Results.
func (r *Result) count() {
	r.TotalCount = len(r.Results)
	r.FailCount = 0
	for _, x := range r.Results {
		if !x.Success {
			r.FailCount++
		}
	}
}
