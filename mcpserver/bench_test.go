package mcpserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// BenchmarkToolsCall is one plexus_whoami call (no notifications) through
// the whole HTTP path of the MCP endpoint, per era, on one connection; run
// with -benchmem to see what the request path allocates.
func BenchmarkToolsCall(b *testing.B) {
	v := vaulttest.New(b)
	if _, err := v.CreateTenant(b.Context(), vault.Tenant{ID: "acme", Name: "acme"}); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	New(v, WithLocalToken(localToken)).Routes(mux)
	hs := httptest.NewServer(mux)
	b.Cleanup(hs.Close)
	url := hs.URL + "/acme/mcp"
	post := func(hdr map[string]string, body string) *http.Response {
		hr, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Accept", "application/json, text/event-stream")
		hr.Header.Set("Authorization", "Bearer "+localToken)
		for k, v := range hdr {
			hr.Header.Set(k, v)
		}
		resp, err := hs.Client().Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return resp
	}
	for _, era := range []string{legacy, modern} {
		b.Run(era, func(b *testing.B) {
			var hdr map[string]string
			var body string
			if era == modern {
				hdr = map[string]string{"Mcp-Protocol-Version": modern, "Mcp-Method": "tools/call", "Mcp-Name": tools.WhoamiName}
				body = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + tools.WhoamiName + `","arguments":{},` + modernMeta + `}}`
			} else {
				resp := post(nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
				hdr = map[string]string{"Mcp-Protocol-Version": legacy, "Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id")}
				post(hdr, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
				body = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tools.WhoamiName + `","arguments":{}}}`
			}
			b.ReportAllocs()
			for b.Loop() {
				post(hdr, body)
			}
		})
	}
}
