// Package mcpserver serves Plexus's MCP endpoint: /{tenant}/mcp for every
// tenant in the vault (both protocol eras: 2025-11-25 and older with
// Mcp-Session-Id, GET SSE stream and DELETE; and the stateless 2026-07-28
// core), sessions persisted in the vault, who is calling (local token, user
// token, guest), the host-app endpoint
// POST /{tenant}/plexus-auth/register-user, the caller's API keys
// (/{tenant}/plexus-services/api-keys), the external OAuth consent page and
// callback (/{tenant}/oauth/consent/{id},
// /{tenant}/oauth/external_callback/{provider}, served by package oauth) and
// the key-entry page (/{tenant}/plexus-services/api-keys/entry/{id}, package
// keyentry).
//
// # Tools and credentials
//
// Tools come from the registry (package tools). A tenant sees a tool when
// the tool allows the tenant, the tenant has not disabled it or one of its
// tool sets (vault tool settings), and, on tools/list, it matches the
// request's tool_set_filter; the same check guards tools/call, where a
// hidden tool answers exactly like an unknown one. A tool that declares
// Requires is not called until the caller has the credential: the caller
// gets a structured result (MCP Plexus's external_auth_required or
// plexus_api_key_required JSON) or, on a 2025-11-25 client that declared
// URL-mode elicitation, an elicitation; for OAuth both carry a link to
// Plexus's consent page (GET|POST /{tenant}/oauth/consent/{id}, served by
// package oauth), never the provider's own URL; for an API key the result
// carries key_entry_url, a single-use link to the page where the person
// types it (package keyentry; with WithPublicURL). Handlers
// get the caller's own credentials through tools.AuthenticatedClient and
// tools.APIKey: registered users' from the vault, guests' from their
// session. Every tools/call's arguments are checked against the tool's
// input schema first (toolcall.go); resources, resource templates and
// prompts from the registry are scoped like tools (items.go).
//
// # Design
//
// Each tenant gets its own mcp-go MCPServer and StreamableHTTPServer, built
// lazily on its first request (after checking the tenant exists) from the
// tool registry (package tools), so tool names, list_changed notifications
// and serverInfo never leak across tenants. Before a request reaches mcp-go,
// the Server checks Host and Origin (the edge rule, package edge: applied by
// the daemon's guard, or here when the Server is mounted on its own),
// bounds the body, authenticates the bearer token and validates the
// Mcp-Session-Id against the vault (mcp-go alone accepts any well-formed id,
// including after a restart or DELETE). A POST's notifications (progress,
// log messages) are written to that POST's own response, in order and before
// it (stream.go); every error on the MCP endpoint is a JSON-RPC error object,
// and the seed endpoints answer {"detail": "..."}.
//
// # Who is calling
//
// An MCP request carries its token as Authorization: Bearer, or in the URL
// as /{tenant}/mcp/token_auth/{token} (MCP Plexus's form for clients that
// cannot set headers; the token is taken out of the URL before mcp-go or
// any log line sees the request). The daemon's local token acts as the
// tenant's local owner, a user token (register-user) as its user; no token
// makes a guest. Host user ids that would reach the local owner are
// refused (vault.ValidateHostUserID).
//
// # Sessions and their bounds
//
// Sessions live in the vault, stored under the SHA-256 of their id (the id
// is a credential). To keep tools/call free of disk writes, recently used
// sessions are also kept in memory: at most SessionBounds.Active of them,
// and none unused for 5 minutes; mcp-go's per-session state is cleared when
// a session leaves memory, and the session is loaded again on its next
// request. Last-seen times are written every minute in one transaction
// (and through at most every max(TTL/10, 1m)), so after a crash a session
// may expire up to a minute early. The vault holds at most
// SessionBounds.Guests sessions per tenant for guests and
// SessionBounds.PerUser per user; past them the longest-idle session is
// deleted.
//
// # Caching without expiry
//
// To keep tools/call free of disk reads and writes, the Server caches
// resolved user tokens, validated sessions, tenants' MCP servers, local
// owners and tool settings. None of these caches has a time limit: the
// vault, the only writer, announces every change (vault.Subscribe), and New
// subscribes, so revoking a token, deleting a user or a tenant, or changing
// a tenant's tool settings takes effect on the very next request. A cache
// fill that raced with a change is not kept (a generation counter).
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
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/keyentry"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// Store is the part of the vault the MCP endpoint needs. *vault.Vault
// satisfies it.
type Store interface {
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	CheckHostAppSecret(ctx context.Context, tenantID, presented string) (ok bool, err error)
	EnsureUser(ctx context.Context, tenantID, hostUserID string) (u vault.User, created bool, err error)
	EnsureLocalOwner(ctx context.Context, tenantID string) (vault.User, error)
	IssueToken(ctx context.Context, tenantID, userID string, ttl time.Duration) (token string, info vault.TokenInfo, err error)
	ResolveToken(ctx context.Context, token string) (vault.TokenInfo, error)
	CreateSessionLimited(ctx context.Context, s vault.Session, max int, inUse func(hash string) bool) (evicted []string, err error)
	GetSession(ctx context.Context, tenantID, id string) (vault.Session, error)
	UpdateSession(ctx context.Context, tenantID, id string, fn func(*vault.Session) error) (vault.Session, error)
	DeleteSession(ctx context.Context, tenantID, id string) error
	TouchSessions(ctx context.Context, touches []vault.SessionTouch) error
	SweepSessions(ctx context.Context, now time.Time) (int, error)
	SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error
	GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error)

	// Credentials and tool settings (issue 4).
	PutCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte) error
	GetCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, error)
	DeleteCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) error
	ListCredentials(ctx context.Context, tenantID, userID string) ([]vault.CredentialInfo, error)
	GetToolSettings(ctx context.Context, tenantID string) (vault.ToolSettings, error)

	// Subscribe registers a function told of every committed change
	// (see vault.Vault.Subscribe); the Server's caches listen.
	Subscribe(fn func(vault.Change)) (unsubscribe func())
}

