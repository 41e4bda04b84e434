package mcpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// BenchmarkToolsCall compares tools/call through Plexus's handler (user
// token, validated session) with a bare mcp-go server doing the same work,
// at 8 concurrent callers per core pair. The ratio that matters is
// bare ns/op divided by plexus ns/op (target >= 0.7).
func BenchmarkToolsCall(b *testing.B) {
	echo := func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	}
	bare := server.NewMCPServer("bare", "1", server.WithToolCapabilities(true))
	bare.AddTool(mcp.NewTool("echo"), echo)
	bareHS := httptest.NewServer(server.NewStreamableHTTPServer(bare))
	b.Cleanup(bareHS.Close)

	v := vaulttest.New(b)
	if _, err := v.CreateTenant(b.Context(), vault.Tenant{ID: "acme", Name: "acme"}); err != nil {
		b.Fatal(err)
	}
	u, _, _ := v.EnsureUser(b.Context(), "acme", "alice")
	tok, _, _ := v.IssueToken(b.Context(), "acme", u.ID, 0)
	reg := tools.NewRegistry()
	_ = reg.Register(tools.Tool{Definition: mcp.NewTool("echo"), Handler: echo})
	mux := http.NewServeMux()
	New(v, WithRegistry(reg)).Routes(mux)
	plexHS := httptest.NewServer(mux)
	b.Cleanup(plexHS.Close)

	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	modernCall := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{},` + modernMeta + `}}`

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(url, token, sid, version, body string, extra ...string) (*http.Response, error) {
		r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if sid != "" {
			r.Header.Set("Mcp-Session-Id", sid)
		}
		if version != "" {
			r.Header.Set("Mcp-Protocol-Version", version)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			r.Header.Set(extra[i], extra[i+1])
		}
		resp, err := hc.Do(r)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	for _, target := range []struct{ name, url, token string }{
		{"bare", bareHS.URL, ""},
		{"plexus", plexHS.URL + "/acme/mcp", tok},
	} {
		b.Run("legacy/"+target.name, func(b *testing.B) {
			resp, err := post(target.url, target.token, "", "", initBody)
			if err != nil {
				b.Fatal(err)
			}
			sid := resp.Header.Get("Mcp-Session-Id")
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp, err := post(target.url, target.token, sid, legacy, call); err != nil || resp.StatusCode != 200 {
						b.Errorf("call: %v", err)
						return
					}
				}
			})
		})
		b.Run("modern/"+target.name, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp, err := post(target.url, target.token, "", modern, modernCall, "Mcp-Method", "tools/call", "Mcp-Name", "echo"); err != nil || resp.StatusCode != 200 {
						b.Errorf("call: %v", err)
						return
					}
				}
			})
		})
	}
}
