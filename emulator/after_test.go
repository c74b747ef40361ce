package emulator_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
)

// TestFaultsAfterTheAction: each fault that strikes after the API acted
// leaves the state changed, whatever the caller hears.
func TestFaultsAfterTheAction(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	detach := func(n ...int) (*ecs.DetachKeyPairResponse, error) {
		return c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), InstanceIds: ids(n...)})
	}
	unbound := func(n ...int) {
		t.Helper()
		for _, k := range n {
			if in, _ := srv.Instance(fmt.Sprintf(idFmt, k)); in.KeyPairName != "" {
				t.Errorf("%s still has %q", in.InstanceId, in.KeyPairName)
			}
		}
	}

	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{DropAfterRate: 1})
	if _, err := detach(31); outcome(err) != "dropped" {
		t.Errorf("DropAfterRate: %s", outcome(err))
	}
	unbound(31)
	if srv.Answered("DetachKeyPair", emulator.CodeDroppedAfter) != 1 || srv.Answered("DetachKeyPair", emulator.CodeDropped) != 0 {
		t.Errorf("answered %v", srv.Answered("DetachKeyPair", emulator.CodeDroppedAfter))
	}

	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{ErrorAfterRate: 1})
	if _, err := detach(32); outcome(err) != "ServiceUnavailable/503" && outcome(err) != "InternalError/500" {
		t.Errorf("ErrorAfterRate: %s", outcome(err))
	}
	unbound(32)

	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{EmptyRate: 1})
	resp, err := detach(33, 34)
	if err != nil || len(resp.Body.Results.Result) != 0 || tea.StringValue(resp.Body.TotalCount) != "2" || tea.StringValue(resp.Body.FailCount) != "0" {
		t.Errorf("EmptyRate: %v %v", resp, err)
	}
	unbound(33, 34)

	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{NullRate: 1})
	resp, err = detach(35, 36, 37)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Body.Results.Result
	if len(r) != 3 || r[0] != nil || r[1] == nil || tea.StringValue(r[1].InstanceId) != fmt.Sprintf(idFmt, 36) || r[2] != nil {
		t.Errorf("NullRate: %v", resp.Body)
	}
	unbound(35, 36, 37)

	// The list faults hollow only successes, and every API's list.
	_, err = c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("nope"), InstanceIds: ids(38)})
	wantError(t, err, "InvalidKeyPairName.NotFound", 404)
	emulatortest.SetFault(t, srv, "*", emulator.Fault{EmptyRate: 1})
	if resp, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1)}); err != nil ||
		len(resp.Body.Instances.Instance) != 0 || tea.Int32Value(resp.Body.TotalCount) != 1 {
		t.Errorf("DescribeInstances hollowed: %v %v", resp, err)
	}
	if resp, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)}); err != nil || len(resp.Body.KeyPairs.KeyPair) != 0 {
		t.Errorf("DescribeKeyPairs hollowed: %v %v", resp, err)
	}
	eb := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	if resp, err := eb.PutEvents([]*eventbridge.CloudEvent{cloudEvent("e-1", testBus, 1)}); err != nil || len(resp.EntryList) != 0 || len(srv.Events(testBus)) != 1 {
		t.Errorf("PutEvents hollowed: %v %v", resp, err)
	}
}

// TestFaultRatesAfter: the faults after the action happen at their rates,
// drawn with the others.
func TestFaultRatesAfter(t *testing.T) {
	const n = 1000
	srv := start(t, emulator.Config{Seed: 11, Faults: map[string]emulator.Fault{
		"DescribeKeyPairs": {ThrottleRate: 0.1, DropAfterRate: 0.2, ErrorAfterRate: 0.2, EmptyRate: 0.1, NullRate: 0.1},
	}})
	c := ecsClient(t, srv)
	got := map[string]int{}
	for range n {
		resp, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
		o := outcome(err)
		if err == nil {
			switch list := resp.Body.KeyPairs.KeyPair; {
			case len(list) == 0:
				o = "empty"
			case list[0] == nil:
				o = "null"
			}
		}
		got[o]++
	}
	t.Logf("outcomes of %d calls: %v", n, got)
	for name, rate := range map[string]float64{"ok": 0.3, "Throttling.User/400": 0.1, "dropped": 0.2, "empty": 0.1, "null": 0.1} {
		if d := float64(got[name]) - rate*n; d < -60 || d > 60 {
			t.Errorf("%s: %d of %d, want about %.0f", name, got[name], n, rate*n)
		}
	}
	if fivexx := got["ServiceUnavailable/503"] + got["InternalError/500"]; fivexx < 140 || fivexx > 260 {
		t.Errorf("5xx after: %d of %d, want about 200", fivexx, n)
	}
	if srv.Answered("DescribeKeyPairs", emulator.CodeDroppedAfter) != got["dropped"] {
		t.Errorf("Answered dropped after = %d, client saw %d", srv.Answered("DescribeKeyPairs", emulator.CodeDroppedAfter), got["dropped"])
	}
}

