package mcpserver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/gate"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// searchRegistry holds a few tools with descriptions, like real ones.
func searchRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	ran := func(name string) server.ToolHandlerFunc {
		return func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(name + " ran"), nil
		}
	}
	for _, tl := range []tools.Tool{
		{Definition: mcp.NewTool("github_list_repos", mcp.WithDescription("Lists the GitHub repositories of the connected account, most recently updated first.")),
			Handler: ran("github_list_repos"), ToolSets: []string{"github"}},
		{Definition: mcp.NewTool("github_whoami", mcp.WithDescription("Shows the GitHub account you connected.")),
			Handler: ran("github_whoami"), ToolSets: []string{"github"}},
		{Definition: mcp.NewTool("weather_current", mcp.WithDescription("Current weather for a city."),
			mcp.WithString("city", mcp.Required())),
			Handler: ran("weather_current"), ToolSets: []string{"weather"}},
		{Definition: mcp.NewTool("calendar_add_event", mcp.WithDescription("Adds an event to the calendar.")),
			Handler: ran("calendar_add_event")},
	} {
		if err := reg.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

type searchResult struct {
	Tools []SearchHit `json:"tools"`
}

func (e *env) search(sid, query string) []SearchHit {
	e.t.Helper()
	text, isErr := toolText(e.t, e.legacyCall("acme", localToken, sid, SearchToolsName, `{"query":`+quote(query)+`}`))
	if isErr {
		e.t.Fatalf("search %q: %s", query, text)
	}
	var r searchResult
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		e.t.Fatalf("search result %s: %v", text, err)
	}
	return r.Tools
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func hitNames(hs []SearchHit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

// TestToolSearchRanksAndHonoursSettings: with the tenant's search on, the
// right tool comes first with its schema; a disabled tool or tool set is
// never found; the control tools are never found.
func TestToolSearchRanksAndHonoursSettings(t *testing.T) {
	e := newEnv(t, WithRegistry(searchRegistry(t)))
	sid := e.initialize("acme", localToken)
	// Off: neither listed nor callable.
	notFound(t, e.legacyCall("acme", localToken, sid, SearchToolsName, `{"query":"x"}`), SearchToolsName)
	if err := e.v.SetToolSearch(t.Context(), "acme", true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, first string }{
		{"list my repositories", "github_list_repos"},
		{"what's the weather in Paris", "weather_current"},
		{"add a meeting to my calendar", "calendar_add_event"},
		{"which github account", "github_whoami"},
	} {
		hits := e.search(sid, tc.query)
		if len(hits) == 0 || hits[0].Name != tc.first {
			t.Errorf("search %q = %v, want %s first", tc.query, hitNames(hits), tc.first)
		}
	}
	hits := e.search(sid, "weather")
	if len(hits) != 1 || !strings.Contains(string(hits[0].InputSchema), `"city"`) {
		t.Fatalf("search weather = %+v", hits)
	}
	if hits := e.search(sid, "plexus search tools call"); slices.ContainsFunc(hits, func(h SearchHit) bool { return isControlTool(h.Name) }) {
		t.Fatalf("control tools found: %v", hitNames(hits))
	}
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"github_list_repos"}, DisabledToolSets: []string{"weather"}}); err != nil {
		t.Fatal(err)
	}
	if hits := e.search(sid, "list github repositories weather"); slices.Contains(hitNames(hits), "github_list_repos") || slices.Contains(hitNames(hits), "weather_current") {
		t.Fatalf("disabled tools found: %v", hitNames(hits))
	}
	// A stateless (2026-07-28) caller dispatches the same way.
	if text, isErr := toolText(t, e.modernCall("acme", localToken, CallToolName, `{"name":"github_whoami"}`)); isErr || text != "github_whoami ran" {
		t.Fatalf("stateless plexus_call_tool: %q %v", text, isErr)
	}
	// Bad input.
	for _, args := range []string{`{"query":"  !!  "}`, `{"query":"x","limit":0}`, `{}`} {
		if _, isErr := toolText(t, e.legacyCall("acme", localToken, sid, SearchToolsName, args)); !isErr {
			t.Errorf("search %s: no error", args)
		}
	}
}

