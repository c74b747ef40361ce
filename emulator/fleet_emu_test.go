package emulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

// TestQuotaPerRegion: ECS's quota holds per region: each region's calls fill windows
// of their own, and CallsIn counts them by region.
func TestQuotaPerRegion(t *testing.T) {
	clock := &fakeClock{t: time.Now().Truncate(time.Second)}
	srv := start(t, emulator.Config{Clock: clock.now, Faults: map[string]emulator.Fault{"DescribeKeyPairs": {QPS: 2}}})
	c := ecsClient(t, srv)
	for _, region := range []string{hz, "cn-shanghai", hz, "cn-shanghai", hz, "cn-shanghai"} {
		c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(region)})
	}
	if ok, th := srv.Answered("DescribeKeyPairs", ""), srv.Answered("DescribeKeyPairs", "Throttling.User"); ok != 4 || th != 2 {
		t.Errorf("%d admitted, %d throttled; want 2 a region admitted", ok, th)
	}
	if n, m := srv.CallsIn("DescribeKeyPairs", hz), srv.CallsIn("DescribeKeyPairs", "cn-shanghai"); n != 3 || m != 3 {
		t.Errorf("CallsIn %d and %d, want 3 each", n, m)
	}
}

// TestDescribeRegions: the fixture's regions, in its order, named in the language
// asked (Chinese by default), each with its endpoint; bad values refused; an account
// without regions refused as the API's error table says.
func TestDescribeRegions(t *testing.T) {
	srv := start(t, emulator.Config{Fixture: emulator.GenerateFleet(emulator.FleetSpec{Instances: 3, Regions: []string{"cn-shanghai", "cn-hangzhou"}, Empty: []string{"xx-nowhere-1"}})})
	for _, st := range styles {
		c := ecsClient(t, srv, st.opt)
		resp, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var got []string
		for _, r := range resp.Body.Regions.Region {
			got = append(got, fmt.Sprintf("%s %s %s %s", *r.RegionId, *r.LocalName, *r.RegionEndpoint, *r.Status))
		}
		want := []string{"cn-shanghai 华东2（上海） ecs.cn-shanghai.aliyuncs.com available", "cn-hangzhou 华东1（杭州） ecs.cn-hangzhou.aliyuncs.com available",
			"xx-nowhere-1 xx-nowhere-1 ecs.xx-nowhere-1.aliyuncs.com available"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", st.name, got, want)
		}
		resp, err = c.DescribeRegions(&ecs.DescribeRegionsRequest{AcceptLanguage: tea.String("en-US"), ResourceType: tea.String("instance"), InstanceChargeType: tea.String("PrePaid")})
		if err != nil || *resp.Body.Regions.Region[0].LocalName != "China (Shanghai)" {
			t.Errorf("%s: en-US: %v %v", st.name, resp, err)
		}
		for _, bad := range []*ecs.DescribeRegionsRequest{{AcceptLanguage: tea.String("xx")}, {ResourceType: tea.String("bucket")}, {InstanceChargeType: tea.String("Free")}} {
			if _, err := c.DescribeRegions(bad); outcome(err) != "InvalidParameter/400" {
				t.Errorf("%s: %v: %s", st.name, bad, outcome(err))
			}
		}
	}
	empty := start(t, emulator.Config{Fixture: &emulator.Fixture{}})
	if _, err := ecsClient(t, empty).DescribeRegions(&ecs.DescribeRegionsRequest{}); outcome(err) != "Unauthorized.EmptyRegion/403" {
		t.Errorf("no region: %s", outcome(err))
	}
}

// TestNextTokenRules: a DescribeInstances token carries on its own listing only, and
// not past NextTokenTTL (assumptions: ECS documents neither).
func TestNextTokenRules(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	srv := start(t, emulator.Config{Clock: clock.now, NextTokenTTL: time.Minute})
	c := ecsClient(t, srv)
	first, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10)})
	if err != nil || tea.StringValue(first.Body.NextToken) == "" {
		t.Fatalf("%v %v", first, err)
	}
	tok := first.Body.NextToken
	next, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10), NextToken: tok})
	if err != nil || *next.Body.Instances.Instance[0].InstanceId <= *first.Body.Instances.Instance[9].InstanceId {
		t.Fatalf("the next page: %v %v", next, err)
	}
	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), MaxResults: tea.Int32(10), NextToken: tok}); outcome(err) != "InvalidParameter/400" {
		t.Errorf("another listing's token: %s", outcome(err))
	}
	srv.ExpireNextTokens("cn-shanghai") // another region's: the token holds
	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10), NextToken: tok}); err != nil {
		t.Errorf("a token of a region whose tokens did not expire: %v", err)
	}
	srv.ExpireNextTokens(hz)
	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10), NextToken: tok}); outcome(err) != "InvalidParameter/400" {
		t.Errorf("a token expired by ExpireNextTokens: %s", outcome(err))
	}
	tok = first.Body.NextToken
	fresh, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	tok = fresh.Body.NextToken
	clock.advance(2 * time.Minute)
	if _, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz), KeyPairName: tea.String("fleet-2026"), MaxResults: tea.Int32(10), NextToken: tok}); outcome(err) != "InvalidParameter/400" {
		t.Errorf("an expired token: %s", outcome(err))
	}
}

