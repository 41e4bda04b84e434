package mcpserver

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// errSessionNotFound is returned by checkSession for an unknown, deleted,
// expired, evicted or foreign session id.
var errSessionNotFound = errors.New("session not found or expired; start a new session (initialize)")

// Session bounds (see SessionBounds).
const (
	// DefaultMaxGuestSessions is how many sessions a tenant's guests hold
	// in the vault.
	DefaultMaxGuestSessions = 1000
	// DefaultMaxUserSessions is how many sessions one registered user (or
	// a tenant's local owner) holds in the vault. Their callers hold a
	// token, so this only keeps a runaway client from filling the disk; it
	// is high so that an idle `plexus stdio` bridge is not evicted.
	DefaultMaxUserSessions = 1000
	// DefaultMaxActiveSessions is how many sessions are kept in memory.
	DefaultMaxActiveSessions = 1024
	// activeIdle is how long an unused session stays in memory.
	activeIdle = 5 * time.Minute
	// maxSessionIDLen bounds a presented Mcp-Session-Id (the vault's limit).
	maxSessionIDLen = 256
	// maxPendingTouches bounds the last-seen times of sessions that left
	// memory before they were written.
	maxPendingTouches = 4096
)

// SessionBounds bounds the legacy-era sessions a Server keeps. Every
// session lives in the vault until it expires, is deleted or is evicted;
// only recently used ones are also kept in memory.
type SessionBounds struct {
	// Guests is the most sessions a tenant's guests hold in the vault
	// (default DefaultMaxGuestSessions). A new guest session past it
	// deletes the tenant's guest session idle the longest, with its values.
	Guests int
	// PerUser is the same bound for each registered user and for a
	// tenant's local owner (default DefaultMaxUserSessions).
	PerUser int
	// Active is the most sessions kept in memory, across tenants (default
	// DefaultMaxActiveSessions): Plexus's cache entry and mcp-go's
	// per-session state. Past it, the least recently used session that no
	// request is using leaves memory; so does any session unused for 5
	// minutes. It stays valid in the vault and is loaded again on its next
	// request (its client info and capabilities are restored; a logging
	// level set with logging/setLevel returns to the default).
	Active int
}

// WithSessionBounds sets the session bounds; zero fields keep their default.
func WithSessionBounds(b SessionBounds) Option { return func(s *Server) { s.bounds = b } }

func (b SessionBounds) withDefaults() SessionBounds {
	if b.Guests <= 0 {
		b.Guests = DefaultMaxGuestSessions
	}
	if b.PerUser <= 0 {
		b.PerUser = DefaultMaxUserSessions
	}
	if b.Active <= 0 {
		b.Active = DefaultMaxActiveSessions
	}
	return b
}

// sessionEntry is a validated session kept in memory. Fields other than
// hash, id, tenant and user are guarded by the cache's mutex.
type sessionEntry struct {
	hash                   string // vault.SessionHash(id): the cache key
	id                     string // the id itself, memory only (mcp-go keys by it)
	tenant, user, protocol string
	client                 json.RawMessage // clientInfo and capabilities, as stored
	lastSeen               time.Time       // in memory, updated on every request
	lastWrite              time.Time       // last-seen time last written to the store
	inflight               int             // requests using the session now
	gone                   bool            // deleted or evicted from the store
	elem                   *list.Element   // position in the LRU list
}

// sessionCache holds validated sessions by hash, least recently used last.
type sessionCache struct {
	mu      sync.Mutex
	m       map[string]*sessionEntry
	lru     list.List
	max     int
	pending map[string]vault.SessionTouch // by hash: last-seen times not yet written of sessions that left memory
}

func (c *sessionCache) init(max int) {
	c.m = make(map[string]*sessionEntry)
	c.pending = make(map[string]vault.SessionTouch)
	c.max = max
}

// len reports how many sessions are in memory.
func (c *sessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// getLocked returns the entry for hash and marks it most recently used.
func (c *sessionCache) getLocked(hash string) *sessionEntry {
	e := c.m[hash]
	if e != nil {
		c.lru.MoveToFront(e.elem)
	}
	return e
}

// insertLocked adds e (or returns the entry already there) and returns the
// entries that had to leave memory to stay within max: the least recently
// used ones no request is using.
func (c *sessionCache) insertLocked(e *sessionEntry) (cur *sessionEntry, out []*sessionEntry) {
	if cur := c.getLocked(e.hash); cur != nil {
		return cur, nil
	}
	e.elem = c.lru.PushFront(e)
	c.m[e.hash] = e
	for el := c.lru.Back(); len(c.m) > c.max && el != nil; {
		prev := el.Prev()
		if v := el.Value.(*sessionEntry); v.inflight == 0 && v != e {
			c.removeLocked(v)
			out = append(out, v)
		}
		el = prev
	}
	return e, out
}

// removeLocked takes e out of memory, keeping an unwritten last-seen time.
func (c *sessionCache) removeLocked(e *sessionEntry) {
	delete(c.m, e.hash)
	c.lru.Remove(e.elem)
	if e.lastSeen.After(e.lastWrite) && len(c.pending) < maxPendingTouches {
		c.pending[e.hash] = vault.SessionTouch{TenantID: e.tenant, ID: e.id, LastSeen: e.lastSeen}
	}
}

// removeWhere takes every entry matching fn out of memory.
func (c *sessionCache) removeWhere(fn func(*sessionEntry) bool) []*sessionEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sessionEntry
	for _, e := range c.m {
		if fn(e) {
			c.removeLocked(e)
			out = append(out, e)
		}
	}
	return out
}

