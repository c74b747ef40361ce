package handler_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/handler"
)

// ensID is instance n of the emulator's ENS fleet.
func ensID(n int) string { return fmt.Sprintf("i-5iqczfxps7csjrxeca07%05d", n) }

// TestENSTargetsAllPages: an ENS selector pages through every instance (ENS cannot
// select by key pair), 50 a page with each page's tags (ListTagResources), keeps the
// bound ones, and detaches the Stopped ones 30 a call, whatever BATCH_SIZE says.
func TestENSTargetsAllPages(t *testing.T) {
	e := newEnv(t, nil, map[string]string{"BATCH_SIZE": "50", "ALLOW_UNSCOPED_TARGETS": "true"})
	before := e.emu.Bindings()
	res, errResp, _ := e.invoke(`{"Product":"ENS","KeyPairName":"edge-fleet","Targets":{}}`)
	if errResp.Code != "" {
		t.Fatalf("%s: %s", errResp.Code, errResp.Message)
	}
	// edge-fleet: instances 16 to 265, every 10th Running.
	if res.MatchedCount == nil || *res.MatchedCount != 250 || res.TotalCount != 250 || res.FailCount != 25 {
		t.Fatalf("matched %v, total %d, failed %d", res.MatchedCount, res.TotalCount, res.FailCount)
	}
	for i, r := range res.Results {
		n := 16 + i
		if r.InstanceId != ensID(n) || r.Success == (n%10 == 0) || (n%10 == 0) != (r.ErrorCode == "IncorrectInstanceStatus") {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	e.assertState(before, res)
	pages := e.emu.Calls(emulator.APIENSDescribeInstances)
	detaches := e.emu.Calls(emulator.APIENSDetachKeyPair)
	if want := int(math.Ceil(266.0 / 50)); pages != want || e.emu.Calls(emulator.APIENSListTagResources) != want {
		t.Errorf("%d DescribeInstances and %d ListTagResources calls, want %d pages of 50", pages, e.emu.Calls(emulator.APIENSListTagResources), want)
	}
	if want := int(math.Ceil(225.0 / 30)); detaches != want || e.emu.Answered(emulator.APIENSDetachKeyPair, "") != want {
		t.Errorf("%d DetachKeyPair calls (%d answered), want %d of at most 30 ids", detaches, e.emu.Answered(emulator.APIENSDetachKeyPair, ""), want)
	}
	if n := e.emu.Calls(emulator.APIDescribeInstances) + e.emu.Calls(emulator.APIDetachKeyPair); n != 0 {
		t.Errorf("%d ECS calls for an ENS request", n)
	}
}

// TestENSTargetsByTagAndRegion: Tags and EnsRegionIds select on ENS's side.
func TestENSTargetsByTagAndRegion(t *testing.T) {
	e := newEnv(t, nil, nil)
	before := e.emu.Bindings()
	res, errResp, _ := e.invoke(`{"Product":"ENS","KeyPairId":"ssh-5lywanlkih1zo9yl8eg0003","Targets":{"Tags":[{"Key":"team","Value":"cdn"}],"EnsRegionIds":["cn-chengdu-telecom-4"]}}`)
	if errResp.Code != "" {
		t.Fatalf("%s: %s", errResp.Code, errResp.Message)
	}
	// The even ones of 16 to 264 are in Chengdu; 20, 30, ... 260 are Running.
	if res.MatchedCount == nil || *res.MatchedCount != 125 || res.FailCount != 25 {
		t.Fatalf("matched %v, failed %d", res.MatchedCount, res.FailCount)
	}
	e.assertState(before, res)
}

// TestENSFaults: through throttling, 5xx answers, dropped connections and answers lost
// after ENS acted, every id has exactly one result and every instance's final state
// matches its result (but those the contract reports 503 "may already be detached");
// an instance whose detach answer was lost and that a retry finds unbound is reported
// detached. Which calls meet which fault depends on the order the calls arrive in, so
// the lost answers the test is about are required of the seeds together, not of each.
func TestENSFaults(t *testing.T) {
	var lostAll atomic.Int64
	t.Run("seeds", func(t *testing.T) {
		for _, seed := range []int64{1, 2, 3} {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				t.Parallel()
				emu := newEmulator(t, nil, seed, false)
				e := newEnvFor(t, emu, map[string]string{"MAX_ATTEMPTS": "8", "ENS_QPS": "0"})
				for _, api := range []string{emulator.APIENSDescribeKeyPairs, emulator.APIENSDescribeInstances, emulator.APIENSListTagResources} {
					emulatortest.SetFault(t, emu, api, emulator.Fault{ThrottleRate: 0.2, ErrorRate: 0.1, DropRate: 0.05, Jitter: 20 * time.Millisecond})
				}
				emulatortest.SetFault(t, emu, emulator.APIENSDetachKeyPair, emulator.Fault{ThrottleRate: 0.2, ErrorRate: 0.1, DropRate: 0.05, DropAfterRate: 0.15, ErrorAfterRate: 0.1})
				var ids []string
				for n := 16; n <= 215; n++ {
					ids = append(ids, ensID(n))
				}
				ids = append(ids, ensID(14), "i-5iqczfxps7csjrxeca0799999")
				before := e.emu.Bindings()
				b := fmt.Sprintf(`{"Product":"ENS","KeyPairId":"ssh-5lywanlkih1zo9yl8eg0003","InstanceIds":["%s"]}`, strings.Join(ids, `","`))
				res, errResp, _ := e.invoke(b)
				if errResp.Code != "" {
					e.assertState(before, res)
					t.Skipf("the request failed as a whole (%s) before any detach", errResp.Code)
				}
				if len(res.Results) != len(ids) {
					t.Fatalf("%d results for %d ids", len(res.Results), len(ids))
				}
				earlier, unclear := 0, 0
				for i, r := range res.Results {
					if r.InstanceId != ids[i] {
						t.Fatalf("result %d is for %s, want %s", i, r.InstanceId, ids[i])
					}
					if r.Success && strings.Contains(r.Message, "earlier") {
						earlier++
					}
					// The contract's answer to a batch whose last attempt got no clear answer:
					// 503, "may already be detached". Its state is either; every other must match.
					if r.Code == 503 && strings.Contains(r.Message, "may already be detached") {
						delete(before, r.InstanceId)
						unclear++
					}
				}
				e.assertState(before, res)
				lost := emu.Answered(emulator.APIENSDetachKeyPair, emulator.CodeDroppedAfter) + emu.Answered(emulator.APIENSDetachKeyPair, "ServiceUnavailable") +
					emu.Answered(emulator.APIENSDetachKeyPair, "InternalError")
				lostAll.Add(int64(lost))
				t.Logf("seed %d: %d failed of %d; %d DetachKeyPair answers lost or 5xx, %d instances found detached by an earlier attempt, %d left unclear",
					seed, res.FailCount, len(ids), lost, earlier, unclear)
			})
		}
	})
	if lostAll.Load() == 0 && !t.Failed() {
		t.Fatal("no DetachKeyPair answer was lost or failed under any seed: the test shows nothing")
	}
}

