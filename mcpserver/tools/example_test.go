package tools_test

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// A registry starts with the built-in tools; register your own with the
// tenants that may see them, then ask which tools a tenant gets. A handler
// learns who calls it with CallerFrom and keeps per-session state with
// SessionValues.
func ExampleRegistry() {
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("acme_greet",
			mcp.WithDescription("Greets the caller"),
			mcp.WithString("name", mcp.Required())),
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			caller, _ := tools.CallerFrom(ctx)
			vals := tools.SessionValues(ctx)
			if err := vals.Set(ctx, "last_greeted", []byte(req.GetString("name", ""))); err != nil {
				// Stateless (2026-07-28) requests have no session.
				return mcp.NewToolResultError(err.Error()), nil
			}
			return mcp.NewToolResultText("hello " + req.GetString("name", "") + " from " + caller.TenantID), nil
		},
		AllowedTenants: []string{"acme"},
		ToolSets:       []string{"greetings"},
	})
	if err != nil {
		fmt.Println(err)
	}
	// Names are unique.
	fmt.Println(reg.Register(tools.Tool{Definition: mcp.NewTool("acme_greet"), Handler: nil}) != nil)

	for _, tenant := range []string{"acme", "beta"} {
		fmt.Print(tenant, ":")
		for _, t := range reg.ForTenant(tenant) {
			fmt.Print(" ", t.Definition.Name)
		}
		fmt.Println()
	}
	// Output:
	// true
	// acme: plexus_whoami acme_greet
	// beta: plexus_whoami
}
