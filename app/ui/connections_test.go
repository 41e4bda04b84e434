package ui_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

func TestConnectionsEmpty(t *testing.T) {
	_, b := signedIn(t)
	r := b.get("/ui/connections")
	wantStatus(t, "connections", r, http.StatusOK)
	wantIn(t, "connections without providers", r.body, "No accounts to connect yet.", `href="/ui/providers#add"`,
		"openweather", "Used by weather_now, weather_forecast", "Not saved", "Add key")
	if strings.Contains(r.body, `class="tabs"`) {
		t.Error("people tabs with only you")
	}
}

// TestConnectionStates: each provider's state as a pill, and the one
// action that fits.
func TestConnectionStates(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	for _, p := range []string{"github", "google", "slack", "microsoft"} {
		if _, err := f.ops.CreateProvider(ctx, "acme", apiv1.ProviderRequest{Preset: p, ClientID: p + "-id", ClientSecret: testClientSecret}); err != nil {
			t.Fatal(err)
		}
	}
	me := owner(t, f, "acme")
	now := f.clock.Now()
	oauthToken(t, f, "acme", me, "github", true, now.Add(-time.Hour), "connected")   // renewed on use
	oauthToken(t, f, "acme", me, "google", false, now.Add(3*time.Hour), "connected") // ends soon
	oauthToken(t, f, "acme", me, "slack", false, now.Add(-time.Minute), "connected") // ended
	r := b.get("/ui/connections")
	body := r.body
	row := func(display string) string {
		i := strings.Index(body, `<span class="item-title">`+display+`</span>`)
		if i < 0 {
			t.Fatalf("no row for %s", display)
		}
		if testing.Verbose() {
			t.Log(body[i : i+strings.Index(body[i:], "</li>")])
		}
		end := strings.Index(body[i:], "</li>")
		return body[i : i+end]
	}
	for display, want := range map[string][]string{
		"GitHub":    {"pill-ok", "Connected", "Since ", "/ui/connections/local-owner/disconnect/github"},
		"Google":    {"pill-warn", "Expires in 3 hours", "/ui/connections/local-owner/disconnect/google"},
		"Slack":     {"pill-bad", "Expired", "Connect again", "/ui/connections/local-owner/connect/slack"},
		"Microsoft": {"pill-never", "Never", ">Connect<", "/ui/connections/local-owner/connect/microsoft"},
	} {
		wantIn(t, display+" row", row(display), want...)
	}
	if strings.Contains(row("GitHub"), "/connect/") || strings.Contains(row("Microsoft"), "/disconnect/") {
		t.Error("a connected account offers Connect, or a missing one Disconnect")
	}

	// Connect: to the consent page, the same a tool's link opens.
	r = b.form("/ui/connections/local-owner/connect/microsoft")
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "http://127.0.0.1:8765/acme/oauth/consent/") {
		t.Fatalf("connect: %d %q", r.status, loc)
	}
	r = b.form("/ui/connections/local-owner/connect/gitlab")
	wantRedirect(t, "connect to an unknown provider", r, "/ui/connections")
	wantIn(t, "unknown provider", b.get("/ui/connections").body, "has no such provider")

	// Disconnect.
	wantRedirect(t, "disconnect", b.form("/ui/connections/local-owner/disconnect/github"), "/ui/connections")
	wantIn(t, "after disconnect", b.get("/ui/connections").body, "Disconnected from github.")
	if _, err := f.v.GetCredential(ctx, "acme", me, vault.CredentialOAuth, "github"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("still connected: %v", err)
	}
	wantRedirect(t, "disconnect again", b.form("/ui/connections/local-owner/disconnect/github"), "/ui/connections")
	wantIn(t, "again", b.get("/ui/connections").body, "There was no connection to github to remove.")
	if r := b.post("/ui/connections/local-owner/disconnect/google", nil); r.status != http.StatusForbidden {
		t.Errorf("disconnect without CSRF: %d", r.status)
	}
	if _, err := f.v.GetCredential(ctx, "acme", me, vault.CredentialOAuth, "google"); err != nil {
		t.Fatalf("a refused form disconnected google: %v", err)
	}
	neverShown(t, f, b, testClientSecret, "access-token-NEVER-SHOWN", "refresh-token-NEVER-SHOWN")
}

