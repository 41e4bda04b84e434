package ui_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
)

// fakeUpstreams is the daemon's running upstreams, as the Servers pages
// see them: every server runs and has printed two lines.
type fakeUpstreams struct{ restarts atomic.Int32 }

func (f *fakeUpstreams) UpstreamState(_ context.Context, tenant, name string, _ time.Duration) (mcpserver.UpstreamState, bool) {
	now := time.Now()
	return mcpserver.UpstreamState{
		Listed: true, Tools: 12, Prompts: 1,
		Instances: []mcpserver.UpstreamInstance{{Status: upstream.Status{
			State: upstream.StateRunning, PID: 4242, StartedAt: now.Add(-5 * time.Minute), Starts: 1, Server: "everything 1.0"}}},
		Log: []upstream.LogLine{
			{Time: now, Source: "plexus", Text: "started (pid 4242); server everything 1.0, protocol 2025-11-25"},
			{Time: now, Source: "stderr", Text: "Starting default (STDIO) server... key ••••••"},
		},
	}, true
}

func (f *fakeUpstreams) RestartUpstream(string, string) bool { f.restarts.Add(1); return true }

// withUpstreams gives the UI admin operations that run upstreams.
func withUpstreams(rt adminops.UpstreamRuntime) func(*ui.Options) {
	return func(o *ui.Options) {
		o.Ops = adminops.New(o.Login.(*vault.Vault), adminops.Options{Upstreams: rt, Now: o.Now})
	}
}

