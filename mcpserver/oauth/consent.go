package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// csrfCookie holds the consent page's per-page token (double submit: the
// form carries the same value). SameSite=Strict, so another site cannot
// make the browser send it.
const csrfCookie = "plexus_consent_csrf"

// maxConsentForm bounds the consent page's POST body.
const maxConsentForm = 4 << 10

// consentTmpl is the consent page's card, in frontend.OutsidePage.
var consentTmpl = template.Must(template.New("consent").Parse(`<h1>Connect your {{.Provider}} account?</h1>
<p class="lead"><strong>{{.Client}}</strong> (tenant <strong>{{.Tenant}}</strong>) wants to use your <strong>{{.Provider}}</strong> account{{if .Tool}} to run <strong>{{.Tool}}</strong>{{end}}.</p>
<div class="outside-box">
<h2>It will be able to</h2>
<ul>{{range .Abilities}}<li>{{.}}</li>{{else}}<li>use the access {{$.Provider}} grants by default</li>{{end}}</ul>
<p>The connection belongs to {{.Account}}.</p>
</div>
<p>When you approve, your browser goes to <span class="outside-host">{{.Host}}</span> to sign in to {{.Provider}} and confirm.
If that is not the address you expect for {{.Provider}}, press Deny.</p>
<form method="post" class="outside-actions">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="action" value="approve" class="btn btn-primary">Approve</button>
<button type="submit" name="action" value="deny" class="btn">Deny</button>
</form>
<p class="outside-note">This link works once and expires {{.Expires}}. {{if .Tool}}If you did not just ask for this in your chat{{else}}If you did not just press Connect in Plexus{{end}}, press Deny.
Plexus keeps the connection locked away; you can disconnect it at any time.</p>`))

type consentView struct {
	Client, Tenant, Provider, Tool, Account, Host, Expires, CSRF string
	Abilities                                                    []string
}

// consentPath returns the tenant and link id of the request, from the
// mux's path values or from the path's last four segments
// /<tenant>/oauth/consent/<id>.
func consentPath(r *http.Request) (tenant, id string) {
	tenant, id = r.PathValue("tenant"), r.PathValue("id")
	if tenant == "" || id == "" {
		seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if n := len(seg); n >= 4 && seg[n-3] == "oauth" && seg[n-2] == "consent" {
			tenant, id = seg[n-4], seg[n-1]
		}
	}
	if len(tenant) > maxPathSegment || !validState(id) {
		return "", ""
	}
	return tenant, id
}

// HandleConsent serves the consent page, GET and POST
// /{tenant}/oauth/consent/{id}. GET shows who asks for which account and
// what for, with Approve and Deny; it changes nothing (link previews are
// harmless). POST (same origin, with the page's CSRF token) consumes the
// link: Deny ends there; Approve checks the owner still exists, starts the
// authorization, sets the cookie that binds it to this browser and
// redirects (303) to the provider.
func (m *Manager) HandleConsent(w http.ResponseWriter, r *http.Request) {
	tenant, id := consentPath(r)
	if tenant == "" {
		errorPage(w, http.StatusNotFound, "This is not a Plexus consent link.")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m.showConsent(w, r, tenant, id)
	case http.MethodPost:
		m.answerConsent(w, r, tenant, id)
	default:
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, http.StatusMethodNotAllowed, "This address only answers GET and POST requests.")
	}
}

// consentError writes the page for a consent link that cannot be used.
func (m *Manager) consentError(ctx context.Context, w http.ResponseWriter, tenant string, err error) {
	switch {
	case errors.Is(err, vault.ErrExpired):
		errorPage(w, http.StatusGone, "This link has expired. Ask again in your chat to get a new one.")
	case errors.Is(err, vault.ErrNotFound):
		errorPage(w, http.StatusNotFound, "This link is unknown or was already used. Ask again in your chat to get a new one.")
	default:
		m.log.ErrorContext(ctx, "oauth consent: read link", "tenant", tenant, "err", err)
		errorPage(w, http.StatusInternalServerError, "Plexus could not read this link. Try again.")
	}
}

