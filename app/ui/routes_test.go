package ui_test

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/vault"
)

// The route inventory: every page and form of the admin UI, read from the
// source of routes() (ui.go) and NewLocked (unlock.go), so a page or form
// added later is checked here without anyone remembering to.

var routeRE = regexp.MustCompile(`m\.Handle(?:Func)?\("(GET|POST) (/ui[^"]*)"`)

// routesIn returns the "METHOD /path" patterns a source file registers.
func routesIn(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range routeRE.FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1]+" "+m[2])
	}
	if len(out) < 4 {
		t.Fatalf("%s: found only %d routes; has the way routes are registered changed?", file, len(out))
	}
	return out
}

// fill puts a value into each {wildcard} of a pattern's path.
func fill(t *testing.T, path string, values map[string]string) string {
	t.Helper()
	path = strings.ReplaceAll(path, "{$}", "")
	return regexp.MustCompile(`\{([a-z]+)\}`).ReplaceAllStringFunc(path, func(w string) string {
		v, ok := values[w[1:len(w)-1]]
		if !ok {
			t.Fatalf("no test value for %s in %s", w, path)
		}
		return url.PathEscape(v)
	})
}

// inventoryFixture is signedIn with something behind every wildcard: the
// GitHub provider, a user alice with a token, a session, a saved key, an
// HTTP tool, an upstream server.
func inventoryFixture(t *testing.T) (*fixture, *browser, map[string]string) {
	t.Helper()
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
	// An HTTP tool with the {name} every page gets.
	if _, err := f.ops.AddHTTPTool(ctx, "acme", apiv1.HTTPToolDefinition{Name: "github", Description: "GitHub's status",
		URL: "https://www.githubstatus.com/api/v2/status.json"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ops.AddUpstream(ctx, "acme", apiv1.UpstreamRequest{Name: "github", Command: "github-mcp-server stdio"}); err != nil {
		t.Fatal(err)
	}
	b.get("/ui/")
	return f, b, map[string]string{
		"id": "acme", "name": "github", "preset": "github", "user": "alice", "provider": "github",
		"token": tok.TokenID, "ref": vault.SessionHash("sid-1"),
	}
}

// inlineRE finds inline code the CSP would block (and a page must not need).
var inlineRE = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script>|<style|\sstyle=|\son[a-z]+=|javascript:`)

// TestEveryPage: every GET page of the full UI answers 200 to a signed-in
// browser with the UI's CSP and no inline code, and 403 with the way in to
// one without a session (the login link and the static files excepted).
func TestEveryPage(t *testing.T) {
	f, b, values := inventoryFixture(t)
	anon := f.browser(t)
	var pages int
	for _, rt := range routesIn(t, "ui.go") {
		method, pattern, _ := strings.Cut(rt, " ")
		if method != http.MethodGet {
			continue
		}
		path := fill(t, pattern, values)
		switch pattern {
		case "/ui/login": // TestLogin
			continue
		case "/ui":
			if r := b.get(path); r.status/100 != 3 || r.header.Get("Location") != "/ui/" {
				t.Errorf("GET /ui: %d to %q, want a redirect to /ui/", r.status, r.header.Get("Location"))
			}
			continue
		case "/ui/static/":
			for _, asset := range []string{"app.css", "app.js", "icon.svg"} {
				if r := anon.get(path + asset); r.status != http.StatusOK {
					t.Errorf("GET %s%s without a session: %d", path, asset, r.status)
				}
			}
			continue
		}
		pages++
		r := b.get(path)
		if r.status != http.StatusOK {
			t.Errorf("GET %s (%s): %d", path, pattern, r.status)
			continue
		}
		if csp := r.header.Get("Content-Security-Policy"); csp != ui.ContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		if m := inlineRE.FindString(r.body); m != "" {
			t.Errorf("GET %s: inline code %q", path, m)
		}
		if !strings.Contains(r.body, `<link rel="stylesheet" href="/ui/static/app.css?v=`) {
			t.Errorf("GET %s: not the UI's stylesheet", path)
		}
		if r := anon.get(path); r.status != http.StatusForbidden || !strings.Contains(r.body, "Open Plexus to sign in") {
			t.Errorf("GET %s without a session: %d, want 403 and the way in", path, r.status)
		}
	}
	if pages < 12 {
		t.Fatalf("checked only %d pages", pages)
	}
	neverShown(t, f, b, testClientSecret, testAPIKey)
}

