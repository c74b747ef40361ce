package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// sdkFree are the packages that must build without any Alibaba Cloud SDK: the domain,
// the handler and the settings (STYLE 1 and 12: no cloud SDK outside the adapters), and
// the plain packages they take from the adapters' side.
var sdkFree = []string{"./detach", "./handler", "./settings", "./credentials", "./endpoint", "./redact"}

// isSDK reports whether an import path is one of the Alibaba Cloud SDKs (tea, dara,
// darabonba-openapi, the product SDKs) or their credential chain. FC's runtime SDK
// (github.com/aliyun/fc-runtime-go-sdk) is not: the handler is FC's entry point.
func isSDK(path string) bool {
	return strings.HasPrefix(path, "github.com/alibabacloud-go/") || strings.HasPrefix(path, "github.com/aliyun/credentials-go")
}

// TestSDKFreePackages fails when a package of sdkFree depends, directly or not, on an
// Alibaba Cloud SDK: the adapters (aliyun, ecs, ens, eventbridge, fc) alone import them,
// and main wires them in.
func TestSDKFreePackages(t *testing.T) {
	deps := goDeps(t, append(sdkFree, "./aliyun")...)
	if len(sdkIn(deps["detachkeypair/aliyun"])) == 0 {
		t.Fatalf("aliyun depends on no SDK by isSDK: the check below would see nothing; deps: %v", deps["detachkeypair/aliyun"])
	}
	for _, dir := range sdkFree {
		pkg := "detachkeypair/" + strings.TrimPrefix(dir, "./")
		list, ok := deps[pkg]
		if !ok {
			t.Errorf("go list did not list %s", pkg)
		}
		if sdks := sdkIn(list); len(sdks) > 0 {
			t.Errorf("%s depends on %d SDK packages, %s among them; find the import with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' %s",
				pkg, len(sdks), sdks[0], dir)
		}
	}
}

// sdkIn returns the SDK packages of deps.
func sdkIn(deps []string) []string {
	var sdks []string
	for _, d := range deps {
		if isSDK(d) {
			sdks = append(sdks, d)
		}
	}
	return sdks
}

// goDeps returns the packages each package of dirs depends on, directly or not (go
// list's Deps), by import path.
func goDeps(t *testing.T, dirs ...string) map[string][]string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if runtime.GOROOT() == "" {
		var err error
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatal("no go command: neither GOROOT nor PATH has one")
		}
	}
	cmd := exec.Command(goBin, append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, dirs...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	return deps
}
