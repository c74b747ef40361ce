// Package localrun runs the function on a laptop the way Function Compute runs it: the
// built binary under the FC runtime-API runner, its ECS, ENS, EventBridge and FC
// endpoints pointed at the embedded emulator, and the temporary credentials of a fake
// role. The emulator's FC InvokeFunction hands the function's asynchronous invocations
// of itself (a fleet run's next parts) to the runner, as FC would. The local command,
// the end-to-end tests and the benchmark all start it the same way.
package localrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
)

// Options say what to run and how the emulated cloud behaves.
type Options struct {
	Fixture *emulator.Fixture // the fleet; nil = emulator.DefaultFixture()
	// ENSFixture is the ENS fleet; nil = emulator.DefaultENSFixture().
	ENSFixture *emulator.ENSFixture
	Faults     map[string]emulator.Fault // per API name, or "*"
	Seed       int64                     // the emulator's random source (faults)
	// ExposeKeyPairIDs makes the emulator's DescribeKeyPairs answer KeyPairId,
	// the undocumented case (emulator.Config.ExposeKeyPairIDs).
	ExposeKeyPairIDs bool
	// NextTokenTTL is how long the emulator's DescribeInstances tokens stay valid
	// (emulator.Config.NextTokenTTL; 0: forever).
	NextTokenTTL time.Duration
	// Emulator is the URL of an emulator already running (make emulator,
	// "http://127.0.0.1:8300") to use instead of starting one; the function
	// then signs with its documented local key (emulator.DefaultAccessKeyID).
	// The options above configure only an emulator that Start starts.
	Emulator string

	Binary string // a built function; "" = build it from Source
	Source string // the function's package directory (default ".")

	// BaseEnv is the environment the function's processes start from
	// (fcruntime.Config.BaseEnv): nil for FC's clean one; a command passes
	// fcruntime.BaseEnvOf(os.Environ()).
	BaseEnv      []string
	Env          []string      // extra settings of the function ("K=V"), after the defaults
	Timeout      time.Duration // the function's timeout (default 60s)
	MemoryMB     int           // the function's memory (default 512)
	Region       string        // the region FC runs the function in (default cn-hangzhou)
	EventBus     string        // EVENT_BUS (default DefaultEventBus; "-" = none)
	FunctionLogs io.Writer     // where the function's logs go (nil = discarded)

	// MaxInstances is the function's instance limit: concurrent invocations
	// start up to this many instances (default fcruntime.DefaultMaxInstances).
	MaxInstances int
	// Async is the function's asynchronous invocation configuration: retries,
	// event age, and callbacks for its destination records.
	Async fcruntime.AsyncConfig
}

// DefaultEventBus is the bus result events go to unless Options say otherwise.
const DefaultEventBus = "detach-results"

// Env is a running function with its emulated cloud. Runner has the rest of
// FC's view of the function: its instances and counters (Stats), and the
// records of asynchronous invocations (SuccessRecords, FailureRecords).
type Env struct {
	Emulator    *emulator.Server // the emulator Start started; nil with Options.Emulator
	EmulatorURL string           // the emulator's base URL, whoever started it
	// FC is the emulator whose InvokeFunction runs the function (FC_ENDPOINT): Emulator,
	// or, with Options.Emulator, one started for FC alone (a running emulator cannot
	// reach this process's runner).
	FC          *emulator.Server
	Runner      *fcruntime.Runner
	Credentials fcruntime.Credentials // the fake role's credentials (tests only)
	EventBus    string
	tmp         string
	fcOwn       *emulator.Server // the FC-only emulator startFC started
}

// Start starts the emulator (unless Options.Emulator names a running one)
// and the function. Close stops both.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.Region == "" {
		o.Region = "cn-hangzhou"
	}
	if o.EventBus == "" {
		o.EventBus = DefaultEventBus
	}
	e := &Env{Credentials: fcruntime.Credentials{
		AccessKeyID:     "STS.Local" + randomHex(10),
		AccessKeySecret: randomHex(16),
		SecurityToken:   "CAIS" + randomHex(24),
	}}
	if o.EventBus != "-" {
		e.EventBus = o.EventBus
	}
	if err := e.startEmulator(ctx, o); err != nil {
		return nil, err
	}
	var err error

	bin := o.Binary
	if bin == "" {
		e.tmp, err = os.MkdirTemp("", "detach-keypair-")
		if err != nil {
			e.Close()
			return nil, err
		}
		bin = filepath.Join(e.tmp, "main")
		src := o.Source
		if src == "" {
			src = "."
		}
		if err := fcruntime.Build(ctx, src, bin); err != nil {
			e.Close()
			return nil, fmt.Errorf("building the function: %w", err)
		}
	}
	if err := e.startFC(); err != nil {
		e.Close()
		return nil, err
	}
	env := []string{
		"ECS_ENDPOINT=" + e.EmulatorURL,
		"ENS_ENDPOINT=" + e.EmulatorURL,
		"EVENTBRIDGE_ENDPOINT=" + e.EmulatorURL,
		"FC_ENDPOINT=" + e.FC.URL(),
		"EVENT_BUS=" + e.EventBus,
	}
	e.Runner, err = fcruntime.Start(ctx, fcruntime.Config{
		Binary:      bin,
		BaseEnv:     o.BaseEnv,
		Env:         append(env, o.Env...),
		Timeout:     o.Timeout,
		MemoryMB:    o.MemoryMB,
		Region:      o.Region,
		Credentials: e.Credentials,
		Stdout:      o.FunctionLogs,
		Stderr:      o.FunctionLogs,

		MaxInstances: o.MaxInstances,
		Async:        o.Async,
	})
	if err != nil {
		e.Close()
		return nil, &StartError{Err: err}
	}
	return e, nil
}

