package emulator_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

// implemented are the request parameters, by API, that the emulator acts on
// (emulator/README.md, "What the APIs do"). Every other parameter of the
// SDK's request model must be refused, never ignored.
var implemented = map[string][]string{
	"DescribeInstances": {"RegionId", "InstanceIds", "KeyPairName", "Status", "ZoneId", "InstanceName", "ResourceGroupId", "Tag",
		"PageNumber", "PageSize", "NextToken", "MaxResults", "DryRun"},
	"DescribeKeyPairs": {"RegionId", "KeyPairName", "KeyPairFingerPrint", "ResourceGroupId", "Tag", "PageNumber", "PageSize", "IncludePublicKey"},
	"DetachKeyPair":    {"RegionId", "KeyPairName", "InstanceIds"},
	"AttachKeyPair":    {"RegionId", "KeyPairName", "InstanceIds"},
}

// TestUnimplementedParametersRefused sends, for every field of each API's
// SDK request model, a request with that field set: a field the emulator
// does not implement is answered 400 InvalidParameter naming it; one it
// implements is never refused as unimplemented.
func TestUnimplementedParametersRefused(t *testing.T) {
	srv := start(t, emulator.Config{})
	c := ecsClient(t, srv)
	models := map[string]any{
		"DescribeInstances": ecs.DescribeInstancesRequest{}, "DescribeKeyPairs": ecs.DescribeKeyPairsRequest{},
		"DetachKeyPair": ecs.DetachKeyPairRequest{}, "AttachKeyPair": ecs.AttachKeyPairRequest{},
	}
	refused := 0
	for api, model := range models {
		typ := reflect.TypeOf(model)
		for i := range typ.NumField() {
			field := typ.Field(i)
			name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			if name == "" || name == "RegionId" {
				continue
			}
			req := reflect.New(typ)
			req.Elem().FieldByName("RegionId").Set(reflect.ValueOf(tea.String(hz)))
			req.Elem().Field(i).Set(sample(field.Type))
			out := reflect.ValueOf(c).MethodByName(api).Call([]reflect.Value{req})
			err, _ := out[1].Interface().(error)
			_, status, _ := sdkError(err)
			notImplemented := err != nil && strings.Contains(err.Error(), "not implemented by the emulator")
			if slices.Contains(implemented[api], name) {
				if notImplemented {
					t.Errorf("%s %s: refused as unimplemented: %v", api, name, err)
				}
				continue
			}
			refused++
			code, _, _ := sdkError(err)
			if !notImplemented || code != "InvalidParameter" || status != 400 || !strings.Contains(err.Error(), `"`+name) {
				t.Errorf("%s %s: want 400 InvalidParameter naming it, got %v", api, name, err)
			}
		}
	}
	if refused < 30 { // DescribeInstances alone has more than 25 unimplemented filters
		t.Errorf("only %d parameters were checked for refusal", refused)
	}
	t.Logf("%d unimplemented parameters refused", refused)

	// The gateway's Format: the emulator writes JSON only.
	status, e, _ := do(t, rpcRequest(t, srv, map[string]string{"Action": "DescribeKeyPairs", "RegionId": hz, "Format": "XML"},
		emulator.DefaultAccessKeySecret, time.Now(), "format-xml"))
	if status != 400 || e.Code != "InvalidParameter" || !strings.Contains(e.Message, `"Format"`) {
		t.Errorf("Format=XML: %d %+v", status, e)
	}
}

// sample is a non-zero value of an SDK request field's type.
func sample(typ reflect.Type) reflect.Value {
	switch typ.Kind() {
	case reflect.Pointer:
		v := reflect.New(typ.Elem())
		switch typ.Elem().Kind() {
		case reflect.String:
			v.Elem().SetString("x")
		case reflect.Int32, reflect.Int64, reflect.Int:
			v.Elem().SetInt(1)
		case reflect.Bool:
			v.Elem().SetBool(true)
		case reflect.Struct:
			for i := range typ.Elem().NumField() {
				if f := typ.Elem().Field(i); f.IsExported() && f.Type.Kind() == reflect.Pointer {
					v.Elem().Field(i).Set(sample(f.Type))
				}
			}
		}
		return v
	case reflect.Slice:
		s := reflect.MakeSlice(typ, 1, 1)
		s.Index(0).Set(sample(typ.Elem()))
		return s
	}
	panic("no sample for " + typ.String())
}

// TestBadInputRefused: what the emulator cannot honour is refused with a
// message naming the parameter: a parameter given twice, a value it cannot
// read, a query parameter on PutEvents.
func TestBadInputRefused(t *testing.T) {
	srv := start(t, emulator.Config{})
	for i, c := range []struct {
		params map[string]string
		name   string
	}{
		{map[string]string{"Action": "DescribeInstances", "RegionId": hz, "MaxResults": "ten"}, "MaxResults"},
		{map[string]string{"Action": "DescribeInstances", "RegionId": hz, "DryRun": "yes"}, "DryRun"},
		{map[string]string{"Action": "DescribeKeyPairs", "RegionId": hz, "IncludePublicKey": "1"}, "IncludePublicKey"},
		{map[string]string{"Action": "DescribeInstances", "RegionId": hz, "Tag.21.Key": "env"}, "Tag.21.Key"},
		{map[string]string{"Action": "DetachKeyPair", "RegionId": hz, "KeyPairName": "ops-2026", "InstanceIds": "i-1,i-2"}, "InstanceIds"},
	} {
		status, e, _ := do(t, rpcRequest(t, srv, c.params, emulator.DefaultAccessKeySecret, time.Now(), fmt.Sprint("bad-", i)))
		if status != 400 || e.Code != "InvalidParameter" || !strings.Contains(e.Message, `"`+c.name+`"`) {
			t.Errorf("%v: %d %+v", c.params, status, e)
		}
	}
	// A parameter twice, in the query and in the form body, both signed.
	form := url.Values{"Format": {"JSON"}, "Version": {"2014-05-26"}, "AccessKeyId": {emulator.DefaultAccessKeyID},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {"bad-twice"},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}, "Action": {"DescribeKeyPairs"}, "RegionId": {hz}}
	signed := url.Values{"RegionId": {"cn-shanghai"}}
	for k, v := range form {
		signed[k] = append(signed[k], v...)
	}
	mac := hmac.New(sha1.New, []byte(emulator.DefaultAccessKeySecret+"&"))
	mac.Write([]byte("POST&%2F&" + percent(strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(signed.Encode()))))
	form.Set("Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	r, _ := http.NewRequest(http.MethodPost, srv.URL()+"/?RegionId=cn-shanghai", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, e, _ := do(t, r); status != 400 || !strings.Contains(e.Message, `"RegionId" is given 2 times`) {
		t.Errorf("RegionId twice: %d %+v", status, e)
	}
	// PutEvents takes no query parameter.
	c := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	if _, err := c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("q-1", testBus, 1)}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/openapi/putEvents?bus=x", strings.NewReader("[]"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body["code"] != "InvalidArgument" || !strings.Contains(body["message"], `"bus"`) {
		t.Errorf("PutEvents with a query: %d %v", resp.StatusCode, body)
	}
}
