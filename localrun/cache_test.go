package localrun_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"detachkeypair/detach"
	"detachkeypair/emulator"
	"detachkeypair/emulator/emulatortest"
	"detachkeypair/localrun"
)

// stopEvent is events/ecs-instance-stopped.json for instance n.
func stopEvent(t *testing.T, n int) []byte {
	t.Helper()
	payload, err := os.ReadFile("../events/ecs-instance-stopped.json")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(payload), "i-bp1d6tsvznfghy7y0009", instance(n)))
}

// calls are the emulator's counts of the three ECS APIs, since its last reset.
func calls(emu *emulator.Server) [3]int {
	return [3]int{emu.Calls(emulator.APIDescribeKeyPairs), emu.Calls(emulator.APIDescribeInstances), emu.Calls(emulator.APIDetachKeyPair)}
}

// TestKeyPairCacheEndToEnd: in the built function under the runner, the first ECS stop
// event of an instance resolves the key pair (three calls), the next ones on the warm
// instance take it from its cache (two calls each: DescribeInstances, DetachKeyPair).
// A key pair deleted while cached is answered as without the cache, 404
// InvalidKeyPair.NotFound, after resolving it afresh, and is no longer cached.
func TestKeyPairCacheEndToEnd(t *testing.T) {
	env := start(t, localrun.Options{Env: []string{"KEY_PAIR_NAME=ops-2026"}, MaxInstances: 1, EventBus: "-"})
	ctx := context.Background()
	invoke := func(payload []byte) answer {
		t.Helper()
		env.Emulator.ResetCounters()
		res, err := env.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		_, got := answers(t, res.Payload)
		if len(got) != 1 {
			t.Fatalf("answer %s", res.Payload)
		}
		return got[0]
	}
	before := env.Emulator.Bindings()
	var results []detach.InstanceResult
	for i, n := range []int{1, 2, 3} {
		a := invoke(stopEvent(t, n))
		if a.Code != "" || a.FailCount != 0 || len(a.Results) != 1 {
			t.Fatalf("event %d: %+v", i, a)
		}
		results = append(results, a.Results...)
		want := [3]int{0, 1, 1}
		if i == 0 {
			want = [3]int{1, 1, 1}
		}
		if got := calls(env.Emulator); got != want {
			t.Errorf("event %d: DescribeKeyPairs, DescribeInstances, DetachKeyPair calls %v, want %v", i, got, want)
		}
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), results)

	// ops-2026-backup, bound to 26 to 30, resolved and cached by a request for 26; then
	// the others lose it and it is deleted (ECS deletes no bound key pair)
	byName := func(n int) []byte {
		return directRequest(map[string]any{"KeyPairName": "ops-2026-backup", "InstanceIds": []string{instance(n)}})
	}
	if a := invoke(byName(26)); a.Code != "" || a.FailCount != 0 {
		t.Fatalf("%+v", a)
	}
	for n := 27; n <= 30; n++ {
		in, _ := env.Emulator.Instance(instance(n))
		in.KeyPairName = ""
		env.Emulator.SetInstance(in)
	}
	if err := env.Emulator.DeleteKeyPair("cn-hangzhou", "ops-2026-backup"); err != nil {
		t.Fatal(err)
	}
	before = env.Emulator.Bindings()
	a := invoke(byName(27))
	if a.Code != detach.CodeKeyPairNotFound {
		t.Fatalf("deleted while cached: %+v, want %s as without the cache", a, detach.CodeKeyPairNotFound)
	}
	if got := calls(env.Emulator); got[0] != 1 || got[2] != 0 {
		t.Errorf("deleted while cached: calls %v, want the key pair resolved again (1 DescribeKeyPairs) and no DetachKeyPair", got)
	}

	// created again and bound to 28: resolved afresh (the entry was dropped), detached
	env.Emulator.AddKeyPair(emulator.KeyPair{RegionId: "cn-hangzhou", KeyPairName: "ops-2026-backup"})
	in, _ := env.Emulator.Instance(instance(28))
	in.KeyPairName = "ops-2026-backup"
	env.Emulator.SetInstance(in)
	before = env.Emulator.Bindings()
	a = invoke(byName(28))
	if a.Code != "" || a.FailCount != 0 {
		t.Fatalf("created again: %+v", a)
	}
	if got := calls(env.Emulator); got != [3]int{1, 1, 1} {
		t.Errorf("created again: calls %v, want [1 1 1]: resolved afresh", got)
	}
	emulatortest.AssertChanges(t, before, env.Emulator.Bindings(), a.Results)
}
