package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

type toolNameKey struct{}

// WithToolName returns a context saying which tool is running; Plexus
// sets it before a tool's handler runs.
func WithToolName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, toolNameKey{}, name)
}

// ToolNameFrom returns the running tool's name ("" outside a tool call).
func ToolNameFrom(ctx context.Context) string {
	n, _ := ctx.Value(toolNameKey{}).(string)
	return n
}

// ErrNoClient is returned (wrapped) by Log when the request has no MCP
// client to send to (a handler run outside Plexus's MCP endpoint).
var ErrNoClient = errors.New("no MCP client in the request context")

// Log sends an MCP log message (notifications/message) to the client of
// the request being handled, as the client asked for them: a 2025-11-25
// client receives the levels at or above the one it set with
// logging/setLevel ("error" until it sets one), a 2026-07-28 client only
// those at or above the level its request declared (none if it declared
// none). Messages sent during a tools/call arrive on that call's own
// response stream, in order and before its result.
//
// The message's data is {"message": msg} plus the key-value pairs of args
// (as log/slog takes them: "city", "Oslo", ...; a key that is not a string
// is shown as "!BADKEY"), and its logger is the running tool's name. The
// client shows what it gets to the user and the model: never put a token,
// key or other secret in a message.
//
// Log returns nil when the client did not ask for this level, and an
// error when the message could not be queued (no client; too many
// messages queued by this call).
func Log(ctx context.Context, level mcp.LoggingLevel, msg string, args ...any) error {
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return ErrNoClient
	}
	data := make(map[string]any, 1+len(args)/2)
	data["message"] = msg
	for i := 0; i < len(args); i += 2 {
		key, ok := args[i].(string)
		if !ok {
			key = "!BADKEY"
		}
		if i+1 < len(args) {
			data[key] = args[i+1]
		} else {
			data["!BADKEY"] = args[i]
		}
	}
	logger := ToolNameFrom(ctx)
	if logger == "" {
		logger = "plexus"
	}
	err := srv.SendLogMessageToClient(ctx, mcp.NewLoggingMessageNotification(level, logger, data))
	if errors.Is(err, server.ErrNotificationNotInitialized) {
		return fmt.Errorf("%w: %w", ErrNoClient, err)
	}
	if err != nil {
		return fmt.Errorf("send log message: %w", err)
	}
	return nil
}
