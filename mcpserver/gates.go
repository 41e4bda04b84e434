package mcpserver

// TOTP gates (issue 11). A tenant may put a gate on a tool set (vault
// gates): every tool of the set then answers "locked" until the caller's
// MCP session unlocks the gate with plexus_gate_unlock and a valid code
// from the authenticator app enrolled for it. The unlock lasts the gate's
// UnlockFor for that session only and lives in this Server's memory (a
// restart locks every gate again); the wrong-code counter and the
// cooling-off live in the vault (CheckGateCode), so a restart resets
// neither. plexus_gate_lock ends a session's unlock early and
// plexus_gate_status says where each gate stands. The three tools are
// listed only while the tenant has a gate.
//
// The check is a tool middleware (gateCheck), inside the recovery and
// before the arguments check, so it holds for every way a tool is called:
// directly, or through plexus_call_tool (search.go), which dispatches
// through the tenant's MCP server. Stateless (2026-07-28) requests have no
// session to hold an unlock: their gated tools stay locked.
//
// Adding, changing or deleting a gate (vault.GateChanged) reaches the
// tenant at once: the cached gates are dropped, every session's unlock of
// that gate ends, and connected clients get tools/list_changed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/gate"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// Names of Plexus's gate tools.
const (
	GateUnlockName = "plexus_gate_unlock"
	GateLockName   = "plexus_gate_lock"
	GateStatusName = "plexus_gate_status"
)

// maxUnlocks bounds the unlocks kept in memory (all tenants, sessions and
// gates); past it an unlock is refused until some expire.
const maxUnlocks = 100_000

// GateStore is the part of the vault gates need. *vault.Vault satisfies
// it; a Store without it has no gates.
type GateStore interface {
	ListGates(ctx context.Context, tenantID string) ([]vault.Gate, error)
	CheckGateCode(ctx context.Context, tenantID, toolSet string, verify vault.GateVerifier) (vault.GateAttempt, error)
}

var _ GateStore = (*vault.Vault)(nil)

// gateState is the Server's view of every tenant's gates: their settings
// as last read from the store, and which sessions unlocked which gate
// until when.
type gateState struct {
	mu      sync.Mutex
	cached  map[string][]vault.Gate // tenant -> gates (no secrets)
	unlocks map[unlockKey]time.Time // -> unlocked until
}

// unlockKey names one session's unlock of one gate. The session is named
// by its hash (vault.SessionHash), never by its id.
type unlockKey struct{ tenant, session, toolSet string }

func (g *gateState) init() {
	g.cached = make(map[string][]vault.Gate)
	g.unlocks = make(map[unlockKey]time.Time)
}

// gateStore returns the store's gates, or nil when it has none.
func (s *Server) gateStore() GateStore {
	gs, _ := s.store.(GateStore)
	return gs
}

// tenantGates returns tenantID's gates, reading the store on a cache
// miss (none when the store has no gates).
func (s *Server) tenantGates(ctx context.Context, tenantID string) ([]vault.Gate, error) {
	s.gates.mu.Lock()
	gs, ok := s.gates.cached[tenantID]
	s.gates.mu.Unlock()
	if ok {
		return gs, nil
	}
	st := s.gateStore()
	if st == nil {
		return nil, nil
	}
	gen := s.gen.Load()
	gs, err := st.ListGates(ctx, tenantID)
	if errors.Is(err, vault.ErrNotFound) {
		gs, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gates of tenant %q: %w", tenantID, err)
	}
	s.gates.mu.Lock()
	if s.gen.Load() == gen {
		s.gates.cached[tenantID] = gs
	}
	s.gates.mu.Unlock()
	return gs, nil
}

// gateChanged handles vault.GateChanged: the tenant's cached gates go,
// every session's unlock of the changed gate ends, and the tenant's
// clients are told their tool list changed (the gate tools come and go
// with the first and last gate).
func (s *Server) gateChanged(tenantID, toolSet string) {
	s.gates.mu.Lock()
	delete(s.gates.cached, tenantID)
	maps.DeleteFunc(s.gates.unlocks, func(k unlockKey, _ time.Time) bool {
		return k.tenant == tenantID && k.toolSet == toolSet
	})
	s.gates.mu.Unlock()
	s.mu.RLock()
	ts := s.tenants[tenantID]
	s.mu.RUnlock()
	if ts != nil {
		ts.mcp.SendNotificationToAllClients(string(mcp.MethodNotificationToolsListChanged), nil)
	}
}

