// This file holds the OAuth side of upstream MCP servers (issue 11 item
// 3): Plexus as the OAuth client of an upstream that requires OAuth. The
// upstream's authorization server is discovered (and Plexus registered
// there) when the upstream is added or updated with UpstreamRequest.OAuth;
// the result is a tenant OAuth provider (Preset oauth.MCPPreset) that the
// upstream's OAuth credential names, so each user's consent, sealed
// tokens and refresh are the ones every OAuth provider has.

package adminops

import (
	"context"
	"errors"
	"slices"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// UpstreamOAuthEngine finds out how an upstream MCP server authorizes and
// registers Plexus there; *oauth.Manager satisfies it. When Options.OAuth
// also implements it, UpstreamRequest.OAuth works (else ErrUnsupported).
type UpstreamOAuthEngine interface {
	MCPProvider(ctx context.Context, tenantID, name, resourceURL string, c oauth.MCPClient, prev *vault.OAuthProvider) (vault.OAuthProvider, error)
}

var _ UpstreamOAuthEngine = (*oauth.Manager)(nil)

// withoutOAuthCredentials drops req's OAuth credentials when req.OAuth
// is set: the discovered provider's credential replaces them.
func withoutOAuthCredentials(req apiv1.UpstreamRequest) apiv1.UpstreamRequest {
	if req.OAuth != nil {
		req.Credentials = slices.DeleteFunc(slices.Clone(req.Credentials), func(c apiv1.UpstreamCredential) bool {
			return c.Kind == string(vault.CredentialOAuth)
		})
	}
	return req
}

// upstreamOAuth discovers u's authorization server, stores (creates or
// updates) the provider record for it and adds its credential to u. It
// does nothing when r is nil. creating refuses an upstream that already
// exists before anything is stored. undo removes a provider it created
// (the upstream could not be stored after all); it is never nil.
func (s *Service) upstreamOAuth(ctx context.Context, u *vault.Upstream, r *apiv1.UpstreamOAuthRequest, creating bool) (undo func(), err error) {
	undo = func() {}
	if r == nil {
		return undo, nil
	}
	if u.Transport == vault.UpstreamStdio {
		return undo, fieldErr("oauth", "oauth: Plexus is the OAuth client of http and sse upstreams; a stdio upstream takes API keys as environment variables")
	}
	eng, ok := s.opts.OAuth.(UpstreamOAuthEngine)
	if !ok {
		return undo, unsupported("this daemon cannot be the OAuth client of upstream MCP servers")
	}
	if creating {
		if us, err := s.upstreams(); err == nil {
			if _, err := us.GetUpstream(ctx, u.TenantID, u.Name); err == nil {
				return undo, &reasonError{msg: "tenant " + u.TenantID + " already has an upstream called \"" + u.Name + "\" (change it with update, or remove it first)", kind: vault.ErrExists}
			}
		}
	}
	name := r.Provider
	if name == "" {
		name = u.Name
	}
	if err := vault.ValidateProviderName(name); err != nil {
		return undo, asField("oauth", err)
	}
	if r.ClientSecret != "" && r.ClientID == "" {
		return undo, fieldErr("oauth", "oauth: a client secret needs its client id")
	}
	existing, prev, err := s.mcpProvider(ctx, u.TenantID, name)
	if err != nil {
		return undo, err
	}
	p, err := eng.MCPProvider(ctx, u.TenantID, name, u.URL, oauth.MCPClient{ClientID: r.ClientID, ClientSecret: r.ClientSecret, Scopes: r.Scopes}, prev)
	if errors.Is(err, oauth.ErrDiscovery) || errors.Is(err, vault.ErrInvalid) {
		return undo, fieldErr("oauth", "oauth: %v", err)
	}
	if err != nil {
		return undo, wrapf(err, "discover the authorization server of upstream %s", u.Name)
	}
	if existing {
		_, dropped, err := s.store.UpdateOAuthProvider(ctx, p)
		if err != nil {
			return undo, asField("oauth", wrapf(err, "update oauth provider %s of %s", name, u.TenantID))
		}
		if dropped > 0 {
			s.log.InfoContext(ctx, "Upstream's authorization server changed; its connections were dropped", "tenant", u.TenantID, "upstream", u.Name, "dropped", dropped)
		}
	} else {
		if _, err := s.store.CreateOAuthProvider(ctx, p); err != nil {
			return undo, asField("oauth", wrapf(err, "create oauth provider %s in %s", name, u.TenantID))
		}
		undo = func() {
			if err := s.store.DeleteOAuthProvider(context.WithoutCancel(ctx), u.TenantID, name); err != nil && !errors.Is(err, vault.ErrNotFound) {
				s.log.WarnContext(ctx, "Could not remove the OAuth provider of an upstream that was not stored", "tenant", u.TenantID, "provider", name, "err", err)
			}
		}
	}
	u.Credentials = append(slices.DeleteFunc(u.Credentials, func(c vault.UpstreamCredential) bool { return c.Kind == vault.CredentialOAuth }),
		vault.UpstreamCredential{Kind: vault.CredentialOAuth, Provider: name, Header: "Authorization", Scheme: "Bearer"})
	s.log.InfoContext(ctx, "Discovered the upstream's authorization server", "tenant", u.TenantID, "upstream", u.Name, "provider", name,
		"registered", r.ClientID == "")
	return undo, nil
}

// mcpProvider reports whether tenant has a provider called name and, when
// it is an upstream's (Preset oauth.MCPPreset), returns it so its
// registered client can be reused. A provider of that name that is not an
// upstream's is refused: the upstream would take it over.
func (s *Service) mcpProvider(ctx context.Context, tenantID, name string) (exists bool, prev *vault.OAuthProvider, err error) {
	all, err := s.store.ListOAuthProviders(ctx, tenantID)
	if err != nil {
		return false, nil, wrapf(err, "list oauth providers of %s", tenantID)
	}
	i := slices.IndexFunc(all, func(p vault.OAuthProvider) bool { return p.Name == name })
	if i < 0 {
		return false, nil, nil
	}
	if all[i].Preset != oauth.MCPPreset {
		return true, nil, fieldErr("oauth", "oauth: tenant %s already has an OAuth provider %q that is not an upstream's; give the upstream's provider another name (provider_name, --oauth-provider)", tenantID, name)
	}
	p, err := s.store.GetOAuthProvider(ctx, tenantID, name)
	if err != nil {
		return true, nil, nil // its secret does not open: register again
	}
	return true, &p, nil
}

// upstreamOAuthView shows how Plexus authorizes at u, when it is the
// OAuth client of u (its OAuth credential names an upstream's provider).
func (s *Service) upstreamOAuthView(ctx context.Context, u vault.Upstream) *apiv1.UpstreamOAuth {
	for _, c := range u.Credentials {
		if c.Kind != vault.CredentialOAuth {
			continue
		}
		all, err := s.store.ListOAuthProviders(ctx, u.TenantID)
		if err != nil {
			return nil
		}
		i := slices.IndexFunc(all, func(p vault.OAuthProvider) bool { return p.Name == c.Provider && p.Preset == oauth.MCPPreset })
		if i < 0 {
			return nil
		}
		p := all[i]
		v := &apiv1.UpstreamOAuth{Provider: p.Name, AuthorizationURL: p.AuthorizationURL, TokenURL: p.TokenURL, ClientID: p.ClientID,
			Resource: p.Resource, Scopes: p.Scopes}
		if s.opts.RedirectURL != nil {
			v.RedirectURL = s.opts.RedirectURL(u.TenantID, p.Name)
		}
		return v
	}
	return nil
}

// dropUpstreamProvider removes the provider Plexus made for a removed
// upstream u (and with it every user's tokens for it), unless another
// upstream of the tenant still uses it.
func (s *Service) dropUpstreamProvider(ctx context.Context, u vault.Upstream) {
	v := s.upstreamOAuthView(ctx, u)
	if v == nil {
		return
	}
	us, err := s.upstreams()
	if err != nil {
		return
	}
	others, err := us.ListUpstreams(ctx, u.TenantID)
	if err != nil {
		return
	}
	for _, o := range others {
		if o.Name != u.Name && slices.ContainsFunc(o.Credentials, func(c vault.UpstreamCredential) bool {
			return c.Kind == vault.CredentialOAuth && c.Provider == v.Provider
		}) {
			return
		}
	}
	if err := s.store.DeleteOAuthProvider(ctx, u.TenantID, v.Provider); err != nil && !errors.Is(err, vault.ErrNotFound) {
		s.log.WarnContext(ctx, "Could not remove a removed upstream's OAuth provider", "tenant", u.TenantID, "provider", v.Provider, "err", err)
		return
	}
	s.log.InfoContext(ctx, "Removed a removed upstream's OAuth provider and its connections", "tenant", u.TenantID, "provider", v.Provider)
}
