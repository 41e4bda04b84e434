package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// newFixtureServer serves the fixtures over mcp-go's streamable HTTP
// transport on 127.0.0.1, as Plexus does for its conformance tenant.
func newFixtureServer(t *testing.T) string {
	t.Helper()
	s := server.NewMCPServer("conformance-test", "1", ServerOptions()...)
	Register(s)
	ts := httptest.NewServer(server.NewStreamableHTTPServer(s))
	t.Cleanup(ts.Close)
	return ts.URL
}

// rpcReply is the JSON-RPC response to a request, and the notifications the
// server sent before it on the same response stream.
type rpcReply struct {
	status int
	result map[string]any
	err    *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data"`
	}
	notes []map[string]any
}

// modern sends one 2026-07-28 request the way the suite does: the protocol
// version, capabilities and (when set) log level in params._meta, and the
// Mcp-Method / Mcp-Name headers. caps nil means the suite's default
// {sampling, elicitation, roots}.
func modern(t *testing.T, url, method string, params map[string]any, caps map[string]any, logLevel string) rpcReply {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if caps == nil {
		caps = map[string]any{"sampling": map[string]any{}, "elicitation": map[string]any{}, "roots": map[string]any{"listChanged": true}}
	}
	meta := map[string]any{
		mcp.MetaKeyProtocolVersion:    mcp.ProtocolVersion20260728,
		mcp.MetaKeyClientCapabilities: caps,
		mcp.MetaKeyClientInfo:         map[string]any{"name": "conformance-unit-test", "version": "1"},
	}
	if logLevel != "" {
		meta[mcp.MetaKeyLogLevel] = logLevel
	}
	params["_meta"] = meta
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728)
	req.Header.Set(mcp.HeaderMethod, method)
	if name, ok := params["name"].(string); ok {
		req.Header.Set(mcp.HeaderName, name)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	var msgs []json.RawMessage
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				msgs = append(msgs, json.RawMessage(strings.TrimSpace(data)))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: reading the SSE stream: %v", method, err)
		}
	} else {
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatalf("%s: HTTP %d, body is not JSON: %v", method, resp.StatusCode, err)
		}
		msgs = append(msgs, raw)
	}

	out := rpcReply{status: resp.StatusCode}
	for _, m := range msgs {
		var msg struct {
			ID     any             `json:"id"`
			Method string          `json:"method"`
			Result map[string]any  `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(m, &msg); err != nil {
			t.Fatalf("%s: message %s: %v", method, m, err)
		}
		switch {
		case msg.Method != "" && msg.ID != nil:
			t.Fatalf("%s: the server sent a request on the response stream: %s", method, m)
		case msg.Method != "":
			var n map[string]any
			_ = json.Unmarshal(m, &n)
			out.notes = append(out.notes, n)
		default:
			out.result = msg.Result
			if len(msg.Error) > 0 {
				if err := json.Unmarshal(msg.Error, &out.err); err != nil {
					t.Fatalf("%s: error %s: %v", method, msg.Error, err)
				}
			}
		}
	}
	if out.result == nil && out.err == nil {
		t.Fatalf("%s: no response among %d messages (HTTP %d)", method, len(msgs), resp.StatusCode)
	}
	return out
}

// inputRequests returns key -> method of an InputRequiredResult, failing
// the test when result is not one.
func inputRequests(t *testing.T, r rpcReply) map[string]string {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want an InputRequiredResult, got error %d %q", r.err.Code, r.err.Message)
	}
	if r.result["resultType"] != "input_required" {
		t.Fatalf("resultType = %v, want input_required (result %v)", r.result["resultType"], r.result)
	}
	reqs, _ := r.result["inputRequests"].(map[string]any)
	out := make(map[string]string, len(reqs))
	for k, v := range reqs {
		m, _ := v.(map[string]any)
		out[k], _ = m["method"].(string)
	}
	return out
}

// completeText returns the text of a complete tools/call result.
func completeText(t *testing.T, r rpcReply) string {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want a complete result, got error %d %q", r.err.Code, r.err.Message)
	}
	if r.result["resultType"] != "complete" {
		t.Fatalf("resultType = %v, want complete (result %v)", r.result["resultType"], r.result)
	}
	content, _ := r.result["content"].([]any)
	if len(content) == 0 {
		t.Fatalf("complete result has no content: %v", r.result)
	}
	first, _ := content[0].(map[string]any)
	text, _ := first["text"].(string)
	return text
}

// answers used by the tests, shaped like the suite's.
func accept(content map[string]any) map[string]any {
	return map[string]any{"action": "accept", "content": content}
}

func sampled(text string) map[string]any {
	return map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": text}, "model": "test-model", "stopReason": "endTurn"}
}

func rootsList() map[string]any {
	return map[string]any{"roots": []any{map[string]any{"uri": "file:///test/root", "name": "Test Root"}}}
}
