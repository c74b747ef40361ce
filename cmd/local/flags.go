package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/settings"
)

// options are the flags of invoke and serve.
type options struct {
	// invoke: the event and what to show of it
	event  string // -e: a file, "-" for stdin, or inline JSON
	dryRun bool
	events bool // the result events in full

	// serve
	addr         string
	maxInstances int

	// the function, as FC would run it
	binary  string // a built function; "" = build it from the module
	fixture string
	timeout time.Duration
	memory  int
	env     envFlag

	// the function's logs
	quiet, jsonLogs bool

	// the emulated cloud
	emulatorURL string // a running emulator to use instead of a fresh one
	exposeIDs   bool
	faultAPI    string
	fault       emulator.Fault
	faultFlags  string // the fault flags given, as typed, for the report
	seed        int64
	seedSet     bool // --seed was given
}

// defaultEvent is the event invoke sends when none is named.
const defaultEvent = "events/http.json"

// maxEventBytes bounds an event read from stdin or an HTTP request, as FC bounds a
// synchronous invocation's payload.
const maxEventBytes = fcruntime.MaxPayload

// flags defines the flags of a subcommand ("invoke" or "serve") on a new
// FlagSet whose errors and usage go to stderr.
func flags(cmd string, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr, cmd, fs) }
	switch cmd {
	case "invoke":
		fs.StringVar(&o.event, "e", "", "the event: a `FILE`, - for stdin, or inline JSON ('{...}'); default "+defaultEvent+"; the event may also be the one argument")
		fs.BoolVar(&o.dryRun, "dry-run", false, "run the function with DRY_RUN=true: every request of the event only checks and plans, whatever it says; nothing is detached")
		fs.BoolVar(&o.events, "events", false, "print the result events in full, not one line each")
	case "serve":
		fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "the `address` the HTTP trigger listens on")
		fs.IntVar(&o.maxInstances, "max-instances", fcruntime.DefaultMaxInstances, "the function's instance limit: concurrent requests past it are answered 429 ResourceExhausted, as FC does")
	}
	fs.StringVar(&o.binary, "binary", "", "run this built function `executable` instead of building it from the module (make run builds it with this command)")
	fs.StringVar(&o.fixture, "fixture", "", "the emulator's fleet, a JSON `file` like emulator/testdata/fleet.json (default: that fleet)")
	fs.DurationVar(&o.timeout, "timeout", fcruntime.DefaultTimeout, "the function's timeout, as configured in FC")
	fs.IntVar(&o.memory, "memory", fcruntime.DefaultMemoryMB, "the function's memory size in `MB`, as configured in FC")
	fs.Var(&o.env, "env", "a setting of the function, `NAME=VALUE` (repeatable), e.g. --env BATCH_SIZE=20; see the README's Settings")
	fs.BoolVar(&o.quiet, "quiet", false, "do not show the function's logs (an error that stops it at start is still shown)")
	fs.BoolVar(&o.jsonLogs, "json-logs", false, "show the function's logs as it writes them (JSON lines), not pretty; the default when stderr is not a terminal")
	fs.StringVar(&o.faultAPI, "fault-api", "*", "the `API` the emulator's faults apply to: "+strings.Join(emulator.APIs(), ", ")+", or * for all")
	o.fault.RegisterFlags(fs)
	fs.Int64Var(&o.seed, "seed", 1, "emulator: seed of the random faults (the same seed meets the same faults)")
	fs.BoolVar(&o.exposeIDs, "expose-key-pair-ids", false, "emulator: DescribeKeyPairs answers KeyPairId (undocumented), so that requests by KeyPairId can work")
	fs.StringVar(&o.emulatorURL, "emulator", "", "use the emulator already running at this `URL` (make emulator: http://127.0.0.1:8300) instead of starting one; set its fleet and faults there")
	return fs
}