func TestAPIKeys(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	b.get("/ui/connections")
	r := b.form("/ui/connections/local-owner/keys", "provider_name", "openweather", "api_key_value", " "+testAPIKey+"\n")
	wantRedirect(t, "save", r, "/ui/connections")
	r = b.get("/ui/connections")
	wantIn(t, "saved key", r.body, "Key for openweather saved.", "•••• "+testAPIKey[len(testAPIKey)-4:], "Replace key",
		"/ui/connections/local-owner/keys/openweather/delete")
	if got, err := f.v.GetCredential(ctx, "acme", owner(t, f, "acme"), vault.CredentialAPIKey, "openweather"); err != nil || string(got) != testAPIKey {
		t.Fatalf("stored key: %v", err)
	}
	// Bad input: next to its field, the service kept, the key never echoed.
	for _, c := range []struct {
		name, provider, key, field, want string
	}{
		{"no key", "openweather", "  ", "f-key-openweather", "Paste the key."},
		{"control in key", "openweather", "abc\x01def-" + testAPIKey, "f-key-openweather", "Paste the key on one line"},
		{"no service", "", testAPIKey, "f-provider_name", "Name the service"},
		{"bad service", "Open Weather", testAPIKey, "f-provider_name", "Use lowercase letters"},
		{"bad service, no key", "Other Svc", "", "f-api_key_value", "Paste the key."},
	} {
		r := b.form("/ui/connections/local-owner/keys", "provider_name", c.provider, "api_key_value", c.key)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if !fieldError(r.body, c.field, c.want) {
			t.Errorf("%s: no error %q under %s", c.name, c.want, c.field)
		}
		if c.provider == "Open Weather" && !strings.Contains(r.body, `value="Open Weather"`) {
			t.Errorf("%s: the service is not kept", c.name)
		}
	}
	// Replace, then delete.
	wantRedirect(t, "replace", b.form("/ui/connections/local-owner/keys", "provider_name", "openweather", "api_key_value", testAPIKey+"-new1"), "/ui/connections")
	wantIn(t, "replaced", b.get("/ui/connections").body, "•••• new1")
	wantRedirect(t, "delete", b.form("/ui/connections/local-owner/keys/openweather/delete"), "/ui/connections")
	r = b.get("/ui/connections")
	wantIn(t, "deleted", r.body, "Key for openweather deleted.", "Not saved")
	wantRedirect(t, "delete again", b.form("/ui/connections/local-owner/keys/openweather/delete"), "/ui/connections")
	wantIn(t, "deleted again", b.get("/ui/connections").body, "There was no key for openweather to delete.")
	neverShown(t, f, b, testAPIKey)
}

