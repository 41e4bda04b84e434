// This file holds a user's credentials endpoints
// (/api/v1/tenants/{id}/users/{uid}/connections, /api-keys): OAuth
// connections and API keys, listed by name only, disconnected, stored or
// deleted.

package adminapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// LocalOwner, in place of a persistent user id in a path, names the
// tenant's local owner (the user `plexus stdio` acts as). No registered
// user can have it as their id (vault.ValidateHostUserID).
const LocalOwner = vault.LocalOwnerAlias

// APIKeyInfo names a user's stored API key, never its value.
type APIKeyInfo struct {
	Provider  string    `json:"provider_name"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ConnectionsResponse is the answer of
// GET /api/v1/tenants/{id}/users/{uid}/connections.
type ConnectionsResponse struct {
	Connections []oauth.Connection `json:"connections"`
	APIKeys     []APIKeyInfo       `json:"api_keys"`
}

func (a *api) listConnections(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	out := ConnectionsResponse{Connections: []oauth.Connection{}, APIKeys: []APIKeyInfo{}}
	if a.opts.OAuth != nil {
		cs, err := a.opts.OAuth.Connections(ctx, t.ID, u.ID)
		if err != nil {
			return fmt.Errorf("oauth connections of %s/%s: %w", t.ID, u.ID, err)
		}
		if cs != nil {
			out.Connections = cs
		}
	}
	creds, err := a.store.ListCredentials(ctx, t.ID, u.ID)
	if err != nil {
		return fmt.Errorf("credentials of %s/%s: %w", t.ID, u.ID, err)
	}
	for _, c := range creds {
		if c.Kind == vault.CredentialAPIKey && c.UserID == u.ID {
			out.APIKeys = append(out.APIKeys, APIKeyInfo{Provider: c.Provider, UpdatedAt: c.UpdatedAt})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) disconnect(w http.ResponseWriter, r *http.Request) error {
	if a.opts.OAuth == nil {
		return &requestError{status: http.StatusNotImplemented, msg: "this daemon has no external OAuth engine"}
	}
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	provider := r.PathValue("provider")
	owner := oauth.Owner{TenantID: t.ID, UserID: u.ID}
	if err := a.opts.OAuth.Disconnect(r.Context(), owner, provider); err != nil {
		return fmt.Errorf("disconnect %s/%s from %q: %w", t.ID, u.ID, provider, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// APIKeyRequest is the body of
// PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}.
type APIKeyRequest struct {
	APIKeyValue string `json:"api_key_value"`
}

// putAPIKey stores (or replaces) a user's API key for a provider, sealed
// in the vault. The answer names the provider, never the key.
func (a *api) putAPIKey(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	provider := r.PathValue("provider")
	if err := vault.ValidateProviderName(provider); err != nil {
		return err
	}
	var req APIKeyRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := vault.ValidateAPIKeyValue(req.APIKeyValue); err != nil {
		return badRequest("api_key_value: %v", err)
	}
	if err := a.store.PutCredential(r.Context(), t.ID, u.ID, vault.CredentialAPIKey, provider, []byte(req.APIKeyValue)); err != nil {
		return fmt.Errorf("store api key %q of %s/%s: %w", provider, t.ID, u.ID, err)
	}
	a.log.InfoContext(r.Context(), "Stored API key", "tenant", t.ID, "user", u.ID, "provider", provider)
	writeJSON(w, http.StatusOK, map[string]string{
		"entity_id": t.ID, "persistent_user_id": u.ID, "provider_name": provider,
		"message": fmt.Sprintf("API key for provider '%s' was saved.", provider),
	})
	return nil
}

func (a *api) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	t, u, err := a.user(r)
	if err != nil {
		return err
	}
	provider := r.PathValue("provider")
	if err := a.store.DeleteCredential(r.Context(), t.ID, u.ID, vault.CredentialAPIKey, provider); err != nil {
		return fmt.Errorf("delete api key %q of %s/%s: %w", provider, t.ID, u.ID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// user loads the tenant and user named by the {id} and {uid} path values.
func (a *api) user(r *http.Request) (vault.Tenant, vault.User, error) {
	t, err := a.tenant(r)
	if err != nil {
		return vault.Tenant{}, vault.User{}, err
	}
	uid := r.PathValue("uid")
	if uid == LocalOwner {
		// The local owner exists once plexus stdio has been used; naming
		// it creates it, so a key can be stored before the first chat.
		u, err := a.store.EnsureLocalOwner(r.Context(), t.ID)
		if err != nil {
			return vault.Tenant{}, vault.User{}, fmt.Errorf("local owner of tenant %s: %w", t.ID, err)
		}
		return t, u, nil
	}
	u, err := a.store.GetUser(r.Context(), t.ID, uid)
	if err != nil {
		return vault.Tenant{}, vault.User{}, fmt.Errorf("user %q of tenant %s: %w", uid, t.ID, err)
	}
	return t, u, nil
}
