package mcpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// Resources, resource templates and prompts from the registry (package
// tools), served on each tenant's MCP server with the scoping tools have:
// only those allowed for the tenant are added to its server, and those in
// a tool set the tenant disabled are hidden from resources/list,
// resources/templates/list and prompts/list and refused by resources/read
// and prompts/get exactly as an unknown one is (same code, same message).
// mcp-go has a prompt filter (WithPromptFilter) but none for resources, so
// resource lists are filtered in an after-list hook and a hidden
// resource's read fails with errHiddenResource, whose error response the
// OnError hook turns into mcp-go's own "resource not found" answer
// (rpcWriter.replaceError).

// errHiddenResource is what a hidden resource's handler returns.
var errHiddenResource = errors.New("resource hidden by the tenant's tool settings")

// itemOptions are the MCP server options tenantID's registry items need:
// the resources and prompts capabilities (with listChanged), declared only
// when the tenant has any; and the prompt filter and resource-list hooks.
func (s *Server) itemOptions(tenantID string, hooks *server.Hooks) []server.ServerOption {
	var opts []server.ServerOption
	hasResources := len(s.registry.ResourcesForTenant(tenantID)) > 0 || len(s.registry.ResourceTemplatesForTenant(tenantID)) > 0
	if hasResources {
		opts = append(opts, server.WithResourceCapabilities(false, true), server.WithResourceRecovery())
		hooks.AddAfterListResources(func(ctx context.Context, _ any, _ *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
			if res != nil {
				res.Resources = visibleOnly(ctx, s, tenantID, res.Resources, func(r mcp.Resource) (tools.Scope, bool) {
					return s.registry.ResourceScope(r.URI)
				})
			}
		})
		hooks.AddAfterListResourceTemplates(func(ctx context.Context, _ any, _ *mcp.ListResourceTemplatesRequest, res *mcp.ListResourceTemplatesResult) {
			if res != nil {
				res.ResourceTemplates = visibleOnly(ctx, s, tenantID, res.ResourceTemplates, func(t mcp.ResourceTemplate) (tools.Scope, bool) {
					if t.URITemplate == nil || t.URITemplate.Template == nil {
						return tools.Scope{}, false
					}
					return s.registry.ResourceTemplateScope(t.URITemplate.Raw())
				})
			}
		})
		hooks.AddOnError(func(ctx context.Context, _ any, method mcp.MCPMethod, req any, err error) {
			if method != mcp.MethodResourcesRead || !errors.Is(err, errHiddenResource) {
				return
			}
			if rw := rpcWriterFrom(ctx); rw != nil {
				uri := ""
				if r, ok := req.(*mcp.ReadResourceRequest); ok {
					uri = r.Params.URI
				}
				rw.replaceError(resourceNotFoundCode(ctx),
					fmt.Sprintf("handler not found for resource URI '%s': %v", uri, server.ErrResourceNotFound), nil)
			}
		})
	}
	if len(s.registry.PromptsForTenant(tenantID)) > 0 {
		opts = append(opts,
			server.WithPromptCapabilities(true),
			server.WithPromptFilter(func(ctx context.Context, in []mcp.Prompt) []mcp.Prompt {
				return visibleOnly(ctx, s, tenantID, in, func(p mcp.Prompt) (tools.Scope, bool) {
					return s.registry.PromptScope(p.Name)
				})
			}))
	}
	return opts
}

// resourceNotFoundCode is the code mcp-go answers an unknown resource
// with: -32002 up to 2025-11-25, -32602 from 2026-07-28 on.
func resourceNotFoundCode(ctx context.Context) int {
	if mcp.IsModernProtocol(server.RequestProtocolVersion(ctx)) {
		return mcp.INVALID_PARAMS
	}
	return mcp.RESOURCE_NOT_FOUND
}

// visibleOnly keeps the items of in that tenantID may see now. Items the
// registry does not know (the conformance fixtures) are kept. When the
// tenant's settings cannot be read no registry item is kept (fail closed,
// as for tools).
func visibleOnly[T any](ctx context.Context, s *Server, tenantID string, in []T, scope func(T) (tools.Scope, bool)) []T {
	st, err := s.toolSettings(ctx, tenantID)
	out := make([]T, 0, len(in))
	for _, it := range in {
		sc, known := scope(it)
		if !known {
			out = append(out, it)
			continue
		}
		if err == nil && scopeVisible(tenantID, sc, st) {
			out = append(out, it)
		}
	}
	if err != nil {
		s.log.ErrorContext(ctx, "Reading tool settings", "tenant", tenantID, "err", err)
	}
	return out
}

// scopeVisible reports whether an item with scope sc is visible to
// tenantID under its settings st: allowed for the tenant, and in no tool
// set the tenant disabled.
func scopeVisible(tenantID string, sc tools.Scope, st vault.ToolSettings) bool {
	if !sc.AllowedFor(tenantID) {
		return false
	}
	for _, set := range st.DisabledToolSets {
		if sc.InToolSet(set) {
			return false
		}
	}
	return true
}

// itemVisible reports whether an item with scope sc is visible to
// tenantID for this request (false when the settings cannot be read).
func (s *Server) itemVisible(ctx context.Context, tenantID string, sc tools.Scope) bool {
	st, err := s.toolSettings(ctx, tenantID)
	if err != nil {
		s.log.ErrorContext(ctx, "Reading tool settings", "tenant", tenantID, "err", err)
		return false
	}
	return scopeVisible(tenantID, sc, st)
}

