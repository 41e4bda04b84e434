package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const (
	legacy     = mcp.ProtocolVersion20251125
	modern     = mcp.ProtocolVersion20260728
	localToken = "local-test-token"
)

// clock is a settable clock for sessions and caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a vault with tenants acme and beta and a Server over it, served by
// an httptest server on 127.0.0.1.
type env struct {
	t     *testing.T
	v     *vault.Vault
	clock *clock
	opts  []Option
	// optsFor gives options that need the vault or the server's base URL
	// (an OAuth manager's redirect_uri).
	optsFor func(v *vault.Vault, baseURL string) []Option
	srv     *Server
	hs      *httptest.Server
}

func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	return newEnvFor(t, nil, opts...)
}

// newEnvFor is newEnv with options that need the server's base URL.
func newEnvFor(t *testing.T, optsFor func(v *vault.Vault, baseURL string) []Option, opts ...Option) *env {
	t.Helper()
	e := &env{t: t, v: vaulttest.New(t), clock: newClock(), opts: opts, optsFor: optsFor}
	for _, id := range []string{"acme", "beta"} {
		if _, err := e.v.CreateTenant(t.Context(), vault.Tenant{ID: id, Name: id}); err != nil {
			t.Fatalf("create tenant %s: %v", id, err)
		}
	}
	e.start()
	return e
}

// start (re)creates the Server and its HTTP server over the same vault, as
// a daemon restart does.
func (e *env) start() {
	e.t.Helper()
	if e.hs != nil {
		e.hs.Close()
	}
	mux := http.NewServeMux()
	e.hs = httptest.NewServer(mux)
	e.t.Cleanup(e.hs.Close)
	opts := append([]Option{WithClock(e.clock.Now), WithLocalToken(localToken)}, e.opts...)
	if e.optsFor != nil {
		opts = append(opts, e.optsFor(e.v, e.hs.URL)...)
	}
	e.srv = New(e.v, opts...)
	e.srv.Routes(mux)
}

func (e *env) url(tenant string) string { return e.hs.URL + "/" + tenant + "/mcp" }

// user registers a user in tenant and returns its id and a token.
func (e *env) user(tenant, hostID string) (string, string) {
	e.t.Helper()
	u, _, err := e.v.EnsureUser(e.t.Context(), tenant, hostID)
	if err != nil {
		e.t.Fatalf("ensure user: %v", err)
	}
	tok, _, err := e.v.IssueToken(e.t.Context(), tenant, u.ID, 0)
	if err != nil {
		e.t.Fatalf("issue token: %v", err)
	}
	return u.ID, tok
}

// rpcResponse is a JSON-RPC response.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// reply is an HTTP answer to an MCP request.
type reply struct {
	status int
	header http.Header
	rpc    rpcResponse
	body   string
}

// req describes one MCP HTTP request.
type req struct {
	method  string // default POST
	tenant  string
	token   string
	session string
	version string // Mcp-Protocol-Version
	headers map[string]string
	body    string
	path    string // request path instead of /{tenant}/mcp (the URL token form)
}

func (e *env) do(r req) reply {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	u := e.url(r.tenant)
	if r.path != "" {
		u = e.hs.URL + r.path
	}
	hr, err := http.NewRequestWithContext(e.t.Context(), r.method, u, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json, text/event-stream")
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.session != "" {
		hr.Header.Set("Mcp-Session-Id", r.session)
	}
	if r.version != "" {
		hr.Header.Set("Mcp-Protocol-Version", r.version)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.tenant, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rep := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	data := b
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		data = lastSSEData(b)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		_ = json.Unmarshal(data, &rep.rpc)
	}
	return rep
}

// lastSSEData returns the data of the last SSE event (the response).
func lastSSEData(b []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			last = []byte(d)
		}
	}
	return last
}

// initialize opens a legacy session and returns its id.
func (e *env) initialize(tenant, token string) string {
	e.t.Helper()
	rep := e.do(req{tenant: tenant, token: token, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`})
	if rep.status != http.StatusOK || rep.rpc.Error != nil {
		e.t.Fatalf("initialize %s: %d %s", tenant, rep.status, rep.body)
	}
	sid := rep.header.Get("Mcp-Session-Id")
	if sid == "" {
		e.t.Fatalf("initialize %s: no Mcp-Session-Id", tenant)
	}
	e.do(req{tenant: tenant, token: token, session: sid, version: legacy, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})
	return sid
}

// legacyCall calls a tool in a legacy session.
func (e *env) legacyCall(tenant, token, sid, tool, args string) reply {
	e.t.Helper()
	if args == "" {
		args = "{}"
	}
	return e.do(req{tenant: tenant, token: token, session: sid, version: legacy,
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`})
}

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// modernCall calls a tool statelessly (2026-07-28).
func (e *env) modernCall(tenant, token, tool, args string) reply {
	e.t.Helper()
	if args == "" {
		args = "{}"
	}
	return e.do(req{tenant: tenant, token: token, version: modern,
		headers: map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": tool},
		body:    `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `,` + modernMeta + `}}`})
}

// toolText returns the first text content of a tools/call result, failing
// the test on a protocol error.
func toolText(t *testing.T, rep reply) (string, bool) {
	t.Helper()
	if rep.status != http.StatusOK || rep.rpc.Error != nil {
		t.Fatalf("tools/call: %d %s", rep.status, rep.body)
	}
	var res struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	}
	if err := json.Unmarshal(rep.rpc.Result, &res); err != nil || len(res.Content) == 0 {
		t.Fatalf("tools/call result %s: %v", rep.rpc.Result, err)
	}
	return res.Content[0].Text, res.IsError
}

// whoami calls plexus_whoami and decodes it.
func whoami(t *testing.T, rep reply) tools.Whoami {
	t.Helper()
	text, isErr := toolText(t, rep)
	if isErr {
		t.Fatalf("plexus_whoami failed: %s", text)
	}
	var w tools.Whoami
	if err := json.Unmarshal([]byte(text), &w); err != nil {
		t.Fatalf("plexus_whoami text %q: %v", text, err)
	}
	return w
}

// wantRPCError checks an HTTP status and a JSON-RPC error containing msg.
func wantRPCError(t *testing.T, rep reply, status int, msg string) {
	t.Helper()
	if rep.status != status {
		t.Fatalf("status = %d, want %d (body %s)", rep.status, status, rep.body)
	}
	if rep.rpc.Error == nil || !strings.Contains(rep.rpc.Error.Message, msg) {
		t.Fatalf("body = %s, want a JSON-RPC error containing %q", rep.body, msg)
	}
}

// openGET opens the legacy GET stream and returns its status; the stream is
// closed before returning.
func (e *env) openGET(tenant, token, sid string) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url(tenant), nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	if sid != "" {
		hr.Header.Set("Mcp-Session-Id", sid)
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	return resp.StatusCode, ct
}
