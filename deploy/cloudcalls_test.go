package deploy

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cloudSDKs maps each cloud API SDK module the function may use to the RAM service code
// of its actions (the "ecs" of "ecs:DetachKeyPair"). The adapter package of a service is
// the directory of that name (DESIGN.md: one package per dependency, named after it). A
// new cloud SDK in go.mod must be added here; TestEveryCloudSDKIsKnown says so.
var cloudSDKs = map[string]string{
	"github.com/alibabacloud-go/ecs-20140526/v7": "ecs",
	"github.com/alibabacloud-go/eventbridge-sdk": "eventbridge",
}

// cloudSDKShape matches the module paths of Alibaba Cloud API SDKs.
var cloudSDKShape = regexp.MustCompile(`^github\.com/(alibabacloud-go/[a-z0-9-]+-(\d{8}|sdk)(/v\d+)?|aliyun/alibaba-cloud-sdk-go)$`)

// genericCalls are the SDK methods that call an API named by a value rather than by the
// method: darabonba-openapi's CallApi and DoRequest families, the eventbridge SDK's
// DoRequest, and aliyun.Clients' CallRPC and CallROA (the adapters' shared ways to
// CallApiWithCtx). The API is then the Action the call is given.
var genericCalls = map[string]bool{
	"CallApi": true, "CallApiWithCtx": true, "DoRequest": true, "DoRequestWithCtx": true, "CallRPC": true, "CallROA": true,
}

// genericAdapters are the adapter packages of products that have no SDK here and are
// called through the generic OpenAPI client only (aliyun.Clients over darabonba-openapi):
// by package directory, the RAM service code of their actions (ens/ → ens:DetachKeyPair,
// fc/ → fc:InvokeFunction).
var genericAdapters = map[string]string{
	"ens": "ens",
	"fc":  "fc",
}

// apiSuffixes are the suffixes of an SDK's per-API methods: X, XWithOptions, XWithContext.
var apiSuffixes = []string{"WithContext", "WithCtx", "WithOptions", ""}

// cloudCall is one cloud API the code calls, with where.
type cloudCall struct {
	action string // RAM action, e.g. ecs:DetachKeyPair
	where  string // file:line
}

// codeCloudCalls finds the cloud APIs the function's code calls: in every package of the
// module that the function binary is built from, and in the adapter packages (which may
// exist before they are wired in), each call of an SDK client's API method
// (DetachKeyPairWithContext → ecs:DetachKeyPair) and each generic call with a literal
// Action (CallApiWithCtx with Action "DescribeKeyPairs" → ecs:DescribeKeyPairs).
func codeCloudCalls(t *testing.T) []cloudCall {
	t.Helper()
	apis := sdkAPIs(t)

	dirs := strings.Fields(runGo(t, "list", "-e", "-deps", "-f", "{{with .Module}}{{if .Main}}{{$.Dir}}{{end}}{{end}}", "."))
	for _, service := range append(slices.Collect(maps.Values(cloudSDKs)), slices.Collect(maps.Keys(genericAdapters))...) {
		dir, err := filepath.Abs(filepath.Join(repoRoot, service))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); err == nil && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	var calls []cloudCall
	for _, dir := range dirs {
		calls = append(calls, packageCloudCalls(t, dir, apis)...)
	}
	return calls
}

// sdkAPIs returns, for each cloud SDK module, the set of APIs its client has: the names X
// of its `func (client *Client) XWithOptions(` methods, read from the module's source.
func sdkAPIs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	mods := sortedKeys(cloudSDKs)
	out := runGo(t, append([]string{"list", "-m", "-json"}, mods...)...)
	dec := json.NewDecoder(strings.NewReader(out))
	apiMethod := regexp.MustCompile(`func \(client \*Client\) ([A-Z][A-Za-z0-9]*)WithOptions\(`)
	apis := map[string]map[string]bool{}
	for dec.More() {
		var m struct{ Path, Dir string }
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Dir == "" {
			t.Fatalf("module %s is not downloaded; run `go mod download`", m.Path)
		}
		set := map[string]bool{}
		err := filepath.WalkDir(m.Dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") ||
				strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "_model.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, sub := range apiMethod.FindAllSubmatch(src, -1) {
				set[string(sub[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(set) == 0 {
			t.Fatalf("module %s: found no API methods in %s; has the SDK's shape changed?", m.Path, m.Dir)
		}
		apis[m.Path] = set
	}
	return apis
}

// packageCloudCalls finds the cloud calls of the package in dir (non-test files).
func packageCloudCalls(t *testing.T, dir string, apis map[string]map[string]bool) []cloudCall {
	t.Helper()
	fset := token.NewFileSet()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	services := map[string]string{} // SDK module → RAM service, for the SDKs this package imports
	for _, name := range matches {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%v (the test reads the code to find its cloud calls)", err)
		}
		files = append(files, f)
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for mod, service := range cloudSDKs {
				if path == mod || strings.HasPrefix(path, mod+"/") {
					services[mod] = service
				}
			}
		}
	}
	if service, ok := genericAdapters[filepath.Base(dir)]; ok && len(services) == 0 {
		services["generic OpenAPI client"] = service
	}
	if len(services) == 0 {
		return nil // no cloud SDK here, so no cloud calls
	}

	var calls []cloudCall
	var generic []string // where generic calls are
	var actions []cloudCall
	where := func(n ast.Node) string {
		p := fset.Position(n.Pos())
		return fmt.Sprintf("%s:%d", relPath(p.Filename), p.Line)
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				name := sel.Sel.Name
				if genericCalls[name] {
					generic = append(generic, where(n))
					// The eventbridge SDK's DoRequest takes the action first.
					if len(n.Args) > 0 {
						if a, ok := literal(n.Args[0]); ok {
							actions = append(actions, cloudCall{a, where(n)})
						}
					}
					return true
				}
				var found []string
				for mod, service := range services {
					for _, suffix := range apiSuffixes {
						if api, cut := strings.CutSuffix(name, suffix); cut && apis[mod][api] {
							found = append(found, service+":"+api)
							break
						}
					}
				}
				switch len(found) {
				case 0:
				case 1:
					calls = append(calls, cloudCall{found[0], where(n)})
				default:
					t.Errorf("%s: %s could be any of %v; call one SDK per package", where(n), name, found)
				}
			case *ast.KeyValueExpr:
				if key, ok := n.Key.(*ast.Ident); ok && key.Name == "Action" {
					a, ok := literal(n.Value)
					if !ok {
						t.Errorf("%s: an Action that is not a string literal; the test cannot tell which API it calls", where(n))
						return true
					}
					actions = append(actions, cloudCall{a, where(n)})
				}
			}
			return true
		})
	}
	// An adapter that sends the signed request itself (eventbridge) names its call by a
	// literal Action too.
	if len(generic) > 0 || len(actions) > 0 {
		if len(services) != 1 {
			t.Errorf("%s: generic API calls (%v) in a package that imports %d cloud SDKs; the test cannot tell which service they call", dir, generic, len(services))
			return calls
		}
		if len(actions) == 0 {
			t.Errorf("%v: generic API calls with no literal Action in the package; the test cannot tell which API they call", generic)
		}
		for _, service := range services {
			for _, a := range actions {
				calls = append(calls, cloudCall{service + ":" + a.action, a.where})
			}
		}
	}
	return calls
}

