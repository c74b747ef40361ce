// Command local runs the function on a laptop as Function Compute would: it starts the
// ECS/EventBridge emulator with the shipped fleet, builds the function, runs it under
// the FC runtime-API runner, hands it one trigger event, and prints the answer and the
// result events.
//
//	go run ./cmd/local invoke -e events/http.json [--dry-run] [--timeout 60s] [--latency 50ms] ...
//	go run ./cmd/local invoke -e events/http.json --emulator http://127.0.0.1:8300   # against make emulator
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/handler"
	"detachkeypair/localrun"
)

const usage = `usage: go run ./cmd/local invoke -e EVENT_FILE [flags]

Runs the function once, as FC does, against the embedded ECS/EventBridge emulator, and
prints its answer and the result events. Event samples are in events/.

flags:
`

func main() {
	if len(os.Args) < 2 || os.Args[1] != "invoke" {
		fmt.Fprint(os.Stderr, usage)
		newFlags().PrintDefaults()
		os.Exit(2)
	}
	code, err := invoke(os.Args[2:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
	}
	os.Exit(code)
}

// options are the flags of invoke.
type options struct {
	event, fixture, faultAPI string
	emulatorURL              string
	timeout                  time.Duration
	fault                    emulator.Fault
	seed                     int64
	dryRun, quiet, exposeIDs bool
	env                      multi
	memory                   int
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

var opts options

func newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	opts = options{}
	fs.StringVar(&opts.event, "e", "events/http.json", "the trigger event to send (a file in events/)")
	fs.StringVar(&opts.fixture, "fixture", "", "the emulator's fleet (JSON); default: the shipped fleet")
	fs.DurationVar(&opts.timeout, "timeout", 60*time.Second, "the function's timeout, as configured in FC")
	fs.IntVar(&opts.memory, "memory", 512, "the function's memory in MB")
	fs.BoolVar(&opts.dryRun, "dry-run", false, "run the function with DRY_RUN=true: every request only checks and plans, whatever the event says; nothing is detached")
	fs.BoolVar(&opts.quiet, "quiet", false, "do not show the function's logs")
	fs.Var(&opts.env, "env", "a setting of the function, K=V (repeatable), e.g. --env BATCH_SIZE=20")
	fs.StringVar(&opts.faultAPI, "fault-api", "*", "the API the faults below apply to (DetachKeyPair, DescribeInstances, DescribeKeyPairs, PutEvents, or * for all)")
	opts.fault.RegisterFlags(fs)
	fs.Int64Var(&opts.seed, "seed", 1, "emulator: seed of the random faults")
	fs.StringVar(&opts.emulatorURL, "emulator", "", "use the emulator already running at this URL (make emulator: http://127.0.0.1:8300) instead of starting one; set its faults there")
	fs.BoolVar(&opts.exposeIDs, "expose-key-pair-ids", false, "emulator: DescribeKeyPairs answers KeyPairId (undocumented), so that requests by KeyPairId can work")
	return fs
}

func invoke(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags()
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	payload, err := os.ReadFile(opts.event)
	if err != nil {
		return 2, err
	}
	var fixture *emulator.Fixture
	if opts.fixture != "" {
		if fixture, err = emulator.LoadFixture(opts.fixture); err != nil {
			return 2, err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	logs := io.Writer(stderr)
	if opts.quiet {
		logs = nil
	}
	if opts.emulatorURL == "" {
		fmt.Fprintf(stderr, "local: building the function and starting the emulator...\n")
	} else {
		fmt.Fprintf(stderr, "local: building the function...\n")
	}
	var faults map[string]emulator.Fault
	if opts.fault != (emulator.Fault{}) {
		faults = map[string]emulator.Fault{opts.faultAPI: opts.fault}
	}
	seed := opts.seed
	if opts.emulatorURL != "" && !flagSet(fs, "seed") {
		seed = 0 // the running emulator has its own: an explicit --seed is refused by localrun
	}
	env, err := localrun.Start(ctx, localrun.Options{
		Emulator:         opts.emulatorURL,
		Fixture:          fixture,
		Faults:           faults,
		Seed:             seed,
		ExposeKeyPairIDs: opts.exposeIDs,
		Env:              opts.settings(),
		Timeout:          opts.timeout,
		MemoryMB:         opts.memory,
		FunctionLogs:     logs,
	})
	if err != nil {
		return 1, err
	}
	defer env.Close()
	fmt.Fprintf(stderr, "local: emulator at %s; invoking with %s (%s trigger)\n", env.EmulatorURL, opts.event, handler.Classify(payload))

	var earlier int // result events on the bus before this invocation (a running emulator keeps them)
	if env.EventBus != "" {
		evs, err := env.Events(ctx, env.EventBus)
		if err != nil {
			return 1, err
		}
		earlier = len(evs)
	}
	res, err := env.Invoke(ctx, payload)
	if err != nil {
		return 1, err
	}
	ok, err := report(ctx, stdout, res, env, earlier)
	if err != nil {
		return 1, err
	}
	if !ok {
		return 1, nil
	}
	return 0, nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// report prints the answer and the result events after the earlier ones; it says
// whether the invocation succeeded (answered, with no request-level error).
func report(ctx context.Context, w io.Writer, res fcruntime.Result, env *localrun.Env, earlier int) (bool, error) {
	ok := res.Outcome == fcruntime.Succeeded
	fmt.Fprintf(w, "== answer: %s in %s (request id %s)\n", res.Outcome, res.Duration.Round(time.Millisecond), res.RequestID)
	body := res.Payload
	var httpResp struct {
		StatusCode *int   `json:"statusCode"`
		Body       string `json:"body"`
	}
	if ok && json.Unmarshal(body, &httpResp) == nil && httpResp.StatusCode != nil {
		fmt.Fprintf(w, "HTTP %d\n", *httpResp.StatusCode)
		ok = *httpResp.StatusCode < 400
		body = []byte(httpResp.Body)
	}
	if ok && bytes.Contains(body, []byte(`"Code":"`)) && !bytes.Contains(body, []byte(`"Results"`)) {
		ok = false // a request-level error answered as a normal result
	}
	w.Write(pretty(body))
	fmt.Fprintln(w)
	if env.EventBus != "" {
		evs, err := env.Events(ctx, env.EventBus)
		if err != nil {
			return ok, err
		}
		evs = evs[min(earlier, len(evs)):]
		fmt.Fprintf(w, "== result events on bus %s: %d\n", env.EventBus, len(evs))
		for _, ev := range evs {
			w.Write(pretty(ev.Raw))
			fmt.Fprintln(w)
		}
	}
	return ok, nil
}

func pretty(b []byte) []byte {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return b
	}
	return out.Bytes()
}

// settings are the function's settings the flags give: the --env ones, then
// DRY_RUN=true with --dry-run, which wins.
func (o options) settings() []string {
	env := append([]string(nil), o.env...)
	if o.dryRun {
		env = append(env, "DRY_RUN=true")
	}
	return env
}
