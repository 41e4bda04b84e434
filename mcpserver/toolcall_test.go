package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry/telemetrytest"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// argsTool is a registry tool with a schema worth checking; calls records
// the arguments its handler saw.
type argsTool struct {
	mu    sync.Mutex
	calls []map[string]any
}

func (a *argsTool) tool() tools.Tool {
	def := mcp.NewTool("book_room",
		mcp.WithString("room", mcp.Required()),
		mcp.WithNumber("people", mcp.Min(1)),
		mcp.WithObject("when", mcp.Required(), mcp.Properties(map[string]any{
			"day":  map[string]any{"type": "string"},
			"hour": map[string]any{"type": "integer", "minimum": 0, "maximum": 23},
		})),
	)
	def.InputSchema.Properties["when"].(map[string]any)["required"] = []string{"day"}
	return tools.Tool{Definition: def, Handler: func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		a.mu.Lock()
		a.calls = append(a.calls, r.GetArguments())
		a.mu.Unlock()
		return mcp.NewToolResultText("booked"), nil
	}}
}

func (a *argsTool) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

var argCases = []struct {
	name string
	args string
	want string // "" = valid
}{
	{"valid", `{"room":"blue","when":{"day":"mon","hour":9}}`, ""},
	{"valid with number", `{"room":"blue","people":3,"when":{"day":"mon"}}`, ""},
	{"missing required", `{"when":{"day":"mon"}}`, `missing required argument "room"`},
	{"nested missing", `{"room":"blue","when":{}}`, `missing required argument "when.day"`},
	{"extra property", `{"room":"blue","when":{"day":"mon"},"floor":2}`, `unknown argument "floor"; this tool takes: people, room, when`},
	{"wrong type", `{"room":7,"when":{"day":"mon"}}`, `argument "room" must be a string, not a number`},
	{"nested wrong type", `{"room":"blue","when":{"day":"mon","hour":"nine"}}`, `argument "when.hour" must be an integer, not a string`},
	{"nested out of range", `{"room":"blue","when":{"day":"mon","hour":24}}`, `argument "when.hour" must be at most 23; got 24`},
	{"not an object", `[1,2]`, `the arguments must be a JSON object, not an array`},
	{"null", `null`, `missing required argument "room"`},
}

// TestToolArgumentsChecked: a registry tool's arguments are checked
// against its schema before the handler runs, in both eras; a bad call
// gets an isError result naming the argument and the reason, and the
// handler never sees it.
func TestToolArgumentsChecked(t *testing.T) {
	at := &argsTool{}
	reg := tools.NewRegistry()
	if err := reg.Register(at.tool()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg))
	sid := e.initialize("acme", localToken)
	for _, era := range []string{"legacy", "modern"} {
		for _, tc := range argCases {
			t.Run(era+"/"+tc.name, func(t *testing.T) {
				before := at.count()
				var rep reply
				if era == "legacy" {
					rep = e.legacyCall("acme", localToken, sid, "book_room", tc.args)
				} else {
					rep = e.modernCall("acme", localToken, "book_room", tc.args)
				}
				text, isErr := toolText(t, rep)
				if tc.want == "" {
					if isErr || text != "booked" || at.count() != before+1 {
						t.Fatalf("valid call: %q isError=%v handler calls %d->%d", text, isErr, before, at.count())
					}
					return
				}
				if !isErr || !strings.Contains(text, tc.want) || !strings.HasPrefix(text, `invalid arguments for tool "book_room": `) {
					t.Errorf("text %q isError=%v, want an error containing %q", text, isErr, tc.want)
				}
				if at.count() != before {
					t.Errorf("the handler ran on invalid arguments")
				}
			})
		}
	}
}

// TestBuiltinToolRefusesExtraArguments: plexus_whoami declares no
// arguments, so any argument is refused (the registry makes its schemas
// strict) and tools/list says so.
func TestBuiltinToolRefusesExtraArguments(t *testing.T) {
	e := newEnv(t)
	text, isErr := toolText(t, e.modernCall("acme", localToken, tools.WhoamiName, `{"verbose":true}`))
	if !isErr || !strings.Contains(text, `unknown argument "verbose"; this tool takes no arguments`) {
		t.Fatalf("whoami with an extra argument: %q %v", text, isErr)
	}
	whoami(t, e.modernCall("acme", localToken, tools.WhoamiName, `{}`))
	rep := e.do(req{tenant: "acme", token: localToken, version: modern, headers: map[string]string{"Mcp-Method": "tools/list"},
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + modernMeta + `}}`})
	if !strings.Contains(rep.body, `"additionalProperties":false`) {
		t.Errorf("tools/list does not show the strict schema: %s", rep.body)
	}
}

// TestForeignToolArgumentsChecked: a tool added to a tenant's server by
// other means than the registry (an upstream's, a declarative HTTP tool:
// here a tenant extension) goes through the same check, and a replaced
// definition is checked against its new schema.
func TestForeignToolArgumentsChecked(t *testing.T) {
	var calls int
	var mu sync.Mutex
	h := func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return mcp.NewToolResultText("ok"), nil
	}
	e := newEnv(t, WithTenantExtension("acme", nil, func(ms *server.MCPServer) {
		ms.AddTool(mcp.NewTool("upstream_search", mcp.WithString("q", mcp.Required())), h)
	}))
	// No additionalProperties in the foreign schema: extra arguments pass,
	// wrong ones do not.
	if text, isErr := toolText(t, e.modernCall("acme", localToken, "upstream_search", `{"q":"x","page":2}`)); isErr {
		t.Fatalf("valid call refused: %s", text)
	}
	if text, isErr := toolText(t, e.modernCall("acme", localToken, "upstream_search", `{"q":5}`)); !isErr ||
		!strings.Contains(text, `argument "q" must be a string, not a number`) {
		t.Fatalf("wrong type: %q %v", text, isErr)
	}
	ts, err := e.srv.tenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	ts.mcp.AddTool(mcp.NewTool("upstream_search", mcp.WithNumber("q", mcp.Required())), h)
	if text, isErr := toolText(t, e.modernCall("acme", localToken, "upstream_search", `{"q":5}`)); isErr {
		t.Fatalf("call valid under the new schema refused: %s", text)
	}
	if text, isErr := toolText(t, e.modernCall("acme", localToken, "upstream_search", `{"q":"x"}`)); !isErr ||
		!strings.Contains(text, `argument "q" must be a number, not a string`) {
		t.Fatalf("old schema still applied: %q %v", text, isErr)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("handler calls = %d, want 2", calls)
	}
}

