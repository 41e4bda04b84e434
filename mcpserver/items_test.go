package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// itemRegistry: resource plexus://acme/notes (tenant acme only), resource
// template plexus://files/{name} (tool set "files", every tenant), prompt
// summarize (tool set "writing", every tenant), prompt beta_only (tenant
// beta only), and resource plexus://me, which reports its caller and
// whether the caller has an openweathermap API key, and resource
// plexus://weather-key, which Requires that key.
func itemRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	text := func(uri, s string) []mcp.ResourceContents {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "text/plain", Text: s}}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.RegisterResource(tools.Resource{
		Definition: mcp.NewResource("plexus://acme/notes", "notes"),
		Handler: func(_ context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return text(r.Params.URI, "acme's notes"), nil
		},
		AllowedTenants: []string{"acme"},
	}))
	must(reg.RegisterResourceTemplate(tools.ResourceTemplate{
		Definition: mcp.NewResourceTemplate("plexus://files/{name}", "file"),
		Handler: func(_ context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			name := r.Params.Arguments["name"] // a []string from the URI template
			if v, ok := name.([]string); ok && len(v) == 1 {
				name = v[0]
			}
			return text(r.Params.URI, fmt.Sprint("file ", name)), nil
		},
		ToolSets: []string{"files"},
	}))
	must(reg.RegisterResource(tools.Resource{
		Definition: mcp.NewResource("plexus://me", "me"),
		Handler: func(ctx context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			c, _ := tools.CallerFrom(ctx)
			_, err := tools.APIKey(ctx, "openweathermap")
			return text(r.Params.URI, fmt.Sprintf("tenant=%s user=%s guest=%v key=%v", c.TenantID, c.UserID, c.Guest, err == nil)), nil
		},
	}))
	must(reg.RegisterResource(tools.Resource{
		Definition: mcp.NewResource("plexus://weather-key", "weather key check"),
		Handler: func(ctx context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			k, err := tools.APIKey(ctx, "openweathermap")
			if err != nil {
				return nil, err
			}
			return text(r.Params.URI, fmt.Sprintf("key of %d bytes", len(k))), nil
		},
		Requires: &tools.Requirement{APIKey: &tools.APIKeyRequirement{Provider: "openweathermap", DisplayName: "OpenWeatherMap API key"}},
	}))
	must(reg.RegisterPrompt(tools.Prompt{
		Definition: mcp.NewPrompt("summarize", mcp.WithArgument("topic", mcp.RequiredArgument())),
		Handler: func(ctx context.Context, r mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			c, _ := tools.CallerFrom(ctx)
			return mcp.NewGetPromptResult("summary", []mcp.PromptMessage{
				mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Summarize "+r.Params.Arguments["topic"]+" for tenant "+c.TenantID)),
			}), nil
		},
		ToolSets: []string{"writing"},
	}))
	must(reg.RegisterPrompt(tools.Prompt{
		Definition: mcp.NewPrompt("beta_only"),
		Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult("b", nil), nil
		},
		AllowedTenants: []string{"beta"},
	}))
	return reg
}

// itemClient sends one request in one era.
type itemClient struct {
	e      *env
	modern bool
	tenant string
	token  string
	sid    string
}

func (c *itemClient) rpc(method, name, params string) reply {
	c.e.t.Helper()
	if c.modern {
		p := modernMeta
		if params != "" {
			p = params + "," + modernMeta
		}
		h := map[string]string{"Mcp-Method": method}
		if name != "" {
			h["Mcp-Name"] = name
		}
		return c.e.do(req{tenant: c.tenant, token: c.token, version: modern, headers: h,
			body: `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{` + p + `}}`})
	}
	if c.sid == "" {
		c.sid = c.e.initialize(c.tenant, c.token)
	}
	return c.e.do(req{tenant: c.tenant, token: c.token, session: c.sid, version: legacy,
		body: `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{` + params + `}}`})
}

// names lists the field name ("uri", "uriTemplate", "name") of the items
// in a list result's array called key.
func names(t *testing.T, rep reply, key, field string) []string {
	t.Helper()
	if rep.rpc.Error != nil {
		t.Fatalf("%s list: %s", key, rep.body)
	}
	var res map[string]json.RawMessage
	var list []map[string]any
	if err := json.Unmarshal(rep.rpc.Result, &res); err != nil {
		t.Fatalf("%s: %v", rep.body, err)
	}
	if err := json.Unmarshal(res[key], &list); err != nil {
		t.Fatalf("%s: %v", rep.body, err)
	}
	var out []string
	for _, it := range list {
		out = append(out, fmt.Sprint(it[field]))
	}
	slices.Sort(out)
	return out
}

func (c *itemClient) read(uri string) reply {
	return c.rpc("resources/read", uri, `"uri":"`+uri+`"`)
}

func (c *itemClient) getPrompt(name string) reply {
	return c.rpc("prompts/get", name, `"name":"`+name+`","arguments":{"topic":"rain"}`)
}

