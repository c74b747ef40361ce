package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecsclient "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"detachkeypair/aliyun"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/handler"
	"detachkeypair/redact"
	"detachkeypair/redact/redacttest"
)

// Credentials shaped like a real STS role's (fake), for the redaction tests. The
// token does not start with CAIS, as real ones do, so that only the invocation's
// Redactor, which knows it, can find it bare.
var (
	stsToken  = "XAIS" + redacttest.Token(7)[4:]
	stsSecret = redacttest.Secret(7)
	stsKeyID  = "STS.NUgYrLnoC37mZZCNnAbez2RtY"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretThroughTheHandler: with a gateway that echoes the signed request (and so
// the security token) on any of the function's cloud calls, no 16-character piece of
// the token or the secret, raw or URL-encoded, reaches an answer, a log line or a
// result event, whatever the trigger and whether the call fails the request, single
// instances, or the emit.
func TestNoSecretThroughTheHandler(t *testing.T) {
	for _, api := range []string{"DescribeKeyPairs", "DescribeInstances", "DetachKeyPair", "PutEvents"} {
		for _, style := range redacttest.EchoStyles {
			t.Run(api+", "+style, func(t *testing.T) {
				emu, err := emulator.New(emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: stsKeyID, AccessKeySecret: stsSecret, SecurityToken: stsToken}},
					Fixture: emulator.DefaultFixture()})
				if err != nil {
					t.Fatal(err)
				}
				if err := emu.Start("127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { emu.Close() })
				gw := redacttest.NewGateway(func() string { return emu.URL() }, api, style)
				t.Cleanup(gw.Close)
				cfg := settingsFor(t, emu, map[string]string{"ECS_ENDPOINT": gw.URL, "EVENTBRIDGE_ENDPOINT": gw.URL, "EVENT_BUS": "detach-results", "MAX_ATTEMPTS": "2"})
				var logs lockedBuffer
				h := handler.New(wire(cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))

				direct := request(`"KeyPairName":"ops-2026"`, ids(1, 2))
				batch, _ := json.Marshal([]map[string]any{
					{"specversion": "1.0", "id": "e1", "source": "s", "type": "t", "data": json.RawMessage(direct)},
					{"specversion": "1.0", "id": "e2", "source": "s", "type": "t", "data": json.RawMessage(request(`"KeyPairName":"ops-2026"`, ids(3, 3)))},
				})
				var outputs []string
				for _, payload := range []string{direct, httpEvent(request(`"KeyPairName":"ops-2026"`, ids(4, 5))), string(batch)} {
					before := emu.Bindings()
					ctx, cancel := fcContext(10 * time.Second)
					fctx, _ := fccontext.FromContext(ctx)
					fctx.Credentials = fccontext.Credentials{AccessKeyId: stsKeyID, AccessKeySecret: stsSecret, SecurityToken: stsToken}
					out, err := h.Invoke(ctx, []byte(payload))
					cancel()
					// the gateway refuses the API's calls before the emulator sees them:
					// the instances changed are exactly those the answer says
					emulatortest.AssertChanges(t, before, emu.Bindings(), checkAnswer(t, out, err))
					var ie messages.InvokeResponse_Error
					if errors.As(err, &ie) {
						out = []byte(ie.Message + ie.Type)
					} else if err != nil {
						t.Fatal(err)
					}
					outputs = append(outputs, string(out))
				}
				for _, ev := range emu.Events("detach-results") {
					outputs = append(outputs, string(ev.Raw))
				}
				outputs = append(outputs, logs.String())
				all := strings.Join(outputs, "\n")
				if leaks := redacttest.Leaks(all, stsToken, stsSecret); len(leaks) > 0 {
					t.Errorf("pieces of the credentials %q in:\n%s", leaks, all)
				}
				if !strings.Contains(all, "SignatureDoesNotMatch") {
					t.Errorf("the gateway's answer is nowhere: the test proves nothing:\n%s", all)
				}
			})
		}
	}
}

// TestNoSecretThroughTheSDKs: the cloud errors the adapters make of the gateway's
// echoes, through the real SDKs, carry no piece of the token or the secret once the
// invocation's Redactor has seen them; nor, for the RPC signature's string to sign and
// request URLs, even without a Redactor (the patterns).
func TestNoSecretThroughTheSDKs(t *testing.T) {
	rpc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"RequestId": "R-RPC", "Code": "SignatureDoesNotMatch",
			"Message": "Specified signature is not matched with our calculation. server string to sign is:" + redacttest.RPCStringToSign(r)})
	}))
	defer rpc.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	red := redact.New(stsSecret, stsToken)
	for _, c := range []struct {
		name     string
		endpoint string
		patterns bool // the patterns alone must suffice
	}{
		{"RPC signature echo", strings.TrimPrefix(rpc.URL, "http://"), true},
		{"RPC request URL", closedAddr, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sdk, err := ecsclient.NewClient(&openapi.Config{
				Endpoint: tea.String(c.endpoint), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
				AccessKeyId: tea.String(stsKeyID), AccessKeySecret: tea.String(stsSecret), SecurityToken: tea.String(stsToken),
				SignatureAlgorithm: tea.String("v2"),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, sdkErr := sdk.DescribeInstancesWithContext(ctx, &ecsclient.DescribeInstancesRequest{RegionId: tea.String("cn-hangzhou")}, &dara.RuntimeOptions{Autoretry: tea.Bool(false)})
			if sdkErr == nil || len(redacttest.Leaks(sdkErr.Error(), stsToken)) == 0 {
				t.Fatalf("the SDK's error shows no token: the test proves nothing: %v", sdkErr)
			}
			ce := aliyun.ToCloudError(ctx, "ECS", sdkErr)
			outs := []string{red.Redact(ce.Error())}
			if c.patterns {
				outs = append(outs, ce.Error())
			}
			for _, out := range outs {
				if leaks := redacttest.Leaks(out, stsToken, stsSecret); len(leaks) > 0 {
					t.Errorf("%q in %s", leaks, out)
				}
			}
		})
	}
}
