package fcruntime

import (
	"os"
	"syscall"
)

// sysProcAttr puts the function in its own process group, so that stopping
// it also stops whatever it started, and has the kernel kill it if the
// runner dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