// TestENSProtectedTag: the guardrails see ENS's tags (ListTagResources): an instance
// carrying PROTECTED_TAG is refused alone and keeps its key pair; the others go on.
func TestENSProtectedTag(t *testing.T) {
	e := newEnv(t, nil, nil)
	before := e.emu.Bindings()
	res, errResp, _ := e.invoke(fmt.Sprintf(`{"Product":"ENS","KeyPairId":"ssh-5lywanlkih1zo9yl8eg0001","InstanceIds":["%s","%s"]}`, ensID(266), ensID(6)))
	if errResp.Code != "" {
		t.Fatalf("%s: %s", errResp.Code, errResp.Message)
	}
	if len(res.Results) != 2 || res.Results[0].ErrorCode != "Forbidden.Protected" || res.Results[0].Code != 403 || !res.Results[1].Success {
		t.Fatalf("results %+v", res.Results)
	}
	e.assertState(before, res)
}

// TestENSRejectedEventSubject: the failure event of a rejected ENS request (refused
// before any cloud call) names ENS in its subject, without a region, as the events of
// the ENS requests that ran do; a request without Product is the DEFAULT_PRODUCT's. An
// ECS request's stays ECS's, in its region. Nothing changes in the emulator.
func TestENSRejectedEventSubject(t *testing.T) {
	for _, c := range []struct {
		name, def, payload, code, subject string
	}{
		{"ENS with RegionId", "", `{"Product":"ENS","RegionId":"cn-hangzhou","KeyPairName":"edge-ops-2026","InstanceIds":["` + ensID(1) + `"]}`,
			"InvalidParameter.RegionId", "acs:ens::1234567890123456:keypair/edge-ops-2026"},
		{"ENS by default, no instances", "ENS", `{"KeyPairName":"edge-ops-2026"}`,
			"InvalidParameter.InstanceIds", "acs:ens::1234567890123456:keypair/edge-ops-2026"},
		{"ECS, no instances", "", `{"RegionId":"cn-hangzhou","KeyPairName":"ops-2026"}`,
			"InvalidParameter.InstanceIds", "acs:ecs:cn-hangzhou:1234567890123456:keypair/ops-2026"},
	} {
		t.Run(c.name, func(t *testing.T) {
			emu := newEmulator(t, nil, 7, false)
			e := newEnvFor(t, emu, map[string]string{"EVENT_BUS": "detach-results", "EVENTBRIDGE_ENDPOINT": emu.URL(), "DEFAULT_PRODUCT": c.def})
			before := e.emu.Bindings()
			_, errResp, _ := e.invoke(c.payload)
			if errResp.Code != c.code {
				t.Fatalf("answer %+v, want %s", errResp, c.code)
			}
			emulatortest.AssertChanges(t, before, e.emu.Bindings(), nil)
			var subjects []string
			for _, ev := range e.emu.Events("detach-results") {
				subjects = append(subjects, ev.Subject)
			}
			if len(subjects) != 1 || subjects[0] != c.subject {
				t.Errorf("event subjects %q, want one, %s", subjects, c.subject)
			}
		})
	}
}

