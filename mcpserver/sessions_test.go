package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

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
	if got.Session != sid || got.User != uid || got.Protocol != legacy {
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
