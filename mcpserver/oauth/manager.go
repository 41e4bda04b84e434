// Package oauth connects Plexus users to external OAuth 2.1 providers
// (GitHub, Google, Slack, Microsoft, internal IdPs): the consent page, the
// authorization code + PKCE (S256) flow with single-use expiring state
// bound to the browser that approved, the callback endpoint, sealed token
// storage, refresh before expiry with rotation, one refresh and retry on
// 401, backoff on 429/5xx, and disconnect with revocation.
//
// # Where secrets go
//
// A tool result never carries a provider's URL: it links to Plexus's
// consent page (ConsentURL), single-use and expiring, which names the
// tenant, user, tool, provider, scopes and the host the browser will be
// sent to. Approve (a POST with a per-page CSRF token) sets a short-lived
// HttpOnly, SameSite=Lax cookie bound to the new state and redirects to
// the provider; the callback refuses a request without that cookie, so
// the flow completes only in the browser that approved (RFC 9700 §4.7).
//
// An access token is sent only to its provider's API origins
// (vault.OAuthProvider.APIOrigins, egress.Guard): a request elsewhere is
// refused naming the origin, and a redirect leaving the origin or going
// from https to http is not followed. Token, refresh and revocation
// requests never follow redirects at all (egress.NoRedirects), so a code,
// PKCE verifier, refresh token or client secret never reaches another
// origin.
//
// Refresh, disconnect and consent for one owner and provider take one
// lock and save with compare-and-swap on the stored version, so none
// overwrites another, and a provider removed or re-pointed meanwhile (the
// vault drops its connections) stays without them.
//
// It owns the OAuth token-set format stored in the vault (kind "oauth") and
// in guests' sessions (key "oauth:<provider>"). It must never log or return
// in errors an authorization code, token, PKCE verifier, client secret or a
// callback URL's query.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Store is what the engine needs from the vault; *vault.Vault satisfies it.
type Store interface {
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	GetUser(ctx context.Context, tenantID, userID string) (vault.User, error)
	GetSession(ctx context.Context, tenantID, id string) (vault.Session, error)
	GetOAuthProvider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error)
	GetCredentialVersion(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, uint64, error)
	PutCredentialIf(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte, expected uint64) (uint64, error)
	DeleteCredentialIf(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, expected uint64) error
	ListCredentials(ctx context.Context, tenantID, userID string) ([]vault.CredentialInfo, error)
	PutOAuthConsent(ctx context.Context, c vault.OAuthConsent) error
	GetOAuthConsent(ctx context.Context, id string) (vault.OAuthConsent, error)
	TakeOAuthConsent(ctx context.Context, id string) (vault.OAuthConsent, error)
	PutOAuthState(ctx context.Context, s vault.OAuthState) error
	TakeOAuthState(ctx context.Context, state, browser string) (vault.OAuthState, error)
	GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error)
	SwapSessionValue(ctx context.Context, tenantID, sessionID, key string, old, value []byte) error
}

// Patterns of the routes HandleCallback and HandleConsent expect to be
// mounted under (they read the "tenant", "provider" and "id" path values).
const (
	CallbackPattern    = "GET /{tenant}/oauth/external_callback/{provider}"
	ConsentPattern     = "GET /{tenant}/oauth/consent/{id}"
	ConsentPostPattern = "POST /{tenant}/oauth/consent/{id}"
)

// Defaults.
const (
	defaultStateTTL   = 10 * time.Minute
	refreshLeeway     = 60 * time.Second // refresh when the token expires within this
	defaultRetryBase  = 200 * time.Millisecond
	defaultRetryCap   = 5 * time.Second
	maxRetryAfter     = 30 * time.Second
	maxTransientRetry = 3
)

// Manager runs the flows. Safe for concurrent use.
type Manager struct {
	store    Store
	http     *http.Client // base of API clients (its Transport)
	tokens   *http.Client // token, refresh, revocation: never follows redirects
	now      func() time.Time
	log      *slog.Logger
	baseURL  string
	stateTTL time.Duration

	onConnect func(ctx context.Context, o Owner, provider string)
	onConsent func(ctx context.Context, req ConsentRequest)

	// retry policy (tests shorten it)
	retryBase time.Duration
	retryCap  time.Duration

	mu    sync.Mutex
	locks map[string]*ownerLock // single-flight refresh per owner+provider
}

type ownerLock struct {
	held chan struct{} // one slot: the lock
	refs int
}

// Option configures a Manager.
type Option func(*Manager)

