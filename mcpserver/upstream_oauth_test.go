//go:build unix

package mcpserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
)

// oauthUpstream is an upstream MCP server (mcp-go, streamable HTTP) that
// requires OAuth: /mcp answers 401 with a Bearer challenge naming its
// protected resource metadata until a bearer token the authorization
// server as issued arrives. Its tool "whoami" says which token it got.
type oauthUpstream struct {
	*httptest.Server
	as *oauthtest.Provider

	mu      sync.Mutex
	refused int
	tokens  []string
}

func newOAuthUpstream(t *testing.T) *oauthUpstream {
	t.Helper()
	u := &oauthUpstream{}
	ms := server.NewMCPServer("files", "1.0.0", server.WithToolCapabilities(true))
	ms.AddTool(mcp.NewTool("whoami", mcp.WithDescription("says hello")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("hello from files"), nil
	})
	// echo_token says which token the request carried, as a careless
	// server might: it must not reach the client.
	ms.AddTool(mcp.NewTool("echo_token"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("you are " + req.Header.Get("Authorization")), nil
	})
	streamable := server.NewStreamableHTTPServer(ms)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"resource": u.URL + "/mcp", "authorization_servers": []string{u.as.URL}, "scopes_supported": []string{"files:read"},
		})
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !u.as.AccessTokenValid(tok) {
			u.mu.Lock()
			u.refused++
			u.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", resource_metadata="`+u.URL+`/.well-known/oauth-protected-resource/mcp", scope="files:read"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		u.mu.Lock()
		if !slices.Contains(u.tokens, tok) {
			u.tokens = append(u.tokens, tok)
		}
		u.mu.Unlock()
		streamable.ServeHTTP(w, r)
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	// The authorization server insists on the upstream as resource (RFC
	// 8707) on every token request, refreshes included.
	u.as = oauthtest.New(t, oauthtest.WithRequiredResource(u.URL+"/mcp"))
	return u
}

func (u *oauthUpstream) counts() (refused, tokens int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.refused, len(u.tokens)
}

// newOAuthUpstreamEnv is an env serving upstreams with an OAuth manager.
func newOAuthUpstreamEnv(t *testing.T) (*env, *oauth.Manager) {
	t.Helper()
	var mgr *oauth.Manager
	e := newEnvFor(t, func(v *vault.Vault, base string) []Option {
		mgr = oauth.NewManager(v, oauth.WithBaseURL(base))
		return []Option{WithOAuth(mgr), WithPublicURL(base)}
	}, upstreamOptions(t))
	t.Cleanup(e.srv.closeUpstreams)
	return e, mgr
}

// addOAuthUpstream does what the admin operation does for an upstream
// added with --oauth: discover, register, store the provider, mount the
// upstream with its OAuth credential.
func addOAuthUpstream(t *testing.T, e *env, mgr *oauth.Manager, up *oauthUpstream, name string) {
	t.Helper()
	p, err := mgr.MCPProvider(t.Context(), "acme", name, up.URL+"/mcp", oauth.MCPClient{}, nil)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	if _, err := e.v.CreateOAuthProvider(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: name, Transport: vault.UpstreamHTTP, URL: up.URL + "/mcp",
		Credentials: []vault.UpstreamCredential{{Kind: vault.CredentialOAuth, Provider: name, Header: "Authorization", Scheme: "Bearer"}}})
}

