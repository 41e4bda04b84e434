package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// protectedMCP is an upstream MCP server's OAuth side, for discovery
// tests: /mcp answers 401 with a Bearer challenge, and it serves its
// protected resource metadata; knobs make it hostile.
type protectedMCP struct {
	*httptest.Server
	mu        sync.Mutex
	challenge string            // WWW-Authenticate of the 401 ("" none)
	status    int               // /mcp's status (default 401)
	prm       map[string]any    // the metadata document
	prmRaw    []byte            // served instead of prm when set
	prmPaths  map[string]bool   // where the metadata is served
	redirects map[string]string // path -> Location (302)
}

func newProtectedMCP(t *testing.T, as *oauthtest.Provider) *protectedMCP {
	t.Helper()
	pm := &protectedMCP{status: http.StatusUnauthorized}
	pm.Server = httptest.NewServer(http.HandlerFunc(pm.serve))
	t.Cleanup(pm.Close)
	pm.challenge = `Bearer error="invalid_token", resource_metadata="` + pm.URL + `/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"`
	pm.prm = map[string]any{"resource": pm.URL + "/mcp", "authorization_servers": []string{as.URL}, "scopes_supported": []string{"files:read"}}
	pm.prmPaths = map[string]bool{"/.well-known/oauth-protected-resource/mcp": true}
	return pm
}

func (pm *protectedMCP) edit(f func(pm *protectedMCP)) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	f(pm)
}

func (pm *protectedMCP) serve(w http.ResponseWriter, r *http.Request) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if loc, ok := pm.redirects[r.URL.Path]; ok {
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		return
	}
	switch {
	case r.URL.Path == "/mcp":
		if pm.challenge != "" {
			w.Header().Set("WWW-Authenticate", pm.challenge)
		}
		w.WriteHeader(pm.status)
	case pm.prmPaths[r.URL.Path]:
		w.Header().Set("Content-Type", "application/json")
		if pm.prmRaw != nil {
			_, _ = w.Write(pm.prmRaw)
			return
		}
		_ = json.NewEncoder(w).Encode(pm.prm)
	default:
		http.NotFound(w, r)
	}
}

func discoveryManager() *Manager {
	return NewManager(newMemStore(), WithBaseURL("http://127.0.0.1:8765"))
}

// TestMCPProviderDiscovery (issue 11 line 3): from the upstream's 401,
// Plexus finds the authorization server (RFC 9728, RFC 8414), registers
// itself (RFC 7591) with its redirect uri, and builds a provider record
// bound to the upstream: resource (RFC 8707), scopes from the challenge,
// the upstream's origin as the only API origin. A configured client id
// skips registration; an earlier registration for the same endpoints is
// reused.
func TestMCPProviderDiscovery(t *testing.T) {
	as := oauthtest.New(t)
	pm := newProtectedMCP(t, as)
	m := discoveryManager()
	ctx := t.Context()
	p, err := m.MCPProvider(ctx, "acme", "files", pm.URL+"/mcp", MCPClient{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := vault.OAuthProvider{
		TenantID: "acme", Name: "files", Preset: MCPPreset, ClientID: as.ClientID, ClientSecret: as.ClientSecret,
		AuthorizationURL: as.AuthorizationURL(), TokenURL: as.TokenURL(), RevocationURL: as.RevocationURL(),
		Scopes: []string{"files:read", "files:write"}, Resource: pm.URL + "/mcp", APIOrigins: []string{pm.URL},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("provider\n got %+v\nwant %+v", p, want)
	}
	regs := as.Registrations()
	if len(regs) != 1 || !reflect.DeepEqual(regs[0].RedirectURIs, []string{m.RedirectURL("acme", "files")}) ||
		!reflect.DeepEqual(regs[0].GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Fatalf("registrations %+v", regs)
	}
	// Again with the earlier record: no second registration.
	if _, err := m.MCPProvider(ctx, "acme", "files", pm.URL+"/mcp", MCPClient{}, &p); err != nil || len(as.Registrations()) != 1 {
		t.Fatalf("re-discovery registered again (%d) or failed: %v", len(as.Registrations()), err)
	}
	// A configured client and scopes: used as given, nothing registered.
	p2, err := m.MCPProvider(ctx, "acme", "files", pm.URL+"/mcp", MCPClient{ClientID: "mine", ClientSecret: "s", Scopes: []string{"x"}}, nil)
	if err != nil || p2.ClientID != "mine" || p2.ClientSecret != "s" || !reflect.DeepEqual(p2.Scopes, []string{"x"}) || len(as.Registrations()) != 1 {
		t.Fatalf("configured client: %+v %v", p2, err)
	}
	// A public client when the token endpoint allows one.
	as.EditMetadata(func(md map[string]any) { md["token_endpoint_auth_methods_supported"] = []string{"none"} })
	as.EditRegistration(func(a map[string]any) { delete(a, "client_secret") })
	p3, err := m.MCPProvider(ctx, "acme", "other", pm.URL+"/mcp", MCPClient{}, nil)
	regs = as.Registrations()
	if err != nil || p3.ClientSecret != "" || regs[len(regs)-1].AuthMethod != "none" {
		t.Fatalf("public client: %+v %v %+v", p3, err, regs)
	}
	// The stored record is valid as the vault sees it.
	v := vaulttest.New(t)
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, p); err != nil {
		t.Fatalf("vault refuses the discovered provider: %v", err)
	}
}

// TestMCPDiscoveryWellKnown: without resource_metadata in the challenge,
// the well-known URLs on the upstream's origin are asked (path-inserted
// first, then the root).
func TestMCPDiscoveryWellKnown(t *testing.T) {
	as := oauthtest.New(t)
	pm := newProtectedMCP(t, as)
	m := discoveryManager()
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		pm.edit(func(pm *protectedMCP) {
			pm.challenge = `Bearer realm="mcp"`
			pm.prmPaths = map[string]bool{path: true}
		})
		auth, err := m.DiscoverMCP(t.Context(), pm.URL+"/mcp")
		if err != nil || auth.Resource != pm.URL+"/mcp" || auth.Issuer != as.URL || !reflect.DeepEqual(auth.Scopes, []string{"files:read"}) {
			t.Fatalf("%s: %+v %v", path, auth, err)
		}
	}
}

