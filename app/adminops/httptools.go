// This file holds the declarative HTTP tool operations (issue 11): add,
// replace, remove, list, show and import from a YAML or JSON file.

package adminops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/httptool"
	"github.com/plexus-mcp/plexus/vault"
)

// HTTPToolStore is the part of the vault the HTTP tool operations use;
// *vault.Vault satisfies it. A Store without it makes them
// ErrUnsupported.
type HTTPToolStore interface {
	CreateHTTPTool(ctx context.Context, t vault.HTTPTool) (vault.HTTPTool, error)
	UpdateHTTPTool(ctx context.Context, t vault.HTTPTool) (vault.HTTPTool, error)
	GetHTTPTool(ctx context.Context, tenantID, name string) (vault.HTTPTool, error)
	ListHTTPTools(ctx context.Context, tenantID string) ([]vault.HTTPTool, error)
	DeleteHTTPTool(ctx context.Context, tenantID, name string) error
}

var _ HTTPToolStore = (*vault.Vault)(nil)

// HTTPToolRuntime says whether a tenant's MCP server shows an HTTP tool;
// *mcpserver.Server satisfies it. The Service finds it on
// Options.Upstreams (the same server), so the daemon wires nothing new.
type HTTPToolRuntime interface {
	HTTPToolProblem(tenant, name string) string
}

var _ HTTPToolRuntime = (*mcpserver.Server)(nil)

// Limits of an imported file.
const (
	// MaxHTTPToolFile bounds a file of HTTP tools (bytes).
	MaxHTTPToolFile = 1 << 20
	// MaxHTTPToolsPerFile bounds the tools of one file.
	MaxHTTPToolsPerFile = 200
)

func (s *Service) httpTools() (HTTPToolStore, error) {
	hs, ok := s.store.(HTTPToolStore)
	if !ok {
		return nil, unsupported("this daemon does not serve HTTP tools")
	}
	return hs, nil
}

