package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/vault"
)

func TestHome(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	r := b.get("/ui/")
	for _, want := range []string{
		"Running", "9.9.9", "3 hours", "/data/plexus", // daemon
		"Protected", "System keyring", // the test keyring
		"You have no tenant yet.", "Create tenant “Personal”", // empty state
		"Create a tenant first", // connect card without a tenant
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Home lacks %q", want)
		}
	}
	if strings.Contains(r.body, "MCP") {
		t.Error("Home says MCP")
	}

	// One click creates Personal.
	r = b.post("/ui/tenants", url.Values{"csrf": {b.csrf()}, "entity_id": {"personal"}, "name": {"Personal"}, "from": {"home"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/" {
		t.Fatalf("create Personal: %d %q", r.status, r.header.Get("Location"))
	}
	r = b.get("/ui/")
	for _, want := range []string{
		"Tenant Personal created.", `href="/ui/tenants/personal"`,
		`"mcpServers"`, `"command": "/opt/plexus/bin/plexus"`, `"args": ["stdio", "--tenant", "personal"]`,
		"/home/ann/.config/Claude/claude_desktop_config.json",
		"claude mcp add --scope user plexus -- /opt/plexus/bin/plexus stdio --tenant personal",
		`"servers"`, `"type": "stdio"`,
	} {
		if !strings.Contains(r.body, strings.ReplaceAll(want, `"`, "&#34;")) && !strings.Contains(r.body, want) {
			t.Errorf("Home lacks %q", want)
		}
	}
	// The flash shows once.
	if r := b.get("/ui/"); strings.Contains(r.body, "Tenant Personal created.") {
		t.Error("the flash shows twice")
	}
	// Again: it exists, said in words, on Home.
	b.post("/ui/tenants", url.Values{"csrf": {b.csrf()}, "entity_id": {"personal"}, "name": {"Personal"}, "from": {"home"}})
	if r := b.get("/ui/"); !strings.Contains(r.body, "The tenant was not created. A tenant with this ID exists already.") {
		t.Errorf("duplicate from Home: no flash\n%s", r.body)
	}
}

func TestHomeKeyFileWarning(t *testing.T) {
	f := newFixture(t, func(o *ui.Options) {
		info := o.Info
		o.Info = func() ui.DaemonInfo {
			d := info()
			d.Key = vault.KeyInfo{Source: vault.KeySourceFile, File: "/data/plexus/plexus.key"}
			return d
		}
	})
	b := f.browser(t)
	b.login()
	r := b.get("/ui/")
	for _, want := range []string{"Needs attention", "/data/plexus/plexus.key", "Anyone who can read this file", "What to do:"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Home lacks %q", want)
		}
	}
}

