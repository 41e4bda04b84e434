package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/vault"
)

// daemonTools is what a daemon lists: the built-in whoami, two GitHub
// tools and the weather tool.
func daemonTools(string) []apiv1.ToolInfo {
	builtIn := apiv1.ToolSource{Kind: apiv1.ToolSourceBuiltIn}
	gh := []apiv1.ToolCredential{{Kind: apiv1.CredentialKindOAuth, Provider: "github"}}
	return []apiv1.ToolInfo{
		{Name: "plexus_whoami", Description: "Shows who Plexus thinks is calling (model words).", Summary: "Check who Plexus thinks is asking.",
			ToolSets: []string{"plexus"}, Enabled: true, Source: builtIn},
		{Name: "github_whoami", Summary: "See which GitHub account you connected.", ToolSets: []string{"github"}, Enabled: true,
			Source: builtIn, Credentials: gh},
		{Name: "github_list_repos", Summary: "List your GitHub repositories.", ToolSets: []string{"github", "code"}, Enabled: true,
			Source: builtIn, Credentials: gh},
		{Name: "weather", Summary: "Look up the current weather in a city.", ToolSets: []string{"weather"}, Enabled: true, Source: builtIn,
			Credentials: []apiv1.ToolCredential{{Kind: apiv1.CredentialKindAPIKey, Provider: "openweathermap", DisplayName: "OpenWeatherMap API key"}}},
	}
}