// StartError is Start's error when the function did not start: its process
// could not run, or exited before asking for its first invocation, as the
// function does when it refuses its settings. The function's own output
// (Options.FunctionLogs) says why.
type StartError struct{ Err error }

func (e *StartError) Error() string { return "starting the function: " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// startEmulator starts the emulator of the options, or checks the one they
// name and signs with its documented key.
func (e *Env) startEmulator(ctx context.Context, o Options) error {
	if o.Emulator != "" {
		if o.Fixture != nil || o.ENSFixture != nil || len(o.Faults) > 0 || o.Seed != 0 || o.ExposeKeyPairIDs || o.NextTokenTTL != 0 {
			return errors.New("the fixture, faults, seed and key pair ids configure an emulator that localrun starts: " +
				"give them to the running emulator instead (its flags, or POST /_emulator/faults)")
		}
		if err := (emulator.Remote{URL: o.Emulator}).Check(ctx); err != nil {
			return err
		}
		e.EmulatorURL = o.Emulator
		e.Credentials = fcruntime.Credentials{AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret}
		return nil
	}
	if o.Fixture == nil {
		o.Fixture = emulator.DefaultFixture()
	}
	emu, err := emulator.New(emulator.Config{
		Credentials:      e.acceptedCredentials(),
		Fixture:          o.Fixture,
		ENSFixture:       o.ENSFixture,
		Faults:           o.Faults,
		Seed:             o.Seed,
		ExposeKeyPairIDs: o.ExposeKeyPairIDs,
		NextTokenTTL:     o.NextTokenTTL,
	})
	if err != nil {
		return err // the emulator's errors say "emulator: ..." themselves
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		return err
	}
	e.Emulator, e.EmulatorURL = emu, emu.URL()
	return nil
}

// acceptedCredentials are the credentials the function signs with (Credentials), as an
// emulator that Start starts accepts them.
func (e *Env) acceptedCredentials() []emulator.Credential {
	return []emulator.Credential{{
		AccessKeyID: e.Credentials.AccessKeyID, AccessKeySecret: e.Credentials.AccessKeySecret, SecurityToken: e.Credentials.SecurityToken,
	}}
}

// startFC makes the function invocable through the emulated FC's InvokeFunction, with
// its asynchronous task mode on (as the deployment files set it): an invocation goes
// to the runner's InvokeAsync.
func (e *Env) startFC() error {
	e.FC = e.Emulator
	if e.FC == nil {
		fcEmu, err := emulator.New(emulator.Config{Credentials: e.acceptedCredentials()})
		if err != nil {
			return err
		}
		if err := fcEmu.Start("127.0.0.1:0"); err != nil {
			return err
		}
		e.fcOwn, e.FC = fcEmu, fcEmu
	}
	e.FC.PutFunction(emulator.FCFunction{Name: fcruntime.DefaultFunctionName, AsyncTask: true, Invoke: func(payload []byte) (string, error) {
		return e.Runner.InvokeAsync(fcruntime.Invocation{Payload: payload})
	}})
	return nil
}

// Events returns the result events recorded on a bus, by whichever emulator.
func (e *Env) Events(ctx context.Context, bus string) ([]emulator.Event, error) {
	if e.Emulator != nil {
		return e.Emulator.Events(bus), nil
	}
	return emulator.Remote{URL: e.EmulatorURL}.Events(ctx, bus)
}

// Build builds the function from its package directory into a temporary folder and
// returns the binary's path, for callers that start several Envs from one build.
func Build(ctx context.Context, src string) (string, error) {
	dir, err := os.MkdirTemp("", "detach-keypair-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "main")
	return bin, fcruntime.Build(ctx, src, bin)
}

// Invoke hands the function one event, as FC would, and waits for its answer.
func (e *Env) Invoke(ctx context.Context, payload []byte) (fcruntime.Result, error) {
	return e.Runner.Invoke(ctx, fcruntime.Invocation{Payload: payload})
}

// InvokeAsync queues one event for the function, as FC's asynchronous
// invocation does, and returns its request id; Runner.Drain waits for it.
func (e *Env) InvokeAsync(payload []byte) (string, error) {
	return e.Runner.InvokeAsync(fcruntime.Invocation{Payload: payload})
}

// Close stops the function and the emulator and removes the build.
func (e *Env) Close() error {
	if e.Runner != nil {
		e.Runner.Close()
	}
	if e.Emulator != nil {
		e.Emulator.Close()
	}
	if e.fcOwn != nil {
		e.fcOwn.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
