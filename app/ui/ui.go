// Package ui serves Plexus's admin UI under /ui/: server-rendered pages
// (package frontend's templ components), one handler struct per page,
// signed in through a single-use login link.
//
// # Signing in
//
// `plexus open` and the desktop window hold the daemon's admin token; they
// ask the admin API for a login ticket (POST /api/v1/ui/login-ticket) and
// open GET /ui/login?ticket=… on the daemon's own origin. The ticket works
// once, for at most a minute, and the vault keeps only its hash. The login
// page starts a gorilla/sessions cookie session (HttpOnly, SameSite=Strict,
// Secure when the public URL is https, encrypted and authenticated with keys
// sealed in the vault) and moves on to /ui/ so the ticket does not stay on
// screen. Signing out rotates those keys, which ends every session. The
// admin token never appears in a URL.
//
// # Every request
//
// Host and Origin are checked by the daemon's edge guard (package edge), or
// by the same rule here when the UI is mounted on its own. Every response
// carries a Content-Security-Policy without inline scripts or styles
// (script-src 'self'; style-src 'self'), frame-ancestors 'none',
// X-Frame-Options DENY, nosniff and Referrer-Policy same-origin (no-referrer on
// the login page, whose URL holds the ticket; see setSecurityHeaders). Every form
// carries the session's CSRF token; a POST without the right one gets a
// 403 page saying what to do.
//
// The pages reach data only through the admin operations (app/adminops),
// the very methods the admin API runs, and never log a ticket, a cookie, a
// CSRF token or a secret. A secret the operations hand out once (a
// host-app secret, a user token) is shown once, in the answer to the form
// that made it, and never stored in the session.
package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/a-h/templ"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/vault"
)

// Login is what signing in needs from the vault; *vault.Vault satisfies it.
type Login interface {
	UISessionKeys(ctx context.Context) (vault.UISessionKeys, error)
	RotateUISessionKeys(ctx context.Context) (vault.UISessionKeys, error)
	TakeUILoginTicket(ctx context.Context, ticket string) error
}

// DaemonInfo is what the daemon says about itself on the Home page.
type DaemonInfo struct {
	Version   string
	Addr      string // host:port it listens on
	DataDir   string
	StartedAt time.Time
	Key       vault.KeyInfo
}

// Options configures the UI. Ops, Login and Info are required.
type Options struct {
	// Ops are the admin operations the pages call (the daemon's one
	// Service, shared with the admin API).
	Ops   *adminops.Service
	Login Login
	Info  func() DaemonInfo
	// SecureCookies marks the session cookie Secure: set it when the UI is
	// reached over https (the daemon's public URL).
	SecureCookies bool
	// StdioCommand is how an app on this machine starts the bridge to
	// this daemon, e.g. ["/usr/bin/plexus", "stdio"] (with "--data DIR"
	// when the data directory is not the default one); the Home page adds
	// "--tenant ID". Empty: ["plexus", "stdio"].
	StdioCommand []string
	// UserConfigDir locates Claude Desktop's config file; nil =
	// os.UserConfigDir. Home's Connect button writes that file.
	UserConfigDir func() (string, error)
	// Keys moves the master key out of the generated key file (the admin
	// operations); nil = Home only says where the key is.
	Keys   KeyOps
	Logger *slog.Logger     // nil = discard
	Now    func() time.Time // nil = time.Now
	// Tools and Activity run the Tools and Activity pages' operations
	// (*adminops.Service); nil: the page says it is not available.
	Tools    ToolsOps
	Activity ActivityOps
}

// maxFormBytes bounds a form body.
const maxFormBytes = 64 << 10

// Handler is the admin UI, for paths under /ui/.
type Handler struct {
	opts     Options
	log      *slog.Logger
	sessions *sessionStore
	assets   string
	mux      *http.ServeMux
}

