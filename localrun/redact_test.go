package localrun_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"detachkeypair/localrun"
	"detachkeypair/redact/redacttest"
)

// TestNoSecretFromTheGateway: the built function under the runner, its ECS and
// EventBridge endpoints behind a gateway that echoes the signed request (and so the
// role's security token) in every style, on the key pair lookup or on the emit: no
// piece of the token or the secret reaches an answer, a log line or a result event.
func TestNoSecretFromTheGateway(t *testing.T) {
	for _, api := range []string{"DescribeKeyPairs", "PutEvents"} {
		for _, style := range redacttest.EchoStyles {
			t.Run(api+", "+style, func(t *testing.T) {
				var target atomic.Value // the emulator's URL, once it runs
				target.Store("")
				gw := redacttest.NewGateway(func() string { return target.Load().(string) }, api, style)
				defer gw.Close()
				env, logs := startLogged(t, localrun.Options{Env: []string{"ECS_ENDPOINT=" + gw.URL, "EVENTBRIDGE_ENDPOINT=" + gw.URL}})
				target.Store(env.Emulator.URL())

				httpSample, _ := os.ReadFile("../events/http.json")
				batch, _ := os.ReadFile("../events/eventbridge-batch.json")
				var outputs []string
				for _, payload := range [][]byte{directRequest(map[string]any{"KeyPairName": "ops-2026", "InstanceIds": []string{instance(1)}}), httpSample, batch} {
					res, err := env.Invoke(context.Background(), payload)
					if err != nil {
						t.Fatal(err)
					}
					outputs = append(outputs, string(res.Payload))
					if res.Error != nil {
						outputs = append(outputs, res.Error.Message)
					}
					if !logs.WaitEnd(res.RequestID, 5*time.Second) {
						t.Fatal("no end line")
					}
				}
				for _, ev := range env.Emulator.Events(env.EventBus) {
					outputs = append(outputs, string(ev.Raw))
				}
				outputs = append(outputs, logs.String())
				all := strings.Join(outputs, "\n")
				creds := env.Credentials
				if leaks := redacttest.Leaks(all, creds.SecurityToken, creds.AccessKeySecret); len(leaks) > 0 {
					t.Errorf("pieces of the role's credentials %q in:\n%s", leaks, all)
				}
				if !strings.Contains(all, "SignatureDoesNotMatch") {
					t.Errorf("the gateway's answer is nowhere: the test proves nothing:\n%s", all)
				}
			})
		}
	}
}
