package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Bounds on callback parameters from outside.
const (
	maxCodeLen     = 4096
	maxErrorLen    = 64
	maxPathSegment = 256
)

// pageTmpl is the card of a page that only says something: how a
// connection ended. It goes into frontend.OutsidePage, so it looks like
// the admin UI.
var pageTmpl = template.Must(template.New("page").Parse(
	`{{if .Status}}<span class="pill pill-{{.Status}}"><span class="pill-dot" aria-hidden="true"></span>{{.StatusText}}</span>{{end}}` +
		`<h1>{{.Title}}</h1><p class="lead">{{.Message}}</p>{{range .More}}<p>{{.}}</p>{{end}}`))

// page is what pageTmpl shows; Status is a pill's kind ("ok", "bad") and
// StatusText its word.
type page struct {
	Title, Message     string
	More               []string
	Status, StatusText string
}

// securePageHeaders sets the headers of every page this package serves:
// frontend.OutsideCSP (the admin UI's stylesheet, no scripts, no
// framing; formAction is its form-action sources), nosniff, no caching,
// no referrer.
func securePageHeaders(w http.ResponseWriter, formAction string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", frontend.OutsideCSP(formAction))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// renderPage renders tmpl with data into frontend.OutsidePage; on a
// failure (a bug) the caller answers a plain 500 instead of half a page.
func renderPage(title string, tmpl *template.Template, data any) ([]byte, error) {
	var buf bytes.Buffer
	ctx := templ.WithChildren(context.Background(), templ.FromGoHTML(tmpl, data))
	if err := frontend.OutsidePage(title).Render(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writePage writes a page without a form (headers, status, body).
func writePage(w http.ResponseWriter, status int, p page) {
	b, err := renderPage(p.Title, pageTmpl, p)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	securePageHeaders(w, "'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	writePage(w, status, page{Title: "Connection failed", Message: msg, Status: "bad", StatusText: "Not connected"})
}

// callbackParams is the parsed callback query. error_description is not
// read: it is free text from the provider, never shown or logged.
type callbackParams struct {
	State, Code, Error string
}

// parseCallback extracts and bounds the callback's parameters. It never
// fails on garbage: unusable values come back empty or clipped, and the
// caller decides.
func parseCallback(rawQuery string) callbackParams {
	q, _ := url.ParseQuery(rawQuery) // keeps what parsed; garbage pairs are dropped
	p := callbackParams{
		State: q.Get("state"),
		Code:  q.Get("code"),
		Error: q.Get("error"),
	}
	if !validState(p.State) {
		p.State = ""
	}
	if len(p.Code) > maxCodeLen || !printable(p.Code) {
		p.Code = ""
	}
	p.Error = clip(p.Error, maxErrorLen)
	return p
}

// validState accepts only what AuthorizationURL makes: 43 base64url chars.
func validState(s string) bool {
	if len(s) != stateLen {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// printable: visible ASCII only (RFC 6749 codes are VSCHAR).
func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// callbackPath returns the tenant and provider of the request, from the
// mux's path values or, when mounted otherwise, from the path's last four
// segments /<tenant>/oauth/external_callback/<provider>.
func callbackPath(r *http.Request) (tenant, provider string) {
	tenant, provider = r.PathValue("tenant"), r.PathValue("provider")
	if tenant == "" || provider == "" {
		seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if n := len(seg); n >= 4 && seg[n-3] == "oauth" && seg[n-2] == "external_callback" {
			tenant, provider = seg[n-4], seg[n-1]
		}
	}
	if len(tenant) > maxPathSegment || len(provider) > maxPathSegment {
		return "", ""
	}
	return tenant, provider
}

// HandleCallback serves GET /{tenant}/oauth/external_callback/{provider}.
// It needs the flow's cookie, set by the consent page in the browser that
// approved: without it the state is refused and left unspent (403,
// nothing stored). Otherwise it consumes the state, checks that the owner
// (user or guest session) still exists and the provider's settings did
// not change, then exchanges the code (with the PKCE verifier), stores the
// tokens sealed (under the owner's lock, compare-and-swap) and shows a
// plain "connected" page. Every failure gets a fixed message chosen by its
// kind or the provider's error code; nothing the provider or the request
// sent (error_description included) is echoed.
func (m *Manager) HandleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		errorPage(w, http.StatusMethodNotAllowed, "This address only answers GET requests.")
		return
	}
	tenant, provider := callbackPath(r)
	if tenant == "" || provider == "" {
		errorPage(w, http.StatusNotFound, "This is not an OAuth callback address.")
		return
	}
	log := m.log.With("tenant", tenant, "provider", provider)
	q := parseCallback(r.URL.RawQuery)

	if q.State == "" {
		if q.Error != "" {
			log.InfoContext(ctx, "oauth callback: provider error without state", "error", q.Error)
			providerErrorPage(w, provider, q.Error)
			return
		}
		log.InfoContext(ctx, "oauth callback: missing or malformed state")
		errorPage(w, http.StatusBadRequest, "The link is missing its state or the state is malformed. Start the connection again from your chat.")
		return
	}
	browser := ""
	if ck, err := r.Cookie(flowCookie(q.State)); err == nil {
		browser = ck.Value
	}
	st, err := m.store.TakeOAuthState(ctx, q.State, browser)
	switch {
	case errors.Is(err, vault.ErrBrowserMismatch):
		log.WarnContext(ctx, "oauth callback: state presented without the cookie of the browser that approved", "cookie", browser != "")
		errorPage(w, http.StatusForbidden, "This sign-in was not started in this browser. For your safety, Plexus completes a connection "+
			"only in the browser where you pressed Approve. Start the connection again from your chat.")
		return
	case errors.Is(err, vault.ErrExpired):
		log.InfoContext(ctx, "oauth callback: expired state")
		m.clearFlowCookie(w, tenant, q.State)
		errorPage(w, http.StatusBadRequest, "This authorization link has expired. Start the connection again from your chat.")
		return
	case errors.Is(err, vault.ErrNotFound):
		log.InfoContext(ctx, "oauth callback: unknown or replayed state")
		errorPage(w, http.StatusBadRequest, "This authorization link is unknown or was already used. Start the connection again from your chat.")
		return
	case err != nil:
		log.ErrorContext(ctx, "oauth callback: take state", "err", err)
		errorPage(w, http.StatusInternalServerError, "Plexus could not check this authorization. Try again.")
		return
	}
	m.clearFlowCookie(w, tenant, q.State)
	if st.TenantID != tenant || st.Provider != provider {
		log.WarnContext(ctx, "oauth callback: state belongs to another tenant or provider")
		errorPage(w, http.StatusBadRequest, "This authorization link does not belong to this address. Start the connection again from your chat.")
		return
	}
	if q.Error != "" {
		log.InfoContext(ctx, "oauth callback: provider error", "error", q.Error)
		providerErrorPage(w, provider, q.Error)
		return
	}
	if q.Code == "" {
		log.InfoContext(ctx, "oauth callback: missing code")
		errorPage(w, http.StatusBadRequest, "The provider sent no authorization code. Start the connection again from your chat.")
		return
	}
	owner := Owner{TenantID: st.TenantID, UserID: st.UserID, SessionID: st.SessionID}
	if err := m.ownerAlive(ctx, owner); err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			log.InfoContext(ctx, "oauth callback: owner gone (session ended or user deleted)")
			errorPage(w, http.StatusBadRequest, "Your chat session or user account no longer exists. Start the connection again from your chat.")
			return
		}
		log.ErrorContext(ctx, "oauth callback: check owner", "err", err)
		errorPage(w, http.StatusInternalServerError, "Plexus could not check this authorization. Try again.")
		return
	}
	p, err := m.provider(ctx, owner.TenantID, provider)
	switch {
	case errors.Is(err, ErrUnknownProvider):
		log.WarnContext(ctx, "oauth callback: provider no longer configured")
		errorPage(w, http.StatusBadRequest, "This provider is no longer configured for this tenant.")
		return
	case err != nil:
		log.ErrorContext(ctx, "oauth callback: load provider", "err", redactErr(err))
		errorPage(w, http.StatusInternalServerError, "Plexus could not read this provider's settings. An administrator may have to set them again.")
		return
	case st.ProviderBinding != p.Binding():
		log.WarnContext(ctx, "oauth callback: provider settings changed since the flow started")
		errorPage(w, http.StatusBadRequest, "This provider's settings changed since you started. Start the connection again from your chat.")
		return
	}
	display, err := m.exchange(ctx, owner, p, st, q.Code)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.Is(err, egress.ErrRedirect):
			log.WarnContext(ctx, "oauth callback: token endpoint answered with a redirect; not followed", "err", redactErr(err))
			errorPage(w, http.StatusBadGateway, "The provider's token endpoint answered with a redirect, which Plexus does not follow "+
				"(it would carry your authorization and the app's secret elsewhere). Nothing was stored. Ask an administrator to check the token URL.")
		case errors.As(err, &re):
			status := 0
			if re.Response != nil {
				status = re.Response.StatusCode
			}
			log.WarnContext(ctx, "oauth callback: code exchange refused", "errorCode", clip(re.ErrorCode, maxErrorLen), "status", status)
			errorPage(w, http.StatusBadRequest, "The provider refused to exchange the authorization code. Start the connection again from your chat.")
		case errors.Is(err, vault.ErrNotFound):
			log.InfoContext(ctx, "oauth callback: owner gone (session ended or user deleted)")
			errorPage(w, http.StatusBadRequest, "Your chat session or user account no longer exists. Start the connection again from your chat.")
		default:
			log.ErrorContext(ctx, "oauth callback: exchange or store failed", "err", redactErr(err))
			errorPage(w, http.StatusBadGateway, "Plexus could not complete the connection. Try again.")
		}
		return
	}
	log.InfoContext(ctx, "oauth callback: connected", "guest", owner.UserID == "")
	if m.onConnect != nil {
		m.onConnect(ctx, owner, provider)
	}
	connected := page{
		Title:   "Connected",
		Message: "Connected to " + display + ". You can go back to your chat.",
		More: []string{"Ask your assistant again: its tools can use your " + display + " account now. " +
			"Plexus keeps the connection locked away; you can disconnect it at any time."},
		Status: "ok", StatusText: "Connected",
	}
	if st.Tool == "" { // started in Plexus's window, not by a tool
		connected.Message = "Connected to " + display + ". You can close this page and go back to Plexus."
		connected.More = []string{"Your assistant's tools can use your " + display + " account now. " +
			"Plexus keeps the connection locked away; you can disconnect it at any time."}
	}
	writePage(w, http.StatusOK, connected)
}

