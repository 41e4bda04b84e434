package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
)

// WhoamiName is the name of the built-in tool that reports the caller.
const WhoamiName = "plexus_whoami"

// Whoami is the JSON text plexus_whoami returns. Tool results land in
// chat transcripts, so it never holds the session id (a credential), only
// its fingerprint.
type Whoami struct {
	Tenant string `json:"tenant"`
	User   string `json:"user"`
	Guest  bool   `json:"guest"`
	// SessionFingerprint is SessionFingerprint of the legacy-era session
	// id; empty without a session.
	SessionFingerprint string `json:"session_fingerprint,omitempty"`
	Protocol           string `json:"protocol"`
}

// SessionFingerprint is a short, non-secret name for a session id: the
// first 8 hex digits of its SHA-256 (the prefix of the vault's stored
// hash, and how Plexus names sessions in errors). "" for "".
func SessionFingerprint(id string) string {
	if id == "" {
		return ""
	}
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:4])
}

// builtins are the tools every registry starts with.
func builtins() []Tool {
	return []Tool{{
		Definition: mcp.NewTool(WhoamiName,
			mcp.WithDescription("Shows who Plexus thinks is calling: tenant, user (persistent id, empty for a guest), a fingerprint of the MCP session (never the session id) and the protocol version."),
			mcp.WithReadOnlyHintAnnotation(true),
			mcp.WithDestructiveHintAnnotation(false),
			mcp.WithIdempotentHintAnnotation(true),
			mcp.WithOpenWorldHintAnnotation(false),
		),
		Summary:  "Check who Plexus thinks is asking: which tenant, and which person or guest.",
		Handler:  whoami,
		ToolSets: []string{"plexus"},
	}}
}

func whoami(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return mcp.NewToolResultError("plexus_whoami: no caller in the request context"), nil
	}
	b, err := json.Marshal(Whoami{Tenant: c.TenantID, User: c.UserID, Guest: c.Guest, SessionFingerprint: SessionFingerprint(c.SessionID), Protocol: c.Protocol})
	if err != nil {
		return nil, err
	}
	return mcp.NewToolResultText(string(b)), nil
}