// TestCallToolReachesLateTools: a tool added after the client's
// tools/list is reached through plexus_call_tool, with the same checks
// as a direct call: arguments, tool settings (not found), gates (locked);
// plexus_call_tool calls neither itself nor the gate tools.
func TestCallToolReachesLateTools(t *testing.T) {
	e := newEnv(t, WithRegistry(searchRegistry(t)))
	if err := e.v.SetToolSearch(t.Context(), "acme", true); err != nil {
		t.Fatal(err)
	}
	sid := e.initialize("acme", localToken)
	before := toolNames(t, e.do(req{tenant: "acme", token: localToken, session: sid, version: legacy,
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`}))
	if slices.Contains(before, "late_tool") || !slices.Contains(before, CallToolName) {
		t.Fatalf("tools/list = %v", before)
	}
	// A source adds a tool now (as an upstream server would).
	late := sourceTool{ServerTool: server.ServerTool{
		Tool: mcp.NewTool("late_tool", mcp.WithDescription("Translates text into Klingon."), mcp.WithString("text", mcp.Required())),
		Handler: func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("late_tool ran: " + r.GetString("text", "")), nil
		},
	}, ToolSets: []string{"late"}}
	if refused := e.srv.setSourceItems("acme", "test:late", sourceItems{Tools: []sourceTool{late}}); len(refused) > 0 {
		t.Fatal(refused)
	}
	if hits := e.search(sid, "translate into klingon"); len(hits) == 0 || hits[0].Name != "late_tool" {
		t.Fatalf("search = %v", hitNames(hits))
	}
	call := func(name, args string) (string, bool) {
		t.Helper()
		return toolText(t, e.legacyCall("acme", localToken, sid, CallToolName, `{"name":`+quote(name)+`,"arguments":`+args+`}`))
	}
	if text, isErr := call("late_tool", `{"text":"hello"}`); isErr || text != "late_tool ran: hello" {
		t.Fatalf("call late_tool: %q %v", text, isErr)
	}
	// The arguments check applies.
	if text, isErr := call("late_tool", `{}`); !isErr || !strings.Contains(text, "text") {
		t.Fatalf("call late_tool without its argument: %q", text)
	}
	if text, isErr := call("no_such_tool", `{}`); !isErr || !strings.Contains(text, "not found") {
		t.Fatalf("call no_such_tool: %q", text)
	}
	// Control tools are refused.
	for _, name := range []string{CallToolName, SearchToolsName, GateUnlockName, GateLockName, GateStatusName} {
		if text, isErr := call(name, `{}`); !isErr || !strings.Contains(text, "call it directly") {
			t.Errorf("call %s: %q", name, text)
		}
	}
	// A gate on its tool set locks it through plexus_call_tool too, and an
	// unlock opens it.
	_, secret, err := e.v.CreateGate(t.Context(), vault.Gate{TenantID: "acme", ToolSet: "late"})
	if err != nil {
		t.Fatal(err)
	}
	text, isErr := call("late_tool", `{"text":"hello"}`)
	wantLocked(t, text, isErr)
	if hits := e.search(sid, "klingon"); len(hits) != 1 || !hits[0].Locked {
		t.Fatalf("search of a locked tool = %+v", hits)
	}
	code, _ := gate.Code(secret, e.clock.Now())
	if text, isErr := toolText(t, e.legacyCall("acme", localToken, sid, GateUnlockName, `{"code":"`+code+`"}`)); isErr {
		t.Fatalf("unlock: %q", text)
	}
	if text, isErr := call("late_tool", `{"text":"hi"}`); isErr || text != "late_tool ran: hi" {
		t.Fatalf("call late_tool after unlocking: %q %v", text, isErr)
	}
	// Disabled: not found, as directly.
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"late_tool"}}); err != nil {
		t.Fatal(err)
	}
	if text, isErr := call("late_tool", `{"text":"hi"}`); !isErr || text != "tool 'late_tool' not found: tool not found" {
		t.Fatalf("call disabled late_tool: %q %v", text, isErr)
	}
}

// TestToolSearchSwitchNotifies: turning the search on and off sends
// tools/list_changed and shows or hides both search tools.
func TestToolSearchSwitchNotifies(t *testing.T) {
	e := newEnv(t, WithRegistry(searchRegistry(t)))
	sid := e.initialize("acme", localToken)
	stream := e.openStream("acme", localToken, sid)
	time.Sleep(200 * time.Millisecond)
	changed := string(mcp.MethodNotificationToolsListChanged)
	list := func() []string {
		return toolNames(t, e.do(req{tenant: "acme", token: localToken, session: sid, version: legacy,
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`}))
	}
	for _, on := range []bool{true, false} {
		if err := e.v.SetToolSearch(t.Context(), "acme", on); err != nil {
			t.Fatal(err)
		}
		if !stream.waitFor(changed, 5*time.Second) {
			t.Fatalf("no tools/list_changed after search=%v", on)
		}
		got := list()
		if slices.Contains(got, SearchToolsName) != on || slices.Contains(got, CallToolName) != on {
			t.Fatalf("search=%v: tools/list = %v", on, got)
		}
	}
}

func TestRankToolsBM25(t *testing.T) {
	ts := []mcp.Tool{
		mcp.NewTool("a_send_mail", mcp.WithDescription("Sends an email message.")),
		mcp.NewTool("b_read_mail", mcp.WithDescription("Reads email messages from the inbox.")),
		mcp.NewTool("c_weather", mcp.WithDescription("Weather report; mail it to yourself.")),
	}
	got := rankTools(ts, searchTerms("send mail"))
	if len(got) != 3 || got[0].tool.Name != "a_send_mail" || got[2].tool.Name != "c_weather" {
		t.Fatalf("rank = %+v", got)
	}
	if got := rankTools(ts, searchTerms("zebra")); len(got) != 0 {
		t.Fatalf("rank zebra = %+v", got)
	}
	if got := rankTools(nil, searchTerms("x")); got != nil {
		t.Fatal(got)
	}
}

// callsRecorder keeps the calls it is given.
type callsRecorder struct {
	mu    sync.Mutex
	calls []audit.Call
}

func (r *callsRecorder) Record(c audit.Call) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return true
}

// TestCallToolIsRecorded: the tool plexus_call_tool reaches is recorded as
// a direct call is (besides plexus_call_tool itself).
func TestCallToolIsRecorded(t *testing.T) {
	rec := &callsRecorder{}
	e := newEnv(t, WithRegistry(searchRegistry(t)), WithCallRecorder(rec))
	if err := e.v.SetToolSearch(t.Context(), "acme", true); err != nil {
		t.Fatal(err)
	}
	sid := e.initialize("acme", localToken)
	if text, isErr := toolText(t, e.legacyCall("acme", localToken, sid, CallToolName, `{"name":"github_whoami"}`)); isErr {
		t.Fatal(text)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var names []string
	for _, c := range rec.calls {
		names = append(names, c.Tool)
	}
	if !slices.Equal(names, []string{"github_whoami", CallToolName}) {
		t.Fatalf("recorded %v", names)
	}
}
