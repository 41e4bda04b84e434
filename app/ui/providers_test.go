package ui_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

func TestProvidersEmptyAndPresets(t *testing.T) {
	_, b := signedIn(t)
	r := b.get("/ui/providers")
	wantStatus(t, "providers", r, http.StatusOK)
	wantIn(t, "empty providers", r.body, "No providers yet.", "Add GitHub to let tools act as you", `href="/ui/providers/add/github"`,
		`href="/ui/providers/add/google"`, `href="/ui/providers/add/slack"`, `href="/ui/providers/add/microsoft"`, `href="/ui/providers/add/custom"`)
	for preset, want := range map[string][]string{
		"github":    {"Add GitHub", "https://github.com/settings/applications/new", "Authorization callback URL", "http://127.0.0.1:8765/acme/oauth/external_callback/github"},
		"google":    {"Add Google", "Authorized redirect URIs", "/acme/oauth/external_callback/google", "openid email profile"},
		"slack":     {"Add Slack", "Slack accepts only https addresses", "/acme/oauth/external_callback/slack"},
		"microsoft": {"Add Microsoft", "Certificates &amp; secrets", "/acme/oauth/external_callback/microsoft"},
		"custom":    {"Add a service", "Authorization URL", "Token URL", "API addresses", `data-callback-base="http://127.0.0.1:8765/acme/oauth/external_callback/"`},
	} {
		r := b.get("/ui/providers/add/" + preset)
		wantStatus(t, preset, r, http.StatusOK)
		wantIn(t, "add "+preset, r.body, want...)
		wantIn(t, "add "+preset, r.body, `data-copy="callback-url"`, `type="password"`)
	}
	wantStatus(t, "unknown preset", b.get("/ui/providers/add/gitlab"), http.StatusNotFound)
}