// drop takes the sessions with these hashes out of memory (they are gone
// from the store: nothing is kept to write).
func (c *sessionCache) drop(hashes ...string) []*sessionEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sessionEntry
	for _, h := range hashes {
		delete(c.pending, h)
		if e := c.m[h]; e != nil {
			delete(c.m, h)
			c.lru.Remove(e.elem)
			e.gone = true
			out = append(out, e)
		}
	}
	return out
}

func (c *sessionCache) dropTenant(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.tenant == tenant {
			delete(c.m, h)
			c.lru.Remove(e.elem)
			e.gone = true
		}
	}
	for h, t := range c.pending {
		if t.TenantID == tenant {
			delete(c.pending, h)
		}
	}
}

// dropUser takes a (deleted) user's sessions out of memory and returns
// them (their mcp-go state is released by the caller).
func (c *sessionCache) dropUser(tenant, user string) []*sessionEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sessionEntry
	for h, e := range c.m {
		if e.tenant == tenant && e.user == user {
			delete(c.m, h)
			c.lru.Remove(e.elem)
			e.gone = true
			out = append(out, e)
		}
	}
	// Pending touches carry no user: a touch of a deleted session finds
	// nothing to update and is harmless.
	return out
}

// inUse reports whether a request is using the session with this hash
// (an open GET stream, a running tool call): it is not idle, so the vault
// does not evict it to make room.
func (c *sessionCache) inUse(hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[hash]
	return e != nil && e.inflight > 0
}

// release ends a request's use of e.
func (c *sessionCache) release(e *sessionEntry) {
	c.mu.Lock()
	e.inflight--
	c.mu.Unlock()
}

// hold marks e in use until ctx ends (the request's context ends when its
// handler returns), so it does not leave memory under a running request.
// c.mu must be held.
func (c *sessionCache) holdLocked(ctx context.Context, e *sessionEntry) {
	e.inflight++
	context.AfterFunc(ctx, func() { c.release(e) })
}

// writeEvery is how often checkSession writes a session's last-seen time
// through to the store (Run's sweep also writes it every minute).
func (s *Server) writeEvery() time.Duration { return max(s.sessionTTL/10, time.Minute) }

// sessionBound is the vault bound for the caller's sessions.
func (s *Server) sessionBound(c tools.Caller) int {
	if c.UserID == "" {
		return s.bounds.Guests
	}
	return s.bounds.PerUser
}

// newSessionID mints a session id (130 random bits).
func newSessionID() string { return "mcp-session-" + rand.Text() }

// clientState is what a session keeps about its client.
type clientState struct {
	ClientInfo   mcp.Implementation     `json:"clientInfo"`
	Capabilities mcp.ClientCapabilities `json:"capabilities"`
}

// maxClientState bounds the stored client state (the vault's limit); a
// larger one is not kept.
const maxClientState = 16 << 10

