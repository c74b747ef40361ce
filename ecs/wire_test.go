package ecs_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecsclient "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/ecs"
)

// TestDescribeInstancesWire: the adapter's generic DescribeInstances sends what the
// SDK's typed call sends for the same request (action, version, every parameter).
func TestDescribeInstancesWire(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		q := r.URL.Query()
		q.Set("x-acs-action", r.Header.Get("x-acs-action"))
		q.Set("x-acs-version", r.Header.Get("x-acs-version"))
		mu.Lock()
		got = append(got, q)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"RequestId":"r","TotalCount":0,"NextToken":"","Instances":{"Instance":[]}}`)
	}))
	defer srv.Close()
	creds := &credentials.AccessKey{AccessKeyID: "LTAI5tTestOnly0001", AccessKeySecret: "TestOnlySecret0001"}
	c, err := ecs.New(ecs.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := ecsclient.NewClient(&openapi.Config{Endpoint: tea.String(srv.URL[len("http://"):]), Protocol: tea.String("http"),
		AccessKeyId: tea.String(creds.AccessKeyID), AccessKeySecret: tea.String(creds.AccessKeySecret), RegionId: tea.String("cn-hangzhou")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q   detach.InstanceQuery
		sdk *ecsclient.DescribeInstancesRequest
	}{
		{detach.InstanceQuery{IDs: []string{"i-a", "i-b"}, PageSize: 100},
			&ecsclient.DescribeInstancesRequest{InstanceIds: tea.String(`["i-a","i-b"]`), PageNumber: tea.Int32(1), PageSize: tea.Int32(100)}},
		{detach.InstanceQuery{Tags: []detach.Tag{{Key: "env", Value: "x"}, {Key: "team"}}, ResourceGroupID: "rg-a", KeyPairName: "k1", NextToken: "t", PageSize: 50},
			&ecsclient.DescribeInstancesRequest{Tag: []*ecsclient.DescribeInstancesRequestTag{{Key: tea.String("env"), Value: tea.String("x")}, {Key: tea.String("team")}},
				ResourceGroupId: tea.String("rg-a"), KeyPairName: tea.String("k1"), NextToken: tea.String("t"), MaxResults: tea.Int32(50)}},
	}
	for _, cs := range cases {
		got = nil
		if _, err := c.DescribeInstances(context.Background(), cs.q); err != nil {
			t.Fatal(err)
		}
		cs.sdk.RegionId = tea.String("cn-hangzhou")
		if _, err := sdk.DescribeInstances(cs.sdk); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !maps.EqualFunc(got[0], got[1], func(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }) {
			t.Errorf("the adapter sent %v, the SDK %v", got[0], got[1])
		}
	}
}
