package daemon

// This file is the locked daemon: it started without the vault's master
// key because its passphrase could not be had (see Run). It holds the
// vault file (so it is still the one daemon of its data directory),
// writes its runtime file and proves its identity on /healthz like any
// daemon, so clients find it at once instead of waiting for one that
// never comes. It serves:
//
//   - the admin UI's sign-in and its unlock page (or, for a new vault,
//     choose-a-passphrase page), from a session kept in memory;
//   - of the admin API, only the sign-in link (POST /api/v1/ui/login-ticket,
//     which the window uses) and POST /api/v1/shutdown (plexus stop);
//   - to everything else, an answer that says Plexus is locked and what to
//     do: a JSON-RPC error to MCP requests (the stdio bridge hands it to
//     Claude Desktop), a JSON error to the rest.
//
// When the passphrase is typed, the vault opens, the full daemon's handler
// takes over (same address, same token, same runtime file) and the answer
// to the form signs the window in to it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/vault"
)

// Messages of a locked daemon: what an app shows its user.
const (
	LockedMessage   = "Plexus is locked: open Plexus and enter your passphrase"
	NotSetUpMessage = "Plexus is locked: open Plexus and choose a passphrase"
)

// lockedRPCCode is the JSON-RPC error code of a locked daemon's answers
// (implementation-defined server error range).
const lockedRPCCode = -32001

// maxLockedBody bounds what a locked daemon reads of a request it refuses.
const maxLockedBody = 1 << 20

// vaultHolder is the daemon's vault: open, or locked until it is unlocked.
type vaultHolder struct {
	mu     sync.Mutex
	v      *vault.Vault
	locked *vault.Locked
}

func (h *vaultHolder) vault() *vault.Vault {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.v
}

func (h *vaultHolder) set(v *vault.Vault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.v = v
}

// close closes whichever is held: the vault, or the locked file.
func (h *vaultHolder) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.v != nil {
		errs = append(errs, h.v.Close())
	}
	if h.locked != nil {
		errs = append(errs, h.locked.Close())
	}
	return errors.Join(errs...)
}

// handlerGate is the daemon's handler, replaced once when a locked
// daemon unlocks.
type handlerGate struct{ h atomic.Pointer[http.Handler] }

func (g *handlerGate) set(h http.Handler) { g.h.Store(&h) }

func (g *handlerGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*g.h.Load()).ServeHTTP(w, r)
}

// lockedApp builds the locked daemon's handler; unlocking replaces it in
// gate with the full one.
func (s *daemonApp) lockedApp(ctx context.Context, vh *vaultHolder, gate *handlerGate) (http.Handler, error) {
	l := vh.locked
	msg := LockedMessage
	if l.NewVault() {
		msg = NotSetUpMessage
	}
	u := &unlocker{s: s, vh: vh, gate: gate}
	// Stopped before anyone unlocked it: the unlock page's attempts still
	// go to the audit log (it needs no vault for them). After an unlock
	// the full daemon has written them already.
	s.atStop(func() {
		if !s.early.pending() {
			return
		}
		rec, err := openAudit(s.cfg, nil, s.log)
		if err != nil {
			s.log.Warn("The unlock attempts could not be written to the audit log", "error", err)
			return
		}
		s.early.flush(rec)
		if err := rec.Close(); err != nil {
			s.log.Warn("Could not close the audit log", "error", err)
		}
	})
	uiHandler, err := ui.NewLocked(ctx, ui.LockedOptions{
		Login:         l,
		Unlocker:      u,
		VaultFile:     l.Path(),
		KeyFile:       filepath.Join(filepath.Dir(l.Path()), vault.KeyFileName),
		SecureCookies: strings.HasPrefix(s.publicURL, "https://"),
		Logger:        s.log,
	})
	if err != nil {
		return nil, err
	}
	// Admin commands run in a terminal: say what works there too.
	api := &lockedAPI{tokens: adminTokens(s.rt.Token, s.cfg.AdminAPIKey), login: l, shutdown: s.shutdown,
		msg: msg + " (without a window: plexus open --print-url gives a sign-in link to that page; or plexus stop, then plexus serve in a terminal asks for it)"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+localclient.IdentityPath, healthz(s.rt))
	mux.Handle("/api/v1/", api)
	mux.Handle("/api/v1", api)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "locked", "error": msg})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { answerLocked(w, r, msg) })
	return withUI(uiHandler, mux), nil
}

// unlocker is ui.Unlocker for the locked daemon.
type unlocker struct {
	s    *daemonApp
	vh   *vaultHolder
	gate *handlerGate
	mu   sync.Mutex // one switch to the full daemon
}

func (u *unlocker) NewVault() bool { return u.vh.locked.NewVault() }

// Unlock opens the vault with passphrase; each attempt, right or wrong,
// goes to the audit log once it opens.
func (u *unlocker) Unlock(ctx context.Context, passphrase string) (string, error) {
	start := time.Now()
	link, err := u.open(ctx, func(ctx context.Context) (*vault.Vault, error) {
		v, err := u.vh.locked.Unlock(ctx, passphrase)
		c := audit.Call{Kind: audit.KindLogin, Time: start, Duration: time.Since(start), Action: "unlock_passphrase", Actor: "unlock_page",
			Outcome: audit.OutcomeOK}
		switch {
		case errors.Is(err, vault.ErrWrongKey):
			c.Outcome, c.Reason = audit.OutcomeDenied, "wrong_passphrase"
		case err != nil:
			c.Outcome, c.Reason = audit.OutcomeFailed, "not_opened"
		}
		if !errors.Is(err, vault.ErrUnlocked) {
			u.s.early.add(c) // before the switch, which flushes it
		}
		return v, err
	})
	return link, err
}

