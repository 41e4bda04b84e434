//go:build !windows

package localclient

import "syscall"

// detachedAttr puts the daemon in a new session, so it has no controlling
// terminal and survives the signals sent to its starter's process group.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
