package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// countingStore counts writes of credentials and session values, so tests
// can say "nothing stored".
type countingStore struct {
	Store
	writes atomic.Int64
}

func (c *countingStore) PutCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte) error {
	c.writes.Add(1)
	return c.Store.PutCredential(ctx, tenantID, userID, kind, provider, value)
}

func (c *countingStore) SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error {
	c.writes.Add(1)
	return c.Store.SetSessionValue(ctx, tenantID, sessionID, key, value)
}

// memStore is an in-memory Store for the fuzz test (fast, no fsync).
type memStore struct {
	mu        sync.Mutex
	providers map[string]vault.OAuthProvider
	creds     map[string][]byte
	states    map[string]vault.OAuthState
	values    map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{
		providers: map[string]vault.OAuthProvider{},
		creds:     map[string][]byte{},
		states:    map[string]vault.OAuthState{},
		values:    map[string][]byte{},
	}
}

func (s *memStore) GetOAuthProvider(_ context.Context, tenantID, name string) (vault.OAuthProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[tenantID+"|"+name]
	if !ok {
		return p, vault.ErrNotFound
	}
	return p, nil
}

func (s *memStore) PutCredential(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[tenantID+"|"+userID+"|"+string(kind)+"|"+provider] = bytes.Clone(value)
	return nil
}

