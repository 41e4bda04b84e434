// Package adminops holds Plexus's admin operations: tenants and their
// host-app secrets, users and user tokens, external OAuth providers (with
// the presets and the rules on where a secret may go), tool settings,
// users' OAuth connections and API keys, and the daemon's status, health
// and shutdown. Each is one method of Service taking and returning the wire
// types of app/apiv1, so the admin API (app/adminapi: decode, call,
// encode) and the admin UI's page handlers run the very same code, and
// neither calls the other over HTTP.
//
// Validation and business rules live here. An error says what was wrong
// in plain words and is classified with errors.Is on the vault's sentinels
// (vault.ErrInvalid: the request is wrong; vault.ErrNotFound;
// vault.ErrExists) or ErrUnsupported (this daemon was built without the
// part asked for). A refused request field is an *apiv1.FieldError naming
// it as the JSON does, so a form can show the message next to its input.
// Any other error is the daemon's fault; its text is for the log.
//
// Vault records are converted to apiv1 views explicitly: renaming a field
// of the API never touches the vault's file format. A secret is never
// handed out twice: a host-app secret or user token appears once, in the
// result that creates it; an OAuth client secret or an API key never.
//
// # From a page handler
//
// The daemon builds one Service and hands it to both the admin API and the
// admin UI. A form posts, the handler calls the operation and shows what
// went wrong where it went wrong:
//
//	res, err := h.Ops.CreateTenant(r.Context(), apiv1.CreateTenantRequest{
//		ID: r.PostFormValue("entity_id"), Name: r.PostFormValue("name")})
//	if fe, ok := errors.AsType[*apiv1.FieldError](err); ok {
//		// render the form again, fe.Error() next to the input named fe.Field
//	}
//	// else show res.HostAppSecret once
//
// Before a delete, CountTenant says what would go with the tenant;
// DeleteTenant says what went.
package adminops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/vault"
)

// Store is the part of the vault the operations use; *vault.Vault
// satisfies it.
type Store interface {
	CreateTenantWithSecret(ctx context.Context, t vault.Tenant, secret string) (vault.Tenant, error)
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	ListTenants(ctx context.Context) ([]vault.Tenant, error)
	UpdateTenantName(ctx context.Context, id, name string) (vault.Tenant, error)
	CountTenant(ctx context.Context, id string) (vault.TenantCounts, error)
	DeleteTenantCounted(ctx context.Context, id string) (vault.TenantCounts, error)
	SetHostAppSecret(ctx context.Context, tenantID, secret string) error

	EnsureUser(ctx context.Context, tenantID, hostUserID string) (u vault.User, created bool, err error)
	EnsureLocalOwner(ctx context.Context, tenantID string) (vault.User, error)
	GetUser(ctx context.Context, tenantID, userID string) (vault.User, error)
	DeleteUser(ctx context.Context, tenantID, userID string) error
	ListUsers(ctx context.Context, tenantID string) ([]vault.User, error)
	IssueToken(ctx context.Context, tenantID, userID string, ttl time.Duration) (token string, info vault.TokenInfo, err error)
	ListTokens(ctx context.Context, tenantID, userID string) ([]vault.TokenInfo, error)
	RevokeToken(ctx context.Context, tenantID, tokenID string) error

	CreateOAuthProvider(ctx context.Context, p vault.OAuthProvider) (vault.OAuthProvider, error)
	UpdateOAuthProvider(ctx context.Context, p vault.OAuthProvider) (updated vault.OAuthProvider, dropped int, err error)
	GetOAuthProvider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error)
	ListOAuthProviders(ctx context.Context, tenantID string) ([]vault.OAuthProvider, error)
	DeleteOAuthProvider(ctx context.Context, tenantID, name string) error
	ListCredentials(ctx context.Context, tenantID, userID string) ([]vault.CredentialInfo, error)
	PutCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string, value []byte) error
	DeleteCredential(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) error
	GetToolSettings(ctx context.Context, tenantID string) (vault.ToolSettings, error)
	PutToolSettings(ctx context.Context, tenantID string, s vault.ToolSettings) error
	APIKeyHint(ctx context.Context, tenantID, userID, provider string) (string, error)

	ListSessions(ctx context.Context, tenantID string) ([]vault.SessionInfo, int, error)
	EndSession(ctx context.Context, tenantID, hash string) error
}

