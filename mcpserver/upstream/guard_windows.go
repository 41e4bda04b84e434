//go:build windows

package upstream

import (
	"fmt"
	"os"
)

// RunGuard is not available on Windows: the daemon starts stdio upstreams
// directly there.
func RunGuard([]string) int {
	fmt.Fprintln(os.Stderr, "plexus upstream guard: not supported on Windows")
	return 2
}
