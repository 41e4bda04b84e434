package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

const testToken = "test-local-token"

// recorded is one HTTP request seen by the far end.
type recorded struct {
	Method string
	Header http.Header
	Body   string
}

// recorder remembers every request and hands it on to next.
type recorder struct {
	next      http.Handler
	refuseGet bool // answer GET with 405, as a server without a GET stream does
	mu        sync.Mutex
	reqs      []recorded
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{Method: r.Method, Header: r.Header.Clone(), Body: string(body)})
	rc.mu.Unlock()
	if rc.refuseGet && r.Method == http.MethodGet {
		http.Error(w, "no GET stream", http.StatusMethodNotAllowed)
		return
	}
	rc.next.ServeHTTP(w, r)
}

// find returns the recorded requests that match.
func (rc *recorder) find(match func(recorded) bool) []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []recorded
	for _, r := range rc.reqs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls until match finds a request, or fails the test.
func (rc *recorder) waitFor(t *testing.T, what string, match func(recorded) bool) recorded {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := rc.find(match); len(got) > 0 {
			return got[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the server never saw %s", what)
	return recorded{}
}

func postOf(method string) func(recorded) bool {
	return func(r recorded) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Body, `"method":"`+method+`"`)
	}
}

func isGet(r recorded) bool { return r.Method == http.MethodGet }

// pipe runs the bridge over in-memory stdin/stdout.
type pipe struct {
	t    *testing.T
	in   *io.PipeWriter
	out  chan string
	done chan error
}

func startBridge(t *testing.T, ctx context.Context, cfg Config) *pipe {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &pipe{t: t, in: inW, out: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 32<<20)
		for sc.Scan() {
			p.out <- sc.Text()
		}
		close(p.out)
	}()
	go func() {
		err := Run(ctx, cfg, inR, outW)
		outW.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Error("bridge did not stop after stdin closed")
		}
	})
	return p
}

func (p *pipe) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("write stdin: %v", err)
	}
}

// next returns the next stdout line, decoded, checking it is one JSON-RPC
// object.
func (p *pipe) next() map[string]any {
	p.t.Helper()
	select {
	case l, ok := <-p.out:
		if !ok {
			p.t.Fatal("stdout closed")
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			p.t.Fatalf("stdout line is not a JSON object: %q: %v", l, err)
		}
		if m["jsonrpc"] != "2.0" {
			p.t.Fatalf("stdout line is not JSON-RPC 2.0: %q", l)
		}
		return m
	case <-time.After(10 * time.Second):
		p.t.Fatal("timed out waiting for stdout")
	}
	return nil
}

// until returns the first stdout message that match accepts, dropping the
// others (notifications that may interleave).
func (p *pipe) until(what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	for range 50 {
		m := p.next()
		if match(m) {
			return m
		}
		p.t.Logf("skipping %v while waiting for %s", m, what)
	}
	p.t.Fatalf("never got %s", what)
	return nil
}

func idIs(id float64) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["id"] == id && m["method"] == nil }
}

func methodIs(method string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["method"] == method }
}

// expectEOF closes stdin and checks that Run returns nil.
func (p *pipe) expectEOF() {
	p.t.Helper()
	p.in.Close()
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("Run after EOF = %v, want nil", err)
		}
		p.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		p.t.Fatal("Run did not return after stdin closed")
	}
}

func errorOf(t *testing.T, m map[string]any) (code float64, msg string) {
	t.Helper()
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("want a JSON-RPC error, got %v", m)
	}
	code, _ = e["code"].(float64)
	msg, _ = e["message"].(string)
	return code, msg
}

func toolText(t *testing.T, m map[string]any) string {
	t.Helper()
	r, ok := m["result"].(map[string]any)
	if !ok {
		t.Fatalf("want a result, got %v", m)
	}
	content, _ := r["content"].([]any)
	if len(content) == 0 {
		t.Fatalf("tool result has no content: %v", m)
	}
	c, _ := content[0].(map[string]any)
	s, _ := c["text"].(string)
	return s
}

// newMCPFarEnd starts mcp-go's streamable HTTP server on 127.0.0.1, with a
// few tools that exercise the bridge, behind a recorder.
func newMCPFarEnd(t *testing.T) (*server.MCPServer, *recorder, *httptest.Server) {
	t.Helper()
	s, rec := newMCPHandler(t)
	ts := httptest.NewServer(rec) // listens on 127.0.0.1
	t.Cleanup(ts.Close)
	return s, rec, ts
}

