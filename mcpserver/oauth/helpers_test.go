package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

func (c *countingStore) PutCredentialIf(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte, expected uint64) (uint64, error) {
	c.writes.Add(1)
	return c.Store.PutCredentialIf(ctx, tenantID, userID, kind, provider, value, expected)
}

func (c *countingStore) SwapSessionValue(ctx context.Context, tenantID, sessionID, key string, old, value []byte) error {
	c.writes.Add(1)
	return c.Store.SwapSessionValue(ctx, tenantID, sessionID, key, old, value)
}

// memStore is an in-memory Store for the fuzz tests (fast, no fsync).
type memStore struct {
	mu        sync.Mutex
	seq       uint64
	providers map[string]vault.OAuthProvider
	creds     map[string]memCred
	states    map[string]vault.OAuthState
	consents  map[string]vault.OAuthConsent
	values    map[string][]byte
}

type memCred struct {
	val []byte
	ver uint64
}

func newMemStore() *memStore {
	return &memStore{
		providers: map[string]vault.OAuthProvider{},
		creds:     map[string]memCred{},
		states:    map[string]vault.OAuthState{},
		consents:  map[string]vault.OAuthConsent{},
		values:    map[string][]byte{},
	}
}

func (s *memStore) GetTenant(_ context.Context, id string) (vault.Tenant, error) {
	if id != "acme" && id != "globex" {
		return vault.Tenant{}, vault.ErrNotFound
	}
	return vault.Tenant{ID: id, Name: id}, nil
}

func (s *memStore) GetUser(_ context.Context, tenantID, userID string) (vault.User, error) {
	if !strings.HasPrefix(userID, "u-") {
		return vault.User{}, vault.ErrNotFound
	}
	return vault.User{TenantID: tenantID, ID: userID, HostUserID: strings.TrimPrefix(userID, "u-")}, nil
}

