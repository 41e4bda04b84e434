//go:build windows

package localclient

import "io/fs"

// checkPrivate is a no-op on Windows: the file lives in the user's profile
// and its access is governed by ACLs, not mode bits.
func checkPrivate(fs.FileInfo) error { return nil }
