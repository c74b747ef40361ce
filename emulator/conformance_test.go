package emulator_test

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/credentials"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
)

// The conformance guard: every answer of the emulator, decoded as JSON, may
// hold only the fields that the SDK's response model declares, each with
// the JSON type the model gives it (a string where the model says *string,
// as DetachKeyPair's counts and codes). A field kept on purpose beyond the
// model must be listed in emulator.BeyondModel, the one allow-list.

// models are the response models, by the answer they describe: the SDKs' (sdkModels)
// and ENS's (ensModels, declared from the reference in ens_models_test.go).
var models = joinModels(sdkModels, ensModels)

// joinModels is one map of the models of every set; a name in two sets is a mistake.
func joinModels(sets ...map[string]reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, set := range sets {
		for name, typ := range set {
			if _, dup := out[name]; dup {
				panic("conformance: two models for " + name)
			}
			out[name] = typ
		}
	}
	return out
}

// sdkModels are the ECS and EventBridge SDKs' response models.
var sdkModels = map[string]reflect.Type{
	"DescribeKeyPairs":  reflect.TypeFor[ecs.DescribeKeyPairsResponseBody](),
	"DescribeInstances": reflect.TypeFor[ecs.DescribeInstancesResponseBody](),
	"DetachKeyPair":     reflect.TypeFor[ecs.DetachKeyPairResponseBody](),
	"AttachKeyPair":     reflect.TypeFor[ecs.AttachKeyPairResponseBody](),
	"DescribeRegions":   reflect.TypeFor[ecs.DescribeRegionsResponseBody](),
	"PutEvents":         reflect.TypeFor[eventbridge.PutEventsResponse](),
	"ECS error":         ecsErrorModel(),
	"EventBridge error": ebErrorModel(),
}

// ecsErrorModel is what darabonba-openapi (v2.1.14, client.go
// doRequest_opResponse and doRPCRequest_opResponse) reads of an error body
// into its ClientError/ServerError/ThrottlingError: the fields of ClientError
// that come from the body, under their own names. The others come from
// elsewhere: StatusCode (the HTTP status), RetryAfter (a header), Data (the
// whole body, kept as is), Name and Stack (the client's).
func ecsErrorModel() reflect.Type {
	notFromBody := []string{"StatusCode", "RetryAfter", "Data", "Name", "Stack"}
	var fields []reflect.StructField
	for f := range reflect.TypeFor[openapi.ClientError]().Fields() {
		if f.IsExported() && !slices.Contains(notFromBody, f.Name) {
			f.Tag = reflect.StructTag(`json:"` + f.Name + `"`)
			fields = append(fields, f)
		}
	}
	return reflect.StructOf(fields)
}

// ebErrorModel is what eventbridge-sdk v1.3.3 (eventbridge/client.go,
// DoRequest) reads of an error body into a tea.SDKError: "code" and
// "message", and "requestId" into the message, all taken as strings.
func ebErrorModel() reflect.Type {
	var fields []reflect.StructField
	for _, name := range []string{"code", "message", "requestId"} {
		fields = append(fields, reflect.StructField{Name: strings.ToUpper(name[:1]) + name[1:], Type: reflect.TypeFor[*string](), Tag: reflect.StructTag(`json:"` + name + `"`)})
	}
	return reflect.StructOf(fields)
}