// TestSchedule: a change scheduled after the Nth call of an API happens
// between that call and the next, even when the call's answer is lost.
func TestSchedule(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	id1, id2 := fmt.Sprintf(idFmt, 1), fmt.Sprintf(idFmt, 2)
	for _, ch := range []emulator.Change{
		{API: "DetachKeyPair", Call: 1, InstanceId: id1, Action: emulator.ActionStart},
		{API: "DetachKeyPair", Call: 2, InstanceId: id1, Action: emulator.ActionBind, KeyPairName: "ops-2026"},
		{API: "DetachKeyPair", Call: 2, InstanceId: id2, Action: emulator.ActionStart},                          // 0002 is Stopped: fine
		{API: "DescribeInstances", Call: 1, InstanceId: "i-bp1d6tsvznfghy7y0011", Action: emulator.ActionStart}, // Running: fails when due
	} {
		if err := srv.Schedule(ch); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []emulator.Change{
		{API: "DetachKeyPair", Call: 1, InstanceId: "i-nosuch", Action: emulator.ActionStart},
		{API: "RebootInstance", Call: 1, InstanceId: id1, Action: emulator.ActionStart},
		{API: "DetachKeyPair", Call: 0, InstanceId: id1, Action: emulator.ActionStart},
		{API: "DetachKeyPair", Call: 3, InstanceId: id1, Action: "Reboot"},
		{API: "DetachKeyPair", Call: 3, InstanceId: id1, Action: emulator.ActionBind, KeyPairName: "nope"},
		{API: "DetachKeyPair", Call: 3, InstanceId: "i-bp1d6tsvznfghy7y1231", Action: emulator.ActionBind, KeyPairName: "ops-2026"},
	} {
		if err := srv.Schedule(bad); err == nil {
			t.Errorf("scheduled %+v", bad)
		}
	}

	// Call 1 detaches 0001 (Stopped), its answer is lost, and 0001 starts.
	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{DropAfterRate: 1})
	_, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(1)})
	if outcome(err) != "dropped" {
		t.Fatalf("call 1: %s", outcome(err))
	}
	if in, _ := srv.Instance(id1); in.Status != "Running" || in.KeyPairName != "" || in.PendingRestart {
		t.Fatalf("after call 1: %+v", in)
	}
	if err := srv.Schedule(emulator.Change{API: "DetachKeyPair", Call: 1, InstanceId: id1, Action: emulator.ActionStop}); err == nil {
		t.Error("scheduled after a call already made")
	}

	// Call 2, the retry: 0001 is Running and unbound; then someone binds it again.
	emulatortest.SetFault(t, srv, "DetachKeyPair", emulator.Fault{})
	resp, err := c.DetachKeyPair(&ecs.DetachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(1)})
	if err != nil || !strings.HasPrefix(results(resp.Body)[0].message, "PublicKeyNotAttachWithInstance") {
		t.Fatalf("call 2: %v %v", resp, err)
	}
	if in, _ := srv.Instance(id1); in.KeyPairName != "ops-2026" || !in.PendingRestart {
		t.Errorf("after call 2: %+v", in)
	}
	if in, _ := srv.Instance(id2); in.Status != "Running" {
		t.Errorf("0002 after call 2: %+v", in)
	}

	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1)}); err != nil {
		t.Fatal(err)
	}
	var listed []emulator.Change
	if adminCall(t, srv, "GET", "/_emulator/schedule", "", &listed); len(listed) != 4 {
		t.Fatalf("schedule = %+v", listed)
	}
	for i, ch := range listed {
		if !ch.Done || (i == 3) != (ch.Error != "") {
			t.Errorf("change %d = %+v", i, ch)
		}
	}

	// The admin route schedules too, and refuses what could never apply.
	if code := adminCall(t, srv, "POST", "/_emulator/schedule", `{"API":"AttachKeyPair","Call":1,"InstanceId":"`+id2+`","Action":"Stop"}`, &listed); code != 200 || len(listed) != 5 {
		t.Errorf("POST schedule: %d %+v", code, listed)
	}
	if code := adminCall(t, srv, "POST", "/_emulator/schedule", `{"API":"AttachKeyPair","Call":1,"InstanceId":"i-nosuch","Action":"Stop"}`, nil); code != 400 {
		t.Errorf("POST of a bad change: %d", code)
	}
}

