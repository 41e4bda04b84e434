package mcpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// errBadToken is returned by authenticate for a token that is malformed,
// unknown, expired, revoked or of another tenant.
var errBadToken = errors.New("invalid or expired token for this tenant")

// msgBadToken is what a client is told about a bad token (MCP Plexus's text).
const msgBadToken = "Invalid or expired Plexus User Auth Token for this entity."

// tokenEntry is a resolved user token.
type tokenEntry struct {
	info    vault.TokenInfo
	fetched time.Time
}

// tokenCache caches resolved tokens by the SHA-256 of the token (the token
// itself is not kept).
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]tokenEntry
}

func (c *tokenCache) init() { c.m = make(map[[32]byte]tokenEntry) }

// maxCachedTokens bounds the token cache; past it the cache starts over.
const maxCachedTokens = 10000

func (c *tokenCache) get(k [32]byte, now time.Time) (vault.TokenInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return vault.TokenInfo{}, false
	}
	if now.Sub(e.fetched) >= tokenCacheTTL || now.Before(e.fetched) ||
		(!e.info.ExpiresAt.IsZero() && !now.Before(e.info.ExpiresAt)) {
		delete(c.m, k)
		return vault.TokenInfo{}, false
	}
	return e.info, true
}

func (c *tokenCache) put(k [32]byte, info vault.TokenInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[k] = tokenEntry{info: info, fetched: now}
}

func (c *tokenCache) dropTenant(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.info.TenantID == tenant {
			delete(c.m, k)
		}
	}
}

func (c *tokenCache) dropStale(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if now.Sub(e.fetched) >= tokenCacheTTL || now.Before(e.fetched) {
			delete(c.m, k)
		}
	}
}

// ownerCache maps a tenant to its local owner's persistent user id.
type ownerCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *ownerCache) init() { c.m = make(map[string]string) }

func (c *ownerCache) drop(tenant string) {
	c.mu.Lock()
	delete(c.m, tenant)
	c.mu.Unlock()
}

// localOwner returns the tenant's local owner user id, creating the user on
// first use.
func (s *Server) localOwner(ctx context.Context, tenant string) (string, error) {
	s.owners.mu.Lock()
	id, ok := s.owners.m[tenant]
	s.owners.mu.Unlock()
	if ok {
		return id, nil
	}
	u, _, err := s.store.EnsureUser(ctx, tenant, LocalOwnerHostUserID)
	if err != nil {
		return "", fmt.Errorf("local owner of tenant %q: %w", tenant, err)
	}
	s.owners.mu.Lock()
	s.owners.m[tenant] = u.ID
	s.owners.mu.Unlock()
	return u.ID, nil
}

// authenticate works out who is calling tenant: the local owner (local
// token), a user (user token of this tenant) or a guest (no Authorization).
// A bad token gives an error wrapping errBadToken; other errors are the
// store's.
func (s *Server) authenticate(ctx context.Context, tenant string, r *http.Request) (tools.Caller, error) {
	c := tools.Caller{TenantID: tenant}
	h := r.Header.Get("Authorization")
	if h == "" {
		c.Guest = true
		return c, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return c, fmt.Errorf("%w (want Authorization: Bearer <token>)", errBadToken)
	}
	if s.localToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.localToken)) == 1 {
		id, err := s.localOwner(ctx, tenant)
		if err != nil {
			return c, err
		}
		c.UserID, c.Local = id, true
		return c, nil
	}
	now := s.now()
	k := sha256.Sum256([]byte(tok))
	info, ok := s.tokens.get(k, now)
	if !ok {
		var err error
		info, err = s.store.ResolveToken(ctx, tok)
		switch {
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrTokenExpired), errors.Is(err, vault.ErrTokenRevoked):
			return c, errBadToken
		case err != nil:
			return c, fmt.Errorf("resolve token: %w", err)
		}
		if !info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt) {
			return c, errBadToken
		}
		s.tokens.put(k, info, now)
	}
	if info.TenantID != tenant || info.Revoked {
		return c, errBadToken
	}
	c.UserID = info.UserID
	return c, nil
}
