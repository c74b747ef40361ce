package emulator

import "detachkeypair/emulator/internal/fault"

// Fault is what the emulator does wrong on purpose for one API; the zero
// Fault does nothing wrong. Its fields are documented in README.md
// ("Faults"); RegisterFlags defines a command-line flag for each.
type Fault = fault.Fault

// FaultJSON is a Fault as the admin API reads and writes it, with durations
// in Go's form ("50ms", "1.5s").
type FaultJSON = fault.JSON