// newMCPHandler is newMCPFarEnd's server and recorder, not yet listening.
func newMCPHandler(t *testing.T, opts ...server.StreamableHTTPOption) (*server.MCPServer, *recorder) {
	t.Helper()
	s := server.NewMCPServer("far-end", "1.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("msg")), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("echo:" + r.GetString("msg", "")), nil
	})
	s.AddTool(mcp.NewTool("héllo"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("bonjour"), nil
	})
	s.AddTool(mcp.NewTool("slow"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
		return mcp.NewToolResultText("slow done"), nil
	})
	s.AddTool(mcp.NewTool("progress"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
			map[string]any{"progressToken": "p1", "progress": 1, "total": 2})
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		// mcp-go drops a notification its forwarder has dequeued but not
		// written when the result is ready first; give it the time.
		time.Sleep(50 * time.Millisecond)
		return mcp.NewToolResultText("progressed"), nil
	})
	s.AddTool(mcp.NewTool("roots"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := s.RequestRoots(ctx, mcp.ListRootsRequest{})
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		if len(res.Roots) == 0 {
			return mcp.NewToolResultText("no roots"), nil
		}
		return mcp.NewToolResultText("root:" + res.Roots[0].URI), nil
	})
	return s, &recorder{next: server.NewStreamableHTTPServer(s, opts...)}
}

const initializeLine = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"bridge-test","version":"1"}}}`

func callLine(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"msg":"hi"}}}`, id, tool)
}

