package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry/telemetrytest"
	"github.com/plexus-mcp/plexus/vault"
)

const testAdminAPIKey = "admin-api-key-for-tests"

// startMetricsDaemon runs a real daemon (bbolt file, master key from env)
// with ADMIN_API_KEY set and a tenant "acme".
func startMetricsDaemon(t *testing.T) localclient.Runtime {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			DataDir:     t.TempDir(),
			Listen:      "127.0.0.1:0",
			AdminAPIKey: testAdminAPIKey,
			Version:     "9.9.9-test",
			Vault: vault.Config{
				Keyring: unavailableKeyring{},
				Getenv: func(k string) string {
					if k == "PLEXUS_MASTER_KEY" {
						return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // a test key
					}
					return ""
				},
			},
			Ready: func(rt localclient.Runtime) { ready <- rt },
		})
	}()
	var rt localclient.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	c := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	if _, _, err := c.CreateTenant(t.Context(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	return rt
}

func get(t *testing.T, url, token string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// mcpPost sends one JSON-RPC message to /acme/mcp as the local owner.
func mcpPost(t *testing.T, rt localclient.Runtime, sid, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, rt.BaseURL()+"/acme/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+rt.Token)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestMetricsEndpoint: GET /metrics answers the admin token (local token
// or ADMIN_API_KEY) with the Prometheus text format, counting a tool call
// by tenant, tool and outcome and the tenant's active session; without a
// token, with a wrong one or cross-origin it is refused, and /healthz
// stays open.
func TestMetricsEndpoint(t *testing.T) {
	rt := startMetricsDaemon(t)
	resp := mcpPost(t, rt, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no session")
	}
	mcpPost(t, rt, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	mcpPost(t, rt, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`)
	mcpPost(t, rt, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{"x":1}}}`)

	url := rt.BaseURL() + MetricsPath
	for _, tc := range []struct {
		name    string
		token   string
		headers map[string]string
		want    int
	}{
		{"no token", "", nil, http.StatusUnauthorized},
		{"wrong token", "not-the-token", nil, http.StatusUnauthorized},
		{"cross-origin", rt.Token, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"foreign host", rt.Token, map[string]string{"Host": "evil.example"}, http.StatusForbidden},
		{"ADMIN_API_KEY", testAdminAPIKey, nil, http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		for k, v := range tc.headers {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want != http.StatusOK && strings.Contains(string(b), "acme") {
			t.Errorf("%s: a refusal names the tenant: %s", tc.name, b)
		}
	}

	status, hdr, body := get(t, url, rt.Token, nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s", status, hdr.Get("Content-Type"))
	}
	fams, err := telemetrytest.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	for _, w := range []struct {
		fam    string
		labels map[string]string
		value  float64
	}{
		{"plexus_tool_calls_total", map[string]string{"tenant": "acme", "tool": "plexus_whoami", "outcome": "ok"}, 1},
		{"plexus_tool_calls_total", map[string]string{"tenant": "acme", "tool": "plexus_whoami", "outcome": "invalid_arguments"}, 1},
		{"plexus_mcp_sessions_active", map[string]string{"tenant": "acme"}, 1},
		{"plexus_build_info", map[string]string{"version": "9.9.9-test"}, 1},
	} {
		f := fams[w.fam]
		if f == nil {
			t.Fatalf("no %s in\n%s", w.fam, body)
		}
		ss := f.Find(w.fam, w.labels)
		if len(ss) != 1 || ss[0].Value != w.value {
			t.Errorf("%s%v = %+v, want %v", w.fam, w.labels, ss, w.value)
		}
	}
	if f := fams["plexus_tool_call_duration_seconds"]; f == nil ||
		len(f.Find("plexus_tool_call_duration_seconds_count", map[string]string{"tenant": "acme", "tool": "plexus_whoami"})) != 1 {
		t.Errorf("no latency histogram for the call")
	}
	for _, fam := range []string{"plexus_upstream_restarts_total", "plexus_upstream_state"} {
		if fams[fam] == nil {
			t.Errorf("family %s missing (upstreams report through telemetry.UpstreamObserver)", fam)
		}
	}
	if strings.Contains(body, sid) || strings.Contains(body, rt.Token) {
		t.Error("the metrics carry a session id or the token")
	}

	if status, _, _ := get(t, rt.BaseURL()+"/healthz", "", nil); status != http.StatusOK {
		t.Errorf("/healthz without a token: %d, want 200", status)
	}
}

// TestHealthEndpoint: GET /api/v1/health lists the vault and the MCP
// sessions (and upstreams as they report), for the admin only.
func TestHealthEndpoint(t *testing.T) {
	rt := startMetricsDaemon(t)
	if status, _, _ := get(t, rt.BaseURL()+"/api/v1/health", "", nil); status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", status)
	}
	status, _, body := get(t, rt.BaseURL()+"/api/v1/health", rt.Token, nil)
	if status != http.StatusOK {
		t.Fatalf("health: %d %s", status, body)
	}
	var h apiv1.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != apiv1.HealthOK || len(h.Components) != 2 ||
		h.Components[0].Kind != "sessions" || h.Components[0].Detail != "0 active MCP sessions" ||
		h.Components[1].Kind != "vault" || h.Components[1].Status != apiv1.HealthOK {
		t.Errorf("health: %s", body)
	}
}
