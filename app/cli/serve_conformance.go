//go:build conformance

package cli

import (
	"flag"
	"log/slog"

	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/conformance"
)

// conformanceFlag adds --conformance-tenant to `plexus serve`: the tenant
// that also serves the official MCP conformance suite's fixtures. Only the
// conformance build (go build -tags conformance .) has it; CI and anyone
// checking interop use that build, the product binary has neither the
// flag nor the fixtures.
func conformanceFlag(fs *flag.FlagSet) func(*slog.Logger) []mcpserver.Option {
	tenant := fs.String("conformance-tenant", "", "conformance build: serve the MCP conformance fixtures on this tenant")
	return func(log *slog.Logger) []mcpserver.Option {
		if *tenant == "" {
			return nil
		}
		log.Warn("Conformance fixtures enabled (conformance build, test only)", "tenant", *tenant)
		return []mcpserver.Option{mcpserver.WithTenantExtension(*tenant, conformance.ServerOptions(), conformance.Register)}
	}
}
