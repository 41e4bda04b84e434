// This file holds Client, the one client of the daemon's JSON admin API at
// /api/v1: the `plexus admin` CLI, the admin UI and the desktop app all use
// it. (The package doc is in runtime.go.)

package localclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// DefaultTimeout bounds each admin API call when Client.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds what Client reads from the daemon.
const maxResponseBytes = 32 << 20

// Client calls the daemon's admin API. BaseURL and Token are required; the
// zero HTTP field means an http.Client with DefaultTimeout. For the local
// daemon use NewClient, which makes the daemon prove its identity on every
// connection before the token is sent; a Client built by hand (a daemon at
// --url with ADMIN_API_KEY, tests) trusts BaseURL.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8765 (Runtime.BaseURL())
	Token   string // admin bearer token: the runtime file's local token or ADMIN_API_KEY
	HTTP    *http.Client
}

// NewClient returns a Client for the local daemon of rt. Each connection it
// opens first runs the identity challenge (see Transport), so the token and
// request bodies (API keys, client secrets) reach only the daemon that wrote
// rt; against any other process every call fails with an error matching
// ErrImpostor.
func NewClient(rt Runtime) *Client {
	return &Client{
		BaseURL: rt.BaseURL(),
		Token:   rt.Token,
		HTTP:    &http.Client{Timeout: DefaultTimeout, Transport: NewTransport(rt)},
	}
}

// APIError is a non-2xx answer of the admin API. Callers use errors.As; it
// also matches vault.ErrInvalid (400), vault.ErrNotFound (404) and
// vault.ErrExists (409) with errors.Is.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the server's {"error": ...} message
}

func (e *APIError) Error() string {
	return fmt.Sprintf("plexus daemon: %s (HTTP %d)", e.Message, e.Status)
}

// Is maps the status onto the vault's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest:
		return target == vault.ErrInvalid
	case http.StatusNotFound:
		return target == vault.ErrNotFound
	case http.StatusConflict:
		return target == vault.ErrExists
	}
	return false
}

// CreateTenant creates a tenant and returns it with its host-app secret,
// which the daemon shows only this once.
func (c *Client) CreateTenant(ctx context.Context, id, name string) (apiv1.Tenant, string, error) {
	var out apiv1.TenantSecret
	in := apiv1.CreateTenantRequest{ID: id, Name: name}
	if err := c.do(ctx, http.MethodPost, "/api/v1/tenants", in, &out); err != nil {
		return apiv1.Tenant{}, "", err
	}
	return out.Tenant, out.HostAppSecret, nil
}

// ListTenants returns all tenants sorted by id.
func (c *Client) ListTenants(ctx context.Context) ([]apiv1.Tenant, error) {
	var out apiv1.TenantList
	err := c.do(ctx, http.MethodGet, "/api/v1/tenants", nil, &out)
	return out.Tenants, err
}

// GetTenant returns one tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (apiv1.Tenant, error) {
	var out apiv1.TenantBody
	err := c.do(ctx, http.MethodGet, tenantPath(id), nil, &out)
	return out.Tenant, err
}

// UpdateTenant changes a tenant's display name.
func (c *Client) UpdateTenant(ctx context.Context, id, name string) (apiv1.Tenant, error) {
	var out apiv1.TenantBody
	err := c.do(ctx, http.MethodPatch, tenantPath(id), apiv1.UpdateTenantRequest{Name: &name}, &out)
	return out.Tenant, err
}

// DeleteTenant deletes a tenant and everything under it.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, tenantPath(id), nil, nil)
}

// RotateHostAppSecret replaces a tenant's host-app secret and returns the
// new one, shown only this once. The old secret stops working at once.
func (c *Client) RotateHostAppSecret(ctx context.Context, id string) (string, error) {
	var out apiv1.TenantSecret
	err := c.do(ctx, http.MethodPost, tenantPath(id)+"/host-app-secret", nil, &out)
	return out.HostAppSecret, err
}

// ListUsers returns a tenant's users.
func (c *Client) ListUsers(ctx context.Context, tenant string) ([]apiv1.User, error) {
	var out apiv1.UserList
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/users", nil, &out)
	return out.Users, err
}

