// This file holds the external OAuth provider endpoints
// (/api/v1/tenants/{id}/ext-oauth…) and the presets list.

package adminapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Limits on scopes accepted in a request.
const (
	maxScopes     = 100
	maxScopeBytes = 256
)

// Scopes is a list of OAuth scopes. In a request it may be a JSON array
// of strings or one space-separated string ("read:user repo", as the seed
// CLI sends); each array element is split on spaces too. Empty entries are
// dropped.
type Scopes []string

// UnmarshalJSON accepts an array of strings or a space-separated string.
func (s *Scopes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var raw []string
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		raw = []string{one}
	} else if err := json.Unmarshal(b, &raw); err != nil {
		return &fieldError{field: "scopes", msg: "must be an array of strings or a space-separated string"}
	}
	out := Scopes{}
	for _, r := range raw {
		for _, sc := range strings.Fields(r) {
			if len(sc) > maxScopeBytes {
				return &fieldError{field: "scopes", msg: fmt.Sprintf("a scope is longer than %d bytes", maxScopeBytes)}
			}
			if strings.IndexFunc(sc, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '"' || r == '\\' }) >= 0 {
				return &fieldError{field: "scopes", msg: "a scope contains a control character, quote or backslash"}
			}
			out = append(out, sc)
		}
	}
	if len(out) > maxScopes {
		return &fieldError{field: "scopes", msg: fmt.Sprintf("more than %d scopes", maxScopes)}
	}
	*s = out
	return nil
}

// fieldError is a request field whose value a custom decoder refused.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return fmt.Sprintf("field %q %s", e.field, e.msg) }

// ProviderRequest is the body of POST /api/v1/tenants/{id}/ext-oauth. With
// Preset set (see GET /api/v1/oauth-presets) the URLs and default scopes
// come from the preset, the provider name defaults to the preset's, and
// only ClientID and ClientSecret are needed; explicit fields override the
// preset.
type ProviderRequest struct {
	ProviderName     string `json:"provider_name,omitempty"`
	Preset           string `json:"preset,omitempty"`
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	AuthorizationURL string `json:"authorization_url,omitempty"`
	TokenURL         string `json:"token_url,omitempty"`
	UserinfoURL      string `json:"userinfo_url,omitempty"`
	RevocationURL    string `json:"revocation_url,omitempty"`
	Resource         string `json:"resource,omitempty"`
	Scopes           Scopes `json:"scopes,omitempty"`
	// APIOrigins are the origins (https://host[:port]) the provider's
	// access tokens may be sent to. A preset brings its own; a custom
	// provider without them gets its userinfo URL's origin, and without a
	// userinfo URL must name them.
	APIOrigins []string `json:"api_origins,omitempty"`
}

// ProviderPatch is the body of PATCH /api/v1/tenants/{id}/ext-oauth/{p}:
// only the fields present change. A preset given here re-applies its URLs,
// scopes and API origins before the other fields present; "preset":"" only
// clears the label.
//
// Where a secret goes is part of the secret: a change of
// authorization_url, token_url, revocation_url, userinfo_url, client_id or
// api_origins needs client_secret in the same request (400 naming the
// field otherwise) and drops every user's connection to the provider (the
// answer's connections_dropped; they consent again). Otherwise an omitted
// client_secret keeps the stored one.
type ProviderPatch struct {
	Preset           *string   `json:"preset,omitempty"`
	ClientID         *string   `json:"client_id,omitempty"`
	ClientSecret     *string   `json:"client_secret,omitempty"`
	AuthorizationURL *string   `json:"authorization_url,omitempty"`
	TokenURL         *string   `json:"token_url,omitempty"`
	UserinfoURL      *string   `json:"userinfo_url,omitempty"`
	RevocationURL    *string   `json:"revocation_url,omitempty"`
	Resource         *string   `json:"resource,omitempty"`
	Scopes           *Scopes   `json:"scopes,omitempty"`
	APIOrigins       *[]string `json:"api_origins,omitempty"`
}

// ProviderUpdate is the answer of PATCH /api/v1/tenants/{id}/ext-oauth/{p}.
type ProviderUpdate struct {
	Provider Provider `json:"provider"`
	// ConnectionsDropped counts the users' (and guests') connections to
	// the provider that the change dropped (a destination changed).
	ConnectionsDropped int    `json:"connections_dropped"`
	Message            string `json:"message,omitempty"`
}

