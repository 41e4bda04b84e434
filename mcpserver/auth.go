package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// errBadToken is returned by authenticate for a token that is malformed,
// unknown, expired, revoked or of another tenant.
var errBadToken = errors.New("invalid or expired token for this tenant")

// msgBadToken is what a client is told about a bad token (MCP Plexus's text).
const msgBadToken = "Invalid or expired Plexus User Auth Token for this entity."

// tokenCache caches resolved tokens by the SHA-256 of the token (the token
// itself is not kept). Entries have no time limit: the vault announces every
// revocation and deletion (see Server.onChange), and a token's own expiry is
// checked on every use.
type tokenCache struct {
	mu sync.Mutex
	m  map[vault.SecretDigest]vault.TokenInfo
}

func (c *tokenCache) init() { c.m = make(map[vault.SecretDigest]vault.TokenInfo) }

// maxCachedTokens bounds the token cache; past it the cache starts over.
const maxCachedTokens = 10000

func (c *tokenCache) get(k vault.SecretDigest) (vault.TokenInfo, bool) {
	c.mu.Lock()
	info, ok := c.m[k]
	c.mu.Unlock()
	return info, ok
}

// put caches info unless the generation moved from gen (read before the
// store was asked): the answer may then predate a revocation.
func (c *tokenCache) put(k vault.SecretDigest, info vault.TokenInfo, gen uint64, cur *atomic.Uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur.Load() != gen {
		return
	}
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[k] = info
}

// dropWhere removes the entries for which match is true.
func (c *tokenCache) dropWhere(match func(vault.TokenInfo) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, info := range c.m {
		if match(info) {
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

// dropIf removes tenant's entry; with user set, only if it names user.
func (c *ownerCache) dropIf(tenant, user string) {
	c.mu.Lock()
	if user == "" || c.m[tenant] == user {
		delete(c.m, tenant)
	}
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
	gen := s.gen.Load()
	u, err := s.store.EnsureLocalOwner(ctx, tenant)
	if err != nil {
		return "", fmt.Errorf("local owner of tenant %q: %w", tenant, err)
	}
	s.owners.mu.Lock()
	if s.gen.Load() == gen {
		s.owners.m[tenant] = u.ID
	}
	s.owners.mu.Unlock()
	return u.ID, nil
}

// pathTokenKey carries the token of a /{tenant}/mcp/token_auth/{token}
// request, once it is out of the URL.
type pathTokenKey struct{}

// serveMCPTokenPath is /{tenant}/mcp/token_auth/{token}: MCP Plexus's form
// for clients that cannot set an Authorization header. The token leaves
// the URL before anything else sees the request (mcp-go, loggers, the
// Referer of anything the answer links to): the request goes on as
// /{tenant}/mcp with the token in its context, where authenticate finds it.
func (s *Server) serveMCPTokenPath(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	r = r.WithContext(context.WithValue(r.Context(), pathTokenKey{}, tok))
	u := *r.URL
	u.Path, u.RawPath = "/"+r.PathValue("tenant")+"/mcp", ""
	r.URL, r.RequestURI = &u, u.RequestURI()
	r.SetPathValue("token", "")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.serveMCP(w, r)
}

// TokenPath is the path of tenant's MCP endpoint with token in the URL
// (/{tenant}/mcp/token_auth/{token}), for clients that cannot send an
// Authorization header. The path is a secret: treat it as the token.
func TokenPath(tenant, token string) string {
	return "/" + url.PathEscape(tenant) + "/mcp/token_auth/" + url.PathEscape(token)
}

// authenticate works out who is calling tenant: the local owner (local
// token), a user (user token of this tenant) or a guest (no token). The
// token comes from Authorization: Bearer or from the URL token path; both
// at once must agree. A bad token gives an error wrapping errBadToken;
// other errors are the store's.
func (s *Server) authenticate(ctx context.Context, tenant string, r *http.Request) (tools.Caller, error) {
	c := tools.Caller{TenantID: tenant}
	h := r.Header.Get("Authorization")
	pathTok, fromPath := r.Context().Value(pathTokenKey{}).(string)
	var tok string
	if h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(t)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return c, fmt.Errorf("%w (want Authorization: Bearer <token>)", errBadToken)
		}
	}
	switch {
	case fromPath && tok != "" && tok != pathTok:
		return c, fmt.Errorf("%w (the URL and the Authorization header carry different tokens)", errBadToken)
	case fromPath:
		tok = pathTok
	case tok == "":
		c.Guest = true
		return c, nil
	}
	k := vault.DigestSecret(tok)
	if s.hasLocalToken && k.Equal(s.localToken) {
		id, err := s.localOwner(ctx, tenant)
		if err != nil {
			return c, err
		}
		c.UserID, c.Local = id, true
		return c, nil
	}
	now := s.now()
	info, ok := s.tokens.get(k)
	if !ok {
		gen := s.gen.Load()
		var err error
		info, err = s.store.ResolveToken(ctx, tok)
		switch {
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrTokenExpired), errors.Is(err, vault.ErrTokenRevoked):
			return c, errBadToken
		case err != nil:
			return c, fmt.Errorf("resolve token: %w", err)
		}
		s.tokens.put(k, info, gen, &s.gen)
	}
	if info.TenantID != tenant || info.Revoked || (!info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt)) {
		return c, errBadToken
	}
	c.UserID = info.UserID
	return c, nil
}
