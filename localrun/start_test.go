package localrun_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"detachkeypair/emulator"
	"detachkeypair/emulator/fcruntime"
	"detachkeypair/localrun"
)

// TestStartErrors: the emulator's errors reach the caller as the emulator says
// them (once "emulator: ", not "emulator: emulator: "), and a function that
// stops at start, here on a setting it refuses, is a StartError whose output
// says why.
func TestStartErrors(t *testing.T) {
	_, err := localrun.Start(context.Background(), localrun.Options{Binary: binary,
		Faults: map[string]emulator.Fault{"*": {ErrorRate: 2}}})
	if err == nil || !strings.HasPrefix(err.Error(), "emulator: ") || strings.Contains(err.Error(), "emulator: emulator:") {
		t.Errorf("bad fault: error %v", err)
	}

	logs := &fcruntime.Logs{}
	_, err = localrun.Start(context.Background(), localrun.Options{Binary: binary,
		Env: []string{"BATCH_SIZE=0"}, FunctionLogs: logs})
	var notStarted *localrun.StartError
	if !errors.As(err, &notStarted) {
		t.Fatalf("error %v (%T), want a *localrun.StartError", err, err)
	}
	if !strings.Contains(logs.String(), `setting BATCH_SIZE=\"0\" is invalid`) {
		t.Errorf("the function's output does not say why:\n%s", logs.String())
	}
}
