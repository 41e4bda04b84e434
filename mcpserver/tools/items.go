package tools

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Resources, resource templates and prompts are registered like tools and
// scoped the same way: AllowedTenants limits them to tenants, ToolSets puts
// them in tool sets a tenant can disable (a disabled set hides its
// resources and prompts from resources/list, resources/templates/list and
// prompts/list, and resources/read or prompts/get of one answers exactly
// as for an unknown one), and Requires names a credential that must exist
// before the handler runs. Their handlers run in the same request context
// as tool handlers: CallerFrom, SessionValues, AuthenticatedClient and
// APIKey work there too.

// Resource is one resource as Plexus registers it.
type Resource struct {
	// Definition is the MCP resource (URI, name, description, MIME type).
	Definition mcp.Resource
	// Handler reads the resource.
	Handler server.ResourceHandlerFunc
	// AllowedTenants limits the resource to these tenant ids; empty means
	// every tenant.
	AllowedTenants []string
	// ToolSets names the tool sets the resource belongs to.
	ToolSets []string
	// Requires is the credential the handler needs (nil: none). Without
	// it the read fails with an error telling the caller how to get it.
	Requires *Requirement
}

// ResourceTemplate is one resource template (RFC 6570 URI template) as
// Plexus registers it. Its handler gets the template's variables in the
// request's Params.Arguments.
type ResourceTemplate struct {
	Definition     mcp.ResourceTemplate
	Handler        server.ResourceTemplateHandlerFunc
	AllowedTenants []string
	ToolSets       []string
	Requires       *Requirement
}

// Prompt is one prompt as Plexus registers it.
type Prompt struct {
	Definition     mcp.Prompt
	Handler        server.PromptHandlerFunc
	AllowedTenants []string
	ToolSets       []string
	Requires       *Requirement
}

// Scope is what decides who sees a registered item: the tenants it is
// allowed for and the tool sets it belongs to. Tools, resources, resource
// templates and prompts all have one.
type Scope struct {
	AllowedTenants []string
	ToolSets       []string
}

// AllowedFor reports whether tenantID may see the item at all.
func (s Scope) AllowedFor(tenantID string) bool {
	return len(s.AllowedTenants) == 0 || slices.Contains(s.AllowedTenants, tenantID)
}

// InToolSet reports whether the item belongs to the tool set called name
// (compared as NormalizeToolSet does).
func (s Scope) InToolSet(name string) bool {
	n := NormalizeToolSet(name)
	return slices.ContainsFunc(s.ToolSets, func(set string) bool { return NormalizeToolSet(set) == n })
}

// Scope returns the resource's scope.
func (r Resource) Scope() Scope { return Scope{r.AllowedTenants, r.ToolSets} }

// Scope returns the template's scope.
func (t ResourceTemplate) Scope() Scope { return Scope{t.AllowedTenants, t.ToolSets} }

// Scope returns the prompt's scope.
func (p Prompt) Scope() Scope { return Scope{p.AllowedTenants, p.ToolSets} }

// Scope returns the tool's scope.
func (t Tool) Scope() Scope { return Scope{t.AllowedTenants, t.ToolSets} }

// items is the registry's resources, templates and prompts, each in
// registration order with an index by key (URI, URI template, name).
type items struct {
	resources   []Resource
	resourceIdx map[string]int
	templates   []ResourceTemplate
	templateIdx map[string]int
	prompts     []Prompt
	promptIdx   map[string]int
}

// checkScope validates the parts every registered item shares.
func checkScope(kind, key string, allowed []string, req *Requirement) error {
	if slices.Contains(allowed, "") {
		return fmt.Errorf("register %s %q: %w: empty tenant id in AllowedTenants", kind, key, ErrInvalidTool)
	}
	if err := req.validate(); err != nil {
		return fmt.Errorf("register %s %q: %w: %v", kind, key, ErrInvalidTool, err)
	}
	return nil
}

// RegisterResource adds a resource. It fails with ErrInvalidTool for a
// resource without an absolute URI (scheme:...), a name or a handler, or
// with a bad AllowedTenants or Requires (as Register), and with
// ErrDuplicateTool when the URI is taken.
func (r *Registry) RegisterResource(res Resource) error {
	uri := res.Definition.URI
	if u, err := url.Parse(uri); err != nil || u.Scheme == "" {
		return fmt.Errorf("register resource %q: %w: URI must be absolute (scheme:...)", uri, ErrInvalidTool)
	}
	switch {
	case strings.TrimSpace(res.Definition.Name) == "":
		return fmt.Errorf("register resource %q: %w: empty name", uri, ErrInvalidTool)
	case res.Handler == nil:
		return fmt.Errorf("register resource %q: %w: nil handler", uri, ErrInvalidTool)
	}
	if err := checkScope("resource", uri, res.AllowedTenants, res.Requires); err != nil {
		return err
	}
	res.AllowedTenants, res.ToolSets, res.Requires = slices.Clone(res.AllowedTenants), slices.Clone(res.ToolSets), res.Requires.clone()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.items.resourceIdx[uri]; ok {
		return fmt.Errorf("register resource %q: %w", uri, ErrDuplicateTool)
	}
	if r.items.resourceIdx == nil {
		r.items.resourceIdx = make(map[string]int)
	}
	r.items.resourceIdx[uri] = len(r.items.resources)
	r.items.resources = append(r.items.resources, res)
	return nil
}

