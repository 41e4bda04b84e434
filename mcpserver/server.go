// Package mcpserver serves Plexus's MCP endpoint: /{tenant}/mcp for every
// tenant in the vault (both protocol eras: 2025-11-25 and older with
// Mcp-Session-Id, GET SSE stream and DELETE; and the stateless 2026-07-28
// core), sessions persisted in the vault, who is calling (local token, user
// token, guest), and the host-app endpoint
// POST /{tenant}/plexus-auth/register-user.
//
// # Design
//
// Each tenant gets its own mcp-go MCPServer and StreamableHTTPServer, built
// lazily on its first request (after checking the tenant exists) from the
// tool registry (package tools), so tool names, list_changed notifications
// and serverInfo never leak across tenants. Before a request reaches mcp-go,
// the Server checks Host and Origin, bounds the body, authenticates the
// bearer token and validates the Mcp-Session-Id against the vault (mcp-go
// alone accepts any well-formed id, including after a restart or DELETE).
//
// # Caching and its bounds
//
// To keep tools/call free of disk writes, validated sessions are cached in
// memory; a session's last-seen time is written to the vault at most every
// max(TTL/10, 1m), so after a crash a session may expire up to that much
// early. A resolved user token is cached for 5 seconds: revoking a token
// takes effect within 5 seconds. A deleted tenant keeps being served from
// memory until ForgetTenant is called.
//
// This package never opens bbolt or the keyring itself (it uses the Store
// interface, which the vault satisfies) and never logs tokens, secrets,
// Authorization headers or session values.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/conformance"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// Store is the part of the vault the MCP endpoint needs. *vault.Vault
// satisfies it.
type Store interface {
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	CheckHostAppSecret(ctx context.Context, tenantID, presented string) (ok bool, err error)
	EnsureUser(ctx context.Context, tenantID, hostUserID string) (u vault.User, created bool, err error)
	IssueToken(ctx context.Context, tenantID, userID string, ttl time.Duration) (token string, info vault.TokenInfo, err error)
	ResolveToken(ctx context.Context, token string) (vault.TokenInfo, error)
	CreateSession(ctx context.Context, s vault.Session) error
	GetSession(ctx context.Context, tenantID, id string) (vault.Session, error)
	UpdateSession(ctx context.Context, tenantID, id string, fn func(*vault.Session) error) (vault.Session, error)
	DeleteSession(ctx context.Context, tenantID, id string) error
	SweepSessions(ctx context.Context, now time.Time) (int, error)
	SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error
	GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error)
}

var _ Store = (*vault.Vault)(nil)

// Defaults.
const (
	// DefaultSessionIdleTTL is how long an unused session lives.
	DefaultSessionIdleTTL = 24 * time.Hour
	// LocalOwnerHostUserID is the host user id of a tenant's local owner,
	// the user the stdio bridge (local token) acts as.
	LocalOwnerHostUserID = "plexus-local-owner"
	// maxMCPBody bounds an MCP POST body.
	maxMCPBody = 4 << 20
	// tokenCacheTTL bounds how long a resolved user token is trusted
	// without asking the store again (so revocation takes effect within it).
	tokenCacheTTL = 5 * time.Second
	// sweepInterval is how often Run sweeps expired sessions.
	sweepInterval = time.Minute
	// serverVersion is the serverInfo version.
	serverVersion = "0.1.0"
)

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock used for sessions and caches (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLocalToken sets the bearer token of the stdio bridge; a request
// carrying it acts as the tenant's local owner user.
func WithLocalToken(token string) Option { return func(s *Server) { s.localToken = token } }

// WithSessionIdleTTL sets the session idle TTL (default 24h): a session
// expires at last seen + TTL.
func WithSessionIdleTTL(d time.Duration) Option { return func(s *Server) { s.sessionTTL = d } }

// WithDefaultHostAppSecret sets the host-app registration secret
// (HOST_APP_REGISTRATION_SECRET) used for tenants without their own.
func WithDefaultHostAppSecret(secret string) Option {
	return func(s *Server) { s.defaultSecret = secret }
}

// WithUserTokenTTL sets the lifetime of tokens issued by register-user
// (default 0: no expiry, like MCP Plexus).
func WithUserTokenTTL(d time.Duration) Option { return func(s *Server) { s.userTokenTTL = d } }

// WithConformanceTenant gives tenant id the official MCP conformance suite's
// fixture tools, resources and prompts (package conformance). Test use only.
func WithConformanceTenant(id string) Option { return func(s *Server) { s.conformanceTenant = id } }

// WithRegistry sets the tool registry (default tools.NewRegistry(), which
// holds the built-in plexus_whoami).
func WithRegistry(r *tools.Registry) Option { return func(s *Server) { s.registry = r } }

// Server serves the MCP endpoint of every tenant. Create it with New, mount
// it with Routes, and run its background work with Run.
type Server struct {
	store             Store
	log               *slog.Logger
	now               func() time.Time
	localToken        string
	sessionTTL        time.Duration
	defaultSecret     string
	userTokenTTL      time.Duration
	conformanceTenant string
	registry          *tools.Registry
	values            tools.SessionStore

	mu      sync.RWMutex
	tenants map[string]*tenantServer

	sessions sessionCache
	tokens   tokenCache
	owners   ownerCache
}

// tenantServer is one tenant's MCP server and its HTTP transport.
type tenantServer struct {
	id   string
	mcp  *server.MCPServer
	http *server.StreamableHTTPServer
}

// New returns a Server over store.
func New(store Store, opts ...Option) *Server {
	s := &Server{
		store:      store,
		log:        slog.New(slog.DiscardHandler),
		now:        time.Now,
		sessionTTL: DefaultSessionIdleTTL,
		tenants:    make(map[string]*tenantServer),
	}
	for _, o := range opts {
		o(s)
	}
	if s.registry == nil {
		s.registry = tools.NewRegistry()
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = DefaultSessionIdleTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.values = valueStore{s.store}
	s.sessions.init()
	s.tokens.init()
	s.owners.init()
	return s
}

// Routes registers the MCP endpoint (/{tenant}/mcp and /{tenant}/mcp/, GET,
// POST and DELETE) and POST /{tenant}/plexus-auth/register-user on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mcpHandler := http.HandlerFunc(s.serveMCP)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		mux.Handle(m+" /{tenant}/mcp", mcpHandler)
		mux.Handle(m+" /{tenant}/mcp/{$}", mcpHandler)
	}
	mux.Handle("POST /{tenant}/plexus-auth/register-user", http.HandlerFunc(s.serveRegisterUser))
}

