// Package keyentry serves Plexus's key-entry page: when a tool needs an
// API key its caller has not stored, the tool result carries a link to
// this page, where the person types the key; the next call finds it. So
// someone using Claude Desktop never needs a terminal, and the key never
// passes through the chat.
//
// A link (GET|POST /{tenant}/plexus-services/api-keys/entry/{id}) is
// random, single-use, expires within minutes (Options.TTL) and is bound to
// the tenant, the caller (a user, or a guest's session) and the provider:
// the vault keeps only the SHA-256 of its id, and the page has no field
// naming whose key it is or for what, so the key can only go where the
// link says. GET shows who asks for which key and changes nothing (link
// previews are harmless). POST, from the page itself (same origin, and the
// page's CSRF token in a SameSite=Strict cookie and the form), with Save
// stores the key and spends the link in one transaction; Cancel spends the
// link. The page works without JavaScript, looks like the admin UI
// (frontend.OutsidePage: the daemon's own stylesheet at /ui/static/) and is
// served with frontend.OutsideCSP: that stylesheet and icon, no script, no
// inline style.
//
// The key is never shown, echoed into the page after an error, logged or
// put in an error; neither is the link id.
package keyentry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/a-h/templ"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// Store is the part of the vault the page uses; *vault.Vault satisfies it.
type Store interface {
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	GetUser(ctx context.Context, tenantID, userID string) (vault.User, error)
	PutAPIKeyLink(ctx context.Context, l vault.APIKeyLink) error
	GetAPIKeyLink(ctx context.Context, tenantID, id string) (vault.APIKeyLink, error)
	TakeAPIKeyLink(ctx context.Context, tenantID, id string) (vault.APIKeyLink, error)
	RedeemAPIKeyLink(ctx context.Context, tenantID, id string, key []byte) (vault.APIKeyLink, error)
}

var _ Store = (*vault.Vault)(nil)

// DefaultTTL is how long a link works.
const DefaultTTL = 10 * time.Minute

// Routes of the page, for a mux.
const (
	GetPattern  = "GET /{tenant}/plexus-services/api-keys/entry/{id}"
	PostPattern = "POST /{tenant}/plexus-services/api-keys/entry/{id}"
	// AnyPattern catches the other methods (answered 405).
	AnyPattern = "/{tenant}/plexus-services/api-keys/entry/{id}"
)

// Options configures a Manager.
type Options struct {
	// BaseURL is where browsers reach Plexus (http://127.0.0.1:8765);
	// links are built on it. Required for Link.
	BaseURL string
	TTL     time.Duration    // 0 = DefaultTTL
	Now     func() time.Time // nil = time.Now
	Logger  *slog.Logger     // nil = discard
	// OnLink, when set, is told of each link made (after it is stored),
	// so the desktop window can say that a key is waiting. It never sees
	// the link itself and must not block.
	OnLink func(ctx context.Context, r Request)
}

// Manager makes links and serves the page.
type Manager struct {
	store Store
	opts  Options
	log   *slog.Logger

	// A link is a vault write: each tenant may make at most linkBurst at
	// once and linkRate a minute after that, so a caller looping on a
	// tool cannot fill the vault with pending links.
	mu      sync.Mutex
	buckets map[string]*bucket
}

// Link budget per tenant.
const (
	linkBurst = 30
	linkRate  = 30 // per minute
)

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// ErrTooManyLinks is returned by Link when the tenant made too many links
// in the last minute.
var ErrTooManyLinks = errors.New("key entry: too many links for this tenant; try again in a minute")

