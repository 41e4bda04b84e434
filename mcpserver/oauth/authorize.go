package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
)

// stateLen is the length of a state string, consent link id and browser
// binding: 32 random bytes, base64url.
const stateLen = 43

// ConsentRequest says who needs a connection, and why, for the consent
// page: the owner, the provider and scopes (nil = the provider's
// configured ones), and what the page tells the person: the tool that
// needs it and the MCP client asking (its name as it calls itself; ""
// when unknown).
type ConsentRequest struct {
	Owner    Owner
	Provider string
	Scopes   []string
	Tool     string
	Client   string
}

// ConsentURL stores a single-use consent link for req and returns its URL,
// <base>/<tenant>/oauth/consent/<id>: a Plexus page that shows the
// request and, on Approve, sends that browser to the provider. The link
// expires after the state TTL; its id is stored only as a hash. Errors
// wrap ErrUnknownProvider when the tenant has no such provider.
func (m *Manager) ConsentURL(ctx context.Context, req ConsentRequest) (string, error) {
	o := req.Owner
	if err := validOwner(o); err != nil {
		return "", err
	}
	if m.baseURL == "" {
		return "", fmt.Errorf("oauth: no base url configured for consent links: %w", vault.ErrInvalid)
	}
	p, err := m.provider(ctx, o.TenantID, req.Provider)
	if err != nil {
		return "", err
	}
	scopes := req.Scopes
	if scopes == nil {
		scopes = p.Scopes
	}
	id, err := randomString()
	if err != nil {
		return "", err
	}
	now := m.now()
	c := vault.OAuthConsent{
		ID:        id,
		TenantID:  o.TenantID,
		UserID:    o.UserID,
		SessionID: o.SessionID,
		Provider:  req.Provider,
		Scopes:    slices.Clone(scopes),
		Tool:      clip(printableText(req.Tool), 100),
		Client:    clip(printableText(req.Client), 100),
		CreatedAt: now,
		ExpiresAt: now.Add(m.stateTTL),
	}
	if err := m.store.PutOAuthConsent(ctx, c); err != nil {
		return "", fmt.Errorf("store consent link: %w", err)
	}
	if m.onConsent != nil {
		m.onConsent(ctx, ConsentRequest{Owner: o, Provider: req.Provider, Scopes: slices.Clone(scopes), Tool: c.Tool, Client: c.Client})
	}
	return m.baseURL + "/" + url.PathEscape(o.TenantID) + "/oauth/consent/" + id, nil
}

// printableText drops control characters (client and tool names come from
// the MCP client).
func printableText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// authorization is a started authorization: the provider URL to send the
// browser to, and the cookie that binds the state to that browser.
type authorization struct {
	url     string
	state   string
	browser string
}

// startAuthorization stores a new state (with a PKCE verifier, bound to a
// fresh browser secret and to the provider's current settings) for an
// approved consent and returns the provider's authorization URL.
func (m *Manager) startAuthorization(ctx context.Context, c vault.OAuthConsent, p vault.OAuthProvider) (authorization, error) {
	state, err := randomString()
	if err != nil {
		return authorization{}, err
	}
	browser, err := randomString()
	if err != nil {
		return authorization{}, err
	}
	verifier := oauth2.GenerateVerifier()
	now := m.now()
	st := vault.OAuthState{
		State:           state,
		TenantID:        c.TenantID,
		UserID:          c.UserID,
		SessionID:       c.SessionID,
		Provider:        c.Provider,
		Scopes:          slices.Clone(c.Scopes),
		Tool:            c.Tool,
		Verifier:        verifier,
		Browser:         browser,
		ProviderBinding: p.Binding(),
		CreatedAt:       now,
		ExpiresAt:       now.Add(m.stateTTL),
	}
	if err := m.store.PutOAuthState(ctx, st); err != nil {
		return authorization{}, fmt.Errorf("store oauth state: %w", err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if p.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", p.Resource))
	}
	for k, v := range presetAuthParams(p.Preset) {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	cfg := m.config(p, c.Scopes)
	if p.Preset == slackPreset {
		cfg.Scopes = nil // Slack: scope= asks for a bot token; a user token's scopes go in user_scope
		opts = append(opts, oauth2.SetAuthURLParam(slackAuthParam(c.Scopes)))
	}
	return authorization{url: cfg.AuthCodeURL(state, opts...), state: state, browser: browser}, nil
}

// flowCookie is the name of the cookie that binds state to a browser: one
// per flow, so two connections started in one browser do not clash.
func flowCookie(state string) string {
	h := sha256.Sum256([]byte(state))
	return "plexus_oauth_" + hex.EncodeToString(h[:8])
}

// cookiePath scopes the flow cookies to a tenant's OAuth routes (the
// consent page sets it, the callback reads it).
func cookiePath(tenantID string) string { return "/" + tenantID + "/oauth/" }
