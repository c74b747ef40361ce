package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/aliyun"
	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/emulator"
)

// ensID is instance n of the emulator's ENS fleet.
func ensID(n int) string { return fmt.Sprintf("i-5iqczfxps7csjrxeca07%05d", n) }

// ensIDs is a JSON array of ENS fleet ids, as InstanceIds takes it.
func ensIDs(ns ...int) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = ensID(n)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

const (
	edgeOps   = "ssh-5lywanlkih1zo9yl8eg0001" // edge-ops-2026
	edgeFleet = "ssh-5lywanlkih1zo9yl8eg0003" // edge-fleet
)

// ensAPI is the generic OpenAPI client, as the function's ens adapter calls ENS with it,
// pointed at endpoint ("" = srv's) with a signature style.
type ensAPI struct {
	t *testing.T
	c *aliyun.Clients[*openapi.Client]
}

func ensClient(t *testing.T, srv *emulator.Server, endpoint string, opts ...func(*openapi.Config)) ensAPI {
	t.Helper()
	if endpoint == "" {
		endpoint = srv.Endpoint()
	}
	return ensClientAs(t, endpoint, &credentials.AccessKey{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret}, opts...)
}

// ensClientAs is ensClient signing with creds.
func ensClientAs(t *testing.T, endpoint string, creds *credentials.AccessKey, opts ...func(*openapi.Config)) ensAPI {
	t.Helper()
	oc, err := aliyun.OpenAPIConfig(aliyun.APIConfig{Endpoint: "http://" + endpoint, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(oc)
	}
	c, err := aliyun.NewClients("ENS", oc, openapi.NewClient)
	if err != nil {
		t.Fatal(err)
	}
	return ensAPI{t, c}
}

// call calls an ENS action; the answer's body, or the cloud's error.
func (e ensAPI) call(action string, query map[string]string) (map[string]any, *detach.CloudError) {
	e.t.Helper()
	var body map[string]any
	err := e.c.CallRPC(context.Background(), aliyun.RPC{Action: action, Version: "2017-11-10"}, query, &body)
	if err == nil {
		return body, nil
	}
	var ce *detach.CloudError
	if !errors.As(err, &ce) {
		e.t.Fatalf("%s: %v", action, err)
	}
	return nil, ce
}

// ok calls an ENS action that must succeed.
func (e ensAPI) ok(action string, query map[string]string) map[string]any {
	e.t.Helper()
	body, err := e.call(action, query)
	if err != nil {
		e.t.Fatalf("%s %v: %v", action, query, err)
	}
	return body
}

// fails calls an ENS action that must fail with code and status.
func (e ensAPI) fails(action string, query map[string]string, code string, status int) *detach.CloudError {
	e.t.Helper()
	_, err := e.call(action, query)
	if err == nil || err.Code != code || err.Status != status {
		e.t.Fatalf("%s %v: got %v, want %s (%d)", action, query, err, code, status)
	}
	return err
}

// changedSince lists the instances whose key pair differs from before.
func changedSince(srv *emulator.Server, before map[string]string) []string {
	var out []string
	for id, kp := range srv.Bindings() {
		if before[id] != kp {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ensResults is the Results of a DetachKeyPair / AttachKeyPair answer as "id code message".
func ensResults(body map[string]any) []string {
	var out []string
	for _, r := range body["Results"].([]any) {
		m := r.(map[string]any)
		out = append(out, fmt.Sprintf("%s %v %v %s", m["InstanceId"], m["Code"], m["Success"], m["Message"]))
	}
	return out
}

func TestENSDetachKeyPair(t *testing.T) {
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			srv := start(t, emulator.Config{})
			c := ensClient(t, srv, "", st.opt)
			before := srv.Bindings()

			// By id: each instance its own result; only the stopped bound ones change.
			body := c.ok("DetachKeyPair", map[string]string{"KeyPairId": edgeOps,
				"InstanceIds": `["` + ensID(1) + `","` + ensID(7) + `","` + ensID(8) + `","` + ensID(9) + `","` + ensID(10) + `","` +
					ensID(11) + `","` + ensID(14) + `","i-0000000000000000000000000","` + ensID(2) + `"]`})
			want := []string{
				ensID(1) + " 200 true successful",
				ensID(7) + " 400 false IncorrectInstanceStatus: The instance is Running; it must be stopped.",
				ensID(8) + " 400 false IncorrectInstanceStatus: The instance is Starting; it must be stopped.",
				ensID(9) + " 400 false IncorrectInstanceStatus: The instance is Stopping; it must be stopped.",
				ensID(10) + " 400 false IncorrectInstanceStatus: The instance is Expired; it must be stopped.",
				ensID(11) + " 400 false PublicKeyNotAttachWithInstance: The key pair edge-ops-2026 is not bound to the instance.",
				ensID(14) + " 400 false PublicKeyNotAttachWithInstance: The key pair edge-ops-2026 is not bound to the instance.",
				"i-0000000000000000000000000 400 false InstanceNotFound: The specified instance does not exist.",
				ensID(2) + " 200 true successful",
			}
			if got := ensResults(body); !slices.Equal(got, want) {
				t.Errorf("results\n got %q\nwant %q", got, want)
			}
			if body["TotalCount"] != 9.0 || body["FailCount"] != 7.0 || body["KeyPairId"] != edgeOps || body["KeyPairName"] != "edge-ops-2026" {
				t.Errorf("answer %v", body)
			}
			if got := changedSince(srv, before); !slices.Equal(got, []string{ensID(1), ensID(2)}) {
				t.Errorf("changed %v, want instances 1 and 2", got)
			}

			// By name, one listed instance not bound to it: the whole call fails, nothing changes.
			before = srv.Bindings()
			c.fails("DetachKeyPair", map[string]string{"KeyPairName": "edge-ops-2026", "InstanceIds": ensIDs(3, 4, 14)}, "PublicKeyNotAttachWithInstance", 400)
			c.fails("DetachKeyPair", map[string]string{"KeyPairName": "edge-ops-2026", "InstanceIds": `["` + ensID(3) + `","i-0000000000000000000000000"]`}, "PublicKeyNotAttachWithInstance", 400)
			// By name, all bound: per instance again.
			body = c.ok("DetachKeyPair", map[string]string{"KeyPairName": "edge-ops-2026", "InstanceIds": ensIDs(3, 7)})
			if got := ensResults(body); len(got) != 2 || !strings.HasSuffix(got[0], "successful") || !strings.Contains(got[1], "IncorrectInstanceStatus") {
				t.Errorf("by name: %q", got)
			}
			// Both, naming the same key pair.
			c.ok("DetachKeyPair", map[string]string{"KeyPairId": edgeOps, "KeyPairName": "edge-ops-2026", "InstanceIds": ensIDs(4)})
			if got := changedSince(srv, before); !slices.Equal(got, []string{ensID(3), ensID(4)}) {
				t.Errorf("changed %v, want instances 3 and 4", got)
			}

			// Refused as a whole.
			before = srv.Bindings()
			thirtyOne := make([]int, 31)
			for i := range thirtyOne {
				thirtyOne[i] = 16 + i
			}
			for _, r := range []struct {
				query  map[string]string
				code   string
				status int
			}{
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds": ensIDs(thirtyOne...)}, "InvalidParameter.InstanceIds", 400},
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds": `[]`}, "InvalidParameter.InstanceIds", 400},
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds": ensIDs(16, 16)}, "InvalidParameter.InstanceIds", 400},
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds": ensID(16)}, "InvalidParameter.InstanceIds", 400},
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds.1": ensID(16)}, "InvalidParameter", 400},
				{map[string]string{"KeyPairId": edgeFleet}, "MissingParameter", 400},
				{map[string]string{"InstanceIds": ensIDs(16)}, "MissingParameter", 400},
				{map[string]string{"KeyPairId": "ssh-nope", "InstanceIds": ensIDs(16)}, "InvalidParameter.KeyPairId", 400},
				{map[string]string{"KeyPairName": "nope", "InstanceIds": ensIDs(16)}, "InvalidParameter.KeyPairName", 400},
				{map[string]string{"KeyPairId": edgeFleet, "KeyPairName": "edge-ops-2026", "InstanceIds": ensIDs(16)}, "InvalidParameter.KeyPairName", 400},
				{map[string]string{"KeyPairId": edgeFleet, "InstanceIds": ensIDs(16), "RegionId": "cn-hangzhou"}, "InvalidParameter", 400},
			} {
				c.fails("DetachKeyPair", r.query, r.code, r.status)
			}
			if got := changedSince(srv, before); len(got) != 0 {
				t.Errorf("refused calls changed %v", got)
			}
		})
	}
}

func TestENSAttachKeyPair(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ensClient(t, srv, "")
	srv.SetENSInstance(emulator.ENSInstance{InstanceId: "i-5iqczfxps7csjrxeca07runs1", EnsRegionId: "cn-dalian-unicom", Status: emulator.StatusRunning})
	body := c.ok("AttachKeyPair", map[string]string{"KeyPairName": "edge-legacy",
		"InstanceIds": `["` + ensID(14) + `","` + ensID(1) + `","i-5iqczfxps7csjrxeca07runs1"]`})
	want := []string{
		ensID(14) + " 200 true successful",
		ensID(1) + " 400 false PubKeyAttachedWithInstance: The instance already has the key pair edge-ops-2026.",
		"i-5iqczfxps7csjrxeca07runs1 400 false IncorrectInstanceStatus: The instance is Running; it must be stopped.",
	}
	if got := ensResults(body); !slices.Equal(got, want) {
		t.Errorf("results\n got %q\nwant %q", got, want)
	}
	if in, _ := srv.ENSInstance(ensID(14)); in.KeyPairName != "edge-legacy" {
		t.Errorf("instance 14 has %q", in.KeyPairName)
	}
	if in, _ := srv.ENSInstance(ensID(1)); in.KeyPairName != "edge-ops-2026" {
		t.Errorf("instance 1 has %q", in.KeyPairName)
	}
}

func TestENSDescribe(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ensClient(t, srv, "", styles[1].opt)

	names := func(body map[string]any) string {
		var out []string
		for _, kp := range body["KeyPairs"].(map[string]any)["KeyPair"].([]any) {
			out = append(out, kp.(map[string]any)["KeyPairName"].(string))
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":              "edge-ops-2026,edge-deploy,edge-fleet,edge-legacy",
		"id:" + edgeOps: "edge-ops-2026",
		"id:ssh-nope":   "",
		"edge-deploy":   "edge-deploy",
		"edge-*":        "edge-ops-2026,edge-deploy,edge-fleet,edge-legacy",
		"edge":          "",
	} {
		query := map[string]string{}
		if id, ok := strings.CutPrefix(q, "id:"); ok {
			query["KeyPairId"] = id
		} else if q != "" {
			query["KeyPairName"] = q
		}
		if got := names(c.ok("DescribeKeyPairs", query)); got != want {
			t.Errorf("DescribeKeyPairs %v: %s, want %s", query, got, want)
		}
	}
	body := c.ok("DescribeKeyPairs", map[string]string{"PageSize": "3", "PageNumber": "2"})
	if names(body) != "edge-legacy" || body["TotalCount"] != 4.0 || body["PageNumber"] != 2.0 || body["PageSize"] != 3.0 {
		t.Errorf("page 2 of 3: %v", body)
	}
	c.fails("DescribeKeyPairs", map[string]string{"PageSize": "51"}, "InvalidParameter.PageSize", 400)

	instances := func(body map[string]any) []string {
		var out []string
		for _, in := range body["Instances"].(map[string]any)["Instance"].([]any) {
			m := in.(map[string]any)
			out = append(out, fmt.Sprintf("%s/%s/%s", strings.TrimPrefix(m["InstanceId"].(string), "i-5iqczfxps7csjrxeca07"), m["Status"], m["KeyPairName"]))
			if _, tagged := m["Tags"]; tagged {
				t.Errorf("instance answered with tags: %v", m)
			}
		}
		return out
	}
	for _, c2 := range []struct {
		query map[string]string
		want  string
	}{
		{map[string]string{"InstanceIds": `["` + ensID(14) + `","i-0000000000000000000000000","` + ensID(10) + `"]`}, "00010/Expired/edge-ops-2026 00014/Stopped/"},
		{map[string]string{"InstanceIds": `[]`}, ""},
		{map[string]string{"EnsRegionIds": `["cn-beijing-cmcc","cn-dalian-unicom"]`, "PageSize": "100"},
			"00001/Stopped/edge-ops-2026 00002/Stopped/edge-ops-2026 00003/Stopped/edge-ops-2026 00004/Stopped/edge-ops-2026 00005/Stopped/edge-ops-2026 00006/Stopped/edge-ops-2026 00007/Running/edge-ops-2026 00014/Stopped/ 00015/Stopped/ 00266/Stopped/edge-ops-2026"},
		{map[string]string{"EnsRegionId": "cn-hangzhou-telecom", "Status": "Expired"}, "00010/Expired/edge-ops-2026"},
		{map[string]string{"Tags": `[{"Key":"team","Value":"video"}]`}, "00001/Stopped/edge-ops-2026 00002/Stopped/edge-ops-2026 00003/Stopped/edge-ops-2026 00004/Stopped/edge-ops-2026 00005/Stopped/edge-ops-2026 00006/Stopped/edge-ops-2026"},
		{map[string]string{"Tags": `[{"Key":"env","Value":"staging"},{"Key":"team"}]`, "PageSize": "2", "PageNumber": "3"}, "00005/Stopped/edge-ops-2026 00006/Stopped/edge-ops-2026"},
		{map[string]string{"InstanceId": ensID(8)}, "00008/Starting/edge-ops-2026"},
	} {
		if got := strings.Join(instances(c.ok("DescribeInstances", c2.query)), " "); got != c2.want {
			t.Errorf("DescribeInstances %v:\n got %s\nwant %s", c2.query, got, c2.want)
		}
	}
	body = c.ok("DescribeInstances", map[string]string{"PageSize": "100", "PageNumber": "3"})
	if n := len(instances(body)); n != 66 || body["TotalCount"] != 266.0 || body["Code"] != 0.0 {
		t.Errorf("page 3 of 100: %d instances, TotalCount %v, Code %v", n, body["TotalCount"], body["Code"])
	}
	for _, bad := range []map[string]string{
		{"PageSize": "101"}, {"Status": "Starting"}, {"InstanceIds": "i-a"}, {"Tags": `{"Key":"a"}`}, {"Tags": `[{"Value":"a"}]`},
		{"EnsRegionIds": `"cn-beijing-cmcc"`},
	} {
		for name := range bad {
			c.fails("DescribeInstances", bad, "InvalidParameter."+name, 400)
		}
	}
	c.fails("DescribeInstances", map[string]string{"KeyPairName": "edge-ops-2026"}, "InvalidParameter", 400)
	c.fails("DescribeInstances", map[string]string{"ResourceGroupId": "rg-1"}, "InvalidParameter", 400)
}

// TestENSListTagResources: the instances' tags, which DescribeInstances does not answer,
// by ResourceId.N (repeat-list parameters), tag filters and pages of 100.
func TestENSListTagResources(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ensClient(t, srv, "")
	tags := func(body map[string]any) string {
		var out []string
		for _, tr := range body["TagResources"].([]any) {
			m := tr.(map[string]any)
			out = append(out, fmt.Sprintf("%s:%s=%s", strings.TrimPrefix(m["ResourceId"].(string), "i-5iqczfxps7csjrxeca07"), m["TagKey"], m["TagValue"]))
			if m["ResourceType"] != "instance" {
				t.Errorf("ResourceType %v", m["ResourceType"])
			}
		}
		return strings.Join(out, " ")
	}
	body := c.ok("ListTagResources", map[string]string{"ResourceType": "instance", "ResourceId.1": ensID(266), "ResourceId.2": ensID(1),
		"ResourceId.3": ensID(11), "ResourceId.4": "i-0000000000000000000000000"})
	if got, want := tags(body), "00001:env=staging 00001:team=video 00011:env=prod 00266:env=staging 00266:detach-keypair:protected=true"; got != want || body["NextToken"] != "" {
		t.Errorf("tags %s (next %v), want %s", got, body["NextToken"], want)
	}
	body = c.ok("ListTagResources", map[string]string{"ResourceType": "instance", "Tag.1.Key": "team", "Tag.1.Value": "video"})
	if got := tags(body); !strings.HasPrefix(got, "00001:env=staging 00001:team=video 00002:") || strings.Count(got, "team=video") != 6 {
		t.Errorf("by tag: %s", got)
	}
	// Every instance: 523 tags, in pages of 100.
	seen, pages, query := 0, 0, map[string]string{"ResourceType": "instance"}
	for {
		body = c.ok("ListTagResources", query)
		seen += len(body["TagResources"].([]any))
		pages++
		if body["NextToken"] == "" {
			break
		}
		query["NextToken"] = body["NextToken"].(string)
	}
	if seen != 523 || pages != 6 {
		t.Errorf("%d tags in %d pages, want 523 in 6", seen, pages)
	}
	for _, bad := range []struct {
		query map[string]string
		code  string
	}{
		{map[string]string{}, "MissingParameter"},
		{map[string]string{"ResourceType": "disk"}, "InvalidParameter.ResourceType"},
		{map[string]string{"ResourceType": "instance", "ResourceId.51": ensID(1)}, "InvalidParameter.ResourceId"},
		{map[string]string{"ResourceType": "instance", "ResourceId.2": ensID(1)}, "InvalidParameter.ResourceId"},
		{map[string]string{"ResourceType": "instance", "ResourceIds": ensIDs(1)}, "InvalidParameter"},
		{map[string]string{"ResourceType": "instance", "NextToken": "x"}, "InvalidParameter.NextToken"},
	} {
		c.fails("ListTagResources", bad.query, bad.code, 400)
	}
}

// TestENSFaultsAndDispatch: ENS's APIs are counted and faulted under their own names,
// apart from ECS's of the same names, and answer ENS's codes.
func TestENSFaultsAndDispatch(t *testing.T) {
	srv := start(t, emulator.Config{Faults: map[string]emulator.Fault{
		emulator.APIENSDescribeKeyPairs:  {ForbiddenRate: 1},
		emulator.APIENSDescribeInstances: {ThrottleRate: 1},
		emulator.APIENSDetachKeyPair:     {DropAfterRate: 1},
	}})
	c := ensClient(t, srv, "")
	c.fails("DescribeKeyPairs", nil, "NoPermission", 400)
	c.fails("DescribeInstances", nil, "Throttling.User", 400)
	if _, err := c.call("DetachKeyPair", map[string]string{"KeyPairId": edgeOps, "InstanceIds": ensIDs(5)}); err == nil || err.Status != 0 {
		t.Fatalf("DetachKeyPair: %v, want no answer", err)
	}
	if in, _ := srv.ENSInstance(ensID(5)); in.KeyPairName != "" {
		t.Errorf("the dropped-after call did not detach: %+v", in)
	}
	// ECS's APIs of the same names are untouched by ENS's faults, and counted apart.
	if _, err := ecsClient(t, srv).DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil {
		t.Errorf("ECS DescribeKeyPairs: %v", err)
	}
	if srv.Calls(emulator.APIENSDetachKeyPair) != 1 || srv.Calls(emulator.APIDetachKeyPair) != 0 ||
		srv.Calls(emulator.APIDescribeKeyPairs) != 1 || srv.Answered(emulator.APIENSDescribeKeyPairs, "NoPermission") != 1 ||
		srv.Answered(emulator.APIENSDetachKeyPair, emulator.CodeDroppedAfter) != 1 {
		t.Errorf("counters: ENS DetachKeyPair %d, ECS DetachKeyPair %d", srv.Calls(emulator.APIENSDetachKeyPair), srv.Calls(emulator.APIDetachKeyPair))
	}
	c.fails("Nope", nil, "InvalidAction.NotFound", 404)
}

// TestENSAdminAndSchedule: the admin API shows ENS's state; a scheduled change applies
// to an ENS instance.
func TestENSAdminAndSchedule(t *testing.T) {
	srv := start(t, emulator.Config{})
	if err := srv.Schedule(emulator.Change{API: emulator.APIENSDescribeInstances, Call: 1, InstanceId: ensID(3), Action: emulator.ActionStart}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Schedule(emulator.Change{API: emulator.APIENSDetachKeyPair, Call: 1, InstanceId: ensID(3), Action: emulator.ActionBind, KeyPairName: "no-such-key"}); err == nil {
		t.Error("a Bind to an unknown ENS key pair was scheduled")
	}
	c := ensClient(t, srv, "")
	c.ok("DescribeInstances", map[string]string{"InstanceIds": ensIDs(3)})
	if in, _ := srv.ENSInstance(ensID(3)); in.Status != emulator.StatusRunning {
		t.Errorf("instance 3 is %s after the scheduled start", in.Status)
	}
	resp, err := http.Get(srv.URL() + "/_emulator/ens/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var state emulator.ENSFixture
	if err := json.Unmarshal(b, &state); err != nil || len(state.Instances) != 266 || len(state.KeyPairs) != 4 || len(state.EnsRegions) != 5 {
		t.Errorf("GET /_emulator/ens/state: %v, %d instances", err, len(state.Instances))
	}
	if state.Instances[2].Status != emulator.StatusRunning {
		t.Errorf("state shows instance 3 %s", state.Instances[2].Status)
	}
}
