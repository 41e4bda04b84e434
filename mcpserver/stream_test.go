package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// Test tools for the response path.
const (
	notifyTool         = "test_notify"         // sends progress notifications, then answers
	missingCapTool     = "test_missing_cap"    // fails for want of the sampling capability
	notifyMissingTool  = "test_notify_missing" // one notification, then the missing-capability error
	broadcastTool      = "test_broadcast"      // a notification to every session, not tied to the call
	notifyCount        = 5
	notifyIterations   = 40
	missingCapabilityT = "sampling"
)

// streamRegistry is the default registry plus the test tools.
func streamRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	r := tools.NewRegistry()
	progress := func(ctx context.Context, req mcp.CallToolRequest, n int) error {
		var token mcp.ProgressToken
		if req.Params.Meta != nil {
			token = req.Params.Meta.ProgressToken
		}
		for i := 1; i <= n; i++ {
			if err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress),
				map[string]any{"progressToken": token, "progress": i, "total": n}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, tl := range []tools.Tool{
		{Definition: mcp.NewTool(notifyTool), Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := progress(ctx, req, notifyCount); err != nil {
				return nil, err
			}
			return mcp.NewToolResultText("done"), nil // right after the last one: the race mcp-go loses
		}},
		{Definition: mcp.NewTool(missingCapTool), Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, fmt.Errorf("needs sampling: %w", mcp.MissingRequiredClientCapabilityError{Capability: missingCapabilityT})
		}},
		{Definition: mcp.NewTool(notifyMissingTool), Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := progress(ctx, req, 1); err != nil {
				return nil, err
			}
			return nil, &mcp.MissingRequiredClientCapabilityError{Capability: missingCapabilityT}
		}},
		{Definition: mcp.NewTool(broadcastTool), Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			server.ServerFromContext(ctx).SendNotificationToAllClients("notifications/test/broadcast", map[string]any{"x": 1})
			return mcp.NewToolResultText("sent"), nil
		}},
	} {
		if err := r.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// sseMessages splits an SSE (or plain JSON) body into its JSON-RPC messages.
func sseMessages(t *testing.T, rep reply) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	if !strings.HasPrefix(rep.header.Get("Content-Type"), "text/event-stream") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(rep.body), &m); err != nil {
			t.Fatalf("body is not JSON: %s", rep.body)
		}
		return append(out, m)
	}
	sc := bufio.NewScanner(strings.NewReader(rep.body))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("event is not JSON: %q", d)
		}
		out = append(out, m)
	}
	return out
}

// checkCallStream: every progress notification 1..n, in order, then the
// response with id.
func checkCallStream(t *testing.T, rep reply, n int, id string) {
	t.Helper()
	msgs := sseMessages(t, rep)
	if len(msgs) != n+1 {
		t.Fatalf("got %d messages, want %d notifications and the response: %s", len(msgs), n, rep.body)
	}
	for i, m := range msgs[:n] {
		var p struct {
			Progress int `json:"progress"`
		}
		_ = json.Unmarshal(m["params"], &p)
		if string(m["method"]) != `"notifications/progress"` || p.Progress != i+1 {
			t.Fatalf("message %d is not progress %d: %s", i, i+1, rep.body)
		}
	}
	last := msgs[n]
	if string(last["id"]) != id || last["result"] == nil {
		t.Fatalf("last message is not the response %s: %s", id, rep.body)
	}
}

// getStream reads a legacy session's GET stream until stop, returning the
// methods it carried.
type getStream struct {
	mu      sync.Mutex
	methods []string
	done    chan struct{}
	cancel  context.CancelFunc
}

func (e *env) openGetStream(tenant, sid string) *getStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url(tenant), nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	hr.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		cancel()
		e.t.Fatalf("GET stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		e.t.Fatalf("GET stream: %d", resp.StatusCode)
	}
	g := &getStream{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(g.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			d, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m struct {
				Method string `json:"method"`
			}
			_ = json.Unmarshal([]byte(d), &m)
			g.mu.Lock()
			g.methods = append(g.methods, m.Method)
			g.mu.Unlock()
		}
	}()
	e.t.Cleanup(g.close)
	return g
}