// forgetGates drops what the Server holds about a deleted tenant's gates,
// or (session != "") about one ended session's unlocks.
func (s *Server) forgetGates(tenantID, session string) {
	s.gates.mu.Lock()
	defer s.gates.mu.Unlock()
	if session == "" {
		delete(s.gates.cached, tenantID)
	}
	maps.DeleteFunc(s.gates.unlocks, func(k unlockKey, _ time.Time) bool {
		return k.tenant == tenantID && (session == "" || k.session == session)
	})
}

// unlockedUntil returns when the session's unlock of the gate ends (zero:
// locked).
func (s *Server) unlockedUntil(tenantID, session, toolSet string) time.Time {
	if session == "" {
		return time.Time{}
	}
	s.gates.mu.Lock()
	until, ok := s.gates.unlocks[unlockKey{tenantID, session, toolSet}]
	s.gates.mu.Unlock()
	if !ok || !s.now().Before(until) {
		return time.Time{}
	}
	return until
}

// setUnlock records (until non-zero) or ends a session's unlock.
func (s *Server) setUnlock(k unlockKey, until time.Time) error {
	s.gates.mu.Lock()
	defer s.gates.mu.Unlock()
	if until.IsZero() {
		delete(s.gates.unlocks, k)
		return nil
	}
	if _, ok := s.gates.unlocks[k]; !ok && len(s.gates.unlocks) >= maxUnlocks {
		now := s.now()
		maps.DeleteFunc(s.gates.unlocks, func(_ unlockKey, u time.Time) bool { return !now.Before(u) })
		if len(s.gates.unlocks) >= maxUnlocks {
			return errors.New("too many gates are unlocked on this Plexus server right now; try again later")
		}
	}
	s.gates.unlocks[k] = until
	return nil
}

// pruneUnlocks forgets the unlocks that ended before now (Run's sweep).
func (s *Server) pruneUnlocks(now time.Time) {
	s.gates.mu.Lock()
	maps.DeleteFunc(s.gates.unlocks, func(_ unlockKey, u time.Time) bool { return !now.Before(u) })
	s.gates.mu.Unlock()
}

// toolOf returns tenantID's tool called name as far as its tool sets go,
// and whether the tenant has such a tool.
func (s *Server) toolOf(tenantID, name string) (tools.Tool, bool) {
	if t, ok := s.registry.Lookup(name); ok {
		return t, true
	}
	if st, ok := s.sourceTool(tenantID, name); ok {
		return tools.Tool{ToolSets: st.ToolSets}, true
	}
	return tools.Tool{}, false
}

// lockedGate returns the first of gates (sorted) that holds the tool
// called name and that session has not unlocked ("" when none does).
func (s *Server) lockedGate(tenantID, session, name string, gates []vault.Gate) string {
	t, ok := s.toolOf(tenantID, name)
	if !ok {
		return ""
	}
	for _, g := range gates {
		if t.InToolSet(g.ToolSet) && s.unlockedUntil(tenantID, session, g.ToolSet).IsZero() {
			return g.ToolSet
		}
	}
	return ""
}

// sessionKey is how a request's session is named in the unlocks: the hash
// of its legacy session id ("" for a stateless request).
func sessionKey(ctx context.Context) string {
	c, ok := tools.CallerFrom(ctx)
	if !ok || c.SessionID == "" {
		return ""
	}
	return vault.SessionHash(c.SessionID)
}

// GateLocked is the structured content of a gated tool's answer while its
// gate is locked.
type GateLocked struct {
	Status  string `json:"status"` // "locked"
	ToolSet string `json:"tool_set"`
	Tool    string `json:"tool"`
	Message string `json:"message"`
}

// gateCheck is the tool middleware that answers "locked" for a tool whose
// tool set has a gate the caller's session has not unlocked. A tenant
// without gates pays one map lookup.
func (s *Server) gateCheck(tenantID string) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			gates, err := s.tenantGates(ctx, tenantID)
			if err != nil {
				// Fail closed: a gated tool must not open on a store error.
				s.log.ErrorContext(ctx, "Reading gates", "tenant", tenantID, "err", err)
				return mcp.NewToolResultError("Plexus could not check this tool's gate; try again."), nil
			}
			if len(gates) == 0 {
				return next(ctx, req)
			}
			set := s.lockedGate(tenantID, sessionKey(ctx), req.Params.Name, gates)
			if set == "" {
				return next(ctx, req)
			}
			msg := fmt.Sprintf("Locked: %s is in tool set %q, which needs a one-time code. Ask the user for the 6-digit code their authenticator app shows for Plexus %s/%s and call %s with {\"tool_set\": %q, \"code\": \"<code>\"}; then call %s again.",
				req.Params.Name, set, tenantID, set, GateUnlockName, set, req.Params.Name)
			if sessionKey(ctx) == "" {
				msg = fmt.Sprintf("Locked: %s is in tool set %q, which needs a one-time code, and an unlock lasts for an MCP session: this client makes stateless requests, so it cannot unlock it.", req.Params.Name, set)
			}
			res := mcp.NewToolResultError(msg)
			res.StructuredContent = GateLocked{Status: "locked", ToolSet: set, Tool: req.Params.Name, Message: msg}
			return res, nil
		}
	}
}

