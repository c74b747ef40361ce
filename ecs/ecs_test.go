package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/ecs"
	"detachkeypair/emulator"
)

// client returns the adapter for cn-hangzhou of a fresh emulator with the given faults.
func client(t *testing.T, faults map[string]emulator.Fault) (*ecs.Client, *emulator.Server) {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Faults: faults, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := ecs.New(ecs.Config{Region: "cn-hangzhou", Endpoint: emu.URL(),
		Credentials: &credentials.AccessKey{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret}})
	if err != nil {
		t.Fatal(err)
	}
	return c, emu
}

func instance(n int) string { return fmt.Sprintf("i-bp1d6tsvznfghy7y%04d", n) }

// TestDetachKeyPairHollowAnswer: a DetachKeyPair answered 200 after it acted, with
// its results empty or holding nulls, gives an outcome for the entries it has and
// none for the others (the caller checks those), never a crash.
func TestDetachKeyPairHollowAnswer(t *testing.T) {
	ids := []string{instance(1), instance(2), instance(3)}
	for _, c := range []struct {
		name  string
		fault emulator.Fault
		want  []string // instances with an outcome
	}{
		{"null entries", emulator.Fault{NullRate: 1}, []string{instance(2)}},
		{"empty list", emulator.Fault{EmptyRate: 1}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, emu := client(t, map[string]emulator.Fault{"DetachKeyPair": c.fault})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out []detach.Outcome
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("the adapter crashed on the answer: %v", p)
					}
				}()
				out, err = cl.DetachKeyPair(ctx, detach.KeyPair{Name: "ops-2026"}, ids)
			}()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range out {
				if !o.Success || o.Code != 200 {
					t.Errorf("outcome %+v", o)
				}
				got = append(got, o.InstanceID)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("outcomes for %v, want %v", got, c.want)
			}
			for _, id := range ids {
				if in, _ := emu.Instance(id); in.KeyPairName != "" {
					t.Errorf("%s still has %q: the emulator acted before hollowing the answer", id, in.KeyPairName)
				}
			}
		})
	}
}

// TestDescribeHollowAnswer: a DescribeInstances or DescribeKeyPairs answer whose list
// holds nulls, or is shorter than its count, is an InvalidResponse, which the caller
// may retry (Unavailable): read as it is, it would make existing instances "not found".
func TestDescribeHollowAnswer(t *testing.T) {
	for _, api := range []string{"DescribeInstances", "DescribeKeyPairs"} {
		for name, f := range map[string]emulator.Fault{"nulls": {NullRate: 1}, "empty": {EmptyRate: 1}} {
			t.Run(api+" "+name, func(t *testing.T) {
				cl, _ := client(t, map[string]emulator.Fault{api: f})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("the adapter crashed on the answer: %v", p)
						}
					}()
					if api == "DescribeInstances" {
						var p detach.InstancePage
						p, err = cl.DescribeInstances(ctx, detach.InstanceQuery{IDs: []string{instance(1), instance(2), instance(3)}})
						if err == nil {
							t.Errorf("answer read as %d instances", len(p.Instances))
						}
					} else {
						var p detach.KeyPairPage
						p, err = cl.DescribeKeyPairs(ctx, detach.KeyPairQuery{Page: 1})
						if err == nil {
							t.Errorf("answer read as %d key pairs", len(p.KeyPairs))
						}
					}
				}()
				var ce *detach.CloudError
				if !errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse || !ce.Unavailable() {
					t.Fatalf("error %v, want a retryable %s", err, detach.CodeInvalidResponse)
				}
			})
		}
	}
}

// TestDescribeRegions: the account's regions, in ECS's order; an answer without
// regions (hollow) is an InvalidResponse, a refusal a CloudError.
func TestDescribeRegions(t *testing.T) {
	c, emu := client(t, nil)
	got, err := c.DescribeRegions(context.Background())
	if err != nil || fmt.Sprint(got) != "[cn-hangzhou cn-shanghai ap-southeast-1]" {
		t.Fatalf("%v %v", got, err)
	}
	emu.SetFault(emulator.APIDescribeRegions, emulator.Fault{EmptyRate: 1})
	var ce *detach.CloudError
	if _, err := c.DescribeRegions(context.Background()); !errors.As(err, &ce) || ce.Code != detach.CodeInvalidResponse {
		t.Errorf("hollow answer: %v", err)
	}
	emu.SetFault(emulator.APIDescribeRegions, emulator.Fault{ForbiddenRate: 1})
	if _, err := c.DescribeRegions(context.Background()); !errors.As(err, &ce) || !ce.Forbidden() {
		t.Errorf("refused: %v", err)
	}
}
