package daemon_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// window is a window without a GUI: it records what Follow asks of it.
type window struct {
	mu     sync.Mutex
	raised int
	notes  []string
	note   chan string
}

func (w *window) Raise() { w.mu.Lock(); w.raised++; w.mu.Unlock() }
func (w *window) Notify(title, body string) {
	w.mu.Lock()
	w.notes = append(w.notes, title+" | "+body)
	w.mu.Unlock()
	w.note <- title + " | " + body
}

// callTool runs one tools/call on the tenant's MCP endpoint with token
// (legacy protocol: initialize, then the call in that session) and
// returns the answer's body.
func callTool(t *testing.T, base, tenant, token, tool string) string {
	t.Helper()
	return callToolArgs(t, base, tenant, token, tool, `{}`)
}

// callToolArgs is callTool with the call's arguments (a JSON object).
func callToolArgs(t *testing.T, base, tenant, token, tool, args string) string {
	t.Helper()
	post := func(sid, body string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+tenant+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"Claude","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, body = post(sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"`+tool+`","arguments":`+args+`}}`)
	return body
}

// TestConsentReachesTheWindow: a tool called through the local token (the
// local owner: Claude Desktop via plexus stdio) needs a GitHub connection;
// the consent link it returns is told to the window through the admin
// API's events stream, without the link, and the window (no GUI here)
// raises itself and notifies once. A registered user's consent link is
// not told. The same for a key-entry link ("API key needed").
func TestConsentReachesTheWindow(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Config{DataDir: dir, Listen: "127.0.0.1:0", Version: "test",
			Vault: vault.Config{Keyring: vaulttest.NewKeyring(), Getenv: func(k string) string {
				return map[string]string{"PLEXUS_MASTER_KEY": key}[k]
			}},
			Logger: slog.New(slog.DiscardHandler),
			Ready:  func(rt localclient.Runtime) { ready <- rt }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	var rt localclient.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
	c := localclient.NewClient(rt)
	if _, _, err := c.CreateTenant(t.Context(), "personal", "Personal"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOAuthProvider(t.Context(), "personal", apiv1.ProviderRequest{Preset: "github", ClientID: "gh-client", ClientSecret: "gh-secret"}); err != nil {
		t.Fatal(err)
	}
	userToken, _, err := c.CreateUserToken(t.Context(), "personal", "alice")
	if err != nil {
		t.Fatal(err)
	}

	w := &window{note: make(chan string, 4)}
	fctx, stop := context.WithCancel(t.Context())
	defer stop()
	followed := make(chan struct{})
	go func() { app.Follow(fctx, c.Events, w, nil); close(followed) }()
	var link string
	got := false
	for i := 0; i < 50 && !got; i++ { // until the stream is open: the first calls may come before it
		body := callTool(t, rt.BaseURL(), "personal", rt.Token, "github_list_repos")
		if i := strings.Index(body, "/personal/oauth/consent/"); i >= 0 {
			link = body[i : i+len("/personal/oauth/consent/")+43]
		}
		select {
		case n := <-w.note:
			if !strings.Contains(n, "github") || !strings.Contains(n, "Claude") || !strings.Contains(n, "github_list_repos") {
				t.Fatalf("note %q", n)
			}
			if link == "" || strings.Contains(n, link) {
				t.Fatalf("the link (%q) reached the window, or there was none", link)
			}
			got = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !got {
		t.Fatal("the local owner's consent never reached the window")
	}
	w.mu.Lock()
	raised := w.raised
	w.mu.Unlock()
	if raised < 1 {
		t.Fatal("the window was not raised")
	}

	// The stream is open now: a registered user's consent link is not told.
	if body := callTool(t, rt.BaseURL(), "personal", userToken, "github_list_repos"); !strings.Contains(body, "/personal/oauth/consent/") {
		t.Fatalf("the registered user's call did not get a consent link: %s", body)
	}
	select {
	case n := <-w.note:
		t.Fatalf("a registered user's consent reached the window: %s", n)
	case <-time.After(500 * time.Millisecond):
	}

	// A key-entry link for the local owner is told too (the window says
	// a key waits), and a registered user's is not.
	weather := `{"city":"Paris"}`
	if body := callToolArgs(t, rt.BaseURL(), "personal", rt.Token, "weather", weather); !strings.Contains(body, "/plexus-services/api-keys/entry/") {
		t.Fatalf("the local owner's weather call did not get a key-entry link: %s", body)
	}
	select {
	case n := <-w.note:
		if !strings.Contains(n, "key") || !strings.Contains(n, "Claude") || strings.Contains(n, "/entry/") {
			t.Fatalf("key note %q", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the local owner's key-entry link never reached the window")
	}
	if body := callToolArgs(t, rt.BaseURL(), "personal", userToken, "weather", weather); !strings.Contains(body, "/plexus-services/api-keys/entry/") {
		t.Fatalf("the registered user's weather call did not get a key-entry link: %s", body)
	}
	select {
	case n := <-w.note:
		t.Fatalf("a registered user's key-entry link reached the window: %s", n)
	case <-time.After(500 * time.Millisecond):
	}
	stop()
	select {
	case <-followed:
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not end")
	}
}
