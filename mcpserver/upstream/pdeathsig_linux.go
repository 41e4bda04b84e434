package upstream

import "syscall"

// setParentDeath asks the kernel to SIGKILL the child when the thread that
// started it ends (in practice: when the daemon dies; Go keeps its threads
// for the life of the process unless a goroutine locked to one exits).
// Only the direct child is covered, hence the guard.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
