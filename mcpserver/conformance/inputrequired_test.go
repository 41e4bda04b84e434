package conformance

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// TestInputRequiredTwoRounds: each single-exchange fixture asks for exactly
// the input the suite's scenario expects, then completes on the retry.
func TestInputRequiredTwoRounds(t *testing.T) {
	url := newFixtureServer(t)
	tests := []struct {
		name      string
		method    string // tools/call or prompts/get
		fixture   string
		want      map[string]string // input key -> method
		wantState bool
		answers   map[string]any
		wantText  string
	}{
		{
			name: "elicitation", method: "tools/call", fixture: mrtrElicitation,
			want:     map[string]string{"user_name": "elicitation/create"},
			answers:  map[string]any{"user_name": accept(map[string]any{"name": "Alice"})},
			wantText: "Hello, Alice!",
		},
		{
			name: "sampling", method: "tools/call", fixture: mrtrSampling,
			want:     map[string]string{"capital_question": "sampling/createMessage"},
			answers:  map[string]any{"capital_question": sampled("The capital of France is Paris.")},
			wantText: "Paris",
		},
		{
			name: "list roots", method: "tools/call", fixture: mrtrListRoots,
			want:     map[string]string{"client_roots": "roots/list"},
			answers:  map[string]any{"client_roots": rootsList()},
			wantText: "file:///test/root",
		},
		{
			name: "request state", method: "tools/call", fixture: mrtrRequestState,
			want: map[string]string{"confirm": "elicitation/create"}, wantState: true,
			answers:  map[string]any{"confirm": accept(map[string]any{"ok": true})},
			wantText: "state-ok",
		},
		{
			name: "multiple inputs", method: "tools/call", fixture: mrtrMultipleInput,
			want: map[string]string{
				"user_name": "elicitation/create", "greeting": "sampling/createMessage", "client_roots": "roots/list",
			},
			wantState: true,
			answers: map[string]any{
				"user_name": accept(map[string]any{"name": "Alice"}), "greeting": sampled("Hello there!"), "client_roots": rootsList(),
			},
			wantText: "name=Alice; greeting=Hello there!; roots=file:///test/root",
		},
		{
			name: "tampered state, untampered", method: "tools/call", fixture: mrtrTamperedState,
			want: map[string]string{"confirm": "elicitation/create"}, wantState: true,
			answers:  map[string]any{"confirm": accept(map[string]any{"ok": true})},
			wantText: "requestState verified",
		},
		{
			name: "prompt", method: "prompts/get", fixture: mrtrPrompt,
			want:     map[string]string{"user_context": "elicitation/create"},
			answers:  map[string]any{"user_context": accept(map[string]any{"context": "test context"})},
			wantText: "Use this context: test context",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := func() map[string]any {
				p := map[string]any{"name": tc.fixture}
				if tc.method == "tools/call" {
					p["arguments"] = map[string]any{}
				}
				return p
			}
			first := modern(t, url, tc.method, params(), nil, "")
			if got := inputRequests(t, first); !maps.Equal(got, tc.want) {
				t.Fatalf("inputRequests = %v, want %v", got, tc.want)
			}
			state, _ := first.result["requestState"].(string)
			if tc.wantState != (state != "") {
				t.Fatalf("requestState = %q, want one: %v", state, tc.wantState)
			}

			retry := params()
			retry["inputResponses"] = tc.answers
			if state != "" {
				retry["requestState"] = state
			}
			second := modern(t, url, tc.method, retry, nil, "")
			var text string
			if tc.method == "prompts/get" {
				if second.err != nil || second.result["resultType"] != "complete" {
					t.Fatalf("retry: want a complete GetPromptResult, got %v / %+v", second.result, second.err)
				}
				msgs, _ := second.result["messages"].([]any)
				if len(msgs) == 0 {
					t.Fatalf("retry: GetPromptResult has no messages: %v", second.result)
				}
				content, _ := msgs[0].(map[string]any)["content"].(map[string]any)
				text, _ = content["text"].(string)
			} else {
				text = completeText(t, second)
			}
			if !strings.Contains(text, tc.wantText) {
				t.Errorf("retry text = %q, want it to contain %q", text, tc.wantText)
			}
		})
	}
}