var _ Store = (*vault.Vault)(nil)

// Defaults.
const (
	// DefaultSessionIdleTTL is how long an unused session lives.
	DefaultSessionIdleTTL = 24 * time.Hour
	// LocalOwnerHostUserID is the host user id of a tenant's local owner,
	// the user the stdio bridge (local token) acts as.
	LocalOwnerHostUserID = vault.LocalOwnerHostUserID
	// maxMCPBody bounds an MCP POST body.
	maxMCPBody = 4 << 20
	// sweepInterval is how often Run sweeps expired sessions.
	sweepInterval = time.Minute
	// serverVersion is the serverInfo version.
	serverVersion = "0.1.0"
	// DefaultConsentWait bounds how long a tool call waits for the user to
	// finish an OAuth authorization they accepted through a URL-mode
	// elicitation.
	DefaultConsentWait = 2 * time.Minute
)

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock used for sessions and caches (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLocalToken sets the bearer token of the stdio bridge; a request
// carrying it acts as the tenant's local owner user. Only its SHA-256 is
// kept.
func WithLocalToken(token string) Option {
	return func(s *Server) {
		s.localToken, s.hasLocalToken = vault.DigestSecret(token), token != ""
	}
}

// WithSessionIdleTTL sets the session idle TTL (default 24h): a session
// expires at last seen + TTL.
func WithSessionIdleTTL(d time.Duration) Option { return func(s *Server) { s.sessionTTL = d } }

// WithDefaultHostAppSecret sets the host-app registration secret
// (HOST_APP_REGISTRATION_SECRET): as in MCP Plexus it is accepted for every
// tenant, besides a tenant's own secret.
func WithDefaultHostAppSecret(secret string) Option {
	return func(s *Server) { s.defaultSecret = secret }
}

// WithUserTokenTTL sets the lifetime of tokens issued by register-user
// (default 0: no expiry, like MCP Plexus; `plexus serve --user-token-ttl`).
func WithUserTokenTTL(d time.Duration) Option { return func(s *Server) { s.userTokenTTL = d } }

// WithTenantExtension gives tenant id more than the registry's tools: opts
// are added to its MCP server's options and register runs on the server
// once its registry tools are added. It is how the conformance build
// (go build -tags conformance, app/cli) serves the official MCP
// conformance suite's fixtures on one tenant; the product binary has no
// extension.
func WithTenantExtension(id string, opts []server.ServerOption, register func(*server.MCPServer)) Option {
	return func(s *Server) {
		s.extraTenantSetups = append(s.extraTenantSetups, tenantExtension{tenant: id, opts: opts, register: register})
	}
}

// tenantExtension is what WithTenantExtension adds to one tenant.
type tenantExtension struct {
	tenant   string
	opts     []server.ServerOption
	register func(*server.MCPServer)
}

// WithRegistry sets the tool registry (default tools.NewRegistry(), which
// holds the built-in plexus_whoami). Register example tools on it with
// examples.Register before passing it.
func WithRegistry(r *tools.Registry) Option { return func(s *Server) { s.registry = r } }

// WithOAuth sets the external-OAuth engine that tools' AuthenticatedClient,
// the consent results and GET /{tenant}/oauth/external_callback/{provider}
// use. The default is oauth.NewManager over the store (when the store
// satisfies oauth.Store) without a base URL: it serves connections made
// earlier, but cannot build authorization URLs (tools needing consent
// answer that OAuth is not set up). A daemon passes a manager built with
// oauth.WithBaseURL(its address).
func WithOAuth(m *oauth.Manager) Option { return func(s *Server) { s.oauth = m } }

// WithKeyLinkHook has f told of every key-entry link made (never the link
// itself), after it is stored; f must not block. The daemon tells the
// desktop window with it that a key waits to be typed.
func WithKeyLinkHook(f func(context.Context, keyentry.Request)) Option {
	return func(s *Server) { s.keyLinkHook = f }
}

// WithPublicURL sets the base URL browsers reach Plexus at (for example
// http://127.0.0.1:8765): a tool that needs an API key the caller has not
// stored links to Plexus's key-entry page there. Without it the result
// only says how to store the key.
func WithPublicURL(u string) Option { return func(s *Server) { s.publicURL = u } }

// WithConsentWait sets how long a tool call waits for the user to finish
// an authorization accepted through a URL-mode elicitation (default
// DefaultConsentWait); after it the caller gets the authorization result.
func WithConsentWait(d time.Duration) Option { return func(s *Server) { s.consentWait = d } }

// Server serves the MCP endpoint of every tenant. Create it with New, mount
// it with Routes, and run its background work with Run.
type Server struct {
	store             Store
	log               *slog.Logger
	now               func() time.Time
	localToken        vault.SecretDigest
	hasLocalToken     bool
	sessionTTL        time.Duration
	defaultSecret     string
	userTokenTTL      time.Duration
	extraTenantSetups []tenantExtension
	registry          *tools.Registry
	values            tools.SessionStore
	oauth             *oauth.Manager
	consentWait       time.Duration
	bounds            SessionBounds
	metrics           *telemetry.Metrics // nil: tool calls are not counted
	recorder          CallRecorder
	publicURL         string
	keys              *keyentry.Manager
	keyLinkHook       func(context.Context, keyentry.Request)
	upstreamOpts      UpstreamOptions
	sources           sourceRegistry // items besides the registry's (sources.go)
	upstreams         *upstreamHub   // upstream MCP servers (upstreams.go)
	httpTools         *httpToolHub   // declarative HTTP tools (httptools.go)

	mu      sync.RWMutex
	tenants map[string]*tenantServer

	// gen counts the changes that invalidated a cache. A cache fill reads
	// it before asking the store and keeps its result only if it has not
	// moved, so a value read just before a change is not cached after it.
	gen      atomic.Uint64
	sessions sessionCache
	tokens   tokenCache
	owners   ownerCache
	settings settingsCache
	gates    gateState // TOTP gates' settings and sessions' unlocks (gates.go)
}

// tenantServer is one tenant's MCP server and its HTTP transport.
type tenantServer struct {
	id   string
	mcp  *server.MCPServer
	http *server.StreamableHTTPServer
	// registered counts the sessions mcp-go holds in memory.
	registered *atomic.Int64
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
	if s.consentWait <= 0 {
		s.consentWait = DefaultConsentWait
	}
	if s.oauth == nil {
		if st, ok := s.store.(oauth.Store); ok {
			s.oauth = oauth.NewManager(st, oauth.WithLogger(s.log), oauth.WithClock(s.now))
		}
	}
	if st, ok := s.store.(keyentry.Store); ok {
		s.keys = keyentry.New(st, keyentry.Options{BaseURL: s.publicURL, Now: s.now, Logger: s.log, OnLink: s.keyLinkHook})
	}
	s.values = valueStore{s.store}
	s.bounds = s.bounds.withDefaults()
	s.sessions.init(s.bounds.Active)
	s.tokens.init()
	s.owners.init()
	s.settings.init()
	s.gates.init()
	// The subscription lasts as long as the store (Vault.Close ends it);
	// the callback starts no goroutine of its own but a tenant's shutdown.
	s.store.Subscribe(s.onChange)
	s.upstreams = newUpstreamHub(s)
	s.store.Subscribe(s.upstreams.onChange)
	s.httpTools = newHTTPToolHub(s)
	s.store.Subscribe(s.httpTools.onChange)
	return s
}

// onChange is the Server's subscription to the store's changes: it drops
// what its caches hold about the changed records, synchronously, so the
// writer's next request already sees the change. It never blocks on I/O
// but the one read that refreshes changed tool settings.
func (s *Server) onChange(c vault.Change) {
	switch c.Kind {
	case vault.TokenRevoked:
		s.gen.Add(1)
		s.tokens.dropWhere(func(info vault.TokenInfo) bool { return info.TenantID == c.TenantID && info.ID == c.TokenID })
	case vault.UserDeleted:
		s.gen.Add(1)
		s.tokens.dropWhere(func(info vault.TokenInfo) bool { return info.TenantID == c.TenantID && info.UserID == c.UserID })
		if gone := s.sessions.dropUser(c.TenantID, c.UserID); len(gone) > 0 {
			go s.release(gone) // mcp-go's state; not on the vault writer's path
		}
		s.owners.dropIf(c.TenantID, c.UserID)
	case vault.TenantDeleted:
		s.gen.Add(1)
		s.forgetTenant(c.TenantID)
		s.forgetGates(c.TenantID, "")
	case vault.ToolSettingsChanged:
		s.gen.Add(1)
		s.toolSettingsChanged(c.TenantID)
	case vault.SessionEnded:
		s.gen.Add(1)
		if gone := s.sessions.drop(c.SessionHash); len(gone) > 0 {
			go s.release(gone) // mcp-go's state; not on the vault writer's path
		}
		s.forgetGates(c.TenantID, c.SessionHash)
	case vault.GateChanged:
		s.gen.Add(1)
		s.gateChanged(c.TenantID, c.ToolSet)
	}
}

// Routes registers on mux:
//
//	GET|POST|DELETE /{tenant}/mcp (and /{tenant}/mcp/)  the MCP endpoint
//	GET|POST|DELETE /{tenant}/mcp/token_auth/{token}    the same, token in the URL (and .../{token}/)
//	POST /{tenant}/plexus-auth/register-user            host-app user registration
//	POST|GET /{tenant}/plexus-services/api-keys         store / list (names only) the caller's API keys
//	DELETE /{tenant}/plexus-services/api-keys/{provider_name}
//	GET /{tenant}/oauth/external_callback/{provider}    external OAuth redirect target
//	GET|POST /{tenant}/oauth/consent/{id}               consent page (a tool result's link)
//	GET|POST /{tenant}/plexus-services/api-keys/entry/{id}  key-entry page (a tool result's link)
//
// and a 405 for any other method on those paths, in the path's error
// shape (JSON-RPC on /{tenant}/mcp, {"detail"} on the others). Mount it
// behind the daemon's edge guard (package edge); mounted on its own, each
// handler applies the same Host/Origin rule itself.
func (s *Server) Routes(mux *http.ServeMux) {
	mcpHandler := http.HandlerFunc(s.serveMCP)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		mux.Handle(m+" /{tenant}/mcp", mcpHandler)
		mux.Handle(m+" /{tenant}/mcp/{$}", mcpHandler)
	}
	tokenPath := http.HandlerFunc(s.serveMCPTokenPath)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		mux.Handle(m+" /{tenant}/mcp/token_auth/{token}", tokenPath)
		mux.Handle(m+" /{tenant}/mcp/token_auth/{token}/{$}", tokenPath)
	}
	mux.Handle("POST /{tenant}/plexus-auth/register-user", http.HandlerFunc(s.serveRegisterUser))
	mux.Handle("POST /{tenant}/plexus-services/api-keys", http.HandlerFunc(s.serveAPIKeyPut))
	mux.Handle("GET /{tenant}/plexus-services/api-keys", http.HandlerFunc(s.serveAPIKeyList))
	mux.Handle("DELETE /{tenant}/plexus-services/api-keys/{provider_name}", http.HandlerFunc(s.serveAPIKeyDelete))
	// Other methods get a 405 in the endpoint's own error shape, not the
	// mux's plain text.
	mux.Handle("/{tenant}/mcp", http.HandlerFunc(serveMCPMethodNotAllowed))
	mux.Handle("/{tenant}/mcp/{$}", http.HandlerFunc(serveMCPMethodNotAllowed))
	mux.Handle("/{tenant}/plexus-auth/register-user", methodNotAllowedDetail("POST"))
	mux.Handle("/{tenant}/plexus-services/api-keys", methodNotAllowedDetail("GET, POST"))
	mux.Handle("/{tenant}/plexus-services/api-keys/{provider_name}", methodNotAllowedDetail("DELETE"))
	mux.Handle(oauth.CallbackPattern, s.oauthPage(func(m *oauth.Manager) http.HandlerFunc { return m.HandleCallback }))
	consent := s.oauthPage(func(m *oauth.Manager) http.HandlerFunc { return m.HandleConsent })
	mux.Handle(oauth.ConsentPattern, consent)
	mux.Handle(oauth.ConsentPostPattern, consent)
	mux.Handle(keyentry.AnyPattern, http.HandlerFunc(s.serveKeyEntry))
}

