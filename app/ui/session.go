package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

const (
	// CookieName is the admin UI's session cookie.
	CookieName = "plexus_ui"
	// cookiePath keeps the cookie to the UI: the MCP endpoints and the
	// admin API never see it.
	cookiePath = "/ui"
	// SessionLifetime is how long a session lasts after signing in.
	SessionLifetime = 12 * time.Hour
	// csrfField is the form field carrying the CSRF token.
	csrfField = "csrf"
)

// Session values (gob-encoded in the cookie, encrypted and authenticated).
const (
	keyLoginAt   = "login_at" // int64 unix seconds
	keyCSRF      = "csrf"
	keyTenant    = "tenant"
	keyFlashKind = "flash_kind"
	keyFlashText = "flash_text"
)

// session is a signed-in person's session.
type session struct {
	loginAt time.Time
	csrf    string
	tenant  string // the current tenant; "" = the first
	flash   *frontend.Flash
	dirty   bool // changed since read: save before answering
}

// setFlash leaves a message for the next page.
func (s *session) setFlash(kind frontend.FlashKind, msg string) {
	s.flash = &frontend.Flash{Kind: kind, Message: msg}
	s.dirty = true
}

// popFlash takes the pending message, if any.
func (s *session) popFlash() *frontend.Flash {
	f := s.flash
	if f != nil {
		s.flash = nil
		s.dirty = true
	}
	return f
}

// sessionStore keeps the cookie store, whose keys come from the vault and
// change on sign-out.
type sessionStore struct {
	login  Login
	secure bool
	now    func() time.Time

	mu    sync.RWMutex
	store *sessions.CookieStore
}

func newSessionStore(ctx context.Context, login Login, secure bool, now func() time.Time) (*sessionStore, error) {
	k, err := login.UISessionKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("ui: session keys: %w", err)
	}
	s := &sessionStore{login: login, secure: secure, now: now}
	s.store = s.cookieStore(k)
	return s, nil
}

func (s *sessionStore) cookieStore(k vault.UISessionKeys) *sessions.CookieStore {
	cs := sessions.NewCookieStore(k.Hash, k.Block)
	// The codecs refuse cookies older than this (their own signed timestamp).
	cs.MaxAge(int(SessionLifetime / time.Second))
	// A browser-session cookie, for the UI's paths only.
	cs.Options = &sessions.Options{
		Path:     cookiePath,
		MaxAge:   0,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteStrictMode,
	}
	return cs
}

func (s *sessionStore) current() *sessions.CookieStore {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.store
}

// rotate replaces the keys (in the vault too): every session ends.
func (s *sessionStore) rotate(ctx context.Context) error {
	k, err := s.login.RotateUISessionKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate session keys: %w", err)
	}
	s.mu.Lock()
	s.store = s.cookieStore(k)
	s.mu.Unlock()
	return nil
}

// get returns the request's session, or false when there is none, it does
// not decode (other keys, tampered, too old) or its sign-in is over.
func (s *sessionStore) get(r *http.Request) (*session, bool) {
	gs, err := s.current().New(r, CookieName)
	if err != nil || gs.IsNew {
		return nil, false
	}
	at, _ := gs.Values[keyLoginAt].(int64)
	csrf, _ := gs.Values[keyCSRF].(string)
	if at == 0 || len(csrf) < 32 {
		return nil, false
	}
	loginAt := time.Unix(at, 0)
	if now := s.now(); now.Sub(loginAt) >= SessionLifetime || loginAt.After(now.Add(time.Minute)) {
		return nil, false
	}
	out := &session{loginAt: loginAt, csrf: csrf}
	out.tenant, _ = gs.Values[keyTenant].(string)
	if kind, _ := gs.Values[keyFlashKind].(string); kind != "" {
		text, _ := gs.Values[keyFlashText].(string)
		out.flash = &frontend.Flash{Kind: frontend.FlashKind(kind), Message: text}
	}
	return out, true
}

// start makes a new session (new CSRF token), dropping whatever the
// browser had.
func (s *sessionStore) start() (*session, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("csrf token: %w", err)
	}
	return &session{loginAt: s.now(), csrf: base64.RawURLEncoding.EncodeToString(b), dirty: true}, nil
}

