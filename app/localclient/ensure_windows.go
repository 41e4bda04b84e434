//go:build windows

package localclient

import "syscall"

// detachedProcess is DETACHED_PROCESS: the daemon gets no console.
const detachedProcess = 0x00000008

// detachedAttr starts the daemon in its own process group with no console,
// so closing the starter's console does not stop it.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess,
		HideWindow:    true,
	}
}
