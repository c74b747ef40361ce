package localrun_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"detachkeypair/emulator/emulatortest"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestOversizedInput: whatever a caller sends, what reaches the answer, the logs and
// the result event is small, and a failure event's subject names a key pair only when
// the name is valid.
func TestOversizedInput(t *testing.T) {
	huge := strings.Repeat("A", 200_000)
	cases := []struct {
		name, payload, code string
	}{
		{"oversized key pair name", string(directRequest(map[string]any{"KeyPairName": "k" + huge, "InstanceIds": []string{instance(1)}})), "InvalidParameter.KeyPairName"},
		{"invalid key pair name", string(directRequest(map[string]any{"KeyPairName": "ops*", "InstanceIds": []string{instance(1)}})), "InvalidParameter.KeyPairName"},
		{"control characters", string(directRequest(map[string]any{"KeyPairName": "ops\n2026\x00", "InstanceIds": []string{instance(1)}})), "InvalidParameter.KeyPairName"},
		{"oversized unknown field", string(directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}, "X" + huge: 1})), "InvalidParameter.Body"},
		{"oversized HTTP method", httpRequest(strings.Repeat("G", 100_000), `{"KeyPairName":"ops-2026"}`), "InvalidParameter.Method"},
		{"oversized ECS event", ecsEvent(huge, huge, huge), "InvalidParameter.Event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, logs := startLogged(t, localrun.Options{Env: []string{"MAX_BODY_BYTES=1048576", "KEY_PAIR_NAME=ops-2026"}})
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), []byte(c.payload))
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation: %v %v", err, res.Error)
			}
			_, got := answers(t, res.Payload)
			if got[0].Code != c.code {
				t.Fatalf("answer %.300s, want %s", res.Payload, c.code)
			}
			if len(res.Payload) > 2000 {
				t.Errorf("a %d-byte answer: %.300s", len(res.Payload), res.Payload)
			}
			evs := env.Emulator.Events(env.EventBus)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			if len(evs[0].Raw) > 2000 {
				t.Errorf("a %d-byte event: %.300s", len(evs[0].Raw), evs[0].Raw)
			}
			if want := "keypair/unknown"; c.name != "oversized unknown field" && c.name != "oversized HTTP method" && c.name != "oversized ECS event" && !strings.HasSuffix(evs[0].Subject, want) {
				t.Errorf("subject %.200q, want it to end with %s", evs[0].Subject, want)
			}
			if !logs.WaitEnd(res.RequestID, 5*time.Second) {
				t.Fatal("no end line")
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if len(line) > 2000 {
					t.Errorf("a %d-byte log line: %.300s", len(line), line)
				}
			}
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)
		})
	}
}

// TestNullIsRefused: null where a value is expected is refused with the field's
// InvalidParameter code; "DryRun": null must never detach for real.
func TestNullIsRefused(t *testing.T) {
	for field, payload := range map[string]string{
		"DryRun":      `{"RegionId":"cn-hangzhou","KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"],"DryRun":null}`,
		"KeyPairName": `{"RegionId":"cn-hangzhou","KeyPairId":"ssh-bp67acfmxazb4p0001","KeyPairName":null,"InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`,
		"InstanceIds": `{"RegionId":"cn-hangzhou","KeyPairName":"ops-2026","InstanceIds":null,"Targets":{}}`,
		"Targets":     `{"RegionId":"cn-hangzhou","KeyPairName":"ops-2026","Targets":null}`,
		"RegionId":    `{"RegionId":null,"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`,
	} {
		t.Run(field, func(t *testing.T) {
			env, _ := startLogged(t, localrun.Options{})
			before := env.Emulator.Bindings()
			res, err := env.Invoke(context.Background(), []byte(payload))
			if err != nil || res.Outcome != fcruntime.Succeeded {
				t.Fatalf("invocation: %v %v", err, res.Error)
			}
			_, got := answers(t, res.Payload)
			if got[0].Code != "InvalidParameter."+field || !strings.Contains(got[0].Message, "null") {
				t.Errorf("answer %s, want InvalidParameter.%s", res.Payload, field)
			}
			emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), nil)
		})
	}
}

// httpRequest is an FC HTTP trigger event with the given method and body.
func httpRequest(method, body string) string {
	b, _ := json.Marshal(map[string]any{
		"version": "v1", "rawPath": "/", "body": body, "isBase64Encoded": false,
		"headers":        map[string]string{"Content-Type": "application/json"},
		"requestContext": map[string]any{"http": map[string]string{"method": method, "path": "/"}, "requestId": "r"},
	})
	return string(b)
}

// ecsEvent is an ECS instance event with the given id, type and new state.
func ecsEvent(id, typ, state string) string {
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "acs.ecs", "type": typ, "subject": "s",
		"data": map[string]any{"regionId": "cn-hangzhou", "content": map[string]string{"resourceId": instance(9), "state": state}},
	})
	return string(b)
}
