package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the server when the test process dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func setXattr(path, name string, value []byte) error {
	return syscall.Setxattr(path, name, value, 0)
}
