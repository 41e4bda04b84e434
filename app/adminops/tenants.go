// This file holds the tenant, user and user-token operations.

package adminops

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// TenantCounts says how much a tenant holds (users, tokens, sessions,
// providers, OAuth connections, API keys): what deleting it takes along.
type TenantCounts = vault.TenantCounts

// newSecret returns a fresh random host-app secret (128 bits, base32).
func newSecret() string { return "phs_" + rand.Text() }

// ListTenants returns all tenants, sorted by id.
func (s *Service) ListTenants(ctx context.Context) ([]apiv1.Tenant, error) {
	ts, err := s.store.ListTenants(ctx)
	if err != nil {
		return nil, wrapf(err, "list tenants")
	}
	return views(ts, tenantView), nil
}

// GetTenant returns one tenant.
func (s *Service) GetTenant(ctx context.Context, id string) (apiv1.Tenant, error) {
	t, err := s.tenant(ctx, id)
	return tenantView(t), err
}

// CreateTenant creates a tenant and its host-app secret, together (one
// vault transaction: there is never a tenant without the secret this
// returns). The secret is in the result only; the vault keeps its hash.
// An empty name defaults to the id.
func (s *Service) CreateTenant(ctx context.Context, req apiv1.CreateTenantRequest) (apiv1.TenantSecret, error) {
	if req.ID == "" {
		return apiv1.TenantSecret{}, fieldErr("entity_id", "entity_id is required")
	}
	if err := vault.ValidateTenantID(req.ID); err != nil {
		return apiv1.TenantSecret{}, asField("entity_id", err)
	}
	if req.Name == "" {
		req.Name = req.ID
	}
	if err := vault.ValidateTenantName(req.Name); err != nil {
		return apiv1.TenantSecret{}, asField("name", err)
	}
	secret := newSecret()
	t, err := s.store.CreateTenantWithSecret(ctx, vault.Tenant{ID: req.ID, Name: req.Name}, secret)
	if err != nil {
		return apiv1.TenantSecret{}, wrapf(err, "create tenant %s", req.ID)
	}
	s.log.InfoContext(ctx, "Created tenant", "tenant", t.ID)
	return apiv1.TenantSecret{Tenant: tenantView(t), HostAppSecret: secret}, nil
}

// RenameTenant changes a tenant's display name.
func (s *Service) RenameTenant(ctx context.Context, id, name string) (apiv1.Tenant, error) {
	if strings.TrimSpace(name) == "" {
		return apiv1.Tenant{}, fieldErr("name", "name is required and must not be empty")
	}
	if err := vault.ValidateTenantID(id); err != nil {
		return apiv1.Tenant{}, err
	}
	if err := vault.ValidateTenantName(name); err != nil {
		return apiv1.Tenant{}, asField("name", err)
	}
	t, err := s.store.UpdateTenantName(ctx, id, name)
	if err != nil {
		return apiv1.Tenant{}, wrapf(err, "rename tenant %s", id)
	}
	return tenantView(t), nil
}

// CountTenant says what deleting tenant id would take along with it.
func (s *Service) CountTenant(ctx context.Context, id string) (TenantCounts, error) {
	n, err := s.store.CountTenant(ctx, id)
	return n, wrapf(err, "count what tenant %s holds", id)
}

// DeleteTenant deletes a tenant and everything under it, in one vault
// transaction, and says what went with it. The vault announces the
// deletion: the MCP server drops the tenant at once.
func (s *Service) DeleteTenant(ctx context.Context, id string) (TenantCounts, error) {
	n, err := s.store.DeleteTenantCounted(ctx, id)
	if err != nil {
		return TenantCounts{}, wrapf(err, "delete tenant %s", id)
	}
	s.log.InfoContext(ctx, "Deleted tenant", "tenant", id, "users", n.Users, "oauthConnections", n.OAuthConnections, "apiKeys", n.APIKeys)
	return n, nil
}

// RotateHostAppSecret replaces a tenant's host-app secret; the old one
// stops working at once. The new secret is in the result only.
func (s *Service) RotateHostAppSecret(ctx context.Context, id string) (apiv1.TenantSecret, error) {
	t, err := s.tenant(ctx, id)
	if err != nil {
		return apiv1.TenantSecret{}, err
	}
	secret := newSecret()
	if err := s.store.SetHostAppSecret(ctx, t.ID, secret); err != nil {
		return apiv1.TenantSecret{}, wrapf(err, "rotate host-app secret of %s", t.ID)
	}
	t.HasHostAppSecret = true
	s.log.InfoContext(ctx, "Rotated host-app secret", "tenant", t.ID)
	return apiv1.TenantSecret{Tenant: tenantView(t), HostAppSecret: secret}, nil
}

