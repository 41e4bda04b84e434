// Package adminapi serves Plexus's JSON admin API under /api/v1/: tenants,
// their host-app secrets, users and user tokens, external OAuth providers
// (and the built-in presets), tool settings, and users' connections and API
// keys. Where a path names a user ({uid}), "local-owner" names the
// tenant's local owner: the person at this machine, whom `plexus stdio`
// (Claude Desktop) acts as. It is the one door through
// which the CLI (`plexus admin …`), the admin UI and the desktop app change
// the vault's tenant data; app/localclient is its client.
//
// Every request needs an admin bearer token (the daemon's local token or
// ADMIN_API_KEY), compared in constant time. Host and Origin are checked by
// the daemon's edge guard (package edge), or by the same rule here when the
// API is mounted on its own: browsers must never drive this API cross-site.
// Errors are always {"error": "message"} with a matching status (413 for a
// body over MaxBodyBytes).
//
// The package never logs, stores or echoes a secret: host-app secrets and
// user tokens are returned exactly once, in the response that creates them,
// and the vault keeps only their hashes; OAuth client secrets go into the
// vault sealed and are never returned at all (responses say only
// "client_secret_set"); API keys and OAuth tokens are listed by name only.
package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// Store is the part of the vault the admin API uses; *vault.Vault satisfies it.
type Store interface {
	CreateTenant(ctx context.Context, t vault.Tenant) (vault.Tenant, error)
	GetTenant(ctx context.Context, id string) (vault.Tenant, error)
	ListTenants(ctx context.Context) ([]vault.Tenant, error)
	UpdateTenantName(ctx context.Context, id, name string) (vault.Tenant, error)
	DeleteTenant(ctx context.Context, id string) error
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
}

// OAuthConnections is the part of the external-OAuth engine the admin API
// uses; *oauth.Manager satisfies it.
type OAuthConnections interface {
	// Connections lists a registered user's OAuth connections, without tokens.
	Connections(ctx context.Context, tenantID, userID string) ([]oauth.Connection, error)
	// Disconnect forgets owner's tokens for provider, revoking them at the
	// provider when it has a revocation endpoint; not connected is an error
	// wrapping vault.ErrNotFound.
	Disconnect(ctx context.Context, owner oauth.Owner, provider string) error
}

