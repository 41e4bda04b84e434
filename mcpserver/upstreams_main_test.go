//go:build unix

package mcpserver

import (
	"os"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
)

// TestMain lets the test binary be an upstream's guard and the test
// upstream itself (package upstreamtest).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == upstream.GuardCommand {
		os.Exit(upstream.RunGuard(os.Args[2:]))
	}
	upstreamtest.Main()
	os.Exit(m.Run())
}
