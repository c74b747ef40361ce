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

// rawCall calls an ECS API through the SDK's generic CallApi and returns the
// answer's body as JSON, with the fields the typed models would drop.
func rawCall(t *testing.T, c *ecs.Client, action string, query map[string]*string) []byte {
	t.Helper()
	body, err := c.CallApi(&openapiutil.Params{
		Action: tea.String(action), Version: tea.String("2014-05-26"), Protocol: tea.String("HTTPS"),
		Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
	}, &openapiutil.OpenApiRequest{Query: query}, &dara.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body["body"])
	return b
}

// TestDescribeKeyPairsKeyPairId: as documented (API reference, SDK model),
// DescribeKeyPairs answers without KeyPairId; Config.ExposeKeyPairIDs models
// the undocumented case in which the cloud sends it (read through CallApi:
// the typed model drops it).
func TestDescribeKeyPairsKeyPairId(t *testing.T) {
	query := map[string]*string{"RegionId": tea.String(hz), "KeyPairName": tea.String("ops-2026")}
	var got struct {
		KeyPairs struct {
			KeyPair []map[string]any
		}
	}
	b := rawCall(t, ecsClient(t, start(t, emulator.Config{})), "DescribeKeyPairs", query)
	json.Unmarshal(b, &got)
	if len(got.KeyPairs.KeyPair) != 1 || got.KeyPairs.KeyPair[0]["KeyPairName"] != "ops-2026" || got.KeyPairs.KeyPair[0]["KeyPairId"] != nil {
		t.Fatalf("documented answer = %s", b)
	}
	b = rawCall(t, ecsClient(t, start(t, emulator.Config{ExposeKeyPairIDs: true})), "DescribeKeyPairs", query)
	json.Unmarshal(b, &got)
	if len(got.KeyPairs.KeyPair) != 1 || got.KeyPairs.KeyPair[0]["KeyPairId"] != "ssh-bp67acfmxazb4p0001" {
		t.Fatalf("answer with ExposeKeyPairIDs = %s", b)
	}
}

