package aliyun

import (
	"context"
	"errors"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/detach"
)

// TestToCloudErrorRequestID checks that the cloud's request id is kept when an error
// carries one, and left empty (not "<nil>") when it carries none.
func TestToCloudErrorRequestID(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"response error with an id", &openapi.ClientError{StatusCode: tea.Int(400), Code: tea.String("Throttling.User"),
			Message: tea.String("slow down"), Data: map[string]any{"RequestId": "6C5A3C0E-0001"}}, "6C5A3C0E-0001"},
		{"response error without one", &openapi.ClientError{StatusCode: tea.Int(400), Code: tea.String("Throttling.User"),
			Message: tea.String("slow down"), Data: map[string]any{}}, ""},
		{"sdk error with an id", dara.NewSDKError(map[string]any{"code": "ServiceUnavailable", "message": "later",
			"statusCode": 503, "data": map[string]any{"RequestId": "6C5A3C0E-0002"}}), "6C5A3C0E-0002"},
		{"sdk error without one", dara.NewSDKError(map[string]any{"code": "ServiceUnavailable", "message": "later",
			"statusCode": 503}), ""},
	} {
		var ce *detach.CloudError
		if !errors.As(ToCloudError(context.Background(), "ECS", tc.err), &ce) {
			t.Fatalf("%s: not a CloudError", tc.name)
		}
		if ce.RequestID != tc.want {
			t.Errorf("%s: RequestID = %q, want %q", tc.name, ce.RequestID, tc.want)
		}
	}
}

// TestChainCredentialConcurrent: the standard credential chain, shared by the SDK clients
// of concurrent calls, can be read from several goroutines (go test -race).
func TestChainCredentialConcurrent(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tTestOnlyNotAKey01")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "TestOnlySecretNotReal0001")
	cred, err := Credential(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				if _, err := cred.GetCredential(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
