package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the OS kill cmd's process once the thread that starts
// it is gone: when the bench is killed (SIGKILL, or a signal it does not
// catch) its child would otherwise measure on, up to the child's limit,
// beside whatever runs next. The caller keeps its goroutine locked to the
// starting thread until the child ended, or the Go runtime might let that
// thread exit with the child still running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