// Options configures the admin API.
type Options struct {
	// Tokens are the accepted admin bearer tokens (the local token and
	// ADMIN_API_KEY); empty strings are ignored. With none, every request
	// is refused.
	Tokens []string
	// Logger for server-side failures; nil = discard.
	Logger *slog.Logger
	// DefaultUserTokenTTL is the lifetime of tokens issued through
	// POST /api/v1/tenants/{id}/users; 0 = no expiry.
	DefaultUserTokenTTL time.Duration
	// OAuth lists and disconnects users' OAuth connections; nil = the
	// connections list is always empty and disconnecting answers 501.
	OAuth OAuthConnections
	// Tools, if set, returns the tools available to a tenant for
	// GET /api/v1/tenants/{id}/tools (nil = the response has no "tools").
	// Enabled there is ANDed with the tenant's tool settings.
	Tools func(tenantID string) []ToolInfo
	// RedirectURL, if set, returns the callback URL to register with an
	// external provider (the daemon wires oauth.Manager.RedirectURL);
	// provider answers then carry it as "redirect_url".
	RedirectURL func(tenantID, provider string) string
	// System serves GET /api/v1/status and POST /api/v1/shutdown (system.go).
	System System
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// New returns the handler for paths starting /api/v1/.
func New(store Store, o Options) http.Handler {
	a := &api{store: store, opts: o, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range o.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, vault.DigestSecret(t))
		}
	}
	a.mux = http.NewServeMux()
	// The whole surface of the admin API, on one screen.
	routes := []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request) error
	}{
		{"GET /api/v1/tenants", a.listTenants},
		{"POST /api/v1/tenants", a.createTenant},
		{"GET /api/v1/tenants/{id}", a.getTenant},
		{"PATCH /api/v1/tenants/{id}", a.updateTenant},
		{"DELETE /api/v1/tenants/{id}", a.deleteTenant},
		{"POST /api/v1/tenants/{id}/host-app-secret", a.rotateSecret},
		{"GET /api/v1/tenants/{id}/users", a.listUsers},
		{"POST /api/v1/tenants/{id}/users", a.createUserToken},
		{"DELETE /api/v1/tenants/{id}/users/{uid}", a.deleteUser},
		{"GET /api/v1/tenants/{id}/tokens", a.listTokens},
		{"DELETE /api/v1/tenants/{id}/tokens/{token_id}", a.revokeToken},

		{"GET /api/v1/oauth-presets", a.listPresets},
		{"GET /api/v1/tenants/{id}/ext-oauth", a.listProviders},
		{"POST /api/v1/tenants/{id}/ext-oauth", a.createProvider},
		{"GET /api/v1/tenants/{id}/ext-oauth/{provider}", a.getProvider},
		{"PATCH /api/v1/tenants/{id}/ext-oauth/{provider}", a.updateProvider},
		{"DELETE /api/v1/tenants/{id}/ext-oauth/{provider}", a.deleteProvider},

		{"GET /api/v1/tenants/{id}/tools", a.getTools},
		{"PUT /api/v1/tenants/{id}/tools", a.putTools},
		{"POST /api/v1/tenants/{id}/tools/{name}/enable", a.toolSwitch(toolKind, true)},
		{"POST /api/v1/tenants/{id}/tools/{name}/disable", a.toolSwitch(toolKind, false)},
		{"POST /api/v1/tenants/{id}/tool-sets/{name}/enable", a.toolSwitch(toolSetKind, true)},
		{"POST /api/v1/tenants/{id}/tool-sets/{name}/disable", a.toolSwitch(toolSetKind, false)},

		{"GET /api/v1/tenants/{id}/users/{uid}/connections", a.listConnections},
		{"DELETE /api/v1/tenants/{id}/users/{uid}/connections/{provider}", a.disconnect},
		{"PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}", a.putAPIKey},
		{"DELETE /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}", a.deleteAPIKey},

		{"GET /api/v1/status", a.status},
		{"POST /api/v1/shutdown", a.shutdown},
		{"POST /api/v1/ui/login-ticket", a.mintLoginTicket},
	}
	for _, rt := range routes {
		a.mux.Handle(rt.pattern, a.wrap(rt.h))
	}
	return a
}

type api struct {
	store  Store
	opts   Options
	log    *slog.Logger
	tokens []vault.SecretDigest
	mux    *http.ServeMux

	// toolsMu serializes read-modify-write of tool settings, so two
	// concurrent enable/disable calls cannot lose one another's change.
	toolsMu sync.Mutex
}

// ServeHTTP applies the checks every request passes (origin, then bearer
// token) and routes it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

	// Host and Origin: the daemon's edge guard, or the same rule here when
	// the API is mounted on its own.
	if !edge.Require(w, r) {
		return
	}
	if !a.authorized(r) {
		h.Set("WWW-Authenticate", `Bearer realm="plexus-admin"`)
		a.writeJSONError(w, http.StatusUnauthorized, "missing or invalid admin token (Authorization: Bearer <ADMIN_API_KEY or the local token>)")
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		// No route: let the mux decide between 404 and 405 (it sets
		// Allow), but answer in JSON like every other error.
		a.muxError(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries one of the admin tokens, compared as
// digests (vault.SecretDigest) so the time taken says nothing about length.
func (a *api) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return false
	}
	got := vault.DigestSecret(tok)
	match := false
	for _, want := range a.tokens {
		if want.Equal(got) { // no early exit: every token is compared
			match = true
		}
	}
	return match
}