// save sets the session cookie.
func (s *sessionStore) save(w http.ResponseWriter, r *http.Request, ss *session) error {
	cs := s.current()
	gs := sessions.NewSession(cs, CookieName)
	opts := *cs.Options
	gs.Options = &opts
	gs.Values[keyLoginAt] = ss.loginAt.Unix()
	gs.Values[keyCSRF] = ss.csrf
	if ss.tenant != "" {
		gs.Values[keyTenant] = ss.tenant
	}
	if ss.flash != nil {
		gs.Values[keyFlashKind] = string(ss.flash.Kind)
		gs.Values[keyFlashText] = ss.flash.Message
	}
	if err := cs.Save(r, w, gs); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	ss.dirty = false
	return nil
}

// clear removes the session cookie from the browser.
func (s *sessionStore) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
}

// pageHandler is a signed-in page.
type pageHandler interface {
	serve(w http.ResponseWriter, r *http.Request, s *session)
}

// formHandler handles a signed-in form whose CSRF token was checked;
// form holds the body's fields only (never the query's).
type formHandler interface {
	post(w http.ResponseWriter, r *http.Request, s *session, form url.Values)
}

// page wraps a signed-in page: without a session, the "how to get in" page.
func (h *Handler) page(p pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.sessions.get(r)
		if !ok {
			h.signInNeeded(w, r)
			return
		}
		h.log.DebugContext(r.Context(), "Admin UI page", "path", r.URL.Path)
		p.serve(w, r, s)
	})
}

// form wraps a signed-in form: a session, a form body of at most
// maxFormBytes, and the session's CSRF token in it.
func (h *Handler) form(f formHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.sessions.get(r)
		if !ok {
			h.message(w, r, http.StatusForbidden, frontend.MessageView{
				Title:  "You are not signed in",
				Lead:   "Plexus did not do this, because this window is not signed in (any more).",
				Body:   []string{howToGetIn},
				Status: frontend.StatusWarn,
			})
			return
		}
		form, err := parseForm(w, r)
		if err != nil {
			h.message(w, r, formErrorStatus(err), frontend.MessageView{
				Title: "This form could not be read",
				Lead:  "Plexus did not do this: " + err.Error() + ".",
				Body:  []string{"Go back, reload the page and try again."},
				Link:  &frontend.Action{Label: "Go to Home", Href: "/ui/"},
			})
			return
		}
		if !validCSRF(form, s.csrf) {
			h.message(w, r, http.StatusForbidden, frontend.MessageView{
				Title: "This form has expired",
				Lead:  "Plexus did not do this, because the form was sent from an old page or from somewhere else.",
				Body:  []string{"Go back, reload the page and try again. If you did not send a form just now, another page may have tried to; nothing was changed."},
				Link:  &frontend.Action{Label: "Go to Home", Href: "/ui/"},
			})
			return
		}
		f.post(w, r, s, form)
	})
}

// errFormTooLarge and errFormType are the form body's faults.
var (
	errFormTooLarge = errors.New("it is too large")
	errFormType     = errors.New("it was not sent as a web form")
)

func formErrorStatus(err error) int {
	switch {
	case errors.Is(err, errFormTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errFormType):
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

// parseForm reads a urlencoded form body of at most maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil, errFormType
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, errFormTooLarge
		}
		return nil, errors.New("it is not a valid web form")
	}
	return r.PostForm, nil
}

// validCSRF reports whether form carries exactly one CSRF token, equal
// (in constant time) to the session's.
func validCSRF(form url.Values, want string) bool {
	got := form[csrfField]
	if len(got) != 1 || got[0] == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got[0]), []byte(want)) == 1
}

// howToGetIn is what to do without a session.
const howToGetIn = "Open Plexus from your applications menu, or run plexus open in a terminal."

// signInNeeded is the page for a request without a session.
func (h *Handler) signInNeeded(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, signInView())
}

func signInView() frontend.MessageView {
	return frontend.MessageView{
		Title:   "Open Plexus to sign in",
		Lead:    "For your safety, this page only opens through Plexus itself.",
		Body:    []string{"Open Plexus from your applications menu. Or, in a terminal on this computer, run:"},
		Command: "plexus open",
		Status:  frontend.StatusWarn,
	}
}