// TestToolCallMetrics: tool calls are counted by tenant, tool and outcome.
func TestToolCallMetrics(t *testing.T) {
	m := telemetry.New()
	at := &argsTool{}
	reg := tools.NewRegistry()
	if err := reg.Register(at.tool()); err != nil {
		t.Fatal(err)
	}
	panicky := mcp.NewTool("panicky")
	if err := reg.Register(tools.Tool{Definition: panicky, Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("boom")
	}}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg), WithMetrics(m))
	whoami(t, e.modernCall("acme", localToken, tools.WhoamiName, ""))
	whoami(t, e.modernCall("beta", localToken, tools.WhoamiName, ""))
	toolText(t, e.modernCall("acme", localToken, "book_room", `{"room":"x","when":{"day":"mon"}}`))
	toolText(t, e.modernCall("acme", localToken, "book_room", `{}`))
	e.modernCall("acme", localToken, "panicky", "")
	e.modernCall("acme", localToken, "no_such_tool", "") // never counted: its name is request input

	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	fams, err := telemetrytest.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	calls := fams["plexus_tool_calls_total"]
	for _, w := range []struct {
		tenant, tool, outcome string
	}{
		{"acme", tools.WhoamiName, "ok"},
		{"beta", tools.WhoamiName, "ok"},
		{"acme", "book_room", "ok"},
		{"acme", "book_room", "invalid_arguments"},
		{"acme", "panicky", "error"},
	} {
		ss := calls.Find("plexus_tool_calls_total", map[string]string{"tenant": w.tenant, "tool": w.tool, "outcome": w.outcome})
		if len(ss) != 1 || ss[0].Value != 1 {
			t.Errorf("%v: %+v", w, ss)
		}
	}
	if ss := calls.Find("plexus_tool_calls_total", map[string]string{"tool": "no_such_tool"}); len(ss) != 0 {
		t.Errorf("an unknown tool's name became a label: %+v", ss)
	}
	if len(calls.Samples) != 5 {
		t.Errorf("%d series, want 5", len(calls.Samples))
	}
}

// FuzzToolArguments runs arbitrary argument JSON through the arguments
// check of a tenant's server: it never panics, and the handler runs only
// with arguments that satisfy the schema (checked here by hand).
func FuzzToolArguments(f *testing.F) {
	for _, tc := range argCases {
		f.Add([]byte(tc.args))
	}
	f.Add([]byte(`{"room":"a","when":{"day":"x","hour":1.5}}`))
	f.Add([]byte(`{"room":"a","when":{"day":"x"},"people":0}`))
	at := &argsTool{}
	reg := tools.NewRegistry()
	if err := reg.Register(at.tool()); err != nil {
		f.Fatal(err)
	}
	s := &Server{registry: reg, log: slog.New(slog.DiscardHandler)}
	ms := server.NewMCPServer("fuzz", "1")
	t0, _ := reg.Lookup("book_room")
	ms.AddTool(t0.Definition, t0.Handler)
	a := newArgSchemas(s, "acme")
	a.ms = ms
	var ran bool
	h := a.middleware()(func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ran = true
		return mcp.NewToolResultText("ok"), nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		var args any
		if json.Unmarshal(data, &args) != nil {
			return
		}
		ran = false
		var req mcp.CallToolRequest
		req.Params.Name = "book_room"
		req.Params.Arguments = args
		res, err := h(t.Context(), req)
		if err != nil || res == nil {
			t.Fatalf("check failed with %v", err)
		}
		why := bookViolation(args)
		switch {
		case ran && why != "":
			t.Fatalf("the handler ran with %s, which breaks the schema: %s", data, why)
		case !ran && !res.IsError:
			t.Fatalf("no handler and no error for %s", data)
		case !ran && why == "":
			t.Fatalf("valid arguments %s refused: %+v", data, res.Content)
		}
	})
}

// bookViolation checks book_room's schema by hand ("" = valid).
func bookViolation(args any) string {
	m, ok := args.(map[string]any)
	if !ok {
		return "not an object"
	}
	for k := range m {
		if k != "room" && k != "people" && k != "when" {
			return "extra " + k
		}
	}
	if _, ok := m["room"].(string); !ok {
		return "room"
	}
	if p, present := m["people"]; present {
		if n, ok := p.(float64); !ok || n < 1 {
			return "people"
		}
	}
	w, ok := m["when"].(map[string]any)
	if !ok {
		return "when"
	}
	if _, ok := w["day"].(string); !ok {
		return "when.day"
	}
	if h, present := w["hour"]; present {
		n, ok := h.(float64)
		if !ok || n != float64(int64(n)) || n < 0 || n > 23 {
			return "when.hour"
		}
	}
	return ""
}