// OAuthConnections is the part of the external-OAuth engine the
// operations use; *oauth.Manager satisfies it.
type OAuthConnections interface {
	// Connections lists a registered user's OAuth connections, without tokens.
	Connections(ctx context.Context, tenantID, userID string) ([]oauth.Connection, error)
	// Disconnect forgets owner's tokens for provider, revoking them at the
	// provider when it has a revocation endpoint; not connected is an error
	// wrapping vault.ErrNotFound.
	Disconnect(ctx context.Context, owner oauth.Owner, provider string) error
}

// System is the daemon-level part of Options. A nil func makes its
// operation fail with ErrUnsupported.
type System struct {
	// Info describes the running daemon, for Status.
	Info func() DaemonInfo
	// Shutdown asks the daemon to stop gracefully and returns at once; the
	// daemon lets in-flight requests (the one asking included) finish.
	Shutdown func()
	// Health lists the daemon's components for Health (health.go).
	Health func(ctx context.Context) []telemetry.Component
}

// DaemonInfo is what the daemon says about itself.
type DaemonInfo struct {
	PID       int
	Version   string
	Addr      string // host:port it listens on
	StartedAt time.Time
	DataDir   string
	Key       vault.KeyInfo // where the vault's master key is kept
}

// Options configures a Service. The zero value works: no OAuth engine, no
// tool list, no daemon status.
type Options struct {
	// Logger for what the operations did (never a secret); nil = discard.
	Logger *slog.Logger
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// DefaultUserTokenTTL is the lifetime of tokens from IssueUserToken;
	// 0 = no expiry.
	DefaultUserTokenTTL time.Duration
	// OAuth lists and disconnects users' OAuth connections; nil = the
	// connections list is always empty and Disconnect is ErrUnsupported.
	OAuth OAuthConnections
	// Tools, if set, returns the tools available to a tenant (the tool
	// registry's view); Enabled there is ANDed with the tenant's tool
	// settings. Nil = tool answers have no tool list and any tool name
	// may be switched.
	Tools func(tenantID string) []apiv1.ToolInfo
	// RedirectURL, if set, returns the callback URL to register with an
	// external provider; provider views then carry it.
	RedirectURL func(tenantID, provider string) string
	// System serves Status and Shutdown.
	System System
	// Activity is the record of tool calls (audit.Log); nil = Activity is
	// ErrUnsupported.
	Activity ActivityLog
	// Upstreams reports on running upstream MCP servers (upstreams.go);
	// nil = they are shown without status and cannot be restarted.
	Upstreams UpstreamRuntime
}

// ErrUnsupported is matched by the errors of operations this daemon was
// built without (no OAuth engine, no daemon status); the admin API
// answers them with 501.
var ErrUnsupported = errors.New("not supported by this daemon")

// Service runs the admin operations against a Store. It is safe for
// concurrent use.
type Service struct {
	store Store
	opts  Options
	log   *slog.Logger
	now   func() time.Time

	// toolsMu serializes read-modify-write of tool settings, so two
	// concurrent enable/disable calls cannot lose one another's change.
	toolsMu sync.Mutex

	keyring keyringProbe // see keys.go
}

// New returns the operations over store, configured by o.
func New(store Store, o Options) *Service {
	s := &Service{store: store, opts: o, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// reasonError is an error with a message of its own that matches kind (a
// sentinel) with errors.Is.
type reasonError struct {
	msg  string
	kind error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.kind }

// fieldErr is a refused request field: an *apiv1.FieldError matching
// vault.ErrInvalid.
func fieldErr(field, format string, args ...any) error {
	return &apiv1.FieldError{Field: field, Err: &reasonError{msg: fmt.Sprintf(format, args...), kind: vault.ErrInvalid}}
}

// asField attributes a validation error (vault.ErrInvalid) to a request
// field; other errors are returned as they are.
func asField(field string, err error) error {
	if _, ok := errors.AsType[*apiv1.FieldError](err); ok || !errors.Is(err, vault.ErrInvalid) {
		return err
	}
	return &apiv1.FieldError{Field: field, Err: err}
}

func notFoundf(format string, args ...any) error {
	return &reasonError{msg: fmt.Sprintf(format, args...), kind: vault.ErrNotFound}
}

func unsupported(msg string) error { return &reasonError{msg: msg, kind: ErrUnsupported} }

// wrapf adds context to an error that is the daemon's fault, for its log.
// An error the caller can act on (a vault sentinel, ErrUnsupported, an
// unknown provider) is returned as it is: the vault's messages already
// name the record, and the caller shows them.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{vault.ErrInvalid, vault.ErrNotFound, vault.ErrExists, ErrUnsupported, oauth.ErrUnknownProvider} {
		if errors.Is(err, known) {
			return err
		}
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
