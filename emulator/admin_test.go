package emulator_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

func adminCall(t *testing.T, srv *emulator.Server, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestAdmin(t *testing.T) {
	srv := start(t, emulator.Config{})
	var state emulator.Fixture
	if adminCall(t, srv, "GET", "/_emulator/state", "", &state) != 200 || len(state.Regions) != 3 || len(state.Instances) != 1239 || len(state.KeyPairs) != 6 {
		t.Fatalf("state: %d regions, %d instances", len(state.Regions), len(state.Instances))
	}

	var faults map[string]emulator.FaultJSON
	if code := adminCall(t, srv, "POST", "/_emulator/faults", `{"DescribeKeyPairs": {"ThrottleRate": 1, "Latency": "1ms"}}`, &faults); code != 200 ||
		faults["DescribeKeyPairs"].ThrottleRate != 1 || faults["DescribeKeyPairs"].Latency != "1ms" {
		t.Fatalf("faults: %d %v", code, faults)
	}
	if f := srv.Faults()["DescribeKeyPairs"]; f.ThrottleRate != 1 || f.Latency.Milliseconds() != 1 {
		t.Errorf("Faults() = %+v", f)
	}
	c := ecsClient(t, srv)
	_, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
	wantError(t, err, "Throttling.User", 400)
	faults = nil
	if code := adminCall(t, srv, "POST", "/_emulator/faults", `{"DescribeKeyPairs": {}}`, &faults); code != 200 || len(faults) != 0 {
		t.Fatalf("clearing faults: %d %v", code, faults)
	}
	if _, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil {
		t.Fatal(err)
	}
	if code := adminCall(t, srv, "POST", "/_emulator/faults", `{"*": {"ErrorRate": 2}}`, nil); code != 400 {
		t.Errorf("a rate of 2 was accepted: %d", code)
	}

	var stats struct {
		Calls           map[string]int
		Answered        map[string]map[string]int
		PeakConcurrency map[string]int
	}
	adminCall(t, srv, "GET", "/_emulator/calls", "", &stats)
	if stats.Calls["DescribeKeyPairs"] != 2 || stats.Answered["DescribeKeyPairs"]["Throttling.User"] != 1 || stats.Answered["DescribeKeyPairs"][""] != 1 {
		t.Errorf("calls = %+v", stats)
	}

	eb := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	if _, err := eb.PutEvents([]*eventbridge.CloudEvent{cloudEvent("admin-1", testBus, map[string]int{"x": 1})}); err != nil {
		t.Fatal(err)
	}
	var evs []emulator.Event
	if adminCall(t, srv, "GET", "/_emulator/events?bus="+testBus, "", &evs); len(evs) != 1 || evs[0].Id != "admin-1" || string(evs[0].Data) != `{"x":1}` {
		t.Errorf("events = %+v", evs)
	}
	if adminCall(t, srv, "GET", "/_emulator/events?bus=none", "", &evs); len(evs) != 0 {
		t.Errorf("events of an empty bus = %+v", evs)
	}

	adminCall(t, srv, "POST", "/_emulator/reset", "", nil)
	if srv.Calls("DescribeKeyPairs") != 0 {
		t.Error("reset kept the counters")
	}
	if adminCall(t, srv, "GET", "/_emulator/nope", "", nil) != 404 {
		t.Error("unknown admin route answered")
	}
}

func TestConfigErrors(t *testing.T) {
	bad := emulator.DefaultFixture()
	bad.Instances = append(bad.Instances, bad.Instances[0])
	if _, err := emulator.New(emulator.Config{Fixture: bad}); err == nil {
		t.Error("duplicate instance accepted")
	}
	bad = emulator.DefaultFixture()
	bad.Instances[0].KeyPairName = "no-such-key"
	if _, err := emulator.New(emulator.Config{Fixture: bad}); err == nil {
		t.Error("instance bound to an unknown key pair accepted")
	}
	if _, err := emulator.New(emulator.Config{Faults: map[string]emulator.Fault{"*": {DropRate: -1}}}); err == nil {
		t.Error("negative rate accepted")
	}
	if _, err := emulator.LoadFixture("testdata/nope.json"); err == nil {
		t.Error("missing fixture file loaded")
	}
	bad = emulator.DefaultFixture()
	for i := range bad.Instances {
		if bad.Instances[i].OSType == "windows" {
			bad.Instances[i].KeyPairName = "ops-2026"
			break
		}
	}
	if _, err := emulator.New(emulator.Config{Fixture: bad}); err == nil {
		t.Error("Windows instance with an SSH key pair accepted")
	}
	f, err := emulator.LoadFixture("testdata/fleet.json")
	if err != nil || len(f.Instances) != 1239 {
		t.Errorf("LoadFixture: %v", err)
	}
}

// TestDeleteKeyPair: a key pair is deleted only when no instance is bound to it, as ECS
// documents; DescribeKeyPairs then no longer finds it, and DetachKeyPair by its name is
// InvalidKeyPairName.NotFound.
func TestDeleteKeyPair(t *testing.T) {
	srv := start(t, emulator.Config{})
	if err := srv.DeleteKeyPair("cn-hangzhou", "ops-2026"); err == nil || !strings.Contains(err.Error(), "is bound to") {
		t.Fatalf("deleting a bound key pair: %v, want a refusal", err)
	}
	if err := srv.DeleteKeyPair("cn-hangzhou", "no-such-key"); err == nil {
		t.Error("deleting an unknown key pair: no error")
	}
	if err := srv.DeleteKeyPair("cn-hangzhou", "legacy-admin"); err != nil { // no instance is bound to it
		t.Fatal(err)
	}
	c := ecsClient(t, srv)
	kps, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String("cn-hangzhou"), KeyPairName: tea.String("legacy-admin")})
	if err != nil || len(kps.Body.KeyPairs.KeyPair) != 0 {
		t.Errorf("DescribeKeyPairs after the delete: %v %v", err, kps)
	}
	_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String("cn-hangzhou"), KeyPairName: tea.String("legacy-admin"),
		InstanceIds: tea.String(`["i-bp1d6tsvznfghy7y0021"]`)})
	if err == nil || !strings.Contains(err.Error(), "InvalidKeyPairName.NotFound") {
		t.Errorf("DetachKeyPair after the delete: %v", err)
	}
	if n := len(srv.KeyPairs()); n != 5 {
		t.Errorf("%d key pairs left, want 5", n)
	}
}