func (s *memStore) GetCredential(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.creds[tenantID+"|"+userID+"|"+string(kind)+"|"+provider]
	if !ok {
		return nil, vault.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (s *memStore) DeleteCredential(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tenantID + "|" + userID + "|" + string(kind) + "|" + provider
	if _, ok := s.creds[k]; !ok {
		return vault.ErrNotFound
	}
	delete(s.creds, k)
	return nil
}

func (s *memStore) ListCredentials(_ context.Context, tenantID, userID string) ([]vault.CredentialInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []vault.CredentialInfo
	for k := range s.creds {
		f := strings.Split(k, "|")
		if f[0] == tenantID && (userID == "" || f[1] == userID) {
			out = append(out, vault.CredentialInfo{TenantID: f[0], UserID: f[1], Kind: vault.CredentialKind(f[2]), Provider: f[3]})
		}
	}
	return out, nil
}

func (s *memStore) PutOAuthState(_ context.Context, st vault.OAuthState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.states[st.State]; ok {
		return vault.ErrExists
	}
	s.states[st.State] = st
	return nil
}

func (s *memStore) TakeOAuthState(_ context.Context, state string) (vault.OAuthState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[state]
	if !ok {
		return st, vault.ErrNotFound
	}
	delete(s.states, state)
	if time.Now().After(st.ExpiresAt) {
		return vault.OAuthState{}, vault.ErrExpired
	}
	return st, nil
}

func (s *memStore) SetSessionValue(_ context.Context, tenantID, sessionID, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[tenantID+"|"+sessionID+"|"+key] = bytes.Clone(value)
	return nil
}

func (s *memStore) GetSessionValue(_ context.Context, tenantID, sessionID, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[tenantID+"|"+sessionID+"|"+key]
	if !ok {
		return nil, vault.ErrNotFound
	}
	return bytes.Clone(v), nil
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a daemon-like setup: a vault with tenants acme and globex, users,
// guest sessions, a fake provider registered as "gh" (and "other") in both
// tenants, a Manager and an httptest server routing the callback.
type env struct {
	t      testing.TB
	v      *vault.Vault // nil when running on memStore
	store  *countingStore
	fake   *oauthtest.Provider
	other  *oauthtest.Provider
	m      *Manager
	mux    *http.ServeMux
	srv    *httptest.Server
	logs   *syncBuffer
	mu     sync.Mutex
	seen   []string // codes and states handed out, which must never reach the logs
	user   Owner    // acme, registered
	user2  Owner    // acme, another registered user
	guest  Owner    // acme guest, session g1
	guest2 Owner    // acme guest, session g2
	xuser  Owner    // globex, registered
}

type envConfig struct {
	fakeOpts []oauthtest.Option
	resource string
	preset   string
	mem      bool
	path     string
	keyring  *vaulttest.Keyring
}

type envOption func(*envConfig)

func withFake(opts ...oauthtest.Option) envOption {
	return func(c *envConfig) { c.fakeOpts = append(c.fakeOpts, opts...) }
}
func withResource(r string) envOption { return func(c *envConfig) { c.resource = r } }
func withPreset(p string) envOption   { return func(c *envConfig) { c.preset = p } }
func withMemStore() envOption         { return func(c *envConfig) { c.mem = true } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	ctx := t.Context()
	e := &env{t: t, logs: &syncBuffer{}}
	e.fake = oauthtest.New(t, cfg.fakeOpts...)
	e.other = oauthtest.New(t, oauthtest.WithClient("other-client", "other-secret"))
	e.mux = http.NewServeMux()
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)

	var base Store
	if cfg.mem {
		ms := newMemStore()
		base = ms
		e.user = Owner{TenantID: "acme", UserID: "u-alice"}
		e.user2 = Owner{TenantID: "acme", UserID: "u-bob"}
		e.xuser = Owner{TenantID: "globex", UserID: "u-carol"}
		for _, tenant := range []string{"acme", "globex"} {
			p := e.fake.OAuthProvider(tenant, "gh", "read:user")
			p.Resource = cfg.resource
			p.Preset = cfg.preset
			ms.providers[tenant+"|gh"] = p
			ms.providers[tenant+"|other"] = e.other.OAuthProvider(tenant, "other", "read")
		}
	} else {
		path := cfg.path
		if path == "" {
			path = filepath.Join(t.TempDir(), "plexus.db")
		}
		kr := cfg.keyring
		if kr == nil {
			kr = vaulttest.NewKeyring()
		}
		e.v = vaulttest.NewAt(t, path, kr)
		base = e.v
		for _, tenant := range []string{"acme", "globex"} {
			if _, err := e.v.CreateTenant(ctx, vault.Tenant{ID: tenant, Name: tenant}); err != nil {
				t.Fatalf("create tenant: %v", err)
			}
			p := e.fake.OAuthProvider(tenant, "gh", "read:user")
			p.Resource = cfg.resource
			p.Preset = cfg.preset
			if _, err := e.v.CreateOAuthProvider(ctx, p); err != nil {
				t.Fatalf("create provider: %v", err)
			}
			if _, err := e.v.CreateOAuthProvider(ctx, e.other.OAuthProvider(tenant, "other", "read")); err != nil {
				t.Fatalf("create provider: %v", err)
			}
		}
		mkUser := func(tenant, host string) Owner {
			u, _, err := e.v.EnsureUser(ctx, tenant, host)
			if err != nil {
				t.Fatalf("ensure user: %v", err)
			}
			return Owner{TenantID: tenant, UserID: u.ID}
		}
		e.user, e.user2, e.xuser = mkUser("acme", "alice"), mkUser("acme", "bob"), mkUser("globex", "carol")
		now := time.Now()
		for _, sid := range []string{"g1", "g2"} {
			if err := e.v.CreateSession(ctx, vault.Session{ID: sid, TenantID: "acme", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatalf("create session: %v", err)
			}
		}
	}
	e.guest = Owner{TenantID: "acme", SessionID: "g1"}
	e.guest2 = Owner{TenantID: "acme", SessionID: "g2"}
	e.store = &countingStore{Store: base}
	e.m = e.newManager()
	e.mux.HandleFunc(CallbackPattern, e.m.HandleCallback)
	t.Cleanup(func() { e.checkLogs() })
	return e
}

func (e *env) newManager(opts ...Option) *Manager {
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewManager(e.store, append([]Option{WithBaseURL(e.srv.URL), WithLogger(logger)}, opts...)...)
	m.retryBase, m.retryCap = time.Millisecond, 5*time.Millisecond
	return m
}

func (e *env) checkLogs() {
	logs := e.logs.String()
	for _, s := range e.seenSecrets() {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("a secret reached the logs")
		}
	}
}

func (e *env) seenSecrets() []string {
	var out []string
	for _, o := range []Owner{e.user, e.user2, e.guest, e.guest2, e.xuser} {
		for _, p := range []string{"gh", "other"} {
			ts, err := e.m.load(context.Background(), o, p)
			if err == nil {
				out = append(out, ts.AccessToken, ts.RefreshToken)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append(append(out, e.seen...), e.fake.ClientSecret, e.other.ClientSecret)
}

// authURL starts an authorization.
func (e *env) authURL(o Owner, provider string, scopes []string) string {
	e.t.Helper()
	u, err := e.m.AuthorizationURL(e.t.Context(), o, provider, scopes)
	if err != nil {
		e.t.Fatalf("AuthorizationURL: %v", err)
	}
	return u
}

// authorize starts an authorization and consents at the fake, returning
// the callback URL; code and state are remembered for the log check.
func (e *env) authorize(o Owner, provider string, scopes []string) string {
	e.t.Helper()
	fake := e.fake
	if provider == "other" {
		fake = e.other
	}
	cb := fake.Authorize(e.t, e.authURL(o, provider, scopes))
	if u, err := url.Parse(cb); err == nil {
		e.mu.Lock()
		e.seen = append(e.seen, u.Query().Get("code"), u.Query().Get("state"))
		e.mu.Unlock()
	}
	return cb
}

// get performs a browser GET of a callback URL (redirects not followed).
func (e *env) get(rawURL string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET callback: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// connect runs the whole consent flow for o at provider "gh".
func (e *env) connect(o Owner) {
	e.t.Helper()
	cb := e.authorize(o, "gh", nil)
	status, body, _ := e.get(cb)
	if status != http.StatusOK || !strings.Contains(body, "Connected to gh. You can go back to your chat.") {
		e.t.Fatalf("callback: status %d, body %q", status, body)
	}
}

// whoami calls the fake's /api/user through the owner's client.
func (e *env) whoami(o Owner) (string, error) {
	e.t.Helper()
	c, err := e.m.Client(e.t.Context(), o, "gh", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Get(e.fake.UserinfoURL())
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var u struct{ Login string }
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		return "", err
	}
	return u.Login, nil
}

func (e *env) stored(o Owner) (tokenSet, error) {
	return e.m.load(e.t.Context(), o, "gh")
}

func (e *env) mustStored(o Owner) tokenSet {
	e.t.Helper()
	ts, err := e.stored(o)
	if err != nil {
		e.t.Fatalf("load stored token: %v", err)
	}
	return ts
}

// setExpiry rewrites the stored token's expiry (to force a proactive refresh).
func (e *env) setExpiry(o Owner, at time.Time) {
	e.t.Helper()
	ts := e.mustStored(o)
	ts.Expiry = at
	if err := e.m.save(e.t.Context(), o, "gh", ts); err != nil {
		e.t.Fatalf("save: %v", err)
	}
}

func (e *env) assertNothingStored(o Owner) {
	e.t.Helper()
	if _, err := e.stored(o); !errors.Is(err, vault.ErrNotFound) {
		e.t.Fatalf("expected no stored token, got err=%v", err)
	}
}

// callbackURL rewrites a callback URL's path to tenant/provider.
func (e *env) callbackURL(cb, tenant, provider string) string {
	u, err := url.Parse(cb)
	if err != nil {
		e.t.Fatalf("parse callback: %v", err)
	}
	u.Path = "/" + tenant + "/oauth/external_callback/" + provider
	return u.String()
}

// isConsent reports a consent-required error.
func isConsent(err error) bool { return errors.Is(err, ErrConsentRequired) }