// muxError answers a request no route matched, keeping the mux's status
// and Allow header.
func (a *api) muxError(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	if allow := cw.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := cw.status
	if status == 0 || status < 400 {
		status = http.StatusNotFound
	}
	msg := "no such admin API endpoint: " + r.Method + " " + r.URL.Path
	if status == http.StatusMethodNotAllowed {
		msg = fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
	}
	a.writeJSONError(w, status, msg)
}

// captureWriter records the status and headers a handler writes, discarding the body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// wrap turns a handler returning an error into an http.Handler; the error
// becomes the response through writeError.
func (a *api) wrap(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// requestError is a client mistake found by the API itself (bad JSON, a
// missing field); it answers with its status and message.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeError is the one place errors become responses: request errors and
// vault sentinels map to 4xx with their message; anything else is a 500
// with a generic message, its cause logged.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		a.writeJSONError(w, re.status, re.msg)
	case errors.Is(err, vault.ErrInvalid):
		a.writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, oauth.ErrUnknownProvider):
		a.writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, vault.ErrExists):
		a.writeJSONError(w, http.StatusConflict, err.Error())
	default:
		a.log.ErrorContext(r.Context(), "Admin API request failed",
			"method", r.Method, "path", r.URL.Path, "error", err)
		a.writeJSONError(w, http.StatusInternalServerError, "internal error (see the daemon log)")
	}
}

func (a *api) writeJSONError(w http.ResponseWriter, status int, msg string) {
	edge.WriteAdminError(w, status, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) { edge.WriteJSON(w, status, v) }

// decodeBody reads one JSON object from r's body into dst: at most
// MaxBodyBytes, no unknown fields, nothing after it. Its errors name what
// was wrong.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return badRequest("request body: more than one JSON value")
		}
		return bodyError(err)
	}
	return nil
}

// bodyError is the request error for a body that did not decode: 413 when
// it is over MaxBodyBytes, else 400 naming what was wrong.
func bodyError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body: larger than %d bytes", MaxBodyBytes)}
	}
	return badRequest("request body: %s", describeJSONError(err))
}