// CreateUserToken registers hostUserID in tenant (if new) and issues it a
// user token, as register-user does for host applications.
func (c *Client) CreateUserToken(ctx context.Context, tenant, hostUserID string) (token, persistentID string, err error) {
	var out apiv1.UserToken
	in := apiv1.CreateUserRequest{HostUserID: hostUserID}
	if err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/users", in, &out); err != nil {
		return "", "", err
	}
	return out.Token, out.UserID, nil
}

// DeleteUser removes a user (by persistent id) with their tokens,
// sessions and credentials; their token fails on the very next request.
func (c *Client) DeleteUser(ctx context.Context, tenant, user string) error {
	return c.do(ctx, http.MethodDelete, userPath(tenant, user), nil, nil)
}

// ListTokens lists a tenant's user tokens; user "" means all users.
func (c *Client) ListTokens(ctx context.Context, tenant, user string) ([]apiv1.TokenInfo, error) {
	var out apiv1.TokenList
	p := tenantPath(tenant) + "/tokens"
	if user != "" {
		p += "?" + url.Values{"user": {user}}.Encode()
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out.Tokens, err
}

// RevokeToken revokes a user token by its id.
func (c *Client) RevokeToken(ctx context.Context, tenant, tokenID string) error {
	return c.do(ctx, http.MethodDelete, tenantPath(tenant)+"/tokens/"+url.PathEscape(tokenID), nil, nil)
}

// ListOAuthPresets returns the built-in external OAuth provider presets.
func (c *Client) ListOAuthPresets(ctx context.Context) ([]apiv1.Preset, error) {
	var out apiv1.PresetList
	err := c.do(ctx, http.MethodGet, "/api/v1/oauth-presets", nil, &out)
	return out.Presets, err
}

// CreateOAuthProvider adds an external OAuth provider to tenant. The
// answer never carries the client secret, only whether one is set.
func (c *Client) CreateOAuthProvider(ctx context.Context, tenant string, p apiv1.ProviderRequest) (apiv1.Provider, error) {
	var out apiv1.ProviderBody
	err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/ext-oauth", p, &out)
	return out.Provider, err
}

// ListOAuthProviders returns tenant's external OAuth providers.
func (c *Client) ListOAuthProviders(ctx context.Context, tenant string) ([]apiv1.Provider, error) {
	var out apiv1.ProviderList
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/ext-oauth", nil, &out)
	return out.Providers, err
}

// GetOAuthProvider returns one of tenant's external OAuth providers.
func (c *Client) GetOAuthProvider(ctx context.Context, tenant, name string) (apiv1.Provider, error) {
	var out apiv1.ProviderBody
	err := c.do(ctx, http.MethodGet, providerPath(tenant, name), nil, &out)
	return out.Provider, err
}

// UpdateOAuthProvider changes the fields set in patch; a nil ClientSecret
// keeps the stored secret (a changed endpoint, client id or API origins
// needs it again). The answer says how many connections the change dropped.
func (c *Client) UpdateOAuthProvider(ctx context.Context, tenant, name string, patch apiv1.ProviderPatch) (apiv1.ProviderUpdate, error) {
	var out apiv1.ProviderUpdate
	err := c.do(ctx, http.MethodPatch, providerPath(tenant, name), patch, &out)
	return out, err
}

// DeleteOAuthProvider removes a provider and every user's connection to it.
func (c *Client) DeleteOAuthProvider(ctx context.Context, tenant, name string) error {
	return c.do(ctx, http.MethodDelete, providerPath(tenant, name), nil, nil)
}

// GetToolSettings returns tenant's disabled tools and tool sets and, when
// the daemon lists them, its tools.
func (c *Client) GetToolSettings(ctx context.Context, tenant string) (apiv1.ToolSettingsResponse, error) {
	var out apiv1.ToolSettingsResponse
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/tools", nil, &out)
	return out, err
}

// PutToolSettings replaces tenant's disabled tools and tool sets.
func (c *Client) PutToolSettings(ctx context.Context, tenant string, s apiv1.ToolSettings) (apiv1.ToolSettingsResponse, error) {
	if s.DisabledTools == nil {
		s.DisabledTools = []string{}
	}
	if s.DisabledToolSets == nil {
		s.DisabledToolSets = []string{}
	}
	var out apiv1.ToolSettingsResponse
	err := c.do(ctx, http.MethodPut, tenantPath(tenant)+"/tools", s, &out)
	return out, err
}

// SetToolEnabled enables or disables one of tenant's tools.
func (c *Client) SetToolEnabled(ctx context.Context, tenant, tool string, enabled bool) (apiv1.ToolSettingsResponse, error) {
	return c.toolSwitch(ctx, tenant, "/tools/", tool, enabled)
}

// SetToolSetEnabled enables or disables one of tenant's tool sets.
func (c *Client) SetToolSetEnabled(ctx context.Context, tenant, toolSet string, enabled bool) (apiv1.ToolSettingsResponse, error) {
	return c.toolSwitch(ctx, tenant, "/tool-sets/", toolSet, enabled)
}

func (c *Client) toolSwitch(ctx context.Context, tenant, kind, name string, enabled bool) (apiv1.ToolSettingsResponse, error) {
	verb := "/disable"
	if enabled {
		verb = "/enable"
	}
	var out apiv1.ToolSettingsResponse
	err := c.do(ctx, http.MethodPost, tenantPath(tenant)+kind+url.PathEscape(name)+verb, nil, &out)
	return out, err
}

// ListConnections returns a user's OAuth connections and the names of
// their API keys (never tokens or key values).
func (c *Client) ListConnections(ctx context.Context, tenant, user string) (apiv1.ConnectionsResponse, error) {
	var out apiv1.ConnectionsResponse
	err := c.do(ctx, http.MethodGet, userPath(tenant, user)+"/connections", nil, &out)
	return out, err
}

// Disconnect forgets a user's OAuth connection to provider, revoking the
// tokens at the provider when it offers revocation.
func (c *Client) Disconnect(ctx context.Context, tenant, user, provider string) error {
	return c.do(ctx, http.MethodDelete, userPath(tenant, user)+"/connections/"+url.PathEscape(provider), nil, nil)
}

// SetAPIKey stores (or replaces) a user's API key for provider; user may
// be apiv1.LocalOwner. The key is sent once and never returned.
func (c *Client) SetAPIKey(ctx context.Context, tenant, user, provider, key string) error {
	return c.do(ctx, http.MethodPut, userPath(tenant, user)+"/api-keys/"+url.PathEscape(provider),
		apiv1.APIKeyRequest{APIKeyValue: key}, nil)
}

// DeleteAPIKey deletes a user's API key for provider.
func (c *Client) DeleteAPIKey(ctx context.Context, tenant, user, provider string) error {
	return c.do(ctx, http.MethodDelete, userPath(tenant, user)+"/api-keys/"+url.PathEscape(provider), nil, nil)
}

func providerPath(tenant, name string) string {
	return tenantPath(tenant) + "/ext-oauth/" + url.PathEscape(name)
}

func userPath(tenant, user string) string {
	return tenantPath(tenant) + "/users/" + url.PathEscape(user)
}

func tenantPath(id string) string { return "/api/v1/tenants/" + url.PathEscape(id) }

// do sends one request with in (if non-nil) as its JSON body and decodes
// a 2xx answer into out (if non-nil). A non-2xx answer is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("admin api %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("admin api %s %s: %w", method, path, ctxErr)
		}
		if ie, ok := errors.AsType[*ImpostorError](err); ok {
			return ie // it says plainly what happened and that nothing was sent
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("cannot reach the plexus daemon at %s: %w", base, err)
		}
		return fmt.Errorf("admin api %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("admin api %s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp.StatusCode, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin api %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// apiError builds the error for a non-2xx answer, using the server's
// {"error": ...} message when there is one.
func apiError(status int, body []byte) *APIError {
	var e apiv1.Error
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return &APIError{Status: status, Message: e.Message}
	}
	msg := strings.ToLower(http.StatusText(status))
	if msg == "" {
		msg = "unexpected answer"
	}
	return &APIError{Status: status, Message: msg}
}