// TestFaultAPINames: a fault keyed by a name the emulator does not serve would never
// strike, so New, SetFault and the admin route refuse it and change nothing; every name
// of APIs(), ENS's included, and "*" are taken.
func TestFaultAPINames(t *testing.T) {
	for _, api := range []string{"detachkeypair", "DetachKeyPairs", "ens:detachKeyPair", "ListTagResources", "ecs:DetachKeyPair", ""} {
		if _, err := emulator.New(emulator.Config{Faults: map[string]emulator.Fault{api: {DropRate: 1}}}); err == nil {
			t.Errorf("New took a fault for %q", api)
		}
	}
	srv := start(t, emulator.Config{})
	for _, api := range []string{"detachkeypair", "ens:ListTags"} {
		if err := srv.SetFault(api, emulator.Fault{DropRate: 1}); err == nil || !strings.Contains(err.Error(), "ens:ListTagResources") {
			t.Errorf("SetFault(%q): %v, want a refusal that lists the APIs", api, err)
		}
		body := `{"DescribeKeyPairs": {"ThrottleRate": 1}, "` + api + `": {"DropRate": 1}}`
		if code := adminCall(t, srv, "POST", "/_emulator/faults", body, nil); code != 400 {
			t.Errorf("POST /_emulator/faults with %q: HTTP %d, want 400", api, code)
		}
	}
	if err := srv.SetFault("detachkeypair", emulator.Fault{}); err == nil || !strings.Contains(err.Error(), "did you mean DetachKeyPair?") {
		t.Errorf("SetFault of a name that differs in case: %v, want a hint", err)
	}
	if f := srv.Faults(); len(f) != 0 {
		t.Errorf("refused faults were set: %v", f)
	}
	apis := append(emulator.APIs(), "*")
	if !slices.Contains(apis, emulator.APIENSListTagResources) || !slices.Contains(apis, emulator.APIPutEvents) {
		t.Fatalf("APIs() = %v", apis)
	}
	for _, api := range apis {
		if err := srv.SetFault(api, emulator.Fault{Latency: time.Millisecond}); err != nil {
			t.Errorf("SetFault(%q): %v", api, err)
		}
	}
	if f := srv.Faults(); len(f) != len(apis) {
		t.Errorf("%d faults set, want %d", len(f), len(apis))
	}
	if _, err := emulator.New(emulator.Config{Faults: map[string]emulator.Fault{emulator.APIENSDetachKeyPair: {DropRate: 1}, "*": {}}}); err != nil {
		t.Errorf("New refused ENS's API: %v", err)
	}
}
