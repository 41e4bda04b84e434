package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestHTTPToolThroughTheBinary (issue 11, line 5): a key typed into the
// CLI, a tool file imported with `plexus admin httptool import`, a Claude
// Desktop window (`plexus stdio`) calling the tool: the API gets the
// key in its header and the argument escaped in the path; the key is in
// no log and not in the vault file in the clear; the tool is deleted
// without a restart.
func TestHTTPToolThroughTheBinary(t *testing.T) {
	const key = "wx-integration-canary-5531"
	var mu sync.Mutex
	var paths, keys []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		keys = append(keys, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"main":{"temp":21.5},"name":"Paris"}`))
	}))
	t.Cleanup(api.Close)

	in := newInstance(t)
	_, _ = in.serve()
	admin := func(stdin string, args ...string) string {
		t.Helper()
		out, stderr, err := in.runIn(stdin, append([]string{"admin", "--data", in.dataDir}, args...)...)
		if err != nil {
			t.Fatalf("admin %v: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}
	admin("", "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	admin(key+"\n", "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "wx", "--api-key", "-")
	file := filepath.Join(t.TempDir(), "tools.yaml")
	def := `tools:
  - name: city_temp
    description: Temperature in a city
    input_schema:
      type: object
      properties: {city: {type: string}}
      required: [city]
    url: ` + api.URL + `/weather/{city}
    auth: {type: api_key, provider_name: wx, header: X-Api-Key}
    response_pointer: /main/temp
`
	if err := os.WriteFile(file, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := admin("", "httptool", "import", "--entity-id", "acme", file); !strings.Contains(out, "Added to acme: city_temp") {
		t.Fatalf("import said:\n%s", out)
	}
	if out := admin("", "tools", "list", "--entity-id", "acme"); !strings.Contains(out, "city_temp") {
		t.Fatalf("tools list:\n%s", out)
	}
	if out := admin("", "--json", "tools", "list", "--entity-id", "acme"); !strings.Contains(out, `"kind": "http"`) ||
		!strings.Contains(out, `"provider_name": "wx"`) {
		t.Fatalf("tools list does not say where city_temp comes from or what it needs:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := in.stdioClient(ctx, t, "acme")
	req := mcp.CallToolRequest{}
	req.Params.Name = "city_temp"
	req.Params.Arguments = map[string]any{"city": "São Paulo/../x"}
	res, err := c.CallTool(ctx, req)
	if err != nil || res.IsError || res.Content[0].(mcp.TextContent).Text != "21.5" {
		t.Fatalf("call: %v %+v", err, res)
	}
	mu.Lock()
	if len(paths) != 1 || paths[0] != "/weather/S%C3%A3o%20Paulo%2F..%2Fx" || keys[0] != key {
		t.Fatalf("the API got paths %v", paths)
	}
	mu.Unlock()
	req.Params.Arguments = map[string]any{"city": "Paris", "units": "metric"}
	if res, err := c.CallTool(ctx, req); err != nil || !res.IsError || !strings.Contains(res.Content[0].(mcp.TextContent).Text, "units") {
		t.Fatalf("extra argument: %v %+v", err, res)
	}

	admin("", "httptool", "delete", "--entity-id", "acme", "--name", "city_temp")
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil || slices.ContainsFunc(list.Tools, func(t mcp.Tool) bool { return t.Name == "city_temp" }) {
		t.Fatalf("after delete: %v %+v", err, list)
	}
	if strings.Contains(in.logs.String(), key) {
		t.Fatal("the key is in the daemon's log")
	}
	if db, err := os.ReadFile(in.dataDir + "/plexus.db"); err != nil || strings.Contains(string(db), key) {
		t.Fatalf("the key is in the vault file in the clear (%v)", err)
	}
}