// TestBridgeLegacySession drives a whole 2025-11-25 session through the
// bridge: initialize, tools/list, tools/call, concurrency, a notification
// and a server-to-client request over the GET stream, an SSE-upgraded
// response, and a clean EOF with DELETE.
func TestBridgeLegacySession(t *testing.T) {
	s, rec, ts := newMCPFarEnd(t)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/mcp", Token: testToken})

	p.send(initializeLine)
	init := p.until("initialize result", idIs(1))
	result, _ := init["result"].(map[string]any)
	if result["protocolVersion"] != "2025-11-25" {
		t.Fatalf("initialize result = %v", init)
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	rec.waitFor(t, "the GET stream", isGet)

	p.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	list := p.until("tools/list result", idIs(2))
	if tools, _ := list["result"].(map[string]any)["tools"].([]any); len(tools) != 5 {
		t.Fatalf("tools/list = %v, want 5 tools", list)
	}

	// A slow call does not hold up a fast one behind it.
	p.send(callLine(3, "slow"))
	p.send(callLine(4, "echo"))
	first := p.until("a tool result", func(m map[string]any) bool { return m["id"] != nil && m["method"] == nil })
	if first["id"] != 4.0 || toolText(t, first) != "echo:hi" {
		t.Fatalf("first answer = %v, want the echo (id 4) before the slow call", first)
	}
	if got := toolText(t, p.until("slow result", idIs(3))); got != "slow done" {
		t.Fatalf("slow = %q", got)
	}

	// Headers on every POST after initialize.
	for _, r := range rec.find(postOf("tools/call")) {
		if r.Header.Get("Authorization") != "Bearer "+testToken ||
			r.Header.Get(headerSessionID) == "" ||
			r.Header.Get(headerProtocolVersion) != "2025-11-25" ||
			r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Accept") != "application/json, text/event-stream" {
			t.Fatalf("tools/call headers = %v", r.Header)
		}
	}
	sid := rec.find(postOf("tools/call"))[0].Header.Get(headerSessionID)

	// A server notification arrives over the GET stream.
	s.AddTool(mcp.NewTool("late"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("late"), nil
	})
	p.until("tools/list_changed", methodIs("notifications/tools/list_changed"))

	// A server-to-client request (roots/list) over the GET stream; the
	// client's answer goes back as a POST.
	p.send(callLine(5, "roots"))
	ask := p.until("roots/list request", methodIs("roots/list"))
	askID, _ := json.Marshal(ask["id"])
	p.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"roots":[{"uri":"file:///work","name":"work"}]}}`, askID))
	if got := toolText(t, p.until("roots tool result", idIs(5))); got != "root:file:///work" {
		t.Fatalf("roots tool = %q", got)
	}

	// A progress notification during a call reaches stdout too, over the
	// POST's stream or the GET stream (mcp-go shares the session's queue, so
	// the order is only fixed in TestBridgeSSEUpgrade).
	p.send(callLine(6, "progress"))
	var sawProgress, sawResult bool
	for range 2 {
		m := p.next()
		switch {
		case m["method"] == "notifications/progress":
			sawProgress = true
		case m["id"] == 6.0 && toolText(t, m) == "progressed":
			sawResult = true
		default:
			t.Fatalf("unexpected message %v", m)
		}
	}
	if !sawProgress || !sawResult {
		t.Fatalf("progress=%v result=%v, want both", sawProgress, sawResult)
	}

	p.expectEOF()
	del := rec.waitFor(t, "DELETE", func(r recorded) bool { return r.Method == http.MethodDelete })
	if del.Header.Get(headerSessionID) != sid || del.Header.Get("Authorization") != "Bearer "+testToken {
		t.Fatalf("DELETE headers = %v, want session %s", del.Header, sid)
	}
}

// TestBridgeSSEUpgrade checks a response that mcp-go upgrades to SSE
// because the tool sends a notification before its result. The far end
// refuses the GET stream, so the notification can only travel on the POST.
func TestBridgeSSEUpgrade(t *testing.T) {
	_, rec, ts := newMCPFarEnd(t)
	rec.refuseGet = true
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/mcp", Token: testToken})
	p.send(initializeLine)
	p.until("initialize result", idIs(1))
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	rec.waitFor(t, "the refused GET", isGet)
	p.send(callLine(2, "progress"))
	if m := p.next(); m["method"] != "notifications/progress" {
		t.Fatalf("want the progress notification before the result, got %v", m)
	}
	if got := toolText(t, p.next()); got != "progressed" {
		t.Fatalf("progress tool = %q", got)
	}
	p.expectEOF()
	if n := len(rec.find(isGet)); n != 1 {
		t.Fatalf("GET attempts = %d, want 1 (405 stops them)", n)
	}
}

// TestBridgeModernEra checks that a 2026-07-28 message gets the headers the
// modern transport requires (mcp-go refuses it otherwise) and no session.
func TestBridgeModernEra(t *testing.T) {
	_, rec, ts := newMCPFarEnd(t)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/mcp", Token: testToken})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

	p.send(`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + meta + `}}`)
	disc := p.until("server/discover result", idIs(1))
	if _, ok := disc["result"]; !ok {
		t.Fatalf("server/discover = %v", disc)
	}
	tests := []struct {
		id   int
		tool string
		want string
	}{
		{2, "echo", "echo:hi"},
		{3, "héllo", "bonjour"}, // Mcp-Name must be base64-encoded
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			p.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"msg":"hi"},%s}}`, tc.id, tc.tool, meta))
			if got := toolText(t, p.until("tools/call result", idIs(float64(tc.id)))); got != tc.want {
				t.Fatalf("tools/call %s = %q, want %q", tc.tool, got, tc.want)
			}
			r := rec.find(func(r recorded) bool { return strings.Contains(r.Body, fmt.Sprintf(`"id":%d,`, tc.id)) })[0]
			if r.Header.Get(headerProtocolVersion) != "2026-07-28" || r.Header.Get(headerMethod) != "tools/call" ||
				r.Header.Get(headerName) != encodeHeaderValue(tc.tool) || r.Header.Get(headerSessionID) != "" ||
				r.Header.Get("Authorization") != "Bearer "+testToken {
				t.Fatalf("modern tools/call headers = %v", r.Header)
			}
		})
	}
	p.expectEOF()
	if got := rec.find(func(r recorded) bool { return r.Method != http.MethodPost }); len(got) != 0 {
		t.Fatalf("a modern session sent %s; want POSTs only", got[0].Method)
	}
}

// TestBridgeHTTPErrors checks that a request the daemon refuses gets a
// JSON-RPC error with its own id and a message the user can act on, and
// that a refused notification only gets logged.
func TestBridgeHTTPErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		ctype    string
		wantCode float64
		wantMsg  []string
	}{
		{"unknown tenant with JSON-RPC body", 404, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"unknown tenant \"nope\""}}`, "application/json", -32001, []string{`unknown tenant "nope"`}},
		{"expired session text", 404, "Invalid session ID\n", "text/plain", codeDaemonError, []string{"404", "Invalid session ID", "tenant"}},
		{"unauthorized", 401, "unauthorized", "text/plain", codeDaemonError, []string{"401", "token"}},
		{"server error", 500, "boom", "text/plain", codeDaemonError, []string{"500", "boom", "log"}},
		{"bad gateway html", 502, "<html>\n<body>bad</body></html>", "text/html", codeDaemonError, []string{"502", "<html> <body>bad</body></html>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(ts.Close)
			p := startBridge(t, t.Context(), Config{URL: ts.URL + "/nope/mcp", Token: testToken})
			p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`) // refused: logged only
			p.send(`{"jsonrpc":"2.0","id":"req-9","method":"tools/list"}`)
			m := p.next()
			if m["id"] != "req-9" {
				t.Fatalf("answer = %v, want an error for id req-9 (and nothing for the notification)", m)
			}
			code, msg := errorOf(t, m)
			if code != tc.wantCode {
				t.Errorf("code = %v, want %v", code, tc.wantCode)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, testToken) {
				t.Error("error message leaks the token")
			}
			p.expectEOF()
		})
	}
}

func TestBridgeDaemonUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL + "/acme/mcp"
	ts.Close() // nothing listens there any more
	p := startBridge(t, t.Context(), Config{URL: url})
	p.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	code, msg := errorOf(t, p.until("error for id 1", idIs(1)))
	if code != codeInternalError || !strings.Contains(msg, "cannot reach the plexus daemon") {
		t.Fatalf("error = %v %q", code, msg)
	}
	p.expectEOF()
}

// TestBridgeBadInput checks that broken lines get JSON-RPC errors and the
// bridge carries on.
func TestBridgeBadInput(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m message
		_ = json.NewDecoder(r.Body).Decode(&m)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`+"\n", m.ID)
	}))
	t.Cleanup(ts.Close)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/t/mcp", MaxLineBytes: 256})

	tests := []struct {
		name     string
		line     string
		wantID   any
		wantCode float64
	}{
		{"garbage", "this is not json", nil, codeParseError},
		{"truncated with id", `{"jsonrpc":"2.0","id":7,"method":"tools/list"`, 7.0, codeParseError},
		{"batch", `[{"jsonrpc":"2.0","id":8,"method":"ping"}]`, nil, codeInvalidRequest},
		{"scalar", `42`, nil, codeInvalidRequest},
		{"method not a string", `{"jsonrpc":"2.0","id":9,"method":5}`, 9.0, codeInvalidRequest},
		{"no method no id", `{"jsonrpc":"2.0"}`, nil, codeInvalidRequest},
		{"over-long with id", `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"x":"` + strings.Repeat("a", 1000) + `"}}`, "big", codeParseError},
		{"over-long without id", strings.Repeat("z", 1000), nil, codeParseError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.line)
			m := p.next()
			if m["id"] != tc.wantID {
				t.Fatalf("answer id = %v, want %v (%v)", m["id"], tc.wantID, m)
			}
			if code, _ := errorOf(t, m); code != tc.wantCode {
				t.Fatalf("code = %v, want %v", code, tc.wantCode)
			}
		})
	}
	p.send("")
	p.send("   ")
	p.send(`{"jsonrpc":"2.0","id":10,"method":"ping"}`)
	if m := p.next(); m["id"] != 10.0 || m["result"] == nil {
		t.Fatalf("after bad input, ping answer = %v", m)
	}
	p.expectEOF()
}