func (m *Manager) showConsent(w http.ResponseWriter, r *http.Request, tenant, id string) {
	ctx := r.Context()
	c, err := m.store.GetOAuthConsent(ctx, id)
	if err == nil && c.TenantID != tenant {
		err = vault.ErrNotFound
	}
	if err != nil {
		m.consentError(ctx, w, tenant, err)
		return
	}
	p, err := m.provider(ctx, c.TenantID, c.Provider)
	if err != nil {
		m.log.WarnContext(ctx, "oauth consent: provider", "tenant", tenant, "provider", c.Provider, "err", redactErr(err))
		errorPage(w, http.StatusConflict, "The account this link asks for is no longer set up in Plexus. An administrator has to configure it again.")
		return
	}
	authURL, err := url.Parse(p.AuthorizationURL)
	if err != nil {
		errorPage(w, http.StatusInternalServerError, "Plexus could not read this provider's settings.")
		return
	}
	csrf := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && validState(ck.Value) {
		csrf = ck.Value
	} else if csrf, err = randomString(); err != nil {
		errorPage(w, http.StatusInternalServerError, "Plexus could not prepare this page. Try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: cookiePath(tenant) + "consent/",
		MaxAge: int(m.stateTTL / time.Second), HttpOnly: true, Secure: m.secureCookies(), SameSite: http.SameSiteStrictMode,
	})
	v := consentView{
		Client:    c.Client,
		Tenant:    tenant,
		Provider:  providerDisplay(p),
		Tool:      c.Tool,
		Account:   m.accountLabel(ctx, c),
		Host:      authURL.Host,
		Expires:   expiresIn(c.ExpiresAt.Sub(m.now())),
		CSRF:      csrf,
		Abilities: describeScopes(p.Preset, c.Scopes),
	}
	if v.Client == "" {
		v.Client = "Your AI assistant"
	}
	if t, err := m.store.GetTenant(ctx, tenant); err == nil && t.Name != "" {
		v.Tenant = t.Name
	}
	b, err := renderPage("Connect your "+v.Provider+" account?", consentTmpl, v)
	if err != nil {
		m.log.ErrorContext(ctx, "oauth consent: render", "err", err)
		errorPage(w, http.StatusInternalServerError, "Plexus could not prepare this page. Try again.")
		return
	}
	securePageHeaders(w, "'self' "+originOf(authURL))
	w.Header().Set("Referrer-Policy", "same-origin") // the form's POST must carry Origin
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// accountLabel names whose connection it will be, for the page.
func (m *Manager) accountLabel(ctx context.Context, c vault.OAuthConsent) string {
	if c.UserID == "" {
		return "this chat session only (you are not signed in to Plexus; it ends with the session)"
	}
	u, err := m.store.GetUser(ctx, c.TenantID, c.UserID)
	switch {
	case err != nil:
		return "Plexus user " + c.UserID
	case u.HostUserID == vault.LocalOwnerHostUserID:
		return "you, the person using this computer"
	}
	return "Plexus user " + u.HostUserID
}

func providerDisplay(p vault.OAuthProvider) string {
	if pr, ok := LookupPreset(p.Preset); ok {
		return pr.DisplayName
	}
	return p.Name
}

func originOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

func expiresIn(d time.Duration) string {
	switch m := int(math.Ceil(d.Minutes())); {
	case m <= 1:
		return "in a minute"
	default:
		return fmt.Sprintf("in %d minutes", m)
	}
}

// secureCookies reports whether the daemon is reached over https (then
// cookies get the Secure attribute).
func (m *Manager) secureCookies() bool { return strings.HasPrefix(m.baseURL, "https://") }

// sameOriginPost reports whether a POST comes from a page of this origin:
// Sec-Fetch-Site, when sent, must say same-origin; Origin, when sent, must
// name the Host. (The daemon's guard checks Origin too; the CSRF token
// covers clients that send neither.)
func sameOriginPost(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

func (m *Manager) answerConsent(w http.ResponseWriter, r *http.Request, tenant, id string) {
	ctx := r.Context()
	log := m.log.With("tenant", tenant)
	if !sameOriginPost(r) {
		log.WarnContext(ctx, "oauth consent: cross-origin answer refused")
		errorPage(w, http.StatusForbidden, "This answer did not come from the Plexus consent page. Open the link from your chat again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxConsentForm)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "This answer could not be read. Open the link from your chat again.")
		return
	}
	ck, err := r.Cookie(csrfCookie)
	form := r.PostForm.Get("csrf")
	if err != nil || !validState(ck.Value) || !validState(form) || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		log.InfoContext(ctx, "oauth consent: answer without the page's token")
		errorPage(w, http.StatusForbidden, "This page has expired or was opened in another browser. Open the link from your chat again.")
		return
	}
	action := r.PostForm.Get("action")
	if action != "approve" && action != "deny" {
		errorPage(w, http.StatusBadRequest, "Press Approve or Deny.")
		return
	}
	c, err := m.store.TakeOAuthConsent(ctx, id)
	if err == nil && c.TenantID != tenant {
		err = vault.ErrNotFound
	}
	if err != nil {
		m.consentError(ctx, w, tenant, err)
		return
	}
	log = log.With("provider", c.Provider)
	if action == "deny" {
		log.InfoContext(ctx, "oauth consent: denied")
		back := "your chat"
		if c.Tool == "" {
			back = "Plexus"
		}
		writePage(w, http.StatusOK, page{Title: "Not connected", Message: "You declined. Nothing was connected; you can close this page and go back to " + back + "."})
		return
	}
	owner := Owner{TenantID: c.TenantID, UserID: c.UserID, SessionID: c.SessionID}
	if err := m.ownerAlive(ctx, owner); err != nil {
		log.InfoContext(ctx, "oauth consent: owner gone", "err", err)
		errorPage(w, http.StatusBadRequest, "Your chat session or user account no longer exists. Start again from your chat.")
		return
	}
	p, err := m.provider(ctx, c.TenantID, c.Provider)
	if err != nil {
		log.WarnContext(ctx, "oauth consent: provider", "err", redactErr(err))
		errorPage(w, http.StatusConflict, "The account this link asks for is no longer set up in Plexus. An administrator has to configure it again.")
		return
	}
	a, err := m.startAuthorization(ctx, c, p)
	if err != nil {
		log.ErrorContext(ctx, "oauth consent: start authorization", "err", err)
		errorPage(w, http.StatusInternalServerError, "Plexus could not start the connection. Try again from your chat.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: flowCookie(a.state), Value: a.browser, Path: cookiePath(c.TenantID),
		MaxAge: int(m.stateTTL / time.Second), HttpOnly: true, Secure: m.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
	log.InfoContext(ctx, "oauth consent: approved", "guest", owner.UserID == "")
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Location", a.url)
	w.WriteHeader(http.StatusSeeOther)
}

// ownerAlive reports (an error wrapping vault.ErrNotFound) when owner's
// user or guest session no longer exists.
func (m *Manager) ownerAlive(ctx context.Context, o Owner) error {
	if o.UserID != "" {
		_, err := m.store.GetUser(ctx, o.TenantID, o.UserID)
		return err
	}
	_, err := m.store.GetSession(ctx, o.TenantID, o.SessionID)
	return err
}
