// This file holds the operations on a user's credentials: OAuth
// connections and API keys, listed by name only, disconnected, stored or
// deleted. A user is a persistent id, or apiv1.LocalOwner for the person
// at this machine.

package adminops

import (
	"context"
	"errors"
	"fmt"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// Connections returns a user's OAuth connections and the names of their
// API keys (never tokens or key values).
func (s *Service) Connections(ctx context.Context, tenantID, userID string) (apiv1.ConnectionsResponse, error) {
	t, u, err := s.user(ctx, tenantID, userID)
	if err != nil {
		return apiv1.ConnectionsResponse{}, err
	}
	out := apiv1.ConnectionsResponse{Connections: []apiv1.Connection{}, APIKeys: []apiv1.APIKeyInfo{}}
	if s.opts.OAuth != nil {
		cs, err := s.opts.OAuth.Connections(ctx, t.ID, u.ID)
		if err != nil {
			return apiv1.ConnectionsResponse{}, wrapf(err, "oauth connections of %s/%s", t.ID, u.ID)
		}
		out.Connections = views(cs, connectionView)
	}
	creds, err := s.store.ListCredentials(ctx, t.ID, u.ID)
	if err != nil {
		return apiv1.ConnectionsResponse{}, wrapf(err, "credentials of %s/%s", t.ID, u.ID)
	}
	for _, c := range creds {
		if c.Kind == vault.CredentialAPIKey && c.UserID == u.ID {
			info := apiv1.APIKeyInfo{Provider: c.Provider, UpdatedAt: c.UpdatedAt}
			// The vault opens the key and hands out its end only. A key
			// that no longer opens is listed without a hint (and the
			// tool that needs it says so).
			hint, err := s.store.APIKeyHint(ctx, t.ID, u.ID, c.Provider)
			switch {
			case err == nil:
				info.Hint = hint
			case errors.Is(err, vault.ErrNotFound):
				continue // deleted meanwhile
			case !errors.Is(err, vault.ErrDecrypt):
				return apiv1.ConnectionsResponse{}, wrapf(err, "api key %q of %s/%s", c.Provider, t.ID, u.ID)
			}
			out.APIKeys = append(out.APIKeys, info)
		}
	}
	return out, nil
}

// ConsentLinks is the part of the external-OAuth engine that starts a
// connection; *oauth.Manager satisfies it. An OAuthConnections without it
// cannot connect from the admin UI (ErrUnsupported).
type ConsentLinks interface {
	ConsentURL(ctx context.Context, req oauth.ConsentRequest) (string, error)
}

// ConsentClientName is how the consent page names who asks when the
// local owner connects from the admin UI.
const ConsentClientName = "Plexus settings"

// OwnerConsentURL starts a connection of the tenant's local owner (the
// person at this machine) to provider: it makes a single-use consent
// link, the same page a tool's "connect your account" result opens, for
// the admin UI to send the browser to. Only the local owner: other users
// connect from their own app, never through an administrator's browser.
// An unknown provider is vault.ErrNotFound.
func (s *Service) OwnerConsentURL(ctx context.Context, tenantID, provider string) (string, error) {
	cl, ok := s.opts.OAuth.(ConsentLinks)
	if !ok {
		return "", unsupported("this daemon cannot start OAuth connections")
	}
	t, u, err := s.user(ctx, tenantID, apiv1.LocalOwner)
	if err != nil {
		return "", err
	}
	link, err := cl.ConsentURL(ctx, oauth.ConsentRequest{
		Owner:    oauth.Owner{TenantID: t.ID, UserID: u.ID},
		Provider: provider,
		Client:   ConsentClientName,
	})
	if errors.Is(err, oauth.ErrUnknownProvider) {
		return "", notFoundf("tenant %s has no OAuth provider %q", t.ID, provider)
	}
	if err != nil {
		return "", wrapf(err, "consent link for %s/%s to %q", t.ID, u.ID, provider)
	}
	s.log.InfoContext(ctx, "Consent link made for the local owner", "tenant", t.ID, "provider", provider)
	return link, nil
}

// Disconnect forgets a user's OAuth connection to provider, revoking the
// tokens at the provider when it offers revocation (ErrUnsupported
// without an OAuth engine; not connected is vault.ErrNotFound).
func (s *Service) Disconnect(ctx context.Context, tenantID, userID, provider string) error {
	if s.opts.OAuth == nil {
		return unsupported("this daemon has no external OAuth engine")
	}
	t, u, err := s.user(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if err := s.opts.OAuth.Disconnect(ctx, oauth.Owner{TenantID: t.ID, UserID: u.ID}, provider); err != nil {
		return wrapf(err, "disconnect %s/%s from %q", t.ID, u.ID, provider)
	}
	s.log.InfoContext(ctx, "Disconnected OAuth provider", "tenant", t.ID, "user", u.ID, "provider", provider)
	return nil
}

// SetAPIKey stores (or replaces) a user's API key for provider, sealed in
// the vault; the result names the provider, never the key. Both are
// checked before anything is written (the local owner is created only
// for a valid key).
func (s *Service) SetAPIKey(ctx context.Context, tenantID, userID, provider, key string) (apiv1.APIKeySaved, error) {
	if err := vault.ValidateProviderName(provider); err != nil {
		return apiv1.APIKeySaved{}, asField("provider_name", err)
	}
	if err := vault.ValidateAPIKeyValue(key); err != nil {
		return apiv1.APIKeySaved{}, fieldErr("api_key_value", "api_key_value: %v", err)
	}
	t, u, err := s.user(ctx, tenantID, userID)
	if err != nil {
		return apiv1.APIKeySaved{}, err
	}
	if err := s.store.PutCredential(ctx, t.ID, u.ID, vault.CredentialAPIKey, provider, []byte(key)); err != nil {
		return apiv1.APIKeySaved{}, wrapf(err, "store api key %q of %s/%s", provider, t.ID, u.ID)
	}
	s.log.InfoContext(ctx, "Stored API key", "tenant", t.ID, "user", u.ID, "provider", provider)
	return apiv1.APIKeySaved{
		TenantID: t.ID, UserID: u.ID, Provider: provider,
		Message: fmt.Sprintf("API key for provider '%s' was saved.", provider),
	}, nil
}

// DeleteAPIKey deletes a user's API key for provider.
func (s *Service) DeleteAPIKey(ctx context.Context, tenantID, userID, provider string) error {
	t, u, err := s.user(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteCredential(ctx, t.ID, u.ID, vault.CredentialAPIKey, provider); err != nil {
		return wrapf(err, "delete api key %q of %s/%s", provider, t.ID, u.ID)
	}
	s.log.InfoContext(ctx, "Deleted API key", "tenant", t.ID, "user", u.ID, "provider", provider)
	return nil
}