func (g *getStream) close() {
	g.cancel()
	<-g.done
}

func (g *getStream) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.methods...)
}

// TestCallNotificationsOnTheirStream: a tool call's notifications arrive on
// its own POST stream, all of them, in order, before its response, in both
// eras, and (2025-11-25) none on the session's GET stream. mcp-go v1.2.1
// alone loses or misroutes the last one now and then; the loop makes that
// show.
func TestCallNotificationsOnTheirStream(t *testing.T) {
	e := newEnv(t, WithRegistry(streamRegistry(t)))
	meta := func(extra string) string {
		return `"_meta":{"progressToken":"p"` + extra + `}`
	}
	t.Run("2026-07-28", func(t *testing.T) {
		for i := range notifyIterations {
			id := fmt.Sprint(100 + i)
			rep := e.do(req{tenant: "acme", version: modern,
				headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": notifyTool},
				body: `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + notifyTool + `","arguments":{},` +
					meta(`,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}`) + `}}`})
			checkCallStream(t, rep, notifyCount, id)
		}
	})
	t.Run("2025-11-25 with a GET stream", func(t *testing.T) {
		sid := e.initialize("acme", "")
		g := e.openGetStream("acme", sid)
		for i := range notifyIterations {
			id := fmt.Sprint(200 + i)
			rep := e.do(req{tenant: "acme", session: sid, version: legacy,
				body: `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + notifyTool + `","arguments":{},` + meta("") + `}}`})
			checkCallStream(t, rep, notifyCount, id)
		}
		// A call without notifications still answers in plain JSON.
		rep := e.legacyCall("acme", "", sid, tools.WhoamiName, "")
		if ct := rep.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("whoami after notifying calls: Content-Type %q, want application/json", ct)
		}
		g.close()
		for _, m := range g.seen() {
			if m == "notifications/progress" {
				t.Fatalf("a call's progress went to the GET stream: %v", g.seen())
			}
		}
	})
}

// TestBroadcastsReachTheGETStream: a notification not tied to a call (sent
// to every session) still goes to the session's GET stream.
func TestBroadcastsReachTheGETStream(t *testing.T) {
	e := newEnv(t, WithRegistry(streamRegistry(t)))
	sid := e.initialize("acme", "")
	g := e.openGetStream("acme", sid)
	// A second session calls the tool; the first session's GET stream gets
	// the broadcast.
	other := e.initialize("acme", "")
	if text, _ := toolText(t, e.legacyCall("acme", "", other, broadcastTool, "")); text != "sent" {
		t.Fatalf("broadcast tool: %q", text)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range g.seen() {
			if m == "notifications/test/broadcast" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no broadcast on the GET stream: %v", g.seen())
}

// TestMissingCapability: a handler's MissingRequiredClientCapabilityError
// is -32021 with data.requiredCapabilities naming it (HTTP 400 from
// 2026-07-28 on), also after notifications went out on the stream.
func TestMissingCapability(t *testing.T) {
	e := newEnv(t, WithRegistry(streamRegistry(t)))
	type rpcErr struct {
		Error struct {
			Code int `json:"code"`
			Data struct {
				RequiredCapabilities map[string]json.RawMessage `json:"requiredCapabilities"`
			} `json:"data"`
		} `json:"error"`
	}
	check := func(t *testing.T, rep reply, status int, id string) {
		t.Helper()
		if rep.status != status {
			t.Fatalf("status %d, want %d: %s", rep.status, status, rep.body)
		}
		msgs := sseMessages(t, rep)
		last := msgs[len(msgs)-1]
		var e rpcErr
		b, _ := json.Marshal(last)
		_ = json.Unmarshal(b, &e)
		if string(last["id"]) != id || e.Error.Code != mcp.MISSING_REQUIRED_CLIENT_CAPABILITY ||
			string(e.Error.Data.RequiredCapabilities[missingCapabilityT]) != "{}" {
			t.Fatalf("want -32021 with requiredCapabilities.%s = {} and id %s: %s", missingCapabilityT, id, rep.body)
		}
	}
	t.Run("2026-07-28", func(t *testing.T) {
		rep := e.do(req{tenant: "acme", version: modern,
			headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": missingCapTool},
			body:    `{"jsonrpc":"2.0","id":"m1","method":"tools/call","params":{"name":"` + missingCapTool + `","arguments":{},` + modernMeta + `}}`})
		check(t, rep, http.StatusBadRequest, `"m1"`)
	})
	t.Run("2025-11-25", func(t *testing.T) {
		sid := e.initialize("acme", "")
		check(t, e.legacyCall("acme", "", sid, missingCapTool, ""), http.StatusOK, "2")
	})
	t.Run("after a notification", func(t *testing.T) {
		rep := e.do(req{tenant: "acme", version: modern,
			headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": notifyMissingTool},
			body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + notifyMissingTool + `","arguments":{},` +
				`"_meta":{"progressToken":"p","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`})
		if msgs := sseMessages(t, rep); len(msgs) != 2 || string(msgs[0]["method"]) != `"notifications/progress"` {
			t.Fatalf("want the notification, then the error: %s", rep.body)
		}
		check(t, rep, http.StatusOK, "7")
	})
	t.Run("other errors stay -32603", func(t *testing.T) {
		rep := e.modernCall("acme", "", "no_such_tool", "")
		if rep.rpc.Error == nil || rep.rpc.Error.Code == mcp.MISSING_REQUIRED_CLIENT_CAPABILITY {
			t.Fatalf("unknown tool: %s", rep.body)
		}
	})
}

// TestErrorsAreJSONRPC: what mcp-go answers in plain text, and methods the
// endpoint does not serve, are JSON-RPC error objects; the seed endpoints
// answer {"detail"}.
func TestErrorsAreJSONRPC(t *testing.T) {
	e := newEnv(t)
	sid := e.initialize("acme", "")
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   int
		msg    string
	}{
		{"wrong content type", req{tenant: "acme", session: sid, version: legacy,
			headers: map[string]string{"Content-Type": "text/plain"},
			body:    `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`}, http.StatusBadRequest, mcp.INVALID_REQUEST, "content type"},
		{"no session id", req{tenant: "acme", version: legacy,
			body: `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`}, http.StatusNotFound, codeNotFound, "session"},
		{"PUT", req{method: http.MethodPut, tenant: "acme", body: `{}`}, http.StatusMethodNotAllowed, mcp.INVALID_REQUEST, "not allowed"},
		{"PATCH", req{method: http.MethodPatch, tenant: "acme", body: `{}`}, http.StatusMethodNotAllowed, mcp.INVALID_REQUEST, "not allowed"},
		{"OPTIONS", req{method: http.MethodOptions, tenant: "acme"}, http.StatusMethodNotAllowed, mcp.INVALID_REQUEST, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := e.do(tc.r)
			if ct := rep.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q: %s", ct, rep.body)
			}
			wantRPCError(t, rep, tc.status, tc.msg)
			if rep.rpc.Error.Code != tc.code {
				t.Fatalf("code %d, want %d: %s", rep.rpc.Error.Code, tc.code, rep.body)
			}
			if tc.status == http.StatusMethodNotAllowed && rep.header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
			if tc.name == "wrong content type" && !strings.Contains(rep.body, `"id":9`) {
				t.Fatalf("the request's id is not kept: %s", rep.body)
			}
		})
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/acme/plexus-auth/register-user"},
		{http.MethodPut, "/acme/plexus-services/api-keys"},
		{http.MethodPost, "/acme/plexus-services/api-keys/weather"},
	} {
		hr, _ := http.NewRequestWithContext(t.Context(), tc.method, e.hs.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Detail string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || err != nil || body.Detail == "" || resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: %d, detail %q, err %v", tc.method, tc.path, resp.StatusCode, body.Detail, err)
		}
	}
}

