package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// scopedRegistry: xy_tool (tenants acme and beta only), ops_tool (tool set
// "ops"), plain_tool (no set) and the built-in plexus_whoami.
func scopedRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	ok := func(name string) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(name + " ran"), nil
		}
	}
	for _, tl := range []tools.Tool{
		{Definition: mcp.NewTool("xy_tool"), Handler: ok("xy_tool"), AllowedTenants: []string{"acme", "beta"}},
		{Definition: mcp.NewTool("ops_tool"), Handler: ok("ops_tool"), ToolSets: []string{"ops"}},
		{Definition: mcp.NewTool("plain_tool"), Handler: ok("plain_tool")},
	} {
		if err := reg.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// era abstracts the two protocol eras for matrix tests.
type era struct {
	name string
	list func(e *env, tenant string, params string) reply
	call func(e *env, tenant, tool string) reply
}

func eras(t *testing.T) []era {
	sessions := map[string]string{}
	return []era{
		{
			name: "legacy",
			list: func(e *env, tenant, params string) reply {
				sid, ok := sessions[tenant]
				if !ok {
					sid = e.initialize(tenant, "")
					sessions[tenant] = sid
				}
				if params == "" {
					params = "{}"
				}
				return e.do(req{tenant: tenant, session: sid, version: legacy,
					body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":` + params + `}`})
			},
			call: func(e *env, tenant, tool string) reply {
				sid, ok := sessions[tenant]
				if !ok {
					sid = e.initialize(tenant, "")
					sessions[tenant] = sid
				}
				return e.legacyCall(tenant, "", sid, tool, "")
			},
		},
		{
			name: "modern",
			list: func(e *env, tenant, params string) reply {
				p := modernMeta
				if params != "" {
					p = strings.TrimSuffix(strings.TrimPrefix(params, "{"), "}") + "," + modernMeta
				}
				return e.do(req{tenant: tenant, version: modern, headers: map[string]string{"Mcp-Method": "tools/list"},
					body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + p + `}}`})
			},
			call: func(e *env, tenant, tool string) reply { return e.modernCall(tenant, "", tool, "") },
		},
	}
}

// notFound reports whether a tools/call answer is mcp-go's unknown-tool
// error, with the message it gives a tool that exists nowhere.
func notFound(t *testing.T, rep reply, tool string) {
	t.Helper()
	if rep.rpc.Error == nil {
		t.Fatalf("%s was callable: %s", tool, rep.body)
	}
	want := "tool '" + tool + "' not found: tool not found"
	if rep.rpc.Error.Message != want || rep.rpc.Error.Code != mcp.INVALID_PARAMS {
		t.Fatalf("%s: error %d %q, want %d %q (same as an unknown tool)", tool, rep.rpc.Error.Code, rep.rpc.Error.Message, mcp.INVALID_PARAMS, want)
	}
}

// TestToolScopingMatrix: a tool limited to tenants X, Y is invisible and
// uncallable on Z; a tenant's disabled tool and disabled tool set too; in
// both eras, with the same error as a tool that exists nowhere.
func TestToolScopingMatrix(t *testing.T) {
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	if _, err := e.v.CreateTenant(t.Context(), vault.Tenant{ID: "gamma", Name: "gamma"}); err != nil {
		t.Fatal(err)
	}
	// acme disables plain_tool and the "ops" set; beta and gamma keep all.
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"plain_tool"}, DisabledToolSets: []string{"ops"}}); err != nil {
		t.Fatal(err)
	}

	all := []string{tools.WhoamiName, "xy_tool", "ops_tool", "plain_tool"}
	want := map[string][]string{
		"acme":  {tools.WhoamiName, "xy_tool"},
		"beta":  {tools.WhoamiName, "xy_tool", "ops_tool", "plain_tool"},
		"gamma": {tools.WhoamiName, "ops_tool", "plain_tool"},
	}
	for _, er := range eras(t) {
		for tenant, visible := range want {
			t.Run(er.name+"/"+tenant, func(t *testing.T) {
				got := toolNames(t, er.list(e, tenant, ""))
				slices.Sort(got)
				w := slices.Clone(visible)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("tools/list = %v, want %v", got, w)
				}
				for _, tool := range all {
					rep := er.call(e, tenant, tool)
					if slices.Contains(visible, tool) {
						if _, isErr := toolText(t, rep); isErr {
							t.Fatalf("%s failed: %s", tool, rep.body)
						}
						continue
					}
					notFound(t, rep, tool)
				}
				notFound(t, er.call(e, tenant, "no_such_tool"), "no_such_tool")
			})
		}
	}

	// Enabling again takes effect at once.
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{}); err != nil {
		t.Fatal(err)
	}
	if text, _ := toolText(t, e.modernCall("acme", "", "ops_tool", "")); text != "ops_tool ran" {
		t.Fatalf("ops_tool after enabling = %q", text)
	}
}