// serveKeyEntry checks Host/Origin and the tenant, then hands the request
// to the key-entry page.
func (s *Server) serveKeyEntry(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenantID := r.PathValue("tenant")
	if msg, bad := foreignRequest(r); bad {
		writeDetail(w, http.StatusForbidden, msg)
		return
	}
	if _, err := s.tenant(ctx, tenantID); err != nil {
		if errors.Is(err, errUnknownTenant) {
			writeDetail(w, http.StatusNotFound, unknownTenantMessage(tenantID))
			return
		}
		s.log.ErrorContext(ctx, "Looking up tenant", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error looking up the tenant")
		return
	}
	if s.keys == nil {
		writeDetail(w, http.StatusServiceUnavailable, "key entry is not available on this Plexus server")
		return
	}
	s.keys.ServeHTTP(w, r)
}

// oauthPage checks Host/Origin and the tenant, then hands the request to
// the OAuth engine's handler (the callback, which consumes the state, or
// the consent page).
func (s *Server) oauthPage(h func(*oauth.Manager) http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveOAuthPage(w, r, h) })
}

func (s *Server) serveOAuthPage(w http.ResponseWriter, r *http.Request, h func(*oauth.Manager) http.HandlerFunc) {
	ctx := r.Context()
	tenantID := r.PathValue("tenant")
	if msg, bad := foreignRequest(r); bad {
		writeDetail(w, http.StatusForbidden, msg)
		return
	}
	if _, err := s.tenant(ctx, tenantID); err != nil {
		if errors.Is(err, errUnknownTenant) {
			writeDetail(w, http.StatusNotFound, unknownTenantMessage(tenantID))
			return
		}
		s.log.ErrorContext(ctx, "Looking up tenant", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error looking up the tenant")
		return
	}
	if s.oauth == nil {
		writeDetail(w, http.StatusServiceUnavailable, "external OAuth is not available on this Plexus server")
		return
	}
	h(s.oauth)(w, r)
}

// forgetTenant drops a deleted tenant's MCP server and everything cached
// for it: sessions, its local owner, its users' resolved tokens and its
// tool settings. Its open GET streams are closed in the background (within
// 5 seconds), so the vault's writer is not held up.
func (s *Server) forgetTenant(tenantID string) {
	s.mu.Lock()
	ts := s.tenants[tenantID]
	delete(s.tenants, tenantID)
	s.mu.Unlock()
	s.sessions.dropTenant(tenantID)
	s.tokens.dropWhere(func(info vault.TokenInfo) bool { return info.TenantID == tenantID })
	s.owners.dropIf(tenantID, "")
	s.settings.drop(tenantID)
	s.metrics.ForgetTenant(tenantID)
	if ts != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ts.http.Shutdown(ctx); err != nil {
				s.log.Warn("Closing deleted tenant's MCP server", "tenant", tenantID, "err", err)
			}
		}()
	}
}