// isGateTool reports whether name is one of the gate tools.
func isGateTool(name string) bool {
	return name == GateUnlockName || name == GateLockName || name == GateStatusName
}

// gateTools are the gate tools of tenantID's server.
func (s *Server) gateTools(tenantID string) []server.ServerTool {
	toolSet := mcp.WithString("tool_set", mcp.MaxLength(256),
		mcp.Description("The gated tool set. May be left out when the tenant has one gate."))
	return []server.ServerTool{
		{
			Tool: mcp.NewTool(GateUnlockName,
				mcp.WithDescription("Unlocks a tool set that is behind a one-time code, for this session and a limited time. Ask the user for the 6-digit code from their authenticator app; never guess (5 wrong codes lock the gate for a while)."),
				mcp.WithString("code", mcp.Required(), mcp.MaxLength(32), mcp.Description("The 6-digit code the user's authenticator app shows now.")),
				toolSet,
				mcp.WithIdempotentHintAnnotation(false),
				mcp.WithDestructiveHintAnnotation(false),
				mcp.WithOpenWorldHintAnnotation(false),
			),
			Handler: s.gateUnlock(tenantID),
		},
		{
			Tool: mcp.NewTool(GateLockName,
				mcp.WithDescription("Locks a gated tool set again for this session (all of them when tool_set is left out)."),
				mcp.WithString("tool_set", mcp.MaxLength(256), mcp.Description("The gated tool set; leave out to lock every gate.")),
				mcp.WithIdempotentHintAnnotation(true),
				mcp.WithDestructiveHintAnnotation(false),
				mcp.WithOpenWorldHintAnnotation(false),
			),
			Handler: s.gateLock(tenantID),
		},
		{
			Tool: mcp.NewTool(GateStatusName,
				mcp.WithDescription("Shows which tool sets are behind a one-time code and whether this session has unlocked them."),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithOpenWorldHintAnnotation(false),
			),
			Handler: s.gateStatus(tenantID),
		},
	}
}

// pickGate finds the gate a request names (or the only one).
func pickGate(gates []vault.Gate, name string) (vault.Gate, error) {
	if name == "" {
		if len(gates) == 1 {
			return gates[0], nil
		}
		names := make([]string, len(gates))
		for i, g := range gates {
			names[i] = g.ToolSet
		}
		return vault.Gate{}, fmt.Errorf("tool_set: say which gate, one of %s", strings.Join(names, ", "))
	}
	for _, g := range gates {
		if tools.NormalizeToolSet(g.ToolSet) == tools.NormalizeToolSet(name) {
			return g, nil
		}
	}
	return vault.Gate{}, fmt.Errorf("tool_set: there is no gate on tool set %q", clipName(name))
}

