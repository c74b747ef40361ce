// Command local runs the function on a laptop as Function Compute 3.0 runs it: the
// built binary under the FC runtime-API runner (emulator/fcruntime), its ECS, ENS,
// EventBridge and FC calls going to the embedded emulator (or to a running one,
// --emulator).
//
//	local invoke [flags] [EVENT]   hand the function one event; print what happened
//	local serve [flags]            an HTTP trigger on 127.0.0.1:9000 for curl
//
// invoke prints the function's logs, then a header that says how the invocation
// ended, a one-line summary, a REPORT line as FC's logs have one, the answer and the
// result events; its exit code says the same (see usage). `make run` and `make serve`
// build the function and this command in one go build and run them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// Exit codes.
const (
	exitOK          = 0   // succeeded (per-instance failures are in the answer)
	exitRefused     = 1   // the function answered a request-level error (4xx): the request needs fixing
	exitUsage       = 2   // bad arguments
	exitFailed      = 3   // the function failed: a 5xx answer, a failed invocation, a timeout or a crash
	exitLocal       = 4   // this command could not run the function: build, emulator or runner error
	exitInterrupted = 130 // Ctrl-C before the answer
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &command{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal(os.Stderr),
		baseEnv: fcruntime.BaseEnvOf(os.Environ())}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// command is one run of local, with its input and output.
type command struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	terminal       bool     // stderr is a terminal: the function's logs are shown pretty
	baseEnv        []string // what the function's processes get of this one's environment (PATH, HOME, TZ)

	// inspect, when set, is called with the emulator and the runner once the
	// work is done and before they stop (tests check the emulator's state).
	inspect func(*localrun.Env)
}

// run runs local with its arguments and returns the exit code.
func (c *command) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, intro)
		return exitUsage
	}
	switch args[0] {
	case "invoke":
		code := c.invoke(ctx, args[1:])
		switch code { // make adds "*** Error N": say it is no crash
		case exitRefused:
			fmt.Fprintln(c.stderr, "local: exit 1: the function answered a request-level error (4xx), see above")
		case exitFailed:
			fmt.Fprintln(c.stderr, "local: exit 3: the function failed, see above")
		}
		return code
	case "serve":
		return c.serve(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, intro)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "local: unknown command %q\n\n%s", args[0], intro)
	return exitUsage
}

const intro = `usage: local invoke [flags] [EVENT]   hand the function one event, print what happened
       local serve [flags]            serve the function's HTTP trigger for curl

Both build the function, start the ECS/ENS/EventBridge emulator with the shipped fleets and
run the function under the FC runtime-API runner, as FC 3.0 runs go1 functions.
"local invoke -h" and "local serve -h" list the flags. make run and make serve run them.
`

// usage prints a subcommand's usage and flags.
func usage(w io.Writer, cmd string, fs *flag.FlagSet) {
	switch cmd {
	case "invoke":
		fmt.Fprint(w, `usage: local invoke [flags] [EVENT]

Hands the function one event, as FC would, against a fresh emulator, and prints the
function's logs, then what happened: a header (Succeeded, Answered 4xx, Failed (code),
TimedOut or Crashed), a summary line, a REPORT line (duration, billed duration, memory),
the answer and the result events. A fleet run (Targets) goes on after its first answer
in asynchronous invocations through the emulator's FC: invoke waits for them, lists
every part's events and says what became of each region (events/fleet-timer.json).

EVENT (or -e EVENT) is a file (samples in events/), - for stdin, or inline JSON:
  local invoke events/direct.json --dry-run
  local invoke -e '{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0001"]}'
  cat events/timer.json | local invoke -e -

exit codes: 0 succeeded (per-instance failures are in the answer); 1 the function answered
a request-level error (4xx); 2 usage error; 3 the function failed (a 5xx answer, a failed
invocation, a timeout, a crash); 4 local could not run it (build, emulator, runner).

flags (-x and --x are the same):
`)
	case "serve":
		fmt.Fprint(w, `usage: local serve [flags]

Serves the function's HTTP trigger: each HTTP request becomes FC's HTTP trigger event,
the function handles it under the runner (concurrent requests start more instances, as
in FC), and its HTTP response is the answer. One log line per request. Ctrl-C stops.

  curl -X POST localhost:9000 -d '{"KeyPairName":"ops-2026","InstanceIds":["i-bp1d6tsvznfghy7y0003"]}'

flags (-x and --x are the same):
`)
	}
	fs.PrintDefaults()
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// function returns the function binary to run: the --binary one, or one
// built now from the module, with its build's cleanup.
func (c *command) function(ctx context.Context, o options) (bin string, cleanup func(), err error) {
	if o.binary != "" {
		return o.binary, func() {}, nil
	}
	fmt.Fprintln(c.stderr, "local: building the function (the first build on a machine compiles the standard library and the cloud SDKs, minutes; make run builds it with this command, faster)...")
	start := time.Now()
	bin, err = localrun.Build(ctx, ".")
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(c.stderr, "local: built in %s\n", time.Since(start).Round(100*time.Millisecond))
	return bin, func() { os.RemoveAll(filepath.Dir(bin)) }, nil
}