// Run does the background work every minute (writing sessions' last-seen
// times, sweeping expired sessions, letting sessions unused for 5 minutes
// leave memory) until ctx ends, then closes the open GET streams of every tenant (sessions
// stay in the vault) and stops every upstream MCP server (within about 10
// seconds). It returns nil when ctx ends.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.closeStreams()
			s.closeUpstreams()
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

// sweep lets idle sessions leave memory, writes last-seen times, removes
// expired sessions from the store, and logs one line when it did anything.
func (s *Server) sweep(ctx context.Context) {
	now := s.now()
	idle := s.sessions.removeWhere(func(e *sessionEntry) bool {
		return e.inflight == 0 && !now.Before(e.lastSeen.Add(min(activeIdle, s.sessionTTL)))
	})
	s.release(idle)
	s.pruneUnlocks(now)
	s.flushTouches(ctx)
	n, err := s.store.SweepSessions(ctx, now)
	if err != nil {
		s.log.WarnContext(ctx, "Sweeping expired sessions", "err", err)
	} else if n > 0 || len(idle) > 0 {
		s.log.InfoContext(ctx, "Swept sessions", "expired", n, "leftMemory", len(idle), "inMemory", s.sessions.len())
	}
	s.tokens.dropWhere(func(info vault.TokenInfo) bool { return !info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt) })
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
	gen := s.gen.Load()
	if err := s.lookupTenant(ctx, id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.tenants[id]; ts != nil {
		return ts, nil
	}
	if s.gen.Load() != gen {
		// A change (perhaps this tenant's deletion) came in since the
		// lookup: look again holding the lock, which the deletion's
		// forgetTenant needs, so it cannot slip in between.
		if err := s.lookupTenant(ctx, id); err != nil {
			return nil, err
		}
	}
	ts = s.newTenantServer(id)
	s.tenants[id] = ts
	return ts, nil
}