// unknownTenantCases: which ids get a command to paste.
var unknownTenantCases = []struct {
	id          string
	wantCommand bool
}{
	{"nope", true},
	{"acme-2_x", true},
	{"x;rm -rf ~", false},
	{"x$(id)", false},
	{"-rf", false},
	{"api", false},
	{"Acme", false},
	{"a`b`", false},
	{strings.Repeat("a", 100), false},
	{"", false},
}

// TestUnknownTenantMessage: a command is suggested only for a valid id
// (the raw path must never end up in a shell command).
func TestUnknownTenantMessage(t *testing.T) {
	for _, tc := range unknownTenantCases {
		msg := unknownTenantMessage(tc.id)
		if got := strings.Contains(msg, "plexus admin tenant create"); got != tc.wantCommand {
			t.Errorf("unknownTenantMessage(%q) = %q; command suggested: %v, want %v", tc.id, msg, got, tc.wantCommand)
		}
	}
	// Over HTTP: /x%3Brm%20-rf%20~/mcp.
	e := newEnv(t)
	hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.hs.URL+"/x%3Brm%20-rf%20~/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || body.Error.Message == "" || strings.Contains(body.Error.Message, "plexus admin") {
		t.Fatalf("%d %q", resp.StatusCode, body.Error.Message)
	}
}