func TestAddProvider(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	b.get("/ui/providers/add/github")
	r := b.form("/ui/providers", "preset", "github", "client_id", "gh-id", "client_secret", testClientSecret)
	wantRedirect(t, "add github", r, "/ui/providers/github")
	p, err := f.v.GetOAuthProvider(ctx, "acme", "github")
	if err != nil || p.ClientSecret != testClientSecret || p.ClientID != "gh-id" || p.Preset != "github" {
		t.Fatalf("stored provider: %+v, %v", p.Name, err)
	}
	r = b.get("/ui/providers/github")
	wantIn(t, "provider page", r.body, "GitHub added.", "http://127.0.0.1:8765/acme/oauth/external_callback/github", "gh-id", "Set</span>",
		"Delete provider github</button>", "Replace secret")
	r = b.get("/ui/providers")
	wantIn(t, "list", r.body, `href="/ui/providers/github"`, "GitHub preset", "Added")

	// Bad input: the error next to its field, the values kept, the secret
	// never sent back.
	custom := func(kv ...string) []string {
		base := map[string]string{"preset": "custom", "provider_name": "gitlab", "client_id": "gl-id", "client_secret": testClientSecret,
			"authorization_url": "https://gitlab.example.com/oauth/authorize", "token_url": "https://gitlab.example.com/oauth/token",
			"api_origins": "https://gitlab.example.com"}
		for i := 0; i+1 < len(kv); i += 2 {
			base[kv[i]] = kv[i+1]
		}
		var out []string
		for k, v := range base {
			out = append(out, k, v)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		form  []string
		field string // element id
		want  string
		kept  string
	}{
		{"no name", custom("provider_name", ""), "f-provider_name", "Choose a name", `value="gl-id"`},
		{"bad name", custom("provider_name", "Git Lab"), "f-provider_name", "Use lowercase letters", `value="Git Lab"`},
		{"taken name", custom("provider_name", "github"), "f-provider_name", "has a provider called github already", `value="gl-id"`},
		{"no client id", custom("client_id", ""), "f-client_id", "Paste the client ID", `value="gitlab"`},
		{"no secret", custom("client_secret", ""), "f-client_secret", "Paste the client secret", `value="gl-id"`},
		{"no authorization url", custom("authorization_url", ""), "f-authorization_url", "Paste the address", `value="gl-id"`},
		{"http authorization url", custom("authorization_url", "http://gitlab.example.com/a"), "f-authorization_url", "Must use https",
			`value="http://gitlab.example.com/a"`},
		{"token url with user info", custom("token_url", "https://u:p@gitlab.example.com/t"), "f-token_url", "Must not contain user info", `value="gl-id"`},
		{"bad scopes", custom("scopes", `read "all"`), "f-scopes", "quote or backslash", `value="gl-id"`},
		{"no origins", custom("api_origins", ""), "f-api_origins", "Add the address of the service’s API", `value="gl-id"`},
		{"origin with a path", custom("api_origins", "https://gitlab.example.com/api"), "f-api_origins", "without a path", "https://gitlab.example.com/api</textarea>"},
	} {
		r := b.form("/ui/providers", c.form...)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if !fieldError(r.body, c.field, c.want) {
			t.Errorf("%s: no error %q under %s", c.name, c.want, c.field)
		}
		if !strings.Contains(r.body, c.kept) {
			t.Errorf("%s: %s not kept", c.name, c.kept)
		}
		if c.name != "no secret" && !strings.Contains(r.body, "paste it again") {
			t.Errorf("%s: the form does not ask for the secret again", c.name)
		}
	}
	if _, err := f.v.GetOAuthProvider(ctx, "acme", "gitlab"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("a refused form added gitlab: %v", err)
	}
	// Right: a custom provider.
	r = b.form("/ui/providers", custom("scopes", "read_user api")...)
	wantRedirect(t, "add custom", r, "/ui/providers/gitlab")
	if p, err := f.v.GetOAuthProvider(ctx, "acme", "gitlab"); err != nil || !slices.Equal(p.Scopes, []string{"read_user", "api"}) ||
		p.Preset != "" || !slices.Equal(p.APIOrigins, []string{"https://gitlab.example.com"}) {
		t.Fatalf("gitlab: %+v %v", p, err)
	}
	// Without the CSRF token, nothing is added.
	if r := b.post("/ui/providers", map[string][]string{"preset": {"slack"}, "client_id": {"x"}, "client_secret": {"y"}}); r.status != http.StatusForbidden {
		t.Errorf("add without CSRF: %d", r.status)
	}
	if _, err := f.v.GetOAuthProvider(ctx, "acme", "slack"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("a form without CSRF added slack")
	}
	neverShown(t, f, b, testClientSecret)
}

func TestEditProvider(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	addGitHub(t, f, "acme")
	oauthToken(t, f, "acme", owner(t, f, "acme"), "github", true, f.clock.Now(), "connected")
	r := b.get("/ui/providers/github")
	wantIn(t, "provider", r.body, "1 connected", "disconnects the 1 account connected now", `value="gh-client"`, `value="read:user"`)

	// Scopes are not a destination: no secret needed, nobody disconnected.
	wantRedirect(t, "scopes", b.form("/ui/providers/github", "client_id", "gh-client", "scopes", "read:user repo"), "/ui/providers/github")
	wantIn(t, "after scopes", b.get("/ui/providers/github").body, "GitHub saved.")
	if p, _ := f.v.GetOAuthProvider(ctx, "acme", "github"); !slices.Equal(p.Scopes, []string{"read:user", "repo"}) {
		t.Fatalf("scopes: %v", p.Scopes)
	}
	// Nothing changed.
	wantRedirect(t, "same", b.form("/ui/providers/github", "client_id", "gh-client", "scopes", "read:user repo"), "/ui/providers/github")
	wantIn(t, "same", b.get("/ui/providers/github").body, "Nothing to save")

	// The client id is: the secret again, and it says what it drops.
	r = b.form("/ui/providers/github", "client_id", "gh-other", "scopes", "read:user repo")
	wantStatus(t, "client id without secret", r, http.StatusUnprocessableEntity)
	if !fieldError(r.body, "f-client_secret", "Paste the client secret again") || !strings.Contains(r.body, "This change disconnects 1 account.") {
		t.Errorf("no secret error next to the field:\n%s", r.body)
	}
	if !strings.Contains(r.body, `value="gh-other"`) {
		t.Error("the typed client id is not kept")
	}
	if p, _ := f.v.GetOAuthProvider(ctx, "acme", "github"); p.ClientID != "gh-client" {
		t.Fatal("changed without the secret")
	}
	r = b.form("/ui/providers/github", "client_id", "gh-other", "scopes", "read:user repo", "client_secret", testClientSecret+"2")
	wantRedirect(t, "client id with secret", r, "/ui/providers/github")
	wantIn(t, "after destination change", b.get("/ui/providers/github").body, "1 connected account was disconnected")
	if p, _ := f.v.GetOAuthProvider(ctx, "acme", "github"); p.ClientID != "gh-other" || p.ClientSecret != testClientSecret+"2" {
		t.Fatalf("not changed: %s", p.ClientID)
	}
	// Bad input on the edit form.
	r = b.form("/ui/providers/github", "client_id", "", "scopes", "read:user")
	wantStatus(t, "empty client id", r, http.StatusUnprocessableEntity)
	if !fieldError(r.body, "f-client_id", "Paste the client ID") || !strings.Contains(r.body, `value="read:user"`) {
		t.Error("empty client id: no error or the scopes not kept")
	}

	// Replace the secret.
	r = b.form("/ui/providers/github/secret", "new_client_secret", " ")
	wantStatus(t, "empty secret", r, http.StatusUnprocessableEntity)
	if !fieldError(r.body, "f-new_client_secret", "Paste the new client secret.") {
		t.Error("empty new secret: no error next to the field")
	}
	wantRedirect(t, "replace", b.form("/ui/providers/github/secret", "new_client_secret", testClientSecret+"3"), "/ui/providers/github")
	if p, _ := f.v.GetOAuthProvider(ctx, "acme", "github"); p.ClientSecret != testClientSecret+"3" {
		t.Fatal("secret not replaced")
	}
	wantIn(t, "after replace", b.get("/ui/providers/github").body, "The client secret of GitHub was replaced.")
	neverShown(t, f, b, testClientSecret)
}

func TestDeleteProvider(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	addGitHub(t, f, "acme")
	oauthToken(t, f, "acme", owner(t, f, "acme"), "github", true, f.clock.Now(), "connected")
	r := b.get("/ui/providers/github")
	wantIn(t, "danger zone", r.body, "Type github to confirm", "Delete provider github and its 1 connection</button>")
	wantStatus(t, "wrong", b.form("/ui/providers/github/delete", "confirm", "GitHub"), http.StatusUnprocessableEntity)
	if !fieldError(b.last, "f-confirm", "That is not github.") || !strings.Contains(b.last, `value="GitHub"`) {
		t.Error("wrong confirmation: no error or not kept")
	}
	wantRedirect(t, "delete", b.form("/ui/providers/github/delete", "confirm", "github"), "/ui/providers")
	wantIn(t, "after delete", b.get("/ui/providers").body, "Provider GitHub deleted, with its 1 connection.", "No providers yet.")
	if _, err := f.v.GetOAuthProvider(ctx, "acme", "github"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("not deleted")
	}
}

// TestProvidersOfAnotherTenant: a provider of beta (not the current
// tenant) cannot be seen, changed or deleted through acme's pages.
func TestProvidersOfAnotherTenant(t *testing.T) {
	f, b := signedIn(t)
	if _, err := f.ops.CreateProvider(t.Context(), "beta", apiv1.ProviderRequest{Preset: "slack", ClientID: "beta-slack", ClientSecret: testClientSecret}); err != nil {
		t.Fatal(err)
	}
	b.get("/ui/providers")
	for _, c := range []struct {
		path string
		form []string
	}{
		{"/ui/providers/slack", nil},
		{"/ui/providers/slack", []string{"client_id", "evil", "client_secret", "evil"}},
		{"/ui/providers/slack/secret", []string{"new_client_secret", "evil"}},
		{"/ui/providers/slack/delete", []string{"confirm", "slack"}},
		{"/ui/providers/NOT%20A%20NAME", nil},
	} {
		var r response
		if c.form == nil {
			r = b.get(c.path)
		} else {
			r = b.form(c.path, c.form...)
		}
		if r.status != http.StatusNotFound || !strings.Contains(r.body, "Provider not found") {
			t.Errorf("%s %v: %d", c.path, c.form != nil, r.status)
		}
	}
	if p, err := f.v.GetOAuthProvider(t.Context(), "beta", "slack"); err != nil || p.ClientID != "beta-slack" || p.ClientSecret != testClientSecret {
		t.Fatalf("beta's provider changed: %v", err)
	}
	// Switching to beta shows it.
	wantRedirect(t, "switch", b.form("/ui/tenant", "tenant", "beta", "back", "/ui/providers/github"), "/ui/providers")
	wantIn(t, "beta", b.get("/ui/providers/slack").body, "beta-slack")
	neverShown(t, f, b, testClientSecret)
}
