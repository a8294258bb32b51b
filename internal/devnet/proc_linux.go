package devnet

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel send the network SIGTERM when the process
// that started it dies, so a killed test or bench leaves no network behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
