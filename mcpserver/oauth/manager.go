// Package oauth connects Plexus users to external OAuth 2.1 providers
// (GitHub, Google, Slack, Microsoft, internal IdPs): authorization code +
// PKCE (S256) with single-use expiring state, the callback endpoint, sealed
// token storage, refresh before expiry with rotation, one refresh and retry
// on 401, backoff on 429/5xx, and disconnect with revocation.
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
)

// Store is what the engine needs from the vault.
type Store interface {
	GetOAuthProvider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error)
	PutCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte) error
	GetCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, error)
	DeleteCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) error
	ListCredentials(ctx context.Context, tenantID, userID string) ([]vault.CredentialInfo, error)
	PutOAuthState(ctx context.Context, s vault.OAuthState) error
	TakeOAuthState(ctx context.Context, state string) (vault.OAuthState, error)
	SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error
	GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error)
}

// CallbackPattern is the http.ServeMux pattern HandleCallback expects to be
// mounted under (it reads the "tenant" and "provider" path values).
const CallbackPattern = "GET /{tenant}/oauth/external_callback/{provider}"

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
	http     *http.Client
	now      func() time.Time
	log      *slog.Logger
	baseURL  string
	stateTTL time.Duration

	onConnect func(ctx context.Context, o Owner, provider string)

	// retry policy (tests shorten it)
	retryBase time.Duration
	retryCap  time.Duration

	mu    sync.Mutex
	locks map[string]*ownerLock // single-flight refresh per owner+provider
}

type ownerLock struct {
	mu   sync.Mutex
	refs int
}

// Option configures a Manager.
type Option func(*Manager)

// WithHTTPClient sets the client used to reach providers' token and
// revocation endpoints (default: a client with a 30s timeout). Its
// Transport is also the base transport of the clients Client returns.
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

// WithStateTTL sets how long an authorization URL stays valid (default 10m).
func WithStateTTL(d time.Duration) Option { return func(m *Manager) { m.stateTTL = d } }

// WithConnectHook sets a function called (synchronously, after the tokens
// are stored) each time the callback connects an owner to a provider, so a
// waiting tool call or upstream can resume at once instead of polling.
func WithConnectHook(f func(ctx context.Context, o Owner, provider string)) Option {
	return func(m *Manager) { m.onConnect = f }
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

// tokenContext carries the HTTP client x/oauth2 uses for token requests;
// it adds the RFC 8707 resource parameter to every token request, refreshes
// included (x/oauth2 cannot add parameters to a refresh), and for the slack
// preset rewrites Slack's token answers (slack.go).
func (m *Manager) tokenContext(ctx context.Context, p vault.OAuthProvider) context.Context {
	c := m.http
	if p.Resource != "" || p.Preset == slackPreset {
		tr := m.http.Transport
		if p.Resource != "" {
			tr = resourceTransport{base: tr, tokenURL: p.TokenURL, resource: p.Resource}
		}
		if p.Preset == slackPreset {
			tr = slackTransport{base: tr, tokenURL: p.TokenURL}
		}
		c = &http.Client{
			Timeout:       m.http.Timeout,
			Jar:           m.http.Jar,
			CheckRedirect: m.http.CheckRedirect,
			Transport:     tr,
		}
	}
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// lockOwner serialises refreshes of one owner's token for one provider.
func (m *Manager) lockOwner(o Owner, provider string) (unlock func()) {
	key := ownerKey(o) + "\x00" + provider
	m.mu.Lock()
	l := m.locks[key]
	if l == nil {
		l = &ownerLock{}
		m.locks[key] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
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
