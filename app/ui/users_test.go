package ui_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

var userTokenRE = regexp.MustCompile(`id="new-token" class="[^"]*" type="text" value="(plx_[A-Za-z0-9_-]+)"`)

func TestUsersPage(t *testing.T) {
	_, b := signedIn(t)
	r := b.get("/ui/users")
	wantStatus(t, "users", r, http.StatusOK)
	wantIn(t, "users page", r.body, "You (this computer)", "Only you use this tenant", "Give someone access",
		"No app is talking to Plexus right now.")
}

func TestIssueUserToken(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	b.get("/ui/users")
	for _, c := range []struct{ name, id, want string }{
		{"empty", "  ", "Enter their ID in your app"},
		{"reserved", "plexus-admin", "Plexus keeps this ID for itself"},
		{"local owner", "local-owner", "Plexus keeps this ID for itself"},
		{"control", "ann\x01", "no tabs or line breaks"},
		{"too long", strings.Repeat("a", 257), "at most 256"},
	} {
		r := b.form("/ui/users", "user_id_from_host_app", c.id)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if !fieldError(r.body, "f-user_id_from_host_app", c.want) {
			t.Errorf("%s: no error %q under the field", c.name, c.want)
		}
	}
	if !strings.Contains(b.form("/ui/users", "user_id_from_host_app", "plexus-admin").body, `value="plexus-admin"`) {
		t.Error("the typed id is not kept")
	}
	r := b.form("/ui/users", "user_id_from_host_app", "ann@example.com")
	wantStatus(t, "issue", r, http.StatusOK)
	m := userTokenRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no token shown:\n%s", r.body)
	}
	wantIn(t, "token", r.body, "New token for ann@example.com", "You will not see this again.", "readonly", `data-copy="new-token"`)
	if info, err := f.v.ResolveToken(ctx, m[1]); err != nil || info.TenantID != "acme" {
		t.Fatalf("the shown token does not work: %+v %v", info, err)
	}
	r = b.get("/ui/users")
	if strings.Contains(r.body, m[1]) {
		t.Fatal("the token shows again")
	}
	wantIn(t, "listed", r.body, `href="/ui/users/ann@example.com"`, "1 active")
	if strings.Contains(f.logs.String(), m[1]) {
		t.Error("the token is in the log")
	}
	if r := b.post("/ui/users", map[string][]string{"user_id_from_host_app": {"mallory"}}); r.status != http.StatusForbidden {
		t.Errorf("issue without CSRF: %d", r.status)
	}
	if users, _ := f.v.ListUsers(ctx, "acme"); len(users) != 1 {
		t.Fatalf("users: %+v", users)
	}
}