// addItems adds tenantID's registry resources, templates and prompts to
// ms, each handler wrapped to refuse while hidden and to check Requires.
func (s *Server) addItems(ms *server.MCPServer, tenantID string) {
	for _, r := range s.registry.ResourcesForTenant(tenantID) {
		ms.AddResource(r.Definition, server.ResourceHandlerFunc(s.resourceHandler(tenantID, r.Definition.URI, r.Scope(), r.Requires, r.Handler)))
	}
	for _, t := range s.registry.ResourceTemplatesForTenant(tenantID) {
		ms.AddResourceTemplate(t.Definition, server.ResourceTemplateHandlerFunc(
			s.resourceHandler(tenantID, t.Definition.URITemplate.Raw(), t.Scope(), t.Requires, server.ResourceHandlerFunc(t.Handler))))
	}
	for _, p := range s.registry.PromptsForTenant(tenantID) {
		ms.AddPrompt(p.Definition, s.promptHandler(p))
	}
}

// resourceHandler wraps a registry resource's (or template's) handler:
// hidden now -> errHiddenResource (answered as an unknown resource), then
// the credential check, then the handler.
func (s *Server) resourceHandler(tenantID, key string, sc tools.Scope, req *tools.Requirement, next server.ResourceHandlerFunc) server.ResourceHandlerFunc {
	return func(ctx context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		if !s.itemVisible(ctx, tenantID, sc) {
			return nil, errHiddenResource
		}
		if req != nil {
			ctx = tools.WithRequirement(ctx, req)
			if err := s.requireCredentials(ctx, "resource "+key, req); err != nil {
				return nil, err
			}
		}
		res, err := next(ctx, r)
		if err != nil && req != nil && tools.IsCredentialError(err) {
			return nil, s.credentialError(ctx, "resource "+key, req, err)
		}
		return res, err
	}
}

// promptHandler wraps a registry prompt's handler with the credential
// check (visibility is the prompt filter's) and, as mcp-go has no prompt
// recovery, turns a panic into an error.
func (s *Server) promptHandler(p tools.Prompt) server.PromptHandlerFunc {
	what := "prompt " + p.Definition.Name
	return func(ctx context.Context, r mcp.GetPromptRequest) (res *mcp.GetPromptResult, err error) {
		defer func() {
			if v := recover(); v != nil {
				res, err = nil, fmt.Errorf("panic recovered in %s handler: %v", what, v)
			}
		}()
		if p.Requires == nil {
			return p.Handler(ctx, r)
		}
		ctx = tools.WithRequirement(ctx, p.Requires)
		if err := s.requireCredentials(ctx, what, p.Requires); err != nil {
			return nil, err
		}
		res, err = p.Handler(ctx, r)
		if err != nil && tools.IsCredentialError(err) {
			return nil, s.credentialError(ctx, what, p.Requires, err)
		}
		return res, err
	}
}

// itemsListChanged tells ts's sessions that its resources and prompts may
// have changed (tool settings changed), for the kinds it has.
func (s *Server) itemsListChanged(ts *tenantServer) {
	if len(s.registry.ResourcesForTenant(ts.id)) > 0 || len(s.registry.ResourceTemplatesForTenant(ts.id)) > 0 {
		ts.mcp.SendNotificationToAllClients(string(mcp.MethodNotificationResourcesListChanged), nil)
	}
	if len(s.registry.PromptsForTenant(ts.id)) > 0 {
		ts.mcp.SendNotificationToAllClients(string(mcp.MethodNotificationPromptsListChanged), nil)
	}
}

// requireCredentials checks that the caller has what req names; when not,
// the error says in plain words how to get it (resources/read and
// prompts/get have no result a tool's structured answer could go into).
func (s *Server) requireCredentials(ctx context.Context, what string, req *tools.Requirement) error {
	if req.OAuth != nil {
		if _, err := tools.AuthenticatedClient(ctx, req.OAuth.Provider); err != nil {
			return s.credentialError(ctx, what, req, err)
		}
	}
	if req.APIKey != nil {
		if _, err := tools.APIKey(ctx, req.APIKey.Provider); err != nil {
			return s.credentialError(ctx, what, req, err)
		}
	}
	return nil
}

// credentialError turns a missing credential into an error whose message
// tells the caller what to do (the consent link, or where to store the
// API key); other failures become a short internal error.
func (s *Server) credentialError(ctx context.Context, what string, req *tools.Requirement, cause error) error {
	var res *mcp.CallToolResult
	switch {
	case req.OAuth != nil && (errors.Is(cause, oauth.ErrConsentRequired) || errors.Is(cause, tools.ErrNoSession) || errors.Is(cause, oauth.ErrUnknownProvider)):
		c, _ := tools.CallerFrom(ctx)
		switch {
		case errors.Is(cause, oauth.ErrUnknownProvider):
			return errors.New(providerMissingMessage(c.TenantID, req.OAuth.Provider))
		case c.UserID == "" && c.SessionID == "":
			res = signInResult(c, req.OAuth.Provider)
		default:
			u, err := s.consentURL(ctx, c, what, req.OAuth)
			if err != nil {
				return err
			}
			res = authResult(req.OAuth.Provider, u)
		}
	case req.APIKey != nil && (errors.Is(cause, tools.ErrAPIKeyMissing) || errors.Is(cause, tools.ErrNoSession)):
		res, _ = s.apiKeyMissing(ctx, what, req.APIKey, cause)
	default:
		c, _ := tools.CallerFrom(ctx)
		s.log.ErrorContext(ctx, "Checking credentials", "tenant", c.TenantID, "item", what, "err", cause)
		return fmt.Errorf("%s: could not check your credentials (internal error); try again later", what)
	}
	cr, _ := res.StructuredContent.(CredentialResult)
	msg := what + ": " + cr.Message
	if cr.AuthorizationURL != "" {
		msg += " Authorization URL: " + cr.AuthorizationURL
	}
	return errors.New(msg)
}
