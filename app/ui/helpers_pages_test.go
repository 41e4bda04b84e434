package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// Helpers of the page tests: a signed-in browser on tenant acme (with a
// second tenant, beta, whose records must stay out of reach), and checks
// that a secret never comes back.

// Secrets the page tests send; none may appear in any answer or the log.
const (
	testClientSecret = "client-secret-NEVER-SHOWN-51f0"
	testAPIKey       = "owm-key-NEVER-SHOWN-0123456789-7c2e"
)

// signedIn is a fixture with tenants acme (current) and beta, and a
// signed-in browser on a page with a CSRF token.
func signedIn(t *testing.T) (*fixture, *browser) {
	t.Helper()
	f := newFixture(t)
	for _, id := range []string{"acme", "beta"} {
		if _, err := f.ops.CreateTenant(t.Context(), apiv1.CreateTenantRequest{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
			t.Fatal(err)
		}
	}
	b := f.browser(t)
	b.login()
	return f, b
}

// form posts fields with the last page's CSRF token.
func (b *browser) form(path string, kv ...string) response {
	b.t.Helper()
	v := url.Values{"csrf": {b.lastCSRF()}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return b.post(path, v)
}

// lastCSRF is the CSRF token of the last page that had one.
func (b *browser) lastCSRF() string {
	b.t.Helper()
	for i := len(b.all) - 1; i >= 0; i-- {
		if m := csrfRE.FindStringSubmatch(b.all[i]); m != nil {
			return m[1]
		}
	}
	b.t.Fatal("no page with a CSRF token yet")
	return ""
}

// wantStatus fails unless r has the status, showing the body.
func wantStatus(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
	}
}

// wantRedirect fails unless r is a 303 to path.
func wantRedirect(t *testing.T, what string, r response, path string) {
	t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != path {
		t.Fatalf("%s: %d %q, want 303 to %s\n%s", what, r.status, r.header.Get("Location"), path, r.body)
	}
}

// wantIn fails unless every want is in body.
func wantIn(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// fieldError reports whether the page shows msg as the error of the field
// with element id (right under it, the field marked invalid).
func fieldError(body, id, msg string) bool {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return false
	}
	rest := body[i:]
	errAt := strings.Index(rest, `id="`+id+`-error"`)
	return errAt >= 0 && strings.Contains(rest[:errAt], `aria-invalid="true"`) &&
		strings.Contains(rest[errAt:min(len(rest), errAt+600)], msg)
}

// neverShown fails if a secret is in any answer the browser got or in
// the log.
func neverShown(t *testing.T, f *fixture, b *browser, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for i, body := range b.all {
			if strings.Contains(body, s) {
				t.Errorf("secret %.12q… is in answer %d", s, i)
			}
		}
		if strings.Contains(f.logs.String(), s) {
			t.Errorf("secret %.12q… is in the log", s)
		}
	}
}

// oauthToken stores a user's OAuth connection the way the OAuth engine
// does (its token-set JSON), so the pages can show it.
func oauthToken(t *testing.T, f *fixture, tenant, userID, provider string, refresh bool, expiry time.Time, status string) {
	t.Helper()
	rt := ""
	if refresh {
		rt = "refresh-token-NEVER-SHOWN"
	}
	val := `{"access_token":"access-token-NEVER-SHOWN","refresh_token":"` + rt + `","token_type":"bearer","expiry":"` +
		expiry.UTC().Format(time.RFC3339) + `","scopes":["read:user"],"status":"` + status + `","updated_at":"` + f.clock.Now().UTC().Format(time.RFC3339) + `"}`
	if err := f.v.PutCredential(context.Background(), tenant, userID, vault.CredentialOAuth, provider, []byte(val)); err != nil {
		t.Fatal(err)
	}
}

// owner is the local owner of a tenant (created if needed).
func owner(t *testing.T, f *fixture, tenant string) string {
	t.Helper()
	u, err := f.v.EnsureLocalOwner(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// addGitHub adds the GitHub preset to a tenant.
func addGitHub(t *testing.T, f *fixture, tenant string) {
	t.Helper()
	if _, err := f.ops.CreateProvider(t.Context(), tenant, apiv1.ProviderRequest{Preset: "github", ClientID: "gh-client", ClientSecret: testClientSecret}); err != nil {
		t.Fatal(err)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
