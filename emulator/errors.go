package emulator

import (
	"fmt"
	"net/http"
)

// apiError is an error answer: the HTTP status, the cloud's error code and
// its message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeDropped is the pseudo error code under which Answered counts the
// requests whose connection was dropped by fault injection (no answer was
// sent).
const CodeDropped = "ConnectionDropped"

// Common OpenAPI (POP gateway) errors, with the statuses and messages that the
// gateway answers ECS callers with. See README.md for the sources.
var (
	errThrottlingUser = &apiError{http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control."}
	errForbiddenRAM   = &apiError{http.StatusForbidden, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM."}
	errUnavailable    = &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."}
	errInternal       = &apiError{http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error, exception or failure."}

	errMissingSignature  = &apiError{http.StatusBadRequest, "MissingSignature", "Signature is mandatory for this action."}
	errIncompleteSig     = &apiError{http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards."}
	errSignatureMismatch = &apiError{http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."}
	errSignatureMethod   = &apiError{http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not valid."}
	errKeyNotFound       = &apiError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	errMissingAccessKey  = &apiError{http.StatusBadRequest, "MissingAccessKeyId", "AccessKeyId is mandatory for this action."}
	errMissingTimestamp  = &apiError{http.StatusBadRequest, "MissingTimestamp", "Timestamp is mandatory for this action."}
	errTimestampFormat   = &apiError{http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."}
	errTimestampExpired  = &apiError{http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."}
	errMissingNonce      = &apiError{http.StatusBadRequest, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."}
	errNonceUsed         = &apiError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	errMissingToken      = &apiError{http.StatusBadRequest, "MissingSecurityToken", "SecurityToken is mandatory for this action."}
	errTokenMismatch     = &apiError{http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey."}
)

// EventBridge data-plane errors (its own codes and statuses).
var (
	ebThrottled       = &apiError{http.StatusTooManyRequests, "TooManyRequests", "The request is denied by flow limiter for too many requests."}
	ebAccessDenied    = &apiError{http.StatusForbidden, "AccessDenied", "The OwnerId that your Access Key Id associated to is forbidden for this operation."}
	ebInvalidKey      = &apiError{http.StatusForbidden, "InvalidAccessKeyId", "The access Id you provided is not exist."}
	ebInvalidStsKey   = &apiError{http.StatusForbidden, "InvalidStsAccessKeyId", "The sts access Id you provided is not exist."}
	ebSignature       = &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	ebTokenInvalid    = &apiError{http.StatusForbidden, "SecurityTokenInvalid", "The Security token that your provide is invalid."}
	ebMissingAuth     = &apiError{http.StatusForbidden, "MissingAuthorization", "The authorization header is missing or malformed."}
	ebInternal        = &apiError{http.StatusInternalServerError, "InternalError", "InternalError"}
	ebUnavailable     = &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable."}
	ebTimestampFormat = &apiError{http.StatusBadRequest, "InvalidTimeStamp.Format", "The Date header is missing or not in RFC 1123 format."}
)

// ebError maps the POP-style authentication errors to their EventBridge
// equivalents.
func ebError(e *apiError) *apiError {
	switch e {
	case errKeyNotFound, errMissingAccessKey:
		return ebInvalidKey
	case errSignatureMismatch, errSignatureMethod:
		return ebSignature
	case errMissingSignature, errIncompleteSig:
		return ebMissingAuth
	case errMissingToken, errTokenMismatch:
		return ebTokenInvalid
	case errTimestampFormat, errMissingTimestamp:
		return ebTimestampFormat
	case errThrottlingUser:
		return ebThrottled
	case errForbiddenRAM:
		return ebAccessDenied
	case errInternal:
		return ebInternal
	case errUnavailable:
		return ebUnavailable
	}
	return e
}