// TestMCPDiscoveryHostile: what an upstream or authorization server can
// send that Plexus refuses, each with ErrDiscovery and a sentence naming
// the rule; nothing is registered.
func TestMCPDiscoveryHostile(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"resource":"x","authorization_servers":["https://as.example"]}`))
	}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name string
		pm   func(pm *protectedMCP, as *oauthtest.Provider)
		as   func(md map[string]any)
		reg  func(a map[string]any)
		want string
	}{
		{name: "resource metadata on another origin", want: "another origin than its own",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) {
				pm.challenge = `Bearer resource_metadata="` + other.URL + `/.well-known/oauth-protected-resource"`
			}},
		{name: "metadata for another resource", want: "describes another resource",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) { pm.prm["resource"] = pm.URL + "/other" }},
		{name: "metadata for another host", want: "describes another resource",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) { pm.prm["resource"] = "https://evil.example/mcp" }},
		{name: "plain http authorization server", want: "https",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) {
				pm.prm["authorization_servers"] = []string{"http://as.example.com"}
			}},
		{name: "token endpoint on another origin", want: "token_endpoint is on another origin",
			as: func(md map[string]any) { md["token_endpoint"] = other.URL + "/token" }},
		{name: "registration endpoint on another origin", want: "registration_endpoint is on another origin",
			as: func(md map[string]any) { md["registration_endpoint"] = other.URL + "/register" }},
		{name: "plain http token endpoint", want: "https",
			as: func(md map[string]any) { md["token_endpoint"] = "http://as.example.com/token" }},
		{name: "issuer mismatch", want: "another issuer",
			as: func(md map[string]any) { md["issuer"] = "https://as.example.com" }},
		{name: "no PKCE S256", want: "S256",
			as: func(md map[string]any) { md["code_challenge_methods_supported"] = []string{"plain"} }},
		{name: "no PKCE methods at all", want: "S256",
			as: func(md map[string]any) { delete(md, "code_challenge_methods_supported") }},
		{name: "no registration endpoint", want: "no dynamic client registration",
			as: func(md map[string]any) { delete(md, "registration_endpoint") }},
		{name: "registration without client_id", want: "no client_id",
			reg: func(a map[string]any) { delete(a, "client_id") }},
		{name: "registration with a control character", want: "not printable",
			reg: func(a map[string]any) { a["client_id"] = "a\nb" }},
		{name: "huge metadata", want: "larger than 64 KiB",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) {
				pm.prmRaw = []byte(`{"resource":"` + strings.Repeat("a", 70<<10) + `"}`)
			}},
		{name: "metadata not JSON", want: "not valid JSON",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) { pm.prmRaw = []byte("<html>") }},
		{name: "metadata redirect not followed", want: "redirect",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) {
				pm.redirects = map[string]string{"/.well-known/oauth-protected-resource/mcp": other.URL + "/x"}
			}},
		{name: "probe redirect not followed", want: "redirect",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) {
				pm.redirects = map[string]string{"/mcp": other.URL + "/mcp"}
			}},
		{name: "registration redirect not followed", want: "redirect",
			pm:  func(_ *protectedMCP, as *oauthtest.Provider) { as.RedirectTokenRequests(http.StatusTemporaryRedirect) },
			as:  func(md map[string]any) { md["registration_endpoint"] = md["token_endpoint"] }, // redirects now
			reg: func(map[string]any) {}},
		{name: "no 401", want: "not 401",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) { pm.status = http.StatusOK }},
		{name: "no authorization server", want: "names no authorization server",
			pm: func(pm *protectedMCP, _ *oauthtest.Provider) { pm.prm["authorization_servers"] = []string{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := oauthtest.New(t)
			pm := newProtectedMCP(t, as)
			if tc.pm != nil {
				pm.edit(func(pm *protectedMCP) { tc.pm(pm, as) })
			}
			if tc.as != nil {
				as.EditMetadata(tc.as)
			}
			if tc.reg != nil {
				as.EditRegistration(tc.reg)
			}
			_, err := discoveryManager().MCPProvider(t.Context(), "acme", "files", pm.URL+"/mcp", MCPClient{}, nil)
			if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrDiscovery saying %q", err, tc.want)
			}
			if tc.reg == nil && len(as.Registrations()) != 0 {
				t.Fatal("registered although discovery failed")
			}
			if len(as.Second.Requests()) != 0 {
				t.Fatal("a redirect was followed")
			}
			if strings.Contains(err.Error(), as.ClientSecret) {
				t.Fatal("error carries the client secret")
			}
		})
	}
	// An upstream url Plexus would never send a token to.
	if _, err := discoveryManager().DiscoverMCP(t.Context(), "http://mcp.example.com/mcp"); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("plain http upstream: %v", err)
	}
}

var challengeTable = []struct {
	in     []string
	params map[string]string
	ok     bool
}{
	{[]string{`Bearer resource_metadata="https://a/x", scope="a b"`}, map[string]string{"resource_metadata": "https://a/x", "scope": "a b"}, true},
	{[]string{`Basic realm="r", Bearer resource_metadata="https://a/x"`}, map[string]string{"resource_metadata": "https://a/x"}, true},
	{[]string{`Basic abc==`, `bearer Resource_Metadata=https://a/x`}, map[string]string{"resource_metadata": "https://a/x"}, true},
	{[]string{`Bearer realm="a\"b", error=invalid_token`}, map[string]string{"realm": `a"b`, "error": "invalid_token"}, true},
	{[]string{`Bearer`}, map[string]string{}, true},
	{[]string{`Bearer realm="unterminated`}, map[string]string{}, true},
	{[]string{`Basic realm="x"`}, nil, false},
	{[]string{``}, nil, false},
	{[]string{`,,, ="x"`}, nil, false},
	{[]string{strings.Repeat("Bearer ", 3000)}, nil, false},
}

