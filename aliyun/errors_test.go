package aliyun

import (
	"context"
	"errors"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/detach"
)

func TestRedact(t *testing.T) {
	in := `Post "http://127.0.0.1:8300/?AccessKeyId=STS.x&Signature=abc%3D&SecurityToken=CAIStoken": EOF; authorization: acs3 sig; x-acs-security-token=CAIS2; string to sign is:POST&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3DCAIS3%26Signature%3Dsig4`
	out := Redact(in)
	for _, secret := range []string{"abc%3D", "CAIStoken", "CAIS2", "acs3 sig", "CAIS3", "sig4"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q still in %q", secret, out)
		}
	}
	if !strings.Contains(out, "http://127.0.0.1:8300/") || !strings.Contains(out, "EOF") {
		t.Errorf("redacted too much: %q", out)
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8300":        "127.0.0.1:8300 http",
		"https://ecs.aliyuncs.com/":    "ecs.aliyuncs.com https",
		"ecs-cn-hangzhou.aliyuncs.com": "ecs-cn-hangzhou.aliyuncs.com https",
		"ftp://x":                      "error",
		"http://h/path":                "error",
		"http://user:pw@h":             "error",
		"":                             "error",
		"host/with/path":               "error",
	} {
		host, proto, err := ParseEndpoint(in)
		got := host + " " + proto
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

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
