package emulator_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

func ids(ns ...int) *string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf(idFmt, n)
	}
	b, _ := json.Marshal(out)
	return tea.String(string(b))
}

func keyPairNames(body *ecs.DescribeKeyPairsResponseBody) []string {
	var names []string
	for _, kp := range body.KeyPairs.KeyPair {
		names = append(names, tea.StringValue(kp.KeyPairName))
	}
	return names
}

func TestDescribeKeyPairs(t *testing.T) {
	srv := start(t, emulator.Config{})
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			c := ecsClient(t, srv, st.opt)
			resp, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
			if err != nil {
				t.Fatal(err)
			}
			b := resp.Body
			if tea.Int32Value(b.TotalCount) != 5 || tea.Int32Value(b.PageNumber) != 1 || tea.Int32Value(b.PageSize) != 10 || tea.StringValue(b.RequestId) == "" {
				t.Errorf("answer = %v", b)
			}
			if got := strings.Join(keyPairNames(b), ","); got != "ops-2026,deploy-ci,ops-2026-backup,fleet-2026,legacy-admin" {
				t.Errorf("names = %s", got)
			}
			kp := b.KeyPairs.KeyPair[0]
			if tea.StringValue(kp.KeyPairFingerPrint) == "" || tea.StringValue(kp.CreationTime) != "2026-01-05T08:00Z" ||
				tea.StringValue(kp.Tags.Tag[0].TagKey) != "owner" {
				t.Errorf("key pair = %v", kp)
			}

			// KeyPairName is a pattern: a plain name matches exactly.
			for pattern, want := range map[string]string{
				"ops-2026": "ops-2026", "ops-2026*": "ops-2026,ops-2026-backup", "*-2026": "ops-2026,fleet-2026",
				"*ops*": "ops-2026,ops-2026-backup", "nope": "",
			} {
				resp, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), KeyPairName: tea.String(pattern)})
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(keyPairNames(resp.Body), ","); got != want || int(tea.Int32Value(resp.Body.TotalCount)) != len(keyPairNames(resp.Body)) {
					t.Errorf("KeyPairName=%s: %s, want %s", pattern, got, want)
				}
			}

			// Paging.
			resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), PageSize: tea.Int32(2), PageNumber: tea.Int32(3)})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(keyPairNames(resp.Body), ","); got != "legacy-admin" || tea.Int32Value(resp.Body.TotalCount) != 5 {
				t.Errorf("page 3 of 2 = %s", got)
			}
			_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), PageSize: tea.Int32(51)})
			wantError(t, err, "InvalidParameter", 400)

			// Tags, another region, errors.
			resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz),
				Tag: []*ecs.DescribeKeyPairsRequestTag{{Key: tea.String("deprecated"), Value: tea.String("true")}}})
			if err != nil || strings.Join(keyPairNames(resp.Body), ",") != "legacy-admin" {
				t.Errorf("by tag: %v %v", resp, err)
			}
			resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String("cn-shanghai")})
			if err != nil || strings.Join(keyPairNames(resp.Body), ",") != "ops-2026" {
				t.Errorf("cn-shanghai: %v %v", resp, err)
			}
			resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String("ap-southeast-1")})
			if err != nil || len(resp.Body.KeyPairs.KeyPair) != 0 || tea.Int32Value(resp.Body.TotalCount) != 0 {
				t.Errorf("ap-southeast-1: %v %v", resp, err)
			}
			_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String("cn-nowhere")})
			wantError(t, err, "InvalidRegionId.NotFound", 404)
			_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{})
			wantError(t, err, "MissingParameter", 400)
		})
	}
}

// TestDescribeKeyPairsKeyPairId shows that the answer carries KeyPairId,
// which the SDK's typed model (v7.7.0) drops: read it through CallApi.
func TestDescribeKeyPairsKeyPairId(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	body, err := c.CallApi(&openapiutil.Params{
		Action: tea.String("DescribeKeyPairs"), Version: tea.String("2014-05-26"), Protocol: tea.String("HTTPS"),
		Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
	}, &openapiutil.OpenApiRequest{Query: map[string]*string{"RegionId": tea.String(hz), "KeyPairName": tea.String("ops-2026")}}, &dara.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body["body"])
	var got struct {
		KeyPairs struct {
			KeyPair []struct{ KeyPairId, KeyPairName string }
		}
	}
	json.Unmarshal(b, &got)
	if len(got.KeyPairs.KeyPair) != 1 || got.KeyPairs.KeyPair[0].KeyPairId != "ssh-bp67acfmxazb4p0001" {
		t.Fatalf("raw answer = %s", b)
	}
}

