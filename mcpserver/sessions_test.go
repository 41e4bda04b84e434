package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// valueTools registers remember (sets key "note") and recall (gets it).
func valueTools(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	for _, tl := range []tools.Tool{
		{
			Definition: mcp.NewTool("remember", mcp.WithString("note", mcp.Required())),
			Handler: func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				if err := tools.SessionValues(ctx).Set(ctx, "note", []byte(r.GetString("note", ""))); err != nil {
					return mcp.NewToolResultError(err.Error()), nil
				}
				return mcp.NewToolResultText("ok"), nil
			},
		},
		{
			Definition: mcp.NewTool("recall"),
			Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				b, err := tools.SessionValues(ctx).Get(ctx, "note")
				switch {
				case errors.Is(err, tools.ErrNoValue):
					return mcp.NewToolResultText("<unset>"), nil
				case errors.Is(err, tools.ErrNoSession):
					return mcp.NewToolResultText("<no session>"), nil
				case err != nil:
					return mcp.NewToolResultError(err.Error()), nil
				}
				return mcp.NewToolResultText(string(b)), nil
			},
		},
	} {
		if err := reg.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// TestSessionSurvivesRestart: a new Server over the same vault (a daemon
// restart) accepts an existing session id, POST and GET, with its values.
func TestSessionSurvivesRestart(t *testing.T) {
	e := newEnv(t, WithRegistry(valueTools(t)))
	uid, tok := e.user("acme", "alice")
	sid := e.initialize("acme", tok)
	if text, _ := toolText(t, e.legacyCall("acme", tok, sid, "recall", "")); text != "<unset>" {
		t.Fatalf("recall before remember = %q", text)
	}
	if text, isErr := toolText(t, e.legacyCall("acme", tok, sid, "remember", `{"note":"blue"}`)); isErr {
		t.Fatalf("remember: %s", text)
	}

	e.start() // restart
	got := whoami(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""))
	if got.SessionFingerprint != tools.SessionFingerprint(sid) || got.User != uid || got.Protocol != legacy {
		t.Fatalf("whoami after restart = %+v", got)
	}
	if text, _ := toolText(t, e.legacyCall("acme", tok, sid, "recall", "")); text != "blue" {
		t.Fatalf("recall after restart = %q, want blue", text)
	}
	if status, ct := e.openGET("acme", tok, sid); status != http.StatusOK {
		t.Fatalf("GET after restart: %d %s", status, ct)
	}
	rec, err := e.v.GetSession(t.Context(), "acme", sid)
	if err != nil || rec.Protocol != legacy || rec.UserID != uid {
		t.Fatalf("stored session = %+v, %v", rec, err)
	}
	// Modern requests have no session, so no values.
	if text, _ := toolText(t, e.modernCall("acme", tok, "recall", "")); text != "<no session>" {
		t.Fatalf("modern recall = %q", text)
	}
}

// TestSessionRejected: unknown, deleted, expired and foreign session ids get
// 404 on POST and GET.
func TestSessionRejected(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user("acme", "alice")
	_, bob := e.user("acme", "bob")
	aliceSID := e.initialize("acme", alice)
	guestSID := e.initialize("acme", "")
	betaSID := e.initialize("beta", "")

	for _, tc := range []struct {
		name, token, sid string
	}{
		{"unknown id", alice, "mcp-session-unknown"},
		{"malformed id", alice, "bad|id"},
		{"other user's session", bob, aliceSID},
		{"user session as guest", "", aliceSID},
		{"guest session with a token", alice, guestSID},
		{"other tenant's session", "", betaSID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRPCError(t, e.legacyCall("acme", tc.token, tc.sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found or expired")
			if status, _ := e.openGET("acme", tc.token, tc.sid); status != http.StatusNotFound {
				t.Fatalf("GET: %d, want 404", status)
			}
		})
	}
	// The rightful owners still get in.
	whoami(t, e.legacyCall("acme", alice, aliceSID, tools.WhoamiName, ""))
	whoami(t, e.legacyCall("acme", "", guestSID, tools.WhoamiName, ""))

	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(DefaultSessionIdleTTL + time.Second)
		wantRPCError(t, e.legacyCall("acme", alice, aliceSID, tools.WhoamiName, ""), http.StatusNotFound, "session not found or expired")
		if status, _ := e.openGET("acme", "", guestSID); status != http.StatusNotFound {
			t.Fatalf("GET expired: %d, want 404", status)
		}
		e.start()
		wantRPCError(t, e.legacyCall("acme", "", betaSID, tools.WhoamiName, ""), http.StatusNotFound, "session not found or expired")
	})
}