// ForgetTenant drops a (deleted) tenant's MCP server and everything cached
// for it: sessions, its local owner and its users' resolved tokens. Its
// open GET streams are closed.
func (s *Server) ForgetTenant(tenantID string) {
	s.mu.Lock()
	ts := s.tenants[tenantID]
	delete(s.tenants, tenantID)
	s.mu.Unlock()
	s.sessions.dropTenant(tenantID)
	s.tokens.dropTenant(tenantID)
	s.owners.drop(tenantID)
	if ts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.http.Shutdown(ctx); err != nil {
			s.log.Warn("Closing forgotten tenant's MCP server", "tenant", tenantID, "err", err)
		}
	}
}

// Run does the background work (sweeping expired sessions every minute)
// until ctx ends, then closes the open GET streams of every tenant (sessions
// stay in the vault). It returns nil when ctx ends.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.closeStreams()
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

// sweep removes expired sessions from the store and the caches.
func (s *Server) sweep(ctx context.Context) {
	now := s.now()
	n, err := s.store.SweepSessions(ctx, now)
	if err != nil {
		s.log.WarnContext(ctx, "Sweeping expired sessions", "err", err)
	} else if n > 0 {
		s.log.DebugContext(ctx, "Swept expired sessions", "count", n)
	}
	s.sessions.dropExpired(now, s.sessionTTL)
	s.tokens.dropStale(now)
}

func (s *Server) closeStreams() {
	s.mu.RLock()
	all := make([]*tenantServer, 0, len(s.tenants))
	for _, ts := range s.tenants {
		all = append(all, ts)
	}
	s.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ts := range all {
		ts.http.CloseSessions(ctx)
	}
}

// errUnknownTenant is returned by tenant for a tenant not in the store.
var errUnknownTenant = errors.New("unknown tenant")

// tenant returns the tenant's MCP server, building it on first use.
func (s *Server) tenant(ctx context.Context, id string) (*tenantServer, error) {
	s.mu.RLock()
	ts := s.tenants[id]
	s.mu.RUnlock()
	if ts != nil {
		return ts, nil
	}
	if _, err := s.store.GetTenant(ctx, id); err != nil {
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrInvalid) {
			return nil, fmt.Errorf("%w %q", errUnknownTenant, id)
		}
		return nil, fmt.Errorf("look up tenant %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.tenants[id]; ts != nil {
		return ts, nil
	}
	ts = s.newTenantServer(id)
	s.tenants[id] = ts
	return ts, nil
}

// newTenantServer builds a tenant's MCP server from the registry.
func (s *Server) newTenantServer(id string) *tenantServer {
	hooks := &server.Hooks{}
	hooks.AddAfterInitialize(func(ctx context.Context, _ any, _ *mcp.InitializeRequest, res *mcp.InitializeResult) {
		s.recordProtocol(ctx, id, res.ProtocolVersion)
	})
	opts := []server.ServerOption{
		server.WithToolCapabilities(true),
		server.WithRecovery(),
		server.WithHooks(hooks),
		server.WithToolFilter(s.registry.Filter(id)),
		server.WithLogging(),
	}
	conf := s.conformanceTenant != "" && id == s.conformanceTenant
	if conf {
		opts = append(opts, conformance.ServerOptions()...)
	}
	ms := server.NewMCPServer("plexus/"+id, serverVersion, opts...)
	for _, t := range s.registry.ForTenant(id) {
		ms.AddTool(t.Definition, t.Handler)
	}
	if conf {
		conformance.Register(ms)
	}
	hs := server.NewStreamableHTTPServer(ms,
		server.WithSessionIdManagerResolver(sessionResolver{s: s, tenant: id}),
		server.WithHTTPContextFunc(s.httpContext),
		server.WithStreamableHTTPLogger(s.log.With("tenant", id)),
		server.WithSessionIdleTTL(s.sessionTTL),
	)
	return &tenantServer{id: id, mcp: ms, http: hs}
}

// httpContext completes the caller the HTTP layer put in the context with
// the session id mcp-go settled on (initialize mints it) and attaches the
// session value store.
func (s *Server) httpContext(ctx context.Context, _ *http.Request) context.Context {
	c, ok := tools.CallerFrom(ctx)
	if !ok {
		return ctx
	}
	if c.SessionID == "" && !server.IsModernRequest(ctx) {
		if cs := server.ClientSessionFromContext(ctx); cs != nil {
			c.SessionID = cs.SessionID()
		}
	}
	return tools.WithSessionStore(tools.WithCaller(ctx, c), s.values)
}

// valueStore adapts the Store's session values to tools.SessionStore.
type valueStore struct{ st Store }

func (v valueStore) GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error) {
	b, err := v.st.GetSessionValue(ctx, tenantID, sessionID, key)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", tools.ErrNoValue, err)
	}
	return b, err
}

func (v valueStore) SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error {
	return v.st.SetSessionValue(ctx, tenantID, sessionID, key, value)
}