// ListHTTPTools returns a tenant's HTTP tools, sorted by name.
func (s *Service) ListHTTPTools(ctx context.Context, tenantID string) ([]apiv1.HTTPTool, error) {
	hs, err := s.httpTools()
	if err != nil {
		return nil, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	list, err := hs.ListHTTPTools(ctx, t.ID)
	if err != nil {
		return nil, wrapf(err, "list http tools of %s", t.ID)
	}
	out := make([]apiv1.HTTPTool, 0, len(list))
	for _, h := range list {
		out = append(out, s.httpToolView(h))
	}
	return out, nil
}

// GetHTTPTool returns one of a tenant's HTTP tools.
func (s *Service) GetHTTPTool(ctx context.Context, tenantID, name string) (apiv1.HTTPTool, error) {
	h, err := s.httpTool(ctx, tenantID, name)
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	return s.httpToolView(h), nil
}

func (s *Service) httpTool(ctx context.Context, tenantID, name string) (vault.HTTPTool, error) {
	hs, err := s.httpTools()
	if err != nil {
		return vault.HTTPTool{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return vault.HTTPTool{}, err
	}
	if err := vault.ValidateHTTPToolName(name); err != nil {
		return vault.HTTPTool{}, asField("name", err)
	}
	h, err := hs.GetHTTPTool(ctx, t.ID, name)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.HTTPTool{}, notFoundf("tenant %s has no HTTP tool %q", t.ID, name)
	}
	return h, wrapf(err, "http tool %s of %s", name, t.ID)
}

// AddHTTPTool defines a new HTTP tool in a tenant. It is checked in full
// (templates, input schema, the credential's provider and origin, a name
// no other tool has) before it is written; connected clients get
// list_changed.
func (s *Service) AddHTTPTool(ctx context.Context, tenantID string, def apiv1.HTTPToolDefinition) (apiv1.HTTPTool, error) {
	hs, err := s.httpTools()
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	rec, err := s.checkHTTPTool(ctx, t.ID, def)
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	created, err := hs.CreateHTTPTool(ctx, rec)
	if errors.Is(err, vault.ErrExists) {
		return apiv1.HTTPTool{}, &reasonError{msg: fmt.Sprintf("tenant %s already has an HTTP tool called %q (replace it, or remove it first)", t.ID, rec.Name), kind: vault.ErrExists}
	}
	if err != nil {
		return apiv1.HTTPTool{}, httpToolFieldErr(wrapf(err, "create http tool in %s", t.ID))
	}
	s.log.InfoContext(ctx, "Added HTTP tool", "tenant", t.ID, "tool", created.Name)
	return s.httpToolView(created), nil
}

// UpdateHTTPTool replaces an HTTP tool's definition (the name cannot
// change); connected clients get list_changed.
func (s *Service) UpdateHTTPTool(ctx context.Context, tenantID, name string, def apiv1.HTTPToolDefinition) (apiv1.HTTPTool, error) {
	hs, err := s.httpTools()
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	old, err := s.httpTool(ctx, tenantID, name)
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	if def.Name != "" && def.Name != old.Name {
		return apiv1.HTTPTool{}, fieldErr("name", "an HTTP tool cannot be renamed: add one under the new name and remove this one")
	}
	def.Name = old.Name
	rec, err := s.checkHTTPTool(ctx, old.TenantID, def)
	if err != nil {
		return apiv1.HTTPTool{}, err
	}
	updated, err := hs.UpdateHTTPTool(ctx, rec)
	if err != nil {
		return apiv1.HTTPTool{}, httpToolFieldErr(wrapf(err, "update http tool %s of %s", name, old.TenantID))
	}
	s.log.InfoContext(ctx, "Updated HTTP tool", "tenant", updated.TenantID, "tool", updated.Name)
	return s.httpToolView(updated), nil
}

// DeleteHTTPTool removes an HTTP tool; connected clients get
// list_changed.
func (s *Service) DeleteHTTPTool(ctx context.Context, tenantID, name string) error {
	hs, err := s.httpTools()
	if err != nil {
		return err
	}
	h, err := s.httpTool(ctx, tenantID, name)
	if err != nil {
		return err
	}
	if err := hs.DeleteHTTPTool(ctx, h.TenantID, h.Name); err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return notFoundf("tenant %s has no HTTP tool %q", h.TenantID, name)
		}
		return wrapf(err, "delete http tool %s of %s", name, h.TenantID)
	}
	s.log.InfoContext(ctx, "Removed HTTP tool", "tenant", h.TenantID, "tool", h.Name)
	return nil
}

