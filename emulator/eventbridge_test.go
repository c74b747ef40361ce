package emulator_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/alibabacloud-go/eventbridge-sdk/eventbridge"
	"github.com/alibabacloud-go/tea/tea"

	"detachkeypair/emulator"
)

func cloudEvent(id, bus string, data any) *eventbridge.CloudEvent {
	b, _ := json.Marshal(data)
	return &eventbridge.CloudEvent{
		Id:         tea.String(id),
		Source:     tea.String("acs.fc.detach-keypair"),
		Type:       tea.String("keypair.detach.completed"),
		Subject:    tea.String("acs:ecs:cn-hangzhou:1234567890123456:keypair/ops-2026"),
		Time:       tea.String("2026-03-01T02:03:04Z"),
		Extensions: map[string]any{"aliyuneventbusname": bus, "requestid": "7C1B"},
		Data:       b,
	}
}

func wantEBError(t *testing.T, err error, code string) {
	t.Helper()
	got, _, ok := sdkError(err)
	if err == nil || !ok || got != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

func TestPutEvents(t *testing.T) {
	srv := start(t, emulator.Config{
		Buses:       []string{testBus},
		Credentials: []emulator.Credential{{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret}, {AccessKeyID: stsID, AccessKeySecret: stsKey, SecurityToken: stsTok}},
	})
	c := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	data := map[string]any{"TotalCount": 3, "FailCount": 1}
	resp, err := c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-1", testBus, data), cloudEvent("ev-2", testBus, data)})
	if err != nil {
		t.Fatal(err)
	}
	if tea.IntValue(resp.FailedEntryCount) != 0 || len(resp.EntryList) != 2 || tea.StringValue(resp.EntryList[1].EventId) != "ev-2" ||
		tea.StringValue(resp.EntryList[0].TraceId) == "" || resp.EntryList[0].ErrorCode != nil || tea.StringValue(resp.RequestId) == "" {
		t.Fatalf("answer = %v", resp)
	}
	// The same id again is recorded again: the emulator dedupes nothing.
	if _, err := c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-1", testBus, data)}); err != nil {
		t.Fatal(err)
	}
	// Non-JSON data travels as data_base64.
	text := cloudEvent("ev-text", testBus, nil)
	text.Datacontenttype, text.Data = tea.String("text/plain"), []byte("hello")
	if _, err := c.PutEvents([]*eventbridge.CloudEvent{text}); err != nil {
		t.Fatal(err)
	}

	evs := srv.Events(testBus)
	if len(evs) != 4 || evs[0].Id != "ev-1" || evs[1].Id != "ev-2" || evs[2].Id != "ev-1" || evs[3].Id != "ev-text" {
		t.Fatalf("events = %+v", evs)
	}
	e := evs[0]
	var got map[string]int
	json.Unmarshal(e.Data, &got)
	if e.Bus != testBus || e.Source != "acs.fc.detach-keypair" || e.Type != "keypair.detach.completed" || e.SpecVersion != "1.0" ||
		e.Subject != "acs:ecs:cn-hangzhou:1234567890123456:keypair/ops-2026" || e.Time != "2026-03-01T02:03:04Z" ||
		e.DataContentType != "application/json; charset=utf-8" || got["FailCount"] != 1 ||
		e.Extensions["aliyuneventbusname"] != testBus || e.Extensions["requestid"] != "7C1B" || len(e.Raw) == 0 {
		t.Errorf("event = %+v", e)
	}
	if evs[3].DataBase64 == "" || evs[3].Data != nil {
		t.Errorf("text event = %+v", evs[3])
	}
	if srv.Calls("PutEvents") != 3 || srv.Answered("PutEvents", "") != 3 {
		t.Errorf("calls %d", srv.Calls("PutEvents"))
	}

	// Request-level errors record nothing.
	_, err = c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-x", badBus, data)})
	wantEBError(t, err, "EventBusNotExist")
	_, err = c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-x", testBus, data), cloudEvent("ev-y", "other", data)})
	wantEBError(t, err, "PutEventsRequestMoreThanOneEventBus")
	_, err = ebClient(t, srv, emulator.DefaultAccessKeyID, "WrongSecret", "").PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-x", testBus, data)})
	wantEBError(t, err, "SignatureDoesNotMatch")
	_, err = ebClient(t, srv, "LTAI5tNoSuchKey00000000", "WrongSecret", "").PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-x", testBus, data)})
	wantEBError(t, err, "InvalidAccessKeyId")
	_, err = ebClient(t, srv, stsID, stsKey, "wrong-token").PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-x", testBus, data)})
	wantEBError(t, err, "SecurityTokenInvalid")
	if len(srv.Events(testBus)) != 4 || len(srv.Events(badBus)) != 0 {
		t.Error("a refused request recorded events")
	}

	// STS with the right token.
	if _, err := ebClient(t, srv, stsID, stsKey, stsTok).PutEvents([]*eventbridge.CloudEvent{cloudEvent("ev-sts", testBus, data)}); err != nil {
		t.Fatalf("STS: %v", err)
	}
	if evs := srv.Events(testBus); len(evs) != 5 || evs[4].Id != "ev-sts" {
		t.Errorf("after STS: %d events", len(evs))
	}
}

func TestPutEventsAnyBusAndSkew(t *testing.T) {
	srv := start(t, emulator.Config{}) // nil Buses: any bus exists
	c := ebClient(t, srv, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	if _, err := c.PutEvents([]*eventbridge.CloudEvent{cloudEvent("a", "whatever-bus", 1)}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Events("whatever-bus")) != 1 {
		t.Error("event not recorded")
	}
	skewed := start(t, emulator.Config{Clock: func() time.Time { return time.Now().Add(-20 * time.Minute) }})
	_, err := ebClient(t, skewed, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "").PutEvents([]*eventbridge.CloudEvent{cloudEvent("a", "b", 1)})
	wantEBError(t, err, "InvalidTimeStamp.Expired")
}
