package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// errNoTicket and errBadTicket are what parseTicket finds wrong.
var (
	errNoTicket  = errors.New("no ticket")
	errBadTicket = errors.New("malformed ticket")
)

// parseTicket finds the login ticket in a raw query: exactly one "ticket"
// parameter, well-formed (vault.ValidUILoginTicket). It never echoes the
// input.
func parseTicket(rawQuery string) (string, error) {
	if len(rawQuery) > 1024 {
		return "", errBadTicket
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", errBadTicket
	}
	ts := q["ticket"]
	switch {
	case len(ts) == 0 || len(ts) == 1 && ts[0] == "":
		return "", errNoTicket
	case len(ts) > 1:
		return "", errBadTicket
	}
	if vault.ValidUILoginTicket(ts[0]) != nil {
		return "", errBadTicket
	}
	return ts[0], nil
}

// loginHandler is GET /ui/login?ticket=…: it spends the ticket, starts a
// session and moves on to /ui/.
//
// It answers with a page that refreshes to /ui/ rather than a redirect:
// a window or a browser tab that arrives here from another origin (the
// desktop window's loader page) would not send the SameSite=Strict cookie
// on a redirect that is part of that cross-site navigation; the page's own
// refresh is a same-site navigation, which does.
type loginHandler struct{ h *Handler }

func (l loginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := l.h
	// This URL holds the ticket: never send it anywhere, not even to us.
	w.Header().Set("Referrer-Policy", "no-referrer")
	ticket, err := parseTicket(r.URL.RawQuery)
	if errors.Is(err, errNoTicket) {
		if _, ok := h.sessions.get(r); ok {
			redirect(w, r, "/ui/")
			return
		}
		h.signInNeeded(w, r)
		return
	}
	if err == nil {
		err = h.opts.Login.TakeUILoginTicket(r.Context(), ticket)
	}
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrExpired):
		h.log.InfoContext(r.Context(), "Admin UI login refused", "reason", "expired")
		h.badLink(w, r, "This sign-in link has expired", "Sign-in links work for one minute.")
		return
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, errBadTicket):
		h.log.InfoContext(r.Context(), "Admin UI login refused", "reason", "unknown or used")
		h.badLink(w, r, "This sign-in link does not work", "Sign-in links work only once, and only for one minute.")
		return
	default:
		h.fail(w, r, err)
		return
	}
	s, err := h.sessions.start()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "Admin UI login")
	h.render(w, r, http.StatusOK, s, frontend.MessagePage(frontend.MessageView{
		Assets:  h.assets,
		Title:   "Signing in…",
		Lead:    "You are signed in.",
		Link:    &frontend.Action{Label: "Continue", Href: "/ui/"},
		Refresh: "/ui/",
	}))
}

func (h *Handler) badLink(w http.ResponseWriter, r *http.Request, title, why string) {
	h.message(w, r, http.StatusForbidden, frontend.MessageView{
		Title:   title,
		Lead:    why + " Nothing was changed.",
		Body:    []string{"To get a new one, open Plexus from your applications menu. Or, in a terminal on this computer, run:"},
		Command: "plexus open",
		Status:  frontend.StatusWarn,
	})
}

// logoutHandler is POST /ui/logout: new session keys (every session ends)
// and the cookie removed.
type logoutHandler struct{ h *Handler }

func (l logoutHandler) post(w http.ResponseWriter, r *http.Request, _ *session, _ url.Values) {
	h := l.h
	if err := h.sessions.rotate(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.sessions.clear(w)
	h.log.InfoContext(r.Context(), "Admin UI logout; session keys rotated")
	v := signInView()
	v.Title = "You are signed out"
	v.Lead = "Every Plexus window and tab is signed out now. Plexus itself keeps running, so your apps keep working."
	v.Body = []string{"To sign in again, open Plexus from your applications menu. Or, in a terminal on this computer, run:"}
	v.Status = frontend.StatusOK
	h.message(w, r, http.StatusOK, v)
}

// cleanBack returns p when it is a path of the UI to return to after a
// form, else "/ui/": never another origin, never a scheme-relative URL.
func cleanBack(p string) string {
	if len(p) > 512 || !strings.HasPrefix(p, "/ui/") || strings.ContainsAny(p, "\\\r\n\t") || strings.Contains(p, "//") {
		return "/ui/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/ui/") ||
		strings.Contains(u.Path, "//") || strings.Contains(u.Path, "/./") || strings.Contains(u.Path, "/../") ||
		strings.HasSuffix(u.Path, "/..") || strings.HasSuffix(u.Path, "/.") || strings.ContainsAny(u.Path, "\\\r\n") {
		return "/ui/"
	}
	return u.EscapedPath()
}