// parse parses a subcommand's arguments. Flags may come before and after the
// event argument; anything it does not understand is an error. It returns the
// exit code to stop with when ok is false: 0 after -h, exitUsage otherwise
// (the message and the usage are printed).
func parse(cmd string, args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flags(cmd, &o, stderr)
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return o, exitOK, false
	}
	if err != nil {
		return o, exitUsage, false // flag printed the error and the usage
	}
	fail := func(format string, a ...any) (options, int, bool) {
		fmt.Fprintf(stderr, "local %s: %s\n\n", cmd, fmt.Sprintf(format, a...))
		fs.Usage()
		return o, exitUsage, false
	}
	switch {
	case cmd == "serve" && len(positional) > 0:
		return fail("serve takes no argument, got %q: each HTTP request is an event", positional)
	case len(positional) > 1:
		return fail("one event at a time, got %d arguments %q (flags go before or after the event)", len(positional), positional)
	case len(positional) == 1 && o.event != "":
		return fail("the event is given twice: -e %s and %s", o.event, positional[0])
	case len(positional) == 1:
		o.event = positional[0]
	}
	if o.timeout < time.Second {
		return fail("--timeout %s: FC's smallest function timeout is 1s", o.timeout)
	}
	if o.memory <= 0 {
		return fail("--memory %d: want a size in MB", o.memory)
	}
	if cmd == "serve" && o.maxInstances < 1 {
		return fail("--max-instances %d: want 1 or more", o.maxInstances)
	}
	// The API is checked with or without faults: a mistyped name is a fault that never strikes.
	if err := emulator.CheckFaults(map[string]emulator.Fault{o.faultAPI: o.fault}); err != nil {
		return fail("%v", err)
	}
	o.faultFlags, o.seedSet = faultFlags(fs), flagGiven(fs, "seed")
	for _, w := range envWarnings(o.env) {
		fmt.Fprintf(stderr, "local: warning: %s\n", w)
	}
	return o, exitOK, true
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

// faults are the emulator's faults the flags ask for; nil for none.
func (o options) faults() map[string]emulator.Fault {
	if o.fault == (emulator.Fault{}) {
		return nil
	}
	return map[string]emulator.Fault{o.faultAPI: o.fault}
}

// faultFlags returns the emulator's fault flags that were given, as
// "--latency 50ms --qps 20".
func faultFlags(fs *flag.FlagSet) string {
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	new(emulator.Fault).RegisterFlags(faults)
	var given []string
	fs.Visit(func(f *flag.Flag) {
		if faults.Lookup(f.Name) != nil {
			given = append(given, "--"+f.Name+" "+f.Value.String())
		}
	})
	return strings.Join(given, " ")
}

// flagGiven reports whether the flag was given on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// parseInterspersed parses fs over args, allowing flags after the positional
// arguments (which the flag package alone would leave unparsed, flags
// included). "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) (positional []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// readEvent reads the event an -e value names: inline JSON (it starts with
// '{' or '['), "-" for stdin, or a file. from says which, for messages.
func readEvent(arg string, stdin io.Reader) (payload []byte, from string, err error) {
	if arg == "" {
		arg = defaultEvent
	}
	switch t := strings.TrimSpace(arg); {
	case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
		if !json.Valid([]byte(t)) {
			return nil, "", fmt.Errorf("the inline event is not valid JSON: %.80s", t)
		}
		return []byte(t), "inline JSON", nil
	case arg == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, maxEventBytes+1))
		if err != nil {
			return nil, "", fmt.Errorf("reading the event from stdin: %w", err)
		}
		if len(b) > maxEventBytes {
			return nil, "", fmt.Errorf("the event on stdin is larger than %d MB, FC's limit", maxEventBytes>>20)
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, "", errors.New("no event on stdin (-e - reads it from there)")
		}
		return b, "stdin", nil
	default:
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, "", fmt.Errorf("the event: %w (give a file, - for stdin, or inline JSON)", err)
		}
		return b, arg, nil
	}
}

// envFlag collects --env NAME=VALUE settings.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New("want NAME=VALUE")
	}
	*e = append(*e, v)
	return nil
}

// envWarnings checks --env names against the settings the function reads
// and the variables FC reserves: a name the function does not read is passed
// on but does nothing, which is worth a warning with the closest known name.
func envWarnings(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case slices.Contains(settings.Names, name):
		case strings.HasPrefix(name, "FC_") || strings.HasPrefix(name, "ALIBABA_CLOUD_"):
			out = append(out, fmt.Sprintf("--env %s: FC sets FC_* and ALIBABA_CLOUD_* itself; the function sees FC's value", name))
		default:
			if near := closest(name, settings.Names); near != "" {
				out = append(out, fmt.Sprintf("--env %s: the function has no such setting; did you mean %s?", name, near))
			} else {
				out = append(out, fmt.Sprintf("--env %s: the function has no such setting (it reads %s)", name, strings.Join(settings.Names, ", ")))
			}
		}
	}
	return out
}

// closest returns the known name nearest to name: the same but for case, or
// within a few edits; "" when none is near.
func closest(name string, known []string) string {
	best, bestDist := "", len(name)/3+2
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToUpper(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev = cur
	}
	return prev[len(b)]
}