// withOps gives the UI the admin operations over the fixture's vault, with
// a tool-call record in a temp dir.
func withOps(t *testing.T, log **audit.Log) func(*ui.Options) {
	return func(o *ui.Options) {
		l, err := audit.Open(audit.Options{Dir: filepath.Join(t.TempDir(), "audit")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ops := adminops.New(o.Login.(*vault.Vault), adminops.Options{Tools: daemonTools, Activity: l, Now: o.Now})
		o.Tools, o.Activity = ops, ops
		if log != nil {
			*log = l
		}
	}
}

// toolForm is the switch form of a tool (kind "tool") or tool set ("set").
func toolForm(csrf, tenant, kind, name, to string) url.Values {
	return url.Values{"csrf": {csrf}, "tenant": {tenant}, "kind": {kind}, "name": {name}, "to": {to}}
}

func TestToolsPage(t *testing.T) {
	f := newFixture(t, withOps(t, nil))
	b := f.browser(t)
	b.login()
	if r := b.get("/ui/tools"); r.status != http.StatusOK || !strings.Contains(r.body, "You have no tenant yet.") {
		t.Fatalf("without a tenant: %d\n%s", r.status, r.body)
	}
	ctx := t.Context()
	if _, err := f.v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/tools")
	for _, want := range []string{
		"<h1>Tools</h1>", "for tenant Acme", "4 of 4 tools are on.", "Claude can use it while you chat",
		"Check who Plexus thinks is asking.", // the summary, not the model's description
		"<h2 id=\"set-github-title\">GitHub</h2>", "2 tools, all on.", "Turn off all GitHub tools",
		"Also in Code", "Built into Plexus",
		"Needs your GitHub account", "Not set up", `href="/ui/providers"`,
		"Needs your OpenWeatherMap API key", "Missing", "gives you a link to a page where you type the key", `href="/ui/connections"`,
		`aria-label="Turn off weather"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the Tools page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "model words") || strings.Contains(r.body, "MCP") {
		t.Error("the page shows the model's description or says MCP")
	}
	// A set with one tool has no set switch of its own.
	if strings.Contains(r.body, "Turn off all Weather tools") {
		t.Error("a one-tool set has a set switch")
	}
	// The local owner's key turns Missing into Connected.
	ops := adminops.New(f.v, adminops.Options{Tools: daemonTools})
	if _, err := ops.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweathermap", "k-0123"); err != nil {
		t.Fatal(err)
	}
	r = b.get("/ui/tools")
	if i := strings.Index(r.body, "Uses your OpenWeatherMap API key"); i < 0 || !strings.Contains(r.body[i:i+300], "Connected") {
		t.Errorf("weather's key is not shown as connected")
	}
}

// TestToolSwitches: switching a tool or a set off and on changes the
// tenant's settings (which the MCP server announces with
// tools/list_changed), says so in plain words, and comes back to the
// switched tool.
func TestToolSwitches(t *testing.T) {
	f := newFixture(t, withOps(t, nil))
	ctx := t.Context()
	for _, id := range []string{"acme", "work"} {
		if _, err := f.v.CreateTenant(ctx, vault.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
			t.Fatal(err)
		}
	}
	b := f.browser(t)
	b.login()
	b.get("/ui/tools")
	csrf := b.csrf()
	settings := func(tenant string) vault.ToolSettings {
		t.Helper()
		st, err := f.v.GetToolSettings(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	r := b.post("/ui/tools", toolForm(csrf, "acme", "tool", "weather", "off"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/tools#tool-weather" {
		t.Fatalf("switch off: %d %q", r.status, r.header.Get("Location"))
	}
	if st := settings("acme"); !slices.Equal(st.DisabledTools, []string{"weather"}) {
		t.Fatalf("settings %+v", st)
	}
	r = b.get("/ui/tools")
	if !strings.Contains(r.body, "weather is off. Claude can no longer use it.") || !strings.Contains(r.body, "3 of 4 tools are on.") ||
		!strings.Contains(r.body, `aria-label="Turn on weather"`) {
		t.Fatalf("after switching off:\n%s", r.body)
	}
	// A whole set.
	r = b.post("/ui/tools", toolForm(csrf, "acme", "set", "github", "off"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/tools#set-github" {
		t.Fatalf("set off: %d %q", r.status, r.header.Get("Location"))
	}
	r = b.get("/ui/tools")
	for _, want := range []string{"The GitHub tools are off. Claude can no longer use them.", "1 of 4 tools are on.",
		"Switched off: Claude cannot use these 2 tools.", "Turn on the GitHub tools", "Off because the GitHub set is off."} {
		if !strings.Contains(r.body, want) {
			t.Errorf("after the set is off, the page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `aria-label="Turn off github_whoami"`) {
		t.Error("a tool of a switched-off set still has its own switch")
	}
	b.post("/ui/tools", toolForm(csrf, "acme", "set", "github", "on"))
	b.post("/ui/tools", toolForm(csrf, "acme", "tool", "weather", "on"))
	if st := settings("acme"); len(st.DisabledTools)+len(st.DisabledToolSets) != 0 {
		t.Fatalf("after switching back on: %+v", st)
	}
	// The form names its tenant: a page of tenant work switches work's
	// tools even when the session's tenant is acme.
	b.post("/ui/tools", toolForm(csrf, "work", "tool", "plexus_whoami", "off"))
	if st := settings("work"); !slices.Equal(st.DisabledTools, []string{"plexus_whoami"}) || len(settings("acme").DisabledTools) != 0 {
		t.Fatalf("work %+v, acme %+v", st, settings("acme"))
	}
}

func TestToolSwitchBadInput(t *testing.T) {
	f := newFixture(t, withOps(t, nil))
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()
	b.get("/ui/tools")
	csrf := b.csrf()
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no csrf", toolForm("", "acme", "tool", "weather", "off"), http.StatusForbidden, "This form has expired"},
		{"wrong csrf", toolForm(strings.Repeat("x", 43), "acme", "tool", "weather", "off"), http.StatusForbidden, "This form has expired"},
		{"bad kind", toolForm(csrf, "acme", "thing", "weather", "off"), http.StatusBadRequest, "a tool or a tool set"},
		{"bad to", toolForm(csrf, "acme", "tool", "weather", "maybe"), http.StatusBadRequest, "on or off"},
		{"no tenant", toolForm(csrf, "", "tool", "weather", "off"), http.StatusBadRequest, "names no tenant"},
		{"bad tenant", toolForm(csrf, "../x", "tool", "weather", "off"), http.StatusBadRequest, "names no tenant"},
		{"no name", toolForm(csrf, "acme", "tool", "", "off"), http.StatusBadRequest, "names no tool"},
		{"control in name", toolForm(csrf, "acme", "tool", "a\x00b", "off"), http.StatusBadRequest, "names no tool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.post("/ui/tools", tc.form)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d, want %d with %q\n%s", r.status, tc.status, tc.want, r.body)
			}
		})
	}
	// Unknown tool, unknown set, unknown tenant: nothing switched, said in words.
	for _, form := range []url.Values{
		toolForm(csrf, "acme", "tool", "no_such_tool", "off"),
		toolForm(csrf, "acme", "set", "nothing", "off"),
		toolForm(csrf, "gone", "tool", "weather", "off"),
		toolForm(csrf, "acme", "tool", "bad name!", "off"),
	} {
		if r := b.post("/ui/tools", form); r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/tools" {
			t.Fatalf("%v: %d %q", form, r.status, r.header.Get("Location"))
		}
		if r := b.get("/ui/tools"); !strings.Contains(r.body, "Nothing was switched") {
			t.Errorf("%v: no flash", form)
		}
	}
	if st, _ := f.v.GetToolSettings(t.Context(), "acme"); len(st.DisabledTools)+len(st.DisabledToolSets) != 0 {
		t.Fatalf("bad input changed the settings: %+v", st)
	}
}

// TestToolsAndActivityWithoutOps: a UI built without the operations (a
// test build) says the pages are not available instead of failing.
func TestToolsAndActivityWithoutOps(t *testing.T) {
	f := newFixture(t)
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()
	if r := b.get("/ui/tools"); r.status != http.StatusOK || !strings.Contains(r.body, "cannot list its tools") {
		t.Errorf("tools: %d", r.status)
	}
	if r := b.get("/ui/activity"); r.status != http.StatusOK || !strings.Contains(r.body, "does not record tool calls") {
		t.Errorf("activity: %d", r.status)
	}
	r := b.post("/ui/tools", toolForm(b.csrf(), "acme", "tool", "weather", "off"))
	if r.status != http.StatusSeeOther {
		t.Errorf("switch without ops: %d", r.status)
	}
}

// record puts calls in the log and waits until they are written.
func record(t *testing.T, l *audit.Log, calls ...audit.Call) {
	t.Helper()
	for _, c := range calls {
		if !l.Record(c) {
			t.Fatal("dropped")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

var styleAttrRE = regexp.MustCompile(`\sstyle=`)