// sameAnswer checks that hidden got exactly the answer unknown got, with
// the item's name in place of the unknown one's.
func sameAnswer(t *testing.T, hidden, unknown reply, hiddenName, unknownName string) {
	t.Helper()
	if hidden.rpc.Error == nil || unknown.rpc.Error == nil {
		t.Fatalf("want errors:\nhidden  %s\nunknown %s", hidden.body, unknown.body)
	}
	if hidden.status != unknown.status || hidden.rpc.Error.Code != unknown.rpc.Error.Code ||
		hidden.rpc.Error.Message != strings.ReplaceAll(unknown.rpc.Error.Message, unknownName, hiddenName) {
		t.Fatalf("a hidden item answers unlike an unknown one:\nhidden  %d %s\nunknown %d %s",
			hidden.status, hidden.body, unknown.status, unknown.body)
	}
}

// TestItemScoping: resources, templates and prompts are listed and served
// only to the tenants they allow, a disabled tool set hides them from the
// lists and refuses them exactly as unknown ones, in both eras, and
// enabling the set brings them back.
func TestItemScoping(t *testing.T) {
	e := newEnv(t, WithRegistry(itemRegistry(t)))
	for _, modernEra := range []bool{false, true} {
		name := map[bool]string{false: "2025-11-25", true: "2026-07-28"}[modernEra]
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if err := e.v.PutToolSettings(ctx, "acme", vault.ToolSettings{}); err != nil {
				t.Fatal(err)
			}
			acme := &itemClient{e: e, modern: modernEra, tenant: "acme"}
			beta := &itemClient{e: e, modern: modernEra, tenant: "beta"}

			if got := names(t, acme.rpc("resources/list", "", ""), "resources", "uri"); !slices.Equal(got,
				[]string{"plexus://acme/notes", "plexus://me", "plexus://weather-key"}) {
				t.Errorf("acme resources %v", got)
			}
			if got := names(t, beta.rpc("resources/list", "", ""), "resources", "uri"); !slices.Equal(got,
				[]string{"plexus://me", "plexus://weather-key"}) {
				t.Errorf("beta resources %v", got)
			}
			if got := names(t, acme.rpc("resources/templates/list", "", ""), "resourceTemplates", "uriTemplate"); !slices.Equal(got, []string{"plexus://files/{name}"}) {
				t.Errorf("acme templates %v", got)
			}
			if got := names(t, acme.rpc("prompts/list", "", ""), "prompts", "name"); !slices.Equal(got, []string{"summarize"}) {
				t.Errorf("acme prompts %v", got)
			}
			if got := names(t, beta.rpc("prompts/list", "", ""), "prompts", "name"); !slices.Equal(got, []string{"beta_only", "summarize"}) {
				t.Errorf("beta prompts %v", got)
			}
			if rep := acme.read("plexus://acme/notes"); !strings.Contains(rep.body, "acme's notes") {
				t.Errorf("acme read notes: %s", rep.body)
			}
			if rep := acme.read("plexus://files/a.txt"); !strings.Contains(rep.body, "file a.txt") {
				t.Errorf("acme read template: %s", rep.body)
			}
			if rep := acme.getPrompt("summarize"); !strings.Contains(rep.body, "Summarize rain for tenant acme") {
				t.Errorf("acme get prompt: %s", rep.body)
			}
			// Another tenant's resource and prompt: as unknown.
			sameAnswer(t, beta.read("plexus://acme/notes"), beta.read("plexus://acme/nothing"), "plexus://acme/notes", "plexus://acme/nothing")
			sameAnswer(t, acme.getPrompt("beta_only"), acme.getPrompt("no_prompt"), "beta_only", "no_prompt")

			// Disable the sets: hidden from the lists, refused as unknown.
			if err := e.v.PutToolSettings(ctx, "acme", vault.ToolSettings{DisabledToolSets: []string{"files", "writing"}}); err != nil {
				t.Fatal(err)
			}
			if got := names(t, acme.rpc("resources/templates/list", "", ""), "resourceTemplates", "uriTemplate"); len(got) != 0 {
				t.Errorf("disabled template listed: %v", got)
			}
			if got := names(t, acme.rpc("prompts/list", "", ""), "prompts", "name"); len(got) != 0 {
				t.Errorf("disabled prompt listed: %v", got)
			}
			if got := names(t, acme.rpc("resources/list", "", ""), "resources", "uri"); len(got) != 3 {
				t.Errorf("resources outside the sets went: %v", got)
			}
			sameAnswer(t, acme.read("plexus://files/a.txt"), acme.read("plexus://nothing/a.txt"), "plexus://files/a.txt", "plexus://nothing/a.txt")
			sameAnswer(t, acme.getPrompt("summarize"), acme.getPrompt("no_prompt"), "summarize", "no_prompt")
			// Only acme's settings changed.
			if rep := beta.read("plexus://files/b.txt"); !strings.Contains(rep.body, "file b.txt") {
				t.Errorf("beta lost the template: %s", rep.body)
			}
		})
	}
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{}); err != nil {
		t.Fatal(err)
	}
	acme := &itemClient{e: e, modern: true, tenant: "acme"}
	if rep := acme.read("plexus://files/c.txt"); !strings.Contains(rep.body, "file c.txt") {
		t.Errorf("enabled again: %s", rep.body)
	}
}