// literal returns the string of "X", tea.String("X") or dara.String("X").
func literal(e ast.Expr) (string, bool) {
	if call, ok := e.(*ast.CallExpr); ok {
		sel, isSel := call.Fun.(*ast.SelectorExpr)
		if !isSel || sel.Sel.Name != "String" || len(call.Args) != 1 {
			return "", false
		}
		e = call.Args[0]
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// relPath shows a path relative to the repository root when it can.
func relPath(path string) string {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(root, path); err == nil {
		return rel
	}
	return path
}

// TestEveryCloudSDKIsKnown fails when go.mod requires a cloud API SDK that cloudSDKs does
// not map to a RAM service: calls through it would go unseen by TestPolicyMatchesCode.
func TestEveryCloudSDKIsKnown(t *testing.T) {
	req := regexp.MustCompile(`(?m)^\s*(?:require\s+)?([^\s()]+)\s+v\S+`)
	for _, m := range req.FindAllStringSubmatch(string(readRepoFile(t, "go.mod")), -1) {
		mod := m[1]
		if cloudSDKShape.MatchString(mod) {
			if _, known := cloudSDKs[mod]; !known {
				t.Errorf("go.mod requires the cloud SDK %s, which deploy's cloudSDKs does not know: add it with the RAM service code of its actions", mod)
			}
		}
	}
	for mod := range cloudSDKs {
		if !strings.Contains(string(readRepoFile(t, "go.mod")), mod+" ") {
			t.Errorf("cloudSDKs names %s, which go.mod does not require; update it", mod)
		}
	}
}

// TestFindsCloudCalls checks the finder on code shaped like the adapters: typed SDK calls,
// a generic call with its Action in a separate literal, calls through an interface, and
// things that merely look like calls.
func TestFindsCloudCalls(t *testing.T) {
	dir := t.TempDir()
	src := `package fake

import (
	"context"
	"net/http"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecsclient "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

type putter interface{ StartInstanceWithOptions(any, any) (any, error) }

type C struct {
	sdk *ecsclient.Client
	p   putter
}

func (c *C) f(ctx context.Context, r *http.Request) {
	params := &openapiutil.Params{Action: tea.String("DescribeRegions"), Version: tea.String("2014-05-26")}
	c.sdk.CallApiWithCtx(ctx, params, nil, nil)
	c.sdk.RebootInstanceWithContext(ctx, nil, nil)
	c.p.StartInstanceWithOptions(nil, nil)
	_ = r.WithContext(ctx)
	_ = tea.String("DeleteInstance")
}
`
	if err := os.WriteFile(filepath.Join(dir, "fake.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range packageCloudCalls(t, dir, sdkAPIs(t)) {
		got = append(got, c.action)
	}
	slices.Sort(got)
	want := []string{"ecs:DescribeRegions", "ecs:RebootInstance", "ecs:StartInstance"}
	if !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}

	// A generic adapter (no product SDK): its directory names the service.
	ensDir := filepath.Join(dir, "ens")
	generic := `package ens

import (
	"context"

	"detachkeypair/aliyun"
)

var stop = aliyun.RPC{Action: "StopInstance", Version: "2017-11-10"}

func f(ctx context.Context, c *aliyun.Clients[any]) {
	c.CallRPC(ctx, stop, nil, nil)
	c.CallRPC(ctx, aliyun.RPC{Action: "DescribeInstances", Version: "2017-11-10"}, nil, nil)
}
`
	if err := os.MkdirAll(ensDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ensDir, "ens.go"), []byte(generic), 0o644); err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, c := range packageCloudCalls(t, ensDir, sdkAPIs(t)) {
		got = append(got, c.action)
	}
	slices.Sort(got)
	if want := []string{"ens:DescribeInstances", "ens:StopInstance"}; !slices.Equal(got, want) {
		t.Errorf("generic adapter: found %v, want %v", got, want)
	}
}