func (s *memStore) GetSession(_ context.Context, tenantID, id string) (vault.Session, error) {
	if id != "g1" && id != "g2" {
		return vault.Session{}, vault.ErrNotFound
	}
	return vault.Session{ID: id, TenantID: tenantID}, nil
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

func credKey(tenantID, userID string, kind vault.CredentialKind, provider string) string {
	return tenantID + "|" + userID + "|" + string(kind) + "|" + provider
}

func (s *memStore) GetCredentialVersion(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[credKey(tenantID, userID, kind, provider)]
	if !ok {
		return nil, 0, vault.ErrNotFound
	}
	return bytes.Clone(c.val), c.ver, nil
}

func (s *memStore) PutCredentialIf(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte, expected uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := credKey(tenantID, userID, kind, provider)
	if s.creds[k].ver != expected {
		return 0, vault.ErrConflict
	}
	s.seq++
	s.creds[k] = memCred{val: bytes.Clone(value), ver: s.seq}
	return s.seq, nil
}

func (s *memStore) DeleteCredentialIf(_ context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, expected uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := credKey(tenantID, userID, kind, provider)
	c, ok := s.creds[k]
	switch {
	case !ok:
		return vault.ErrNotFound
	case c.ver != expected:
		return vault.ErrConflict
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

func (s *memStore) PutOAuthConsent(_ context.Context, c vault.OAuthConsent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consents[c.ID]; ok {
		return vault.ErrExists
	}
	s.consents[c.ID] = c
	return nil
}

func (s *memStore) GetOAuthConsent(_ context.Context, id string) (vault.OAuthConsent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[id]
	if !ok {
		return c, vault.ErrNotFound
	}
	if time.Now().After(c.ExpiresAt) {
		return vault.OAuthConsent{}, vault.ErrExpired
	}
	return c, nil
}

func (s *memStore) TakeOAuthConsent(ctx context.Context, id string) (vault.OAuthConsent, error) {
	c, err := s.GetOAuthConsent(ctx, id)
	s.mu.Lock()
	delete(s.consents, id)
	s.mu.Unlock()
	return c, err
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

func (s *memStore) TakeOAuthState(_ context.Context, state, browser string) (vault.OAuthState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[state]
	if !ok {
		return st, vault.ErrNotFound
	}
	if time.Now().After(st.ExpiresAt) {
		delete(s.states, state)
		return vault.OAuthState{}, vault.ErrExpired
	}
	if st.Browser != browser {
		return vault.OAuthState{}, vault.ErrBrowserMismatch
	}
	delete(s.states, state)
	return st, nil
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

func (s *memStore) SwapSessionValue(_ context.Context, tenantID, sessionID, key string, old, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tenantID + "|" + sessionID + "|" + key
	cur, ok := s.values[k]
	if ok != (old != nil) || ok && !bytes.Equal(cur, old) {
		return vault.ErrConflict
	}
	if value == nil {
		delete(s.values, k)
	} else {
		s.values[k] = bytes.Clone(value)
	}
	return nil
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
	t       testing.TB
	v       *vault.Vault // nil when running on memStore
	store   *countingStore
	browser *oauthtest.Browser // the person's browser: consent page, provider, callback
	fake    *oauthtest.Provider
	other   *oauthtest.Provider
	m       *Manager
	mux     *http.ServeMux
	srv     *httptest.Server
	logs    *syncBuffer
	mu      sync.Mutex
	seen    []string // codes and states handed out, which must never reach the logs
	user    Owner    // acme, registered
	user2   Owner    // acme, another registered user
	guest   Owner    // acme guest, session g1
	guest2  Owner    // acme guest, session g2
	xuser   Owner    // globex, registered
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
	e := &env{t: t, logs: &syncBuffer{}, browser: oauthtest.NewBrowser()}
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
	e.mux.HandleFunc(ConsentPattern, e.m.HandleConsent)
	e.mux.HandleFunc(ConsentPostPattern, e.m.HandleConsent)
	t.Cleanup(func() { e.checkLogs() })
	return e
}

// serve mounts m's consent page and callback on a new server, whose URL
// becomes m's base URL (so its consent links and redirect URLs point there).
func (e *env) serve(m *Manager) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(CallbackPattern, m.HandleCallback)
	mux.HandleFunc(ConsentPattern, m.HandleConsent)
	mux.HandleFunc(ConsentPostPattern, m.HandleConsent)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	m.baseURL = srv.URL
	return srv
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
			st, err := e.m.load(context.Background(), o, p, "")
			if err == nil {
				out = append(out, st.ts.AccessToken, st.ts.RefreshToken)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append(append(out, e.seen...), e.fake.ClientSecret, e.other.ClientSecret)
}

// consentURL makes a consent link (what a tool result carries).
func (e *env) consentURL(m *Manager, o Owner, provider string, scopes []string) string {
	e.t.Helper()
	u, err := m.ConsentURL(e.t.Context(), ConsentRequest{Owner: o, Provider: provider, Scopes: scopes, Tool: "test_tool", Client: "Test Client"})
	if err != nil {
		e.t.Fatalf("ConsentURL: %v", err)
	}
	e.mu.Lock()
	e.seen = append(e.seen, u[strings.LastIndex(u, "/")+1:])
	e.mu.Unlock()
	return u
}

// authURLWith starts an authorization with m as the person would: the
// consent link, Approve in e.browser; it returns the provider URL.
func (e *env) authURLWith(m *Manager, o Owner, provider string, scopes []string) string {
	e.t.Helper()
	return e.browser.Approve(e.t, e.consentURL(m, o, provider, scopes))
}

// authURL starts an authorization with e.m.
func (e *env) authURL(o Owner, provider string, scopes []string) string {
	e.t.Helper()
	return e.authURLWith(e.m, o, provider, scopes)
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

// get performs a GET in the person's browser (redirects not followed).
func (e *env) get(rawURL string) (int, string, http.Header) {
	e.t.Helper()
	status, body, h, err := e.browser.Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET: %v", err)
	}
	return status, body, h
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
	st, err := e.m.load(e.t.Context(), o, "gh", e.binding())
	return st.ts, err
}

// binding is the current Binding of acme's provider gh.
func (e *env) binding() string {
	p, err := e.store.GetOAuthProvider(e.t.Context(), "acme", "gh")
	if err != nil {
		return ""
	}
	return p.Binding()
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
	st, err := e.m.load(e.t.Context(), o, "gh", e.binding())
	if err != nil {
		e.t.Fatalf("load: %v", err)
	}
	ts := st.ts
	ts.Expiry = at
	if _, err := e.m.save(e.t.Context(), o, "gh", e.binding(), st, ts); err != nil {
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
