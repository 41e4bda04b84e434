package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// settingsCache holds each tenant's tool settings (disabled tools and tool
// sets) as last read from the store; the store's ToolSettingsChanged
// announcement drops an entry.
type settingsCache struct {
	mu sync.Mutex
	m  map[string]vault.ToolSettings
}

func (c *settingsCache) init() { c.m = make(map[string]vault.ToolSettings) }

func (c *settingsCache) drop(tenant string) {
	c.mu.Lock()
	delete(c.m, tenant)
	c.mu.Unlock()
}

// toolSettings returns tenantID's tool settings, reading the store on a
// cache miss. A tenant without settings has the zero value (all enabled).
func (s *Server) toolSettings(ctx context.Context, tenantID string) (vault.ToolSettings, error) {
	s.settings.mu.Lock()
	st, ok := s.settings.m[tenantID]
	s.settings.mu.Unlock()
	if ok {
		return st, nil
	}
	gen := s.gen.Load()
	st, err := s.store.GetToolSettings(ctx, tenantID)
	if errors.Is(err, vault.ErrNotFound) {
		st, err = vault.ToolSettings{}, nil
	}
	if err != nil {
		return vault.ToolSettings{}, fmt.Errorf("tool settings of tenant %q: %w", tenantID, err)
	}
	s.settings.mu.Lock()
	if s.gen.Load() == gen {
		s.settings.m[tenantID] = st
	}
	s.settings.mu.Unlock()
	return st, nil
}

// toolSettingsChanged handles the store's announcement that tenantID's
// tool settings (disabled tools or tool sets) changed: the cached settings
// go, so the next tools/list or tools/call reads the new ones, and the
// tenant's sessions (only that tenant's) get
// notifications/tools/list_changed on their GET stream (mcp-go drops a
// notification rather than block on a full stream), and
// resources/prompts list_changed when it has any. Harmless for a tenant
// never served.
func (s *Server) toolSettingsChanged(tenantID string) {
	s.settings.drop(tenantID)
	s.mu.RLock()
	ts := s.tenants[tenantID]
	s.mu.RUnlock()
	if ts != nil {
		ts.mcp.SendNotificationToAllClients(string(mcp.MethodNotificationToolsListChanged), nil)
		s.itemsListChanged(ts) // resources and prompts (items.go)
	}
}

// toolSetFilterKey carries a tools/list request's tool_set_filter.
type toolSetFilterKey struct{}

// withToolSetFilter returns a context carrying the tool-set names a
// tools/list request asked for.
func withToolSetFilter(ctx context.Context, sets []string) context.Context {
	return context.WithValue(ctx, toolSetFilterKey{}, sets)
}

func toolSetFilterFrom(ctx context.Context) ([]string, bool) {
	sets, ok := ctx.Value(toolSetFilterKey{}).([]string)
	return sets, ok
}

// maxToolSetFilter bounds the names a tool_set_filter may list.
const maxToolSetFilter = 64

// parseToolSetFilter reads tools/list's tool_set_filter parameter: a tool-set
// name (MCP Plexus's form) or a list of names; absent, null, "" or [] mean
// no filter (ok false). Anything else is an error naming what was wrong.
func parseToolSetFilter(raw json.RawMessage) (sets []string, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if tools.NormalizeToolSet(one) == "" {
			return nil, false, nil
		}
		return []string{one}, true, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, false, errors.New("tool_set_filter: want a tool-set name or a list of names")
	}
	if len(many) > maxToolSetFilter {
		return nil, false, fmt.Errorf("tool_set_filter: at most %d names", maxToolSetFilter)
	}
	many = slices.DeleteFunc(many, func(n string) bool { return tools.NormalizeToolSet(n) == "" })
	if len(many) == 0 {
		return nil, false, nil
	}
	return many, true, nil
}

// toolFilter is tenantID's mcp-go tool filter, applied to tools/list and
// tools/call alike: a tool is visible when the registry allows it for the
// tenant, the tenant has not disabled it or any of its tool sets, and (on
// a tools/list with tool_set_filter) it belongs to one of the sets asked
// for. A filtered-out tool answers tools/call exactly as an unknown one
// ("tool 'x' not found"), so nothing reveals that it exists elsewhere.
//
// When the tenant's settings cannot be read, no registry tool is visible
// (fail closed: a disabled tool must not come back on a store error).
func (s *Server) toolFilter(tenantID string) server.ToolFilterFunc {
	return func(ctx context.Context, in []mcp.Tool) []mcp.Tool {
		st, err := s.toolSettings(ctx, tenantID)
		if err != nil {
			s.log.ErrorContext(ctx, "Reading tool settings", "tenant", tenantID, "err", err)
			return nil
		}
		sets, filtered := toolSetFilterFrom(ctx)
		out := in[:0:0]
		for _, t := range in {
			if isControlTool(t.Name) {
				if s.controlToolVisible(ctx, tenantID, t.Name, st) {
					out = append(out, t)
				}
				continue
			}
			if s.toolVisible(tenantID, t.Name, st, sets, filtered) {
				out = append(out, t)
			}
		}
		return out
	}
}

func (s *Server) toolVisible(tenantID, name string, st vault.ToolSettings, sets []string, filtered bool) bool {
	if slices.Contains(st.DisabledTools, name) {
		return false
	}
	t, known := s.registry.Lookup(name)
	if !known {
		if st, ok := s.sourceTool(tenantID, name); ok {
			// A source's tool (an upstream's): its tool sets count too.
			t = tools.Tool{ToolSets: st.ToolSets}
		} else {
			// Neither (the conformance fixtures): only the per-name
			// switch and the tool-set filter apply.
			return !filtered
		}
	}
	if !t.AllowedFor(tenantID) {
		return false
	}
	for _, set := range st.DisabledToolSets {
		if t.InToolSet(set) {
			return false
		}
	}
	if filtered {
		return slices.ContainsFunc(sets, t.InToolSet)
	}
	return true
}

// controlToolVisible decides whether one of Plexus's gate or search tools
// is visible: the gate tools while the tenant has a gate, the search tools
// while its tool search is on, and neither when disabled by name. The
// tool_set_filter does not hide them (a client that filters to a gated
// set still needs plexus_gate_unlock).
func (s *Server) controlToolVisible(ctx context.Context, tenantID, name string, st vault.ToolSettings) bool {
	if slices.Contains(st.DisabledTools, name) {
		return false
	}
	if isSearchTool(name) {
		return st.SearchTools
	}
	gates, err := s.tenantGates(ctx, tenantID)
	if err != nil {
		s.log.ErrorContext(ctx, "Reading gates", "tenant", tenantID, "err", err)
		return false
	}
	return len(gates) > 0
}
