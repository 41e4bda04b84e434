package ui_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

func TestTenantRename(t *testing.T) {
	f, b := signedIn(t)
	b.get("/ui/tenants/acme")
	for _, c := range []struct{ name, typed, want string }{
		{"empty", "  ", "Enter a name"},
		{"control", "a\x01b", "Use letters, digits"},
		{"too long", strings.Repeat("x", 201), "at most 200"},
	} {
		r := b.form("/ui/tenants/acme/rename", "name", c.typed)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if !fieldError(r.body, "f-name", c.want) {
			t.Errorf("%s: no error %q under the name field", c.name, c.want)
		}
	}
	wantStatus(t, "kept", b.form("/ui/tenants/acme/rename", "name", "Acme\x01"), http.StatusUnprocessableEntity)
	if !strings.Contains(b.last, "value=\"Acme\x01\"") {
		t.Error("the typed name is not kept")
	}
	r := b.form("/ui/tenants/acme/rename", "name", "Acme Two")
	wantRedirect(t, "rename", r, "/ui/tenants/acme")
	if tn, _ := f.v.GetTenant(t.Context(), "acme"); tn.Name != "Acme Two" {
		t.Fatalf("not renamed: %+v", tn)
	}
	wantIn(t, "after rename", b.get("/ui/tenants/acme").body, "Tenant renamed to Acme Two.")
	// Another tenant's page, an unknown one, a malformed one.
	for _, p := range []string{"/ui/tenants/nope/rename", "/ui/tenants/NO/rename", "/ui/tenants/api/rename"} {
		wantStatus(t, p, b.form(p, "name", "X"), http.StatusNotFound)
	}
	// Without the CSRF token nothing changes.
	if r := b.post("/ui/tenants/beta/rename", map[string][]string{"name": {"Hacked"}}); r.status != http.StatusForbidden {
		t.Errorf("rename without CSRF: %d", r.status)
	}
	if tn, _ := f.v.GetTenant(t.Context(), "beta"); tn.Name != "Beta" {
		t.Fatalf("a refused form renamed beta: %+v", tn)
	}
}

var hostSecretRE = regexp.MustCompile(`value="(phs_[A-Z2-7]+)"`)

func TestHostAppSecretShownOnce(t *testing.T) {
	f, b := signedIn(t)
	r := b.get("/ui/tenants/acme")
	wantIn(t, "tenant page", r.body, "Host-app secret", "most people can ignore it", "Make a new host-app secret")
	if hostSecretRE.MatchString(r.body) {
		t.Fatal("a secret on the page before one was made")
	}
	r = b.form("/ui/tenants/acme/secret")
	wantStatus(t, "rotate", r, http.StatusOK)
	m := hostSecretRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no secret shown:\n%s", r.body)
	}
	wantIn(t, "the secret", r.body, "You will not see this again.", `readonly`, `data-copy="host-app-secret"`)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the answer with a secret may be cached: %q", r.header.Get("Cache-Control"))
	}
	if ok, err := f.v.CheckHostAppSecret(t.Context(), "acme", m[1]); err != nil || !ok {
		t.Fatalf("the shown secret does not work: %v %v", ok, err)
	}
	// Once: not on the next page, not in the cookie, not in the log.
	if strings.Contains(b.get("/ui/tenants/acme").body, m[1]) {
		t.Error("the secret shows again")
	}
	for _, c := range b.c.Jar.Cookies(mustURL(t, f.srv.URL+"/ui/")) {
		if strings.Contains(c.Value, m[1]) {
			t.Error("the secret is in a cookie")
		}
	}
	if strings.Contains(f.logs.String(), m[1]) {
		t.Error("the secret is in the log")
	}
	// A second one replaces it.
	r = b.form("/ui/tenants/acme/secret")
	m2 := hostSecretRE.FindStringSubmatch(r.body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatal("no new secret")
	}
	if ok, _ := f.v.CheckHostAppSecret(t.Context(), "acme", m[1]); ok {
		t.Error("the old secret still works")
	}
	wantStatus(t, "unknown tenant", b.form("/ui/tenants/nope/secret"), http.StatusNotFound)
	if r := b.post("/ui/tenants/acme/secret", nil); r.status != http.StatusForbidden {
		t.Errorf("rotate without CSRF: %d", r.status)
	}
}

func TestDeleteTenantSaysWhatGoes(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		if _, err := f.ops.IssueUserToken(ctx, "acme", u); err != nil {
			t.Fatal(err)
		}
	}
	addGitHub(t, f, "acme")
	oauthToken(t, f, "acme", "alice", "github", true, f.clock.Now().Add(-1), "connected")
	if _, err := f.ops.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweather", testAPIKey); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/tenants/acme")
	wantIn(t, "tenant page", r.body, "Delete tenant acme and its 3 users, 1 provider, 1 connection, 1 API key</button>",
		"3 users, 1 provider, 1 connection and 1 API key")
	wantStatus(t, "wrong confirm", b.form("/ui/tenants/acme/delete", "confirm", "beta"), http.StatusUnprocessableEntity)
	if !fieldError(b.last, "f-confirm", "That is not acme.") || !strings.Contains(b.last, `value="beta"`) {
		t.Error("the wrong confirmation is not shown next to the field, or not kept")
	}
	wantRedirect(t, "delete", b.form("/ui/tenants/acme/delete", "confirm", "acme"), "/ui/tenants")
	wantIn(t, "after delete", b.get("/ui/tenants").body, "Tenant Acme deleted, with its 3 users, 1 provider, 1 connection and 1 API key.")
	if _, err := f.v.GetTenant(ctx, "acme"); err == nil {
		t.Fatal("not deleted")
	}
	if _, err := f.v.GetTenant(ctx, "beta"); err != nil {
		t.Fatalf("beta went too: %v", err)
	}
	neverShown(t, f, b, testClientSecret, testAPIKey)
	if tn, _ := f.v.ListTenants(ctx); len(tn) != 1 {
		t.Fatalf("tenants left: %+v", tn)
	}
}
