package adminops_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// oauthUpstream answers /mcp with 401 and a Bearer challenge naming its
// protected resource metadata, which names as.
func oauthUpstream(t *testing.T, as *oauthtest.Provider) *httptest.Server {
	t.Helper()
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mcp":
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+hs.URL+`/.well-known/oauth-protected-resource/mcp", scope="files:read"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "/.well-known/oauth-protected-resource/mcp":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"resource": hs.URL + "/mcp", "authorization_servers": []string{as.URL}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	return hs
}

func newOAuthOps(t *testing.T) (*adminops.Service, *vault.Vault) {
	t.Helper()
	v := vaulttest.New(t)
	m := oauth.NewManager(v, oauth.WithBaseURL("http://127.0.0.1:8765"))
	s := adminops.New(v, adminops.Options{OAuth: m, RedirectURL: m.RedirectURL})
	if _, err := s.CreateTenant(t.Context(), apiv1.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	return s, v
}

// TestAddUpstreamOAuth (issue 11 line 3, admin side): adding an upstream
// with OAuth discovers its authorization server, registers Plexus (the
// redirect uri is Plexus's callback for the provider), stores the
// provider (client secret sealed, resource and the upstream's origin) and
// the upstream's OAuth credential, and shows it; an update with OAuth
// again reuses the registration; removing the upstream removes its
// provider.
func TestAddUpstreamOAuth(t *testing.T) {
	as := oauthtest.New(t)
	hs := oauthUpstream(t, as)
	s, v := newOAuthOps(t)
	ctx := t.Context()
	up, err := s.AddUpstream(ctx, "acme", apiv1.UpstreamRequest{Name: "files", URL: hs.URL + "/mcp", OAuth: &apiv1.UpstreamOAuthRequest{}})
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://127.0.0.1:8765/acme/oauth/external_callback/files"
	if up.OAuth == nil || up.OAuth.Provider != "files" || up.OAuth.ClientID != as.ClientID || up.OAuth.Resource != hs.URL+"/mcp" ||
		up.OAuth.TokenURL != as.TokenURL() || !slices.Equal(up.OAuth.Scopes, []string{"files:read"}) || up.OAuth.RedirectURL != redirect {
		t.Fatalf("oauth view %+v", up.OAuth)
	}
	if len(up.Credentials) != 1 || up.Credentials[0] != (apiv1.UpstreamCredential{Kind: "oauth", Provider: "files", Header: "Authorization", Scheme: "Bearer"}) || !up.PerUser {
		t.Fatalf("credentials %+v", up.Credentials)
	}
	if regs := as.Registrations(); len(regs) != 1 || !slices.Equal(regs[0].RedirectURIs, []string{redirect}) {
		t.Fatalf("registrations %+v", regs)
	}
	p, err := v.GetOAuthProvider(ctx, "acme", "files")
	if err != nil || p.Preset != oauth.MCPPreset || p.ClientSecret != as.ClientSecret || !slices.Equal(p.APIOrigins, []string{hs.URL}) {
		t.Fatalf("provider %+v %v", p, err)
	}
	raw, _ := json.Marshal(up)
	if strings.Contains(string(raw), as.ClientSecret) {
		t.Fatal("the view carries the client secret")
	}
	// Update with OAuth again (the view's credentials round-trip too).
	up2, err := s.UpdateUpstream(ctx, "acme", "files", apiv1.UpstreamRequest{URL: up.URL, Credentials: up.Credentials, OAuth: &apiv1.UpstreamOAuthRequest{}})
	if err != nil || len(up2.Credentials) != 1 || len(as.Registrations()) != 1 {
		t.Fatalf("update: %+v %v (registrations %d)", up2.Credentials, err, len(as.Registrations()))
	}
	// A second add under the same name stores nothing new.
	if _, err := s.AddUpstream(ctx, "acme", apiv1.UpstreamRequest{Name: "files", URL: hs.URL + "/mcp", OAuth: &apiv1.UpstreamOAuthRequest{}}); !errors.Is(err, vault.ErrExists) || len(as.Registrations()) != 1 {
		t.Fatalf("second add: %v", err)
	}
	if err := s.DeleteUpstream(ctx, "acme", "files"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetOAuthProvider(ctx, "acme", "files"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("provider kept after its upstream was removed: %v", err)
	}
}

// TestAddUpstreamOAuthRefused: what the OAuth part of a request can get
// wrong comes back as a field error on "oauth" in plain words, and leaves
// nothing stored.
func TestAddUpstreamOAuthRefused(t *testing.T) {
	as := oauthtest.New(t)
	hs := oauthUpstream(t, as)
	s, v := newOAuthOps(t)
	ctx := t.Context()
	if _, err := v.CreateOAuthProvider(ctx, as.OAuthProvider("acme", "mine")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  apiv1.UpstreamRequest
		want string
	}{
		{"stdio", apiv1.UpstreamRequest{Name: "a", Command: "x", OAuth: &apiv1.UpstreamOAuthRequest{}}, "stdio"},
		{"provider of another kind", apiv1.UpstreamRequest{Name: "b", URL: hs.URL + "/mcp", OAuth: &apiv1.UpstreamOAuthRequest{Provider: "mine"}}, "not an upstream's"},
		{"secret without id", apiv1.UpstreamRequest{Name: "c", URL: hs.URL + "/mcp", OAuth: &apiv1.UpstreamOAuthRequest{ClientSecret: "s"}}, "client id"},
		{"not protected", apiv1.UpstreamRequest{Name: "d", URL: hs.URL + "/other", OAuth: &apiv1.UpstreamOAuthRequest{}}, "not 401"},
		{"bad provider name", apiv1.UpstreamRequest{Name: "e", URL: hs.URL + "/mcp", OAuth: &apiv1.UpstreamOAuthRequest{Provider: "Bad Name"}}, "provider name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddUpstream(ctx, "acme", tc.req)
			fe, ok := errors.AsType[*apiv1.FieldError](err)
			if !ok || fe.Field != "oauth" && tc.name != "stdio" || !errors.Is(err, vault.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a field error saying %q", err, tc.want)
			}
			if _, err := v.GetUpstream(ctx, "acme", tc.req.Name); !errors.Is(err, vault.ErrNotFound) {
				t.Fatal("upstream stored")
			}
		})
	}
	if ps, _ := v.ListOAuthProviders(ctx, "acme"); len(ps) != 1 {
		t.Fatalf("providers %+v", ps)
	}
}
