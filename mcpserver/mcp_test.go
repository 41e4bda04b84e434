package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/conformance"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

func toolNames(t *testing.T, rep reply) []string {
	t.Helper()
	if rep.status != http.StatusOK || rep.rpc.Error != nil {
		t.Fatalf("tools/list: %d %s", rep.status, rep.body)
	}
	var res struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(rep.rpc.Result, &res); err != nil {
		t.Fatalf("tools/list result: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

// TestLegacyEra drives the 2025-11-25 era: initialize, tools/list,
// tools/call with Mcp-Session-Id, the GET stream, DELETE and reuse.
func TestLegacyEra(t *testing.T) {
	e := newEnv(t)
	sid := e.initialize("acme", "")

	names := toolNames(t, e.do(req{tenant: "acme", session: sid, version: legacy, body: `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`}))
	if !slices.Contains(names, tools.WhoamiName) {
		t.Fatalf("tools/list = %v, want %s", names, tools.WhoamiName)
	}

	got := whoami(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""))
	want := tools.Whoami{Tenant: "acme", Guest: true, SessionFingerprint: tools.SessionFingerprint(sid), Protocol: legacy}
	if got != want {
		t.Fatalf("whoami = %+v, want %+v", got, want)
	}

	if status, ct := e.openGET("acme", "", sid); status != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET stream: %d %s", status, ct)
	}
	if status, _ := e.openGET("acme", "", ""); status != http.StatusBadRequest {
		t.Fatalf("GET without session: %d, want 400", status)
	}

	del := e.do(req{method: http.MethodDelete, tenant: "acme", session: sid, version: legacy})
	if del.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", del.status, del.body)
	}
	wantRPCError(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found or expired")
	if status, body := e.openGET("acme", "", sid); status != http.StatusNotFound || !strings.Contains(body, "session not found") {
		t.Fatalf("GET after DELETE: %d %s", status, body)
	}
	wantRPCError(t, e.do(req{method: http.MethodDelete, tenant: "acme", session: sid, version: legacy}), http.StatusNotFound, "session not found")
}

// TestModernEra drives the stateless 2026-07-28 era: server/discover and
// tools/call, no session.
func TestModernEra(t *testing.T) {
	e := newEnv(t)
	disc := e.do(req{tenant: "acme", version: modern, headers: map[string]string{"Mcp-Method": "server/discover"},
		body: `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + modernMeta + `}}`})
	if disc.status != http.StatusOK || disc.rpc.Error != nil {
		t.Fatalf("server/discover: %d %s", disc.status, disc.body)
	}
	if !strings.Contains(string(disc.rpc.Result), `"plexus/acme"`) || !strings.Contains(string(disc.rpc.Result), modern) {
		t.Fatalf("server/discover result = %s", disc.rpc.Result)
	}
	if disc.header.Get("Mcp-Session-Id") != "" {
		t.Fatal("modern response carries Mcp-Session-Id")
	}
	got := whoami(t, e.modernCall("acme", "", tools.WhoamiName, ""))
	want := tools.Whoami{Tenant: "acme", Guest: true, Protocol: modern}
	if got != want {
		t.Fatalf("whoami = %+v, want %+v", got, want)
	}
	// A stale session id on a modern request is ignored, not validated.
	rep := e.do(req{tenant: "acme", version: modern, session: "mcp-session-bogus",
		headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": tools.WhoamiName},
		body:    `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},` + modernMeta + `}}`})
	if w := whoami(t, rep); w.SessionFingerprint != "" {
		t.Fatalf("modern whoami session = %q", w.SessionFingerprint)
	}
}

// TestMCPGoClient connects mcp-go's own client in both eras.
func TestMCPGoClient(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("acme", "alice")
	for _, tc := range []struct {
		name    string
		version string
		session bool
	}{
		{"legacy", legacy, true},
		{"modern", modern, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := transport.NewStreamableHTTP(e.url("acme"), transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
			if err != nil {
				t.Fatal(err)
			}
			c := client.NewClient(tr, client.WithProtocolVersion(tc.version))
			t.Cleanup(func() { _ = c.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := mcp.InitializeRequest{}
			init.Params.ProtocolVersion = tc.version
			init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
			if _, err := c.Initialize(ctx, init); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			lt, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil || len(lt.Tools) == 0 {
				t.Fatalf("list tools: %v %v", lt, err)
			}
			call := mcp.CallToolRequest{}
			call.Params.Name = tools.WhoamiName
			res, err := c.CallTool(ctx, call)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			var w tools.Whoami
			if err := json.Unmarshal([]byte(res.Content[0].(mcp.TextContent).Text), &w); err != nil {
				t.Fatal(err)
			}
			if w.User != uid || w.Tenant != "acme" || w.Protocol != tc.version || (w.SessionFingerprint != "") != tc.session {
				t.Fatalf("whoami = %+v (user %s)", w, uid)
			}
		})
	}
}

func TestUnknownTenant(t *testing.T) {
	e := newEnv(t)
	rep := e.do(req{tenant: "nope", body: `{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}`})
	wantRPCError(t, rep, http.StatusNotFound, `unknown tenant "nope"`)
	if string(rep.rpc.ID) != "7" || rep.rpc.Error.Code != codeNotFound {
		t.Fatalf("id = %s, code = %d", rep.rpc.ID, rep.rpc.Error.Code)
	}
	if !strings.Contains(rep.rpc.Error.Message, "plexus admin tenant create --entity-id nope") {
		t.Fatalf("message does not say how to create the tenant: %s", rep.rpc.Error.Message)
	}
	rep = e.do(req{tenant: "nope", method: http.MethodGet, session: "x"})
	wantRPCError(t, rep, http.StatusNotFound, `unknown tenant "nope"`)
	if string(rep.rpc.ID) != "null" {
		t.Fatalf("GET id = %s, want null", rep.rpc.ID)
	}
	// Deleted tenant: 404 on the very next request (the vault announces it).
	e.initialize("beta", "")
	if err := e.v.DeleteTenant(t.Context(), "beta"); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.modernCall("beta", "", tools.WhoamiName, ""), http.StatusNotFound, `unknown tenant "beta"`)
}

// TestTenantToolScoping: a tool limited to acme is invisible and uncallable
// on beta, in both eras.
func TestTenantToolScoping(t *testing.T) {
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("acme_only", mcp.WithDescription("acme's tool")),
		Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("acme!"), nil
		},
		AllowedTenants: []string{"acme"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg))
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + modernMeta + `}}`
	listHdr := map[string]string{"Mcp-Method": "tools/list"}
	acme := toolNames(t, e.do(req{tenant: "acme", version: modern, headers: listHdr, body: list}))
	beta := toolNames(t, e.do(req{tenant: "beta", version: modern, headers: listHdr, body: list}))
	if !slices.Contains(acme, "acme_only") || slices.Contains(beta, "acme_only") || !slices.Contains(beta, tools.WhoamiName) {
		t.Fatalf("acme tools %v, beta tools %v", acme, beta)
	}
	if text, _ := toolText(t, e.modernCall("acme", "", "acme_only", "")); text != "acme!" {
		t.Fatalf("acme_only on acme = %q", text)
	}
	rep := e.modernCall("beta", "", "acme_only", "")
	if rep.rpc.Error == nil {
		t.Fatalf("acme_only on beta succeeded: %s", rep.body)
	}
	sid := e.initialize("beta", "")
	if rep := e.legacyCall("beta", "", sid, "acme_only", ""); rep.rpc.Error == nil {
		t.Fatalf("acme_only on beta (legacy) succeeded: %s", rep.body)
	}
}

// TestConformanceTenant: only the conformance tenant gets the fixtures.
func TestConformanceTenant(t *testing.T) {
	e := newEnv(t, WithTenantExtension("beta", conformance.ServerOptions(), conformance.Register))
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + modernMeta + `}}`
	hdr := map[string]string{"Mcp-Method": "tools/list"}
	beta := toolNames(t, e.do(req{tenant: "beta", version: modern, headers: hdr, body: list}))
	acme := toolNames(t, e.do(req{tenant: "acme", version: modern, headers: hdr, body: list}))
	if !slices.Contains(beta, "test_simple_text") || !slices.Contains(beta, tools.WhoamiName) || slices.Contains(acme, "test_simple_text") {
		t.Fatalf("beta tools %v, acme tools %v", beta, acme)
	}
	sid := e.initialize("beta", "")
	rep := e.do(req{tenant: "beta", session: sid, version: legacy, body: `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"test://static-text"}}`})
	if rep.rpc.Error != nil || !strings.Contains(string(rep.rpc.Result), "static text resource") {
		t.Fatalf("resources/read: %s", rep.body)
	}
	rep = e.do(req{tenant: "acme", version: modern, headers: map[string]string{"Mcp-Method": "resources/read", "Mcp-Name": "test://static-text"},
		body: `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"test://static-text",` + modernMeta + `}}`})
	if rep.rpc.Error == nil {
		t.Fatalf("acme has the conformance resource: %s", rep.body)
	}
}

// TestForeignRequests: DNS rebinding (foreign Host) and foreign Origin are
// refused by the edge rule, which the Server applies itself when mounted
// without the daemon's guard (as here); only the daemon's own origin is
// fine, in the JSON-RPC shape.
func TestForeignRequests(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		host   string
		status int
	}{
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, "", http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, "", http.StatusForbidden},
		{"foreign host", nil, "evil.example", http.StatusForbidden},
		{"loopback origin on another port", map[string]string{"Origin": "http://localhost:6274"}, "", http.StatusForbidden},
		{"same origin", map[string]string{"Origin": e.hs.URL}, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url("acme"),
				strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},`+modernMeta+`}}`))
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Accept", "application/json, text/event-stream")
			hr.Header.Set("Mcp-Protocol-Version", modern)
			hr.Header.Set("Mcp-Method", "tools/call")
			hr.Header.Set("Mcp-Name", "plexus_whoami")
			for k, v := range tc.header {
				hr.Header.Set(k, v)
			}
			if tc.host != "" {
				hr.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusForbidden && !strings.Contains(string(body), `"jsonrpc":"2.0"`) {
				t.Fatalf("refusal is not a JSON-RPC error: %s", body)
			}
		})
	}
	// register-user too.
	hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.hs.URL+"/acme/plexus-auth/register-user", strings.NewReader(`{}`))
	hr.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("register-user with foreign Origin: %d", resp.StatusCode)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{"pad":"` + strings.Repeat("x", maxMCPBody) + `"}}}`
	wantRPCError(t, e.do(req{tenant: "acme", version: modern, body: big}), http.StatusRequestEntityTooLarge, "larger than")
}

// TestRun: Run returns nil when its context ends and closes GET streams.
func TestRun(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	sid := e.initialize("acme", "")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	// Closing streams at shutdown keeps the session.
	if _, err := e.v.GetSession(t.Context(), "acme", sid); err != nil {
		t.Fatalf("session gone after Run ended: %v", err)
	}
}

// TestRoutesMountedUnderRoot: Routes' patterns ("/{tenant}/mcp") conflict
// with subtree patterns like "/ui/" in one mux, so a daemon mounts them on
// their own mux under "/"; the trailing-slash endpoint works too.
func TestRoutesMountedUnderRoot(t *testing.T) {
	e := newEnv(t)
	mcpMux := http.NewServeMux()
	e.srv.Routes(mcpMux)
	root := http.NewServeMux()
	root.Handle("/ui/", http.NotFoundHandler())
	root.Handle("/", mcpMux)
	hs := httptest.NewServer(root)
	t.Cleanup(hs.Close)
	e.hs = hs
	hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/acme/mcp/",
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},`+modernMeta+`}}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json, text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", modern)
	hr.Header.Set("Mcp-Method", "tools/call")
	hr.Header.Set("Mcp-Name", "plexus_whoami")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /acme/mcp/: %d", resp.StatusCode)
	}
	if got := whoami(t, e.modernCall("acme", "", tools.WhoamiName, "")); got.Tenant != "acme" {
		t.Fatalf("whoami = %+v", got)
	}
}
