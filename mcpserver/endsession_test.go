package mcpserver

import (
	"net/http"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// TestEndSessionIsImmediate: a session an administrator ends (by its hash,
// vault.EndSession) fails on its very next request, though it was in
// memory; the user's other session and their token keep working.
func TestEndSessionIsImmediate(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("acme", "alice")
	sid := e.initialize("acme", tok)
	other := e.initialize("acme", tok)
	whoami(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""))

	if err := e.v.EndSession(t.Context(), "acme", vault.SessionHash(sid)); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
	if st, _ := e.openGET("acme", tok, sid); st != http.StatusNotFound {
		t.Fatalf("GET stream of an ended session: %d", st)
	}
	whoami(t, e.legacyCall("acme", tok, other, tools.WhoamiName, ""))
	whoami(t, e.modernCall("acme", tok, tools.WhoamiName, ""))
}