// clearFlowCookie removes a spent flow's cookie.
func (m *Manager) clearFlowCookie(w http.ResponseWriter, tenant, state string) {
	http.SetCookie(w, &http.Cookie{Name: flowCookie(state), Value: "", Path: cookiePath(tenant), MaxAge: -1,
		HttpOnly: true, Secure: m.secureCookies(), SameSite: http.SameSiteLaxMode})
}

// providerErrors are the fixed messages for the provider's error codes
// (RFC 6749 §4.1.2.1); %s is the provider's name. Nothing the provider
// sends is shown.
var providerErrors = map[string]string{
	"access_denied":             "Access to %s was declined. Nothing was stored; you can try again from your chat.",
	"invalid_scope":             "%s did not accept the permissions Plexus asked for. Nothing was stored. An administrator may need to change the provider's scopes.",
	"server_error":              "%s had a problem and could not complete the sign-in. Nothing was stored; try again later from your chat.",
	"temporarily_unavailable":   "%s is busy or down for maintenance. Nothing was stored; try again later from your chat.",
	"invalid_request":           "%s refused the sign-in request. Nothing was stored. An administrator should check how the provider is set up in Plexus.",
	"unauthorized_client":       "%s does not allow this app to sign you in this way. Nothing was stored. An administrator should check the app's settings at %[1]s.",
	"unsupported_response_type": "%s refused the sign-in request. Nothing was stored. An administrator should check how the provider is set up in Plexus.",
}

