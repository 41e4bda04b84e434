// Package tools holds Plexus's tool registry and the request context tool
// handlers run in: who is calling (Caller) and the per-session value store
// (SessionValues).
//
// The registry is the one place tools are declared. Each tool says which
// tenants may see it (AllowedTenants, empty = all) and which tool sets it
// belongs to; mcpserver builds each tenant's MCP server from ForTenant and
// enforces the same visibility with mcp-go's tool filter on tools/list and
// tools/call.
//
// This package never touches storage directly: session values go through the
// SessionStore the HTTP layer puts in the request context, and it never logs
// or returns secret values in errors.
package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Sentinel errors returned (wrapped) by Registry.Register.
var (
	// ErrInvalidTool is returned for a tool with no name, a malformed name,
	// no handler, or an empty tenant id in AllowedTenants.
	ErrInvalidTool = errors.New("invalid tool")
	// ErrDuplicateTool is returned when a tool with the same name is
	// already registered.
	ErrDuplicateTool = errors.New("duplicate tool")
)

// Tool is one tool as Plexus registers it.
type Tool struct {
	// Definition is the MCP tool definition (name, description, schema).
	Definition mcp.Tool
	// Handler runs the tool. It finds the caller with CallerFrom and the
	// session's values with SessionValues.
	Handler server.ToolHandlerFunc
	// AllowedTenants limits the tool to these tenant ids; empty means every
	// tenant.
	AllowedTenants []string
	// ToolSets names the tool sets the tool belongs to (for grouping and,
	// later, per-tenant enabling).
	ToolSets []string
}

// allowedFor reports whether the tool is visible to tenantID.
func (t Tool) allowedFor(tenantID string) bool {
	return len(t.AllowedTenants) == 0 || slices.Contains(t.AllowedTenants, tenantID)
}

// toolName is the MCP tool-name rule (1-128 of A-Z a-z 0-9 _ - .).
var toolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// Registry is a set of tools, safe for concurrent use. Tenants' MCP servers
// are built from it when first used, so register tools before serving.
type Registry struct {
	mu    sync.RWMutex
	tools []Tool // in registration order
	index map[string]int
}

// NewRegistry returns a registry holding the built-in tools (plexus_whoami).
func NewRegistry() *Registry {
	r := &Registry{index: make(map[string]int)}
	for _, t := range builtins() {
		if err := r.Register(t); err != nil {
			panic(fmt.Sprintf("tools: built-in tool: %v", err)) // a programming error, caught by every test
		}
	}
	return r
}

// Register adds a tool. It fails with ErrInvalidTool when the tool has no or a
// malformed name, no handler, or an empty entry in AllowedTenants, and with
// ErrDuplicateTool when the name is taken.
func (r *Registry) Register(t Tool) error {
	name := t.Definition.Name
	switch {
	case name == "":
		return fmt.Errorf("register tool: %w: empty name", ErrInvalidTool)
	case !toolName.MatchString(name):
		return fmt.Errorf("register tool %q: %w: name must be 1-128 of A-Z a-z 0-9 _ - .", name, ErrInvalidTool)
	case t.Handler == nil:
		return fmt.Errorf("register tool %q: %w: nil handler", name, ErrInvalidTool)
	case slices.Contains(t.AllowedTenants, ""):
		return fmt.Errorf("register tool %q: %w: empty tenant id in AllowedTenants", name, ErrInvalidTool)
	}
	t.AllowedTenants = slices.Clone(t.AllowedTenants)
	t.ToolSets = slices.Clone(t.ToolSets)

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.index[name]; ok {
		return fmt.Errorf("register tool %q: %w", name, ErrDuplicateTool)
	}
	r.index[name] = len(r.tools)
	r.tools = append(r.tools, t)
	return nil
}

// ForTenant returns the tools visible to tenantID, in registration order.
func (r *Registry) ForTenant(tenantID string) []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Tool
	for _, t := range r.tools {
		if t.allowedFor(tenantID) {
			out = append(out, t)
		}
	}
	return out
}

// Visible reports whether the tool called name may be listed or called by
// tenantID. Tools the registry does not know (for example test fixtures
// added straight to an MCP server) are not its business and are visible.
func (r *Registry) Visible(tenantID, name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.index[name]
	return !ok || r.tools[i].allowedFor(tenantID)
}

// Filter returns an mcp-go tool filter enforcing the registry's visibility
// for tenantID; it applies to tools/list and tools/call.
func (r *Registry) Filter(tenantID string) server.ToolFilterFunc {
	return func(_ context.Context, in []mcp.Tool) []mcp.Tool {
		out := in[:0:0]
		for _, t := range in {
			if r.Visible(tenantID, t.Name) {
				out = append(out, t)
			}
		}
		return out
	}
}