func instanceIDs(b *ecs.DescribeInstancesResponseBody) []string {
	var out []string
	for _, in := range b.Instances.Instance {
		out = append(out, tea.StringValue(in.InstanceId))
	}
	return out
}

func TestDescribeInstances(t *testing.T) {
	srv := start(t, emulator.Config{})
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			c := ecsClient(t, srv, st.opt)
			describe := func(req *ecs.DescribeInstancesRequest) *ecs.DescribeInstancesResponseBody {
				t.Helper()
				req.RegionId = tea.String(hz)
				resp, err := c.DescribeInstances(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp.Body
			}
			tag := func(k, v string) *ecs.DescribeInstancesRequestTag {
				return &ecs.DescribeInstancesRequestTag{Key: tea.String(k), Value: tea.String(v)}
			}

			b := describe(&ecs.DescribeInstancesRequest{KeyPairName: tea.String("ops-2026"), PageSize: tea.Int32(100)})
			if tea.Int32Value(b.TotalCount) != 15 || len(b.Instances.Instance) != 15 {
				t.Fatalf("ops-2026: %d instances", tea.Int32Value(b.TotalCount))
			}
			in := b.Instances.Instance[0]
			if tea.StringValue(in.InstanceId) != fmt.Sprintf(idFmt, 1) || tea.StringValue(in.Status) != "Stopped" ||
				tea.StringValue(in.KeyPairName) != "ops-2026" || tea.StringValue(in.ResourceGroupId) != "rg-acfmzstaging001" ||
				tea.StringValue(in.ZoneId) == "" || tea.StringValue(in.RegionId) != hz || len(in.Tags.Tag) != 2 ||
				tea.StringValue(in.Tags.Tag[0].TagKey) != "env" || tea.StringValue(in.InstanceName) != "payments-staging-01" ||
				len(in.VpcAttributes.PrivateIpAddress.IpAddress) != 1 {
				t.Errorf("instance = %v", in)
			}
			if !slices.IsSorted(instanceIDs(b)) {
				t.Error("not sorted by instance id")
			}

			for _, tc := range []struct {
				name string
				req  *ecs.DescribeInstancesRequest
				want int
			}{
				{"tags", &ecs.DescribeInstancesRequest{KeyPairName: tea.String("ops-2026"), Tag: []*ecs.DescribeInstancesRequestTag{tag("env", "staging"), tag("team", "payments")}}, 10},
				{"status", &ecs.DescribeInstancesRequest{KeyPairName: tea.String("fleet-2026"), Status: tea.String("Running")}, 120},
				{"group", &ecs.DescribeInstancesRequest{KeyPairName: tea.String("fleet-2026"), ResourceGroupId: tea.String("rg-acfmzprod00001")}, 1200},
				{"prod tag", &ecs.DescribeInstancesRequest{Tag: []*ecs.DescribeInstancesRequestTag{tag("env", "prod")}}, 5 + 600},
				{"exact key pair", &ecs.DescribeInstancesRequest{KeyPairName: tea.String("ops-2026-backup")}, 5},
				{"no such key pair", &ecs.DescribeInstancesRequest{KeyPairName: tea.String("ops-*")}, 0},
				{"empty ids", &ecs.DescribeInstancesRequest{InstanceIds: tea.String("[]")}, 0},
				{"region", &ecs.DescribeInstancesRequest{}, 1230},
			} {
				if got := tea.Int32Value(describe(tc.req).TotalCount); int(got) != tc.want {
					t.Errorf("%s: TotalCount %d, want %d", tc.name, got, tc.want)
				}
			}

			// Ids that do not exist, or live in another region, are absent.
			b = describe(&ecs.DescribeInstancesRequest{InstanceIds: tea.String(`["i-bp1d6tsvznfghy7y0002","i-nosuch","i-uf6bkqbwbwwj8y0001","i-bp1d6tsvznfghy7y0001"]`)})
			if got := strings.Join(instanceIDs(b), ","); got != "i-bp1d6tsvznfghy7y0001,i-bp1d6tsvznfghy7y0002" {
				t.Errorf("by ids: %s", got)
			}

			// Every page, by number and by token, covers the selection once,
			// in order; the last page is partial.
			var byPage, byToken []string
			running := tea.String("Running")
			for page := 1; ; page++ {
				b := describe(&ecs.DescribeInstancesRequest{KeyPairName: tea.String("fleet-2026"), Status: running, PageSize: tea.Int32(50), PageNumber: tea.Int32(int32(page))})
				if tea.Int32Value(b.PageNumber) != int32(page) || tea.Int32Value(b.PageSize) != 50 || tea.Int32Value(b.TotalCount) != 120 {
					t.Fatalf("page %d: %v", page, b)
				}
				if len(b.Instances.Instance) == 0 {
					break
				}
				byPage = append(byPage, instanceIDs(b)...)
			}
			token := ""
			for calls := 0; ; calls++ {
				req := &ecs.DescribeInstancesRequest{KeyPairName: tea.String("fleet-2026"), Status: running, MaxResults: tea.Int32(50)}
				if token != "" {
					req.NextToken = tea.String(token)
				}
				b := describe(req)
				byToken = append(byToken, instanceIDs(b)...)
				if token = tea.StringValue(b.NextToken); token == "" || calls > 5 {
					break
				}
			}
			if len(byPage) != 120 || !slices.IsSorted(byPage) || !slices.Equal(byPage, byToken) || len(slices.Compact(slices.Clone(byPage))) != 120 {
				t.Errorf("paging: %d by page, %d by token", len(byPage), len(byToken))
			}

			var many []string
			for n := 1; n <= 101; n++ {
				many = append(many, fmt.Sprintf(idFmt, n))
			}
			j, _ := json.Marshal(many)
			_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: tea.String(string(j))})
			wantError(t, err, "InvalidParameter", 400)
			_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), PageSize: tea.Int32(101)})
			wantError(t, err, "InvalidParameter", 400)
			_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), NextToken: tea.String("bogus!")})
			wantError(t, err, "InvalidParameter", 400)
			_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-nowhere")})
			wantError(t, err, "InvalidRegionId.NotFound", 404)
		})
	}
}