// TestInputRequiredMultiRound: three rounds, a new requestState each time.
func TestInputRequiredMultiRound(t *testing.T) {
	url := newFixtureServer(t)
	call := func(in map[string]any, state string) rpcReply {
		p := map[string]any{"name": mrtrMultiRound, "arguments": map[string]any{}}
		if in != nil {
			p["inputResponses"] = in
		}
		if state != "" {
			p["requestState"] = state
		}
		return modern(t, url, "tools/call", p, nil, "")
	}
	r1 := call(nil, "")
	if got := inputRequests(t, r1); got["step1"] != "elicitation/create" || len(got) != 1 {
		t.Fatalf("round 1 inputRequests = %v, want step1", got)
	}
	s1, _ := r1.result["requestState"].(string)
	r2 := call(map[string]any{"step1": accept(map[string]any{"name": "Alice"})}, s1)
	if got := inputRequests(t, r2); got["step2"] != "elicitation/create" || len(got) != 1 {
		t.Fatalf("round 2 inputRequests = %v, want step2", got)
	}
	s2, _ := r2.result["requestState"].(string)
	if s2 == "" || s2 == s1 {
		t.Fatalf("round 2 requestState = %q, want a new one (round 1: %q)", s2, s1)
	}
	if text := completeText(t, call(map[string]any{"step2": accept(map[string]any{"color": "blue"})}, s2)); text != "Alice's favorite color is blue" {
		t.Errorf("round 3 text = %q", text)
	}
	// Round 2's state with no answer asks for step 2 again.
	if got := inputRequests(t, call(nil, s2)); got["step2"] == "" {
		t.Errorf("round 2 state without an answer: inputRequests = %v, want step2 again", got)
	}
}