// ListUsers returns a tenant's users.
func (s *Service) ListUsers(ctx context.Context, tenantID string) ([]apiv1.User, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	us, err := s.store.ListUsers(ctx, t.ID)
	if err != nil {
		return nil, wrapf(err, "list users of %s", t.ID)
	}
	return views(us, userView), nil
}

// IssueUserToken registers hostUserID in the tenant (if new) and issues
// it a user token (lifetime Options.DefaultUserTokenTTL), as register-user
// does for host applications. The token is in the result only.
func (s *Service) IssueUserToken(ctx context.Context, tenantID, hostUserID string) (apiv1.UserToken, error) {
	if strings.TrimSpace(hostUserID) == "" {
		return apiv1.UserToken{}, fieldErr("user_id_from_host_app", "user_id_from_host_app is required")
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.UserToken{}, err
	}
	u, _, err := s.store.EnsureUser(ctx, t.ID, hostUserID)
	if err != nil {
		return apiv1.UserToken{}, asField("user_id_from_host_app", wrapf(err, "register user in %s", t.ID))
	}
	token, info, err := s.store.IssueToken(ctx, t.ID, u.ID, s.opts.DefaultUserTokenTTL)
	if err != nil {
		return apiv1.UserToken{}, wrapf(err, "issue token in %s", t.ID)
	}
	return apiv1.UserToken{
		Token:     token,
		UserID:    u.ID,
		TokenID:   info.ID,
		ExpiresAt: info.ExpiresAt,
		Message:   "token issued; it is shown once, store it now",
	}, nil
}

// DeleteUser removes a user (a persistent id, or apiv1.LocalOwner) with
// their tokens, sessions and credentials; the vault announces it, so their
// token fails on the very next request.
func (s *Service) DeleteUser(ctx context.Context, tenantID, userID string) error {
	t, u, err := s.user(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteUser(ctx, t.ID, u.ID); err != nil {
		return wrapf(err, "delete user %q of %s", u.ID, t.ID)
	}
	s.log.InfoContext(ctx, "Deleted user", "tenant", t.ID, "user", u.ID)
	return nil
}

// ListTokens lists a tenant's user tokens; userID "" means all users'.
func (s *Service) ListTokens(ctx context.Context, tenantID, userID string) ([]apiv1.TokenInfo, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if userID != "" {
		if _, err := s.store.GetUser(ctx, t.ID, userID); err != nil {
			return nil, wrapf(err, "user %q of %s", userID, t.ID)
		}
	}
	ts, err := s.store.ListTokens(ctx, t.ID, userID)
	if err != nil {
		return nil, wrapf(err, "list tokens of %s", t.ID)
	}
	return views(ts, tokenView), nil
}

// RevokeToken revokes a user token by its id; the vault announces it, so
// it fails on the very next request.
func (s *Service) RevokeToken(ctx context.Context, tenantID, tokenID string) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := s.store.RevokeToken(ctx, t.ID, tokenID); err != nil {
		return wrapf(err, "revoke token %q of %s", tokenID, t.ID)
	}
	return nil
}

// tenant loads a tenant.
func (s *Service) tenant(ctx context.Context, id string) (vault.Tenant, error) {
	t, err := s.store.GetTenant(ctx, id)
	return t, wrapf(err, "tenant %q", id)
}

// user loads a tenant and one of its users; apiv1.LocalOwner names the
// tenant's local owner, who is created on first mention (so a key can be
// stored before the first chat).
func (s *Service) user(ctx context.Context, tenantID, userID string) (vault.Tenant, vault.User, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return vault.Tenant{}, vault.User{}, err
	}
	var u vault.User
	if userID == apiv1.LocalOwner {
		u, err = s.store.EnsureLocalOwner(ctx, t.ID)
	} else {
		u, err = s.store.GetUser(ctx, t.ID, userID)
	}
	if err != nil {
		return vault.Tenant{}, vault.User{}, wrapf(err, "user %q of tenant %s", userID, t.ID)
	}
	return t, u, nil
}
