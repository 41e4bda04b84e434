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

	"github.com/plexus-mcp/plexus/vault"
)

// DefaultTimeout bounds each admin API call when Client.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds what Client reads from the daemon.
const maxResponseBytes = 32 << 20

// Client calls the daemon's admin API. BaseURL and Token are required; the
// zero HTTP field means an http.Client with DefaultTimeout.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8765 (Runtime.BaseURL())
	Token   string // admin bearer token: the runtime file's local token or ADMIN_API_KEY
	HTTP    *http.Client
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
func (c *Client) CreateTenant(ctx context.Context, id, name string) (vault.Tenant, string, error) {
	var out struct {
		Tenant        vault.Tenant `json:"tenant"`
		HostAppSecret string       `json:"host_app_secret"`
	}
	in := map[string]string{"entity_id": id, "name": name}
	if err := c.do(ctx, http.MethodPost, "/api/v1/tenants", in, &out); err != nil {
		return vault.Tenant{}, "", err
	}
	return out.Tenant, out.HostAppSecret, nil
}

// ListTenants returns all tenants sorted by id.
func (c *Client) ListTenants(ctx context.Context) ([]vault.Tenant, error) {
	var out struct {
		Tenants []vault.Tenant `json:"tenants"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/tenants", nil, &out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}

// GetTenant returns one tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (vault.Tenant, error) {
	var out struct {
		Tenant vault.Tenant `json:"tenant"`
	}
	if err := c.do(ctx, http.MethodGet, tenantPath(id), nil, &out); err != nil {
		return vault.Tenant{}, err
	}
	return out.Tenant, nil
}

// UpdateTenant changes a tenant's display name.
func (c *Client) UpdateTenant(ctx context.Context, id, name string) (vault.Tenant, error) {
	var out struct {
		Tenant vault.Tenant `json:"tenant"`
	}
	if err := c.do(ctx, http.MethodPatch, tenantPath(id), map[string]string{"name": name}, &out); err != nil {
		return vault.Tenant{}, err
	}
	return out.Tenant, nil
}

// DeleteTenant deletes a tenant and everything under it.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, tenantPath(id), nil, nil)
}

// RotateHostAppSecret replaces a tenant's host-app secret and returns the
// new one, shown only this once. The old secret stops working at once.
func (c *Client) RotateHostAppSecret(ctx context.Context, id string) (string, error) {
	var out struct {
		HostAppSecret string `json:"host_app_secret"`
	}
	if err := c.do(ctx, http.MethodPost, tenantPath(id)+"/host-app-secret", nil, &out); err != nil {
		return "", err
	}
	return out.HostAppSecret, nil
}

// ListUsers returns a tenant's users.
func (c *Client) ListUsers(ctx context.Context, tenant string) ([]vault.User, error) {
	var out struct {
		Users []vault.User `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/users", nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// CreateUserToken registers hostUserID in tenant (if new) and issues it a
// user token, as register-user does for host applications.
func (c *Client) CreateUserToken(ctx context.Context, tenant, hostUserID string) (token, persistentID string, err error) {
	var out struct {
		Token  string `json:"plexus_user_auth_token"`
		UserID string `json:"persistent_user_id"`
	}
	in := map[string]string{"user_id_from_host_app": hostUserID}
	if err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/users", in, &out); err != nil {
		return "", "", err
	}
	return out.Token, out.UserID, nil
}

// ListTokens lists a tenant's user tokens; user "" means all users.
func (c *Client) ListTokens(ctx context.Context, tenant, user string) ([]vault.TokenInfo, error) {
	var out struct {
		Tokens []vault.TokenInfo `json:"tokens"`
	}
	p := tenantPath(tenant) + "/tokens"
	if user != "" {
		p += "?" + url.Values{"user": {user}}.Encode()
	}
	if err := c.do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes a user token by its id.
func (c *Client) RevokeToken(ctx context.Context, tenant, tokenID string) error {
	return c.do(ctx, http.MethodDelete, tenantPath(tenant)+"/tokens/"+url.PathEscape(tokenID), nil, nil)
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
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return &APIError{Status: status, Message: e.Error}
	}
	msg := strings.ToLower(http.StatusText(status))
	if msg == "" {
		msg = "unexpected answer"
	}
	return &APIError{Status: status, Message: msg}
}
