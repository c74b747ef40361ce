package detach

import (
	"strings"
	"testing"
)

func TestCloudErrorSaysItsRequestID(t *testing.T) {
	for _, tc := range []struct {
		err  *CloudError
		want string
	}{
		{&CloudError{Status: 503, Code: "ServiceUnavailable", Message: "try later", RequestID: "6C5A3C0E-0001"},
			"ServiceUnavailable (HTTP 503): try later (RequestId 6C5A3C0E-0001)"},
		{&CloudError{Message: "connection reset by peer", RequestID: "6C5A3C0E-0002"},
			"no answer from the cloud: connection reset by peer (RequestId 6C5A3C0E-0002)"},
		{&CloudError{Status: 400, Code: "Throttling.User", Message: "slow down"},
			"Throttling.User (HTTP 400): slow down"},
	} {
		got := tc.err.Error()
		if got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if tc.err.RequestID == "" && strings.Contains(got, "RequestId") {
			t.Errorf("Error() = %q names a request id that the cloud did not give", got)
		}
	}
}
