package mcpserver

// Item sources: what a tenant's MCP server shows besides the registry's
// built-in tools, and can change at runtime.
//
// The registry's tools are added once, when a tenant's server is built
// (newTenantServer): tools/call of a built-in tool takes no lock and no
// lookup of this file. Everything else a tenant shows comes from a source:
// each upstream MCP server it mounts ("upstream:everything", see
// upstreams.go) and, next, declarative HTTP tools. A source hands its
// complete item list to setSourceItems:
//
//	s.setSourceItems(tenant, "upstream:everything", sourceItems{Tools: ..., Prompts: ...})
//
// and the tenant's server is brought to it with mcp-go's Add*/Delete*,
// changing only what changed, so connected clients get
// notifications/tools/list_changed (resources/, prompts/) exactly when
// their lists changed. Items are kept per tenant even before the tenant's
// server exists and applied when it is built (attachSources). An item
// whose name (a resource's or template's URI) is already a built-in
// tool's or another source's is refused, and setSourceItems says so (the
// first holder keeps it). Tools of a source carry tool sets, so the
// tenant's tool settings (disabled tools and tool sets, tool_set_filter)
// apply to them as to built-in tools (scope.go).
//
// mcp-go v1.2.1 cannot remove a resource template: a removed one is
// replaced by a stand-in that answers "resource not found" and is left
// out of resources/templates/list by a hook.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/upstream"
)

// sourceItems is everything one source shows in a tenant.
type sourceItems struct {
	Tools     []sourceTool
	Resources []server.ServerResource
	Templates []server.ServerResourceTemplate
	Prompts   []server.ServerPrompt
}

// sourceTool is a tool of a source, with what the admin API and the tool
// settings need to know about it.
type sourceTool struct {
	server.ServerTool
	// ToolSets are the tool sets the tool belongs to.
	ToolSets []string
	// Requires names the credential it needs ("api_key:openai",
	// "oauth:github"; "" none), for the admin API's tool list.
	Requires string
}

// SourceTool describes a tool a tenant shows from a source (not the
// registry), for the admin API's tool list.
type SourceTool struct {
	Name        string
	Description string
	ToolSets    []string
	Requires    string
	// Source is the kind of source ("upstream") and SourceName its name
	// ("everything").
	Source, SourceName string
}

// itemKind tells apart the four namespaces of a tenant's items.
type itemKind int

const (
	kindTool itemKind = iota
	kindResource
	kindTemplate
	kindPrompt
)

func (k itemKind) String() string {
	return [...]string{"tool", "resource", "resource template", "prompt"}[k]
}

// itemKey names an item in its namespace.
type itemKey struct {
	kind itemKind
	name string
}

// appliedItem is an item as applied: who owns it and its definition's
// JSON, to tell a changed item from an unchanged one.
type appliedItem struct {
	source string
	def    string
}

// tenantSources is one tenant's sources.
type tenantSources struct {
	mu      sync.Mutex
	ms      *server.MCPServer // nil until the tenant's server is built
	builtin func(name string) bool
	// want is each source's complete list, as last set.
	want map[string]sourceItems
	// applied is what the tenant's server shows from sources.
	applied map[itemKey]appliedItem
	// owners says which source holds each item name (whether or not the
	// tenant's server exists yet).
	owners map[itemKey]string
	// tombstones are removed templates (mcp-go cannot delete them).
	tombstones map[string]bool
	// tools is the tool-settings view of the applied source tools, read
	// by the tool filter without the lock.
	tools sync.Map // name -> sourceTool
}

// sourceRegistry holds every tenant's sources.
type sourceRegistry struct {
	mu      sync.Mutex
	tenants map[string]*tenantSources
}

func (r *sourceRegistry) of(tenant string) *tenantSources {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tenants == nil {
		r.tenants = make(map[string]*tenantSources)
	}
	ts := r.tenants[tenant]
	if ts == nil {
		ts = &tenantSources{want: map[string]sourceItems{}, applied: map[itemKey]appliedItem{}, tombstones: map[string]bool{}}
		r.tenants[tenant] = ts
	}
	return ts
}

// lookup returns tenant's sources, or nil when it has none.
func (r *sourceRegistry) lookup(tenant string) *tenantSources {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tenants[tenant]
}

// drop forgets a deleted tenant's sources.
func (r *sourceRegistry) drop(tenant string) {
	r.mu.Lock()
	delete(r.tenants, tenant)
	r.mu.Unlock()
}