// TestPutEventsLimits: EventBridge's limits of a call (16 events, 256 KB) and of an
// event (64 KB, reckoned as EventBridge says), each refusing the whole call.
func TestPutEventsLimits(t *testing.T) {
	srv := start(t, emulator.Config{Buses: []string{testBus}})
	eb, err := eventbridge.NewClient(&eventbridge.Config{Endpoint: tea.String(srv.Endpoint()), Protocol: tea.String("http"),
		AccessKeyId: tea.String(emulator.DefaultAccessKeyID), AccessKeySecret: tea.String(emulator.DefaultAccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
	sized := func(id string, dataBytes int) *eventbridge.CloudEvent {
		return cloudEvent(id, testBus, map[string]string{"x": strings.Repeat("x", dataBytes-8)}) // {"x":"…"} is 8 bytes more
	}
	many := make([]*eventbridge.CloudEvent, 17)
	for i := range many {
		many[i] = sized(fmt.Sprint("m", i), 100)
	}
	var five []*eventbridge.CloudEvent
	for i := range 5 {
		five = append(five, sized(fmt.Sprint("f", i), 60<<10))
	}
	for _, c := range []struct {
		name string
		evs  []*eventbridge.CloudEvent
		ok   bool
	}{
		{"16 small events", many[:16], true},
		{"17 events", many, false},
		{"an event of 64 KB", []*eventbridge.CloudEvent{sized("a", 64<<10-200)}, true},
		{"an event over 64 KB", []*eventbridge.CloudEvent{sized("b", 64<<10)}, false},
		{"5 events of 60 KB", five, false},
		{"4 events of 60 KB", five[:4], true},
	} {
		_, err := eb.PutEvents(c.evs)
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "InvalidArgument") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if n := len(srv.Events(testBus)); n != 16+1+4 {
		t.Errorf("%d events recorded", n)
	}
}

// TestGenerateFleet: the same spec gives the same fleet, valid, with the shares asked
// for, roughly, and the key pairs in every region.
func TestGenerateFleet(t *testing.T) {
	spec := emulator.FleetSpec{Seed: 3, Instances: 3001, Empty: []string{"ap-southeast-1"}, Unbound: 0.1, OtherKey: 0.1, Running: 0.2, Protected: 0.05}
	f, g := emulator.GenerateFleet(spec), emulator.GenerateFleet(spec)
	if fmt.Sprint(f) != fmt.Sprint(g) {
		t.Fatal("the same spec gave two fleets")
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, in := range f.Instances {
		count[in.RegionId]++
		switch {
		case in.KeyPairName == "":
			count["unbound"]++
		case in.KeyPairName == emulator.OtherFleetKeyPair:
			count["other"]++
		}
		if in.Status == emulator.StatusRunning {
			count["running"]++
		}
		if slices.ContainsFunc(in.Tags, isProtectedTag) {
			count["protected"]++
		}
	}
	if count["cn-hangzhou"] != 1001 || count["cn-shanghai"] != 1000 || count["cn-beijing"] != 1000 || len(f.Regions) != 4 {
		t.Errorf("per region %v, regions %v", count, f.Regions)
	}
	for k, want := range map[string]int{"unbound": 300, "other": 300, "running": 600, "protected": 150} {
		if n := count[k]; n < want*7/10 || n > want*13/10 {
			t.Errorf("%s: %d of 3001, want about %d", k, n, want)
		}
	}
	if len(f.KeyPairs) != 6 {
		t.Errorf("key pairs %+v", f.KeyPairs)
	}
}

func isProtectedTag(t emulator.Tag) bool { return t.Key == emulator.ProtectedTagKey }

// TestOnCall: a hook runs after each call of its API, with the call's number.
func TestOnCall(t *testing.T) {
	srv := start(t, emulator.Config{})
	var seen []int
	srv.OnCall("DescribeKeyPairs", func(n int) { seen = append(seen, n) })
	c := ecsClient(t, srv)
	for range 3 {
		c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
	}
	c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(hz)})
	if !slices.Equal(seen, []int{1, 2, 3}) {
		t.Errorf("hook saw %v", seen)
	}
}

// fcCall sends an InvokeFunction request signed as darabonba-openapi signs a ROA call
// (ACS3-HMAC-SHA256), with the headers given, and returns the answer's status, error
// code and headers.
func fcCall(t *testing.T, srv *emulator.Server, function string, headers map[string]string, body []byte) (int, string, http.Header) {
	t.Helper()
	path := "/2023-03-30/functions/" + function + "/invocations"
	r, _ := http.NewRequest(http.MethodPost, srv.URL()+path, bytes.NewReader(body))
	sum := sha256.Sum256(body)
	h := map[string]string{
		"host": srv.Endpoint(), "x-acs-action": "InvokeFunction", "x-acs-version": "2023-03-30",
		"x-acs-date": time.Now().UTC().Format("2006-01-02T15:04:05Z"), "x-acs-signature-nonce": fmt.Sprint(time.Now().UnixNano()),
		"x-acs-content-sha256": hex.EncodeToString(sum[:]), "content-type": "application/octet-stream",
	}
	for k, v := range headers {
		h[k] = v
	}
	var names []string
	for k := range h {
		if k == "host" || k == "content-type" || strings.HasPrefix(k, "x-acs-") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var canon strings.Builder
	canon.WriteString("POST\n" + path + "\n\n")
	for _, k := range names {
		canon.WriteString(k + ":" + h[k] + "\n")
	}
	canon.WriteString("\n" + strings.Join(names, ";") + "\n" + h["x-acs-content-sha256"])
	hashed := sha256.Sum256([]byte(canon.String()))
	mac := hmac.New(sha256.New, []byte(emulator.DefaultAccessKeySecret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(hashed[:])))
	for k, v := range h {
		if k != "host" {
			r.Header.Set(k, v)
		}
	}
	r.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+emulator.DefaultAccessKeyID+",SignedHeaders="+strings.Join(names, ";")+",Signature="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Code, resp.Header
}

// TestInvokeFunction: FC's asynchronous InvokeFunction: accepted once per task id
// (202, the request id and task id in headers), duplicates refused with 409; task ids
// need the function's task mode and FC's form; unknown functions, synchronous calls,
// payloads over 128 KB and unsigned requests refused.
func TestInvokeFunction(t *testing.T) {
	srv := start(t, emulator.Config{})
	var got []string
	srv.PutFunction(emulator.FCFunction{Name: "f", AsyncTask: true, Invoke: func(p []byte) (string, error) {
		got = append(got, string(p))
		return fmt.Sprint("1-req-", len(got)), nil
	}})
	srv.PutFunction(emulator.FCFunction{Name: "plain", Invoke: func(p []byte) (string, error) { return "1-plain", nil }})
	async := map[string]string{"x-fc-invocation-type": "Async", "x-fc-async-task-id": "run-1-cn-hangzhou-p2"}
	status, _, h := fcCall(t, srv, "f", async, []byte(`{"a":1}`))
	if status != http.StatusAccepted || h.Get("x-fc-request-id") != "1-req-1" || h.Get("x-fc-async-task-id") != "run-1-cn-hangzhou-p2" {
		t.Errorf("accepted: %d %v", status, h)
	}
	for _, c := range []struct {
		name, function string
		headers        map[string]string
		body           []byte
		status         int
		code           string
	}{
		{"the same task id", "f", async, []byte(`{}`), 409, "AsyncTaskAlreadyExists"},
		{"a task id of another form", "f", map[string]string{"x-fc-invocation-type": "Async", "x-fc-async-task-id": "1-bad id"}, nil, 400, "InvalidArgument"},
		{"a task id without task mode", "plain", async, nil, 400, "InvalidArgument"},
		{"no such function", "nope", async, nil, 404, "FunctionNotFound"},
		{"a synchronous call", "f", map[string]string{"x-fc-async-task-id": "t2"}, nil, 400, "InvalidArgument"},
		{"a payload over 128 KB", "f", map[string]string{"x-fc-invocation-type": "Async"}, bytes.Repeat([]byte("x"), 128<<10+1), 400, "EntityTooLarge"},
	} {
		if status, code, _ := fcCall(t, srv, c.function, c.headers, c.body); status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}
	if status, _, _ := fcCall(t, srv, "plain", map[string]string{"x-fc-invocation-type": "Async"}, []byte(`{}`)); status != http.StatusAccepted {
		t.Errorf("without a task id: %d", status)
	}
	resp, err := http.Post(srv.URL()+"/2023-03-30/functions/f/invocations", "application/octet-stream", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(got) != 1 || got[0] != `{"a":1}` {
		t.Errorf("unsigned: %d; the function got %q", resp.StatusCode, got)
	}
	if tasks := srv.FCTasks(); len(tasks) != 1 || tasks[0].RequestID != "1-req-1" || srv.Calls(emulator.APIInvokeFunction) != 9 {
		t.Errorf("tasks %+v, %d calls", tasks, srv.Calls(emulator.APIInvokeFunction))
	}
}