// New builds the UI; it loads (or creates) the session keys in the vault.
func New(ctx context.Context, o Options) (*Handler, error) {
	if o.Ops == nil || o.Login == nil || o.Info == nil {
		return nil, errors.New("ui: Ops, Login and Info are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserConfigDir == nil {
		o.UserConfigDir = os.UserConfigDir
	}
	if len(o.StdioCommand) == 0 {
		o.StdioCommand = []string{"plexus", "stdio"}
	}
	ss, err := newSessionStore(ctx, o.Login, o.SecureCookies, o.Now)
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: o, log: o.Logger, sessions: ss, assets: frontend.AssetVersion(), mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// routes is the whole surface of the UI, on one screen.
func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /ui/static/", staticHandler())
	m.Handle("GET /ui/login", loginHandler{h})
	m.Handle("POST /ui/logout", h.form(logoutHandler{h}))

	m.Handle("GET /ui/{$}", h.page(homeHandler{h}))
	m.Handle("GET /ui/tenants", h.page(tenantsHandler{h}))
	m.Handle("POST /ui/tenants", h.form(createTenantHandler{h}))
	m.Handle("GET /ui/tenants/{id}", h.page(tenantHandler{h}))
	m.Handle("POST /ui/tenants/{id}/rename", h.form(renameTenantHandler{h}))
	m.Handle("POST /ui/tenants/{id}/secret", h.form(rotateSecretHandler{h}))
	m.Handle("POST /ui/tenants/{id}/delete", h.form(deleteTenantHandler{h}))
	m.Handle("POST /ui/tenant", h.form(switchTenantHandler{h}))

	m.Handle("GET /ui/providers", h.page(providersHandler{h}))
	m.Handle("POST /ui/providers", h.form(createProviderHandler{h}))
	m.Handle("GET /ui/providers/add/{preset}", h.page(addProviderHandler{h}))
	m.Handle("GET /ui/providers/{name}", h.page(providerHandler{h}))
	m.Handle("POST /ui/providers/{name}", h.form(updateProviderHandler{h}))
	m.Handle("POST /ui/providers/{name}/secret", h.form(replaceSecretHandler{h}))
	m.Handle("POST /ui/providers/{name}/delete", h.form(deleteProviderHandler{h}))

	m.Handle("GET /ui/connections", h.page(connectionsHandler{h}))
	m.Handle("GET /ui/connections/{user}", h.page(connectionsHandler{h}))
	m.Handle("POST /ui/connections/{user}/connect/{provider}", h.form(connectHandler{h}))
	m.Handle("POST /ui/connections/{user}/disconnect/{provider}", h.form(disconnectHandler{h}))
	m.Handle("POST /ui/connections/{user}/keys", h.form(setKeyHandler{h}))
	m.Handle("POST /ui/connections/{user}/keys/{provider}/delete", h.form(deleteKeyHandler{h}))

	m.Handle("GET /ui/users", h.page(usersHandler{h}))
	m.Handle("POST /ui/users", h.form(newUserHandler{h}))
	m.Handle("GET /ui/users/{user}", h.page(userHandler{h}))
	m.Handle("POST /ui/users/{user}/tokens", h.form(newTokenHandler{h}))
	m.Handle("POST /ui/users/{user}/tokens/{token}/revoke", h.form(revokeTokenHandler{h}))
	m.Handle("POST /ui/users/{user}/delete", h.form(deleteUserHandler{h}))
	m.Handle("POST /ui/sessions/{ref}/end", h.form(endSessionHandler{h}))

	m.Handle("POST /ui/claude-desktop", h.form(connectClaudeHandler{h}))
	m.Handle("POST /ui/key/keyring", h.form(keyringMoveHandler{h}))
	m.Handle("POST /ui/key/passphrase", h.form(passphraseMoveHandler{h}))

	m.Handle("GET /ui/tools", h.page(toolsHandler{h}))
	m.Handle("POST /ui/tools", h.form(switchToolHandler{h}))
	m.Handle("GET /ui/activity", h.page(activityHandler{h}))
	m.Handle("GET /ui/http-tools", h.page(httpToolsHandler{h}))
	m.Handle("POST /ui/http-tools", h.form(createHTTPToolHandler{h}))
	m.Handle("GET /ui/http-tools/_new", h.page(newHTTPToolHandler{h})) // "_": never a tool's name
	m.Handle("GET /ui/http-tools/{name}", h.page(httpToolHandler{h}))
	m.Handle("POST /ui/http-tools/{name}", h.form(updateHTTPToolHandler{h}))
	m.Handle("POST /ui/http-tools/{name}/delete", h.form(deleteHTTPToolHandler{h}))
	h.gatesRoutes(m)                                       // GET|POST /ui/gates (gates.go)
	m.Handle("GET /ui/servers", h.page(serversHandler{h})) // servers.go
	m.Handle("POST /ui/servers", h.form(createServerHandler{h}))
	m.Handle("GET /ui/servers/_add", h.page(addServerHandler{h})) // "_": never a server's name
	m.Handle("GET /ui/servers/{name}", h.page(serverHandler{h}))
	m.Handle("POST /ui/servers/{name}", h.form(updateServerHandler{h}))
	m.Handle("POST /ui/servers/{name}/restart", h.form(restartServerHandler{h}))
	m.Handle("POST /ui/servers/{name}/delete", h.form(deleteServerHandler{h}))

	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, http.StatusNotFound, frontend.MessageView{
			Title: "Page not found",
			Lead:  "There is no page at this address.",
			Link:  &frontend.Action{Label: "Go to Home", Href: "/ui/"},
		})
	})
}

// ServeHTTP sets the security headers every UI response carries, applies
// the edge rule when the daemon's guard did not, and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !edge.Require(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// ContentSecurityPolicy is the policy of every UI response: only the
// daemon's own script, stylesheet and images; no inline code; forms post
// only to the daemon; never framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under that policy browsers send "Origin: null" with
	// every form, which the edge guard (rightly) refuses. same-origin
	// sends no Referer to any other site and the true Origin to ours.
	// The login page, whose URL holds the ticket, sends none at all.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
}

// staticHandler serves the embedded assets, files only (no listings).
func staticHandler() http.Handler {
	fs := http.StripPrefix(frontend.StaticPrefix, http.FileServerFS(frontend.Static()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == frontend.StaticPrefix || p[len(p)-1] == '/' {
			http.NotFound(w, r)
			return
		}
		// URLs carry the assets' hash (?v=), so a day of caching is safe.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fs.ServeHTTP(w, r)
	})
}

// render writes a component with status, saving the session first when
// it changed (a flash shown is a flash gone). The page is rendered into a
// buffer, so a failure answers a clean 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, s *session, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		h.fail(w, r, fmt.Errorf("render page: %w", err))
		return
	}
	if s != nil && s.dirty {
		if err := h.sessions.save(w, r, s); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message answers with a page outside the shell.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, m frontend.MessageView) {
	m.Assets = h.assets
	h.render(w, r, status, nil, frontend.MessagePage(m))
}

// fail answers 500 with a page in plain words and logs the cause.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "Admin UI request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	var buf bytes.Buffer
	_ = frontend.MessagePage(frontend.MessageView{
		Assets: h.assets,
		Title:  "Something went wrong",
		Lead:   "Plexus could not finish this. Nothing was changed by the part that failed.",
		Body:   []string{"Try again in a moment. If it keeps happening, the details are in the Plexus log (plexus.log in the data folder)."},
		Link:   &frontend.Action{Label: "Go to Home", Href: "/ui/"},
	}).Render(r.Context(), &buf)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(buf.Bytes())
}

// redirect answers a form with 303 to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}