// allow takes a token of tenant's bucket.
func (m *Manager) allow(tenant string) bool {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[tenant]
	if b == nil {
		if len(m.buckets) >= 10000 {
			clear(m.buckets) // tenants come and go; start over rather than grow
		}
		b = &bucket{tokens: linkBurst, last: now}
		m.buckets[tenant] = b
	}
	b.tokens = min(linkBurst, b.tokens+now.Sub(b.last).Minutes()*linkRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// New returns a Manager over st.
func New(st Store, o Options) *Manager {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: st, opts: o, log: o.Logger, buckets: map[string]*bucket{}}
}

// TTL is how long a new link works.
func (m *Manager) TTL() time.Duration { return m.opts.TTL }

// Request is who asks for which key, and what the page shows.
type Request struct {
	TenantID string
	// UserID is the caller's persistent id; "" for a guest, whose
	// SessionID the key is then kept in.
	UserID, SessionID string
	Provider          string
	// KeyName ("OpenWeatherMap API key") and Instructions (how to get
	// one) come from the tool's requirement.
	KeyName, Instructions string
	// Tool and Client name the tool that asked and the MCP client ("Claude").
	Tool, Client string
}

// ErrNoBaseURL is returned by Link when the Manager has no BaseURL.
var ErrNoBaseURL = errors.New("key entry: no base url for links")

// Link stores a new link for r and returns its URL.
func (m *Manager) Link(ctx context.Context, r Request) (string, error) {
	if m.opts.BaseURL == "" {
		return "", ErrNoBaseURL
	}
	if !m.allow(r.TenantID) {
		return "", ErrTooManyLinks
	}
	id, err := randomID()
	if err != nil {
		return "", err
	}
	now := m.opts.Now()
	err = m.store.PutAPIKeyLink(ctx, vault.APIKeyLink{
		ID: id, TenantID: r.TenantID, UserID: r.UserID, SessionID: r.SessionID, Provider: r.Provider,
		Tool: clip(printable(r.Tool), 100), Client: clip(printable(r.Client), 100),
		KeyName: clip(printable(r.KeyName), 200), Instructions: clip(printable(r.Instructions), 2000),
		CreatedAt: now, ExpiresAt: now.Add(m.opts.TTL),
	})
	if err != nil {
		return "", fmt.Errorf("store key link: %w", err)
	}
	m.log.InfoContext(ctx, "Key-entry link made", "tenant", r.TenantID, "provider", r.Provider, "guest", r.UserID == "")
	if m.opts.OnLink != nil {
		m.opts.OnLink(ctx, r)
	}
	return m.opts.BaseURL + Path(r.TenantID, id), nil
}

// Path is the path of link id of tenant.
func Path(tenant, id string) string {
	return "/" + url.PathEscape(tenant) + "/plexus-services/api-keys/entry/" + id
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("key entry: random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// printable drops control characters.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// page.html is the page's card; render puts it into
// frontend.OutsidePage, so it looks like the admin UI.
//
//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// contentSecurityPolicy allows the admin UI's stylesheet and icon and
// forms to this origin, nothing else.
var contentSecurityPolicy = frontend.OutsideCSP("'self'")

// view is what the template shows.
type view struct {
	Title                string
	Status, StatusText   string // "ok" or "bad", and its word
	Paragraphs           []string
	Form                 bool
	Client, Tenant, Tool string
	KeyName, Owner       string
	Instructions         []segment
	Expires, CSRF        string
	Error                string
}

// segment is a piece of the instructions: text, or a link.
type segment struct{ Text, URL string }

// urlRE finds web addresses in instructions.
var urlRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify splits instructions into text and https/http links (trailing
// punctuation stays text).
func linkify(s string) []segment {
	var out []segment
	for s != "" {
		loc := urlRE.FindStringIndex(s)
		if loc == nil {
			out = append(out, segment{Text: s})
			break
		}
		u := strings.TrimRight(s[loc[0]:loc[1]], ".,;:!?)")
		if loc[0] > 0 {
			out = append(out, segment{Text: s[:loc[0]]})
		}
		if p, err := url.Parse(u); err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" {
			out = append(out, segment{Text: u, URL: u})
		} else {
			out = append(out, segment{Text: u})
		}
		s = s[loc[0]+len(u):]
	}
	return out
}

func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Not no-referrer: the form's POST must carry the true Origin.
	// same-origin sends no Referer to any other site.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render writes v with status (rendered first, so a failure is a clean 500).
func render(w http.ResponseWriter, r *http.Request, status int, v view) {
	var buf bytes.Buffer
	ctx := templ.WithChildren(r.Context(), templ.FromGoHTML(pageTmpl, v))
	if err := frontend.OutsidePage(v.Title).Render(ctx, &buf); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setHeaders(w)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// message writes a page that only says something.
func message(w http.ResponseWriter, r *http.Request, status int, title string, paragraphs ...string) {
	render(w, r, status, view{Title: title, Paragraphs: paragraphs})
}

// csrfCookie holds the page's token (double submit); SameSite=Strict.
const csrfCookie = "plexus_key_csrf"

// maxForm bounds the POST body (a key is at most vault.MaxAPIKeyLen).
const maxForm = vault.MaxAPIKeyLen + 4<<10

// maxIDLen bounds a link id from the path.
const maxIDLen = 128

// ServeHTTP serves the page: GET/HEAD shows it, POST answers it, other
// methods get 405. The caller (mcpserver) has checked Host, Origin and
// that the tenant exists.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	if tenant == "" || id == "" || len(id) > maxIDLen || len(tenant) > 64 {
		message(w, r, http.StatusNotFound, "This link does not work", "This is not a Plexus key-entry link.")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m.show(w, r, tenant, id)
	case http.MethodPost:
		m.answer(w, r, tenant, id)
	default:
		w.Header().Set("Allow", "GET, POST")
		message(w, r, http.StatusMethodNotAllowed, "This link does not work", "This address only answers GET and POST requests.")
	}
}

// linkError writes the page for a link that cannot be used.
func (m *Manager) linkError(w http.ResponseWriter, r *http.Request, tenant string, err error) {
	switch {
	case errors.Is(err, vault.ErrExpired):
		message(w, r, http.StatusGone, "This link has expired",
			"Nothing was saved. Ask again in your chat to get a new link.")
	case errors.Is(err, vault.ErrNotFound):
		message(w, r, http.StatusNotFound, "This link does not work",
			"It is unknown or was already used. Nothing was saved. Ask again in your chat to get a new link.")
	default:
		m.log.ErrorContext(r.Context(), "Key-entry link", "tenant", tenant, "err", err)
		message(w, r, http.StatusInternalServerError, "Something went wrong",
			"Plexus could not read this link. Nothing was saved. Try again in a moment.")
	}
}

func (m *Manager) show(w http.ResponseWriter, r *http.Request, tenant, id string) {
	l, err := m.store.GetAPIKeyLink(r.Context(), tenant, id)
	if err != nil {
		m.linkError(w, r, tenant, err)
		return
	}
	csrf := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && validToken(ck.Value) {
		csrf = ck.Value
	} else if csrf, err = randomID(); err != nil {
		message(w, r, http.StatusInternalServerError, "Something went wrong", "Plexus could not prepare this page. Try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: cookiePath(tenant),
		MaxAge: int(m.opts.TTL / time.Second), HttpOnly: true, Secure: m.secure(), SameSite: http.SameSiteStrictMode,
	})
	render(w, r, http.StatusOK, m.formView(r.Context(), l, csrf, ""))
}

func (m *Manager) formView(ctx context.Context, l vault.APIKeyLink, csrf, problem string) view {
	v := view{
		Title:        "Enter your " + l.KeyName,
		Form:         true,
		Client:       l.Client,
		Tenant:       l.TenantID,
		Tool:         l.Tool,
		KeyName:      l.KeyName,
		Owner:        m.owner(ctx, l),
		Instructions: linkify(l.Instructions),
		Expires:      expiresIn(l.ExpiresAt.Sub(m.opts.Now())),
		CSRF:         csrf,
		Error:        problem,
	}
	if v.KeyName == "" {
		v.KeyName = l.Provider + " API key"
		v.Title = "Enter your " + v.KeyName
	}
	if v.Client == "" {
		v.Client = "Your AI assistant"
	}
	if t, err := m.store.GetTenant(ctx, l.TenantID); err == nil && t.Name != "" {
		v.Tenant = t.Name
	}
	return v
}

// owner says whose key it will be, for the page.
func (m *Manager) owner(ctx context.Context, l vault.APIKeyLink) string {
	if l.UserID == "" {
		return "this chat session only (you are not signed in to Plexus; it is forgotten when the session ends)"
	}
	u, err := m.store.GetUser(ctx, l.TenantID, l.UserID)
	switch {
	case err != nil:
		return "Plexus user " + l.UserID
	case u.HostUserID == vault.LocalOwnerHostUserID:
		return "you, the person using this computer"
	}
	return "Plexus user " + u.HostUserID
}

func cookiePath(tenant string) string {
	return "/" + url.PathEscape(tenant) + "/plexus-services/api-keys/entry/"
}

func (m *Manager) secure() bool { return strings.HasPrefix(m.opts.BaseURL, "https://") }

func expiresIn(d time.Duration) string {
	if n := int(math.Ceil(d.Minutes())); n > 1 {
		return fmt.Sprintf("in %d minutes", n)
	}
	return "in a minute"
}

// validToken checks a CSRF token's shape (what randomID makes).
func validToken(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sameOrigin reports whether a POST comes from a page of this origin:
// Sec-Fetch-Site, when sent, says same-origin; Origin, when sent, names
// the Host. (The CSRF token covers clients that send neither.)
func sameOrigin(r *http.Request) bool {
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

// keyForm is the page's POST, read.
type keyForm struct {
	Action string // "save" or "cancel"
	Key    string // trimmed
	CSRF   string
}

// parseKeyForm reads the page's form fields. A value that cannot be right
// comes back empty; the key is trimmed (pasted keys often end in a
// newline) and otherwise untouched.
func parseKeyForm(f url.Values) keyForm {
	k := keyForm{Action: f.Get("action"), Key: strings.TrimSpace(f.Get("api_key")), CSRF: f.Get("csrf")}
	if k.Action != "save" && k.Action != "cancel" {
		k.Action = ""
	}
	if !validToken(k.CSRF) {
		k.CSRF = ""
	}
	return k
}

func (m *Manager) answer(w http.ResponseWriter, r *http.Request, tenant, id string) {
	ctx := r.Context()
	log := m.log.With("tenant", tenant)
	if !sameOrigin(r) {
		log.WarnContext(ctx, "Key-entry answer from another site refused")
		message(w, r, http.StatusForbidden, "Not saved",
			"This answer did not come from the Plexus key-entry page. Open the link from your chat again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		message(w, r, http.StatusBadRequest, "Not saved",
			"This answer could not be read (a key is at most 8 KiB). Open the link from your chat again.")
		return
	}
	f := parseKeyForm(r.PostForm)
	ck, err := r.Cookie(csrfCookie)
	if err != nil || f.CSRF == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(f.CSRF)) != 1 {
		log.InfoContext(ctx, "Key-entry answer without the page's token")
		message(w, r, http.StatusForbidden, "Not saved",
			"This page has expired or was opened in another browser. Open the link from your chat again.")
		return
	}
	switch f.Action {
	case "cancel":
		if _, err := m.store.TakeAPIKeyLink(ctx, tenant, id); err != nil {
			m.linkError(w, r, tenant, err)
			return
		}
		log.InfoContext(ctx, "Key entry cancelled")
		message(w, r, http.StatusOK, "Nothing was saved",
			"You cancelled, and this link no longer works. If you change your mind, ask again in your chat.")
		return
	case "":
		message(w, r, http.StatusBadRequest, "Not saved", "Press Save key or Cancel.")
		return
	}
	if err := vault.ValidateAPIKeyValue(f.Key); err != nil {
		// The link stays usable; the key is not put back in the page.
		l, lerr := m.store.GetAPIKeyLink(ctx, tenant, id)
		if lerr != nil {
			m.linkError(w, r, tenant, lerr)
			return
		}
		render(w, r, http.StatusBadRequest, m.formView(ctx, l, f.CSRF, keyProblem(f.Key)))
		return
	}
	l, err := m.store.RedeemAPIKeyLink(ctx, tenant, id, []byte(f.Key))
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrOwnerGone):
		log.InfoContext(ctx, "Key entry for an owner that is gone")
		message(w, r, http.StatusConflict, "Not saved",
			"The chat session or Plexus user this key was for no longer exists. Start again from your chat.")
		return
	case errors.Is(err, vault.ErrExpired), errors.Is(err, vault.ErrNotFound):
		m.linkError(w, r, tenant, err)
		return
	default:
		log.ErrorContext(ctx, "Saving a key from the key-entry page", "err", err)
		message(w, r, http.StatusInternalServerError, "Something went wrong",
			"Plexus could not save the key. Nothing was saved. Try again in a moment.")
		return
	}
	log.InfoContext(ctx, "API key saved from the key-entry page", "provider", l.Provider, "user", l.UserID, "guest", l.UserID == "")
	client := l.Client
	if client == "" {
		client = "your AI assistant"
	}
	again := "Go back to your chat and ask " + client + " to try again."
	if l.Tool != "" {
		again += " The " + l.Tool + " tool can use your key now."
	}
	render(w, r, http.StatusOK, view{Title: "Key saved", Status: "ok", StatusText: "Saved", Paragraphs: []string{again,
		"Plexus keeps the key locked on this computer. You can replace or delete it in the Plexus window, under Connections & keys."}})
}

// keyProblem says what is wrong with a typed key, in plain words, without
// quoting it.
func keyProblem(key string) string {
	switch {
	case strings.TrimSpace(key) == "":
		return "The field was empty. Paste your key, then press Save key."
	case len(key) > vault.MaxAPIKeyLen:
		return "This is longer than any key Plexus accepts (8 KiB). Check that you copied only the key."
	}
	return "A key is one line of text without tabs or line breaks. Copy it again and paste only the key."
}