func FuzzUnknownTenantMessage(f *testing.F) {
	for _, tc := range unknownTenantCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		msg := unknownTenantMessage(id)
		_, cmd, ok := strings.Cut(msg, "`plexus admin tenant create --entity-id ")
		if !ok {
			return // no command suggested
		}
		if cmd != id+"`" {
			t.Fatalf("the command in %q is not for %q", msg, id)
		}
		if id == "" || id[0] == '-' || id[0] == '_' {
			t.Fatalf("command suggested for %q: %q", id, msg)
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("command suggested for %q: %q", id, msg)
			}
		}
	})
}

// TestScopedSessionMethodSet: the session a POST's handlers see has exactly
// the exported methods of mcp-go's streamable HTTP session, so every type
// assertion mcp-go makes on it answers as for the session it wraps. An
// mcp-go upgrade that adds a session interface fails here until
// httpSession lists it.
func TestScopedSessionMethodSet(t *testing.T) {
	got := make(chan server.ClientSession, 1)
	r := tools.NewRegistry()
	if err := r.Register(tools.Tool{Definition: mcp.NewTool("grab"), Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		got <- server.ClientSessionFromContext(ctx)
		return mcp.NewToolResultText("ok"), nil
	}}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(r))
	e.modernCall("acme", "", "grab", "")
	cs := <-got
	scoped, ok := cs.(*scopedSession)
	if !ok {
		t.Fatalf("handler session is %T, want *scopedSession", cs)
	}
	methods := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumMethod() {
			out = append(out, typ.Method(i).Name)
		}
		return out
	}
	inner := methods(reflect.TypeOf(scoped.httpSession))
	outer := methods(reflect.TypeOf(scoped))
	if !reflect.DeepEqual(inner, outer) {
		t.Fatalf("scopedSession methods %v, mcp-go session methods %v", outer, inner)
	}
}

// TestCallStreamClientLeaves: a client that stops reading, then hangs up,
// in the middle of a notifying call: the handler's sends never wait for it
// (they fail once the call's queue is full), and the server goes on.
func TestCallStreamClientLeaves(t *testing.T) {
	returned := make(chan int, 1)
	r := tools.NewRegistry()
	if err := r.Register(tools.Tool{Definition: mcp.NewTool("flood"), Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sent := 0
		defer func() { returned <- sent }()
		for i := range 5000 {
			err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress),
				map[string]any{"progressToken": "p", "progress": i, "pad": strings.Repeat("x", 512)})
			if err == nil {
				sent++
			}
		}
		return mcp.NewToolResultText("flooded"), nil
	}}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(r))
	ctx, cancel := context.WithCancel(t.Context())
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url("acme"), strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"flood","arguments":{},`+
			`"_meta":{"progressToken":"p","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json, text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", modern)
	hr.Header.Set("Mcp-Method", "tools/call")
	hr.Header.Set("Mcp-Name", "flood")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatalf("first event: %v", err)
	}
	// The client stops reading: the handler's sends must not wait for it
	// (they fail once the call's queue is full).
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's sends wait for a client that does not read")
	}
	cancel() // hang up mid-call
	resp.Body.Close()
	if got := whoami(t, e.modernCall("acme", "", tools.WhoamiName, "")); got.Tenant != "acme" {
		t.Fatalf("after the flood: %+v", got)
	}
}