// sourceServerOptions are the options every tenant's server gets so that
// sources can change its items: resources and prompts announce
// list_changed, and the template hook below.
func (s *Server) sourceServerOptions(tenant string, hooks *server.Hooks) []server.ServerOption {
	hooks.AddAfterListResourceTemplates(func(_ context.Context, _ any, _ *mcp.ListResourceTemplatesRequest, res *mcp.ListResourceTemplatesResult) {
		ts := s.sources.lookup(tenant)
		if ts == nil || res == nil {
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if len(ts.tombstones) > 0 {
			res.ResourceTemplates = slices.DeleteFunc(res.ResourceTemplates, func(t mcp.ResourceTemplate) bool {
				return t.URITemplate != nil && ts.tombstones[t.URITemplate.Raw()]
			})
		}
	})
	hooks.AddBeforeAny(func(ctx context.Context, _ any, method mcp.MCPMethod, msg any) {
		switch method {
		case mcp.MethodToolsCall:
			// A built-in tool's name has no "__": its call pays for this
			// switch and one type assertion.
			if r, ok := msg.(*mcp.CallToolRequest); ok && strings.Contains(r.Params.Name, upstream.Separator) {
				s.upstreams.awaitItem(ctx, tenant, r.Params.Name)
			}
		case mcp.MethodResourcesRead:
			if r, ok := msg.(*mcp.ReadResourceRequest); ok && strings.Contains(r.Params.URI, upstream.Separator) {
				s.upstreams.awaitItem(ctx, tenant, r.Params.URI)
			}
		case mcp.MethodPromptsGet:
			if r, ok := msg.(*mcp.GetPromptRequest); ok && strings.Contains(r.Params.Name, upstream.Separator) {
				s.upstreams.awaitItem(ctx, tenant, r.Params.Name)
			}
		case mcp.MethodToolsList, mcp.MethodResourcesList, mcp.MethodResourcesTemplatesList, mcp.MethodPromptsList:
			s.upstreams.awaitDiscovery(ctx, tenant, "")
		}
	})
	return []server.ServerOption{server.WithResourceCapabilities(false, true), server.WithPromptCapabilities(true)}
}

// attachSources shows tenant's source items on its newly built server ms.
func (s *Server) attachSources(tenant string, ms *server.MCPServer) {
	s.httpTools.tenantUsed(tenant)
	ts := s.sources.of(tenant)
	ts.mu.Lock()
	ts.ms = ms
	ts.builtin = func(name string) bool { _, ok := s.registry.Lookup(name); return ok }
	ts.applied = map[itemKey]appliedItem{}
	ts.tombstones = map[string]bool{}
	ts.applyLocked()
	ts.mu.Unlock()
	s.upstreams.tenantUsed(tenant)
}

// setSourceItems replaces what source shows in tenant with items and
// returns the items it refused (name collisions), one sentence each.
func (s *Server) setSourceItems(tenant, source string, items sourceItems) []string {
	ts := s.sources.of(tenant)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(items.Tools)+len(items.Resources)+len(items.Templates)+len(items.Prompts) == 0 {
		delete(ts.want, source)
	} else {
		ts.want[source] = items
	}
	return ts.applyLocked()[source]
}

// sourceTools lists the tools tenant shows from sources, sorted by name.
func (s *Server) sourceTools(tenant string) []SourceTool {
	ts := s.sources.lookup(tenant)
	if ts == nil {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []SourceTool
	for _, src := range slices.Sorted(maps.Keys(ts.want)) {
		kind, name := splitSource(src)
		for _, t := range ts.want[src].Tools {
			if ts.owners[itemKey{kindTool, t.Tool.Name}] != src {
				continue
			}
			out = append(out, SourceTool{Name: t.Tool.Name, Description: t.Tool.Description, ToolSets: slices.Clone(t.ToolSets),
				Requires: t.Requires, Source: kind, SourceName: name})
		}
	}
	slices.SortFunc(out, func(a, b SourceTool) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// splitSource splits "upstream:everything".
func splitSource(src string) (kind, name string) {
	for i := 0; i < len(src); i++ {
		if src[i] == ':' {
			return src[:i], src[i+1:]
		}
	}
	return src, ""
}

// sourceTool returns a tenant's source tool called name, for the tool
// filter.
func (s *Server) sourceTool(tenant, name string) (sourceTool, bool) {
	ts := s.sources.lookup(tenant)
	if ts == nil {
		return sourceTool{}, false
	}
	v, ok := ts.tools.Load(name)
	if !ok {
		return sourceTool{}, false
	}
	return v.(sourceTool), true
}

// desired is one item every source wants, with its owner.
type desired struct {
	source string
	def    string
	tool   *sourceTool
	res    *server.ServerResource
	tmpl   *server.ServerResourceTemplate
	prompt *server.ServerPrompt
}

// applyLocked brings the tenant's server to what the sources want and
// returns, per source, the items it refused. Sources are visited in name
// order, so the first holder of a name keeps it whatever the order of
// changes. Without a server yet, it only computes the refusals.
func (ts *tenantSources) applyLocked() map[string][]string {
	refused := map[string][]string{}
	want := map[itemKey]desired{}
	for _, src := range slices.Sorted(maps.Keys(ts.want)) {
		items := ts.want[src]
		claim := func(k itemKey, d desired) {
			if prev, taken := want[k]; taken {
				refused[src] = append(refused[src], fmt.Sprintf("%s %q is already %s's; this one is not shown", k.kind, k.name, ownerName(prev.source)))
				return
			}
			if k.kind == kindTool && ts.builtin != nil && ts.builtin(k.name) {
				refused[src] = append(refused[src], fmt.Sprintf("tool %q is a built-in tool's name; this one is not shown", k.name))
				return
			}
			want[k] = d
		}
		for i := range items.Tools {
			t := &items.Tools[i]
			if err := mcp.ValidateParamHeaderAnnotations(&t.Tool); err != nil {
				refused[src] = append(refused[src], fmt.Sprintf("tool %q: %v", t.Tool.Name, err))
				continue
			}
			claim(itemKey{kindTool, t.Tool.Name}, desired{source: src, def: defJSON(t.Tool, t.ToolSets, t.Requires), tool: t})
		}
		for i := range items.Resources {
			r := &items.Resources[i]
			claim(itemKey{kindResource, r.Resource.URI}, desired{source: src, def: defJSON(r.Resource), res: r})
		}
		for i := range items.Templates {
			t := &items.Templates[i]
			if t.Template.URITemplate == nil {
				continue
			}
			claim(itemKey{kindTemplate, t.Template.URITemplate.Raw()}, desired{source: src, def: defJSON(t.Template), tmpl: t})
		}
		for i := range items.Prompts {
			p := &items.Prompts[i]
			claim(itemKey{kindPrompt, p.Prompt.Name}, desired{source: src, def: defJSON(p.Prompt), prompt: p})
		}
	}
	ts.owners = make(map[itemKey]string, len(want))
	for k, d := range want {
		ts.owners[k] = d.source
	}
	if ts.ms == nil {
		ts.publishToolsLocked(want)
		return refused
	}
	// Removals first, then additions and changes, one batch per kind: one
	// list_changed per kind that changed.
	var delTools, delResources, delPrompts []string
	var tombstone []server.ServerResourceTemplate
	for k, a := range ts.applied {
		if d, ok := want[k]; ok && d.source == a.source {
			continue
		}
		if _, ok := want[k]; ok {
			continue // changes hands: replaced below
		}
		switch k.kind {
		case kindTool:
			delTools = append(delTools, k.name)
		case kindResource:
			delResources = append(delResources, k.name)
		case kindPrompt:
			delPrompts = append(delPrompts, k.name)
		case kindTemplate:
			tombstone = append(tombstone, tombstoneTemplate(k.name))
		}
		delete(ts.applied, k)
	}
	var addTools []server.ServerTool
	var addResources []server.ServerResource
	var addTemplates []server.ServerResourceTemplate
	var addPrompts []server.ServerPrompt
	for k, d := range want {
		if a, ok := ts.applied[k]; ok && a.source == d.source && a.def == d.def {
			continue
		}
		ts.applied[k] = appliedItem{source: d.source, def: d.def}
		switch {
		case d.tool != nil:
			addTools = append(addTools, d.tool.ServerTool)
		case d.res != nil:
			addResources = append(addResources, *d.res)
		case d.tmpl != nil:
			delete(ts.tombstones, k.name)
			addTemplates = append(addTemplates, *d.tmpl)
		case d.prompt != nil:
			addPrompts = append(addPrompts, *d.prompt)
		}
	}
	for _, t := range tombstone {
		ts.tombstones[t.Template.URITemplate.Raw()] = true
	}
	ts.publishToolsLocked(want)
	ms := ts.ms
	if len(delTools) > 0 {
		ms.DeleteTools(delTools...)
	}
	if len(addTools) > 0 {
		ms.AddTools(addTools...)
	}
	if len(delResources) > 0 {
		ms.DeleteResources(delResources...)
	}
	if len(addResources) > 0 {
		ms.AddResources(addResources...)
	}
	if len(tombstone)+len(addTemplates) > 0 {
		ms.AddResourceTemplates(append(tombstone, addTemplates...)...)
	}
	if len(delPrompts) > 0 {
		ms.DeletePrompts(delPrompts...)
	}
	if len(addPrompts) > 0 {
		ms.AddPrompts(addPrompts...)
	}
	return refused
}

// publishToolsLocked makes the tool filter see the tools in want.
func (ts *tenantSources) publishToolsLocked(want map[itemKey]desired) {
	ts.tools.Range(func(k, _ any) bool {
		if _, ok := want[itemKey{kindTool, k.(string)}]; !ok {
			ts.tools.Delete(k)
		}
		return true
	})
	for k, d := range want {
		if d.tool != nil {
			ts.tools.Store(k.name, *d.tool)
		}
	}
}

// ownerName says whose an item is, for a refusal.
func ownerName(source string) string {
	kind, name := splitSource(source)
	if name == "" {
		return kind
	}
	return kind + " " + strconv.Quote(name)
}

// defJSON is a definition's comparable form.
func defJSON(v ...any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v...) // never equal to a marshalled one: re-applied
	}
	return string(b)
}

// tombstoneTemplate stands for a removed template: it answers "resource
// not found" and the hook leaves it out of lists.
func tombstoneTemplate(raw string) server.ServerResourceTemplate {
	var t mcp.URITemplate
	_ = t.UnmarshalJSON([]byte(strconv.Quote(raw))) // it parsed when it was added
	return server.ServerResourceTemplate{
		Template: mcp.ResourceTemplate{URITemplate: &t, Name: "removed"},
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return nil, fmt.Errorf("%w: its source was removed", mcp.ErrResourceNotFound)
		},
	}
}
