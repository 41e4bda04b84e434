//go:build !conformance

package cli

import (
	"flag"
	"log/slog"

	"github.com/plexus-mcp/plexus/mcpserver"
)

// conformanceFlag adds nothing: the product binary has no conformance
// fixtures (see serve_conformance.go for the conformance build).
func conformanceFlag(*flag.FlagSet) func(*slog.Logger) []mcpserver.Option {
	return func(*slog.Logger) []mcpserver.Option { return nil }
}
