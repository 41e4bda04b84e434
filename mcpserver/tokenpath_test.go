package mcpserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`

// TestTokenInURL: /{tenant}/mcp/token_auth/{token} (MCP Plexus's form for
// clients that cannot set headers) authenticates like Authorization:
// Bearer, in both eras and for every method, and the token reaches no log
// line (ours or mcp-go's, at debug level) and no answer.
func TestTokenInURL(t *testing.T) {
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, WithLogger(log))
	uid, tok := e.user("acme", "alice")
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	path := TokenPath("acme", tok)
	if path != "/acme/mcp/token_auth/"+tok {
		t.Fatalf("TokenPath = %q", path)
	}
	var answers strings.Builder
	do := func(r req) reply {
		t.Helper()
		rep := e.do(r)
		answers.WriteString(rep.body)
		for k, vs := range rep.header {
			answers.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		return rep
	}

	// Legacy era: initialize, call, GET stream, DELETE, all through the URL.
	rep := do(req{path: path, body: initializeBody})
	if rep.status != http.StatusOK || rep.rpc.Error != nil {
		t.Fatalf("initialize: %d %s", rep.status, rep.body)
	}
	if got := rep.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Fatalf("Referrer-Policy = %q", got)
	}
	sid := rep.header.Get("Mcp-Session-Id")
	do(req{path: path, session: sid, version: legacy, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})
	got := whoami(t, do(req{path: path, session: sid, version: legacy,
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`}))
	if got.User != uid || got.SessionFingerprint != tools.SessionFingerprint(sid) {
		t.Fatalf("legacy whoami through the URL token = %+v", got)
	}
	// The session belongs to alice either way the token travels.
	whoami(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.hs.URL+path, nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	hr.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET stream through the URL token: %d %s", resp.StatusCode, b)
	}
	resp.Body.Close()
	cancel()

	if rep := do(req{method: http.MethodDelete, path: path, session: sid, version: legacy}); rep.status >= 300 {
		t.Fatalf("DELETE through the URL token: %d %s", rep.status, rep.body)
	}
	wantRPCError(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")

	// Modern era.
	modernCall := func(p string, headers map[string]string) reply {
		h := map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": tools.WhoamiName}
		for k, v := range headers {
			h[k] = v
		}
		return do(req{path: p, version: modern, headers: h,
			body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},` + modernMeta + `}}`})
	}
	for _, p := range []string{path, path + "/"} {
		if got := whoami(t, modernCall(p, nil)); got.User != uid {
			t.Fatalf("modern whoami through %s = %+v", strings.Replace(p, tok, "TOKEN", 1), got)
		}
	}
	// The local token works there too (it is a token like any other).
	if got := whoami(t, modernCall(TokenPath("acme", localToken), nil)); got.User != owner.ID {
		t.Fatalf("local token through the URL = %+v", got)
	}
	// The same token in the header as well is fine; a different one is not.
	whoami(t, modernCall(path, map[string]string{"Authorization": "Bearer " + tok}))
	_, bobTok := e.user("acme", "bob")
	wantRPCError(t, modernCall(path, map[string]string{"Authorization": "Bearer " + bobTok}), http.StatusUnauthorized, msgBadToken)

	// Refusals never echo the token.
	const wrong = "plx_not-a-real-token-but-secret-looking"
	wantRPCError(t, modernCall(TokenPath("acme", wrong), nil), http.StatusUnauthorized, msgBadToken)
	wantRPCError(t, modernCall(TokenPath("beta", tok), nil), http.StatusUnauthorized, msgBadToken)
	wantRPCError(t, modernCall(TokenPath("nosuch", tok), nil), http.StatusNotFound, "unknown tenant")
	rep = do(req{path: path, headers: map[string]string{"Origin": "https://evil.example"}, body: initializeBody})
	if rep.status != http.StatusForbidden {
		t.Fatalf("foreign Origin: %d", rep.status)
	}
	revokeAll(t, e.v, "acme", uid)
	wantRPCError(t, modernCall(path, nil), http.StatusUnauthorized, msgBadToken)

	if !strings.Contains(logs.String(), "MCP request") {
		t.Fatalf("the capture saw no access line; logs:\n%s", logs.String())
	}
	for name, secret := range map[string]string{"user token": tok, "bob's token": bobTok, "local token": localToken, "wrong token": wrong} {
		body := strings.TrimPrefix(secret, "plx_")
		if strings.Contains(logs.String(), body) {
			t.Errorf("%s found in the log:\n%s", name, logs.String())
		}
		if strings.Contains(answers.String(), body) {
			t.Errorf("%s found in an answer", name)
		}
	}
}
