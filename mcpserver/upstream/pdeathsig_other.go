//go:build unix && !linux

package upstream

import "syscall"

// setParentDeath has no equivalent outside Linux; the guard covers it.
func setParentDeath(*syscall.SysProcAttr) {}