// RegisterResourceTemplate adds a resource template. It fails with
// ErrInvalidTool for a template without a URI template, a name or a
// handler (or a bad AllowedTenants or Requires), and with
// ErrDuplicateTool when the same URI template is registered already.
func (r *Registry) RegisterResourceTemplate(t ResourceTemplate) error {
	if t.Definition.URITemplate == nil || t.Definition.URITemplate.Template == nil || t.Definition.URITemplate.Raw() == "" {
		return fmt.Errorf("register resource template %q: %w: no URI template", t.Definition.Name, ErrInvalidTool)
	}
	key := t.Definition.URITemplate.Raw()
	switch {
	case strings.TrimSpace(t.Definition.Name) == "":
		return fmt.Errorf("register resource template %q: %w: empty name", key, ErrInvalidTool)
	case t.Handler == nil:
		return fmt.Errorf("register resource template %q: %w: nil handler", key, ErrInvalidTool)
	}
	if err := checkScope("resource template", key, t.AllowedTenants, t.Requires); err != nil {
		return err
	}
	t.AllowedTenants, t.ToolSets, t.Requires = slices.Clone(t.AllowedTenants), slices.Clone(t.ToolSets), t.Requires.clone()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.items.templateIdx[key]; ok {
		return fmt.Errorf("register resource template %q: %w", key, ErrDuplicateTool)
	}
	if r.items.templateIdx == nil {
		r.items.templateIdx = make(map[string]int)
	}
	r.items.templateIdx[key] = len(r.items.templates)
	r.items.templates = append(r.items.templates, t)
	return nil
}

// RegisterPrompt adds a prompt. It fails with ErrInvalidTool for a
// malformed name (the tool-name rule), a nil handler, an argument without
// a name or named twice (or a bad AllowedTenants or Requires), and with
// ErrDuplicateTool when the name is taken.
func (r *Registry) RegisterPrompt(p Prompt) error {
	name := p.Definition.Name
	switch {
	case !toolName.MatchString(name):
		return fmt.Errorf("register prompt %q: %w: name must be 1-128 of A-Z a-z 0-9 _ - and dot", name, ErrInvalidTool)
	case p.Handler == nil:
		return fmt.Errorf("register prompt %q: %w: nil handler", name, ErrInvalidTool)
	}
	seen := make(map[string]bool, len(p.Definition.Arguments))
	for _, a := range p.Definition.Arguments {
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("register prompt %q: %w: argument names must be set and distinct", name, ErrInvalidTool)
		}
		seen[a.Name] = true
	}
	if err := checkScope("prompt", name, p.AllowedTenants, p.Requires); err != nil {
		return err
	}
	p.AllowedTenants, p.ToolSets, p.Requires = slices.Clone(p.AllowedTenants), slices.Clone(p.ToolSets), p.Requires.clone()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.items.promptIdx[name]; ok {
		return fmt.Errorf("register prompt %q: %w", name, ErrDuplicateTool)
	}
	if r.items.promptIdx == nil {
		r.items.promptIdx = make(map[string]int)
	}
	r.items.promptIdx[name] = len(r.items.prompts)
	r.items.prompts = append(r.items.prompts, p)
	return nil
}

// ResourcesForTenant returns the resources tenantID may see, in
// registration order.
func (r *Registry) ResourcesForTenant(tenantID string) []Resource {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return forTenant(r.items.resources, tenantID, Resource.Scope)
}

// ResourceTemplatesForTenant returns the resource templates tenantID may
// see, in registration order.
func (r *Registry) ResourceTemplatesForTenant(tenantID string) []ResourceTemplate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return forTenant(r.items.templates, tenantID, ResourceTemplate.Scope)
}

// PromptsForTenant returns the prompts tenantID may see, in registration
// order.
func (r *Registry) PromptsForTenant(tenantID string) []Prompt {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return forTenant(r.items.prompts, tenantID, Prompt.Scope)
}

func forTenant[T any](all []T, tenantID string, scope func(T) Scope) []T {
	var out []T
	for _, it := range all {
		if scope(it).AllowedFor(tenantID) {
			out = append(out, it)
		}
	}
	return out
}

// ResourceScope returns the scope of the registered resource at uri.
func (r *Registry) ResourceScope(uri string) (Scope, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.items.resourceIdx[uri]
	if !ok {
		return Scope{}, false
	}
	return r.items.resources[i].Scope(), true
}

// ResourceTemplateScope returns the scope of the registered resource
// template whose URI template is uriTemplate.
func (r *Registry) ResourceTemplateScope(uriTemplate string) (Scope, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.items.templateIdx[uriTemplate]
	if !ok {
		return Scope{}, false
	}
	return r.items.templates[i].Scope(), true
}

// PromptScope returns the scope of the registered prompt called name.
func (r *Registry) PromptScope(name string) (Scope, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.items.promptIdx[name]
	if !ok {
		return Scope{}, false
	}
	return r.items.prompts[i].Scope(), true
}
