package ecs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"testing"

	"detachkeypair/credentials"
	"detachkeypair/detach"
)

// TestRegionWithoutEndpoint: when the region's own endpoint does not resolve (the SDK
// makes ecs.<region>.aliyuncs.com of any region id), the error is ECS's answer for an
// unknown region, not a connection failure worth retrying; with an endpoint override,
// a DNS failure stays a connection failure.
func TestRegionWithoutEndpoint(t *testing.T) {
	sdkErr := &url.Error{Op: "Post", URL: "https://ecs.cn-nowhere.aliyuncs.com/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "ecs.cn-nowhere.aliyuncs.com", IsNotFound: true}}}
	for _, c := range []struct {
		endpoint string
		unknown  bool
	}{{"", true}, {"http://127.0.0.1:1", false}} {
		client, err := New(Config{Region: "cn-nowhere", Endpoint: c.endpoint, Credentials: &credentials.AccessKey{AccessKeyID: "LTAI5tTestOnly0001", AccessKeySecret: "TestOnlySecret0001"}})
		if err != nil {
			t.Fatal(err)
		}
		var ce *detach.CloudError
		if !errors.As(client.cloudError(context.Background(), sdkErr), &ce) {
			t.Fatal("not a CloudError")
		}
		if ce.RegionUnknown() != c.unknown || ce.Retryable() == c.unknown {
			t.Errorf("endpoint %q: %+v", c.endpoint, ce)
		}
	}
}
