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
	statusDisconnected = "disconnected" // a guest's tombstone, written by older versions
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
	// Binding is the provider's Binding() when the set was stored. The
	// vault binds registered users' sets to it in the AAD; guests' sets
	// (session values) carry it here, inside the sealed value, and load
	// refuses a set whose binding is not the provider's current one.
	Binding string `json:"provider_binding,omitempty"`
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

// stored is a token set as read, with what a compare-and-swap write needs:
// the credential version (registered users; 0 = none) or the plaintext
// read (guests; nil = none).
type stored struct {
	ts    tokenSet
	found bool // a set exists (usable or not)
	ver   uint64
	raw   []byte
}

// load returns owner's token set for provider. A missing one (or a guest's
// tombstone) wraps vault.ErrNotFound, with st still usable for a CAS write.
// binding is the provider's current Binding() ("" skips the guests'
// check): a set stored for other provider settings, or one that does not
// open, comes back found but expired with no tokens (consent again).
func (m *Manager) load(ctx context.Context, o Owner, provider, binding string) (stored, error) {
	var (
		raw []byte
		st  stored
		err error
	)
	if o.UserID != "" {
		raw, st.ver, err = m.store.GetCredentialVersion(ctx, o.TenantID, o.UserID, vault.CredentialOAuth, provider)
	} else {
		raw, err = m.store.GetSessionValue(ctx, o.TenantID, o.SessionID, sessionKey(provider))
		st.raw = raw
	}
	switch {
	case errors.Is(err, vault.ErrDecrypt):
		m.log.WarnContext(ctx, "oauth: stored token set does not open (provider settings changed?); consent required",
			"tenant", o.TenantID, "provider", provider)
		st.found, st.ts = true, tokenSet{Status: statusExpired}
		return st, nil
	case err != nil:
		return st, fmt.Errorf("load token for %q: %w", provider, err)
	}
	var ts tokenSet
	if err := json.Unmarshal(raw, &ts); err != nil {
		st.found, st.ts = true, tokenSet{Status: statusExpired}
		return st, nil
	}
	if ts.Status == statusDisconnected {
		return st, fmt.Errorf("load token for %q: %w", provider, vault.ErrNotFound)
	}
	if o.UserID == "" && binding != "" && ts.Binding != binding {
		ts = tokenSet{Scopes: ts.Scopes, Status: statusExpired}
	}
	st.found, st.ts = true, ts
	return st, nil
}

// conflict reports vault.ErrConflict: the stored set changed since it was
// read (a disconnect, a consent, the provider removed or re-pointed).
func conflict(err error) bool { return errors.Is(err, vault.ErrConflict) }

// save stores ts for owner if the stored set is still prev (compare and
// swap), and returns the new stored handle. ts is bound to binding.
func (m *Manager) save(ctx context.Context, o Owner, provider, binding string, prev stored, ts tokenSet) (stored, error) {
	ts.Binding = binding
	raw, err := json.Marshal(ts)
	if err != nil {
		return prev, fmt.Errorf("encode token set: %w", err)
	}
	next := stored{ts: ts, found: true}
	if o.UserID != "" {
		next.ver, err = m.store.PutCredentialIf(ctx, o.TenantID, o.UserID, vault.CredentialOAuth, provider, raw, prev.ver)
	} else {
		err = m.store.SwapSessionValue(ctx, o.TenantID, o.SessionID, sessionKey(provider), prev.raw, raw)
		next.raw = raw
	}
	if err != nil {
		return prev, fmt.Errorf("store token for %q: %w", provider, err)
	}
	return next, nil
}

// remove deletes owner's stored set if it is still prev.
func (m *Manager) remove(ctx context.Context, o Owner, provider string, prev stored) error {
	var err error
	if o.UserID != "" {
		err = m.store.DeleteCredentialIf(ctx, o.TenantID, o.UserID, vault.CredentialOAuth, provider, prev.ver)
	} else {
		err = m.store.SwapSessionValue(ctx, o.TenantID, o.SessionID, sessionKey(provider), prev.raw, nil)
	}
	if err != nil {
		return fmt.Errorf("remove token for %q: %w", provider, err)
	}
	return nil
}

// markExpired replaces the stored set (if still prev) by one with status
// "expired" and no tokens, so nothing usable is kept and the next call asks
// for consent. A set changed meanwhile is left alone.
func (m *Manager) markExpired(ctx context.Context, o Owner, provider, binding string, prev stored) {
	dead := tokenSet{Scopes: prev.ts.Scopes, Status: statusExpired, UpdatedAt: m.now()}
	if _, err := m.save(context.WithoutCancel(ctx), o, provider, binding, prev, dead); err != nil {
		if !conflict(err) {
			m.log.WarnContext(ctx, "oauth: mark connection expired", "tenant", o.TenantID, "provider", provider, "err", err)
		}
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