// sessionInitialized stores the session an initialize just created (its id
// minted by Generate) with the negotiated protocol and the client's info
// and capabilities, evicting the owner's longest-idle sessions past its
// bound, and keeps it in memory. It runs in mcp-go's after-initialize hook,
// before the response (with the id) is written.
func (s *Server) sessionInitialized(ctx context.Context, tenant string, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
	cs := server.ClientSessionFromContext(ctx)
	c, ok := tools.CallerFrom(ctx)
	if cs == nil || cs.SessionID() == "" || !ok || c.TenantID != tenant || server.IsModernRequest(ctx) {
		return
	}
	id := cs.SessionID()
	var client json.RawMessage
	if req != nil {
		if b, err := json.Marshal(clientState{ClientInfo: req.Params.ClientInfo, Capabilities: req.Params.Capabilities}); err == nil && len(b) <= maxClientState {
			client = b
		}
	}
	now := s.now()
	rec := vault.Session{
		ID: id, TenantID: tenant, UserID: c.UserID, Protocol: res.ProtocolVersion, Client: client,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.sessionTTL),
	}
	gen := s.gen.Load()
	evicted, err := s.store.CreateSessionLimited(ctx, rec, s.sessionBound(c), s.sessions.inUse)
	if err != nil {
		// The client gets the id anyway (the hook cannot fail the
		// request); its next request is answered 404, so it initializes
		// again.
		s.log.ErrorContext(ctx, "Creating MCP session", "tenant", tenant, "err", err)
		return
	}
	s.release(s.sessions.drop(evicted...))
	if s.gen.Load() != gen {
		return // the user or tenant may be gone: the next request reads the store
	}
	e := &sessionEntry{
		hash: vault.SessionHash(id), id: id, tenant: tenant, user: c.UserID, protocol: res.ProtocolVersion,
		client: client, lastSeen: now, lastWrite: now,
	}
	s.sessions.mu.Lock()
	e, out := s.sessions.insertLocked(e)
	s.sessions.holdLocked(ctx, e)
	s.sessions.mu.Unlock()
	s.release(out)
}

// checkSession validates a legacy session id for the caller: it must exist,
// belong to the caller's tenant and user (guest sessions to guests) and not
// be expired. It touches the session's last-seen time (written to the store
// by Run's sweep every minute, and through at most every writeEvery), and
// keeps the session in memory while ctx lives. It returns the session's
// protocol version.
func (s *Server) checkSession(ctx context.Context, c tools.Caller, id string) (string, error) {
	if id == "" || len(id) > maxSessionIDLen {
		return "", errSessionNotFound
	}
	hash := vault.SessionHash(id)
	now := s.now()
	transient := false
	s.sessions.mu.Lock()
	e := s.sessions.getLocked(hash)
	if e == nil {
		s.sessions.mu.Unlock()
		gen := s.gen.Load()
		rec, err := s.store.GetSession(ctx, c.TenantID, id)
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrInvalid) {
			return "", errSessionNotFound
		}
		if err != nil {
			return "", fmt.Errorf("get session: %w", err)
		}
		if rec.TenantID != c.TenantID || rec.UserID != c.UserID {
			return "", errSessionNotFound
		}
		e = &sessionEntry{
			hash: hash, id: id, tenant: rec.TenantID, user: rec.UserID, protocol: rec.Protocol,
			client: rec.Client, lastSeen: rec.LastSeen, lastWrite: rec.LastSeen,
		}
		s.sessions.mu.Lock()
		if s.gen.Load() != gen {
			// A user, tenant or token changed while the store was read:
			// the record serves this request only and is not kept (the
			// next request reads the store again).
			transient = true
		} else {
			var out []*sessionEntry
			e, out = s.sessions.insertLocked(e)
			s.sessions.mu.Unlock()
			s.release(out)
			s.sessions.mu.Lock()
		}
	}

	if e.gone || e.tenant != c.TenantID || e.user != c.UserID {
		s.sessions.mu.Unlock()
		return "", errSessionNotFound
	}
	if !now.Before(e.lastSeen.Add(s.sessionTTL)) {
		s.sessions.mu.Unlock()
		s.expire(ctx, c.TenantID, id)
		return "", errSessionNotFound
	}
	if !transient {
		if s.sessions.m[hash] != e {
			// It left memory between the look-up and now: still valid.
			var out []*sessionEntry
			e, out = s.sessions.insertLocked(e)
			defer s.release(out)
		}
		s.sessions.holdLocked(ctx, e)
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
			s.release(s.sessions.drop(hash))
			return "", errSessionNotFound
		}
		if err != nil {
			s.log.WarnContext(ctx, "Touching session", "tenant", c.TenantID, "err", err)
		}
	}
	return protocol, nil
}

// knownSession reports whether id is in memory for the caller (mcp-go's
// Validate, right after checkSession).
func (s *Server) knownSession(c tools.Caller, id string) bool {
	if id == "" || len(id) > maxSessionIDLen {
		return false
	}
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	e := s.sessions.m[vault.SessionHash(id)]
	return e != nil && e.tenant == c.TenantID && e.user == c.UserID
}

// expire removes an expired session from memory and the store.
func (s *Server) expire(ctx context.Context, tenant, id string) {
	s.release(s.sessions.drop(vault.SessionHash(id)))
	if err := s.store.DeleteSession(ctx, tenant, id); err != nil && !errors.Is(err, vault.ErrNotFound) {
		s.log.WarnContext(ctx, "Deleting expired session", "tenant", tenant, "err", err)
	}
}

