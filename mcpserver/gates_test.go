package mcpserver

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/gate"
	"github.com/plexus-mcp/plexus/vault"
)

// gateEnv is an env with scopedRegistry (ops_tool is in tool set "ops")
// and a gate on "ops" in acme, its secret known to the test.
type gateEnv struct {
	*env
	secret []byte
}

func newGateEnv(t *testing.T, unlockFor time.Duration) *gateEnv {
	t.Helper()
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	_, secret, err := e.v.CreateGate(t.Context(), vault.Gate{TenantID: "acme", ToolSet: "ops", UnlockFor: unlockFor})
	if err != nil {
		t.Fatal(err)
	}
	return &gateEnv{env: e, secret: secret}
}

// code is the gate's code at the test clock's time (+ d).
func (g *gateEnv) code(d time.Duration) string {
	g.t.Helper()
	c, err := gate.Code(g.secret, g.clock.Now().Add(d))
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

// wrongCode is a code valid at no step near now.
func (g *gateEnv) wrongCode() string {
	valid := []string{g.code(-gate.Period), g.code(0), g.code(gate.Period)}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(valid, c) {
			return c
		}
	}
	g.t.Fatal("no wrong code")
	return ""
}

func (g *gateEnv) call(sid, tool, args string) (string, bool) {
	g.t.Helper()
	return toolText(g.t, g.legacyCall("acme", localToken, sid, tool, args))
}

func (g *gateEnv) unlock(sid, code string) (string, bool) {
	g.t.Helper()
	return g.call(sid, GateUnlockName, `{"tool_set":"ops","code":"`+code+`"}`)
}

func wantLocked(t *testing.T, text string, isErr bool) {
	t.Helper()
	if !isErr || !strings.HasPrefix(text, "Locked:") {
		t.Fatalf("want a locked answer, got %q (isError %v)", text, isErr)
	}
}

func wantRan(t *testing.T, text string, isErr bool, tool string) {
	t.Helper()
	if isErr || text != tool+" ran" {
		t.Fatalf("%s: got %q (isError %v), want it to run", tool, text, isErr)
	}
}

// TestGateUnlockLockExpiry: a gated tool is locked; a valid code (computed
// from the secret) unlocks it for that session only; lock locks it again;
// the same code is refused the second time (replay); the unlock ends
// after UnlockFor.
func TestGateUnlockLockExpiry(t *testing.T) {
	g := newGateEnv(t, 2*time.Minute)
	sid := g.initialize("acme", localToken)
	other := g.initialize("acme", localToken)

	text, isErr := g.call(sid, "ops_tool", "")
	wantLocked(t, text, isErr)
	text, isErr = g.call(sid, "plain_tool", "")
	wantRan(t, text, isErr, "plain_tool") // not gated

	// Bad input and a wrong code.
	if text, isErr := g.unlock(sid, "12ab56"); !isErr || !strings.Contains(text, "6 digits") {
		t.Fatalf("malformed code: %q", text)
	}
	long := strings.Repeat("7", 40)
	if text, isErr := g.unlock(sid, long); !isErr || strings.Contains(text, long) {
		t.Fatalf("overlong code: %q", text)
	}
	if text, isErr := g.unlock(sid, g.wrongCode()); !isErr || !strings.Contains(text, "4 more wrong codes") {
		t.Fatalf("wrong code: %q", text)
	}

	code := g.code(0)
	if text, isErr := g.unlock(sid, code); isErr || !strings.Contains(text, "Unlocked") {
		t.Fatalf("unlock: %q", text)
	}
	text, isErr = g.call(sid, "ops_tool", "")
	wantRan(t, text, isErr, "ops_tool")
	// Only that session.
	text, isErr = g.call(other, "ops_tool", "")
	wantLocked(t, text, isErr)

	var st struct {
		Gates []GateStatus `json:"gates"`
	}
	text, _ = g.call(sid, GateStatusName, "")
	if err := json.Unmarshal([]byte(text), &st); err != nil || len(st.Gates) != 1 || st.Gates[0].Locked || st.Gates[0].TriesLeft != vault.MaxGateFailures {
		t.Fatalf("status = %s (%v)", text, err)
	}

	if text, isErr := g.call(sid, GateLockName, ""); isErr {
		t.Fatalf("lock: %q", text)
	}
	text, isErr = g.call(sid, "ops_tool", "")
	wantLocked(t, text, isErr)

	// The same code again: replay, refused even in the same 30 seconds.
	if text, isErr := g.unlock(sid, code); !isErr || !strings.Contains(text, "Wrong or already used") {
		t.Fatalf("replayed code: %q", text)
	}

	// The next step's code works; the unlock ends after 2 minutes.
	g.clock.Advance(gate.Period)
	if text, isErr := g.unlock(sid, g.code(0)); isErr {
		t.Fatalf("unlock with the next code: %q", text)
	}
	g.clock.Advance(time.Minute)
	text, isErr = g.call(sid, "ops_tool", "")
	wantRan(t, text, isErr, "ops_tool")
	g.clock.Advance(time.Minute)
	text, isErr = g.call(sid, "ops_tool", "")
	wantLocked(t, text, isErr)
	g.srv.pruneUnlocks(g.clock.Now())
	g.srv.gates.mu.Lock()
	n := len(g.srv.gates.unlocks)
	g.srv.gates.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d ended unlocks kept after the sweep", n)
	}
}