// TestInputRequiredBadInput: wrong, malformed, missing or tampered input
// never yields a complete result.
func TestInputRequiredBadInput(t *testing.T) {
	url := newFixtureServer(t)
	first := modern(t, url, "tools/call", map[string]any{"name": mrtrTamperedState, "arguments": map[string]any{}}, nil, "")
	state, _ := first.result["requestState"].(string)
	if state == "" {
		t.Fatal("tampered-state fixture gave no requestState")
	}
	// A valid state of another fixture.
	other := modern(t, url, "tools/call", map[string]any{"name": mrtrRequestState, "arguments": map[string]any{}}, nil, "")
	otherState, _ := other.result["requestState"].(string)

	ok := accept(map[string]any{"ok": true})
	tests := []struct {
		name    string
		fixture string
		params  map[string]any
		wantErr bool // else: a new InputRequiredResult
	}{
		{"wrong key re-requests", mrtrElicitation, map[string]any{"inputResponses": map[string]any{"wrong_key": accept(map[string]any{"data": "wrong"})}}, false},
		{"number instead of an answer", mrtrElicitation, map[string]any{"inputResponses": map[string]any{"user_name": 12345}}, false},
		{"null inputResponses", mrtrElicitation, map[string]any{"inputResponses": nil}, false},
		{"unknown action", mrtrElicitation, map[string]any{"inputResponses": map[string]any{"user_name": map[string]any{"action": "maybe"}}}, false},
		{"accepted without a name", mrtrElicitation, map[string]any{"inputResponses": map[string]any{"user_name": accept(map[string]any{})}}, false},
		{"tampered state", mrtrTamperedState, map[string]any{"inputResponses": map[string]any{"confirm": ok}, "requestState": state + "-TAMPERED"}, true},
		{"flipped signature byte", mrtrTamperedState, map[string]any{"inputResponses": map[string]any{"confirm": ok}, "requestState": flipLast(state)}, true},
		{"state of another fixture", mrtrTamperedState, map[string]any{"inputResponses": map[string]any{"confirm": ok}, "requestState": otherState}, true},
		{"answer without state", mrtrRequestState, map[string]any{"inputResponses": map[string]any{"confirm": ok}}, true},
		{"garbage state", mrtrMultiRound, map[string]any{"requestState": "not-a-state"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]any{"name": tc.fixture, "arguments": map[string]any{}}
			maps.Copy(p, tc.params)
			r := modern(t, url, "tools/call", p, nil, "")
			if tc.wantErr {
				if r.err == nil {
					t.Fatalf("want a JSON-RPC error, got %v", r.result)
				}
				if strings.Contains(r.err.Message, state) {
					t.Errorf("error message echoes the state: %q", r.err.Message)
				}
				return
			}
			inputRequests(t, r)
		})
	}
	// Extra keys beside a valid answer are ignored.
	r := modern(t, url, "tools/call", map[string]any{"name": mrtrElicitation, "arguments": map[string]any{}, "inputResponses": map[string]any{
		"user_name": accept(map[string]any{"name": "Alice"}), "unknown_extra_key": accept(map[string]any{"foo": "bar"}),
	}}, nil, "")
	if text := completeText(t, r); text != "Hello, Alice!" {
		t.Errorf("extra keys: text = %q", text)
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

// TestInputRequiredCapabilities: only input the request's capabilities allow.
func TestInputRequiredCapabilities(t *testing.T) {
	url := newFixtureServer(t)
	tests := []struct {
		name string
		caps map[string]any
		want map[string]string
	}{
		{"sampling only", map[string]any{"sampling": map[string]any{}}, map[string]string{"model_output": "sampling/createMessage"}},
		{"elicitation only", map[string]any{"elicitation": map[string]any{}}, map[string]string{"user_input": "elicitation/create"}},
		{"all three", nil, map[string]string{"user_input": "elicitation/create", "model_output": "sampling/createMessage", "client_roots": "roots/list"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := modern(t, url, "tools/call", map[string]any{"name": mrtrCapabilities, "arguments": map[string]any{}}, tc.caps, "")
			if got := inputRequests(t, r); !maps.Equal(got, tc.want) {
				t.Errorf("inputRequests = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("none declared", func(t *testing.T) {
		r := modern(t, url, "tools/call", map[string]any{"name": mrtrCapabilities, "arguments": map[string]any{}}, map[string]any{}, "")
		if text := completeText(t, r); !strings.Contains(text, "no capability") {
			t.Errorf("text = %q", text)
		}
	})
}

// TestInputRequiredLegacyBridge: a 2025-11-25 client gets the fixtures'
// input through mcp-go's server-initiated elicitation, in one call.
func TestInputRequiredLegacyBridge(t *testing.T) {
	s := server.NewMCPServer("conformance-test", "1", ServerOptions()...)
	Register(s)
	c, err := client.NewInProcessClientWithOptions(s, client.WithElicitationHandler(nameGiver{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ fixture, want string }{
		{mrtrElicitation, "Hello, Bob!"},
		{mrtrRequestState, "state-ok"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			call := mcp.CallToolRequest{}
			call.Params.Name = tc.fixture
			res, err := c.CallTool(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Content) == 0 {
				t.Fatalf("no content: %+v", res)
			}
			if text := res.Content[0].(mcp.TextContent).Text; !strings.Contains(text, tc.want) {
				t.Errorf("text = %q, want it to contain %q", text, tc.want)
			}
		})
	}
}

// nameGiver answers every elicitation with name Bob and ok true.
type nameGiver struct{}

func (nameGiver) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action:  mcp.ElicitationResponseActionAccept,
		Content: map[string]any{"name": "Bob", "ok": true},
	}}, nil
}
