package mcpserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// errSessionNotFound is returned by checkSession for an unknown, deleted,
// expired or foreign session id.
var errSessionNotFound = errors.New("session not found or expired; start a new session (initialize)")

// sessionEntry is a validated session kept in memory.
type sessionEntry struct {
	tenant, user, protocol string
	lastSeen               time.Time // in memory, updated on every request
	lastWrite              time.Time // last-seen time last written to the store
}

// sessionCache holds validated sessions by id.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]*sessionEntry
}

func (c *sessionCache) init() { c.m = make(map[string]*sessionEntry) }

func (c *sessionCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

func (c *sessionCache) dropTenant(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if e.tenant == tenant {
			delete(c.m, id)
		}
	}
}

// dropUser drops a (deleted) user's sessions.
func (c *sessionCache) dropUser(tenant, user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if e.tenant == tenant && e.user == user {
			delete(c.m, id)
		}
	}
}

func (c *sessionCache) dropExpired(now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if !now.Before(e.lastSeen.Add(ttl)) {
			delete(c.m, id)
		}
	}
}

// writeEvery is how often a session's last-seen time reaches the store.
func (s *Server) writeEvery() time.Duration { return max(s.sessionTTL/10, time.Minute) }

// newSession creates a session record for the caller and returns its id.
func (s *Server) newSession(ctx context.Context, c tools.Caller) (string, error) {
	id := "mcp-session-" + rand.Text()
	now := s.now()
	rec := vault.Session{
		ID: id, TenantID: c.TenantID, UserID: c.UserID, Protocol: c.Protocol,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.sessionTTL),
	}
	gen := s.gen.Load()
	if err := s.store.CreateSession(ctx, rec); err != nil {
		return id, fmt.Errorf("create session: %w", err)
	}
	s.sessions.mu.Lock()
	if s.gen.Load() == gen { // else the user or tenant may be gone: the next request reads the store
		s.sessions.m[id] = &sessionEntry{tenant: c.TenantID, user: c.UserID, protocol: c.Protocol, lastSeen: now, lastWrite: now}
	}
	s.sessions.mu.Unlock()
	return id, nil
}

// checkSession validates a legacy session id for the caller: it must exist,
// belong to the caller's tenant and user (guest sessions to guests) and not
// be expired. It touches the session's last-seen time, writing it to the
// store at most every writeEvery. It returns the session's protocol version.
func (s *Server) checkSession(ctx context.Context, c tools.Caller, id string) (string, error) {
	if id == "" {
		return "", errSessionNotFound
	}
	now := s.now()
	s.sessions.mu.Lock()
	e := s.sessions.m[id]
	s.sessions.mu.Unlock()
	if e == nil {
		gen := s.gen.Load()
		rec, err := s.store.GetSession(ctx, c.TenantID, id)
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrInvalid) {
			return "", errSessionNotFound
		}
		if err != nil {
			return "", fmt.Errorf("get session: %w", err)
		}
		if rec.TenantID != c.TenantID {
			return "", errSessionNotFound
		}
		e = &sessionEntry{tenant: rec.TenantID, user: rec.UserID, protocol: rec.Protocol, lastSeen: rec.LastSeen, lastWrite: rec.LastSeen}
		s.sessions.mu.Lock()
		if cur := s.sessions.m[id]; cur != nil {
			e = cur
		} else if s.gen.Load() == gen { // else kept for this request only
			s.sessions.m[id] = e
		}
		s.sessions.mu.Unlock()
	}

	s.sessions.mu.Lock()
	if e.tenant != c.TenantID || e.user != c.UserID {
		s.sessions.mu.Unlock()
		return "", errSessionNotFound
	}
	if !now.Before(e.lastSeen.Add(s.sessionTTL)) {
		s.sessions.mu.Unlock()
		s.expire(ctx, c.TenantID, id)
		return "", errSessionNotFound
	}
	if now.After(e.lastSeen) {
		e.lastSeen = now
	}
	write := now.Sub(e.lastWrite) >= s.writeEvery()
	if write {
		e.lastWrite = now
	}
	protocol := e.protocol
	s.sessions.mu.Unlock()

	if write {
		_, err := s.store.UpdateSession(ctx, c.TenantID, id, func(r *vault.Session) error {
			r.LastSeen = now
			r.ExpiresAt = now.Add(s.sessionTTL)
			return nil
		})
		if errors.Is(err, vault.ErrNotFound) {
			s.sessions.drop(id)
			return "", errSessionNotFound
		}
		if err != nil {
			s.log.WarnContext(ctx, "Touching session", "tenant", c.TenantID, "err", err)
		}
	}
	return protocol, nil
}

