package cli

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
)

// TestAdminUpstreamOAuth: upstream add --oauth registers Plexus at the
// upstream's authorization server and says so; --oauth-client-id with
// --oauth-client-secret - (stdin) uses a client made by hand, whose
// secret is stored sealed and never printed.
func TestAdminUpstreamOAuth(t *testing.T) {
	as := oauthtest.New(t)
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mcp" {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+hs.URL+`/.well-known/oauth-protected-resource/mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": hs.URL + "/mcp", "authorization_servers": []string{as.URL}})
	}))
	t.Cleanup(hs.Close)
	// Discovery needs no store; connections are not listed here.
	url, v := adminServerWith(t, adminops.Options{OAuth: oauth.NewManager(nil, oauth.WithBaseURL("http://127.0.0.1:8765"))})
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, url, "upstream", "add", "--entity-id", "acme", "--name", "files", "--url", hs.URL+"/mcp", "--oauth")
	if !strings.Contains(out, "OAuth:") || !strings.Contains(out, "provider files") || !strings.Contains(out, "Resource:") || len(as.Registrations()) != 1 {
		t.Fatalf("add --oauth:\n%s", out)
	}
	out, stderr, err := runAdminIO(t, url, "hand-made-secret\n", map[string]string{"ADMIN_API_KEY": adminTestKey},
		"upstream", "add", "--entity-id", "acme", "--name", "docs", "--url", hs.URL+"/mcp", "--oauth-client-id", "hand-made", "--oauth-client-secret", "-")
	if err != nil || strings.Contains(out+stderr, "hand-made-secret") || !strings.Contains(out, "client hand-made") {
		t.Fatalf("add --oauth-client-id: %v\n%s\n%s", err, out, stderr)
	}
	p, err := v.GetOAuthProvider(t.Context(), "acme", "docs")
	if err != nil || p.ClientSecret != "hand-made-secret" || p.Preset != oauth.MCPPreset || len(as.Registrations()) != 1 {
		t.Fatalf("provider %+v %v", p.ClientID, err)
	}
	if _, _, err := runAdmin(t, url, adminTestKey, "upstream", "add", "--entity-id", "acme", "--name", "x", "--url", hs.URL+"/mcp",
		"--oauth", "--oauth-client-secret", "s"); !errors.Is(err, ErrUsage) {
		t.Fatalf("secret without client id: %v", err)
	}
	if _, _, err := runAdmin(t, url, adminTestKey, "upstream", "add", "--entity-id", "acme", "--name", "x", "--url", hs.URL+"/mcp",
		"--oauth-scopes", "a"); !errors.Is(err, ErrUsage) {
		t.Fatalf("scopes without --oauth: %v", err)
	}
	if _, err := v.GetUpstream(t.Context(), "acme", "x"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("refused upstream stored")
	}
}