// TestOtherPeoplesConnections: another person's state is shown and can
// be disconnected or their key deleted, but never connected or set on
// their behalf; a person of another tenant is out of reach.
func TestOtherPeoplesConnections(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	addGitHub(t, f, "acme")
	for _, tn := range []string{"acme", "beta"} {
		if _, err := f.ops.IssueUserToken(ctx, tn, "alice-"+tn); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.ops.SetAPIKey(ctx, "acme", "alice-acme", "openweather", testAPIKey); err != nil {
		t.Fatal(err)
	}
	oauthToken(t, f, "acme", "alice-acme", "github", true, f.clock.Now(), "connected")
	r := b.get("/ui/connections")
	wantIn(t, "tabs", r.body, `class="tabs"`, `href="/ui/connections/alice-acme"`)
	if strings.Contains(r.body, "alice-beta") {
		t.Error("beta's user is listed in acme")
	}
	r = b.get("/ui/connections/alice-acme")
	wantStatus(t, "alice", r, http.StatusOK)
	wantIn(t, "alice's page", r.body, "alice-acme connects accounts from the app they use", "Connected", "•••• "+testAPIKey[len(testAPIKey)-4:],
		"/ui/connections/alice-acme/disconnect/github", "/ui/connections/alice-acme/keys/openweather/delete")
	if strings.Contains(r.body, "/connect/") || strings.Contains(r.body, `action="/ui/connections/alice-acme/keys"`) {
		t.Error("alice's page offers to connect or to save a key for her")
	}
	for _, p := range []string{"/ui/connections/alice-acme/connect/github", "/ui/connections/alice-acme/keys"} {
		r := b.form(p, "provider_name", "openweather", "api_key_value", "evil-key")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "never connects an account or saves a key on someone else") {
			t.Errorf("POST %s for alice: %d", p, r.status)
		}
	}
	if got, _ := f.v.GetCredential(ctx, "acme", "alice-acme", vault.CredentialAPIKey, "openweather"); string(got) != testAPIKey {
		t.Fatal("alice's key was replaced")
	}
	// Another tenant's user, an unknown one.
	for _, p := range []string{"/ui/connections/alice-beta", "/ui/connections/nobody"} {
		wantStatus(t, p, b.get(p), http.StatusNotFound)
		wantStatus(t, p+" disconnect", b.form(p+"/disconnect/github"), http.StatusNotFound)
		wantStatus(t, p+" delete key", b.form(p+"/keys/openweather/delete"), http.StatusNotFound)
	}
	// The administrator may disconnect alice and delete her key.
	wantRedirect(t, "disconnect alice", b.form("/ui/connections/alice-acme/disconnect/github"), "/ui/connections/alice-acme")
	wantRedirect(t, "delete alice's key", b.form("/ui/connections/alice-acme/keys/openweather/delete"), "/ui/connections/alice-acme")
	r = b.get("/ui/connections/alice-acme")
	wantIn(t, "alice after", r.body, "Key for openweather deleted.", "Never", "alice-acme has saved no keys.")
	neverShown(t, f, b, testAPIKey, testClientSecret)
}

// TestViewingCreatesNothing: looking at your connections does not create
// the local owner (a page view writes nothing); saving a key does.
func TestViewingCreatesNothing(t *testing.T) {
	f, b := signedIn(t)
	wantStatus(t, "connections", b.get("/ui/connections"), http.StatusOK)
	wantStatus(t, "you", b.get("/ui/users/local-owner"), http.StatusOK)
	if users, _ := f.v.ListUsers(t.Context(), "acme"); len(users) != 0 {
		t.Fatalf("a page view created %+v", users)
	}
	wantRedirect(t, "save", b.form("/ui/connections/local-owner/keys", "provider_name", "svc", "api_key_value", testAPIKey), "/ui/connections")
	if users, _ := f.v.ListUsers(t.Context(), "acme"); len(users) != 1 || users[0].HostUserID != vault.LocalOwnerHostUserID {
		t.Fatalf("users after saving a key: %+v", users)
	}
}

// TestUserIDsInPaths: a user id with a slash, a bar or spaces reaches its
// pages through an escaped path.
func TestUserIDsInPaths(t *testing.T) {
	f, b := signedIn(t)
	id := "team/ann|auth0 1"
	if _, err := f.ops.IssueUserToken(t.Context(), "acme", id); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/users")
	esc := "/ui/users/team%2Fann%7Cauth0%201"
	wantIn(t, "users", r.body, `href="`+esc+`"`)
	wantIn(t, "user", b.get(esc).body, "team/ann|auth0 1", `href="/ui/connections/team%2Fann%7Cauth0%201"`)
	wantIn(t, "connections", b.get("/ui/connections/team%2Fann%7Cauth0%201").body, "team/ann|auth0 1 connects accounts")
	wantRedirect(t, "delete", b.form(esc+"/delete", "confirm", id), "/ui/users")
}
