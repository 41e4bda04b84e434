package oauth

// Plexus as the OAuth client of an upstream MCP server that requires
// OAuth (issue 11, MCP authorization spec): the upstream's 401 names its
// protected resource metadata (RFC 9728), which names its authorization
// server, whose metadata (RFC 8414) gives the endpoints; Plexus registers
// itself there (RFC 7591) unless an administrator gave a client id. The
// result is an ordinary provider record (Preset MCPPreset) whose Resource
// is the upstream's resource indicator (RFC 8707, sent on authorize, token
// and refresh) and whose only API origin is the upstream's, so the consent
// page, the sealed per-user tokens and the refresh of this package serve
// it unchanged.
//
// Everything the upstream and the authorization server send is outside
// input: bodies are bounded, no request follows a redirect, every
// endpoint must be https (http only on loopback) on the issuer's own
// origin, the metadata must name the issuer it was asked for, and the
// protected resource metadata must live on the upstream's origin and
// describe the upstream.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// MCPPreset marks a provider record made by MCPProvider for an upstream
// MCP server (its Preset field).
const MCPPreset = "mcp"

// ErrDiscovery is wrapped by the errors of DiscoverMCP, RegisterMCPClient
// and MCPProvider when the upstream or its authorization server answered
// something Plexus cannot use or refuses to trust. The message says what,
// never a secret.
var ErrDiscovery = errors.New("mcp oauth discovery")

// Bounds on what discovery reads.
const (
	maxMetadataBody   = 64 << 10 // a metadata or registration document
	maxProbeBody      = 4 << 10  // what is read of the probe's answer
	maxChallengeLen   = 8 << 10  // WWW-Authenticate, all values together
	maxAuthServers    = 16
	maxSupportedItems = 256
	discoveryTimeout  = 20 * time.Second // each request
	setupTimeout      = 60 * time.Second // all of MCPProvider
)

// MCPAuthorization is what discovery found out about an upstream: its
// resource indicator and its authorization server's endpoints.
type MCPAuthorization struct {
	// Resource is the upstream's resource indicator (the protected
	// resource metadata's "resource"), sent as RFC 8707 resource.
	Resource string
	// Issuer is the authorization server's issuer identifier.
	Issuer           string
	AuthorizationURL string
	TokenURL         string
	RegistrationURL  string // "" when it offers no dynamic registration
	RevocationURL    string
	// Scopes are what the upstream asks for: the scope of its 401
	// challenge, else its metadata's scopes_supported (nil: none named).
	Scopes []string
	// AuthMethods are the token endpoint's client authentication
	// methods (token_endpoint_auth_methods_supported).
	AuthMethods []string
}

// MCPClient is how Plexus identifies itself to an upstream's
// authorization server: a client an administrator registered there
// (ClientID, and ClientSecret for a confidential client), or, with
// ClientID "", a client Plexus registers itself (RFC 7591). Scopes, when
// not nil, replace the scopes the upstream asks for.
type MCPClient struct {
	ClientID     string
	ClientSecret string
	Scopes       []string
}

func discoveryErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDiscovery, fmt.Sprintf(format, args...))
}