func describeJSONError(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, io.EOF):
		return "empty, expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("expected a JSON object, got %s", typ.Value)
		}
		return fmt.Sprintf("field %q must be a %s, got %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &big):
		return fmt.Sprintf("larger than %d bytes", big.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}

// newSecret returns a fresh random host-app secret (128 bits, base32).
func newSecret() string { return "phs_" + rand.Text() }

// Request and response bodies.

type tenantBody struct {
	Tenant vault.Tenant `json:"tenant"`
}

type secretBody struct {
	Tenant        vault.Tenant `json:"tenant"`
	HostAppSecret string       `json:"host_app_secret"`
}

type createTenantRequest struct {
	ID   string `json:"entity_id"`
	Name string `json:"name"`
}

type updateTenantRequest struct {
	Name *string `json:"name"`
}

type createUserRequest struct {
	HostUserID string `json:"user_id_from_host_app"`
}

// userTokenResponse is the answer to POST /api/v1/tenants/{id}/users, the
// admin twin of register-user.
type userTokenResponse struct {
	Token     string    `json:"plexus_user_auth_token"`
	UserID    string    `json:"persistent_user_id"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Message   string    `json:"message"`
}

// Handlers, in routing-table order.

func (a *api) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.store.ListTenants(r.Context())
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	if ts == nil {
		ts = []vault.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
	return nil
}

func (a *api) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return badRequest("entity_id is required")
	}
	if req.Name == "" {
		req.Name = req.ID
	}
	ctx := r.Context()
	t, err := a.store.CreateTenant(ctx, vault.Tenant{ID: req.ID, Name: req.Name})
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	secret := newSecret()
	if err := a.store.SetHostAppSecret(ctx, t.ID, secret); err != nil {
		// A tenant nobody can register users in is worse than none.
		if derr := a.store.DeleteTenant(context.WithoutCancel(ctx), t.ID); derr != nil {
			a.log.ErrorContext(ctx, "Could not undo tenant creation", "tenant", t.ID, "error", derr)
		}
		return fmt.Errorf("set host-app secret of new tenant %s: %w", t.ID, err)
	}
	t.HasHostAppSecret = true
	w.Header().Set("Location", "/api/v1/tenants/"+url.PathEscape(t.ID))
	writeJSON(w, http.StatusCreated, secretBody{Tenant: t, HostAppSecret: secret})
	return nil
}

func (a *api) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantBody{t})
	return nil
}

func (a *api) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var req updateTenantRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return badRequest("name is required and must not be empty")
	}
	t, err := a.store.UpdateTenantName(r.Context(), r.PathValue("id"), *req.Name)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", r.PathValue("id"), err)
	}
	writeJSON(w, http.StatusOK, tenantBody{t})
	return nil
}

func (a *api) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	// The vault announces the deletion; the MCP server drops the tenant.
	if err := a.store.DeleteTenant(r.Context(), id); err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	secret := newSecret()
	if err := a.store.SetHostAppSecret(r.Context(), t.ID, secret); err != nil {
		return fmt.Errorf("rotate host-app secret of %s: %w", t.ID, err)
	}
	t.HasHostAppSecret = true
	writeJSON(w, http.StatusOK, secretBody{Tenant: t, HostAppSecret: secret})
	return nil
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	us, err := a.store.ListUsers(r.Context(), t.ID)
	if err != nil {
		return fmt.Errorf("list users of %s: %w", t.ID, err)
	}
	if us == nil {
		us = []vault.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (a *api) createUserToken(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.HostUserID) == "" {
		return badRequest("user_id_from_host_app is required")
	}
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, _, err := a.store.EnsureUser(ctx, t.ID, req.HostUserID)
	if err != nil {
		return fmt.Errorf("ensure user in %s: %w", t.ID, err)
	}
	token, info, err := a.store.IssueToken(ctx, t.ID, u.ID, a.opts.DefaultUserTokenTTL)
	if err != nil {
		return fmt.Errorf("issue token in %s: %w", t.ID, err)
	}
	writeJSON(w, http.StatusOK, userTokenResponse{
		Token:     token,
		UserID:    u.ID,
		TokenID:   info.ID,
		ExpiresAt: info.ExpiresAt,
		Message:   "token issued; it is shown once, store it now",
	})
	return nil
}

// deleteUser removes a user with their tokens, sessions and credentials;
// the vault announces it, so their token fails on the very next request.
func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	if err := a.store.DeleteUser(r.Context(), t.ID, u.ID); err != nil {
		return fmt.Errorf("delete user %q of %s: %w", u.ID, t.ID, err)
	}
	a.log.InfoContext(r.Context(), "Deleted user", "tenant", t.ID, "user", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) listTokens(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	user := r.URL.Query().Get("user")
	if user != "" {
		if _, err := a.store.GetUser(ctx, t.ID, user); err != nil {
			return fmt.Errorf("user %q of tenant %s: %w", user, t.ID, err)
		}
	}
	ts, err := a.store.ListTokens(ctx, t.ID, user)
	if err != nil {
		return fmt.Errorf("list tokens of %s: %w", t.ID, err)
	}
	if ts == nil {
		ts = []vault.TokenInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	tid := r.PathValue("token_id")
	if err := a.store.RevokeToken(r.Context(), t.ID, tid); err != nil {
		return fmt.Errorf("revoke token %q of %s: %w", tid, t.ID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tenant loads the tenant named by the {id} path value.
func (a *api) tenant(r *http.Request) (vault.Tenant, error) {
	id := r.PathValue("id")
	t, err := a.store.GetTenant(r.Context(), id)
	if err != nil {
		return vault.Tenant{}, fmt.Errorf("tenant %q: %w", id, err)
	}
	return t, nil
}
