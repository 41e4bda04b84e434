package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/plexus-mcp/plexus/vault"
)

// Connections lists a registered user's connections (sorted by provider).
// A connection whose access token has expired and cannot be refreshed is
// reported "expired". userID must not be empty (guests' connections live
// in their session and are not listed).
func (m *Manager) Connections(ctx context.Context, tenantID, userID string) ([]Connection, error) {
	if tenantID == "" || userID == "" {
		return nil, fmt.Errorf("connections: tenant and user id are required: %w", vault.ErrInvalid)
	}
	infos, err := m.store.ListCredentials(ctx, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	out := []Connection{}
	o := Owner{TenantID: tenantID, UserID: userID}
	for _, ci := range infos {
		if ci.Kind != vault.CredentialOAuth || ci.UserID != userID {
			continue
		}
		st, err := m.load(ctx, o, ci.Provider, "")
		if isNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		ts := st.ts
		status := ts.Status
		if status == statusConnected && (ts.AccessToken == "" || ts.RefreshToken == "" && m.expired(ts)) {
			status = statusExpired
		}
		updated := ts.UpdatedAt
		if updated.IsZero() {
			updated = ci.UpdatedAt
		}
		out = append(out, Connection{
			Provider:    ci.Provider,
			Status:      status,
			Scopes:      ts.Scopes,
			Expiry:      ts.Expiry,
			UpdatedAt:   updated,
			Refreshable: status == statusConnected && ts.RefreshToken != "",
		})
	}
	slices.SortFunc(out, func(a, b Connection) int { return strings.Compare(a.Provider, b.Provider) })
	return out, nil
}

// Disconnect forgets owner's tokens for provider, then revokes them at
// the provider when it has a revocation endpoint (best effort: failures
// are logged). It takes the owner's lock, so a refresh in flight finishes
// first and its result is what gets removed and revoked (never saved over
// the disconnect), and removes with compare-and-swap. It returns an error
// wrapping vault.ErrNotFound when owner has no connection to provider.
func (m *Manager) Disconnect(ctx context.Context, owner Owner, provider string) error {
	if err := validOwner(owner); err != nil {
		return err
	}
	p, perr := m.provider(ctx, owner.TenantID, provider)
	binding := ""
	if perr == nil {
		binding = p.Binding()
	}
	unlock, err := m.lockOwner(ctx, owner, provider)
	if err != nil {
		return fmt.Errorf("disconnect %q: %w", provider, err)
	}
	st, err := m.load(ctx, owner, provider, binding)
	if err == nil {
		err = m.remove(ctx, owner, provider, st)
		if conflict(err) { // changed by another process: once more
			if st, err = m.load(ctx, owner, provider, binding); err == nil {
				err = m.remove(ctx, owner, provider, st)
			}
		}
	}
	unlock()
	if err != nil {
		return fmt.Errorf("disconnect %q: %w", provider, err)
	}
	if perr == nil && p.RevocationURL != "" {
		m.revoke(ctx, p, st.ts)
	}
	m.log.InfoContext(ctx, "oauth: disconnected", "tenant", owner.TenantID, "provider", provider, "guest", owner.UserID == "")
	return nil
}

// revoke sends RFC 7009 revocation requests: the refresh token first (which
// usually revokes its access tokens too), then the access token.
func (m *Manager) revoke(ctx context.Context, p vault.OAuthProvider, ts tokenSet) {
	for _, t := range []struct{ token, hint string }{
		{ts.RefreshToken, "refresh_token"},
		{ts.AccessToken, "access_token"},
	} {
		if t.token == "" {
			continue
		}
		if err := m.revokeOne(ctx, p, t.token, t.hint); err != nil {
			m.log.WarnContext(ctx, "oauth: revocation failed", "tenant", p.TenantID, "provider", p.Name,
				"endpoint", redactURL(p.RevocationURL), "tokenTypeHint", t.hint, "err", err)
		}
	}
}

func (m *Manager) revokeOne(ctx context.Context, p vault.OAuthProvider, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return errors.New("bad revocation url")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	resp, err := m.tokens.Do(req) // never follows a redirect: the request carries the client secret
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err // without the URL
		}
		return err
	}
	defer drain(resp)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered status %d", resp.StatusCode)
	}
	return nil
}