// clipName shortens a name from a request for a message.
func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (s *Server) gateUnlock(tenantID string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		session := sessionKey(ctx)
		if session == "" {
			return mcp.NewToolResultError("An unlock lasts for an MCP session, and this request has none (a stateless 2026-07-28 request): connect with a session to unlock gated tools."), nil
		}
		code, err := gate.ParseCode(req.GetString("code", ""))
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		gates, err := s.tenantGates(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		g, err := pickGate(gates, req.GetString("tool_set", ""))
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		st := s.gateStore()
		if st == nil {
			return mcp.NewToolResultError("this Plexus server keeps no gates"), nil
		}
		now := s.now()
		a, err := st.CheckGateCode(ctx, tenantID, g.ToolSet, func(secret []byte, last int64) (int64, bool) {
			return gate.Verify(secret, code, now, last)
		})
		switch {
		case errors.Is(err, vault.ErrGateCoolingOff):
			return mcp.NewToolResultError(fmt.Sprintf("Too many wrong codes: the gate on %q takes no code until %s. Try again then.",
				g.ToolSet, a.Gate.CoolingUntil.UTC().Format(time.RFC3339))), nil
		case errors.Is(err, vault.ErrNotFound):
			return mcp.NewToolResultError(fmt.Sprintf("tool_set: there is no gate on tool set %q", g.ToolSet)), nil
		case err != nil:
			return nil, fmt.Errorf("check gate code: %w", err)
		}
		if !a.OK {
			if !a.Gate.CoolingUntil.IsZero() {
				return mcp.NewToolResultError(fmt.Sprintf("Wrong code. That was the %dth wrong code in a row: the gate on %q takes no code until %s.",
					vault.MaxGateFailures, g.ToolSet, a.Gate.CoolingUntil.UTC().Format(time.RFC3339))), nil
			}
			return mcp.NewToolResultError(fmt.Sprintf("Wrong or already used code for %q: %d more wrong codes lock the gate for %s. Ask the user for the code their app shows now.",
				g.ToolSet, vault.MaxGateFailures-a.Gate.Failures, a.Gate.CoolOff)), nil
		}
		until := now.Add(a.Gate.UnlockFor)
		if err := s.setUnlock(unlockKey{tenantID, session, g.ToolSet}, until); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		s.log.InfoContext(ctx, "Gate unlocked", "tenant", tenantID, "toolSet", g.ToolSet, "for", a.Gate.UnlockFor.String())
		return gateStatusResult(fmt.Sprintf("Unlocked tool set %q for this session until %s.", g.ToolSet, until.UTC().Format(time.RFC3339)),
			[]GateStatus{{ToolSet: g.ToolSet, Locked: false, UnlockedUntil: until.UTC()}})
	}
}

func (s *Server) gateLock(tenantID string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		session := sessionKey(ctx)
		gates, err := s.tenantGates(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		name := req.GetString("tool_set", "")
		if name != "" {
			g, err := pickGate(gates, name)
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			gates = []vault.Gate{g}
		}
		for _, g := range gates {
			_ = s.setUnlock(unlockKey{tenantID, session, g.ToolSet}, time.Time{})
		}
		return s.gateStatusOf(ctx, tenantID, "Locked.")
	}
}

// GateStatus is one gate as plexus_gate_status shows it.
type GateStatus struct {
	ToolSet       string    `json:"tool_set"`
	Locked        bool      `json:"locked"`
	UnlockedUntil time.Time `json:"unlocked_until,omitzero"`
	// UnlockFor is how long an unlock lasts.
	UnlockFor string `json:"unlock_for,omitempty"`
	// CoolingUntil is set while the gate takes no code.
	CoolingUntil time.Time `json:"cooling_until,omitzero"`
	// TriesLeft is how many wrong codes are left before a cooling-off.
	TriesLeft int `json:"tries_left,omitempty"`
}

func (s *Server) gateStatus(tenantID string) server.ToolHandlerFunc {
	return func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return s.gateStatusOf(ctx, tenantID, "")
	}
}

// gateStatusOf answers with every gate's status for the caller's session,
// read fresh from the store (its counter and cooling-off).
func (s *Server) gateStatusOf(ctx context.Context, tenantID, lead string) (*mcp.CallToolResult, error) {
	st := s.gateStore()
	var gates []vault.Gate
	if st != nil {
		var err error
		if gates, err = st.ListGates(ctx, tenantID); err != nil {
			return nil, fmt.Errorf("gates of tenant %q: %w", tenantID, err)
		}
	}
	session, now := sessionKey(ctx), s.now()
	out := make([]GateStatus, 0, len(gates))
	for _, g := range gates {
		gs := GateStatus{ToolSet: g.ToolSet, UnlockFor: g.UnlockFor.String(), TriesLeft: vault.MaxGateFailures - g.Failures}
		if until := s.unlockedUntil(tenantID, session, g.ToolSet); !until.IsZero() {
			gs.UnlockedUntil = until.UTC()
		} else {
			gs.Locked = true
		}
		if now.Before(g.CoolingUntil) {
			gs.CoolingUntil, gs.TriesLeft = g.CoolingUntil.UTC(), 0
		}
		out = append(out, gs)
	}
	slices.SortFunc(out, func(a, b GateStatus) int { return strings.Compare(a.ToolSet, b.ToolSet) })
	return gateStatusResult(lead, out)
}

func gateStatusResult(lead string, gates []GateStatus) (*mcp.CallToolResult, error) {
	body := struct {
		Message string       `json:"message,omitempty"`
		Gates   []GateStatus `json:"gates"`
	}{lead, gates}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return mcp.NewToolResultStructured(body, string(raw)), nil
}