func (u *unlocker) Create(ctx context.Context, passphrase string) (string, error) {
	return u.open(ctx, func(ctx context.Context) (*vault.Vault, error) { return u.vh.locked.Create(ctx, passphrase) })
}

func (u *unlocker) UseKeyFile(ctx context.Context) (string, error) {
	return u.open(ctx, u.vh.locked.UseKeyFile)
}

// open opens the vault with open, switches the daemon to its full
// handler, and returns a sign-in link to the full UI. A second form sent
// meanwhile (another window) gets a sign-in link too.
func (u *unlocker) open(ctx context.Context, open func(context.Context) (*vault.Vault, error)) (string, error) {
	// One attempt at a time, through to the switch, so a second form
	// finds the daemon switched (the vault serializes attempts anyway).
	u.mu.Lock()
	defer u.mu.Unlock()
	v, err := open(ctx)
	if errors.Is(err, vault.ErrUnlocked) {
		if v = u.vh.vault(); v == nil {
			return "", err
		}
		return loginPath(ctx, v)
	}
	if err != nil {
		return "", err
	}
	h, err := u.s.app(context.WithoutCancel(ctx), v)
	if err != nil {
		// The vault is open but the daemon cannot serve it: stop, so the
		// next start tries again (the window says what went wrong).
		u.s.log.Error("Vault unlocked, but the daemon could not start serving it; stopping", "error", err)
		u.vh.set(v)
		u.s.shutdown()
		return "", err
	}
	u.vh.set(v)
	u.gate.set(h)
	u.s.log.Info("Vault open", "keySource", string(v.KeySource()), "unlockedBy", "admin UI")
	return loginPath(ctx, v)
}

// loginPath mints a sign-in link to the full UI.
func loginPath(ctx context.Context, v *vault.Vault) (string, error) {
	t, _, err := v.NewUILoginTicket(ctx, 0)
	if err != nil {
		return "", fmt.Errorf("sign-in link after unlocking: %w", err)
	}
	return adminops.LoginTicketPath(t), nil
}

// adminTokens are the digests of the accepted admin bearer tokens.
func adminTokens(tokens ...string) []vault.SecretDigest {
	var out []vault.SecretDigest
	for _, t := range tokens {
		if t != "" {
			out = append(out, vault.DigestSecret(t))
		}
	}
	return out
}

// lockedAPI is the admin API of a locked daemon: the sign-in link and
// shutdown; everything else answers 503 with what to do.
type lockedAPI struct {
	tokens []vault.SecretDigest
	login  interface {
		NewUILoginTicket(context.Context, time.Duration) (string, time.Time, error)
	}
	shutdown func()
	msg      string
}

func (a *lockedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if !edge.Require(w, r) {
		return
	}
	if !a.authorized(r) {
		h.Set("WWW-Authenticate", `Bearer realm="plexus-admin"`)
		writeJSON(w, http.StatusUnauthorized, apiv1.Error{Message: "missing or invalid admin token (Authorization: Bearer <ADMIN_API_KEY or the local token>)"})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/ui/login-ticket":
		t, exp, err := a.login.NewUILoginTicket(r.Context(), 0)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiv1.Error{Message: "could not mint a sign-in link"})
			return
		}
		writeJSON(w, http.StatusCreated, apiv1.LoginTicket{LoginPath: adminops.LoginTicketPath(t), ExpiresAt: exp})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/shutdown":
		writeJSON(w, http.StatusAccepted, apiv1.ShutdownResponse{Status: "stopping"})
		a.shutdown()
	default:
		writeJSON(w, http.StatusServiceUnavailable, apiv1.Error{Message: a.msg})
	}
}

func (a *lockedAPI) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return false
	}
	got := vault.DigestSecret(strings.TrimSpace(tok))
	match := false
	for _, want := range a.tokens {
		if want.Equal(got) {
			match = true
		}
	}
	return match
}

// answerLocked answers a request a locked daemon cannot serve: MCP
// requests (a JSON-RPC message, or a batch) get a JSON-RPC error per
// request saying what to do, with their ids; anything else a JSON error.
// The status is 503: the daemon is there, but not ready.
func answerLocked(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"jsonrpc": "2.0", "id": nil, "error": rpcError(msg)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLockedBody))
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"jsonrpc": "2.0", "id": nil, "error": rpcError(msg)})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, lockedReplies(body, msg))
}

// lockedReplies is the JSON-RPC answer of a locked daemon to body: one
// error for a request (with its id), an array of errors for a batch, and
// an error with a null id for anything else (a notification, or not
// JSON-RPC at all).
func lockedReplies(body []byte, msg string) any {
	reply := func(id json.RawMessage) map[string]any {
		if len(id) == 0 {
			id = json.RawMessage("null")
		}
		return map[string]any{"jsonrpc": "2.0", "id": id, "error": rpcError(msg)}
	}
	type message struct {
		ID json.RawMessage `json:"id"`
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var batch []message
		if json.Unmarshal(body, &batch) == nil && len(batch) > 0 && len(batch) <= 100 {
			out := make([]map[string]any, 0, len(batch))
			for _, m := range batch {
				if len(m.ID) > 0 && string(m.ID) != "null" {
					out = append(out, reply(m.ID))
				}
			}
			if len(out) > 0 {
				return out
			}
		}
		return reply(nil)
	}
	var m message
	if json.Unmarshal(body, &m) == nil && validID(m.ID) {
		return reply(m.ID)
	}
	return reply(nil)
}

// validID reports whether a JSON-RPC id is a string or a number.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(id, &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

func rpcError(msg string) map[string]any {
	return map[string]any{"code": lockedRPCCode, "message": msg}
}