// TestSessionIdleTTL: activity extends a session; the last-seen time reaches
// the store (so it also holds after a restart).
func TestSessionIdleTTL(t *testing.T) {
	e := newEnv(t, WithSessionIdleTTL(time.Hour))
	sid := e.initialize("acme", "")
	for range 3 {
		e.clock.Advance(50 * time.Minute)
		whoami(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""))
	}
	rec, err := e.v.GetSession(t.Context(), "acme", sid)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now().Add(time.Hour); !rec.ExpiresAt.Equal(want) {
		t.Fatalf("stored expiry = %v, want %v", rec.ExpiresAt, want)
	}
	e.start()
	e.clock.Advance(50 * time.Minute)
	whoami(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""))
	e.clock.Advance(61 * time.Minute)
	wantRPCError(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
}

// TestSweep: Run's sweep removes expired sessions from the vault.
func TestSweep(t *testing.T) {
	e := newEnv(t, WithSessionIdleTTL(time.Hour))
	old := e.initialize("acme", "")
	e.clock.Advance(30 * time.Minute)
	fresh := e.initialize("acme", "")
	e.clock.Advance(45 * time.Minute)
	e.srv.sweep(t.Context())
	if _, err := e.v.GetSession(t.Context(), "acme", old); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("expired session after sweep: %v, want not found", err)
	}
	if _, err := e.v.GetSession(t.Context(), "acme", fresh); err != nil {
		t.Fatalf("live session after sweep: %v", err)
	}
	whoami(t, e.legacyCall("acme", "", fresh, tools.WhoamiName, ""))
}

// registered sums the sessions mcp-go holds in memory over all tenants.
func (e *env) registered() int64 {
	e.srv.mu.RLock()
	defer e.srv.mu.RUnlock()
	var n int64
	for _, ts := range e.srv.tenants {
		n += ts.registered.Load()
	}
	return n
}

