//go:build !windows

package localclient

import (
	"fmt"
	"io/fs"
)

// checkPrivate refuses a runtime file that users other than its owner can
// read or write: the local token in it must stay private.
func checkPrivate(fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w (mode %#o, want 0600)", ErrInsecureRuntime, perm)
	}
	return nil
}