func TestUserPage(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	first, err := f.ops.IssueUserToken(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ops.IssueUserToken(ctx, "beta", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ops.SetAPIKey(ctx, "acme", "alice", "openweather", testAPIKey); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/users/alice")
	wantStatus(t, "alice", r, http.StatusOK)
	wantIn(t, "alice", r.body, first.TokenID, "Active", "/ui/users/alice/tokens/"+first.TokenID+"/revoke", "never expires",
		"Delete user alice and their 1 token, 1 API key</button>", "Type alice to confirm", `href="/ui/connections/alice"`)
	if strings.Contains(r.body, first.Token) {
		t.Fatal("an issued token is on the user page")
	}
	// Another token, shown once.
	r = b.form("/ui/users/alice/tokens")
	wantStatus(t, "new token", r, http.StatusOK)
	m := userTokenRE.FindStringSubmatch(r.body)
	if m == nil || m[1] == first.Token {
		t.Fatal("no new token shown")
	}
	// Revoke: the first token stops working; another user's or an unknown
	// token id is not found.
	wantRedirect(t, "revoke", b.form("/ui/users/alice/tokens/"+first.TokenID+"/revoke"), "/ui/users/alice")
	if _, err := f.v.ResolveToken(ctx, first.Token); !errors.Is(err, vault.ErrTokenRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	wantIn(t, "after revoke", b.get("/ui/users/alice").body, "Token "+first.TokenID+" revoked.", "Revoked")
	bobTokens, _ := f.v.ListTokens(ctx, "beta", "")
	for _, id := range []string{bobTokens[0].ID, "0123456789ab", "x%2Fy"} {
		r := b.form("/ui/users/alice/tokens/" + id + "/revoke")
		if r.status != http.StatusNotFound {
			t.Errorf("revoke %q through alice: %d", id, r.status)
		}
	}
	if bt, _ := f.v.ListTokens(ctx, "beta", ""); bt[0].Revoked {
		t.Fatal("bob's token was revoked through acme")
	}
	// A user of another tenant, an unknown one.
	for _, p := range []string{"/ui/users/bob", "/ui/users/nobody"} {
		wantStatus(t, p, b.get(p), http.StatusNotFound)
		wantStatus(t, p+" delete", b.form(p+"/delete", "confirm", "bob"), http.StatusNotFound)
		wantStatus(t, p+" token", b.form(p+"/tokens"), http.StatusNotFound)
	}
	if _, err := f.v.GetUser(ctx, "beta", "bob"); err != nil {
		t.Fatalf("bob went: %v", err)
	}
	// Delete alice, after typing her id.
	wantStatus(t, "wrong confirm", b.form("/ui/users/alice/delete", "confirm", "bob"), http.StatusUnprocessableEntity)
	if !fieldError(b.last, "f-confirm", "That is not alice.") || !strings.Contains(b.last, `value="bob"`) {
		t.Error("wrong confirmation: no error next to the field or not kept")
	}
	wantRedirect(t, "delete", b.form("/ui/users/alice/delete", "confirm", "alice"), "/ui/users")
	if _, err := f.v.GetUser(ctx, "acme", "alice"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("alice still there: %v", err)
	}
	wantIn(t, "after delete", b.get("/ui/users").body, "User alice deleted.")
	neverShown(t, f, b, testAPIKey)
}

func TestLocalOwnerUserPage(t *testing.T) {
	f, b := signedIn(t)
	r := b.get("/ui/users/local-owner")
	wantStatus(t, "you", r, http.StatusOK)
	wantIn(t, "you", r.body, "they need no token", `href="/ui/connections"`)
	if strings.Contains(r.body, "Danger zone") {
		t.Error("a danger zone for yourself")
	}
	wantStatus(t, "token for you", b.form("/ui/users/local-owner/tokens"), http.StatusForbidden)
	me := owner(t, f, "acme")
	wantStatus(t, "delete you", b.form("/ui/users/"+me+"/delete", "confirm", me), http.StatusForbidden)
	if _, err := f.v.GetUser(t.Context(), "acme", me); err != nil {
		t.Fatalf("the local owner went: %v", err)
	}
}

func TestSessionsListAndEnd(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	if _, err := f.ops.IssueUserToken(ctx, "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	me := owner(t, f, "acme")
	now := f.clock.Now()
	ids := map[string]string{
		"mcp-session-OWNER-SECRET-ID": me, "mcp-session-ALICE-SECRET-ID": "alice", "mcp-session-GUEST-SECRET-ID": "",
	}
	for id, user := range ids {
		err := f.v.CreateSession(ctx, vault.Session{ID: id, TenantID: "acme", UserID: user, Protocol: "2025-06-18",
			LastSeen: now.Add(-5 * time.Minute), ExpiresAt: now.Add(time.Hour),
			Client: []byte(`{"clientInfo":{"name":"claude-ai","title":"Claude <b>","version":"0.14"}}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.v.CreateSession(ctx, vault.Session{ID: "mcp-session-BETA-SECRET-ID", TenantID: "beta", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/users")
	for id := range ids {
		fp := vault.SessionHash(id)[:8]
		wantIn(t, "sessions", r.body, fp, "/ui/sessions/"+vault.SessionHash(id)+"/end")
	}
	wantIn(t, "sessions", r.body, "Claude &lt;b&gt; 0.14", "You · started", "alice · started", "A guest (no token)", "Active 5 minutes ago")
	if strings.Contains(r.body, vault.SessionHash("mcp-session-BETA-SECRET-ID")[:8]) {
		t.Error("beta's session is listed in acme")
	}
	// End alice's: gone, and said so; again: said so.
	ref := vault.SessionHash("mcp-session-ALICE-SECRET-ID")
	wantRedirect(t, "end", b.form("/ui/sessions/"+ref+"/end"), "/ui/users#sessions")
	wantIn(t, "after end", b.get("/ui/users").body, "Session "+ref[:8]+" ended.")
	if _, err := f.v.GetSession(ctx, "acme", "mcp-session-ALICE-SECRET-ID"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("not ended: %v", err)
	}
	wantRedirect(t, "end again", b.form("/ui/sessions/"+ref+"/end"), "/ui/users#sessions")
	wantIn(t, "again", b.get("/ui/users").body, "That session has ended already.")
	// Beta's session, a malformed reference, a bare fingerprint: nothing ends.
	betaRef := vault.SessionHash("mcp-session-BETA-SECRET-ID")
	for _, p := range []string{betaRef, "nothex", betaRef[:8], strings.ToUpper(betaRef)} {
		wantRedirect(t, "end "+p, b.form("/ui/sessions/"+p+"/end"), "/ui/users#sessions")
		wantIn(t, "end "+p, b.get("/ui/users").body, "That session has ended already.")
	}
	if _, err := f.v.GetSession(ctx, "beta", "mcp-session-BETA-SECRET-ID"); err != nil {
		t.Fatalf("beta's session ended through acme: %v", err)
	}
	if r := b.post("/ui/sessions/"+vault.SessionHash("mcp-session-GUEST-SECRET-ID")+"/end", nil); r.status != http.StatusForbidden {
		t.Errorf("end without CSRF: %d", r.status)
	}
	neverShown(t, f, b, "SECRET-ID")
}
