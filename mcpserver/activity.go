package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// CallRecorder receives one record per tools/call. Record must not block
// or do I/O on the caller's goroutine (*audit.Log's does neither); its
// answer (queued or dropped) is the recorder's business.
type CallRecorder interface {
	Record(audit.Call) bool
}

// WithCallRecorder records every tools/call of every tenant in r: the
// tool, the caller (persistent user id, local owner or guest session
// fingerprint, never a session id), the client's name, the outcome, the
// duration, the size of the arguments and the arguments as JSON (up to
// audit.MaxRawArgsBytes), which the recorder masks before it writes them
// (*audit.Log does, in its writer goroutine).
func WithCallRecorder(r CallRecorder) Option { return func(s *Server) { s.recorder = r } }

// recordCall records a finished call of a tool that exists and is
// visible (observeToolCalls, the outermost tool middleware, times it and
// calls this): args and size are the call's arguments as the client sent
// them (argsJSON, before the guard injects a key).
func (s *Server) recordCall(ctx context.Context, tenant, tool string, at time.Time, took time.Duration,
	args json.RawMessage, size int, res *mcp.CallToolResult, err error) {
	c := s.callRecord(ctx, tenant, tool, at)
	c.Outcome, c.Duration, c.ArgsBytes = outcomeOf(res, err), took, size
	if size > 0 && args == nil {
		c.ArgsCut = true // too long to keep
	}
	c.Args = args
	s.recorder.Record(c)
}

// recordUnknownTool is an OnError hook: a tools/call of a tool the tenant
// does not have or has switched off never reaches the middleware, and is
// recorded here as a protocol error. A name that is not a tool name is
// not recorded as given.
func (s *Server) recordUnknownTool(tenant string) server.OnErrorHookFunc {
	return func(ctx context.Context, _ any, method mcp.MCPMethod, message any, err error) {
		if method != mcp.MethodToolsCall || !errors.Is(err, server.ErrToolNotFound) {
			return
		}
		name := "?"
		if req, ok := message.(*mcp.CallToolRequest); ok && tools.ValidToolName(req.Params.Name) {
			name = req.Params.Name
		}
		c := s.callRecord(ctx, tenant, name, s.now())
		c.Outcome, c.Reason = audit.OutcomeProtocolError, audit.ReasonUnknownTool
		s.recorder.Record(c)
	}
}

// recordBadToken records an MCP request refused for its bearer token (a
// login denied); only the refusal path pays for it, never a call.
func (s *Server) recordBadToken(tenant string) {
	if s.recorder == nil {
		return
	}
	s.recorder.Record(audit.Call{Kind: audit.KindLogin, Time: s.now(), Tenant: tenant, Action: "mcp_token",
		Actor: "bearer", Outcome: audit.OutcomeDenied, Reason: "bad_token"})
}

// callRecord is the record of a call by the request's caller.
func (s *Server) callRecord(ctx context.Context, tenant, tool string, at time.Time) audit.Call {
	c := audit.Call{Time: at, Tenant: tenant, Tool: tool, Client: clientName(ctx)}
	if caller, ok := tools.CallerFrom(ctx); ok {
		c.User, c.Local = caller.UserID, caller.Local
		if caller.UserID == "" {
			c.Session = tools.SessionFingerprint(caller.SessionID)
		}
	}
	return c
}

// outcomeOf classifies a tool's answer: a Go error is a protocol error (the
// client gets a JSON-RPC error), so is no result at all; an isError result
// is a tool error unless it is Plexus's "connect / sign in" or "API key
// needed" result.
func outcomeOf(res *mcp.CallToolResult, err error) audit.Outcome {
	switch {
	case err != nil || res == nil:
		return audit.OutcomeProtocolError
	case !res.IsError:
		return audit.OutcomeOK
	}
	if cr, ok := res.StructuredContent.(CredentialResult); ok {
		switch cr.Error {
		case ResultAuthRequired, ResultSignInRequired:
			return audit.OutcomeNeedsConsent
		case ResultAPIKeyRequired:
			return audit.OutcomeNeedsKey
		}
	}
	return audit.OutcomeToolError
}

// argsJSON is a call's arguments as JSON, unmasked (nil when there are
// none or they are longer than audit.MaxRawArgsBytes), and their size (0
// for none). The bytes are the record's own: nothing else holds them.
func argsJSON(args any) (json.RawMessage, int) {
	switch a := args.(type) {
	case nil:
		return nil, 0
	case map[string]any:
		if len(a) == 0 {
			return nil, 0
		}
	case json.RawMessage:
		if len(a) > audit.MaxRawArgsBytes {
			return nil, len(a)
		}
		return append(json.RawMessage(nil), a...), len(a)
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, 0
	}
	if len(b) > audit.MaxRawArgsBytes {
		return nil, len(b)
	}
	return b, len(b)
}
