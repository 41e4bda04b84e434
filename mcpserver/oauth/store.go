package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
)

// Connection statuses stored in a token set.
const (
	statusConnected    = "connected"
	statusExpired      = "expired"
	statusDisconnected = "disconnected" // a guest's tombstone (sessions have no delete)
)

// tokenSet is the stored value (sealed by the vault): JSON with these
// field names is the format of vault.CredentialOAuth credentials.
type tokenSet struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	Status       string    `json:"status"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// usable reports whether the set holds an access token worth sending.
func (t tokenSet) usable() bool { return t.Status == statusConnected && t.AccessToken != "" }

// fromOAuth2 builds a connected set; scopes granted by the response's
// "scope" (space- or comma-separated, as GitHub does) win over asked.
func fromOAuth2(tok *oauth2.Token, asked []string, now time.Time) tokenSet {
	scopes := asked
	if s, ok := tok.Extra("scope").(string); ok && strings.TrimSpace(s) != "" {
		scopes = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	return tokenSet{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
		Scopes:       slices.Clone(scopes),
		Status:       statusConnected,
		UpdatedAt:    now,
	}
}

// GuestSessionKeyPrefix prefixes the session value key under which a
// guest's token set for a provider lives ("oauth:<provider>"); the vault
// refuses "|" in session value keys.
const GuestSessionKeyPrefix = "oauth:"

func sessionKey(provider string) string { return GuestSessionKeyPrefix + provider }

// load returns owner's token set for provider; a missing one (or a guest's
// tombstone) wraps vault.ErrNotFound.
func (m *Manager) load(ctx context.Context, o Owner, provider string) (tokenSet, error) {
	var raw []byte
	var err error
	if o.UserID != "" {
		raw, err = m.store.GetCredential(ctx, o.TenantID, o.UserID, vault.CredentialOAuth, provider)
	} else {
		raw, err = m.store.GetSessionValue(ctx, o.TenantID, o.SessionID, sessionKey(provider))
	}
	if err != nil {
		return tokenSet{}, fmt.Errorf("load token for %q: %w", provider, err)
	}
	var ts tokenSet
	if err := json.Unmarshal(raw, &ts); err != nil {
		return tokenSet{}, fmt.Errorf("load token for %q: stored token set is not valid json", provider)
	}
	if ts.Status == statusDisconnected {
		return tokenSet{}, fmt.Errorf("load token for %q: %w", provider, vault.ErrNotFound)
	}
	return ts, nil
}

func (m *Manager) save(ctx context.Context, o Owner, provider string, ts tokenSet) error {
	raw, err := json.Marshal(ts)
	if err != nil {
		return fmt.Errorf("encode token set: %w", err)
	}
	if o.UserID != "" {
		err = m.store.PutCredential(ctx, o.TenantID, o.UserID, vault.CredentialOAuth, provider, raw)
	} else {
		err = m.store.SetSessionValue(ctx, o.TenantID, o.SessionID, sessionKey(provider), raw)
	}
	if err != nil {
		return fmt.Errorf("store token for %q: %w", provider, err)
	}
	return nil
}

// markExpired replaces the stored set by one with status "expired" and no
// tokens, so nothing usable is kept and the next call asks for consent.
func (m *Manager) markExpired(ctx context.Context, o Owner, provider string, ts tokenSet) {
	dead := tokenSet{Scopes: ts.Scopes, Status: statusExpired, UpdatedAt: m.now()}
	if err := m.save(context.WithoutCancel(ctx), o, provider, dead); err != nil {
		m.log.WarnContext(ctx, "oauth: mark connection expired", "tenant", o.TenantID, "provider", provider, "err", err)
		return
	}
	m.log.InfoContext(ctx, "oauth: connection expired, consent required", "tenant", o.TenantID, "provider", provider)
}

// consentErr wraps ErrConsentRequired with why.
func consentErr(provider, why string) error {
	return fmt.Errorf("oauth provider %q: %s: %w", provider, why, ErrConsentRequired)
}

// isNotFound reports a missing token set.
func isNotFound(err error) bool { return errors.Is(err, vault.ErrNotFound) }

// hasScopes reports whether granted includes every required scope.
func hasScopes(granted, required []string) bool {
	for _, s := range required {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}