// TestServersPages (issue 11, line 1, the UI): a tenant's servers are
// listed with their state; one is added with a command and a stored API
// key as an environment variable (the key is never on a page), shown
// with its state and log, edited, restarted and removed after a typed
// confirmation; mistakes are told under the field.
func TestServersPages(t *testing.T) {
	rt := &fakeUpstreams{}
	f := newFixture(t, withUpstreams(rt))
	for _, id := range []string{"acme", "beta"} {
		if _, err := f.ops.CreateTenant(t.Context(), apiv1.CreateTenantRequest{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.ops.SetAPIKey(t.Context(), "acme", apiv1.LocalOwner, "openai", testAPIKey); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()

	r := b.get("/ui/servers")
	wantStatus(t, "servers", r, http.StatusOK)
	wantIn(t, "empty servers page", r.body, "No servers yet.", `href="/ui/servers/_add"`, `href="/ui/servers"`)

	r = b.get("/ui/servers/_add")
	wantStatus(t, "add page", r, http.StatusOK)
	wantIn(t, "add page", r.body, `<option value="openai">openai (•••• `, "Where it runs", "Give the key as")

	// Mistakes, told under their fields, with what was typed kept.
	for _, c := range []struct {
		name  string
		form  []string
		field string
		msg   string
	}{
		{"no command", []string{"name", "everything", "kind", "stdio"}, "f-command", "Type the command that starts the server"},
		{"no url", []string{"name", "remote", "kind", "http"}, "f-url", "Type the server’s web address"},
		{"no name", []string{"kind", "stdio", "command", "npx x"}, "f-name", "Choose a name"},
		{"bad name", []string{"name", "Bad Name", "kind", "stdio", "command", "npx x"}, "f-name", ""},
		{"shell syntax", []string{"name", "x", "kind", "stdio", "command", "npx x | tee log"}, "f-command", ""},
		{"key without where", []string{"name", "x", "kind", "stdio", "command", "npx x", "key", "openai"}, "f-key_as", "OPENAI_API_KEY"},
		{"account for a command", []string{"name", "x", "kind", "stdio", "command", "npx x", "sign_in", "github"}, "f-sign_in", "only go to a server at a web address"},
		{"bad env line", []string{"name", "x", "kind", "stdio", "command", "npx x", "env", "A=1\nnot a setting"}, "f-env", "Line 2 is not NAME=value."},
		{"unknown kind", []string{"name", "x", "kind", "ftp", "command", "npx x"}, "f-kind", "Choose where the server runs."},
		{"bad url", []string{"name", "x", "kind", "http", "url", "ftp://example.com/mcp"}, "f-url", ""},
	} {
		r := b.form("/ui/servers", c.form...)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if !fieldError(r.body, c.field, c.msg) {
			t.Errorf("%s: no error %q under %s:\n%s", c.name, c.msg, c.field, r.body)
		}
	}

	r = b.form("/ui/servers", "name", "everything", "kind", "stdio", "command", "npx -y @modelcontextprotocol/server-everything",
		"key", "openai", "key_as", "OPENAI_API_KEY", "env", "LOG_LEVEL=debug")
	wantRedirect(t, "add", r, "/ui/servers/everything")
	u, err := f.v.GetUpstream(t.Context(), "acme", "everything")
	if err != nil {
		t.Fatal(err)
	}
	if u.Command != "npx" || !slices.Equal(u.Args, []string{"-y", "@modelcontextprotocol/server-everything"}) || u.Env["LOG_LEVEL"] != "debug" ||
		len(u.Credentials) != 1 || u.Credentials[0].Env != "OPENAI_API_KEY" || u.Credentials[0].Provider != "openai" {
		t.Fatalf("stored %+v", u)
	}
	r = b.get("/ui/servers/everything")
	wantStatus(t, "server page", r, http.StatusOK)
	wantIn(t, "server page", r.body, "Server everything added. Claude can now use its 12 tools and 1 prompt.", "Running for 1 person, with their own key.",
		"your openai API key, as the variable OPENAI_API_KEY", "Starting default (STDIO) server", "npx -y @modelcontextprotocol/server-everything",
		"Remove server everything", `value="OPENAI_API_KEY"`, "LOG_LEVEL=debug")
	r = b.get("/ui/servers")
	wantIn(t, "list", r.body, `href="/ui/servers/everything"`, "Running", "12 tools and 1 prompt")

	// A server may be called "add": its page is its own.
	r = b.form("/ui/servers", "name", "add", "kind", "stdio", "command", "npx add")
	wantRedirect(t, "add a server called add", r, "/ui/servers/add")
	wantIn(t, "page of add", b.get("/ui/servers/add").body, "Remove server add")

	r = b.form("/ui/servers", "name", "everything", "kind", "stdio", "command", "npx other")
	wantStatus(t, "duplicate", r, http.StatusUnprocessableEntity)
	if !fieldError(r.body, "f-name", "already") {
		t.Errorf("duplicate name: %s", r.body)
	}

	// Edit: a new command; the timeouts set elsewhere are kept.
	u.CallTimeout = 90 * time.Second
	if _, err := f.v.UpdateUpstream(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	b.get("/ui/servers/everything")
	r = b.form("/ui/servers/everything", "kind", "stdio", "command", "node '/opt/my server/index.js' stdio", "key", "openai", "key_as", "OPENAI_API_KEY")
	wantRedirect(t, "edit", r, "/ui/servers/everything")
	u, _ = f.v.GetUpstream(t.Context(), "acme", "everything")
	if u.Command != "node" || !slices.Equal(u.Args, []string{"/opt/my server/index.js", "stdio"}) || u.CallTimeout != 90*time.Second || len(u.Env) != 0 {
		t.Fatalf("edited %+v", u)
	}
	r = b.get("/ui/servers/everything")
	wantIn(t, "edited page", r.body, `value="node &#39;/opt/my server/index.js&#39; stdio"`)

	r = b.form("/ui/servers/everything/restart")
	wantRedirect(t, "restart", r, "/ui/servers/everything")
	if rt.restarts.Load() != 1 {
		t.Fatal("not restarted")
	}

	// Another tenant's page does not show it.
	b.get("/ui/servers")
	wantRedirect(t, "switch", b.form("/ui/tenant", "tenant", "beta", "back", "/ui/servers"), "/ui/servers")
	wantStatus(t, "other tenant", b.get("/ui/servers/everything"), http.StatusNotFound)
	wantStatus(t, "bad name", b.get("/ui/servers/..%2fx"), http.StatusNotFound)
	b.get("/ui/servers")
	wantRedirect(t, "switch back", b.form("/ui/tenant", "tenant", "acme", "back", "/ui/servers"), "/ui/servers")

	b.get("/ui/servers/everything")
	r = b.form("/ui/servers/everything/delete", "confirm", "everythin")
	wantStatus(t, "wrong confirm", r, http.StatusUnprocessableEntity)
	r = b.form("/ui/servers/everything/delete", "confirm", "everything")
	wantRedirect(t, "delete", r, "/ui/servers")
	if _, err := f.v.GetUpstream(t.Context(), "acme", "everything"); err == nil {
		t.Fatal("still there")
	}
	neverShown(t, f, b, testAPIKey)
}