// TestItemCapabilities: a tenant with resources and prompts declares
// them (with listChanged) and is told when its tool settings change;
// one without declares both all the same (upstreams come at runtime).
func TestItemCapabilities(t *testing.T) {
	reg := tools.NewRegistry()
	if err := reg.RegisterPrompt(tools.Prompt{Definition: mcp.NewPrompt("p"), AllowedTenants: []string{"acme"},
		Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult("", nil), nil
		}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterResource(tools.Resource{Definition: mcp.NewResource("plexus://r", "r"), AllowedTenants: []string{"acme"},
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg))
	caps := func(tenant string) map[string]json.RawMessage {
		rep := e.do(req{tenant: tenant, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`})
		var res struct {
			Capabilities map[string]json.RawMessage `json:"capabilities"`
		}
		if err := json.Unmarshal(rep.rpc.Result, &res); err != nil {
			t.Fatal(rep.body)
		}
		return res.Capabilities
	}
	a := caps("acme")
	if string(a["resources"]) != `{"listChanged":true}` || string(a["prompts"]) != `{"listChanged":true}` {
		t.Errorf("acme capabilities: %s %s", a["resources"], a["prompts"])
	}
	// beta has none of the registry's items, but declares both kinds all
	// the same: an upstream MCP server mounted at runtime brings its own,
	// and list_changed must reach the sessions already open.
	if b := caps("beta"); string(b["resources"]) != `{"listChanged":true}` || string(b["prompts"]) != `{"listChanged":true}` {
		t.Errorf("beta capabilities: %v", b)
	}

	sid := e.initialize("acme", "")
	g := e.openGetStream("acme", sid)
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledToolSets: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := g.seen()
		if slices.Contains(s, "notifications/resources/list_changed") && slices.Contains(s, "notifications/prompts/list_changed") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET stream saw %v, want resources and prompts list_changed", g.seen())
}

// TestItemCredentials: resource and prompt handlers run with the caller,
// session values and credentials tools have; a resource that Requires a
// key the caller lacks is refused with what to do, and read once it is
// stored.
func TestItemCredentials(t *testing.T) {
	e := newEnv(t, WithRegistry(itemRegistry(t)))
	uid, tok := e.user("acme", "alice")
	alice := &itemClient{e: e, modern: true, tenant: "acme", token: tok}
	if rep := alice.read("plexus://me"); !strings.Contains(rep.body, "tenant=acme user="+uid+" guest=false key=false") {
		t.Fatalf("read me: %s", rep.body)
	}
	rep := alice.read("plexus://weather-key")
	if rep.rpc.Error == nil || !strings.Contains(rep.rpc.Error.Message, "resource plexus://weather-key: API key for openweathermap") ||
		!strings.Contains(rep.rpc.Error.Message, "/acme/plexus-services/api-keys") {
		t.Fatalf("missing key: %s", rep.body)
	}
	if err := e.v.PutCredential(t.Context(), "acme", uid, vault.CredentialAPIKey, "openweathermap", []byte("k-123")); err != nil {
		t.Fatal(err)
	}
	if rep := alice.read("plexus://me"); !strings.Contains(rep.body, "key=true") {
		t.Fatalf("read me with a key: %s", rep.body)
	}
	if rep := alice.read("plexus://weather-key"); !strings.Contains(rep.body, "key of 5 bytes") {
		t.Fatalf("read with the key: %s", rep.body)
	}
	// Another user of the tenant does not get alice's key.
	_, bob := e.user("acme", "bob")
	if rep := (&itemClient{e: e, modern: true, tenant: "acme", token: bob}).read("plexus://me"); !strings.Contains(rep.body, "key=false") {
		t.Fatalf("bob sees a key: %s", rep.body)
	}
	// A guest in a legacy session.
	guest := &itemClient{e: e, tenant: "acme"}
	if rep := guest.read("plexus://me"); !strings.Contains(rep.body, "user= guest=true key=false") {
		t.Fatalf("guest: %s", rep.body)
	}
	if rep := guest.getPrompt("summarize"); !strings.Contains(rep.body, "for tenant acme") {
		t.Fatalf("guest prompt: %s", rep.body)
	}
}

func TestItemHandlerPanics(t *testing.T) {
	reg := tools.NewRegistry()
	if err := reg.RegisterPrompt(tools.Prompt{Definition: mcp.NewPrompt("boom"),
		Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) { panic("boom") }}); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterResource(tools.Resource{Definition: mcp.NewResource("plexus://boom", "boom"),
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) { panic("boom") }}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg))
	c := &itemClient{e: e, modern: true, tenant: "acme"}
	for _, rep := range []reply{c.getPrompt("boom"), c.read("plexus://boom")} {
		if rep.rpc.Error == nil || !strings.Contains(rep.rpc.Error.Message, "panic recovered") {
			t.Errorf("panic: %d %s", rep.status, rep.body)
		}
	}
	whoami(t, e.modernCall("acme", localToken, tools.WhoamiName, "")) // still serving
}
