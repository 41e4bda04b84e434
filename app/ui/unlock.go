package ui

// This file is the admin UI of a locked daemon: the vault's passphrase is
// not known yet (nobody could type it when the daemon started), so the UI
// signs the window in as usual, from a session kept in memory, and shows
// one page: "Unlock Plexus", or for a new vault without a keyring,
// "Choose a passphrase". Once the vault opens, the daemon serves its full
// UI and the answer to the form is a fresh sign-in link to it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// Unlocker opens a locked daemon's vault; the daemon implements it. Each
// method returns, on success, the path of a single-use sign-in link to the
// full UI (the locked UI's sessions end with the lock).
type Unlocker interface {
	// NewVault reports whether the vault is new and waits for its
	// passphrase to be chosen.
	NewVault() bool
	// Unlock opens the vault with its passphrase: vault.ErrWrongKey when
	// it does not open it (answered after a wait).
	Unlock(ctx context.Context, passphrase string) (loginPath string, err error)
	// Create gives a new vault its passphrase (vault.ErrInvalid when too
	// short).
	Create(ctx context.Context, passphrase string) (loginPath string, err error)
	// UseKeyFile gives a new vault a generated key file instead.
	UseKeyFile(ctx context.Context) (loginPath string, err error)
}

// LockedOptions configures the locked daemon's UI. Login and Unlocker are
// required.
type LockedOptions struct {
	// Login keeps the locked UI's sign-in: *vault.Locked satisfies it.
	Login    Login
	Unlocker Unlocker
	// VaultFile and KeyFile are shown in plain words: the vault's file
	// (for a person who forgot the passphrase), and where a new vault's
	// key file would go.
	VaultFile, KeyFile string
	SecureCookies      bool
	Logger             *slog.Logger     // nil = discard
	Now                func() time.Time // nil = time.Now
}

// maxPassphraseRunes bounds a typed passphrase.
const maxPassphraseRunes = 1024

// NewLocked builds the admin UI of a locked daemon: sign-in, the unlock
// (or choose-a-passphrase) page and its forms; every other UI path leads
// to that page.
func NewLocked(ctx context.Context, o LockedOptions) (*Handler, error) {
	if o.Login == nil || o.Unlocker == nil {
		return nil, errors.New("ui: Login and Unlocker are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ss, err := newSessionStore(ctx, o.Login, o.SecureCookies, o.Now)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		opts:     Options{Login: o.Login, Logger: o.Logger, Now: o.Now, SecureCookies: o.SecureCookies},
		log:      o.Logger,
		sessions: ss,
		assets:   frontend.AssetVersion(),
		mux:      http.NewServeMux(),
	}
	u := unlockPages{h: h, o: o}
	m := h.mux
	m.Handle("GET /ui/static/", staticHandler())
	m.Handle("GET /ui/login", loginHandler{h})
	m.Handle("POST /ui/logout", h.form(logoutHandler{h}))
	m.Handle("GET /ui/{$}", h.page(u))
	m.Handle("POST /ui/unlock", h.form(unlockForm{u}))
	m.Handle("POST /ui/setup", h.form(setupForm{u}))
	m.Handle("POST /ui/setup/key-file", h.form(keyFileForm{u}))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.sessions.get(r); !ok {
			h.signInNeeded(w, r)
			return
		}
		// Nothing but the unlock page works while locked.
		redirect(w, r, "/ui/")
	})
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { redirect(w, r, "/ui/") })
	return h, nil
}

// unlockPages serves the page and its forms.
type unlockPages struct {
	h *Handler
	o LockedOptions
}

// view is the page with no errors.
func (u unlockPages) view(s *session) frontend.UnlockView {
	v := frontend.UnlockView{Assets: u.h.assets, CSRF: s.csrf, New: u.o.Unlocker.NewVault(),
		VaultFile: u.o.VaultFile, KeyFile: u.o.KeyFile}
	if v.New {
		v.Passphrase = frontend.Secret{Name: "passphrase", Label: "New passphrase", Autocomplete: "new-password",
			MinLength: vault.MinPassphraseLen, Autofocus: true,
			Help: fmt.Sprintf("At least %d characters. A few unrelated words are easy to remember and hard to guess.", vault.MinPassphraseLen)}
		v.Confirm = frontend.Secret{Name: "confirm", Label: "Type it again", Autocomplete: "new-password",
			MinLength: vault.MinPassphraseLen}
	} else {
		v.Passphrase = frontend.Secret{Name: "passphrase", Label: "Passphrase", Autocomplete: "current-password", Autofocus: true}
	}
	return v
}

