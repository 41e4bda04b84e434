//go:build windows

package upstream

import (
	"os"
	"syscall"
)

// procAttr has nothing to add on Windows: there is no guard and no
// process group; stop kills the process itself.
func procAttr(bool) *syscall.SysProcAttr { return nil }

// killGroup kills the process pid (Windows has no signals to send first).
func killGroup(pid int, _ bool) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