// Provider is an external OAuth provider as the admin API shows it: never
// with its client secret, only whether one is set.
type Provider struct {
	TenantID         string   `json:"entity_id"`
	Name             string   `json:"provider_name"`
	Preset           string   `json:"preset,omitempty"`
	ClientID         string   `json:"client_id"`
	ClientSecretSet  bool     `json:"client_secret_set"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	UserinfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	Scopes           []string `json:"scopes"`
	Resource         string   `json:"resource,omitempty"`
	// APIOrigins are where the provider's access tokens may be sent.
	APIOrigins []string `json:"api_origins"`
	// RedirectURL is the callback URL to register with the provider
	// (when the daemon supplies Options.RedirectURL).
	RedirectURL string    `json:"redirect_url,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// view is providerView with the redirect URL filled in.
func (a *api) view(p vault.OAuthProvider, secretSet bool) Provider {
	v := providerView(p, secretSet)
	if a.opts.RedirectURL != nil {
		v.RedirectURL = a.opts.RedirectURL(p.TenantID, p.Name)
	}
	return v
}

func providerView(p vault.OAuthProvider, secretSet bool) Provider {
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	origins := p.APIOrigins
	if origins == nil {
		origins = []string{}
	}
	return Provider{
		TenantID:         p.TenantID,
		Name:             p.Name,
		Preset:           p.Preset,
		ClientID:         p.ClientID,
		ClientSecretSet:  secretSet,
		AuthorizationURL: p.AuthorizationURL,
		TokenURL:         p.TokenURL,
		UserinfoURL:      p.UserinfoURL,
		RevocationURL:    p.RevocationURL,
		Scopes:           scopes,
		Resource:         p.Resource,
		APIOrigins:       origins,
		CreatedAt:        p.CreatedAt,
		UpdatedAt:        p.UpdatedAt,
	}
}

type providerBody struct {
	Provider Provider `json:"provider"`
}

// lookupPreset finds a preset or explains which exist.
func lookupPreset(name string) (oauth.Preset, error) {
	p, ok := oauth.LookupPreset(name)
	if !ok {
		var names []string
		for _, q := range oauth.Presets() {
			names = append(names, q.Name)
		}
		return oauth.Preset{}, badRequest("unknown preset %q; one of: %s", name, strings.Join(names, ", "))
	}
	return p, nil
}

// applyPreset sets p's endpoints and scopes from a preset.
func applyPreset(p *vault.OAuthProvider, pr oauth.Preset) {
	p.Preset = pr.Name
	p.AuthorizationURL = pr.AuthorizationURL
	p.TokenURL = pr.TokenURL
	p.UserinfoURL = pr.UserinfoURL
	p.RevocationURL = pr.RevocationURL
	p.Scopes = append([]string(nil), pr.Scopes...)
	p.APIOrigins = append([]string(nil), pr.APIOrigins...)
}

// checkProvider reports the fields a provider cannot do without; the vault
// checks the rest (name rules, URL schemes).
func checkProvider(p vault.OAuthProvider) error {
	hint := ""
	if p.Preset == "" {
		hint = " (or give a preset: GET /api/v1/oauth-presets)"
	}
	switch {
	case p.ClientID == "":
		return badRequest("client_id is required")
	case p.AuthorizationURL == "":
		return badRequest("authorization_url is required%s", hint)
	case p.TokenURL == "":
		return badRequest("token_url is required%s", hint)
	}
	for _, f := range []struct{ name, u string }{
		{"authorization_url", p.AuthorizationURL}, {"token_url", p.TokenURL},
		{"userinfo_url", p.UserinfoURL}, {"revocation_url", p.RevocationURL},
	} {
		if f.u == "" {
			continue
		}
		if err := egress.CheckURL(f.u); err != nil {
			return badRequest("%s: %v", f.name, err)
		}
	}
	switch {
	case len(p.APIOrigins) > 0:
		if _, err := egress.ParseOrigins(p.APIOrigins); err != nil {
			return badRequest("api_origins: %v", err)
		}
	case p.UserinfoURL == "":
		return badRequest("api_origins is required for a provider without a preset or userinfo_url: the origins " +
			`(https://host[:port]) of the API its access tokens are sent to, e.g. ["https://api.example.com"] ` +
			"(CLI: --api-origins); Plexus sends the tokens nowhere else")
	}
	return nil
}

// destinationFields are the request fields that say where a provider's
// secrets go (vault.OAuthProvider.Binding covers them).
func destinationChanges(old, p vault.OAuthProvider) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{"authorization_url", old.AuthorizationURL, p.AuthorizationURL},
		{"token_url", old.TokenURL, p.TokenURL},
		{"revocation_url", old.RevocationURL, p.RevocationURL},
		{"userinfo_url", old.UserinfoURL, p.UserinfoURL},
		{"client_id", old.ClientID, p.ClientID},
	} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	if !sameOrigins(old.APIOrigins, p.APIOrigins) {
		out = append(out, "api_origins")
	}
	return out
}

// sameOrigins compares origin lists as the vault stores them (canonical,
// sorted, no duplicates).
func sameOrigins(a, b []string) bool {
	ca, errA := canonicalOrigins(a)
	cb, errB := canonicalOrigins(b)
	if errA != nil || errB != nil {
		return false
	}
	return slices.Equal(ca, cb)
}

func canonicalOrigins(in []string) ([]egress.Origin, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return egress.ParseOrigins(in)
}

func (a *api) listPresets(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"presets": oauth.Presets()})
	return nil
}