// MCPProvider discovers how the upstream MCP server at resourceURL
// authorizes (DiscoverMCP), registers Plexus with its authorization
// server when c has no client id (reusing prev's registered client when
// prev is this provider's earlier record for the same endpoints), and
// returns the provider record to store for tenantID as name: Preset
// MCPPreset, the discovered endpoints, Resource, and the upstream's
// origin as its only API origin. It stores nothing.
func (m *Manager) MCPProvider(ctx context.Context, tenantID, name, resourceURL string, c MCPClient, prev *vault.OAuthProvider) (vault.OAuthProvider, error) {
	if m.baseURL == "" {
		return vault.OAuthProvider{}, fmt.Errorf("oauth: no base url configured for redirect uris: %w", vault.ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	auth, err := m.DiscoverMCP(ctx, resourceURL)
	if err != nil {
		return vault.OAuthProvider{}, err
	}
	origin, err := egress.OriginOfURL(resourceURL)
	if err != nil {
		return vault.OAuthProvider{}, discoveryErr("upstream url: %v", err)
	}
	p := vault.OAuthProvider{
		TenantID:         tenantID,
		Name:             name,
		Preset:           MCPPreset,
		ClientID:         c.ClientID,
		ClientSecret:     c.ClientSecret,
		AuthorizationURL: auth.AuthorizationURL,
		TokenURL:         auth.TokenURL,
		RevocationURL:    auth.RevocationURL,
		Scopes:           auth.Scopes,
		Resource:         auth.Resource,
		APIOrigins:       []string{string(origin)},
	}
	if c.Scopes != nil {
		p.Scopes = slices.Clone(c.Scopes)
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if p.ClientID != "" {
		return p, nil
	}
	if prev != nil && prev.Preset == MCPPreset && prev.ClientID != "" && prev.AuthorizationURL == p.AuthorizationURL &&
		prev.TokenURL == p.TokenURL && prev.RevocationURL == p.RevocationURL {
		p.ClientID, p.ClientSecret = prev.ClientID, prev.ClientSecret
		return p, nil
	}
	p.ClientID, p.ClientSecret, err = m.RegisterMCPClient(ctx, auth, m.RedirectURL(tenantID, name))
	return p, err
}

// DiscoverMCP asks the upstream MCP server at resourceURL, without a
// token, for an initialize; it must answer 401. The challenge's
// resource_metadata (RFC 9728 §5.1; it must be on the upstream's origin)
// or else the well-known URLs on that origin give the protected resource
// metadata, which must describe resourceURL; its first authorization
// server's metadata (RFC 8414, or OpenID Connect discovery) must name
// that issuer, offer PKCE S256, and keep every endpoint on the issuer's
// origin. Errors wrap ErrDiscovery.
func (m *Manager) DiscoverMCP(ctx context.Context, resourceURL string) (MCPAuthorization, error) {
	var auth MCPAuthorization
	if err := egress.CheckURL(resourceURL); err != nil {
		return auth, discoveryErr("upstream url: %v", err)
	}
	res, _ := url.Parse(resourceURL) // CheckURL parsed it
	params, err := m.probe(ctx, resourceURL)
	if err != nil {
		return auth, err
	}
	auth.Scopes = splitScopes(params["scope"])

	var prm protectedResource
	if advertised := params["resource_metadata"]; advertised != "" {
		u, err := url.Parse(advertised)
		if err != nil || !u.IsAbs() || egress.OriginOf(u) != egress.OriginOf(res) {
			return auth, discoveryErr("the upstream's 401 names resource metadata on another origin than its own (%s); refused", egress.OriginOf(res))
		}
		if prm, err = m.fetchPRM(ctx, advertised); err != nil {
			return auth, err
		}
	} else {
		var firstErr error
		for _, u := range wellKnownURLs(res, "oauth-protected-resource") {
			prm, err = m.fetchPRM(ctx, u)
			if err == nil {
				break
			}
			firstErr = cmpOr(firstErr, err)
		}
		if err != nil {
			return auth, firstErr
		}
	}
	if !resourceBinds(prm.Resource, res) {
		return auth, discoveryErr("the upstream's resource metadata describes another resource than %s; refused", redactURL(resourceURL))
	}
	auth.Resource = prm.Resource
	if auth.Scopes == nil && len(prm.ScopesSupported) > 0 {
		auth.Scopes = prm.ScopesSupported
	}
	if len(prm.AuthorizationServers) == 0 {
		return auth, discoveryErr("the upstream's resource metadata names no authorization server")
	}
	issuer := prm.AuthorizationServers[0]
	if err := egress.CheckURL(issuer); err != nil {
		return auth, discoveryErr("authorization server: %v", err)
	}
	if iu, _ := url.Parse(issuer); iu.RawQuery != "" || iu.ForceQuery {
		return auth, discoveryErr("authorization server: an issuer has no query")
	}
	as, err := m.fetchASMetadata(ctx, issuer)
	if err != nil {
		return auth, err
	}
	if err := as.check(issuer); err != nil {
		return auth, err
	}
	auth.Issuer = issuer
	auth.AuthorizationURL = as.AuthorizationEndpoint
	auth.TokenURL = as.TokenEndpoint
	auth.RegistrationURL = as.RegistrationEndpoint
	auth.RevocationURL = as.RevocationEndpoint
	auth.AuthMethods = as.TokenEndpointAuthMethods
	return auth, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// probe sends an initialize without a token and returns the Bearer
// challenge's parameters of the 401 it must get.
func (m *Manager) probe(ctx context.Context, resourceURL string) (map[string]string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"plexus","version":"discovery"}}}`
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resourceURL, strings.NewReader(body))
	if err != nil {
		return nil, discoveryErr("upstream url: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := m.tokens.Do(req)
	if err != nil {
		return nil, discoveryErr("ask the upstream: %v", redactErr(err))
	}
	defer drain(resp)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, discoveryErr("the upstream answered %d, not 401, to a request without a token: it does not ask for OAuth here", resp.StatusCode)
	}
	params, ok := bearerChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		params = map[string]string{} // no challenge: the well-known URLs
	}
	return params, nil
}

// protectedResource is RFC 9728 protected resource metadata.
type protectedResource struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported"`
}

func (m *Manager) fetchPRM(ctx context.Context, u string) (protectedResource, error) {
	var prm protectedResource
	if err := m.getJSON(ctx, u, "resource metadata", &prm); err != nil {
		return prm, err
	}
	if prm.Resource == "" {
		return prm, discoveryErr("the upstream's resource metadata has no resource")
	}
	if len(prm.AuthorizationServers) > maxAuthServers || len(prm.ScopesSupported) > maxSupportedItems {
		return prm, discoveryErr("the upstream's resource metadata lists too many authorization servers or scopes")
	}
	return prm, nil
}

// asMetadata is RFC 8414 authorization server metadata (the fields used).
type asMetadata struct {
	Issuer                   string   `json:"issuer"`
	AuthorizationEndpoint    string   `json:"authorization_endpoint"`
	TokenEndpoint            string   `json:"token_endpoint"`
	RegistrationEndpoint     string   `json:"registration_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	ResponseTypes            []string `json:"response_types_supported"`
	CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// fetchASMetadata tries the RFC 8414 and OpenID Connect well-known URLs of
// issuer in order; the first that answers 200 counts.
func (m *Manager) fetchASMetadata(ctx context.Context, issuer string) (asMetadata, error) {
	iu, _ := url.Parse(issuer)
	for _, u := range asMetadataURLs(iu) {
		var as asMetadata
		err := m.getJSON(ctx, u, "authorization server metadata", &as)
		if err == nil {
			return as, nil
		}
		if !errors.Is(err, errNotThere) {
			return as, err
		}
	}
	return asMetadata{}, discoveryErr("the authorization server publishes no metadata (RFC 8414 or OpenID Connect discovery)")
}

// check holds the metadata to what Plexus trusts.
func (as asMetadata) check(issuer string) error {
	if strings.TrimSuffix(as.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		return discoveryErr("the authorization server's metadata names another issuer than the one asked for (RFC 8414 §3.3); refused")
	}
	iu, _ := url.Parse(issuer)
	origin := egress.OriginOf(iu)
	for _, e := range []struct {
		field, val string
		required   bool
	}{
		{"authorization_endpoint", as.AuthorizationEndpoint, true},
		{"token_endpoint", as.TokenEndpoint, true},
		{"registration_endpoint", as.RegistrationEndpoint, false},
		{"revocation_endpoint", as.RevocationEndpoint, false},
	} {
		if e.val == "" {
			if e.required {
				return discoveryErr("the authorization server's metadata has no %s", e.field)
			}
			continue
		}
		if err := egress.CheckURL(e.val); err != nil {
			return discoveryErr("the authorization server's %s: %v", e.field, err)
		}
		if o, _ := egress.OriginOfURL(e.val); o != origin {
			return discoveryErr("the authorization server's %s is on another origin than its issuer %s; refused", e.field, origin)
		}
	}
	if !slices.Contains(as.CodeChallengeMethods, "S256") {
		return discoveryErr("the authorization server does not offer PKCE with S256 (code_challenge_methods_supported); Plexus always uses it")
	}
	if len(as.ResponseTypes) > 0 && !slices.Contains(as.ResponseTypes, "code") {
		return discoveryErr("the authorization server does not offer the authorization code flow")
	}
	if len(as.TokenEndpointAuthMethods) > maxSupportedItems || len(as.CodeChallengeMethods) > maxSupportedItems || len(as.ResponseTypes) > maxSupportedItems {
		return discoveryErr("the authorization server's metadata lists too many methods")
	}
	return nil
}

// errNotThere: a well-known URL answered 404 (or another 4xx); the next
// one is tried.
var errNotThere = errors.New("no document there")

// getJSON GETs a metadata document: 200 with a JSON body of at most
// maxMetadataBody bytes, never following a redirect.
func (m *Manager) getJSON(ctx context.Context, u, what string, dst any) error {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return discoveryErr("%s url: %v", what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.tokens.Do(req)
	if err != nil {
		return discoveryErr("fetch the %s: %v", what, redactErr(err))
	}
	defer drain(resp)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return fmt.Errorf("%w: %s answered %d: %w", ErrDiscovery, what, resp.StatusCode, errNotThere)
	}
	if resp.StatusCode != http.StatusOK {
		return discoveryErr("the %s answered %d", what, resp.StatusCode)
	}
	return decodeBounded(resp, what, dst)
}

// decodeBounded decodes a JSON body of at most maxMetadataBody bytes.
func decodeBounded(resp *http.Response, what string, dst any) error {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return discoveryErr("the %s is not JSON", what)
		}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody+1))
	if err != nil {
		return discoveryErr("read the %s: %v", what, err)
	}
	if len(raw) > maxMetadataBody {
		return discoveryErr("the %s is larger than %d KiB; refused", what, maxMetadataBody>>10)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return discoveryErr("the %s is not valid JSON", what)
	}
	return nil
}

// RegisterMCPClient registers Plexus at auth's registration endpoint (RFC
// 7591) with redirectURI, as a public client when the token endpoint
// allows one ("none"), and returns the client id and secret ("" for a
// public client). Errors wrap ErrDiscovery.
func (m *Manager) RegisterMCPClient(ctx context.Context, auth MCPAuthorization, redirectURI string) (clientID, clientSecret string, err error) {
	if auth.RegistrationURL == "" {
		return "", "", discoveryErr("the authorization server offers no dynamic client registration: register Plexus there yourself "+
			"(redirect uri %s) and give its client id", redirectURI)
	}
	method := "client_secret_basic"
	if slices.Contains(auth.AuthMethods, "none") {
		method = "none"
	}
	reqBody, err := json.Marshal(map[string]any{
		"client_name":                "Plexus",
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": method,
	})
	if err != nil {
		return "", "", fmt.Errorf("encode registration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, auth.RegistrationURL, bytes.NewReader(reqBody))
	if err != nil {
		return "", "", discoveryErr("registration endpoint: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := m.tokens.Do(req) // never follows a redirect: the answer carries a client secret
	if err != nil {
		return "", "", discoveryErr("register at the authorization server: %v", redactErr(err))
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = decodeBounded(resp, "registration answer", &e)
		return "", "", discoveryErr("the authorization server refused the registration (status %d, error %q)", resp.StatusCode, clip(printableText(e.Error), maxErrorLen))
	}
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := decodeBounded(resp, "registration answer", &reg); err != nil {
		return "", "", err
	}
	switch {
	case reg.ClientID == "":
		return "", "", discoveryErr("the authorization server's registration answer has no client_id")
	case len(reg.ClientID) > 512 || !printable(reg.ClientID):
		return "", "", discoveryErr("the authorization server's client_id is not printable text of at most 512 bytes")
	case len(reg.ClientSecret) > 4096 || !printable(reg.ClientSecret):
		return "", "", discoveryErr("the authorization server's client_secret is not printable text of at most 4096 bytes")
	}
	return reg.ClientID, reg.ClientSecret, nil
}

// wellKnownURLs are RFC 9728 §3.1's (and RFC 8414 §3.1's) locations for
// a resource or issuer u: the well-known segment between the host and
// u's path, then at the root.
func wellKnownURLs(u *url.URL, suffix string) []string {
	base := url.URL{Scheme: u.Scheme, Host: u.Host}
	var out []string
	if p := strings.TrimSuffix(u.EscapedPath(), "/"); p != "" {
		base.Path = "/.well-known/" + suffix + u.Path
		base.RawPath = ""
		out = append(out, strings.TrimSuffix(base.String(), "/"))
	}
	base.Path = "/.well-known/" + suffix
	return append(out, base.String())
}

// asMetadataURLs lists where an issuer's metadata may be: RFC 8414's
// path-inserted URL, then OpenID Connect discovery's (inserted, then
// appended) for an issuer with a path; the two root URLs otherwise.
func asMetadataURLs(iu *url.URL) []string {
	base := url.URL{Scheme: iu.Scheme, Host: iu.Host}
	p := strings.Trim(iu.Path, "/")
	if p == "" {
		a, b := base, base
		a.Path, b.Path = "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"
		return []string{a.String(), b.String()}
	}
	a, b, c := base, base, base
	a.Path = "/.well-known/oauth-authorization-server/" + p
	b.Path = "/.well-known/openid-configuration/" + p
	c.Path = "/" + p + "/.well-known/openid-configuration"
	return []string{a.String(), b.String(), c.String()}
}

// resourceBinds reports whether the resource named by metadata describes
// the upstream at u: same scheme and host (case-insensitive) and port, no
// query or fragment, and a path that is u's or a parent of it at a
// segment boundary (a server at https://host/mcp may name https://host
// as its resource); one trailing slash does not count.
func resourceBinds(resource string, u *url.URL) bool {
	r, err := url.Parse(resource)
	if err != nil || !r.IsAbs() || r.Host == "" || (r.Scheme != "https" && r.Scheme != "http") || r.User != nil || r.RawQuery != "" || r.Fragment != "" || len(resource) > egress.MaxURLLen {
		return false
	}
	if egress.OriginOf(r) != egress.OriginOf(u) {
		return false
	}
	rp, up := strings.TrimSuffix(r.EscapedPath(), "/"), strings.TrimSuffix(u.EscapedPath(), "/")
	return rp == up || strings.HasPrefix(up, rp+"/")
}

// splitScopes splits a space-separated scope list (nil when empty).
func splitScopes(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	if len(f) > maxSupportedItems {
		f = f[:maxSupportedItems]
	}
	return f
}

// bearerChallenge parses WWW-Authenticate values (RFC 9110 §11.6.1) and
// returns the auth-params of the first Bearer challenge, names
// lower-cased. Garbage ends the parse of that value; nothing panics.
func bearerChallenge(values []string) (map[string]string, bool) {
	total := 0
	for _, v := range values {
		total += len(v)
		if total > maxChallengeLen {
			return nil, false
		}
		for _, ch := range parseChallenges(v) {
			if strings.EqualFold(ch.scheme, "Bearer") {
				return ch.params, true
			}
		}
	}
	return nil, false
}

type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads `scheme [token68 | k=v *(, k=v)] *(, challenge)`.
// It stops at anything else; every step consumes input, so it ends.
func parseChallenges(s string) []challenge {
	var out []challenge
	i := 0
	skipSep := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		return s[start:i]
	}
	for len(out) < 16 {
		skipSep()
		scheme := token()
		if scheme == "" {
			return out
		}
		ch := challenge{scheme: scheme, params: map[string]string{}}
		first := true
		for {
			skipSep()
			if i >= len(s) {
				break
			}
			save := i
			name := token()
			if name == "" {
				return append(out, ch) // garbage
			}
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j >= len(s) || s[j] != '=' {
				if first && (j >= len(s) || s[j] == ',') {
					i, first = j, false // a token68
					continue
				}
				i = save // the next challenge's scheme
				break
			}
			first = false
			i = j + 1
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			var val string
			if i < len(s) && s[i] == '"' {
				i++
				var b strings.Builder
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
					i++
				}
				if i >= len(s) {
					return append(out, ch) // unterminated
				}
				i++
				val = b.String()
			} else {
				// A token by the grammar; servers also send bare URLs.
				start := i
				for i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
					i++
				}
				val = s[start:i]
			}
			if k := strings.ToLower(name); ch.params[k] == "" {
				ch.params[k] = val
			}
		}
		out = append(out, ch)
		if i >= len(s) {
			return out
		}
	}
	return out
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}
