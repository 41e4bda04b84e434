// Package tools holds Plexus's registry of built-in tools, resources,
// resource templates and prompts, and the request context their handlers
// run in: who is calling (CallerFrom), the per-session value store
// (SessionValues), the caller's own credentials (AuthenticatedClient,
// APIKey) and MCP log messages to the calling client (Log).
//
// The registry is the one place they are declared. Each says which
// tenants may see it (AllowedTenants, empty = all), which tool sets it
// belongs to and which credential it needs (Requires); mcpserver builds each
// tenant's MCP server from ForTenant (ResourcesForTenant, ...) and enforces
// visibility (tenant scope, the tenant's disabled tools and tool sets,
// tools/list's tool_set_filter) on listing and on use: a hidden tool,
// resource or prompt answers exactly as an unknown one. A tool's arguments
// are checked against its input schema before its handler runs
// (mcpserver, package argcheck).
//
// This package never touches storage directly: session values and
// credentials go through the SessionStore and Credentials the HTTP layer
// puts in the request context, and it never logs or returns secret values
// in errors.
package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/argcheck"
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
	// Summary says in plain words, for a person who never heard of MCP,
	// what the tool lets an AI app do ("See which GitHub account you
	// connected."); the admin UI's Tools page shows it. Empty: the page
	// shows the description.
	Summary string
	// Handler runs the tool. It finds the caller with CallerFrom and the
	// session's values with SessionValues.
	Handler server.ToolHandlerFunc
	// AllowedTenants limits the tool to these tenant ids; empty means every
	// tenant.
	AllowedTenants []string
	// ToolSets names the tool sets the tool belongs to: a tenant can
	// disable a whole set, and tools/list's tool_set_filter selects by it.
	ToolSets []string
	// Requires is the credential the tool needs (nil: none). Without it the
	// handler is not called and the caller gets a structured result saying
	// how to provide it; see Requirement.
	Requires *Requirement
}

// InToolSet reports whether the tool belongs to the tool set called name.
// Names compare as MCP Plexus did: trimmed, with spaces as underscores.
func (t Tool) InToolSet(name string) bool {
	n := NormalizeToolSet(name)
	for _, s := range t.ToolSets {
		if NormalizeToolSet(s) == n {
			return true
		}
	}
	return false
}

// NormalizeToolSet is the comparable form of a tool-set name: trimmed, with
// spaces replaced by underscores (MCP Plexus's rule).
func NormalizeToolSet(name string) string {
	return strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
}

// allowedFor reports whether the tool is visible to tenantID.
func (t Tool) allowedFor(tenantID string) bool {
	return len(t.AllowedTenants) == 0 || slices.Contains(t.AllowedTenants, tenantID)
}

// toolName is the MCP tool-name rule (1-128 of A-Z a-z 0-9 _ - .).
var toolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// ValidToolName reports whether name follows the MCP tool-name rule (1-128
// of A-Z a-z 0-9 _ - .).
func ValidToolName(name string) bool { return toolName.MatchString(name) }

// Registry is a set of tools, safe for concurrent use. Tenants' MCP servers
// are built from it when first used, so register tools before serving.
type Registry struct {
	mu    sync.RWMutex
	tools []Tool // in registration order
	index map[string]int
	items items // resources, resource templates, prompts (items.go)
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
// malformed name, no handler, an empty entry in AllowedTenants, a
// Requires whose provider name breaks vault.ValidateProviderName (the one
// rule for provider names: a provider the vault cannot store could never be
// set up), annotations that contradict (readOnlyHint and destructiveHint
// both true), or an input schema that does not compile (package
// argcheck), and with ErrDuplicateTool when the name is taken.
//
// A tool whose structured InputSchema leaves additionalProperties unset
// gets additionalProperties false: every call's arguments are checked
// against the schema before the handler runs (mcpserver), so a Plexus
// tool never sees an argument it did not declare.
func (r *Registry) Register(t Tool) error {
	name := t.Definition.Name
	switch {
	case name == "":
		return fmt.Errorf("register tool: %w: empty name", ErrInvalidTool)
	case !toolName.MatchString(name):
		return fmt.Errorf("register tool %q: %w: name must be 1-128 of A-Z a-z 0-9 _ - and dot", name, ErrInvalidTool)
	case t.Handler == nil:
		return fmt.Errorf("register tool %q: %w: nil handler", name, ErrInvalidTool)
	case slices.Contains(t.AllowedTenants, ""):
		return fmt.Errorf("register tool %q: %w: empty tenant id in AllowedTenants", name, ErrInvalidTool)
	case isTrue(t.Definition.Annotations.ReadOnlyHint) && isTrue(t.Definition.Annotations.DestructiveHint):
		// mcp.NewTool defaults destructiveHint to true: a read-only tool
		// must say destructiveHint false (mcp.WithDestructiveHintAnnotation).
		return fmt.Errorf("register tool %q: %w: annotations say both readOnlyHint and destructiveHint", name, ErrInvalidTool)
	}
	if err := t.Requires.validate(); err != nil {
		return fmt.Errorf("register tool %q: %w: %v", name, ErrInvalidTool, err)
	}
	if len(t.Definition.RawInputSchema) == 0 && t.Definition.InputSchema.Type == "" {
		t.Definition.InputSchema.Type = "object" // MCP: an input schema is an object schema
	}
	if len(t.Definition.RawInputSchema) == 0 && t.Definition.InputSchema.AdditionalProperties == nil {
		// Plexus's own tools take only the arguments they declare: an
		// unknown argument is refused (the client sees this in tools/list).
		// A tool opts out with mcp.WithSchemaAdditionalProperties(true).
		t.Definition.InputSchema.AdditionalProperties = false
	}
	if _, err := argcheck.Compile(t.Definition); err != nil {
		return fmt.Errorf("register tool %q: %w: %v", name, ErrInvalidTool, err)
	}
	t.AllowedTenants = slices.Clone(t.AllowedTenants)
	t.ToolSets = slices.Clone(t.ToolSets)
	t.Requires = t.Requires.clone()

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

// Lookup returns the tool called name.
func (r *Registry) Lookup(name string) (Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.index[name]
	if !ok {
		return Tool{}, false
	}
	return r.tools[i], true
}

// AllowedFor reports whether the tool may be seen by tenantID at all
// (AllowedTenants empty or naming it).
func (t Tool) AllowedFor(tenantID string) bool { return t.allowedFor(tenantID) }

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

// isTrue reports whether an optional annotation hint is set and true.
func isTrue(b *bool) bool { return b != nil && *b }
