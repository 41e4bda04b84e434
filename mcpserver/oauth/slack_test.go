package oauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
)

// TestSlackUserTokens: with the slack preset, scopes go in user_scope, the
// user token under authed_user is stored and used as a Bearer token, it
// refreshes (Slack token rotation), and Slack's 200 {"ok":false} answer to
// a dead refresh token brings consent back.
func TestSlackUserTokens(t *testing.T) {
	e := newEnv(t, withFake(oauthtest.WithSlackStyle()), withPreset("slack"))
	authURL := e.authURL(e.user, "gh", []string{"users:read", "chat:write"})
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("user_scope") != "users:read,chat:write" || q.Has("scope") {
		t.Fatalf("authorization url: user_scope=%q scope=%q", q.Get("user_scope"), q.Get("scope"))
	}
	cb := e.fake.Authorize(t, authURL)
	if status, body, _ := e.get(cb); status != http.StatusOK {
		t.Fatalf("callback: %d %q", status, body)
	}
	ts := e.mustStored(e.user)
	if ts.AccessToken == "" || ts.RefreshToken == "" || strings.Join(ts.Scopes, " ") != "users:read chat:write" {
		t.Fatalf("stored: token set %v, refresh set %v, scopes %q", ts.AccessToken != "", ts.RefreshToken != "", ts.Scopes)
	}
	if login, err := e.whoami(e.user); err != nil || login != "octocat" {
		t.Fatalf("whoami = %q, %v", login, err)
	}

	e.fake.ExpireAccessTokens()
	if login, err := e.whoami(e.user); err != nil || login != "octocat" {
		t.Fatalf("after expiry: whoami = %q, %v", login, err)
	}
	if e.fake.Refreshes() != 1 {
		t.Fatalf("refreshes = %d, want 1", e.fake.Refreshes())
	}

	e.fake.RevokeRefreshTokens()
	e.fake.ExpireAccessTokens()
	if _, err := e.whoami(e.user); !isConsent(err) {
		t.Fatalf("after the refresh token died: want consent required, got %v", err)
	}
	if ts := e.mustStored(e.user); ts.Status != "expired" {
		t.Fatalf("status = %q, want expired", ts.Status)
	}
}

func TestNormalizeSlackToken(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		wantStatus int
		want       string
	}{
		{"user token lifted", `{"ok":true,"authed_user":{"id":"U1","access_token":"xoxp-1","token_type":"user","scope":"a,b","refresh_token":"xoxe-1","expires_in":43200}}`,
			200, `{"access_token":"xoxp-1","expires_in":43200,"refresh_token":"xoxe-1","scope":"a b","token_type":"user"}`},
		{"bot token untouched", `{"ok":true,"access_token":"xoxb-1","token_type":"bot"}`, 200, `{"ok":true,"access_token":"xoxb-1","token_type":"bot"}`},
		{"dead refresh token", `{"ok":false,"error":"invalid_refresh_token"}`, 400, `{"error":"invalid_grant","error_description":"Slack: invalid_refresh_token"}`},
		{"other error kept", `{"ok":false,"error":"bad_client_secret"}`, 400, `{"error":"bad_client_secret","error_description":"Slack: bad_client_secret"}`},
		{"not slack", `{"access_token":"x"}`, 200, `{"access_token":"x"}`},
		{"not json", `<html>`, 200, `<html>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got := normalizeSlackToken([]byte(tc.in))
			if status != tc.wantStatus || string(got) != tc.want {
				t.Fatalf("got %d %s, want %d %s", status, got, tc.wantStatus, tc.want)
			}
		})
	}
}

// FuzzNormalizeSlackToken: any answer from the token endpoint gives 200 or
// 400 and, when rewritten, JSON.
func FuzzNormalizeSlackToken(f *testing.F) {
	f.Add([]byte(`{"ok":true,"authed_user":{"access_token":"xoxp-1","scope":"a,b"}}`))
	f.Add([]byte(`{"ok":false,"error":"invalid_refresh_token"}`))
	f.Add([]byte(`{"ok":true,"authed_user":{"access_token":7,"scope":[]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		status, out := normalizeSlackToken(raw)
		if status != http.StatusOK && status != http.StatusBadRequest {
			t.Fatalf("status %d", status)
		}
		if string(out) != string(raw) && !json.Valid(out) {
			t.Fatalf("rewritten answer is not JSON: %q", out)
		}
	})
}