func (a *api) listProviders(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ps, err := a.store.ListOAuthProviders(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("list oauth providers of %s: %w", t.ID, err)
	}
	out := make([]Provider, 0, len(ps))
	for _, p := range ps {
		// The list carries no secrets; ask for each whether one is set.
		full, err := a.store.GetOAuthProvider(ctx, t.ID, p.Name)
		if err != nil {
			return fmt.Errorf("oauth provider %q of %s: %w", p.Name, t.ID, err)
		}
		out = append(out, a.view(p, full.ClientSecret != ""))
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
	return nil
}

func (a *api) createProvider(w http.ResponseWriter, r *http.Request) error {
	var req ProviderRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	p := vault.OAuthProvider{}
	if req.Preset != "" {
		pr, err := lookupPreset(req.Preset)
		if err != nil {
			return err
		}
		applyPreset(&p, pr)
		if req.ProviderName == "" {
			req.ProviderName = pr.Name
		}
	}
	if req.ProviderName == "" {
		return badRequest("provider_name is required")
	}
	if req.ClientSecret == "" {
		return badRequest("client_secret is required")
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
		p.Scopes = req.Scopes
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if len(req.APIOrigins) > 0 {
		p.APIOrigins = req.APIOrigins
	}
	if err := checkProvider(p); err != nil {
		return err
	}
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	p.TenantID = t.ID
	created, err := a.store.CreateOAuthProvider(r.Context(), p)
	if err != nil {
		return fmt.Errorf("create oauth provider in %s: %w", t.ID, err)
	}
	w.Header().Set("Location", tenantAPIPath(t.ID)+"/ext-oauth/"+url.PathEscape(created.Name))
	writeJSON(w, http.StatusCreated, providerBody{a.view(created, true)})
	return nil
}

// override sets *dst to v unless v is empty.
func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func (a *api) getProvider(w http.ResponseWriter, r *http.Request) error {
	p, err := a.provider(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, providerBody{a.view(p, p.ClientSecret != "")})
	return nil
}

func (a *api) updateProvider(w http.ResponseWriter, r *http.Request) error {
	var req ProviderPatch
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	p, err := a.provider(r)
	if err != nil {
		return err
	}
	old := p
	secretSet := p.ClientSecret != ""
	p.ClientSecret = "" // keep the stored one unless the patch has a new one
	if req.Preset != nil {
		if *req.Preset == "" {
			p.Preset = ""
		} else {
			pr, err := lookupPreset(*req.Preset)
			if err != nil {
				return err
			}
			applyPreset(&p, pr)
		}
	}
	if req.ClientSecret != nil {
		if *req.ClientSecret == "" {
			return badRequest("client_secret must not be empty (omit it to keep the current one)")
		}
		p.ClientSecret = *req.ClientSecret
		secretSet = true
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.ClientID, req.ClientID)
	set(&p.AuthorizationURL, req.AuthorizationURL)
	set(&p.TokenURL, req.TokenURL)
	set(&p.UserinfoURL, req.UserinfoURL)
	set(&p.RevocationURL, req.RevocationURL)
	set(&p.Resource, req.Resource)
	if req.Scopes != nil {
		p.Scopes = *req.Scopes
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if req.APIOrigins != nil {
		p.APIOrigins = *req.APIOrigins
	}
	if err := checkProvider(p); err != nil {
		return err
	}
	changed := destinationChanges(old, p)
	if len(changed) > 0 && req.ClientSecret == nil && old.ClientSecret != "" {
		return badRequest("client_secret is required when %s changes: where a secret goes is part of the secret, so give the "+
			"client secret again in the same request (CLI: --client-secret -). The change disconnects every user of this "+
			"provider; they consent again", strings.Join(changed, ", "))
	}
	updated, dropped, err := a.store.UpdateOAuthProvider(r.Context(), p)
	if err != nil {
		return fmt.Errorf("update oauth provider %q of %s: %w", p.Name, p.TenantID, err)
	}
	out := ProviderUpdate{Provider: a.view(updated, secretSet), ConnectionsDropped: dropped}
	if len(changed) > 0 {
		out.Message = fmt.Sprintf("%s changed: %d connection(s) to %s were dropped; those users consent again on their next use.",
			strings.Join(changed, ", "), dropped, p.Name)
		a.log.InfoContext(r.Context(), "OAuth provider destination changed; connections dropped",
			"tenant", p.TenantID, "provider", p.Name, "fields", changed, "dropped", dropped)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) deleteProvider(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	name := r.PathValue("provider")
	if err := a.store.DeleteOAuthProvider(r.Context(), t.ID, name); err != nil {
		return fmt.Errorf("delete oauth provider %q of %s: %w", name, t.ID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// provider loads the provider named by the {id} and {provider} path
// values, with its client secret (which must never leave this package).
func (a *api) provider(r *http.Request) (vault.OAuthProvider, error) {
	t, err := a.tenant(r)
	if err != nil {
		return vault.OAuthProvider{}, err
	}
	name := r.PathValue("provider")
	p, err := a.store.GetOAuthProvider(r.Context(), t.ID, name)
	if err != nil {
		return vault.OAuthProvider{}, fmt.Errorf("oauth provider %q of %s: %w", name, t.ID, err)
	}
	return p, nil
}

func tenantAPIPath(id string) string { return "/api/v1/tenants/" + url.PathEscape(id) }

// printable reports whether s has no control characters.
func printable(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) < 0
}
