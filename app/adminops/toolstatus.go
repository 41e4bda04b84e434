// This file holds the Tools page's operation: a tenant's tools with
// whether the person at this machine has what each one needs.

package adminops

import (
	"context"
	"slices"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// ToolsOverview returns tenantID's tools (as ToolSettings does) and, for
// each credential a tool needs, whether the tenant's local owner has it:
// connected (or a saved key), expired, missing, or not set up (the tenant
// has no such OAuth provider). It creates the local owner on first use,
// as the connections operations do. Without Options.Tools the list is
// empty.
func (s *Service) ToolsOverview(ctx context.Context, tenantID string) (apiv1.ToolsOverview, error) {
	settings, err := s.ToolSettings(ctx, tenantID)
	if err != nil {
		return apiv1.ToolsOverview{}, err
	}
	out := apiv1.ToolsOverview{TenantID: tenantID, Tools: []apiv1.ToolStatus{},
		DisabledTools: settings.DisabledTools, DisabledToolSets: settings.DisabledToolSets}
	needs := false
	for _, ti := range settings.Tools {
		needs = needs || len(ti.Credentials) > 0
	}
	var (
		conns     apiv1.ConnectionsResponse
		providers []vault.OAuthProvider
	)
	if needs {
		if conns, err = s.Connections(ctx, tenantID, apiv1.LocalOwner); err != nil {
			return apiv1.ToolsOverview{}, err
		}
		if providers, err = s.store.ListOAuthProviders(ctx, tenantID); err != nil {
			return apiv1.ToolsOverview{}, wrapf(err, "oauth providers of %s", tenantID)
		}
	}
	for _, ti := range settings.Tools {
		st := apiv1.ToolStatus{ToolInfo: ti}
		for _, c := range ti.Credentials {
			st.CredentialStatus = append(st.CredentialStatus, credentialStatus(c, conns, providers))
		}
		out.Tools = append(out.Tools, st)
	}
	return out, nil
}

// credentialStatus is the local owner's state of credential c; an OAuth
// credential's display name is its provider's (a preset's name, such as
// GitHub) when the tool gave none.
func credentialStatus(c apiv1.ToolCredential, conns apiv1.ConnectionsResponse, providers []vault.OAuthProvider) apiv1.CredentialStatus {
	out := apiv1.CredentialStatus{ToolCredential: c, Status: apiv1.CredentialMissing}
	if c.Kind == apiv1.CredentialKindAPIKey {
		if slices.ContainsFunc(conns.APIKeys, func(k apiv1.APIKeyInfo) bool { return k.Provider == c.Provider }) {
			out.Status = apiv1.CredentialConnected
		}
		return out
	}
	i := slices.IndexFunc(providers, func(p vault.OAuthProvider) bool { return p.Name == c.Provider })
	preset := c.Provider
	if i >= 0 && providers[i].Preset != "" {
		preset = providers[i].Preset
	}
	if out.DisplayName == "" {
		out.DisplayName = c.Provider
		if p, ok := oauth.LookupPreset(preset); ok {
			out.DisplayName = p.DisplayName
		}
	}
	if i < 0 {
		out.Status = apiv1.CredentialNotSetUp
		return out
	}
	for _, cn := range conns.Connections {
		if cn.Provider == c.Provider {
			out.Status = apiv1.CredentialConnected
			if cn.Status == "expired" {
				out.Status = apiv1.CredentialExpired
			}
		}
	}
	return out
}
