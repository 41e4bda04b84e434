//go:build unix

package upstream

import "syscall"

// procAttr puts the upstream (or its guard) in a process group of its own,
// so that stopping it stops what it started too. Without a guard, on
// Linux, the kernel also kills it when the daemon dies (setParentDeath).
func procAttr(guarded bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if !guarded {
		setParentDeath(a)
	}
	return a
}

// killGroup sends SIGKILL (hard) or SIGTERM to the process group led by
// pid; a group that is gone already is not an error.
func killGroup(pid int, hard bool) {
	if pid <= 0 {
		return
	}
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pid, sig)
}