// TestToolSetFilter: tools/list's tool_set_filter (MCP Plexus: a string;
// Plexus also takes a list) in both eras; it only narrows the listing.
func TestToolSetFilter(t *testing.T) {
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	for _, er := range eras(t) {
		for _, tc := range []struct {
			name, params string
			want         []string
		}{
			{"string", `{"tool_set_filter":"ops"}`, []string{"ops_tool"}},
			{"padded", `{"tool_set_filter":" ops "}`, []string{"ops_tool"}},
			{"list", `{"tool_set_filter":["plexus","ops"]}`, []string{tools.WhoamiName, "ops_tool"}},
			{"unknown set", `{"tool_set_filter":"nope"}`, nil},
			{"empty string", `{"tool_set_filter":""}`, []string{tools.WhoamiName, "xy_tool", "ops_tool", "plain_tool"}},
			{"null", `{"tool_set_filter":null}`, []string{tools.WhoamiName, "xy_tool", "ops_tool", "plain_tool"}},
		} {
			t.Run(er.name+"/"+tc.name, func(t *testing.T) {
				got := toolNames(t, er.list(e, "acme", tc.params))
				slices.Sort(got)
				w := slices.Clone(tc.want)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("tools/list %s = %v, want %v", tc.params, got, w)
				}
			})
		}
		t.Run(er.name+"/bad type", func(t *testing.T) {
			rep := er.list(e, "acme", `{"tool_set_filter":42}`)
			wantRPCError(t, rep, http.StatusBadRequest, "tool_set_filter: want a tool-set name or a list of names")
		})
		t.Run(er.name+"/call outside the filter", func(t *testing.T) {
			if text, _ := toolText(t, er.call(e, "acme", "plain_tool")); text != "plain_tool ran" {
				t.Fatalf("plain_tool = %q", text)
			}
		})
	}
}

func FuzzToolSetFilter(f *testing.F) {
	for _, s := range []string{`"ops"`, `["a","b"]`, `null`, `42`, `{}`, `[1]`, `""`, `[" "]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sets, ok, err := parseToolSetFilter(raw)
		if err != nil && ok {
			t.Fatal("error and ok")
		}
		if ok && len(sets) == 0 {
			t.Fatal("ok without names")
		}
	})
}

// sseStream is an open legacy GET stream.
type sseStream struct {
	events chan string
}

// openStream opens the legacy GET stream of a session and returns its
// events' data lines; it is closed by t.Cleanup.
func (e *env) openStream(tenant, token, sid string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url(tenant), nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	hr.Header.Set("Mcp-Session-Id", sid)
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	return e.stream(hr)
}

// openListen opens a 2026-07-28 subscriptions/listen stream asking for
// tools/list_changed.
func (e *env) openListen(tenant string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url(tenant), strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},`+modernMeta+`}}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json, text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", modern)
	hr.Header.Set("Mcp-Method", "subscriptions/listen")
	return e.stream(hr)
}

func (e *env) stream(hr *http.Request) *sseStream {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("GET stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		e.t.Fatalf("GET stream: %d", resp.StatusCode)
	}
	s := &sseStream{events: make(chan string, 16)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case s.events <- d:
				default:
				}
			}
		}
	}()
	return s
}

// waitFor reports whether an event with method arrives within d (other
// events are skipped).
func (s *sseStream) waitFor(method string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case ev := <-s.events:
			var m struct {
				Method string `json:"method"`
			}
			if json.Unmarshal([]byte(ev), &m) == nil && m.Method == method {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestToolSettingsChangedNotifies: after a settings change (announced by
// the vault, nothing else is told), the tenant's
// legacy GET streams get notifications/tools/list_changed; other tenants'
// do not.
func TestToolSettingsChangedNotifies(t *testing.T) {
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	acme := e.openStream("acme", "", e.initialize("acme", ""))
	acmeModern := e.openListen("acme")
	beta := e.openStream("beta", "", e.initialize("beta", ""))
	betaModern := e.openListen("beta")
	time.Sleep(200 * time.Millisecond) // let the streams register

	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"plain_tool"}}); err != nil {
		t.Fatal(err)
	}
	changed := string(mcp.MethodNotificationToolsListChanged)
	if !acme.waitFor(changed, 5*time.Second) {
		t.Fatal("acme's legacy GET stream got no tools/list_changed")
	}
	if !acmeModern.waitFor(changed, 5*time.Second) {
		t.Fatal("acme's subscriptions/listen stream got no tools/list_changed")
	}
	if beta.waitFor(changed, 300*time.Millisecond) || betaModern.waitFor(changed, 10*time.Millisecond) {
		t.Fatal("beta got acme's tools/list_changed")
	}
	// A change for a tenant never served is harmless.
	if _, err := e.v.CreateTenant(t.Context(), vault.Tenant{ID: "gamma"}); err != nil {
		t.Fatal(err)
	}
	if err := e.v.PutToolSettings(t.Context(), "gamma", vault.ToolSettings{DisabledTools: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
}