func (c *mcpClient) waitTools(t *testing.T, want string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		names := c.toolNames(t)
		if slices.Contains(names, want) {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("tools %v, want %s among them", names, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func consentOf(t *testing.T, text string, isErr bool) CredentialResult {
	t.Helper()
	var cr CredentialResult
	if !isErr || json.Unmarshal([]byte(text), &cr) != nil || cr.Error != ResultAuthRequired || !strings.Contains(cr.AuthorizationURL, "/oauth/consent/") {
		t.Fatalf("want an authorization-required result with a consent link, got %v %s", isErr, text)
	}
	return cr
}

// TestUpstreamRequiresOAuth (issue 11 line 3): an upstream that enforces
// OAuth. Plexus found its authorization server from its 401 and
// registered itself; until a user connects, the tenant shows
// files__connect, whose call answers with Plexus's consent link; after
// consent (PKCE and resource checked by the authorization server), the
// upstream's own tools appear (list_changed) and work without a restart;
// an expired token is refreshed (resource sent again); another user gets
// their own consent link; a dead refresh token asks for consent again.
func TestUpstreamRequiresOAuth(t *testing.T) {
	up := newOAuthUpstream(t) // first: closed after the env's upstreams stop
	e, mgr := newOAuthUpstreamEnv(t)
	addOAuthUpstream(t, e, mgr, up, "files")
	aliceID, aliceTok := e.user("acme", "alice")
	_, bobTok := e.user("acme", "bob")

	alice := e.client("acme", aliceTok, legacy)
	names := alice.waitTools(t, "files__connect")
	if slices.Contains(names, "files__whoami") {
		t.Fatalf("upstream tools listed before anyone connected: %v", names)
	}
	text, isErr := alice.call(t, "files__connect", nil)
	cr := consentOf(t, text, isErr)
	if strings.Contains(cr.AuthorizationURL, up.as.URL) {
		t.Fatal("the link is the authorization server's, not Plexus's consent page")
	}
	b := oauthtest.NewBrowser()
	authURL := b.Approve(t, cr.AuthorizationURL)
	if !strings.HasPrefix(authURL, up.as.AuthorizationURL()) || !strings.Contains(authURL, "code_challenge_method=S256") ||
		!strings.Contains(authURL, "resource="+urlQueryEscape(up.URL+"/mcp")) {
		t.Fatalf("authorization request %s lacks PKCE S256 or resource", authURL)
	}
	cb := up.as.Authorize(t, authURL)
	if status, body, _, err := b.Get(cb); err != nil || status != http.StatusOK {
		t.Fatalf("callback: %d %s %v", status, body, err)
	}
	// No restart, no second call of connect: the tools appear.
	alice.waitNote(t, string(mcp.MethodNotificationToolsListChanged), 1)
	names = alice.waitTools(t, "files__whoami")
	if slices.Contains(names, "files__connect") {
		t.Fatalf("placeholder still listed after connecting: %v", names)
	}
	if text, isErr := alice.call(t, "files__whoami", nil); isErr || text != "hello from files" {
		t.Fatalf("after consent: %v %s", isErr, text)
	}
	if text, isErr := alice.call(t, "files__echo_token", nil); isErr || text != "you are Bearer [redacted]" {
		t.Fatalf("a token the upstream echoes: %v %q", isErr, text)
	}
	for _, r := range up.as.Resources() {
		if r != up.URL+"/mcp" {
			t.Fatalf("resource %q sent, want the upstream's", r)
		}
	}
	// The token expires at the authorization server: refused by the
	// upstream, refreshed (with resource) and retried, all inside one call.
	up.as.ExpireAccessTokens()
	refreshes := up.as.Refreshes()
	if text, isErr := alice.call(t, "files__whoami", nil); isErr || text != "hello from files" || up.as.Refreshes() != refreshes+1 {
		t.Fatalf("after expiry: %v %s, refreshes %d -> %d", isErr, text, refreshes, up.as.Refreshes())
	}
	// Bob has not connected: his own consent link.
	defer func() {
		// Alice disconnects: her idle session to the upstream ends.
		if err := mgr.Disconnect(t.Context(), oauth.Owner{TenantID: "acme", UserID: aliceID}, "files"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, _ := e.srv.UpstreamState(t.Context(), "acme", "files", 0)
			if !slices.ContainsFunc(st.Instances, func(in UpstreamInstance) bool { return in.Owner == aliceID }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice's session kept after she disconnected: %+v", st.Instances)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	bob := e.client("acme", bobTok, modern)
	text, isErr = bob.call(t, "files__whoami", nil)
	consentOf(t, text, isErr)
	// Alice's refresh token dies: consent again.
	up.as.RevokeRefreshTokens()
	up.as.ExpireAccessTokens()
	text, isErr = alice.call(t, "files__whoami", nil)
	consentOf(t, text, isErr)
	// No token went anywhere but the upstream; the upstream never saw one
	// the authorization server did not issue.
	if _, n := up.counts(); n < 2 {
		t.Fatalf("upstream saw %d tokens, want the first and the refreshed", n)
	}
}

func urlQueryEscape(s string) string {
	r := strings.NewReplacer(":", "%3A", "/", "%2F")
	return r.Replace(s)
}

// TestUpstreamOAuthLocalOwnerListsAtStart: when the local owner is
// connected already, a daemon start lists the upstream's tools at once,
// without a placeholder.
func TestUpstreamOAuthLocalOwnerListsAtStart(t *testing.T) {
	up := newOAuthUpstream(t) // first: closed after the env's upstreams stop
	e, mgr := newOAuthUpstreamEnv(t)
	addOAuthUpstream(t, e, mgr, up, "files")
	local := e.client("acme", localToken, legacy)
	text, isErr := local.call(t, "files__connect", nil)
	cr := consentOf(t, text, isErr)
	b := oauthtest.NewBrowser()
	if status, body := b.Connect(t, up.as, cr.AuthorizationURL); status != http.StatusOK {
		t.Fatalf("connect: %d %s", status, body)
	}
	local.waitTools(t, "files__whoami")
	_ = local.Close()
	e.srv.closeUpstreams()
	e.start() // a daemon restart over the same vault
	t.Cleanup(e.srv.closeUpstreams)
	names := e.client("acme", localToken, modern).waitTools(t, "files__whoami")
	if slices.Contains(names, "files__connect") {
		t.Fatalf("placeholder listed for a connected owner: %v", names)
	}
}

// TestUpstreamOAuthTokenRedirect: the discovered token endpoint answers
// with a redirect; it is not followed (the code, verifier and client
// secret go nowhere else), nothing is stored, and the upstream stays
// unconnected.
func TestUpstreamOAuthTokenRedirect(t *testing.T) {
	up := newOAuthUpstream(t)
	e, mgr := newOAuthUpstreamEnv(t)
	addOAuthUpstream(t, e, mgr, up, "files")
	_, aliceTok := e.user("acme", "alice")
	alice := e.client("acme", aliceTok, legacy)
	alice.waitTools(t, "files__connect")
	text, isErr := alice.call(t, "files__connect", nil)
	cr := consentOf(t, text, isErr)
	up.as.RedirectTokenRequests(http.StatusTemporaryRedirect)
	status, body := oauthtest.NewBrowser().Connect(t, up.as, cr.AuthorizationURL)
	if status != http.StatusBadGateway || !strings.Contains(body, "redirect") {
		t.Fatalf("callback with a redirecting token endpoint: %d %s", status, body)
	}
	if n := len(up.as.Second.Requests()); n != 0 {
		t.Fatalf("the redirect was followed: %d requests elsewhere", n)
	}
	text, isErr = alice.call(t, "files__connect", nil)
	consentOf(t, text, isErr)
}