// conform appends to problems every field of v (JSON decoded with
// UseNumber) under path that typ does not declare and that allowed does not
// list, and every declared one whose JSON type differs from the model's.
func conform(path string, v any, typ reflect.Type, allowed func(path string) bool, problems *[]string) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	bad := func(want string) {
		*problems = append(*problems, fmt.Sprintf("%s: %s where the model says %s%s", path, jsonType(v), want, modelName(typ)))
	}
	switch typ.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			bad("an object")
			return
		}
		fields := map[string]reflect.Type{}
		for f := range typ.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, key := range slices.Sorted(mapsKeys(m)) {
			sub := strings.TrimPrefix(path+"."+key, ".")
			ft, ok := fields[key]
			switch {
			case ok:
				conform(sub, m[key], ft, allowed, problems)
			case !allowed(sub):
				*problems = append(*problems, fmt.Sprintf("%s: not declared by the model%s", sub, modelName(typ)))
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			bad("an array")
			return
		}
		for _, e := range list {
			conform(path+"[]", e, typ.Elem(), allowed, problems)
		}
	case reflect.Map, reflect.Interface:
		if _, ok := v.(map[string]any); !ok && typ.Kind() == reflect.Map {
			bad("an object")
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			bad("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("a boolean")
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n, ok := v.(json.Number); !ok {
			bad("an integer")
		} else if _, err := n.Int64(); err != nil {
			bad("an integer")
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			bad("a number")
		}
	default:
		bad("something the guard does not know")
	}
}

// modelName names a model's struct, when it has a name.
func modelName(typ reflect.Type) string {
	if typ.Name() == "" {
		return ""
	}
	return " (" + typ.Name() + ")"
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "an object"
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// recorded is one answer of the emulator, as a recording proxy saw it.
type recorded struct {
	model  string // the key of models that describes it
	status int
	body   []byte
}

// recorder is an HTTP front for an emulator that records every answer.
type recorder struct {
	mu      sync.Mutex
	answers []recorded
	srv     *httptest.Server
}

func newRecorder(t *testing.T, emu *emulator.Server) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := httptest.NewRecorder()
		emu.Handler().ServeHTTP(cw, r)
		for k, v := range cw.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(cw.Code)
		w.Write(cw.Body.Bytes())

		model := "PutEvents"
		if r.URL.Path != "/openapi/putEvents" {
			model = r.Header.Get("x-acs-action")
			if model == "" {
				model = r.URL.Query().Get("Action")
			}
			product := "ECS"
			if version := cmp.Or(r.Header.Get("x-acs-version"), r.URL.Query().Get("Version")); version == "2017-11-10" {
				product = "ENS"
				model = "ENS " + model
			}
			if cw.Code != http.StatusOK {
				model = product + " error"
			}
		} else if cw.Code != http.StatusOK {
			model = "EventBridge error"
		}
		rec.mu.Lock()
		rec.answers = append(rec.answers, recorded{model, cw.Code, cw.Body.Bytes()})
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) endpoint() string { return strings.TrimPrefix(rec.srv.URL, "http://") }

// check decodes every recorded answer against its model and returns the
// problems, each once, with how many answers had it.
func (rec *recorder) check(allowed func(model, path string) bool) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	counts := map[string]int{}
	for _, a := range rec.answers {
		typ, ok := models[a.model]
		if !ok {
			counts[fmt.Sprintf("%s: no model for this answer (status %d)", a.model, a.status)]++
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(a.body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			counts[fmt.Sprintf("%s: not JSON: %v", a.model, err)]++
			continue
		}
		var problems []string
		conform("", v, typ, func(path string) bool { return allowed(a.model, path) }, &problems)
		for _, p := range slices.Compact(problems) {
			counts[a.model+" "+p]++
		}
	}
	var out []string
	for p, n := range counts {
		out = append(out, fmt.Sprintf("%s [%d answers]", p, n))
	}
	sort.Strings(out)
	return out
}

// beyondModel turns an allow-list into the guard's question.
func beyondModel(list []emulator.Extra) func(model, path string) bool {
	return func(model, path string) bool {
		return slices.ContainsFunc(list, func(x emulator.Extra) bool { return x.Answer == model && x.Field == path })
	}
}

// exercise makes the emulator answer every API, over the fleet's every
// shape (Stopped, Running, Starting, Windows, unbound, tagged and untagged
// instances; key pairs with and without tags, public keys), both paging
// modes, and every kind of error answer.
func exercise(t *testing.T, emu *emulator.Server, endpoint string) {
	t.Helper()
	onRecorder := func(c *openapi.Config) { c.Endpoint = tea.String(endpoint) }
	emu.SetInstance(emulator.Instance{RegionId: hz, InstanceId: "i-bp1starting000001", Status: "Starting", KeyPairName: "ops-2026"})
	emu.AddKeyPair(emulator.KeyPair{RegionId: hz, KeyPairName: "bare-key"})
	for _, st := range styles {
		c := ecsClient(t, emu, st.opt, onRecorder)
		call := func(err error) {
			t.Helper()
			if _, _, ok := sdkError(err); err != nil && !ok {
				t.Fatalf("%s: no answer: %v", st.name, err)
			}
		}
		for _, req := range []*ecs.DescribeRegionsRequest{{}, {AcceptLanguage: tea.String("en-US")}, {ResourceType: tea.String("nope")}} {
			_, err := c.DescribeRegions(req)
			call(err)
		}
		for _, region := range []string{hz, "cn-shanghai", "ap-southeast-1", "cn-nowhere"} {
			_, err := c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(region), IncludePublicKey: tea.Bool(true)})
			call(err)
			_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(region), PageSize: tea.Int32(50)})
			call(err)
			for page := int32(1); page <= 2; page++ { // the fleet's first 100 hold every shape but the ones below
				_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(region), PageSize: tea.Int32(50), PageNumber: tea.Int32(page)})
				call(err)
			}
			resp, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(region), MaxResults: tea.Int32(10)})
			call(err)
			if err == nil {
				_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(region), MaxResults: tea.Int32(10), NextToken: resp.Body.NextToken})
				call(err)
			}
		}
		for _, req := range []*ecs.DescribeInstancesRequest{
			{InstanceIds: tea.String(`["i-bp1starting000001","i-bp1d6tsvznfghy7y1231","i-bp1d6tsvznfghy7y1233","i-bp1d6tsvznfghy7y1230","i-bp1d6tsvznfghy7y1229"]`)},
			{DryRun: tea.Bool(true)}, {PageSize: tea.Int32(101)}, {VpcId: tea.String("vpc-1")}, {InstanceIds: tea.String("not json")},
		} {
			req.RegionId = tea.String(hz)
			_, err := c.DescribeInstances(req)
			call(err)
		}
		for _, req := range []*ecs.DetachKeyPairRequest{
			{KeyPairName: tea.String("ops-2026"), InstanceIds: ids(1, 11, 16, 21, 9999)},
			{KeyPairName: tea.String("ops-2026"), InstanceIds: tea.String(`["i-bp1starting000001"]`)},
			{KeyPairName: tea.String("ops-2026"), InstanceIds: ids(3, 1231)},
			{KeyPairName: tea.String("nope"), InstanceIds: ids(3)}, {KeyPairName: tea.String("ops-2026")}, {InstanceIds: ids(3)},
			{KeyPairName: tea.String("ops-2026"), InstanceIds: ids(3), OwnerId: tea.Int64(1)},
		} {
			req.RegionId = tea.String(hz)
			_, err := c.DetachKeyPair(req)
			call(err)
		}
		_, err := c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(1, 22, 9999)})
		call(err)
		_, err = c.AttachKeyPair(&ecs.AttachKeyPairRequest{RegionId: tea.String(hz), KeyPairName: tea.String("ops-2026"), InstanceIds: ids(1232)})
		call(err)
		_, err = ecsClient(t, emu, st.opt, onRecorder, withKey(emulator.DefaultAccessKeyID, "WrongSecret", "")).DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
		call(err)
		_, err = ecsClient(t, emu, st.opt, onRecorder, withKey("LTAI5tNoSuchKey00000000", "x", "")).DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
		call(err)
		for _, f := range []emulator.Fault{{ThrottleRate: 1}, {ForbiddenRate: 1}, {ErrorRate: 1}} {
			emulatortest.SetFault(t, emu, "*", f)
			_, err = c.DescribeKeyPairs(&ecs.DescribeKeyPairsRequest{RegionId: tea.String(hz)})
			call(err)
		}
		emulatortest.SetFault(t, emu, "*", emulator.Fault{})
	}
	for _, path := range []string{"/?Action=DescribeInstances&Version=2014-05-26", "/?Action=Nope&Version=2014-05-26", "/?Version=2014-05-26", "/?Action=DescribeInstances", "/nowhere"} {
		resp, err := http.Get("http://" + endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	ebCfg := func(secret string) *eventbridge.Client {
		c, err := eventbridge.NewClient(&eventbridge.Config{Endpoint: tea.String(endpoint), Protocol: tea.String("http"),
			AccessKeyId: tea.String(emulator.DefaultAccessKeyID), AccessKeySecret: tea.String(secret), RegionId: tea.String(hz)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	eb := ebCfg(emulator.DefaultAccessKeySecret)
	for _, batch := range [][]*eventbridge.CloudEvent{
		{cloudEvent("c-1", testBus, map[string]int{"a": 1}), cloudEvent("c-2", testBus, 2)},
		{cloudEvent("c-3", testBus, 1), cloudEvent("c-4", "other-bus", 1)},
		{cloudEvent("c-5", "no-such-bus", 1)},
	} {
		eb.PutEvents(batch)
	}
	emulatortest.SetFault(t, emu, "PutEvents", emulator.Fault{ThrottleRate: 1})
	eb.PutEvents([]*eventbridge.CloudEvent{cloudEvent("c-6", testBus, 1)})
	emulatortest.SetFault(t, emu, "PutEvents", emulator.Fault{})
	ebCfg("WrongSecret").PutEvents([]*eventbridge.CloudEvent{cloudEvent("c-7", testBus, 1)})
	// An event without an id fails alone (the SDK would not send it).
	putEventsRaw(t, endpoint, `[{"id":"c-8","source":"s","specversion":"1.0","type":"t","aliyuneventbusname":"`+testBus+`"},`+
		`{"source":"s","specversion":"1.0","type":"t","aliyuneventbusname":"`+testBus+`"}]`)
	putEventsRaw(t, endpoint, `not json`)
	exerciseENS(t, emu, endpoint)
}

// exerciseENS makes the emulator answer every ENS API with both signatures, over every
// shape of the ENS fleet (every status, bound and unbound instances, every page) and
// every kind of error answer.
func exerciseENS(t *testing.T, emu *emulator.Server, endpoint string) {
	t.Helper()
	for _, st := range styles {
		c := ensClient(t, emu, endpoint, st.opt)
		call := func(action string, query map[string]string) {
			t.Helper()
			if _, err := c.call(action, query); err != nil && err.Status == 0 {
				t.Fatalf("%s %s: no answer: %v", st.name, action, err)
			}
		}
		call("DescribeKeyPairs", nil)
		call("DescribeKeyPairs", map[string]string{"KeyPairId": edgeOps, "PageSize": "50"})
		call("DescribeKeyPairs", map[string]string{"KeyPairName": "edge-*", "PageSize": "2", "PageNumber": "2"})
		for page := 1; page <= 3; page++ {
			call("DescribeInstances", map[string]string{"PageSize": "100", "PageNumber": fmt.Sprint(page)})
		}
		call("DescribeInstances", map[string]string{"InstanceIds": ensIDs(1, 7, 8, 9, 10, 14, 99999)})
		call("DescribeInstances", map[string]string{"EnsRegionIds": `["cn-beijing-cmcc"]`, "Tags": `[{"Key":"env","Value":"staging"}]`, "Status": "Stopped"})
		for _, bad := range []map[string]string{{"PageSize": "101"}, {"Status": "Starting"}, {"VSwitchId": "vsw-1"}, {"InstanceIds": "not json"}} {
			call("DescribeInstances", bad)
		}
		for _, q := range []map[string]string{
			{"KeyPairId": edgeOps, "InstanceIds": ensIDs(1, 7, 8, 9, 10, 11, 14, 99999)},
			{"KeyPairName": "edge-ops-2026", "InstanceIds": ensIDs(2, 14)},
			{"KeyPairId": edgeOps, "InstanceIds": ensIDs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)},
			{"KeyPairId": "ssh-nope", "InstanceIds": ensIDs(3)}, {"KeyPairId": edgeOps}, {"InstanceIds": ensIDs(3)},
		} {
			call("DetachKeyPair", q)
		}
		call("AttachKeyPair", map[string]string{"KeyPairName": "edge-legacy", "InstanceIds": ensIDs(15, 1, 7, 99999)})
		call("ListTagResources", map[string]string{"ResourceType": "instance", "ResourceId.1": ensID(1), "ResourceId.2": ensID(14), "ResourceId.3": ensID(266)})
		call("ListTagResources", map[string]string{"ResourceType": "instance", "NextToken": "tags-500"})
		call("ListTagResources", map[string]string{"ResourceType": "disk"})
		call("Nope", nil)
		for _, f := range []emulator.Fault{{ThrottleRate: 1}, {ForbiddenRate: 1}, {ErrorRate: 1}} {
			emulatortest.SetFault(t, emu, emulator.APIENSDetachKeyPair, f)
			call("DetachKeyPair", map[string]string{"KeyPairId": edgeOps, "InstanceIds": ensIDs(3)})
		}
		emulatortest.SetFault(t, emu, emulator.APIENSDetachKeyPair, emulator.Fault{})
		wrong := ensClientAs(t, endpoint, &credentials.AccessKey{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: "WrongSecret"}, st.opt)
		if _, err := wrong.call("DescribeKeyPairs", nil); err == nil || err.Code != "SignatureDoesNotMatch" {
			t.Errorf("%s: a wrong secret was answered %v", st.name, err)
		}
	}
}

// putEventsRaw posts a PutEvents body signed as eventbridge-util signs it.
func putEventsRaw(t *testing.T, endpoint, body string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "http://"+endpoint+"/openapi/putEvents", strings.NewReader(body))
	date := time.Now().UTC().Format(http.TimeFormat)
	r.Header.Set("Date", date)
	r.Header.Set("Content-Type", "application/cloudevents-batch+json; charset=utf-8")
	r.Header.Set("x-acs-signature-nonce", fmt.Sprint(time.Now().UnixNano()))
	mac := hmac.New(sha1.New, []byte(emulator.DefaultAccessKeySecret))
	mac.Write([]byte("POST\n\napplication/cloudevents-batch+json; charset=utf-8\n" + date + "\nx-acs-signature-nonce:" + r.Header.Get("x-acs-signature-nonce") + "\n/openapi/putEvents"))
	r.Header.Set("Authorization", "acs:"+emulator.DefaultAccessKeyID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestConformance is the guard: every answer conforms to the SDK's models,
// but for the fields the allow-list keeps on purpose; each of those is
// needed (removing it from the list fails the guard); and with their off
// switches the answers need no allow-list at all.
func TestConformance(t *testing.T) {
	run := func(cfg emulator.Config) *recorder {
		cfg.Buses = []string{testBus, "other-bus"}
		emu := start(t, cfg)
		rec := newRecorder(t, emu)
		exercise(t, emu, rec.endpoint())
		return rec
	}
	documented := run(emulator.Config{})
	undocumented := run(emulator.Config{ExposeKeyPairIDs: true})
	list := emulator.BeyondModel()
	for _, rec := range []*recorder{documented, undocumented} {
		for _, p := range rec.check(beyondModel(list)) {
			t.Error(p)
		}
	}
	seen := map[string]bool{}
	for _, a := range documented.answers {
		seen[a.model] = true
	}
	for model := range models {
		if !seen[model] {
			t.Errorf("no answer of %s was checked", model)
		}
	}
	t.Logf("%d + %d answers checked", len(documented.answers), len(undocumented.answers))

	// Every entry of the allow-list is needed: without it, the guard fails.
	for i, x := range list {
		without := slices.Delete(slices.Clone(list), i, i+1)
		problems := append(documented.check(beyondModel(without)), undocumented.check(beyondModel(without))...)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, x.Answer+" "+x.Field+": not declared") }) {
			t.Errorf("the guard passes without the allow-list entry %s %s", x.Answer, x.Field)
		}
	}

	// The off switches: the answers then need no allow-list.
	for _, p := range run(emulator.Config{ModelOnly: true}).check(beyondModel(nil)) {
		t.Errorf("ModelOnly: %s", p)
	}
}

// TestConformanceGuard shows what the guard catches, on made-up answers.
func TestConformanceGuard(t *testing.T) {
	for _, c := range []struct {
		model, body, want string
	}{
		{"DetachKeyPair", `{"RequestId":"r","TotalCount":"1","FailCount":"0","Results":{"Result":[{"Code":"200","InstanceId":"i","Message":"m","Success":"true"}]}}`, ""},
		{"DetachKeyPair", `{"TotalCount":1}`, "TotalCount: a number where the model says a string"},
		{"DetachKeyPair", `{"Results":{"Result":[{"Code":200}]}}`, "Results.Result[].Code: a number where the model says a string"},
		{"DetachKeyPair", `{"Results":{"Result":[{"Success":true}]}}`, "Results.Result[].Success: a boolean where the model says a string"},
		{"DetachKeyPair", `{"KeyPairId":"ssh-1"}`, "KeyPairId: not declared by the model"},
		{"DescribeKeyPairs", `{"KeyPairs":{"KeyPair":[{"KeyPairId":"ssh-1"}]}}`, "KeyPairs.KeyPair[].KeyPairId: not declared by the model"},
		{"DescribeKeyPairs", `{"TotalCount":"5"}`, "TotalCount: a string where the model says an integer"},
		{"DescribeInstances", `{"Instances":{"Instance":[{"Cpu":2.5}]}}`, "Instances.Instance[].Cpu: a number where the model says an integer"},
		{"DescribeInstances", `{"Instances":{"Instance":[null]}}`, "Instances.Instance[]: null where the model says an object"},
		{"DescribeInstances", `{"Instances":[]}`, "Instances: an array where the model says an object"},
		{"PutEvents", `{"FailedEntryCount":"0"}`, "FailedEntryCount: a string where the model says an integer"},
		{"ECS error", `{"RequestId":"r","Code":"c","Message":"m","Extra":1}`, "Extra: not declared by the model"},
		{"EventBridge error", `{"requestId":"r","code":"c","message":"m","success":false}`, "success: not declared by the model"},
		{"EventBridge error", `{"RequestId":"r"}`, "RequestId: not declared by the model"},
		{"ENS DetachKeyPair", `{"RequestId":"r","TotalCount":1,"FailCount":0,"Results":[{"Code":200,"InstanceId":"i","Message":"successful","Success":true}]}`, ""},
		{"ENS DetachKeyPair", `{"Results":{"Result":[]}}`, "Results: an object where the model says an array"},
		{"ENS DetachKeyPair", `{"Results":[{"Code":"200"}]}`, "Results[].Code: a string where the model says an integer"},
		{"ENS DetachKeyPair", `{"Results":[{"Success":"true"}]}`, "Results[].Success: a string where the model says a boolean"},
		{"ENS DescribeInstances", `{"Instances":{"Instance":[{"Cpu":2}]}}`, "Instances.Instance[].Cpu: a number where the model says a string"},
		{"ENS DescribeKeyPairs", `{"KeyPairs":{"KeyPair":[{"PublicKey":"ssh-ed25519 x"}]}}`, "KeyPairs.KeyPair[].PublicKey: not declared by the model"},
	} {
		rec := &recorder{answers: []recorded{{c.model, 200, []byte(c.body)}}}
		problems := rec.check(beyondModel(nil))
		switch {
		case c.want == "" && len(problems) != 0:
			t.Errorf("%s %s: %v", c.model, c.body, problems)
		case c.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], c.want)):
			t.Errorf("%s %s: %v, want %q", c.model, c.body, problems, c.want)
		}
	}
}