// TestBridgeSSEResponse checks SSE parsing of a POST response: comments,
// ids, CRLF, multi-line data, non-message events; and an error when the
// stream ends without the answer.
func TestBridgeSSEResponse(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m message
		_ = json.NewDecoder(r.Body).Decode(&m)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": hello\r\n\r\nid: e1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\r\n\r\n")
		io.WriteString(w, "event: other\ndata: {\"ignored\":true}\n\n")
		switch m.Method {
		case "ping": // a proper answer, split over two data lines
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\ndata: \"result\":{\"ok\":true}}\n\n", m.ID)
		case "tools/list": // " data" is no data field: the event is cut JSON
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\n data: \"result\":{\"ok\":true}}\n\n", m.ID)
		} // tools/call: the stream ends unanswered
	}))
	t.Cleanup(ts.Close)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/t/mcp"})

	p.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if m := p.next(); m["method"] != "notifications/progress" {
		t.Fatalf("first line = %v, want the progress notification", m)
	}
	// The answer's second line has a leading space, so it is not a data
	// field: the event is cut JSON and dropped, and the request ends
	// unanswered.
	code, msg := errorOf(t, p.until("error for id 1", idIs(1)))
	if code != codeInternalError || !strings.Contains(msg, "before answering") {
		t.Fatalf("unanswered stream: %v %q", code, msg)
	}

	p.send(`{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	p.until("progress", methodIs("notifications/progress"))
	if m := p.until("ping answer", idIs(3)); m["result"].(map[string]any)["ok"] != true {
		t.Fatalf("ping answer = %v", m)
	}

	p.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}`)
	p.until("progress", methodIs("notifications/progress"))
	if _, msg := errorOf(t, p.until("error for id 2", idIs(2))); !strings.Contains(msg, "before answering") {
		t.Fatalf("unanswered stream: %q", msg)
	}
	p.expectEOF()
}