// serve is GET /ui/.
func (u unlockPages) serve(w http.ResponseWriter, r *http.Request, s *session) {
	u.h.log.DebugContext(r.Context(), "Admin UI unlock page", "path", r.URL.Path, "new", u.o.Unlocker.NewVault())
	u.h.render(w, r, http.StatusOK, s, frontend.UnlockPage(u.view(s)))
}

// done moves the browser on to the full UI's sign-in link, or says what
// went wrong.
func (u unlockPages) done(w http.ResponseWriter, r *http.Request, s *session, loginPath string, err error, wrong func(*frontend.UnlockView)) {
	h := u.h
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "Vault unlocked through the admin UI")
		// The ticket is in the Location; the login page sends no referrer.
		w.Header().Set("Referrer-Policy", "no-referrer")
		redirect(w, r, loginPath)
	case errors.Is(err, vault.ErrWrongKey), errors.Is(err, vault.ErrInvalid):
		v := u.view(s)
		wrong(&v)
		h.render(w, r, http.StatusUnprocessableEntity, s, frontend.UnlockPage(v))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		v := u.view(s)
		v.Error = "Plexus stopped before it finished. Try again."
		h.render(w, r, http.StatusServiceUnavailable, s, frontend.UnlockPage(v))
	default:
		h.fail(w, r, err)
	}
}

// unlockForm is POST /ui/unlock.
type unlockForm struct{ u unlockPages }

func (f unlockForm) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	if f.u.o.Unlocker.NewVault() {
		redirect(w, r, "/ui/") // a form from another page: show the right one
		return
	}
	p := form.Get("passphrase")
	if msg := passphraseProblem(p, 1); msg != "" {
		v := f.u.view(s)
		v.Passphrase.Error = msg
		f.u.h.render(w, r, http.StatusUnprocessableEntity, s, frontend.UnlockPage(v))
		return
	}
	loginPath, err := f.u.o.Unlocker.Unlock(r.Context(), p)
	f.u.done(w, r, s, loginPath, err, func(v *frontend.UnlockView) {
		v.Passphrase.Error = "That passphrase does not open Plexus. Check it (and Caps Lock) and try again."
	})
}

// setupForm is POST /ui/setup: a new vault's passphrase, typed twice.
type setupForm struct{ u unlockPages }

func (f setupForm) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	if !f.u.o.Unlocker.NewVault() {
		redirect(w, r, "/ui/")
		return
	}
	p, again := form.Get("passphrase"), form.Get("confirm")
	v := f.u.view(s)
	if msg := passphraseProblem(p, vault.MinPassphraseLen); msg != "" {
		v.Passphrase.Error = msg
	} else if again != p {
		v.Confirm.Error = "The two passphrases differ. Type the same one twice."
		v.Confirm.Autofocus = true
	}
	if v.Passphrase.Error != "" || v.Confirm.Error != "" {
		f.u.h.render(w, r, http.StatusUnprocessableEntity, s, frontend.UnlockPage(v))
		return
	}
	loginPath, err := f.u.o.Unlocker.Create(r.Context(), p)
	f.u.done(w, r, s, loginPath, err, func(v *frontend.UnlockView) {
		v.Passphrase.Error = fmt.Sprintf("Use at least %d characters.", vault.MinPassphraseLen)
	})
}

// keyFileForm is POST /ui/setup/key-file: no passphrase, a key file.
type keyFileForm struct{ u unlockPages }

func (f keyFileForm) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	if !f.u.o.Unlocker.NewVault() {
		redirect(w, r, "/ui/")
		return
	}
	loginPath, err := f.u.o.Unlocker.UseKeyFile(r.Context())
	f.u.done(w, r, s, loginPath, err, func(v *frontend.UnlockView) {
		v.Error = "Plexus could not keep its key in a file. Choose a passphrase instead."
	})
}

// passphraseProblem says what is wrong with a typed passphrase ("" =
// nothing): empty, shorter than minRunes, too long, or not text. It never
// echoes the passphrase.
func passphraseProblem(p string, minRunes int) string {
	n := utf8.RuneCountInString(p)
	switch {
	case p == "":
		return "Type the passphrase."
	case !utf8.ValidString(p):
		return "Use letters, digits, spaces and punctuation only."
	case n > maxPassphraseRunes:
		return fmt.Sprintf("Use at most %d characters.", maxPassphraseRunes)
	case n < minRunes:
		return fmt.Sprintf("Use at least %d characters; this one has %d.", minRunes, n)
	}
	return ""
}
