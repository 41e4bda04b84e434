//go:build !unix

package daemon

// fileLimit reports no open-file limit: the platform has none to read.
func fileLimit() (uint64, bool) { return 0, false }
