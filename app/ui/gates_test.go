package ui_test

import (
	"encoding/base32"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/gate"
	"github.com/plexus-mcp/plexus/vault"
)

func gateForm(csrf, action string, kv ...string) url.Values {
	f := url.Values{"csrf": {csrf}, "tenant": {"acme"}, "action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// TestGatesPage: adding a gate shows its QR code (inline SVG, so the CSP
// needs no data: images) and key once; the key's codes open the gate; the
// page afterwards never shows the key; settings, a new QR code, removal
// and the tool-search switch work, with bad input answered in words.
func TestGatesPage(t *testing.T) {
	f := newFixture(t, withOps(t, nil))
	ctx := t.Context()
	if _, err := f.v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()
	r := b.get("/ui/gates")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Code-protected tools") || !strings.Contains(r.body, "None yet.") ||
		!strings.Contains(r.body, `<option value="github"`) {
		t.Fatalf("gates page: %d\n%s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); csp != ui.ContentSecurityPolicy || strings.Contains(csp, "data:") {
		t.Fatalf("CSP = %q", csp)
	}
	if tools := b.get("/ui/tools"); !strings.Contains(tools.body, `href="/ui/gates"`) {
		t.Error("the Tools page does not link to the gates page")
	}
	csrf := b.csrf()

	// Bad minutes: the form comes back with the error and the values.
	r = b.post("/ui/gates", gateForm(csrf, "add", "tool_set", "github", "unlock_for", "0", "cool_off", "15"))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "from 1 to 1440") {
		t.Fatalf("bad minutes: %d\n%s", r.status, r.body)
	}

	r = b.post("/ui/gates", gateForm(csrf, "add", "tool_set", "github", "unlock_for", "30", "cool_off", "60"))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Scan this with your authenticator app") ||
		!strings.Contains(r.body, `<svg class="gate-qr"`) || !strings.Contains(r.body, "You will not see this again.") {
		t.Fatalf("add: %d\n%s", r.status, r.body)
	}
	m := regexp.MustCompile(`id="gate-secret"[^>]*value="([A-Z2-7]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		m = regexp.MustCompile(`value="([A-Z2-7]{32})"`).FindStringSubmatch(r.body)
	}
	if m == nil {
		t.Fatalf("no key on the page:\n%s", r.body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := gate.Code(secret, time.Now())
	if a, err := f.v.CheckGateCode(ctx, "acme", "github", func(s []byte, last int64) (int64, bool) {
		return gate.Verify(s, code, time.Now(), last)
	}); err != nil || !a.OK {
		t.Fatalf("the page's key does not open the gate: %+v %v", a, err)
	}
	g, err := f.v.GetGate(ctx, "acme", "github")
	if err != nil || g.UnlockFor != 30*time.Minute || g.CoolOff != time.Hour {
		t.Fatalf("gate = %+v, %v", g, err)
	}
	r = b.get("/ui/gates")
	if strings.Contains(r.body, m[1]) || strings.Contains(r.body, "gate-qr") || !strings.Contains(r.body, "An unlock lasts 30 minutes") ||
		!strings.Contains(r.body, "github_whoami and github_list_repos ask for a code.") {
		t.Fatalf("the page after adding:\n%s", r.body)
	}
	// Twice: an error under the field.
	if r := b.post("/ui/gates", gateForm(csrf, "add", "tool_set", "github")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "already asks for a code") {
		t.Fatalf("second add: %d", r.status)
	}

	// Settings.
	if r := b.post("/ui/gates", gateForm(csrf, "settings", "tool_set", "github", "unlock_for", "5", "cool_off", "10")); r.status != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", r.status, r.body)
	}
	if g, _ := f.v.GetGate(ctx, "acme", "github"); g.UnlockFor != 5*time.Minute || g.CoolOff != 10*time.Minute {
		t.Fatalf("after settings: %+v", g)
	}
	// A new QR code: a new key.
	r = b.post("/ui/gates", gateForm(csrf, "enroll", "tool_set", "github"))
	if r.status != http.StatusOK || !strings.Contains(r.body, "gate-qr") || strings.Contains(r.body, m[1]) {
		t.Fatalf("enroll: %d", r.status)
	}
	// Tool search.
	if r := b.post("/ui/gates", gateForm(csrf, "search", "to", "on")); r.status != http.StatusSeeOther {
		t.Fatalf("search on: %d", r.status)
	}
	if st, _ := f.v.GetToolSettings(ctx, "acme"); !st.SearchTools {
		t.Fatal("search not on")
	}
	if r := b.get("/ui/gates"); !strings.Contains(r.body, "Tool search is on.") {
		t.Fatal("no flash after turning search on")
	}
	// Removal.
	if r := b.post("/ui/gates", gateForm(csrf, "delete", "tool_set", "github")); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if gs, _ := f.v.ListGates(ctx, "acme"); len(gs) != 0 {
		t.Fatalf("gates after delete: %+v", gs)
	}
	// Forms that cannot be read.
	for _, bad := range []url.Values{
		gateForm(csrf, "explode", "tool_set", "github"),
		gateForm(csrf, "delete"),
		gateForm(csrf, "search", "to", "maybe"),
		{"csrf": {csrf}, "action": {"add"}},
	} {
		if r := b.post("/ui/gates", bad); r.status != http.StatusBadRequest {
			t.Errorf("bad form %v: %d", bad, r.status)
		}
	}
	// Without the CSRF token nothing happens.
	if r := b.post("/ui/gates", gateForm("", "add", "tool_set", "weather")); r.status == http.StatusOK {
		t.Fatal("a form without CSRF token was served")
	}
	if gs, _ := f.v.ListGates(ctx, "acme"); len(gs) != 0 {
		t.Fatal("a gate was added without a CSRF token")
	}
}