// WithHTTPClient sets the client used to reach providers' token and
// revocation endpoints (default: a client with a 30s timeout); whatever its
// CheckRedirect, those requests never follow redirects. Its Transport is
// also the base transport of the clients Client returns.
func WithHTTPClient(c *http.Client) Option { return func(m *Manager) { m.http = c } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithLogger sets the logger (tokens and codes are never logged).
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithBaseURL sets the daemon's external base URL (e.g.
// http://127.0.0.1:8765), from which redirect_uri is built as
// <base>/<tenant>/oauth/external_callback/<provider>.
func WithBaseURL(u string) Option {
	return func(m *Manager) { m.baseURL = strings.TrimRight(u, "/") }
}

// WithStateTTL sets how long a consent link, and then the authorization it
// starts, stay valid (default 10m each).
func WithStateTTL(d time.Duration) Option { return func(m *Manager) { m.stateTTL = d } }

// WithConnectHook sets a function called (synchronously, after the tokens
// are stored) each time the callback connects an owner to a provider, so a
// waiting tool call or upstream can resume at once instead of polling.
func WithConnectHook(f func(ctx context.Context, o Owner, provider string)) Option {
	return func(m *Manager) { m.onConnect = f }
}

// WithConsentHook sets a function called (synchronously, after the link
// is stored) each time ConsentURL makes a consent link, with the request
// it was made for (never the link), so the desktop window can tell the
// person that a consent waits. It must not block.
func WithConsentHook(f func(ctx context.Context, req ConsentRequest)) Option {
	return func(m *Manager) { m.onConsent = f }
}

// NewManager returns a Manager over store.
func NewManager(store Store, opts ...Option) *Manager {
	m := &Manager{
		store:     store,
		http:      &http.Client{Timeout: 30 * time.Second},
		now:       time.Now,
		log:       slog.Default(),
		stateTTL:  defaultStateTTL,
		retryBase: defaultRetryBase,
		retryCap:  defaultRetryCap,
		locks:     map[string]*ownerLock{},
	}
	for _, o := range opts {
		o(m)
	}
	if m.http == nil {
		m.http = &http.Client{Timeout: 30 * time.Second}
	}
	m.tokens = egress.NoRedirects(m.http)
	if m.stateTTL <= 0 {
		m.stateTTL = defaultStateTTL
	}
	return m
}

// RedirectURL is the redirect_uri registered at the provider for tenant's
// provider: <base>/<tenant>/oauth/external_callback/<provider>.
func (m *Manager) RedirectURL(tenantID, provider string) string {
	return m.baseURL + "/" + url.PathEscape(tenantID) + "/oauth/external_callback/" + url.PathEscape(provider)
}

// provider loads a tenant's provider; a missing one wraps ErrUnknownProvider.
func (m *Manager) provider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error) {
	p, err := m.store.GetOAuthProvider(ctx, tenantID, name)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.OAuthProvider{}, fmt.Errorf("provider %q of tenant %q: %w", name, tenantID, ErrUnknownProvider)
	}
	if errors.Is(err, vault.ErrDecrypt) {
		return vault.OAuthProvider{}, fmt.Errorf("provider %q of tenant %q: its client secret does not open because its endpoints, "+
			"client id or API origins were changed outside Plexus; an administrator must set the client secret again "+
			"(plexus admin ext-oauth update --client-secret -): %w", name, tenantID, err)
	}
	if err != nil {
		return vault.OAuthProvider{}, fmt.Errorf("load provider %q: %w", name, err)
	}
	return p, nil
}

// config is the x/oauth2 view of a provider.
func (m *Manager) config(p vault.OAuthProvider, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthorizationURL, TokenURL: p.TokenURL},
		RedirectURL:  m.RedirectURL(p.TenantID, p.Name),
		Scopes:       scopes,
	}
}

// tokenContext carries the HTTP client x/oauth2 uses for token requests:
// it never follows a redirect (egress.NoRedirects: a 3xx is an error, so
// the code, verifier, refresh token and client secret go nowhere else); it
// adds the RFC 8707 resource parameter to every token request, refreshes
// included (x/oauth2 cannot add parameters to a refresh), and for the slack
// preset rewrites Slack's token answers (slack.go).
func (m *Manager) tokenContext(ctx context.Context, p vault.OAuthProvider) context.Context {
	c := m.tokens
	if p.Resource != "" || p.Preset == slackPreset {
		tr := m.tokens.Transport
		if p.Resource != "" {
			tr = resourceTransport{base: tr, tokenURL: p.TokenURL, resource: p.Resource}
		}
		if p.Preset == slackPreset {
			tr = slackTransport{base: tr, tokenURL: p.TokenURL}
		}
		c = &http.Client{
			Timeout:       m.tokens.Timeout,
			CheckRedirect: m.tokens.CheckRedirect,
			Transport:     tr,
		}
	}
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// lockOwner serialises refresh, consent and disconnect of one owner's
// token for one provider. It gives up when ctx ends (a refresh in flight
// holds the lock for at most refreshTimeout).
func (m *Manager) lockOwner(ctx context.Context, o Owner, provider string) (unlock func(), err error) {
	key := ownerKey(o) + "\x00" + provider
	m.mu.Lock()
	l := m.locks[key]
	if l == nil {
		l = &ownerLock{held: make(chan struct{}, 1)}
		m.locks[key] = l
	}
	l.refs++
	m.mu.Unlock()
	release := func() {
		m.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("wait for another change of the %q connection: %w", provider, ctx.Err())
	}
	return func() {
		<-l.held
		release()
	}, nil
}

func ownerKey(o Owner) string {
	if o.UserID != "" {
		return o.TenantID + "\x00u\x00" + o.UserID
	}
	return o.TenantID + "\x00s\x00" + o.SessionID
}

func validOwner(o Owner) error {
	switch {
	case o.TenantID == "":
		return fmt.Errorf("owner: tenant id: %w", vault.ErrInvalid)
	case o.UserID == "" && o.SessionID == "":
		return fmt.Errorf("owner: a guest needs a session id: %w", vault.ErrInvalid)
	}
	return nil
}

// redactURL drops query, fragment and userinfo, for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}

// redactErr hides the query of URLs inside *url.Error chains, for logs.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}
