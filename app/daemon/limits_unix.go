//go:build unix

package daemon

import "syscall"

// fileLimit returns the process's open-file limit (RLIMIT_NOFILE; Go
// raises the soft limit to the hard one at start).
func fileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}