// TestDescribeKeyPairsPublicKey: IncludePublicKey=true adds each key pair's
// PublicKey; without it there is none.
func TestDescribeKeyPairsPublicKey(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	resp, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), IncludePublicKey: tea.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, kp := range resp.Body.KeyPairs.KeyPair {
		if !strings.HasPrefix(tea.StringValue(kp.PublicKey), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI") {
			t.Errorf("%s: PublicKey %q", tea.StringValue(kp.KeyPairName), tea.StringValue(kp.PublicKey))
		}
	}
	srv.AddKeyPair(emulator.KeyPair{RegionId: hz, KeyPairName: "no-key-given"})
	for _, include := range []*bool{nil, tea.Bool(false)} {
		resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), IncludePublicKey: include})
		if err != nil {
			t.Fatal(err)
		}
		for _, kp := range resp.Body.KeyPairs.KeyPair {
			if kp.PublicKey != nil {
				t.Errorf("IncludePublicKey %v: %s has a PublicKey", include, tea.StringValue(kp.KeyPairName))
			}
		}
	}
	resp, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz), KeyPairName: tea.String("no-key-given"), IncludePublicKey: tea.Bool(true)})
	if err != nil || len(resp.Body.KeyPairs.KeyPair) != 1 || !strings.HasPrefix(tea.StringValue(resp.Body.KeyPairs.KeyPair[0].PublicKey), "ssh-ed25519 ") {
		t.Errorf("made-up key: %v %v", resp, err)
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
				{"region", &ecs.DescribeInstancesRequest{}, 1233},
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

// TestDescribeInstancesAsDocumented: MaxResults is clamped to [10, 100],
// DryRun answers DryRunOperation after the checks, and the Windows
// instances say so.
func TestDescribeInstancesAsDocumented(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	for maxResults, want := range map[int32]int{-3: 10, 0: 10, 5: 10, 10: 10, 57: 57, 100: 100, 101: 100, 5000: 100} {
		resp, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(maxResults)})
		if err != nil {
			t.Fatalf("MaxResults %d: %v", maxResults, err)
		}
		if got := len(resp.Body.Instances.Instance); got != want || tea.StringValue(resp.Body.NextToken) == "" {
			t.Errorf("MaxResults %d: %d instances, want %d", maxResults, got, want)
		}
	}
	_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), DryRun: tea.Bool(true)})
	wantError(t, err, "DryRunOperation", 400)
	_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-nowhere"), DryRun: tea.Bool(true)})
	wantError(t, err, "InvalidRegionId.NotFound", 404)
	if _, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), DryRun: tea.Bool(false)}); err != nil {
		t.Errorf("DryRun=false: %v", err)
	}
	resp, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1231, 1)})
	if err != nil || len(resp.Body.Instances.Instance) != 2 {
		t.Fatalf("Windows instance: %v %v", resp, err)
	}
	if os := []string{tea.StringValue(resp.Body.Instances.Instance[0].OSType), tea.StringValue(resp.Body.Instances.Instance[1].OSType)}; os[0] != "linux" || os[1] != "windows" {
		t.Errorf("OSType = %v", os)
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

			// 0001 and 0002 are Stopped and bound; 0011 is Running and bound
			// (ECS detaches it too); 0016 has deploy-ci; 9999 does not exist;
			// 0021 has no key pair.
			ok1, ok2, running := 1+i*5, 2+i*5, 11+i
			resp, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{
				RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(ok1, running, 16, 9999, ok2, 21),
			})
			if err != nil {
				t.Fatal(err)
			}
			b := resp.Body
			if tea.StringValue(b.TotalCount) != "6" || tea.StringValue(b.FailCount) != "3" || tea.StringValue(b.KeyPairName) != "ops-2026" || tea.StringValue(b.RequestId) == "" {
				t.Errorf("answer = %v", b)
			}
			got := results(b)
			want := []struct{ code, id, success, msg string }{
				{"200", fmt.Sprintf(idFmt, ok1), "true", "successful"},
				{"200", fmt.Sprintf(idFmt, running), "true", "successful"},
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

			// Only the three successful ones changed; the Running one takes
			// the change at its next start.
			for _, in := range before {
				now, _ := srv.Instance(in.InstanceId)
				wantKey, wantPending := in.KeyPairName, false
				switch in.InstanceId {
				case fmt.Sprintf(idFmt, ok1), fmt.Sprintf(idFmt, ok2):
					wantKey = ""
				case fmt.Sprintf(idFmt, running):
					wantKey, wantPending = "", true
				}
				if now.KeyPairName != wantKey || now.Status != in.Status || now.PendingRestart != wantPending {
					t.Errorf("%s: key pair %q status %s pending restart %v, want %q %s %v", in.InstanceId, now.KeyPairName, now.Status, now.PendingRestart, wantKey, in.Status, wantPending)
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
			if err != nil || tea.StringValue(resp.Body.TotalCount) != "50" || tea.StringValue(resp.Body.FailCount) != "0" { // 40, 50, …, 80 are Running, detached too
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

			// A Windows instance fails the whole call (403), even for the
			// Linux instances in it; an instance in transition fails alone.
			_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(5+i*5, 1231)})
			wantError(t, err, "DependencyViolation.WindowsInstance", 403)
			if in, _ := srv.Instance(fmt.Sprintf(idFmt, 5+i*5)); in.KeyPairName != "ops-2026" {
				t.Error("a refused call changed the Linux instance in it")
			}
			starting := fmt.Sprintf("i-bp1starting%07d", i)
			srv.SetInstance(emulator.Instance{RegionId: hz, InstanceId: starting, Status: "Starting", KeyPairName: "ops-2026"})
			resp, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: tea.String(`["` + starting + `"]`)})
			if err != nil || !strings.HasPrefix(results(resp.Body)[0].message, "IncorrectInstanceStatus") {
				t.Errorf("Starting instance: %v %v", resp, err)
			}
			if in, _ := srv.Instance(starting); in.KeyPairName != "ops-2026" {
				t.Error("the Starting instance lost its key pair")
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
	if in, _ := srv.Instance("i-bp1d6tsvznfghy7y0011"); !in.PendingRestart {
		t.Error("the Running instance does not wait for a restart to take the key pair")
	}
	_, err = c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("nope"), InstanceIds: ids(1)})
	wantError(t, err, "InvalidKeyPairName.NotFound", 404)
	_, err = c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("legacy-admin"), InstanceIds: ids(22, 1232)})
	wantError(t, err, "DependencyViolation.WindowsInstance", 403)
	if in, _ := srv.Instance("i-bp1d6tsvznfghy7y0022"); in.KeyPairName != "" {
		t.Error("a refused attach bound the Linux instance in it")
	}

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
