//go:build unix

package upstreamtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// RawCmd serves ServeRaw on the process's stdin and stdout.
const RawCmd = "__raw-upstream"

// ServeRaw is a hand-written stdio MCP server with one tool, burst(steps):
// it answers with steps notifications/progress for the call's token and
// then the result, all in one write, so their order on the pipe is
// certain (mcp-go's stdio server writes notifications from a goroutine of
// their own, and its last notification can follow the response). Tests
// use it to check that Plexus never lets a result overtake its call's
// notifications.
func ServeRaw(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	w := bufio.NewWriter(out)
	reply := func(id json.RawMessage, result any) {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
		w.Write(b)
		w.WriteByte('\n')
	}
	for sc.Scan() {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				ProtocolVersion string         `json:"protocolVersion"`
				Arguments       map[string]any `json:"arguments"`
				Meta            struct {
					ProgressToken any `json:"progressToken"`
				} `json:"_meta"`
			} `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg.ID == nil {
			continue // a notification, or noise
		}
		switch msg.Method {
		case "initialize":
			reply(msg.ID, map[string]any{
				"protocolVersion": msg.Params.ProtocolVersion,
				"capabilities":    map[string]any{"tools": map[string]any{}},
				"serverInfo":      map[string]any{"name": "raw-upstream", "version": "1"},
			})
		case "tools/list":
			reply(msg.ID, map[string]any{"tools": []any{map[string]any{
				"name": "burst", "inputSchema": map[string]any{"type": "object", "properties": map[string]any{"steps": map[string]any{"type": "number"}}},
			}}})
		case "tools/call":
			steps := 3
			if f, ok := msg.Params.Arguments["steps"].(float64); ok && f >= 0 && f <= 1000 {
				steps = int(f)
			}
			if tok := msg.Params.Meta.ProgressToken; tok != nil {
				for i := 1; i <= steps; i++ {
					b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress",
						"params": map[string]any{"progressToken": tok, "progress": i, "total": steps}})
					w.Write(b)
					w.WriteByte('\n')
				}
			}
			reply(msg.ID, map[string]any{"content": []any{map[string]any{"type": "text", "text": fmt.Sprintf("burst %d", steps)}}})
		default: // ping and anything else: an empty result
			reply(msg.ID, map[string]any{})
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

func serveRaw() {
	if err := ServeRaw(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "raw upstream:", err)
	}
}
