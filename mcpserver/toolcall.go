package mcpserver

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/argcheck"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// The path every tools/call takes on a tenant's MCP server, once mcp-go
// has found the tool and the tool filter has let it through, as two
// mcp-go tool middlewares around mcp-go's own recovery:
//
//	observe (metrics, the running tool's name) -> recovery -> arguments check -> handler
//
// The arguments check is the one place a tool's arguments are checked
// against its input schema (package argcheck), whatever added the tool
// to the server: the registry, an upstream server, a declarative HTTP
// tool. A call whose arguments do not match gets an isError result
// saying which argument is wrong and why (a tool execution error, as the
// MCP specification 2025-11-25 wants for input validation, so the model
// can correct itself), and the handler does not run. The schema checked
// is the one tools/list shows (for a tool whose API key is injected,
// without the hidden "<provider>_api_key" argument, which is set after
// the check). Each schema is compiled once per tenant server and kept
// until the tool's definition changes.

// WithMetrics makes the Server count tool calls (by tenant, tool and
// outcome, with latency) in m; nil (the default) counts nothing.
func WithMetrics(m *telemetry.Metrics) Option { return func(s *Server) { s.metrics = m } }

// callRecord is one tool call as observeToolCalls sees it; the arguments
// check marks it when it refused the arguments.
type callRecord struct{ invalid bool }

type callRecordKey struct{}

// observeToolCalls is the outermost tool middleware of tenantID's server
// (outside the recovery, so a panic reaches it as the recovery's error):
// it puts the running tool's name in the context (tools.Log names its
// messages after it) and, timing the call once, counts it when the Server
// has metrics and records it when it has a call recorder (activity.go).
func (s *Server) observeToolCalls(tenantID string) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ctx = tools.WithToolName(ctx, req.Params.Name)
			if s.metrics == nil && s.recorder == nil {
				return next(ctx, req)
			}
			at, start := s.now(), time.Now()
			var args json.RawMessage
			var size int
			if s.recorder != nil {
				args, size = argsJSON(req.Params.Arguments) // before the guard injects a key
			}
			rec := &callRecord{}
			ctx = context.WithValue(ctx, callRecordKey{}, rec)
			res, err := next(ctx, req)
			took := time.Since(start)
			// req.Params.Name is a registered tool's: mcp-go answered an
			// unknown or hidden one before any middleware ran.
			if s.metrics != nil {
				s.metrics.ToolCall(tenantID, req.Params.Name, metricOutcome(rec, res, err), took)
			}
			if s.recorder != nil {
				s.recordCall(ctx, tenantID, req.Params.Name, at, took, args, size, res, err)
			}
			return res, err
		}
	}
}

// metricOutcome classifies a finished call for the metrics.
func metricOutcome(rec *callRecord, res *mcp.CallToolResult, err error) telemetry.Outcome {
	switch {
	case rec.invalid:
		return telemetry.InvalidArguments
	case err != nil || res == nil:
		return telemetry.Failed
	case !res.IsError:
		return telemetry.OK
	}
	if _, ok := res.StructuredContent.(CredentialResult); ok {
		return telemetry.CredentialRequired
	}
	return telemetry.ToolError
}

// argSchemas holds one tenant server's compiled input schemas by tool
// name, each with the identity of the definition it was compiled from.
type argSchemas struct {
	s      *Server
	tenant string
	ms     *server.MCPServer // set once the server exists, before it serves

	mu sync.RWMutex
	m  map[string]argSchema
}

type argSchema struct {
	id     schemaID
	schema *argcheck.Schema // nil: the schema does not compile; not checked
	// injected is the hidden "<provider>_api_key" argument Plexus fills in
	// ("" for none): one the client sends is dropped before the check, as
	// the key it carries would be overwritten anyway.
	injected string
}

func newArgSchemas(s *Server, tenant string) *argSchemas {
	return &argSchemas{s: s, tenant: tenant, m: make(map[string]argSchema)}
}

// middleware is the arguments check (see the top of this file).
func (a *argSchemas) middleware() server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			as := a.schema(req.Params.Name)
			if as.injected != "" {
				if args, ok := req.Params.Arguments.(map[string]any); ok {
					delete(args, as.injected)
				}
			}
			if err := as.schema.Check(req.Params.Arguments); err != nil {
				if rec, ok := ctx.Value(callRecordKey{}).(*callRecord); ok {
					rec.invalid = true
				}
				return mcp.NewToolResultError(err.Error()), nil
			}
			return next(ctx, req)
		}
	}
}

// schema returns the compiled schema of the server's tool called name
// (its schema nil: not checked), compiling it on first use and again only
// when the tool's definition was replaced.
func (a *argSchemas) schema(name string) argSchema {
	st := a.ms.GetTool(name)
	if st == nil {
		return argSchema{} // a session's own tool (Plexus adds none)
	}
	id := identify(st.Tool)
	a.mu.RLock()
	e, ok := a.m[name]
	a.mu.RUnlock()
	if ok && e.id == id {
		return e
	}
	sch, err := argcheck.Compile(st.Tool)
	if err != nil {
		// Registry tools cannot get here (Register compiles them); a
		// foreign schema Plexus cannot compile is left to its server.
		a.s.log.Warn("Tool input schema does not compile; its arguments are not checked",
			"tenant", a.tenant, "tool", name, "err", err)
	}
	e = argSchema{id: id, schema: sch}
	if t, ok := a.s.registry.Lookup(name); ok && t.Requires != nil && t.Requires.APIKey != nil {
		key := tools.APIKeyArgument(t.Requires.APIKey.Provider)
		if _, declared := t.Definition.InputSchema.Properties[key]; declared {
			e.injected = key
		}
	}
	a.mu.Lock()
	a.m[name] = e
	a.mu.Unlock()
	return e
}

// schemaID identifies a tool definition's input schema without encoding
// it: the backing arrays and maps it is made of. A definition replaced
// through AddTool or SetTools comes with new ones (mcp-go copies the
// struct, not its maps), so a changed schema is compiled again; a schema
// mutated in place after it was added is not seen (do not do that).
type schemaID struct {
	raw, props, defs, required, addlMap uintptr
	rawLen, requiredLen                 int
	typ                                 string
	addl                                string // additionalProperties: "", "false", "true" or its JSON (not a map)
}

func identify(t mcp.Tool) schemaID {
	in := t.InputSchema
	id := schemaID{
		rawLen:      len(t.RawInputSchema),
		requiredLen: len(in.Required),
		typ:         in.Type,
	}
	if id.rawLen > 0 {
		id.raw = reflect.ValueOf(t.RawInputSchema).Pointer()
	}
	if in.Properties != nil {
		id.props = reflect.ValueOf(in.Properties).Pointer()
	}
	if in.Defs != nil {
		id.defs = reflect.ValueOf(in.Defs).Pointer()
	}
	if id.requiredLen > 0 {
		id.required = reflect.ValueOf(in.Required).Pointer()
	}
	switch v := in.AdditionalProperties.(type) {
	case nil:
	case bool:
		id.addl = "false"
		if v {
			id.addl = "true"
		}
	case map[string]any:
		id.addlMap = reflect.ValueOf(v).Pointer()
	default:
		b, _ := json.Marshal(v)
		id.addl = "json:" + string(b)
	}
	return id
}