func TestTenantForm(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "work", Name: "Work"}); err != nil {
		t.Fatal(err)
	}
	b.get("/ui/tenants")
	token := b.csrf()
	for _, c := range []struct {
		name, id, tname string
		wantErr         string
		wantKept        []string
	}{
		{"no name", "x", "", "Enter a name", []string{`value="x"`}},
		{"capitals", "My Stuff", "My Stuff", "Use only lowercase letters", []string{`value="My Stuff"`}},
		{"reserved", "api", "API", "Plexus uses this word itself", []string{`value="api"`, `value="API"`}},
		{"exists", "work", "Work 2", "exists already", []string{`value="Work 2"`}},
		{"starts with dash", "-x", "X", "Start with a letter or a digit", nil},
		{"too long", strings.Repeat("a", 64), "A", "at most 63", nil},
		{"control", "ok", "a\x01b", "Use letters, digits", nil},
		{"nothing to slug", "", "!!!", "Choose an ID", []string{`value="!!!"`}},
	} {
		r := b.post("/ui/tenants", url.Values{"csrf": {token}, "entity_id": {c.id}, "name": {c.tname}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, c.wantErr) || !strings.Contains(r.body, `aria-invalid="true"`) {
			t.Errorf("%s: %d, want 422 with %q", c.name, r.status, c.wantErr)
			continue
		}
		for _, k := range c.wantKept {
			if !strings.Contains(r.body, k) {
				t.Errorf("%s: value not kept: %s", c.name, k)
			}
		}
		if strings.Contains(r.body, "tenant id") || strings.Contains(r.body, "ErrInvalid") {
			t.Errorf("%s: developer words on the page", c.name)
		}
	}
	// An empty id is made from the name.
	r := b.post("/ui/tenants", url.Values{"csrf": {token}, "name": {"My Side Project"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("slug: %d", r.status)
	}
	if tn, err := f.v.GetTenant(t.Context(), "my-side-project"); err != nil || tn.Name != "My Side Project" {
		t.Fatalf("slugged tenant: %+v %v", tn, err)
	}
	r = b.get("/ui/tenants")
	if !strings.Contains(r.body, "Tenant My Side Project created.") || !strings.Contains(r.body, "my-side-project") {
		t.Errorf("tenants page after create:\n%s", r.body)
	}
}

func TestDeleteTenant(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	for _, id := range []string{"acme", "work"} {
		if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
			t.Fatal(err)
		}
	}
	r := b.get("/ui/tenants/acme")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Danger zone") || !strings.Contains(r.body, "Type acme to confirm") ||
		!strings.Contains(r.body, "Delete tenant acme</button>") {
		t.Fatalf("tenant page: %d\n%s", r.status, r.body)
	}
	token := b.csrf()
	for typed, want := range map[string]string{"": "Type acme to confirm.", "work": "That is not acme.", "ACME": "That is not acme."} {
		r := b.post("/ui/tenants/acme/delete", url.Values{"csrf": {token}, "confirm": {typed}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, want) {
			t.Errorf("confirm %q: %d, want 422 %q", typed, r.status, want)
		}
		if typed != "" && !strings.Contains(r.body, `value="`+typed+`"`) {
			t.Errorf("confirm %q: the typed text is not kept", typed)
		}
	}
	if _, err := f.v.GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("a wrong confirmation deleted: %v", err)
	}
	r = b.post("/ui/tenants/acme/delete", url.Values{"csrf": {token}, "confirm": {"acme"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/tenants" {
		t.Fatalf("delete: %d\n%s", r.status, r.body)
	}
	if _, err := f.v.GetTenant(t.Context(), "acme"); err == nil {
		t.Fatal("not deleted")
	}
	if r := b.get("/ui/tenants"); !strings.Contains(r.body, "Tenant Acme deleted.") {
		t.Error("no flash after delete")
	}
	for _, p := range []string{"/ui/tenants/acme", "/ui/tenants/NOPE", "/ui/tenants/api"} {
		if r := b.get(p); r.status != http.StatusNotFound || !strings.Contains(r.body, "Tenant not found") {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
	if r := b.post("/ui/tenants/acme/delete", url.Values{"csrf": {token}, "confirm": {"acme"}}); r.status != http.StatusNotFound {
		t.Errorf("delete again: %d", r.status)
	}
}

func TestTenantSwitcher(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/ui/"); strings.Contains(r.body, `id="tenant-switch"`) {
		t.Error("switcher with one tenant")
	}
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "work", Name: "Work"}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/providers")
	if !strings.Contains(r.body, `id="tenant-switch"`) || !strings.Contains(r.body, `name="back" value="/ui/providers"`) {
		t.Fatalf("no switcher with two tenants:\n%s", r.body)
	}
	token := b.csrf()
	for back, want := range map[string]string{
		"/ui/providers":        "/ui/providers",
		"https://evil.example": "/ui/",
		"//evil.example/ui/":   "/ui/",
		"/ui/../api/v1/":       "/ui/",
		"/\\evil.example":      "/ui/",
		"":                     "/ui/",
	} {
		r := b.post("/ui/tenant", url.Values{"csrf": {token}, "tenant": {"work"}, "back": {back}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("back %q: %d %q, want %q", back, r.status, r.header.Get("Location"), want)
		}
	}
	r = b.get("/ui/")
	if !strings.Contains(r.body, `<option value="work" selected>`) || !strings.Contains(r.body, "--tenant&#34;, &#34;work") && !strings.Contains(r.body, `"--tenant", "work"`) {
		t.Errorf("the switch did not stick:\n%s", r.body)
	}
	r = b.post("/ui/tenant", url.Values{"csrf": {token}, "tenant": {"gone"}, "back": {"/ui/"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("unknown tenant: %d", r.status)
	}
	if r := b.get("/ui/"); !strings.Contains(r.body, "That tenant does not exist any more.") {
		t.Error("no flash for an unknown tenant")
	}
}

// TestNamesAreEscaped: a tenant name is text on every page, never markup.
func TestNamesAreEscaped(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	r := b.post("/ui/tenants", url.Values{"csrf": {b.csrf()}, "entity_id": {"evil"}, "name": {evil}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "two", Name: "Two"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/", "/ui/tenants", "/ui/tenants/evil", "/ui/providers"} {
		r := b.get(p)
		if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=x") {
			t.Errorf("GET %s: the name is markup", p)
		}
		if !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s: the name is not shown escaped", p)
		}
	}
}
