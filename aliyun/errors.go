package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/detach"
	"detachkeypair/redact"
)

// ToCloudError turns an error of an Alibaba Cloud SDK (tea or darabonba) into a
// *detach.CloudError, or returns the context's error when the call was cut short by it.
// Messages never carry request URLs (their query may hold a signature or a security
// token).
func ToCloudError(ctx context.Context, api string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s call cut short: %w", api, ctxErr)
	}
	var (
		status    int
		code, msg string
		requestID string
	)
	var respErr dara.ResponseError
	var sdkErr *tea.SDKError
	var daraErr *dara.SDKError
	switch {
	case errors.As(err, &respErr):
		status, code, msg = tea.IntValue(respErr.GetStatusCode()), tea.StringValue(respErr.GetCode()), respErr.Error()
		requestID, _ = respErr.GetData()["RequestId"].(string) // "" when the answer has none
	case errors.As(err, &sdkErr):
		status, code, msg = tea.IntValue(sdkErr.StatusCode), tea.StringValue(sdkErr.Code), tea.StringValue(sdkErr.Message)
		requestID = requestIDIn(tea.StringValue(sdkErr.Data))
	case errors.As(err, &daraErr):
		status, code, msg = tea.IntValue(daraErr.StatusCode), tea.StringValue(daraErr.Code), tea.StringValue(daraErr.Message)
		requestID = requestIDIn(tea.StringValue(daraErr.Data))
	default:
		msg = err.Error()
	}
	if status == 0 && code != "" && !isTransportCode(code) {
		status = StatusOf(code) // an SDK error without an answer's status, e.g. a client-side check
	}
	return &detach.CloudError{Status: status, Code: code, Message: redact.Text(trimSDKPrefix(msg)), RequestID: requestID}
}

// StatusOf guesses the HTTP status of an error from its code, for errors that carry
// none (an SDK's client-side check, one event of a batch): the cloud's server-side
// codes are 5xx, the rest a refusal of the request.
func StatusOf(code string) int {
	switch code {
	case "ServiceUnavailable", "InternalError", "InternalFailure", "ServerError", "Unknown":
		return 503
	}
	if strings.HasPrefix(code, "ServiceUnavailable") || strings.HasPrefix(code, "InternalError") {
		return 503
	}
	return 400
}

// isTransportCode reports whether an SDK error code means the call got no answer.
func isTransportCode(code string) bool {
	return code == "" || strings.Contains(strings.ToLower(code), "timeout") || strings.Contains(strings.ToLower(code), "network")
}

func requestIDIn(data string) string {
	var d struct{ RequestId string }
	_ = json.Unmarshal([]byte(data), &d)
	return d.RequestId
}

var sdkPrefix = regexp.MustCompile(`^(SDKError:\s*)?(StatusCode:\s*\d+\s*)?(Code:\s*\S+\s*)?(Message:\s*)?(code: \d+, )?`)

// trimSDKPrefix drops the SDK's "code: 400, " style prefix from a cloud message.
func trimSDKPrefix(msg string) string {
	msg = sdkPrefix.ReplaceAllString(strings.TrimSpace(msg), "")
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}
