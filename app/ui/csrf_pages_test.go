package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// TestEveryFormNeedsCSRF: every form of the pages is refused (403, "This
// form has expired", nothing changed) without the session's CSRF token or
// with a wrong one.
func TestEveryFormNeedsCSRF(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	addGitHub(t, f, "acme")
	tok, err := f.ops.IssueUserToken(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ops.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweather", testAPIKey); err != nil {
		t.Fatal(err)
	}
	if err := f.v.CreateSession(ctx, vault.Session{ID: "sid-1", TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	ref := vault.SessionHash("sid-1")
	forms := []struct {
		path   string
		fields url.Values
	}{
		{"/ui/tenants", url.Values{"name": {"Evil"}}},
		{"/ui/tenants/acme/rename", url.Values{"name": {"Evil"}}},
		{"/ui/tenants/acme/secret", nil},
		{"/ui/tenants/acme/delete", url.Values{"confirm": {"acme"}}},
		{"/ui/tenant", url.Values{"tenant": {"beta"}}},
		{"/ui/providers", url.Values{"preset": {"slack"}, "client_id": {"x"}, "client_secret": {"y"}}},
		{"/ui/providers/github", url.Values{"client_id": {"evil"}, "client_secret": {"evil"}}},
		{"/ui/providers/github/secret", url.Values{"new_client_secret": {"evil"}}},
		{"/ui/providers/github/delete", url.Values{"confirm": {"github"}}},
		{"/ui/connections/local-owner/connect/github", nil},
		{"/ui/connections/local-owner/disconnect/github", nil},
		{"/ui/connections/local-owner/keys", url.Values{"provider_name": {"openweather"}, "api_key_value": {"evil"}}},
		{"/ui/connections/local-owner/keys/openweather/delete", nil},
		{"/ui/users", url.Values{"user_id_from_host_app": {"mallory"}}},
		{"/ui/users/alice/tokens", nil},
		{"/ui/users/alice/tokens/" + tok.TokenID + "/revoke", nil},
		{"/ui/users/alice/delete", url.Values{"confirm": {"alice"}}},
		{"/ui/sessions/" + ref + "/end", nil},
		{"/ui/logout", nil},
	}
	good := b.lastCSRF()
	for _, fm := range forms {
		for name, csrf := range map[string][]string{"missing": nil, "wrong": {good[:len(good)-2] + "xx"}, "two": {good, good}} {
			v := url.Values{}
			for k, vs := range fm.fields {
				v[k] = vs
			}
			if csrf != nil {
				v["csrf"] = csrf
			}
			r := b.post(fm.path, v)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
				t.Errorf("POST %s with the CSRF token %s: %d", fm.path, name, r.status)
			}
		}
	}
	// Nothing changed.
	if tn, _ := f.v.GetTenant(ctx, "acme"); tn.Name != "Acme" {
		t.Error("renamed")
	}
	if p, err := f.v.GetOAuthProvider(ctx, "acme", "github"); err != nil || p.ClientID != "gh-client" || p.ClientSecret != testClientSecret {
		t.Error("provider changed")
	}
	if got, _ := f.v.GetCredential(ctx, "acme", owner(t, f, "acme"), vault.CredentialAPIKey, "openweather"); string(got) != testAPIKey {
		t.Error("key changed")
	}
	if ts, _ := f.v.ListTokens(ctx, "acme", ""); len(ts) != 1 || ts[0].Revoked {
		t.Error("tokens changed")
	}
	if _, err := f.v.GetSession(ctx, "acme", "sid-1"); err != nil {
		t.Error("session ended")
	}
	if r := b.get("/ui/"); r.status != http.StatusOK {
		t.Error("signed out")
	}
}
