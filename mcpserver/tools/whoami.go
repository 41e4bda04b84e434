package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
)

// WhoamiName is the name of the built-in tool that reports the caller.
const WhoamiName = "plexus_whoami"

// Whoami is the JSON text plexus_whoami returns.
type Whoami struct {
	Tenant   string `json:"tenant"`
	User     string `json:"user"`
	Guest    bool   `json:"guest"`
	Session  string `json:"session"`
	Protocol string `json:"protocol"`
}

// builtins are the tools every registry starts with.
func builtins() []Tool {
	return []Tool{{
		Definition: mcp.NewTool(WhoamiName,
			mcp.WithDescription("Shows who Plexus thinks is calling: tenant, user (persistent id, empty for a guest), MCP session and protocol version."),
			mcp.WithReadOnlyHintAnnotation(true),
			mcp.WithDestructiveHintAnnotation(false),
			mcp.WithIdempotentHintAnnotation(true),
			mcp.WithOpenWorldHintAnnotation(false),
		),
		Handler:  whoami,
		ToolSets: []string{"plexus"},
	}}
}

func whoami(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return mcp.NewToolResultError("plexus_whoami: no caller in the request context"), nil
	}
	b, err := json.Marshal(Whoami{Tenant: c.TenantID, User: c.UserID, Guest: c.Guest, Session: c.SessionID, Protocol: c.Protocol})
	if err != nil {
		return nil, err
	}
	return mcp.NewToolResultText(string(b)), nil
}
