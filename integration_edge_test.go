package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestConformanceOnlyInItsBuild: the conformance fixtures and
// --conformance-tenant are built only with -tags conformance; the product
// binary has neither.
func TestConformanceOnlyInItsBuild(t *testing.T) {
	const pkg = "github.com/plexus-mcp/plexus/mcpserver/conformance"
	deps := func(tags ...string) string {
		args := append([]string{"list"}, tags...)
		out, err := exec.Command("go", append(args, "-deps", ".")...).Output()
		if err != nil {
			t.Fatalf("go list %v: %v", tags, err)
		}
		return string(out)
	}
	if strings.Contains(deps(), pkg+"\n") {
		t.Errorf("the product binary links %s", pkg)
	}
	if !strings.Contains(deps("-tags", "conformance"), pkg+"\n") {
		t.Errorf("the conformance build does not link %s", pkg)
	}
	if testing.Short() {
		return
	}
	in := newInstance(t)
	_, stderr, err := in.run("serve", "--data", in.dataDir, "--conformance-tenant", "conformance")
	if err == nil || !strings.Contains(stderr, "conformance-tenant") {
		t.Fatalf("product serve --conformance-tenant: err=%v stderr=%q; want a usage error", err, stderr)
	}
}

// TestEdgeOverHTTP: the daemon's one guard refuses foreign Host and Origin
// on every route, in the route's error shape; /api/v1 answers JSON even
// where the mux would redirect.
func TestEdgeOverHTTP(t *testing.T) {
	in := newInstance(t)
	_, rt := in.serve()
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, stderr)
	}
	base := rt.BaseURL()
	for _, tc := range []struct {
		method, path string
		host, origin string
		status       int
		key          string // the error shape's top-level key
	}{
		{"POST", "/acme/mcp", "evil.example", "", 403, "jsonrpc"},
		{"POST", "/acme/mcp", "", "http://evil.example", 403, "jsonrpc"},
		{"POST", "/acme/mcp", "", "http://localhost:1", 403, "jsonrpc"},
		{"PUT", "/acme/mcp", "", "", 405, "jsonrpc"},
		{"GET", "/api/v1/tenants", "evil.example", "", 403, "error"},
		{"GET", "/api/v1/tenants", "", "null", 403, "error"},
		{"GET", "/api/v1", "", "", 401, "error"},
		{"POST", "/acme/plexus-auth/register-user", "", "http://evil.example", 403, "detail"},
		{"GET", "/acme/plexus-auth/register-user", "", "", 405, "detail"},
		{"GET", "/acme/plexus-services/api-keys", "127.0.0.1:1", "", 403, "detail"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		derr := json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if _, ok := m[tc.key]; resp.StatusCode != tc.status || derr != nil || !ok {
			t.Errorf("%s %s (Host %q, Origin %q): %d %v, want %d with %q", tc.method, tc.path, tc.host, tc.origin,
				resp.StatusCode, m, tc.status, tc.key)
		}
	}
}
