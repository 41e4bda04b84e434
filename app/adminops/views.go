// This file converts vault records (and the OAuth engine's types) to the
// admin API's views: the one place where the two meet, field by field.

package adminops

import (
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// views converts a list, never returning nil (the API answers [], not null).
func views[T, V any](in []T, view func(T) V) []V {
	out := make([]V, 0, len(in))
	for _, x := range in {
		out = append(out, view(x))
	}
	return out
}

// nonNil returns s, or an empty slice for nil.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func tenantView(t vault.Tenant) apiv1.Tenant {
	return apiv1.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, HasHostAppSecret: t.HasHostAppSecret}
}

func userView(u vault.User) apiv1.User {
	return apiv1.User{TenantID: u.TenantID, ID: u.ID, HostUserID: u.HostUserID, CreatedAt: u.CreatedAt}
}

func tokenView(t vault.TokenInfo) apiv1.TokenInfo {
	return apiv1.TokenInfo{ID: t.ID, TenantID: t.TenantID, UserID: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Revoked: t.Revoked}
}

func keyView(k vault.KeyInfo) apiv1.KeyInfo {
	return apiv1.KeyInfo{Source: string(k.Source), File: k.File}
}

func presetView(p oauth.Preset) apiv1.Preset {
	return apiv1.Preset{
		Name:             p.Name,
		DisplayName:      p.DisplayName,
		AuthorizationURL: p.AuthorizationURL,
		TokenURL:         p.TokenURL,
		UserinfoURL:      p.UserinfoURL,
		RevocationURL:    p.RevocationURL,
		Scopes:           nonNil(p.Scopes),
		APIOrigins:       nonNil(p.APIOrigins),
	}
}

func connectionView(c oauth.Connection) apiv1.Connection {
	return apiv1.Connection{Provider: c.Provider, Status: c.Status, Scopes: c.Scopes, Expiry: c.Expiry, UpdatedAt: c.UpdatedAt,
		Refreshable: c.Refreshable}
}

// providerView shows a provider without its client secret, only whether
// one is set, with the redirect URL when the daemon knows it.
func (s *Service) providerView(p vault.OAuthProvider, secretSet bool) apiv1.Provider {
	v := apiv1.Provider{
		TenantID:         p.TenantID,
		Name:             p.Name,
		Preset:           p.Preset,
		ClientID:         p.ClientID,
		ClientSecretSet:  secretSet,
		AuthorizationURL: p.AuthorizationURL,
		TokenURL:         p.TokenURL,
		UserinfoURL:      p.UserinfoURL,
		RevocationURL:    p.RevocationURL,
		Scopes:           nonNil(p.Scopes),
		Resource:         p.Resource,
		APIOrigins:       nonNil(p.APIOrigins),
		CreatedAt:        p.CreatedAt,
		UpdatedAt:        p.UpdatedAt,
	}
	if s.opts.RedirectURL != nil {
		v.RedirectURL = s.opts.RedirectURL(p.TenantID, p.Name)
	}
	return v
}