// TestEveryFormRefusesBadRequests: every POST form of the full UI and of
// the locked UI refuses, without changing anything, a body without the
// session's CSRF token, with a wrong one, with it twice, a body that is no
// web form, a body over the size limit, and any form without a session.
// (TestEveryFormNeedsCSRF checks the records stay unchanged; each page's
// own tests check its fields' bad input.)
func TestEveryFormRefusesBadRequests(t *testing.T) {
	f, b, values := inventoryFixture(t)
	lf, l := lockedFixture(t, &fakeUnlocker{want: "correct horse battery staple"})
	lb := lf.browser(t)
	lockedLogin(t, lb, l)
	type ui struct {
		file string
		b    *browser
		anon *browser
	}
	var forms []string
	for _, u := range []ui{{"ui.go", b, f.browser(t)}, {"unlock.go", lb, lf.browser(t)}} {
		good := u.b.lastCSRF()
		for _, rt := range routesIn(t, u.file) {
			method, pattern, _ := strings.Cut(rt, " ")
			if method != http.MethodPost {
				continue
			}
			path := fill(t, pattern, values)
			forms = append(forms, u.file+" "+pattern)
			bodies := []struct {
				name, ctype, body string
				status            int
				want              string
			}{
				{"no CSRF token", "application/x-www-form-urlencoded", "name=Evil&confirm=acme", http.StatusForbidden, "This form has expired"},
				{"a wrong CSRF token", "application/x-www-form-urlencoded", "csrf=" + good[:len(good)-2] + "xx&name=Evil", http.StatusForbidden, "This form has expired"},
				{"an empty CSRF token", "application/x-www-form-urlencoded", "csrf=&name=Evil", http.StatusForbidden, "This form has expired"},
				{"the CSRF token twice", "application/x-www-form-urlencoded", "csrf=" + good + "&csrf=" + good, http.StatusForbidden, "This form has expired"},
				{"the CSRF token in the URL", "application/x-www-form-urlencoded", "name=Evil", http.StatusForbidden, "This form has expired"},
				{"JSON", "application/json", `{"csrf":"` + good + `"}`, http.StatusUnsupportedMediaType, "not sent as a web form"},
				{"a huge body", "application/x-www-form-urlencoded", "csrf=" + good + "&name=" + strings.Repeat("x", 1<<20), http.StatusRequestEntityTooLarge, "too large"},
				{"bad escapes", "application/x-www-form-urlencoded", "csrf=" + good + "&name=%zz", http.StatusBadRequest, "could not be read"},
			}
			for _, bd := range bodies {
				target := path
				if bd.name == "the CSRF token in the URL" {
					target += "?csrf=" + good
				}
				r := u.b.do(http.MethodPost, target, bd.body, map[string]string{"Content-Type": bd.ctype})
				if r.status != bd.status || !strings.Contains(r.body, bd.want) {
					t.Errorf("POST %s (%s) with %s: %d, want %d and %q", path, u.file, bd.name, r.status, bd.status, bd.want)
				}
			}
			if r := u.anon.do(http.MethodPost, path, "csrf="+good, nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "not signed in") {
				t.Errorf("POST %s (%s) without a session: %d", path, u.file, r.status)
			}
		}
	}
	// Nothing changed, and both browsers are still signed in.
	if tn, _ := f.v.GetTenant(t.Context(), "acme"); tn.Name != "Acme" {
		t.Error("a refused form renamed the tenant")
	}
	if _, err := f.v.GetOAuthProvider(t.Context(), "acme", "github"); err != nil {
		t.Error("a refused form deleted the provider")
	}
	if _, err := f.v.GetSession(t.Context(), "acme", "sid-1"); err != nil {
		t.Error("a refused form ended the session")
	}
	if r := b.get("/ui/"); r.status != http.StatusOK {
		t.Error("a refused form signed the browser out")
	}
	if r := lb.get("/ui/"); r.status != http.StatusOK || !strings.Contains(r.body, "Unlock Plexus") {
		t.Error("a refused form signed the locked browser out")
	}
	for _, want := range []string{"ui.go /ui/tools", "ui.go /ui/claude-desktop", "ui.go /ui/key/passphrase", "unlock.go /ui/unlock", "unlock.go /ui/setup/key-file"} {
		if !slices.Contains(forms, want) {
			t.Errorf("the inventory missed %s (found %v)", want, forms)
		}
	}
}
