package oauth

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/frontend"
)

// wantsUILook checks a page this package serves: it links the admin UI's
// stylesheet (one of the embedded assets) and has no inline style or
// script, and its CSP allows that stylesheet and no script, inline style
// or framing, with the given form-action.
func wantsUILook(t *testing.T, what, body string, h http.Header, formAction string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action " + formAction} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
		t.Errorf("%s: CSP %q allows scripts or inline code", what, csp)
	}
	m := regexp.MustCompile(`<link rel="stylesheet" href="/ui/static/([a-z.]+)\?v=[0-9a-f]+">`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 || m[0][1] != "app.css" {
		t.Fatalf("%s: stylesheets %q, want the one app.css", what, m)
	}
	if _, err := fs.Stat(frontend.Static(), m[0][1]); err != nil {
		t.Fatalf("%s: the linked stylesheet is not among the served assets: %v", what, err)
	}
	for _, bad := range []string{"<script", "<style", " style="} {
		if strings.Contains(strings.ToLower(body), bad) {
			t.Errorf("%s: the page has %q", what, bad)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(body) {
		t.Errorf("%s: the page has an event handler attribute", what)
	}
	if !strings.Contains(body, `class="message-brand"`) || !strings.Contains(body, `class="logo"`) {
		t.Errorf("%s: no Plexus logo", what)
	}
}

// TestPagesLookLikeTheUI: the consent page, the page a connection ends on
// and an error page share the admin UI's stylesheet and look; the consent
// page's form may post only to Plexus and the provider's sign-in origin;
// the success page tells the person to go back to the chat.
func TestPagesLookLikeTheUI(t *testing.T) {
	e := newEnv(t)
	consent := e.consentURL(e.m, e.user, "gh", nil)
	status, body, h := e.get(consent)
	if status != http.StatusOK {
		t.Fatalf("consent page: %d", status)
	}
	wantsUILook(t, "consent page", body, h, "'self' "+e.fake.URL)
	for _, want := range []string{`class="btn btn-primary"`, "Approve", "Deny", `class="outside-host"`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	cb := e.fake.Authorize(t, e.browser.Approve(t, consent))
	status, body, h = e.get(cb)
	if status != http.StatusOK {
		t.Fatalf("callback: %d", status)
	}
	wantsUILook(t, "success page", body, h, "'none'")
	for _, want := range []string{`class="pill pill-ok"`, "<h1>Connected</h1>", "go back to your chat"} {
		if !strings.Contains(body, want) {
			t.Errorf("success page lacks %q", want)
		}
	}

	status, body, h = e.get(cb) // used: an error page
	if status != http.StatusBadRequest {
		t.Fatalf("replayed callback: %d", status)
	}
	wantsUILook(t, "error page", body, h, "'none'")
	if !strings.Contains(body, `class="pill pill-bad"`) || !strings.Contains(body, "already used") {
		t.Errorf("error page: %q", body)
	}
}