func TestBearerChallenge(t *testing.T) {
	for _, tc := range challengeTable {
		got, ok := bearerChallenge(tc.in)
		if ok != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.params)) {
			t.Errorf("%q: got %v %v, want %v %v", tc.in, got, ok, tc.params, tc.ok)
		}
	}
}

func FuzzBearerChallenge(f *testing.F) {
	for _, tc := range challengeTable {
		f.Add(strings.Join(tc.in, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		params, ok := bearerChallenge(strings.Split(s, "\n"))
		if ok && params == nil {
			t.Fatal("ok without params")
		}
	})
}

var bindTable = []struct {
	resource, addressed string
	want                bool
}{
	{"https://a.example/mcp", "https://a.example/mcp", true},
	{"https://a.example/mcp/", "https://a.example/mcp", true},
	{"https://a.example", "https://a.example/mcp", true},
	{"https://A.example/", "https://a.example/mcp", true},
	{"https://a.example/m", "https://a.example/mcp", false},
	{"https://a.example/mcp/x", "https://a.example/mcp", false},
	{"https://b.example/mcp", "https://a.example/mcp", false},
	{"http://a.example/mcp", "https://a.example/mcp", false},
	{"https://a.example:444/mcp", "https://a.example/mcp", false},
	{"https://a.example/mcp?x=1", "https://a.example/mcp", false},
	{"https://u@a.example/mcp", "https://a.example/mcp", false},
	{"/mcp", "https://a.example/mcp", false},
	{"", "https://a.example/mcp", false},
}

func TestResourceBinds(t *testing.T) {
	for _, tc := range bindTable {
		u, _ := url.Parse(tc.addressed)
		if got := resourceBinds(tc.resource, u); got != tc.want {
			t.Errorf("resourceBinds(%q, %q) = %v", tc.resource, tc.addressed, got)
		}
	}
}

func FuzzResourceBinds(f *testing.F) {
	for _, tc := range bindTable {
		f.Add(tc.resource, tc.addressed)
	}
	f.Fuzz(func(t *testing.T, resource, addressed string) {
		u, err := url.Parse(addressed)
		if err != nil || !u.IsAbs() {
			return
		}
		if resourceBinds(resource, u) {
			r, _ := url.Parse(resource)
			if r.Host == "" || !strings.EqualFold(r.Host, u.Host) || !strings.EqualFold(r.Scheme, u.Scheme) {
				t.Fatalf("%q binds %q across origins", resource, addressed)
			}
		}
	})
}