// endSession removes a session (DELETE); mcp-go clears its own state after.
func (s *Server) endSession(ctx context.Context, tenant, id string) error {
	s.sessions.drop(vault.SessionHash(id))
	if err := s.store.DeleteSession(ctx, tenant, id); err != nil && !errors.Is(err, vault.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// releaseKey marks the internal request that clears mcp-go's state for a
// session leaving memory.
type releaseKey struct{}

// release clears mcp-go's per-session state (registration, log level,
// transport maps) for sessions that left Plexus's memory; they stay valid
// in the vault. It goes through mcp-go's DELETE handling, the one public
// way to run its cleanup; Terminate recognises the request and leaves the
// store alone.
func (s *Server) release(entries []*sessionEntry) {
	if len(entries) == 0 {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ctx := context.WithValue(context.Background(), releaseKey{}, true)
	for _, e := range entries {
		ts := s.tenants[e.tenant]
		if ts == nil {
			continue
		}
		r := &http.Request{
			Method: http.MethodDelete,
			URL:    &url.URL{Path: "/mcp"},
			Header: http.Header{server.HeaderKeySessionID: {e.id}},
			Host:   "localhost",
		}
		ts.http.ServeHTTP(discardWriter{}, r.WithContext(ctx))
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// restoreClient gives a session mcp-go no longer holds in memory (it
// serves the request with a fresh one) the client info and capabilities
// the client declared at initialize, so capability checks (URL-mode
// elicitation) keep working.
func (s *Server) restoreClient(ctx context.Context, id string) {
	cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	if !ok || cs == nil || cs.GetClientInfo().Name != "" {
		return
	}
	s.sessions.mu.Lock()
	var client json.RawMessage
	if e := s.sessions.m[vault.SessionHash(id)]; e != nil {
		client = e.client
	}
	s.sessions.mu.Unlock()
	var st clientState
	if len(client) == 0 || json.Unmarshal(client, &st) != nil {
		return
	}
	cs.SetClientInfo(st.ClientInfo)
	cs.SetClientCapabilities(st.Capabilities)
}

// flushTouches writes the last-seen times that changed since they were
// last written, of sessions in memory and of those that left it, in one
// store transaction.
func (s *Server) flushTouches(ctx context.Context) {
	type written struct {
		e  *sessionEntry
		at time.Time
	}
	var touches []vault.SessionTouch
	var done []written
	s.sessions.mu.Lock()
	for _, t := range s.sessions.pending {
		touches = append(touches, t)
	}
	clear(s.sessions.pending)
	for _, e := range s.sessions.m {
		if e.lastSeen.After(e.lastWrite) {
			touches = append(touches, vault.SessionTouch{TenantID: e.tenant, ID: e.id, LastSeen: e.lastSeen})
			done = append(done, written{e, e.lastSeen})
		}
	}
	s.sessions.mu.Unlock()
	if len(touches) == 0 {
		return
	}
	for i := range touches {
		touches[i].ExpiresAt = touches[i].LastSeen.Add(s.sessionTTL)
	}
	if err := s.store.TouchSessions(ctx, touches); err != nil {
		s.log.WarnContext(ctx, "Writing session last-seen times", "count", len(touches), "err", err)
		return
	}
	s.sessions.mu.Lock()
	for _, w := range done {
		if w.e.lastWrite.Before(w.at) {
			w.e.lastWrite = w.at
		}
	}
	s.sessions.mu.Unlock()
}

// sessionResolver gives mcp-go a session id manager bound to the request's
// tenant and caller.
type sessionResolver struct {
	s      *Server
	tenant string
}

// ResolveSessionIdManager implements server.SessionIdManagerResolver. r is
// nil for mcp-go's background work (CloseSessions).
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

// Generate mints the id of a session being initialized. The session is
// stored by the after-initialize hook (sessionInitialized), once the
// protocol version is negotiated, in one write.
func (m *sessionManager) Generate() string { return newSessionID() }

// Validate checks the id for the requesting caller. The HTTP layer
// already did (checkSession) and put the id in the caller; otherwise this
// is a memory look-up.
func (m *sessionManager) Validate(id string) (bool, error) {
	c, ctx, ok := m.caller()
	if !ok {
		return false, errSessionNotFound
	}
	if id != "" && c.SessionID == id {
		return false, nil
	}
	if m.s.knownSession(c, id) {
		return false, nil
	}
	if _, err := m.s.checkSession(ctx, c, id); err != nil {
		return false, err
	}
	return false, nil
}

// Terminate ends the session on a client's DELETE. Plexus's own release
// of a session leaving memory, and calls outside a request (CloseSessions
// at shutdown), leave the store alone: the session stays valid.
func (m *sessionManager) Terminate(id string) (bool, error) {
	if m.r == nil || m.r.Context().Value(releaseKey{}) != nil {
		return false, nil
	}
	return false, m.s.endSession(m.r.Context(), m.tenant, id)
}