type result struct{ code, id, success, message string }

func results(b *ecs.DetachKeyPairResponseBody) []result {
	var out []result
	for _, r := range b.Results.Result {
		out = append(out, result{tea.StringValue(r.Code), tea.StringValue(r.InstanceId), tea.StringValue(r.Success), tea.StringValue(r.Message)})
	}
	return out
}

func TestDetachKeyPair(t *testing.T) {
	for i, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			srv := start(t, emulator.Config{})
			c := ecsClient(t, srv, st.opt)
			before := srv.Instances()

			// 0001 and 0002 are Stopped and bound; 0011 is Running; 0016 has
			// deploy-ci; 9999 does not exist; 0021 has no key pair.
			ok1, ok2 := 1+i*5, 2+i*5
			resp, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{
				RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(ok1, 11, 16, 9999, ok2, 21),
			})
			if err != nil {
				t.Fatal(err)
			}
			b := resp.Body
			if tea.StringValue(b.TotalCount) != "6" || tea.StringValue(b.FailCount) != "4" || tea.StringValue(b.KeyPairName) != "ops-2026" || tea.StringValue(b.RequestId) == "" {
				t.Errorf("answer = %v", b)
			}
			got := results(b)
			want := []struct{ code, id, success, msg string }{
				{"200", fmt.Sprintf(idFmt, ok1), "true", "successful"},
				{"400", fmt.Sprintf(idFmt, 11), "false", "IncorrectInstanceStatus"},
				{"400", fmt.Sprintf(idFmt, 16), "false", "PublicKeyNotAttachWithInstance"},
				{"404", fmt.Sprintf(idFmt, 9999), "false", "InvalidInstanceId.NotFound"},
				{"200", fmt.Sprintf(idFmt, ok2), "true", "successful"},
				{"400", fmt.Sprintf(idFmt, 21), "false", "PublicKeyNotAttachWithInstance"},
			}
			if len(got) != len(want) {
				t.Fatalf("results = %v", got)
			}
			for i, w := range want {
				if got[i].code != w.code || got[i].id != w.id || got[i].success != w.success || !strings.HasPrefix(got[i].message, w.msg) {
					t.Errorf("result %d = %+v, want %+v", i, got[i], w)
				}
			}

			// Only the two successful ones changed.
			for _, in := range before {
				now, _ := srv.Instance(in.InstanceId)
				wantKey := in.KeyPairName
				if in.InstanceId == fmt.Sprintf(idFmt, ok1) || in.InstanceId == fmt.Sprintf(idFmt, ok2) {
					wantKey = ""
				}
				if now.KeyPairName != wantKey || now.Status != in.Status {
					t.Errorf("%s: key pair %q status %s, want %q %s", in.InstanceId, now.KeyPairName, now.Status, wantKey, in.Status)
				}
			}

			// Detaching again fails for those instances and changes nothing.
			resp, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(ok1)})
			if err != nil || tea.StringValue(resp.Body.FailCount) != "1" || !strings.HasPrefix(results(resp.Body)[0].message, "PublicKeyNotAttachWithInstance") {
				t.Errorf("second detach: %v %v", resp, err)
			}

			// Request-level errors change nothing.
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2027"), InstanceIds: ids(3)})
			wantError(t, err, "InvalidKeyPairName.NotFound", 404)
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), InstanceIds: ids(3)})
			wantError(t, err, "MissingParameter", 400)
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026")})
			wantError(t, err, "MissingParameter", 400)
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: tea.String("i-bp1d6tsvznfghy7y0003")})
			wantError(t, err, "InvalidParameter", 400)
			fiftyOne := make([]int, 51)
			for n := range fiftyOne {
				fiftyOne[n] = 31 + n
			}
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), InstanceIds: ids(fiftyOne...)})
			wantError(t, err, "InvalidParameter", 400)
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String("cn-nowhere"), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(3)})
			wantError(t, err, "InvalidRegionId.NotFound", 404)
			if in, _ := srv.Instance(fmt.Sprintf(idFmt, 3)); in.KeyPairName != "ops-2026" {
				t.Error("a failed request changed the state")
			}

			// Fifty at once is the limit, and is fine.
			resp, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), InstanceIds: ids(fiftyOne[:50]...)})
			if err != nil || tea.StringValue(resp.Body.TotalCount) != "50" || tea.StringValue(resp.Body.FailCount) != "5" { // 40, 50, …, 80 are Running
				t.Errorf("fifty: %v %v", resp, err)
			}

			// An instance of another region is not found in this one.
			resp, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String("cn-shanghai"), KeyPairName: tea.String("ops-2026"),
				InstanceIds: tea.String(`["i-uf6bkqbwbwwj8y0001","i-bp1d6tsvznfghy7y0004"]`)})
			if err != nil || fmt.Sprint(results(resp.Body)) != "[{200 i-uf6bkqbwbwwj8y0001 true successful} {404 i-bp1d6tsvznfghy7y0004 false InvalidInstanceId.NotFound: The specified InstanceId does not exist.}]" {
				t.Errorf("cn-shanghai: %v %v", resp, err)
			}
			if in, _ := srv.Instance(fmt.Sprintf(idFmt, 4)); in.KeyPairName != "ops-2026" {
				t.Error("detach in cn-shanghai changed a cn-hangzhou instance")
			}
		})
	}
}