// settle waits (bounded) until cond holds: a request's hold on its session
// ends just after the response.
func settle(t *testing.T, cond func() bool) bool {
	t.Helper()
	for range 200 {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// initializeWith opens a legacy session declaring clientInfo name and the
// URL-mode elicitation capability.
func (e *env) initializeWith(tenant, token, client string) string {
	e.t.Helper()
	rep := e.do(req{tenant: tenant, token: token, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"` + client + `","version":"1"}}}`})
	sid := rep.header.Get("Mcp-Session-Id")
	if rep.status != http.StatusOK || sid == "" {
		e.t.Fatalf("initialize: %d %s", rep.status, rep.body)
	}
	return sid
}

// clientTools registers "client", which reports what the session knows of
// its client.
func clientTools(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("client"),
		Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			cs, _ := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
			if cs == nil {
				return mcp.NewToolResultText("<none>"), nil
			}
			return mcp.NewToolResultText(fmt.Sprintf("%s url-elicitation=%v", cs.GetClientInfo().Name, supportsURLElicitation(ctx))), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestActiveSessionsBounded: past the in-memory bound, idle sessions leave
// Plexus's cache and mcp-go's memory, yet stay valid: their next request
// loads them from the vault with the client info and capabilities they
// declared. A session with an open GET stream stays in memory.
func TestActiveSessionsBounded(t *testing.T) {
	const active = 4
	e := newEnv(t, WithSessionBounds(SessionBounds{Active: active}), WithRegistry(clientTools(t)))
	streamSID := e.initializeWith("acme", "", "streamer")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url("acme"), nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	hr.Header.Set("Mcp-Session-Id", streamSID)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: %v %v", resp, err)
	}
	defer resp.Body.Close()

	var sids []string
	for i := range 12 {
		e.clock.Advance(time.Second)
		sids = append(sids, e.initializeWith("acme", "", fmt.Sprintf("client-%d", i)))
	}
	if !settle(t, func() bool { return e.srv.sessions.len() <= active && e.registered() <= active }) {
		t.Fatalf("in memory: %d Plexus entries, %d mcp-go sessions; want <= %d", e.srv.sessions.len(), e.registered(), active)
	}
	if !e.srv.knownSession(tools.Caller{TenantID: "acme"}, streamSID) {
		t.Fatal("the session with an open GET stream left memory")
	}
	// The first sessions left memory; they still work, with their client.
	for i, sid := range sids[:3] {
		text, _ := toolText(t, e.legacyCall("acme", "", sid, "client", ""))
		if want := fmt.Sprintf("client-%d url-elicitation=true", i); text != want {
			t.Fatalf("session %d after leaving memory: %q, want %q", i, text, want)
		}
	}
	if !settle(t, func() bool { return e.srv.sessions.len() <= active && e.registered() <= active }) {
		t.Fatalf("after reloading: %d Plexus entries, %d mcp-go sessions", e.srv.sessions.len(), e.registered())
	}
	// A restart keeps the client info too.
	cancel()
	e.start()
	if text, _ := toolText(t, e.legacyCall("acme", "", sids[5], "client", "")); text != "client-5 url-elicitation=true" {
		t.Fatalf("after restart: %q", text)
	}
}

// TestGuestSessionsBounded: a tenant's guests hold at most Guests sessions
// in the vault; a new one evicts the guest session idle the longest (404
// from then on). Users' sessions and other tenants' guests are untouched.
func TestGuestSessionsBounded(t *testing.T) {
	e := newEnv(t, WithSessionBounds(SessionBounds{Guests: 3, PerUser: 2}))
	_, alice := e.user("acme", "alice")
	aliceSID := e.initialize("acme", alice)
	betaSID := e.initialize("beta", "")
	var g []string
	for range 3 {
		e.clock.Advance(time.Second)
		g = append(g, e.initialize("acme", ""))
	}
	// g[0] is used again (and the sweep writes that down): g[1] is now
	// the one idle the longest.
	e.clock.Advance(time.Second)
	whoami(t, e.legacyCall("acme", "", g[0], tools.WhoamiName, ""))
	e.srv.sweep(t.Context())
	e.clock.Advance(time.Second)
	g = append(g, e.initialize("acme", ""))
	wantRPCError(t, e.legacyCall("acme", "", g[1], tools.WhoamiName, ""), http.StatusNotFound, "session not found")
	for _, sid := range []string{g[0], g[2], g[3]} {
		whoami(t, e.legacyCall("acme", "", sid, tools.WhoamiName, ""))
	}
	whoami(t, e.legacyCall("acme", alice, aliceSID, tools.WhoamiName, ""))
	whoami(t, e.legacyCall("beta", "", betaSID, tools.WhoamiName, ""))

	// A session in use (an open GET stream) is not idle: never evicted.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url("acme"), nil)
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Mcp-Protocol-Version", legacy)
	hr.Header.Set("Mcp-Session-Id", g[2])
	resp, err := http.DefaultClient.Do(hr)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	for range 4 {
		e.clock.Advance(time.Second)
		e.initialize("acme", "")
	}
	whoami(t, e.legacyCall("acme", "", g[2], tools.WhoamiName, ""))
	wantRPCError(t, e.legacyCall("acme", "", g[3], tools.WhoamiName, ""), http.StatusNotFound, "session not found")

	// A user's bound is separate and works the same.
	e.clock.Advance(time.Second)
	e.initialize("acme", alice)
	e.clock.Advance(time.Second)
	e.initialize("acme", alice)
	wantRPCError(t, e.legacyCall("acme", alice, aliceSID, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
}

// TestWhoamiHidesSessionID: tool results land in chat transcripts, so
// plexus_whoami shows a fingerprint of the session, never its id.
func TestWhoamiHidesSessionID(t *testing.T) {
	e := newEnv(t)
	sid := e.initialize("acme", "")
	rep := e.legacyCall("acme", "", sid, tools.WhoamiName, "")
	text, _ := toolText(t, rep)
	if strings.Contains(text, sid) || strings.Contains(text, strings.TrimPrefix(sid, "mcp-session-")) {
		t.Fatalf("plexus_whoami shows the session id: %s", text)
	}
	w := whoami(t, rep)
	if w.SessionFingerprint == "" || w.SessionFingerprint != vault.SessionHash(sid)[:8] {
		t.Fatalf("fingerprint = %q, want the first 8 hex digits of the stored hash", w.SessionFingerprint)
	}
}

// TestSweepLogsOneLine: expiring many sessions logs one line per sweep,
// and no line carries a session id (mcp-go's own idle sweeper, which
// Plexus used to enable, logged each swept session with its id).
func TestSweepLogsOneLine(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, WithClock(time.Now), WithSessionIdleTTL(time.Second), WithLogger(log))
	var sids []string
	for range 5 {
		sids = append(sids, e.initialize("acme", ""))
	}
	time.Sleep(2200 * time.Millisecond) // past the TTL and one mcp-go sweep interval
	e.srv.sweep(t.Context())
	e.srv.sweep(t.Context()) // nothing left: no line
	out := buf.String()
	sweepLines := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "sweep") || strings.Contains(line, "Swept") {
			sweepLines++
		}
	}
	if sweepLines != 1 {
		t.Errorf("sweep log lines = %d, want 1:\n%s", sweepLines, out)
	}
	if !strings.Contains(out, "expired=5") {
		t.Errorf("the sweep line does not count the 5 expired sessions:\n%s", out)
	}
	for _, sid := range sids {
		if strings.Contains(out, strings.TrimPrefix(sid, "mcp-session-")) {
			t.Fatalf("a log line shows a session id:\n%s", out)
		}
	}
	for _, sid := range sids {
		if _, err := e.v.GetSession(t.Context(), "acme", sid); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("expired session after the sweep: %v", err)
		}
	}
}