// TestGateCoolingOffSurvivesRestart: five wrong codes lock the gate for
// its cooling-off, also for a new Server over the same vault (a restart)
// and a new session; a stateless request can never unlock.
func TestGateCoolingOffSurvivesRestart(t *testing.T) {
	g := newGateEnv(t, 0)
	sid := g.initialize("acme", localToken)
	wrong := g.wrongCode()
	for i := 1; i < vault.MaxGateFailures; i++ {
		if text, isErr := g.unlock(sid, wrong); !isErr || !strings.Contains(text, "Wrong") {
			t.Fatalf("wrong code %d: %q", i, text)
		}
	}
	if text, _ := g.unlock(sid, wrong); !strings.Contains(text, "takes no code until") {
		t.Fatalf("fifth wrong code: %q", text)
	}
	if text, isErr := g.unlock(sid, g.code(0)); !isErr || !strings.Contains(text, "Too many wrong codes") {
		t.Fatalf("right code while cooling off: %q", text)
	}

	g.start() // a restart: new Server, same vault
	sid = g.initialize("acme", localToken)
	if text, isErr := g.unlock(sid, g.code(0)); !isErr || !strings.Contains(text, "Too many wrong codes") {
		t.Fatalf("right code after a restart, while cooling off: %q", text)
	}
	text, isErr := g.call(sid, "ops_tool", "")
	wantLocked(t, text, isErr)

	// Stateless requests: locked, and no unlock.
	text, isErr = toolText(t, g.modernCall("acme", localToken, "ops_tool", ""))
	if !isErr || !strings.Contains(text, "stateless") {
		t.Fatalf("stateless gated call: %q", text)
	}
	text, isErr = toolText(t, g.modernCall("acme", localToken, GateUnlockName, `{"code":"123456"}`))
	if !isErr || !strings.Contains(text, "session") {
		t.Fatalf("stateless unlock: %q", text)
	}
}

// TestGateToolsFollowGates: the gate tools are listed only while the
// tenant has a gate; adding and removing one sends tools/list_changed and
// takes effect on the next call; removing ends the lock at once.
func TestGateToolsFollowGates(t *testing.T) {
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	sid := e.initialize("acme", localToken)
	list := func() []string {
		return toolNames(t, e.do(req{tenant: "acme", token: localToken, session: sid, version: legacy,
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`}))
	}
	if got := list(); slices.Contains(got, GateUnlockName) {
		t.Fatalf("gate tools listed without a gate: %v", got)
	}
	notFound(t, e.legacyCall("acme", localToken, sid, GateStatusName, ""), GateStatusName)
	stream := e.openStream("acme", localToken, sid)
	time.Sleep(200 * time.Millisecond) // let the stream register
	changed := string(mcp.MethodNotificationToolsListChanged)

	if _, _, err := e.v.CreateGate(t.Context(), vault.Gate{TenantID: "acme", ToolSet: "ops"}); err != nil {
		t.Fatal(err)
	}
	if !stream.waitFor(changed, 5*time.Second) {
		t.Fatal("no tools/list_changed after adding a gate")
	}
	if got := list(); !slices.Contains(got, GateUnlockName) || !slices.Contains(got, GateLockName) || !slices.Contains(got, GateStatusName) {
		t.Fatalf("gate tools not listed with a gate: %v", got)
	}
	text, isErr := toolText(t, e.legacyCall("acme", localToken, sid, "ops_tool", ""))
	wantLocked(t, text, isErr)

	if err := e.v.DeleteGate(t.Context(), "acme", "ops"); err != nil {
		t.Fatal(err)
	}
	if !stream.waitFor(changed, 5*time.Second) {
		t.Fatal("no tools/list_changed after removing the gate")
	}
	if got := list(); slices.Contains(got, GateUnlockName) {
		t.Fatalf("gate tools still listed: %v", got)
	}
	text, isErr = toolText(t, e.legacyCall("acme", localToken, sid, "ops_tool", ""))
	wantRan(t, text, isErr, "ops_tool")
}

// TestGateReenrollEndsUnlocks: a new secret ends every unlock of the gate
// and the old secret's codes stop working.
func TestGateReenrollEndsUnlocks(t *testing.T) {
	g := newGateEnv(t, 0)
	sid := g.initialize("acme", localToken)
	if text, isErr := g.unlock(sid, g.code(0)); isErr {
		t.Fatalf("unlock: %q", text)
	}
	if _, secret, err := g.v.EnrollGate(t.Context(), "acme", "ops"); err != nil {
		t.Fatal(err)
	} else {
		old := g.secret
		g.secret = secret
		defer func() { g.secret = old }()
	}
	text, isErr := g.call(sid, "ops_tool", "")
	wantLocked(t, text, isErr)
	g.clock.Advance(gate.Period)
	if text, isErr := g.unlock(sid, g.code(0)); isErr {
		t.Fatalf("unlock with the new secret: %q", text)
	}
}