func TestAttachKeyPair(t *testing.T) {
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) { testAttachKeyPair(t, st) })
	}
}

func testAttachKeyPair(t *testing.T, st style) {
	srv := start(t, emulator.Config{})
	srv.SetInstance(emulator.Instance{RegionId: hz, InstanceId: "i-bp1starting000001", Status: "Starting"})
	c := ecsClient(t, srv, st.opt)
	resp, err := c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("legacy-admin"),
		InstanceIds: tea.String(`["i-bp1d6tsvznfghy7y0021","i-bp1d6tsvznfghy7y0011","i-bp1starting000001","i-nosuch"]`)})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body
	if tea.StringValue(b.TotalCount) != "4" || tea.StringValue(b.FailCount) != "2" {
		t.Errorf("answer = %v", b)
	}
	codes := []string{}
	for _, r := range b.Results.Result {
		codes = append(codes, tea.StringValue(r.Code)+"/"+tea.StringValue(r.Success))
	}
	if strings.Join(codes, ",") != "200/true,200/true,400/false,404/false" {
		t.Errorf("codes = %v", codes)
	}
	for id, want := range map[string]string{"i-bp1d6tsvznfghy7y0021": "legacy-admin", "i-bp1d6tsvznfghy7y0011": "legacy-admin", "i-bp1starting000001": ""} {
		if in, _ := srv.Instance(id); in.KeyPairName != want {
			t.Errorf("%s bound to %q, want %q", id, in.KeyPairName, want)
		}
	}
	_, err = c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("nope"), InstanceIds: ids(1)})
	wantError(t, err, "InvalidKeyPairName.NotFound", 404)

	// Set up by hand, then detach through the API.
	srv.AddKeyPair(emulator.KeyPair{RegionId: hz, KeyPairName: "temp-key"})
	srv.SetInstance(emulator.Instance{RegionId: hz, InstanceId: "i-bp1temp0000000001", Status: "Stopped", KeyPairName: "temp-key"})
	dresp, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("temp-key"), InstanceIds: tea.String(`["i-bp1temp0000000001"]`)})
	if err != nil || tea.StringValue(dresp.Body.FailCount) != "0" {
		t.Fatalf("detach temp-key: %v %v", dresp, err)
	}
	if in, _ := srv.Instance("i-bp1temp0000000001"); in.KeyPairName != "" {
		t.Error("temp-key still attached")
	}
}
