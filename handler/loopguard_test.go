package handler_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"detachkeypair/detach"
	"detachkeypair/handler"
	"detachkeypair/settings"
)

// ownEvent is a CloudEvent from source whose data is a valid request for two stopped
// instances bound to deploy-ci: if the function ran it, they would lose their key pair.
func ownEvent(source, id string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":%q,"type":"keypair.detach.completed",
		"subject":"acs:ecs:cn-hangzhou:1234567890123456:keypair/deploy-ci","aliyuneventbusname":"detach-results",
		"data":{"RegionId":"cn-hangzhou","KeyPairName":"deploy-ci","InstanceIds":["i-bp1d6tsvznfghy7y0017","i-bp1d6tsvznfghy7y0018"]}}`, id, source)
}

// TestLoopGuard: an EventBridge event whose source is the function's own EVENT_SOURCE is
// refused with InvalidParameter.Event, as a normal answer (not retried), logged, with no
// cloud call, nothing detached and no result event (which would come back the same way);
// other events of the same invocation run; the guard follows the EVENT_SOURCE setting.
func TestLoopGuard(t *testing.T) {
	cases := []struct {
		name     string
		source   string // EVENT_SOURCE ("" = default)
		payload  string
		refused  []bool // per event of the payload
		detached int
	}{
		{name: "own result event", payload: ownEvent(settings.DefaultEventSource, "ev-1"), refused: []bool{true}},
		{name: "own event in a batch with a request",
			payload: "[" + ownEvent(settings.DefaultEventSource, "ev-1") + "," + ownEvent("acs.custom.ops-portal", "ev-2") + "]",
			refused: []bool{true, false}, detached: 2},
		{name: "custom EVENT_SOURCE", source: "acs.fc.detacher-eu", payload: ownEvent("acs.fc.detacher-eu", "ev-1"), refused: []bool{true}},
		{name: "the default source is not special", source: "acs.fc.detacher-eu",
			payload: ownEvent(settings.DefaultEventSource, "ev-1"), refused: []bool{false}, detached: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			emu := newEmulator(t, nil, 7, false)
			cfg := settingsFor(t, emu, map[string]string{"EVENTBRIDGE_ENDPOINT": emu.URL(),
				"EVENT_BUS": "detach-results", "EVENT_SOURCE": c.source})
			var logs bytes.Buffer
			h := handler.New(wire(cfg, slog.New(slog.NewJSONHandler(&logs, nil))))
			e := &env{t: t, emu: emu, h: h}
			before := e.emu.Bindings()

			ctx, cancel := fcContext(30 * time.Second)
			defer cancel()
			out, err := h.Invoke(ctx, []byte(c.payload))
			if err != nil {
				t.Fatalf("the invocation failed (%v): a refused event must not be retried", err)
			}
			var answers []json.RawMessage
			if err := json.Unmarshal(out, &answers); err != nil || len(answers) != len(c.refused) {
				t.Fatalf("answer %s, want %d answers", out, len(c.refused))
			}
			refusals := 0
			for i, a := range answers {
				var er detach.ErrorResponse
				json.Unmarshal(a, &er)
				refused := er.Code == "InvalidParameter.Event" && strings.Contains(er.Message, "own EVENT_SOURCE")
				if refused != c.refused[i] {
					t.Errorf("event %d: answer %s, refused %v, want %v", i, a, refused, c.refused[i])
				}
				if refused {
					refusals++
					if er.EventEmitted != nil {
						t.Errorf("event %d: the refusal says EventEmitted=%v; no result event is sent for it", i, *er.EventEmitted)
					}
				}
			}
			if got, want := len(emu.Events("detach-results")), len(c.refused)-refusals; got != want {
				t.Errorf("%d result events on the bus, want %d (none for a refused event)", got, want)
			}
			if refusals == len(c.refused) {
				for _, api := range []string{"DescribeKeyPairs", "DescribeInstances", "DetachKeyPair"} {
					if n := emu.Calls(api); n != 0 {
						t.Errorf("%d %s calls for refused events, want none", n, api)
					}
				}
			}
			detached := 0
			for id, was := range before {
				if now := e.emu.Bindings()[id]; now != was {
					detached++
				}
			}
			if detached != c.detached {
				t.Errorf("%d instances lost their key pair, want %d", detached, c.detached)
			}
			if got := strings.Count(logs.String(), "event refused: it comes from this function's own EVENT_SOURCE"); got != refusals {
				t.Errorf("%d refusals logged, want %d:\n%s", got, refusals, logs.String())
			}
		})
	}
}