// ImportHTTPTools reads a file of HTTP tools (ParseHTTPTools) and writes
// them into a tenant: each is checked before any is written, a new name
// is added, an existing one replaced.
func (s *Service) ImportHTTPTools(ctx context.Context, tenantID, content string) (apiv1.HTTPToolImported, error) {
	hs, err := s.httpTools()
	if err != nil {
		return apiv1.HTTPToolImported{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.HTTPToolImported{}, err
	}
	defs, err := ParseHTTPTools([]byte(content))
	if err != nil {
		return apiv1.HTTPToolImported{}, &apiv1.FieldError{Field: "content", Err: err}
	}
	recs := make([]vault.HTTPTool, 0, len(defs))
	for i, d := range defs {
		rec, err := s.checkHTTPTool(ctx, t.ID, d)
		if err != nil {
			return apiv1.HTTPToolImported{}, &apiv1.FieldError{Field: "content", Err: fmt.Errorf("tool %d (%s): %w", i+1, d.Name, err)}
		}
		recs = append(recs, rec)
	}
	out := apiv1.HTTPToolImported{Created: []string{}, Updated: []string{}, HTTPTools: []apiv1.HTTPTool{}}
	for _, rec := range recs {
		saved, err := hs.CreateHTTPTool(ctx, rec)
		if errors.Is(err, vault.ErrExists) {
			saved, err = hs.UpdateHTTPTool(ctx, rec)
			if err == nil {
				out.Updated = append(out.Updated, rec.Name)
			}
		} else if err == nil {
			out.Created = append(out.Created, rec.Name)
		}
		if err != nil {
			return out, httpToolFieldErr(wrapf(err, "import http tool %s into %s", rec.Name, t.ID))
		}
		out.HTTPTools = append(out.HTTPTools, s.httpToolView(saved))
	}
	s.log.InfoContext(ctx, "Imported HTTP tools", "tenant", t.ID, "created", len(out.Created), "updated", len(out.Updated))
	return out, nil
}

// ParseHTTPTools reads a file of HTTP tool definitions, YAML or JSON
// (JSON is YAML): one tool, a list of tools, or {"tools": [...]}. An
// unknown field is an error naming it, so a typo is not silently
// ignored. At most MaxHTTPToolFile bytes and MaxHTTPToolsPerFile tools;
// names must not repeat.
func ParseHTTPTools(data []byte) ([]apiv1.HTTPToolDefinition, error) {
	if len(data) > MaxHTTPToolFile {
		return nil, fmt.Errorf("the file is larger than %d bytes", MaxHTTPToolFile)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty: write one tool, a list of tools, or tools: [...]")
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %v", err)
	}
	js = bytes.TrimSpace(js)
	var defs []apiv1.HTTPToolDefinition
	switch {
	case len(js) > 0 && js[0] == '[':
		if err := strictJSON(js, &defs); err != nil {
			return nil, err
		}
	case len(js) > 0 && js[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(js, &probe); err != nil {
			return nil, fmt.Errorf("not a tool definition: %v", err)
		}
		if _, ok := probe["tools"]; ok {
			var wrap struct {
				Tools []apiv1.HTTPToolDefinition `json:"tools"`
			}
			if err := strictJSON(js, &wrap); err != nil {
				return nil, err
			}
			defs = wrap.Tools
		} else {
			var d apiv1.HTTPToolDefinition
			if err := strictJSON(js, &d); err != nil {
				return nil, err
			}
			defs = []apiv1.HTTPToolDefinition{d}
		}
	default:
		return nil, errors.New("want one tool (a mapping with name, url, ...), a list of tools, or tools: [...]")
	}
	if len(defs) == 0 {
		return nil, errors.New("the file defines no tool")
	}
	if len(defs) > MaxHTTPToolsPerFile {
		return nil, fmt.Errorf("at most %d tools in one file", MaxHTTPToolsPerFile)
	}
	seen := map[string]bool{}
	for i, d := range defs {
		if d.Name == "" {
			return nil, fmt.Errorf("tool %d: name is required", i+1)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("tool %d: the name %q is used twice", i+1, d.Name)
		}
		seen[d.Name] = true
	}
	return defs, nil
}

// strictJSON decodes js into v, refusing unknown fields and trailing data.
func strictJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a tool definition: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("not a tool definition: more than one document")
	}
	return nil
}