// TestENSFailedEventSubject: an ENS request that fails inside the function (its cloud
// client cannot be set up, or the function panics while running it) emits a failure
// event with an ENS subject, as a refused one does (TestENSRejectedEventSubject).
func TestENSFailedEventSubject(t *testing.T) {
	for name, clouds := range map[string]func(product, region string, creds *credentials.AccessKey) (detach.Cloud, error){
		"client not ready": func(string, string, *credentials.AccessKey) (detach.Cloud, error) {
			return nil, errors.New("no client")
		},
		"panic": func(string, string, *credentials.AccessKey) (detach.Cloud, error) {
			panic("boom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			emu := newEmulator(t, nil, 7, false)
			cfg := wire(settingsFor(t, emu, map[string]string{"EVENT_BUS": "detach-results", "EVENTBRIDGE_ENDPOINT": emu.URL()}),
				slog.New(slog.NewJSONHandler(io.Discard, nil)))
			cfg.Clouds = clouds
			e := &env{t: t, emu: emu, h: handler.New(cfg)}
			before := e.emu.Bindings()
			_, errResp, _ := e.invoke(`{"Product":"ENS","KeyPairName":"edge-ops-2026","InstanceIds":["` + ensID(1) + `"]}`)
			if errResp.Code != "InternalError" {
				t.Fatalf("answer %+v, want InternalError", errResp)
			}
			emulatortest.AssertChanges(t, before, e.emu.Bindings(), nil)
			var subjects []string
			for _, ev := range e.emu.Events("detach-results") {
				subjects = append(subjects, ev.Subject)
			}
			if want := "acs:ens::1234567890123456:keypair/edge-ops-2026"; len(subjects) != 1 || subjects[0] != want {
				t.Errorf("event subjects %q, want one, %s", subjects, want)
			}
		})
	}
}
