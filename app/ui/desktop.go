package ui

// This file holds Home's desktop actions: the "Connect Claude Desktop"
// button, which writes Claude Desktop's settings file in the person's
// home folder (package clientconfig), and the move of a master key kept in
// the generated key file into the keyring or behind a passphrase (the
// admin operations). Both only ever happen on a POST with the session's
// CSRF token.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/clientconfig"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// KeyOps moves the vault's master key out of the generated key file;
// *adminops.Service satisfies it.
type KeyOps interface {
	KeyPlace(ctx context.Context) (apiv1.KeyPlace, error)
	MoveKeyToKeyring(ctx context.Context) (apiv1.KeyMoved, error)
	ProtectWithPassphrase(ctx context.Context, req apiv1.ProtectRequest) (apiv1.KeyMoved, error)
}

// stdioEntry is the settings entry that starts the bridge for tenant: its
// name ("plexus", or "plexus-ID" when there are several tenants), the
// command and its arguments.
func (h *Handler) stdioEntry(tenantID string, nTenants int) (name, cmd string, args []string) {
	name = "plexus"
	if nTenants > 1 {
		name = "plexus-" + tenantID
	}
	cmd = h.opts.StdioCommand[0]
	args = append(append([]string{}, h.opts.StdioCommand[1:]...), "--tenant", tenantID)
	return name, cmd, args
}

// claudeConfigPath is Claude Desktop's settings file ("" when the user's
// config folder is unknown).
func (h *Handler) claudeConfigPath() string {
	dir, err := h.opts.UserConfigDir()
	if err != nil || dir == "" {
		return ""
	}
	return clientconfig.ClaudeDesktopConfig(dir)
}

// claudeView reads Claude Desktop's settings file for Home's card (nil
// when its place is unknown: the card then shows the snippet only).
func (h *Handler) claudeView(ctx context.Context, t apiv1.Tenant, nTenants int) *frontend.ClaudeView {
	path := h.claudeConfigPath()
	if path == "" {
		return nil
	}
	name, cmd, args := h.stdioEntry(t.ID, nTenants)
	st, err := clientconfig.Inspect(path, name, clientconfig.Server{Command: cmd, Args: args})
	if err != nil {
		h.log.InfoContext(ctx, "Claude Desktop's settings file cannot be read", "path", path, "error", err)
		return &frontend.ClaudeView{State: frontend.ClaudeUnreadable, Name: name, FileExists: true, Problem: claudeProblem(err)}
	}
	v := &frontend.ClaudeView{Name: st.Name, FileExists: st.FileExists}
	switch st.State {
	case clientconfig.Connected:
		v.State = frontend.ClaudeConnected
	case clientconfig.Differs:
		v.State = frontend.ClaudeDiffers
	default:
		v.State = frontend.ClaudeNotConnected
	}
	return v
}

// claudeProblem says in plain words why Plexus will not touch the file.
func claudeProblem(err error) string {
	var pe *clientconfig.ParseError
	switch {
	case errors.As(err, &pe):
		at := ""
		if pe.Line > 0 {
			at = fmt.Sprintf(" (line %d, column %d)", pe.Line, pe.Column)
		}
		return pe.Reason + at + "."
	case errors.Is(err, clientconfig.ErrTooLarge):
		return "it is larger than a settings file should be."
	case errors.Is(err, fs.ErrPermission):
		return "Plexus may not read it (permission denied)."
	}
	return "it could not be read."
}

// connectClaudeHandler is POST /ui/claude-desktop: write the entry for
// the tenant the form names (the one the page showed).
type connectClaudeHandler struct{ h *Handler }