func providerErrorPage(w http.ResponseWriter, provider, code string) {
	msg, ok := providerErrors[code]
	if !ok {
		msg = "%s returned an error. Nothing was stored; start the connection again from your chat."
	}
	writePage(w, http.StatusBadRequest, page{Title: "Connection failed", Message: fmt.Sprintf(msg, provider), Status: "bad", StatusText: "Not connected"})
}

// exchange trades the code for tokens and stores them for owner, under the
// owner's lock (so a refresh in flight finishes first and cannot write
// over the new tokens) with compare-and-swap. It returns the provider's
// display name (the preset's, else its name).
func (m *Manager) exchange(ctx context.Context, owner Owner, p vault.OAuthProvider, st vault.OAuthState, code string) (string, error) {
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(st.Verifier)}
	if p.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", p.Resource))
	}
	tok, err := m.config(p, st.Scopes).Exchange(m.tokenContext(ctx, p), code, opts...)
	if err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("token response has no access token")
	}
	ts := fromOAuth2(tok, st.Scopes, m.now())
	binding := p.Binding()
	// The tokens exist now: store them even if the browser gives up.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout+5*time.Second)
	defer cancel()
	unlock, err := m.lockOwner(lctx, owner, p.Name)
	if err != nil {
		return "", err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		cur, err := m.load(lctx, owner, p.Name, binding)
		if err != nil && !isNotFound(err) {
			return "", err
		}
		_, err = m.save(lctx, owner, p.Name, binding, cur, ts)
		if err == nil {
			break
		}
		if !conflict(err) || attempt == 2 {
			return "", err
		}
	}
	return providerDisplay(p), nil
}
