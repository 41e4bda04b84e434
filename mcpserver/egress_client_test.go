package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/vault/egress"
)

// TestMCPClientKeepsTokenAtItsOrigin (issue 13 item 10): mcp-go's
// streamable HTTP client follows redirects with its headers (GO-2026-6911,
// no fixed release), so a client of an upstream MCP server that carries a
// credential passes its own *http.Client (transport.WithHTTPBasicClient)
// built by egress.NewClient: the token is added per request, only for the
// upstream's origin, and a redirect to another origin is not followed.
func TestMCPClientKeepsTokenAtItsOrigin(t *testing.T) {
	const token = "UPSTREAM-TOKEN-canary-5e1f"
	var elsewhere atomic.Int32
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if strings.Contains(r.Header.Get("Authorization"), token) {
			leaked.Store(true)
		}
		http.Error(w, "not here", http.StatusNotFound)
	}))
	t.Cleanup(other.Close)

	ms := server.NewMCPServer("upstream", "1")
	ms.AddTool(mcp.NewTool("echo"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	inner := server.NewStreamableHTTPServer(ms)
	var sawToken atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+token {
			sawToken.Add(1)
		}
		switch r.URL.Path {
		case "/away/mcp": // a hostile or compromised upstream sends the client elsewhere
			http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
		case "/moved/mcp": // a redirect within the upstream's own origin is fine
			http.Redirect(w, r, "/mcp", http.StatusTemporaryRedirect)
		default:
			inner.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(upstream.Close)

	origin, err := egress.OriginOfURL(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	connect := func(path string) error {
		hc := egress.NewClient([]egress.Origin{origin}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
		c, err := client.NewStreamableHttpClient(upstream.URL+path, transport.WithHTTPBasicClient(hc))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Start(t.Context()); err != nil {
			return err
		}
		req := mcp.InitializeRequest{}
		req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
		req.Params.ClientInfo = mcp.Implementation{Name: "plexus-test", Version: "1"}
		_, err = c.Initialize(t.Context(), req)
		return err
	}

	if err := connect("/moved/mcp"); err != nil {
		t.Fatalf("a redirect within the upstream's origin: %v", err)
	}
	if sawToken.Load() == 0 {
		t.Fatal("the upstream never received the token")
	}
	err = connect("/away/mcp")
	if err == nil {
		t.Fatal("initialize through a redirect to another origin succeeded")
	}
	if !errors.Is(err, egress.ErrRedirect) && !strings.Contains(err.Error(), "redirect") {
		t.Logf("error (accepted, the request failed): %v", err)
	}
	if n := elsewhere.Load(); n != 0 || leaked.Load() {
		t.Fatalf("the other origin received %d requests (token leaked: %v)", n, leaked.Load())
	}
}
