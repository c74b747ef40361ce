//go:build !linux

package fcruntime

import (
	"os"
	"syscall"
)

// sysProcAttr uses the defaults where process groups are not handled here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup sends sig to p alone.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return p.Signal(sig)
}
