// This file holds the external OAuth provider operations and the presets.

package adminops

import (
	"context"
	"fmt"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Presets returns the built-in external OAuth provider presets.
func (s *Service) Presets() []apiv1.Preset { return views(oauth.Presets(), presetView) }

// ListProviders returns a tenant's external OAuth providers (never their
// client secrets).
func (s *Service) ListProviders(ctx context.Context, tenantID string) ([]apiv1.Provider, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.ListOAuthProviders(ctx, t.ID)
	if err != nil {
		return nil, wrapf(err, "list oauth providers of %s", t.ID)
	}
	out := make([]apiv1.Provider, 0, len(ps))
	for _, p := range ps {
		// The list carries no secrets; ask for each whether one is set.
		full, err := s.store.GetOAuthProvider(ctx, t.ID, p.Name)
		if err != nil {
			return nil, wrapf(err, "oauth provider %q of %s", p.Name, t.ID)
		}
		out = append(out, s.providerView(p, full.ClientSecret != ""))
	}
	return out, nil
}

// GetProvider returns one of a tenant's external OAuth providers.
func (s *Service) GetProvider(ctx context.Context, tenantID, name string) (apiv1.Provider, error) {
	p, err := s.provider(ctx, tenantID, name)
	if err != nil {
		return apiv1.Provider{}, err
	}
	return s.providerView(p, p.ClientSecret != ""), nil
}

// CreateProvider adds an external OAuth provider to a tenant: from a
// preset (then only the client id and secret are needed) or with its
// endpoints and the API origins its access tokens may go to. The client
// secret is stored sealed and never shown again.
func (s *Service) CreateProvider(ctx context.Context, tenantID string, req apiv1.ProviderRequest) (apiv1.Provider, error) {
	p := vault.OAuthProvider{}
	if req.Preset != "" {
		pr, err := lookupPreset(req.Preset)
		if err != nil {
			return apiv1.Provider{}, err
		}
		applyPreset(&p, pr)
		if req.ProviderName == "" {
			req.ProviderName = pr.Name
		}
	}
	if req.ProviderName == "" {
		return apiv1.Provider{}, fieldErr("provider_name", "provider_name is required")
	}
	if req.ClientSecret == "" {
		return apiv1.Provider{}, fieldErr("client_secret", "client_secret is required")
	}
	if err := vault.ValidateProviderName(req.ProviderName); err != nil {
		return apiv1.Provider{}, asField("provider_name", err)
	}
	p.Name = req.ProviderName
	p.ClientID = req.ClientID
	p.ClientSecret = req.ClientSecret
	override(&p.AuthorizationURL, req.AuthorizationURL)
	override(&p.TokenURL, req.TokenURL)
	override(&p.UserinfoURL, req.UserinfoURL)
	override(&p.RevocationURL, req.RevocationURL)
	override(&p.Resource, req.Resource)
	if len(req.Scopes) > 0 {
		scopes, err := parseScopes(req.Scopes)
		if err != nil {
			return apiv1.Provider{}, err
		}
		p.Scopes = scopes
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if len(req.APIOrigins) > 0 {
		p.APIOrigins = req.APIOrigins
	}
	if err := checkProvider(p); err != nil {
		return apiv1.Provider{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.Provider{}, err
	}
	p.TenantID = t.ID
	created, err := s.store.CreateOAuthProvider(ctx, p)
	if err != nil {
		return apiv1.Provider{}, wrapf(err, "create oauth provider in %s", t.ID)
	}
	s.log.InfoContext(ctx, "Created OAuth provider", "tenant", t.ID, "provider", created.Name)
	return s.providerView(created, true), nil
}

// parseScopes checks scopes that did not come through apiv1.Scopes's
// JSON decoding (a form's text field, a Go caller).
func parseScopes(raw []string) ([]string, error) {
	sc, err := apiv1.ParseScopes(raw...)
	if err != nil {
		return nil, fieldErr("scopes", "%v", err)
	}
	return sc, nil
}

// override sets *dst to v unless v is empty.
func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// UpdateProvider changes the fields set in patch. Where a secret goes is
// part of the secret: a change of an endpoint, the client id or the API
// origins needs the client secret in the same patch and drops every
// user's connection to the provider (counted in the result).
func (s *Service) UpdateProvider(ctx context.Context, tenantID, name string, patch apiv1.ProviderPatch) (apiv1.ProviderUpdate, error) {
	p, err := s.provider(ctx, tenantID, name)
	if err != nil {
		return apiv1.ProviderUpdate{}, err
	}
	old := p
	secretSet := p.ClientSecret != ""
	p.ClientSecret = "" // keep the stored one unless the patch has a new one
	if patch.Preset != nil {
		if *patch.Preset == "" {
			p.Preset = ""
		} else {
			pr, err := lookupPreset(*patch.Preset)
			if err != nil {
				return apiv1.ProviderUpdate{}, err
			}
			applyPreset(&p, pr)
		}
	}
	if patch.ClientSecret != nil {
		if *patch.ClientSecret == "" {
			return apiv1.ProviderUpdate{}, fieldErr("client_secret", "client_secret must not be empty (omit it to keep the current one)")
		}
		p.ClientSecret = *patch.ClientSecret
		secretSet = true
	}
	for _, f := range []struct {
		dst *string
		v   *string
	}{
		{&p.ClientID, patch.ClientID}, {&p.AuthorizationURL, patch.AuthorizationURL}, {&p.TokenURL, patch.TokenURL},
		{&p.UserinfoURL, patch.UserinfoURL}, {&p.RevocationURL, patch.RevocationURL}, {&p.Resource, patch.Resource},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if patch.Scopes != nil {
		scopes, err := parseScopes(*patch.Scopes)
		if err != nil {
			return apiv1.ProviderUpdate{}, err
		}
		p.Scopes = scopes
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if patch.APIOrigins != nil {
		p.APIOrigins = *patch.APIOrigins
	}
	if err := checkProvider(p); err != nil {
		return apiv1.ProviderUpdate{}, err
	}
	changed := destinationChanges(old, p)
	if len(changed) > 0 && patch.ClientSecret == nil && old.ClientSecret != "" {
		return apiv1.ProviderUpdate{}, &apiv1.FieldError{Field: "client_secret", Err: &reasonError{kind: ErrSecretRequired, msg: fmt.Sprintf(
			"client_secret is required when %s changes: where a secret goes is part of the secret, so give the "+
				"client secret again in the same request (CLI: --client-secret -). The change disconnects every user of this "+
				"provider; they consent again", strings.Join(changed, ", "))}}
	}
	updated, dropped, err := s.store.UpdateOAuthProvider(ctx, p)
	if err != nil {
		return apiv1.ProviderUpdate{}, wrapf(err, "update oauth provider %q of %s", p.Name, p.TenantID)
	}
	out := apiv1.ProviderUpdate{Provider: s.providerView(updated, secretSet), ConnectionsDropped: dropped}
	if len(changed) > 0 {
		out.Message = fmt.Sprintf("%s changed: %d connection(s) to %s were dropped; those users consent again on their next use.",
			strings.Join(changed, ", "), dropped, p.Name)
		s.log.InfoContext(ctx, "OAuth provider destination changed; connections dropped",
			"tenant", p.TenantID, "provider", p.Name, "fields", changed, "dropped", dropped)
	}
	return out, nil
}

// ErrSecretRequired is matched (with errors.Is) by UpdateProvider's error
// when a patch changes where the client secret goes without giving the
// secret again; it matches vault.ErrInvalid too.
var ErrSecretRequired = fmt.Errorf("the client secret is required for this change: %w", vault.ErrInvalid)

// CallbackURL is the redirect (callback) URL to register at the provider
// for a provider called name in the tenant, known before the provider is
// added ("" when the daemon does not know its URL).
func (s *Service) CallbackURL(tenantID, name string) string {
	if s.opts.RedirectURL == nil {
		return ""
	}
	return s.opts.RedirectURL(tenantID, name)
}

// ProviderConnections counts the users' connections to a tenant's
// provider: what changing its destination or deleting it drops.
func (s *Service) ProviderConnections(ctx context.Context, tenantID, name string) (int, error) {
	p, err := s.provider(ctx, tenantID, name)
	if err != nil {
		return 0, err
	}
	creds, err := s.store.ListCredentials(ctx, p.TenantID, "")
	if err != nil {
		return 0, wrapf(err, "credentials of %s", p.TenantID)
	}
	n := 0
	for _, c := range creds {
		if c.Kind == vault.CredentialOAuth && c.Provider == p.Name {
			n++
		}
	}
	return n, nil
}

// DeleteProvider removes a provider and every user's connection to it.
func (s *Service) DeleteProvider(ctx context.Context, tenantID, name string) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteOAuthProvider(ctx, t.ID, name); err != nil {
		return wrapf(err, "delete oauth provider %q of %s", name, t.ID)
	}
	s.log.InfoContext(ctx, "Deleted OAuth provider", "tenant", t.ID, "provider", name)
	return nil
}

// provider loads a provider with its client secret (which must never
// leave this package).
func (s *Service) provider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return vault.OAuthProvider{}, err
	}
	p, err := s.store.GetOAuthProvider(ctx, t.ID, name)
	return p, wrapf(err, "oauth provider %q of %s", name, t.ID)
}

// lookupPreset finds a preset or says which exist.
func lookupPreset(name string) (oauth.Preset, error) {
	p, ok := oauth.LookupPreset(name)
	if !ok {
		var names []string
		for _, q := range oauth.Presets() {
			names = append(names, q.Name)
		}
		return oauth.Preset{}, fieldErr("preset", "unknown preset %q; one of: %s", name, strings.Join(names, ", "))
	}
	return p, nil
}

// applyPreset sets p's endpoints, scopes and API origins from a preset.
func applyPreset(p *vault.OAuthProvider, pr oauth.Preset) {
	p.Preset = pr.Name
	p.AuthorizationURL = pr.AuthorizationURL
	p.TokenURL = pr.TokenURL
	p.UserinfoURL = pr.UserinfoURL
	p.RevocationURL = pr.RevocationURL
	p.Scopes = append([]string(nil), pr.Scopes...)
	p.APIOrigins = append([]string(nil), pr.APIOrigins...)
}

// checkProvider reports the fields a provider cannot do without and the
// destinations Plexus refuses to send a secret to; the vault checks the
// rest (name rules).
func checkProvider(p vault.OAuthProvider) error {
	hint := ""
	if p.Preset == "" {
		hint = " (or give a preset: GET /api/v1/oauth-presets)"
	}
	switch {
	case p.ClientID == "":
		return fieldErr("client_id", "client_id is required")
	case p.AuthorizationURL == "":
		return fieldErr("authorization_url", "authorization_url is required%s", hint)
	case p.TokenURL == "":
		return fieldErr("token_url", "token_url is required%s", hint)
	}
	for _, f := range []struct{ name, u string }{
		{"authorization_url", p.AuthorizationURL}, {"token_url", p.TokenURL},
		{"userinfo_url", p.UserinfoURL}, {"revocation_url", p.RevocationURL},
	} {
		if f.u == "" {
			continue
		}
		if err := egress.CheckURL(f.u); err != nil {
			return fieldErr(f.name, "%s: %v", f.name, err)
		}
	}
	switch {
	case len(p.APIOrigins) > 0:
		if _, err := egress.ParseOrigins(p.APIOrigins); err != nil {
			return fieldErr("api_origins", "api_origins: %v", err)
		}
	case p.UserinfoURL == "":
		return fieldErr("api_origins", "api_origins is required for a provider without a preset or userinfo_url: the origins "+
			`(https://host[:port]) of the API its access tokens are sent to, e.g. ["https://api.example.com"] `+
			"(CLI: --api-origins); Plexus sends the tokens nowhere else")
	}
	return nil
}

// destinationFields are the provider fields that say where its secrets go
// (vault.OAuthProvider.Binding covers them), named as the API names them,
// each with its value in a comparable form.
var destinationFields = []struct {
	name  string
	value func(vault.OAuthProvider) string
}{
	{"authorization_url", func(p vault.OAuthProvider) string { return p.AuthorizationURL }},
	{"token_url", func(p vault.OAuthProvider) string { return p.TokenURL }},
	{"revocation_url", func(p vault.OAuthProvider) string { return p.RevocationURL }},
	{"userinfo_url", func(p vault.OAuthProvider) string { return p.UserinfoURL }},
	{"client_id", func(p vault.OAuthProvider) string { return p.ClientID }},
	{"api_origins", canonicalOrigins},
}

// destinationChanges names the destination fields that differ between old
// and p.
func destinationChanges(old, p vault.OAuthProvider) []string {
	var out []string
	for _, f := range destinationFields {
		if f.value(old) != f.value(p) {
			out = append(out, f.name)
		}
	}
	return out
}

// canonicalOrigins is p's API origins as the vault stores them
// (canonical, sorted, no duplicates), one a line; a list that does not
// parse is kept as given (it then differs from any stored one).
func canonicalOrigins(p vault.OAuthProvider) string {
	if len(p.APIOrigins) == 0 {
		return ""
	}
	origins, err := egress.ParseOrigins(p.APIOrigins)
	if err != nil {
		return "invalid\n" + strings.Join(p.APIOrigins, "\n")
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		out = append(out, string(o))
	}
	return strings.Join(out, "\n")
}