// lookupTenant checks that the store has tenant id (errUnknownTenant).
func (s *Server) lookupTenant(ctx context.Context, id string) error {
	_, err := s.store.GetTenant(ctx, id)
	switch {
	case errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrInvalid):
		return fmt.Errorf("%w %q", errUnknownTenant, id)
	case err != nil:
		return fmt.Errorf("look up tenant %q: %w", id, err)
	}
	return nil
}

// newTenantServer builds a tenant's MCP server from the registry.
func (s *Server) newTenantServer(id string) *tenantServer {
	hooks := &server.Hooks{}
	registered := new(atomic.Int64)
	hooks.AddOnRegisterSession(func(context.Context, server.ClientSession) { registered.Add(1) })
	hooks.AddOnUnregisterSession(func(context.Context, server.ClientSession) { registered.Add(-1) })
	hooks.AddAfterInitialize(func(ctx context.Context, _ any, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
		s.sessionInitialized(ctx, id, req, res)
	})
	// A handler that fails for want of a client capability: its error
	// response becomes -32021 with data.requiredCapabilities (stream.go);
	// mcp-go would answer -32603.
	hooks.AddOnError(func(ctx context.Context, _ any, _ mcp.MCPMethod, _ any, err error) {
		if capability, ok := capabilityOf(err); ok {
			if rw := rpcWriterFrom(ctx); rw != nil {
				rw.missingCapability(capability)
			}
		}
	})
	args := newArgSchemas(s, id) // the arguments check (toolcall.go)
	if s.recorder != nil {
		hooks.AddOnError(s.recordUnknownTool(id)) // calls no middleware sees
	}
	opts := []server.ServerOption{
		server.WithToolCapabilities(true),
		server.WithToolHandlerMiddleware(s.observeToolCalls(id)), // outside recovery: sees panics as errors
		server.WithRecovery(),
		server.WithToolHandlerMiddleware(s.gateCheck(id)), // TOTP gates (gates.go)
		server.WithToolHandlerMiddleware(args.middleware()),
		server.WithHooks(hooks),
		server.WithToolFilter(s.toolFilter(id)),
		server.WithLogging(),
	}
	opts = append(opts, s.itemOptions(id, hooks)...)         // resources, templates, prompts (items.go)
	opts = append(opts, s.sourceServerOptions(id, hooks)...) // upstream servers' items (sources.go)
	var register []func(*server.MCPServer)
	for _, e := range s.extraTenantSetups {
		if e.tenant == id {
			opts = append(opts, e.opts...)
			if e.register != nil {
				register = append(register, e.register)
			}
		}
	}
	ms := server.NewMCPServer("plexus/"+id, serverVersion, opts...)
	args.ms = ms
	for _, t := range s.registry.ForTenant(id) {
		if t.Requires == nil {
			ms.AddTool(t.Definition, t.Handler)
			continue
		}
		ms.AddTool(hideAPIKeyArgument(t.Definition, t.Requires), s.guard(ms, t))
	}
	// The gate and search tools; the tool filter shows them only while the
	// tenant has a gate or its tool search is on (scope.go).
	for _, t := range append(s.gateTools(id), s.searchTools(id, ms)...) {
		ms.AddTool(t.Tool, t.Handler)
	}
	s.addItems(ms, id)
	for _, f := range register {
		f(ms)
	}
	s.attachSources(id, ms)
	// No server.WithSessionIdleTTL: Plexus decides which sessions mcp-go
	// keeps in memory (see SessionBounds and release), and mcp-go's own
	// sweeper logs every session it sweeps, with its id.
	hs := server.NewStreamableHTTPServer(ms,
		server.WithSessionIdManagerResolver(sessionResolver{s: s, tenant: id}),
		server.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			return s.httpContext(ms, ctx, r)
		}),
		server.WithStreamableHTTPLogger(slog.New(redactSessions(s.log.Handler())).With("tenant", id)),
		// Host and Origin are the edge guard's (package edge), applied
		// before serveMCP; requests reach mcp-go through Handle, which
		// skips mcp-go's own check anyway.
		server.WithDisableLocalhostProtection(true),
	)
	return &tenantServer{id: id, mcp: ms, http: hs, registered: registered}
}

// httpContext completes the caller the HTTP layer put in the context with
// the session id mcp-go settled on (initialize mints it), attaches the
// session value store and the caller's credentials, and, on a POST that
// streams, gives the handlers a session whose notifications go to that
// POST's own response (scopedSession, stream.go).
func (s *Server) httpContext(ms *server.MCPServer, ctx context.Context, _ *http.Request) context.Context {
	if rw := rpcWriterFrom(ctx); rw != nil && rw.streams {
		if hs, ok := server.ClientSessionFromContext(ctx).(httpSession); ok {
			ctx = ms.WithContext(ctx, &scopedSession{httpSession: hs, out: rw})
		}
	}
	c, ok := tools.CallerFrom(ctx)
	if !ok {
		return ctx
	}
	if !server.IsModernRequest(ctx) {
		if c.SessionID == "" {
			if cs := server.ClientSessionFromContext(ctx); cs != nil {
				c.SessionID = cs.SessionID()
			}
		} else {
			s.restoreClient(ctx, c.SessionID)
		}
	}
	ctx = tools.WithSessionStore(tools.WithCaller(ctx, c), s.values)
	return tools.WithCredentials(ctx, callerCredentials{s: s, c: c})
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
