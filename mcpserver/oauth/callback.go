package oauth

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
)

// Bounds on callback parameters from outside.
const (
	maxCodeLen     = 4096
	maxErrorLen    = 64
	maxErrorDesc   = 300
	maxPathSegment = 256
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;line-height:1.5}h1{font-size:1.4em}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Detail}}<p><small>{{.Detail}}</small></p>{{end}}</body></html>
`))

type page struct {
	Title, Message, Detail string
}

func writePage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	writePage(w, status, page{Title: "Connection failed", Message: msg})
}

// callbackParams is the parsed callback query.
type callbackParams struct {
	State, Code, Error, ErrorDescription string
}

// parseCallback extracts and bounds the callback's parameters. It never
// fails on garbage: unusable values come back empty or clipped, and the
// caller decides.
func parseCallback(rawQuery string) callbackParams {
	q, _ := url.ParseQuery(rawQuery) // keeps what parsed; garbage pairs are dropped
	p := callbackParams{
		State:            q.Get("state"),
		Code:             q.Get("code"),
		Error:            q.Get("error"),
		ErrorDescription: q.Get("error_description"),
	}
	if !validState(p.State) {
		p.State = ""
	}
	if len(p.Code) > maxCodeLen || !printable(p.Code) {
		p.Code = ""
	}
	p.Error = clip(p.Error, maxErrorLen)
	p.ErrorDescription = clip(p.ErrorDescription, maxErrorDesc)
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

// HandleCallback serves GET /{tenant}/oauth/external_callback/{provider}:
// it consumes the state, exchanges the code (with the PKCE verifier),
// stores the tokens sealed and shows a plain "connected" page; a replayed,
// expired or foreign state, or a provider error, gets a clear error page
// and stores nothing.
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
			m.providerErrorPage(w, provider, q)
			return
		}
		log.InfoContext(ctx, "oauth callback: missing or malformed state")
		errorPage(w, http.StatusBadRequest, "The link is missing its state or the state is malformed. Start the connection again from your chat.")
		return
	}
	st, err := m.store.TakeOAuthState(ctx, q.State)
	switch {
	case errors.Is(err, vault.ErrExpired):
		log.InfoContext(ctx, "oauth callback: expired state")
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
	if st.TenantID != tenant || st.Provider != provider {
		log.WarnContext(ctx, "oauth callback: state belongs to another tenant or provider")
		errorPage(w, http.StatusBadRequest, "This authorization link does not belong to this address. Start the connection again from your chat.")
		return
	}
	if q.Error != "" {
		log.InfoContext(ctx, "oauth callback: provider error", "error", q.Error)
		m.providerErrorPage(w, provider, q)
		return
	}
	if q.Code == "" {
		log.InfoContext(ctx, "oauth callback: missing code")
		errorPage(w, http.StatusBadRequest, "The provider sent no authorization code. Start the connection again from your chat.")
		return
	}
	owner := Owner{TenantID: st.TenantID, UserID: st.UserID, SessionID: st.SessionID}
	display, err := m.exchange(ctx, owner, provider, st, q.Code)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
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
		case errors.Is(err, ErrUnknownProvider):
			log.WarnContext(ctx, "oauth callback: provider no longer configured")
			errorPage(w, http.StatusBadRequest, "This provider is no longer configured for this tenant.")
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
	writePage(w, http.StatusOK, page{
		Title:   "Connected",
		Message: "Connected to " + display + ". You can go back to your chat.",
	})
}

func (m *Manager) providerErrorPage(w http.ResponseWriter, provider string, q callbackParams) {
	msg := provider + " returned an error (" + q.Error + "). Nothing was stored."
	if q.Error == "access_denied" {
		msg = "Access to " + provider + " was declined. Nothing was stored; you can try again from your chat."
	}
	writePage(w, http.StatusBadRequest, page{Title: "Connection failed", Message: msg, Detail: q.ErrorDescription})
}

// exchange trades the code for tokens and stores them for owner; it
// returns the provider's display name (the preset's, else its name).
func (m *Manager) exchange(ctx context.Context, owner Owner, provider string, st vault.OAuthState, code string) (string, error) {
	p, err := m.provider(ctx, owner.TenantID, provider)
	if err != nil {
		return "", err
	}
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
	if err := m.save(ctx, owner, provider, fromOAuth2(tok, st.Scopes, m.now())); err != nil {
		return "", err
	}
	if pr, ok := LookupPreset(p.Preset); ok {
		return pr.DisplayName, nil
	}
	return provider, nil
}
