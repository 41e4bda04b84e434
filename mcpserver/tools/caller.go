package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/vault"
)

// Caller says who is calling a tool. The HTTP layer puts it in the request
// context after authenticating the request and validating its session.
type Caller struct {
	TenantID string
	// UserID is the persistent user id; "" for a guest.
	UserID string
	// Guest is true for a request without a token.
	Guest bool
	// Local is true when the request carries the daemon's local token (the
	// stdio bridge, the admin tools): UserID is then the tenant's local
	// owner, the person at this machine.
	Local bool
	// SessionID is the legacy-era (2025-11-25 and older) MCP session id;
	// "" for stateless 2026-07-28 requests.
	SessionID string
	// Protocol is the MCP protocol version in effect for the request.
	Protocol string
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the request being handled. Protocol is
// the version mcp-go reports for the request when it knows one (the _meta
// version of a 2026-07-28 request, or the version negotiated by initialize),
// else the one the HTTP layer recorded.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	if !ok {
		return Caller{}, false
	}
	if v := server.RequestProtocolVersion(ctx); v != "" {
		c.Protocol = v
	}
	return c, true
}

// ErrNoSession is returned by session values when the request has no MCP
// session: a stateless 2026-07-28 request, or no session at all.
var ErrNoSession = errors.New("no MCP session: session values need a session (protocol 2025-11-25 or older, after initialize)")

// ErrNoValue is returned by Values.Get when the key is unset.
var ErrNoValue = errors.New("session value not set")

// maxKeyLen bounds session value keys.
const maxKeyLen = 256

// SessionStore is what session values are kept in (the vault, which seals
// them). The HTTP layer puts one in the request context.
type SessionStore interface {
	// GetSessionValue returns a value or an error wrapping ErrNoValue.
	GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error)
	SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error
}

type storeKey struct{}

// WithSessionStore returns a context carrying the session value store.
func WithSessionStore(ctx context.Context, s SessionStore) context.Context {
	return context.WithValue(ctx, storeKey{}, s)
}

// Values reads and writes the values of one MCP session. They persist across
// daemon restarts until the session ends (DELETE or expiry).
type Values interface {
	// Get returns the value under key, or an error wrapping ErrNoValue.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
}

// SessionValues returns the values of the calling request's session. When
// the request has no session, every call returns an error wrapping
// ErrNoSession. Keys starting with "oauth:" or "api_key:" are reserved for
// Plexus's own credential records and refused.
func SessionValues(ctx context.Context) Values {
	c, _ := CallerFrom(ctx)
	st, _ := ctx.Value(storeKey{}).(SessionStore)
	return sessionValues{caller: c, store: st}
}

type sessionValues struct {
	caller Caller
	store  SessionStore
}

func (v sessionValues) check(key string) error {
	if v.caller.SessionID == "" || v.store == nil {
		return ErrNoSession
	}
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("session value key %q: must be 1-%d bytes", key, maxKeyLen)
	}
	// Guests' credentials (OAuth tokens, API keys) live under these
	// prefixes; tools reach them only through AuthenticatedClient/APIKey.
	if strings.HasPrefix(key, guestOAuthPrefix) || strings.HasPrefix(key, GuestAPIKeyPrefix) {
		return fmt.Errorf("session value key %q: the prefixes %q and %q are reserved for Plexus's own credentials",
			key, guestOAuthPrefix, GuestAPIKeyPrefix)
	}
	return nil
}

// guestOAuthPrefix is where package oauth keeps a guest's token sets.
const guestOAuthPrefix = "oauth:"

// GuestAPIKeyPrefix prefixes the session value key under which a guest's
// API key for a provider is kept ("api_key:<provider>").
const GuestAPIKeyPrefix = vault.GuestAPIKeyPrefix

func (v sessionValues) Get(ctx context.Context, key string) ([]byte, error) {
	if err := v.check(key); err != nil {
		return nil, err
	}
	b, err := v.store.GetSessionValue(ctx, v.caller.TenantID, v.caller.SessionID, key)
	if err != nil {
		return nil, fmt.Errorf("get session value %q: %w", key, err)
	}
	return b, nil
}

func (v sessionValues) Set(ctx context.Context, key string, value []byte) error {
	if err := v.check(key); err != nil {
		return err
	}
	if err := v.store.SetSessionValue(ctx, v.caller.TenantID, v.caller.SessionID, key, value); err != nil {
		return fmt.Errorf("set session value %q: %w", key, err)
	}
	return nil
}