// TestBridgeGetStream checks the GET stream's life: it opens only after
// notifications/initialized, reconnects with Last-Event-ID when it drops,
// and stops for good on 405.
func TestBridgeGetStream(t *testing.T) {
	var (
		mu   sync.Mutex
		gets []http.Header
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			mu.Lock()
			gets = append(gets, r.Header.Clone())
			n := len(gets)
			mu.Unlock()
			if n >= 3 {
				http.Error(w, "no stream", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: ev%d\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"n\":%d}}\n\n", n, n)
			return // the stream drops
		case http.MethodDelete:
			w.WriteHeader(http.StatusOK)
			return
		}
		var m message
		_ = json.NewDecoder(r.Body).Decode(&m)
		if !m.hasID() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(headerSessionID, "sess-1")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18"}}`, m.ID)
	}))
	t.Cleanup(ts.Close)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/t/mcp"})

	p.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	p.until("initialize", idIs(1))
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	early := len(gets)
	mu.Unlock()
	if early != 0 {
		t.Fatal("GET stream opened before notifications/initialized")
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for n := 1.0; n <= 2; n++ {
		m := p.until("stream notification", methodIs("notifications/message"))
		if m["params"].(map[string]any)["n"] != n {
			t.Fatalf("stream notification = %v, want n=%v", m, n)
		}
	}
	time.Sleep(2 * listenMinDelay * 3) // room for attempt 3 (405) and any wrong 4th
	mu.Lock()
	defer mu.Unlock()
	if len(gets) != 3 {
		t.Fatalf("GET attempts = %d, want 3 (two streams, then 405 stops it)", len(gets))
	}
	if gets[0].Get(headerSessionID) != "sess-1" || gets[0].Get(headerProtocolVersion) != "2025-06-18" || gets[0].Get("Accept") != "text/event-stream" {
		t.Fatalf("GET headers = %v", gets[0])
	}
	if gets[1].Get(headerLastEventID) != "ev1" {
		t.Fatalf("reconnect Last-Event-ID = %q, want ev1", gets[1].Get(headerLastEventID))
	}
}

func TestBridgeContextCancel(t *testing.T) {
	_, _, ts := newMCPFarEnd(t)
	ctx, cancel := context.WithCancel(t.Context())
	p := startBridge(t, ctx, Config{URL: ts.URL + "/mcp"})
	p.send(initializeLine)
	p.until("initialize", idIs(1))
	cancel()
	select {
	case err := <-p.done:
		if err != context.Canceled {
			t.Fatalf("Run after cancel = %v, want context.Canceled", err)
		}
		p.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

// FuzzBridgeInput runs arbitrary stdin through the whole bridge against a
// far end that answers everything: whatever comes in, everything that comes
// out is one JSON-RPC object per line, and Run returns.
func FuzzBridgeInput(f *testing.F) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m message
		if json.NewDecoder(r.Body).Decode(&m) != nil || !m.hasID() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, m.ID)
	}))
	f.Cleanup(ts.Close)
	for _, s := range []string{initializeLine, "garbage", `{"id":1`, `[]`, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "\n\n", strings.Repeat("x", 300)} {
		f.Add([]byte(s + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		cfg := Config{URL: ts.URL + "/t/mcp", MaxLineBytes: 128, Logger: slog.New(slog.DiscardHandler)}
		if err := Run(t.Context(), cfg, bytes.NewReader(data), &out); err != nil {
			t.Fatalf("Run: %v", err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil || m["jsonrpc"] != "2.0" {
				t.Fatalf("stdout line is not a JSON-RPC object: %q", l)
			}
		}
	})
}
