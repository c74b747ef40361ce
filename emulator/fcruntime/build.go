package fcruntime

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Build compiles the function in pkgDir into the executable out, as the
// function is built for FC: `go build -o out` with CGO_ENABLED=0. It runs in
// pkgDir, so pkgDir may be any directory of a main package inside a module
// (testdata directories included). On failure the error carries go build's
// output.
func Build(ctx context.Context, pkgDir, out string) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("fcruntime: build output %q: %w", out, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", absOut, ".")
	cmd.Dir = pkgDir
	// The go tool runs in the caller's environment, as exec.Cmd runs any command
	// (its GOCACHE, GOFLAGS, GOPROXY...), with cgo off.
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fcruntime: go build %s: %w\n%s", pkgDir, err, output)
	}
	return nil
}