// expire removes an expired session from the cache and the store.
func (s *Server) expire(ctx context.Context, tenant, id string) {
	s.sessions.drop(id)
	if err := s.store.DeleteSession(ctx, tenant, id); err != nil && !errors.Is(err, vault.ErrNotFound) {
		s.log.WarnContext(ctx, "Deleting expired session", "tenant", tenant, "err", err)
	}
}

// endSession removes a session (DELETE).
func (s *Server) endSession(ctx context.Context, tenant, id string) error {
	s.sessions.drop(id)
	if err := s.store.DeleteSession(ctx, tenant, id); err != nil && !errors.Is(err, vault.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// recordProtocol stores the protocol version negotiated by initialize.
func (s *Server) recordProtocol(ctx context.Context, tenant, version string) {
	cs := server.ClientSessionFromContext(ctx)
	if cs == nil || cs.SessionID() == "" || version == "" {
		return
	}
	id := cs.SessionID()
	s.sessions.mu.Lock()
	if e := s.sessions.m[id]; e != nil {
		e.protocol = version
	}
	s.sessions.mu.Unlock()
	_, err := s.store.UpdateSession(ctx, tenant, id, func(r *vault.Session) error {
		r.Protocol = version
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "Recording session protocol", "tenant", tenant, "err", err)
	}
}

// sessionResolver gives mcp-go a session id manager bound to the request's
// tenant and caller.
type sessionResolver struct {
	s      *Server
	tenant string
}

// ResolveSessionIdManager implements server.SessionIdManagerResolver. r is
// nil for mcp-go's background work (idle sweeper, CloseSessions).
func (sr sessionResolver) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	return &sessionManager{s: sr.s, tenant: sr.tenant, r: r}
}

// sessionManager implements server.SessionIdManager over the store.
type sessionManager struct {
	s      *Server
	tenant string
	r      *http.Request // nil outside a request
}

func (m *sessionManager) caller() (tools.Caller, context.Context, bool) {
	if m.r == nil {
		return tools.Caller{}, context.Background(), false
	}
	c, ok := tools.CallerFrom(m.r.Context())
	return c, m.r.Context(), ok && c.TenantID == m.tenant
}

// Generate creates a session record for the requesting caller. A store
// failure is logged; the id then fails validation on its next use.
func (m *sessionManager) Generate() string {
	c, ctx, ok := m.caller()
	if !ok {
		// Not reached: the HTTP layer always sets the caller, and refuses a
		// GET without Mcp-Session-Id. An id that is never stored is never valid.
		return "mcp-session-" + rand.Text()
	}
	id, err := m.s.newSession(ctx, c)
	if err != nil {
		m.s.log.ErrorContext(ctx, "Creating MCP session", "tenant", m.tenant, "err", err)
	}
	return id
}

// Validate checks the id for the requesting caller (the HTTP layer already
// did; this hits the cache).
func (m *sessionManager) Validate(id string) (bool, error) {
	c, ctx, ok := m.caller()
	if !ok {
		return false, errSessionNotFound
	}
	if _, err := m.s.checkSession(ctx, c, id); err != nil {
		return false, err
	}
	return false, nil
}

// Terminate ends the session on a client's DELETE. Outside a request
// (mcp-go's idle sweeper or CloseSessions at shutdown) it only removes
// sessions that are expired, so a daemon shutdown keeps live sessions.
func (m *sessionManager) Terminate(id string) (bool, error) {
	if m.r == nil {
		now := m.s.now()
		m.s.sessions.mu.Lock()
		e := m.s.sessions.m[id]
		expired := e != nil && !now.Before(e.lastSeen.Add(m.s.sessionTTL))
		m.s.sessions.mu.Unlock()
		if expired {
			m.s.expire(context.Background(), m.tenant, id)
		}
		return false, nil
	}
	return false, m.s.endSession(m.r.Context(), m.tenant, id)
}
