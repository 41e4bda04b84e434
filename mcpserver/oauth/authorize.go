package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
)

// stateLen is the length of a state string: 32 random bytes, base64url.
const stateLen = 43

// AuthorizationURL starts an authorization for owner at provider with the
// given scopes (nil = the provider's configured scopes): it stores a new
// state and PKCE verifier and returns the provider's URL to open.
func (m *Manager) AuthorizationURL(ctx context.Context, owner Owner, provider string, scopes []string) (string, error) {
	if err := validOwner(owner); err != nil {
		return "", err
	}
	if m.baseURL == "" {
		return "", fmt.Errorf("oauth: no base url configured for redirect_uri: %w", vault.ErrInvalid)
	}
	p, err := m.provider(ctx, owner.TenantID, provider)
	if err != nil {
		return "", err
	}
	if scopes == nil {
		scopes = p.Scopes
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	state := base64.RawURLEncoding.EncodeToString(b[:])
	verifier := oauth2.GenerateVerifier()
	now := m.now()
	st := vault.OAuthState{
		State:     state,
		TenantID:  owner.TenantID,
		UserID:    owner.UserID,
		SessionID: owner.SessionID,
		Provider:  provider,
		Scopes:    slices.Clone(scopes),
		Verifier:  verifier,
		CreatedAt: now,
		ExpiresAt: now.Add(m.stateTTL),
	}
	if err := m.store.PutOAuthState(ctx, st); err != nil {
		return "", fmt.Errorf("store oauth state: %w", err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if p.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", p.Resource))
	}
	for k, v := range presetAuthParams(p.Preset) {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	cfg := m.config(p, scopes)
	if p.Preset == slackPreset {
		cfg.Scopes = nil // Slack: scope= asks for a bot token; a user token's scopes go in user_scope
		opts = append(opts, oauth2.SetAuthURLParam(slackAuthParam(scopes)))
	}
	return cfg.AuthCodeURL(state, opts...), nil
}
