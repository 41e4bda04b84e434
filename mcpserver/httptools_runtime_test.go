//go:build unix

package mcpserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/vault"
)

// TestHTTPToolRuntime: HTTP tools are added, changed and removed while a
// client is connected, which hears list_changed each time and sees the
// new list and behaviour at once, without a restart. A name taken by a
// built-in tool is refused and the reason kept.
func TestHTTPToolRuntime(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t)
	{
		c := e.client("acme", localToken, legacy)
		listen := e.openListen("acme") // a 2026-07-28 client's subscriptions/listen
		changed := string(mcp.MethodNotificationToolsListChanged)
		name := "where"
		if names := c.toolNames(t); slices.Contains(names, name) {
			t.Fatalf("tool before it was added: %v", names)
		}
		{
			h := vault.HTTPTool{TenantID: "acme", Name: name, URL: api.hs.URL + "/one", ResponsePointer: "/path"}
			before := len(c.notesOf(changed))
			e.addHTTPTool(h)
			c.waitNote(t, changed, before+1)
			if !listen.waitFor(changed, 5*time.Second) {
				t.Fatal("the 2026-07-28 listener heard no list_changed")
			}
			if !slices.Contains(c.toolNames(t), name) {
				t.Fatal("added tool not listed")
			}
			if text, _ := c.call(t, name, nil); text != "/one" {
				t.Fatalf("call = %q", text)
			}
			before = len(c.notesOf(changed))
			h.URL = api.hs.URL + "/two"
			h.Description = "changed"
			if _, err := e.v.UpdateHTTPTool(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			c.waitNote(t, changed, before+1)
			if text, _ := c.call(t, name, nil); text != "/two" {
				t.Fatalf("call after change = %q", text)
			}
			before = len(c.notesOf(changed))
			if err := e.v.DeleteHTTPTool(t.Context(), "acme", name); err != nil {
				t.Fatal(err)
			}
			c.waitNote(t, changed, before+1)
			if slices.Contains(c.toolNames(t), name) {
				t.Fatal("removed tool still listed")
			}
		}
	}

	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "plexus_whoami", URL: api.hs.URL + "/x"})
	if p := e.srv.HTTPToolProblem("acme", "plexus_whoami"); !strings.Contains(p, "built-in") {
		t.Fatalf("problem = %q", p)
	}
	text, isErr := toolText(t, e.modernCall("acme", localToken, "plexus_whoami", `{}`))
	if isErr || !strings.Contains(text, "acme") {
		t.Fatalf("built-in replaced: %q", text)
	}
	if n := len(api.requests()); n != 2 {
		t.Fatalf("%d API requests; want 2", n)
	}
}
