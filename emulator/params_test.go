package emulator_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
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