// checkHTTPTool turns def into a record and checks it the way the daemon
// will use it: the vault's rules, the compiled templates and schema, a
// name no built-in or upstream tool has, and for an OAuth tool a
// provider whose API origins include the tool's origin.
func (s *Service) checkHTTPTool(ctx context.Context, tenantID string, def apiv1.HTTPToolDefinition) (vault.HTTPTool, error) {
	if def.Name == "" {
		return vault.HTTPTool{}, fieldErr("name", "name is required: the tool's name as MCP clients see it")
	}
	if err := vault.ValidateHTTPToolName(def.Name); err != nil {
		return vault.HTTPTool{}, asField("name", err)
	}
	rec := vault.HTTPTool{
		TenantID: tenantID, Name: def.Name, Description: def.Description, InputSchema: def.InputSchema,
		Method: strings.ToUpper(def.Method), URL: def.URL, Query: def.Query, Headers: def.Headers, Body: def.Body,
		ResponsePointer: def.ResponsePointer, MaxResponseBytes: def.MaxResponseBytes, TimeoutSeconds: def.TimeoutSeconds,
	}
	if rec.Method == "" {
		rec.Method = "GET"
	}
	if a := def.Auth; a != nil {
		rec.Auth = &vault.HTTPToolAuth{Kind: vault.CredentialKind(a.Type), Provider: a.ProviderName, Header: a.Header, Scheme: a.Scheme, QueryParam: a.QueryParam}
	}
	if len(bytes.TrimSpace(rec.InputSchema)) == 0 || string(bytes.TrimSpace(rec.InputSchema)) == "null" {
		rec.InputSchema = json.RawMessage(`{"type":"object"}`)
	}
	if len(bytes.TrimSpace(rec.Body)) == 0 || string(bytes.TrimSpace(rec.Body)) == "null" {
		rec.Body = nil
	}
	if err := vault.CheckHTTPTool(rec); err != nil {
		return vault.HTTPTool{}, httpToolFieldErr(err)
	}
	tl, err := httptool.Compile(rec)
	if err != nil {
		return vault.HTTPTool{}, httpToolFieldErr(err)
	}
	if s.opts.Tools != nil {
		for _, ti := range s.opts.Tools(tenantID) {
			if ti.Name == rec.Name && (ti.Source.Kind != apiv1.ToolSourceHTTP || ti.Source.Name != rec.Name) {
				what := "a built-in tool"
				if ti.Source.Kind == apiv1.ToolSourceUpstream {
					what = "a tool of upstream " + ti.Source.Name
				}
				return vault.HTTPTool{}, fieldErr("name", "%q is already %s's name in tenant %s; choose another", rec.Name, what, tenantID)
			}
		}
	}
	if a := rec.Auth; a != nil && a.Kind == vault.CredentialOAuth {
		p, err := s.store.GetOAuthProvider(ctx, tenantID, a.Provider)
		if errors.Is(err, vault.ErrNotFound) {
			return vault.HTTPTool{}, fieldErr("auth", "tenant %s has no OAuth provider %q; add it first (plexus admin ext-oauth create)", tenantID, a.Provider)
		}
		if err != nil {
			return vault.HTTPTool{}, wrapf(err, "oauth provider %s of %s", a.Provider, tenantID)
		}
		if !slices.Contains(p.APIOrigins, string(tl.Origin())) {
			return vault.HTTPTool{}, fieldErr("url", "the %s connection may only be sent to %s, not %s: use a URL there, or add %s to the provider's API origins (plexus admin ext-oauth update --api-origins)",
				a.Provider, strings.Join(p.APIOrigins, ", "), tl.Origin(), tl.Origin())
		}
	}
	return rec, nil
}

// httpToolFieldErr attributes a refused definition to its field.
func httpToolFieldErr(err error) error {
	if !errors.Is(err, vault.ErrInvalid) && !errors.Is(err, httptool.ErrInvalid) {
		return err
	}
	if _, ok := errors.AsType[*apiv1.FieldError](err); ok {
		return err
	}
	msg := strings.TrimPrefix(err.Error(), httptool.ErrInvalid.Error()+": ")
	field := "definition"
	for _, f := range []struct{ prefix, field string }{
		{"http tool name", "name"}, {"description", "description"}, {"input_schema", "input_schema"}, {"method", "method"},
		{"url", "url"}, {"query", "query"}, {"header", "headers"}, {"body", "body"}, {"auth", "auth"},
		{"response_pointer", "response_pointer"}, {"max_response_bytes", "max_response_bytes"}, {"timeout_seconds", "timeout_seconds"},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			field = f.field
			break
		}
	}
	return &apiv1.FieldError{Field: field, Err: &reasonError{msg: msg, kind: vault.ErrInvalid}}
}

// httpToolView is the API's view of h, with whether the daemon shows it.
func (s *Service) httpToolView(h vault.HTTPTool) apiv1.HTTPTool {
	out := apiv1.HTTPTool{
		TenantID: h.TenantID,
		HTTPToolDefinition: apiv1.HTTPToolDefinition{
			Name: h.Name, Description: h.Description, InputSchema: h.InputSchema, Method: h.Method, URL: h.URL,
			Query: h.Query, Headers: h.Headers, Body: h.Body, ResponsePointer: h.ResponsePointer,
			MaxResponseBytes: h.MaxResponseBytes, TimeoutSeconds: h.TimeoutSeconds,
		},
		CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
	}
	if a := h.Auth; a != nil {
		out.Auth = &apiv1.HTTPToolAuth{Type: string(a.Kind), ProviderName: a.Provider, Header: a.Header, Scheme: a.Scheme, QueryParam: a.QueryParam}
	}
	if rt, ok := s.opts.Upstreams.(HTTPToolRuntime); ok && rt != nil {
		out.Problem = rt.HTTPToolProblem(h.TenantID, h.Name)
		shown := out.Problem == ""
		out.Shown = &shown
	}
	return out
}