func (p connectClaudeHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	ctx := r.Context()
	tenants, err := h.opts.Ops.ListTenants(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	var t apiv1.Tenant
	for _, x := range tenants {
		if x.ID == form.Get("tenant") {
			t = x
		}
	}
	path := h.claudeConfigPath()
	switch {
	case t.ID == "":
		s.setFlash(frontend.FlashError, "That tenant no longer exists. Nothing was changed.")
		h.saveAndRedirect(w, r, s, "/ui/#connect")
		return
	case path == "":
		s.setFlash(frontend.FlashError, "Plexus cannot tell where Claude Desktop keeps its settings on this computer. Add the entry by hand (below).")
		h.saveAndRedirect(w, r, s, "/ui/#connect")
		return
	}
	name, cmd, args := h.stdioEntry(t.ID, len(tenants))
	res, err := clientconfig.Connect(path, name, clientconfig.Server{Command: cmd, Args: args}, h.opts.Now())
	if err != nil {
		h.log.WarnContext(ctx, "Claude Desktop's settings file not changed", "path", path, "error", err)
		s.setFlash(frontend.FlashError, connectFailure(err))
		h.saveAndRedirect(w, r, s, "/ui/#connect")
		return
	}
	if !res.Changed {
		s.setFlash(frontend.FlashOK, "Claude Desktop already uses Plexus for "+t.Name+". Nothing was changed.")
		h.saveAndRedirect(w, r, s, "/ui/#connect")
		return
	}
	h.log.InfoContext(ctx, "Claude Desktop connected", "tenant", t.ID, "path", path, "entry", name, "backup", res.Backup, "created", res.Created)
	s.setFlash(frontend.FlashOK, "Connected. Restart Claude Desktop.")
	h.saveAndRedirect(w, r, s, "/ui/#connect")
}

// connectFailure is the flash for a settings file Plexus did not change.
func connectFailure(err error) string {
	var pe *clientconfig.ParseError
	switch {
	case errors.As(err, &pe):
		return "Plexus did not change Claude Desktop's settings file: " + claudeProblem(err) +
			" Fix it in Claude Desktop (Settings → Developer → Edit Config), or add the entry by hand."
	case errors.Is(err, clientconfig.ErrChanged):
		return "Claude Desktop's settings file changed while Plexus was writing it, so Plexus left it alone. Try again."
	case errors.Is(err, fs.ErrPermission):
		return "Plexus may not change Claude Desktop's settings file (permission denied). Nothing was changed; add the entry by hand."
	}
	return "Plexus could not change Claude Desktop's settings file. Nothing was changed; add the entry by hand, or try again."
}

// addKeyMove offers the key move on Home's "Your secrets" card when the
// key is in the generated key file; form is the passphrase form after an
// error.
func (h *Handler) addKeyMove(ctx context.Context, kv *frontend.KeyView, k vault.KeyInfo, form *frontend.KeyMoveView) {
	if h.opts.Keys == nil || k.Source != vault.KeySourceFile || !k.Generated {
		return
	}
	kp, err := h.opts.Keys.KeyPlace(ctx)
	if err != nil || !kp.CanMove {
		return
	}
	m := passphraseMoveForm()
	if form != nil {
		m = *form
	}
	m.KeyringAvailable = kp.KeyringAvailable
	kv.Move = &m
	kv.Fix = append(kv.Fix, "Better: move the key out of the file, below.")
}

func passphraseMoveForm() frontend.KeyMoveView {
	return frontend.KeyMoveView{
		Passphrase: frontend.Secret{Name: "passphrase", Label: "New passphrase", Autocomplete: "new-password",
			MinLength: vault.MinPassphraseLen,
			Help:      fmt.Sprintf("At least %d characters. A few unrelated words are easy to remember and hard to guess.", vault.MinPassphraseLen)},
		Confirm: frontend.Secret{Name: "confirm", Label: "Type it again", Autocomplete: "new-password", MinLength: vault.MinPassphraseLen},
	}
}

// keyringMoveHandler is POST /ui/key/keyring.
type keyringMoveHandler struct{ h *Handler }

func (p keyringMoveHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	if h.opts.Keys == nil {
		h.fail(w, r, errors.New("no key operations"))
		return
	}
	m, err := h.opts.Keys.MoveKeyToKeyring(r.Context())
	switch {
	case err == nil:
		s.setFlash(frontend.FlashOK, movedMessage("The key is now in your system keyring", m))
	case errors.Is(err, vault.ErrKeyringUnavailable):
		h.log.WarnContext(r.Context(), "Master key not moved to the keyring", "error", err)
		s.setFlash(frontend.FlashError, "Your system keyring did not take the key, so nothing changed: the key stays in its file. "+
			"Unlock the keyring (sign in to your desktop again) and try again, or protect the key with a passphrase.")
	case errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "The key is no longer in the key file, so there is nothing to move.")
	default:
		h.fail(w, r, err)
		return
	}
	h.saveAndRedirect(w, r, s, "/ui/")
}

// passphraseMoveHandler is POST /ui/key/passphrase.
type passphraseMoveHandler struct{ h *Handler }

func (p passphraseMoveHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	if h.opts.Keys == nil {
		h.fail(w, r, errors.New("no key operations"))
		return
	}
	m, err := h.opts.Keys.ProtectWithPassphrase(r.Context(), apiv1.ProtectRequest{
		Passphrase: form.Get("passphrase"), Confirm: form.Get("confirm")})
	if fe, ok := errors.AsType[*apiv1.FieldError](err); ok {
		f := passphraseMoveForm()
		f.Open = true
		switch fe.Field {
		case "confirm":
			f.Confirm.Error = "The two passphrases differ. Type the same one twice."
			f.Confirm.Autofocus = true
		default:
			f.Passphrase.Error = passphraseProblem(form.Get("passphrase"), vault.MinPassphraseLen)
			if f.Passphrase.Error == "" {
				f.Passphrase.Error = "Plexus cannot use this passphrase. Choose another."
			}
		}
		h.renderHome(w, r, s, http.StatusUnprocessableEntity, &f)
		return
	}
	switch {
	case err == nil:
		s.setFlash(frontend.FlashOK, movedMessage("Your secrets are now protected by your passphrase; Plexus asks for it each time it starts", m))
	case errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "The key is no longer in the key file, so there is nothing to move.")
	default:
		h.fail(w, r, err)
		return
	}
	h.saveAndRedirect(w, r, s, "/ui/")
}

// movedMessage says what a key move did about the old key file.
func movedMessage(done string, m apiv1.KeyMoved) string {
	if m.LeftFile != "" {
		return done + ". Plexus could not delete the old key file, which still opens your saved accounts and keys: delete " + m.LeftFile + " yourself."
	}
	return done + ", and the key file is deleted."
}
