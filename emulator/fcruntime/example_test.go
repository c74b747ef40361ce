package fcruntime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"detachkeypair/emulator/fcruntime"
)

// Build a function, run it as FC would, and invoke it once.
func Example() {
	ctx := context.Background()
	bin := filepath.Join(os.TempDir(), "detach-keypair")
	if err := fcruntime.Build(ctx, ".", bin); err != nil {
		fmt.Println(err)
		return
	}
	r, err := fcruntime.Start(ctx, fcruntime.Config{
		Binary:      bin,
		Env:         []string{"ECS_ENDPOINT=http://127.0.0.1:8300"},
		Credentials: fcruntime.Credentials{AccessKeyID: "STS.id", AccessKeySecret: "secret", SecurityToken: "token"},
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	res, err := r.Invoke(ctx, fcruntime.Invocation{Payload: []byte(`{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}`)})
	switch {
	case err != nil:
		fmt.Println("runner:", err)
	case res.Error != nil:
		fmt.Println(res.Outcome, res.ErrorType, res.Error)
	default:
		fmt.Printf("%s\n", res.Payload)
	}
}
