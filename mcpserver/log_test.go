package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

const logTool = "test_log" // logs logCount info messages and one debug message, then answers

const logCount = 5

func logRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	r := tools.NewRegistry()
	if err := r.Register(tools.Tool{Definition: mcp.NewTool(logTool), Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := tools.Log(ctx, mcp.LoggingLevelDebug, "too chatty"); err != nil {
			return nil, err
		}
		for i := 1; i <= logCount; i++ {
			if err := tools.Log(ctx, mcp.LoggingLevelInfo, "step", "i", i); err != nil {
				return nil, err
			}
		}
		return mcp.NewToolResultText("logged"), nil // right after the last one
	}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// checkLogStream: the call's stream carries exactly logCount info messages
// from the tool, in order, then the response with id.
func checkLogStream(t *testing.T, rep reply, id string) {
	t.Helper()
	msgs := sseMessages(t, rep)
	if len(msgs) != logCount+1 {
		t.Fatalf("got %d messages, want %d log messages and the response: %s", len(msgs), logCount, rep.body)
	}
	for i, m := range msgs[:logCount] {
		var p struct {
			Level  string `json:"level"`
			Logger string `json:"logger"`
			Data   struct {
				Message string `json:"message"`
				I       int    `json:"i"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m["params"], &p); err != nil {
			t.Fatal(err)
		}
		if string(m["method"]) != `"notifications/message"` || p.Level != "info" || p.Logger != logTool ||
			p.Data.Message != "step" || p.Data.I != i+1 {
			t.Fatalf("message %d is not log step %d: %s", i, i+1, rep.body)
		}
	}
	if last := msgs[logCount]; string(last["id"]) != id || last["result"] == nil {
		t.Fatalf("last message is not the response %s: %s", id, rep.body)
	}
}

// TestLogHelper: tools.Log's messages arrive on the call's own stream, in
// order, before its result, at the levels the client asked for, in both
// eras; a client that asked for none (2026-07-28) or for errors only (the
// 2025-11-25 default) gets a plain JSON answer.
func TestLogHelper(t *testing.T) {
	e := newEnv(t, WithRegistry(logRegistry(t)))
	t.Run("2026-07-28", func(t *testing.T) {
		for i := range 20 {
			id := fmt.Sprint(300 + i)
			rep := e.do(req{tenant: "acme", version: modern,
				headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": logTool},
				body: `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + logTool + `","arguments":{},` +
					`"_meta":{"io.modelcontextprotocol/logLevel":"info","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`})
			checkLogStream(t, rep, id)
		}
		rep := e.modernCall("acme", "", logTool, "")
		if text, isErr := toolText(t, rep); isErr || text != "logged" || len(sseMessages(t, rep)) != 1 {
			t.Fatalf("no log level asked for: %s", rep.body)
		}
	})
	t.Run("2025-11-25", func(t *testing.T) {
		sid := e.initialize("acme", "")
		rep := e.legacyCall("acme", "", sid, logTool, "")
		if text, isErr := toolText(t, rep); isErr || text != "logged" || len(sseMessages(t, rep)) != 1 {
			t.Fatalf("default level (error): %s", rep.body)
		}
		set := e.do(req{tenant: "acme", session: sid, version: legacy,
			body: `{"jsonrpc":"2.0","id":9,"method":"logging/setLevel","params":{"level":"info"}}`})
		if set.rpc.Error != nil {
			t.Fatalf("setLevel: %s", set.body)
		}
		g := e.openGetStream("acme", sid)
		for i := range 20 {
			id := fmt.Sprint(400 + i)
			rep := e.do(req{tenant: "acme", session: sid, version: legacy,
				body: `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + logTool + `","arguments":{}}}`})
			checkLogStream(t, rep, id)
		}
		g.close()
		for _, m := range g.seen() {
			if m == "notifications/message" {
				t.Fatal("a call's log message went to the GET stream")
			}
		}
	})
}

func TestLogWithoutClient(t *testing.T) {
	if err := tools.Log(t.Context(), mcp.LoggingLevelInfo, "x"); !errors.Is(err, tools.ErrNoClient) {
		t.Fatalf("Log outside a request = %v, want ErrNoClient", err)
	}
}