// TestScheduleRefusals: a change that could never apply is refused with what is wrong,
// by the rules of the service whose instance it names; one that fails when due says why
// in its Error.
func TestScheduleRefusals(t *testing.T) {
	srv := start(t, emulator.Config{})
	windows := ""
	for _, in := range srv.Instances() {
		if in.OSType == "windows" {
			windows = in.InstanceId
			break
		}
	}
	for _, c := range []struct {
		ch   emulator.Change
		want string
	}{
		{emulator.Change{InstanceId: "i-nosuch", Action: emulator.ActionStart}, `no instance "i-nosuch"`},
		{emulator.Change{InstanceId: fmt.Sprintf(idFmt, 1), Action: "Reboot"}, `action "Reboot": want Start, Stop or Bind`},
		{emulator.Change{InstanceId: fmt.Sprintf(idFmt, 1), Action: emulator.ActionStop, KeyPairName: "ops-2026"}, "Stop takes no KeyPairName"},
		{emulator.Change{InstanceId: fmt.Sprintf(idFmt, 1), Action: emulator.ActionBind, KeyPairName: "nope"}, `no key pair "nope" in cn-hangzhou`},
		{emulator.Change{InstanceId: windows, Action: emulator.ActionBind, KeyPairName: "ops-2026"}, "is a Windows instance: it can have no SSH key pair"},
		{emulator.Change{InstanceId: ensID(3), Action: emulator.ActionBind, KeyPairName: "ops-2026"}, `no ENS key pair "ops-2026"`},
		{emulator.Change{InstanceId: ensID(3), Action: "Reboot"}, `action "Reboot"`},
	} {
		c.ch.API, c.ch.Call = emulator.APIDetachKeyPair, 1
		if err := srv.Schedule(c.ch); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Schedule(%+v) = %v, want %q", c.ch, err, c.want)
		}
	}

	// Due after the first DescribeInstances: a Start of a Running ECS instance and a
	// Stop of a Stopped ENS instance fail; an ENS Bind and an ECS Stop are made.
	for _, ch := range []emulator.Change{
		{InstanceId: "i-bp1d6tsvznfghy7y0011", Action: emulator.ActionStart},
		{InstanceId: ensID(3), Action: emulator.ActionStop},
		{InstanceId: ensID(14), Action: emulator.ActionBind, KeyPairName: "edge-deploy"},
		{InstanceId: "i-bp1d6tsvznfghy7y0011", Action: emulator.ActionStop},
	} {
		ch.API, ch.Call = emulator.APIDescribeInstances, 1
		if err := srv.Schedule(ch); err != nil {
			t.Fatal(err)
		}
	}
	c := ecsClient(t, srv)
	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), InstanceIds: ids(1)}); err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, ch := range srv.Scheduled() {
		errs = append(errs, ch.Error)
	}
	want := []string{"Start: instance i-bp1d6tsvznfghy7y0011 is Running, not Stopped", "Stop: instance " + ensID(3) + " is Stopped, not Running", "", ""}
	if !slices.Equal(errs, want) {
		t.Errorf("errors of the changes made %q, want %q", errs, want)
	}
	if in, _ := srv.ENSInstance(ensID(14)); in.KeyPairName != "edge-deploy" {
		t.Errorf("ENS instance 14 has %q after the Bind", in.KeyPairName)
	}
	if in, _ := srv.Instance("i-bp1d6tsvznfghy7y0011"); in.Status != emulator.StatusStopped {
		t.Errorf("ECS instance 11 is %s after the Stop", in.Status)
	}
}
